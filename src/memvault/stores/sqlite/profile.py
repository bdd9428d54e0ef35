"""The embedded profile store: facts with provenance and history in SQLite."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from memvault.models import ProfileFact, StoreStatus
from memvault.stores import timeline
from memvault.stores.codec import (
    FACT_FIELDS,
    counted_status,
    fact_from_row,
    from_micros,
    load_json,
    to_micros,
)
from memvault.stores.crypto import KeySet
from memvault.stores.sqlite.access import SqliteAccess
from memvault.stores.sqlite.db import SqliteDatabase, path_from_url
from memvault.stores.sqlite.schema import PROFILE

__all__ = ["SqliteProfileStore"]

_COLUMNS = ", ".join(FACT_FIELDS)
_PLACEHOLDERS = ", ".join("?" for _ in FACT_FIELDS)
#: Most ids bound in one ``IN (...)`` list.
_BATCH = 500


def _row_to_fact(row: sqlite3.Row) -> ProfileFact:
    return fact_from_row(row, decode_time=from_micros,
                         decode_ids=lambda raw: load_json(raw, []))


def _valid_to(fact: ProfileFact) -> int | None:
    return None if fact.valid_to is None else to_micros(fact.valid_to)


def _insert(conn: sqlite3.Connection, fact: ProfileFact) -> None:
    conn.execute(
        f"INSERT INTO profile_facts ({_COLUMNS}) VALUES ({_PLACEHOLDERS})",
        (
            fact.id, fact.user_id, fact.key, json.dumps(fact.value), fact.category,
            json.dumps(fact.source_memory_ids), fact.agent_id, to_micros(fact.valid_from),
            _valid_to(fact), fact.retired_reason, fact.origin,
        ),
    )


def _key_rows(conn: sqlite3.Connection, user_id: str, key: str) -> list[ProfileFact]:
    return [_row_to_fact(r) for r in conn.execute(
        f"SELECT {_COLUMNS} FROM profile_facts WHERE user_id = ? AND key = ?", (user_id, key))]


def _apply(conn: sqlite3.Connection, edit: timeline.Edit) -> None:
    """Write an edit's rows (only sources, ``valid_to`` and the reason of a row change)."""
    for row_id in edit.deleted:
        conn.execute("DELETE FROM profile_facts WHERE id = ?", (row_id,))
    for fact in edit.writes:
        if fact.id in edit.inserted:
            _insert(conn, fact)
        else:
            conn.execute(
                "UPDATE profile_facts SET source_memory_ids = ?, valid_to = ?,"
                " retired_reason = ? WHERE id = ?",
                (json.dumps(fact.source_memory_ids), _valid_to(fact), fact.retired_reason,
                 fact.id),
            )


class SqliteProfileStore(SqliteAccess):
    """Profile memory in one SQLite file (see :class:`memvault.stores.base.ProfileStore`)."""

    def __init__(self, url: str, *, keys: KeySet | None = None) -> None:
        self.url = url
        self._db = SqliteDatabase(path_from_url(url), "profile", keys)

    async def open(self) -> None:
        await self._db.open("profile", PROFILE)

    async def close(self) -> None:
        await self._db.close()

    async def missing(self) -> StoreStatus | None:
        return self._db.missing("profile")

    async def status(self) -> StoreStatus:
        return await counted_status("profile", "sqlite", str(self._db.path), self.count, "facts")

    async def set_facts(self, facts: Sequence[ProfileFact]) -> list[ProfileFact]:
        return await self._db.write(self.facts_writer(facts))

    @property
    def database(self) -> SqliteDatabase:
        return self._db

    def facts_writer(
        self, facts: Sequence[ProfileFact]
    ) -> Callable[[sqlite3.Connection], list[ProfileFact]]:
        """The transaction body of :meth:`set_facts`, for a connection to this store's file."""
        # BEGIN IMMEDIATE holds the file's write lock from the first read of a key's rows to
        # the commit: writers in other processes are serialised around the whole edit.
        def _set(conn: sqlite3.Connection) -> list[ProfileFact]:
            at = datetime.now(UTC)
            holders: list[tuple[ProfileFact, str]] = []
            for fact in facts:
                edit = timeline.place(_key_rows(conn, fact.user_id, fact.key), fact, at)
                _apply(conn, edit)
                holders.append((fact, edit.holder or fact.id))
            return [timeline.holding(_key_rows(conn, fact.user_id, fact.key), holder)
                    for fact, holder in holders]

        return _set

    async def forget_sources(self, user_id: str, memory_ids: Sequence[str], at: datetime) -> int:
        ids = json.dumps(list(dict.fromkeys(memory_ids)))

        def _forget(conn: sqlite3.Connection) -> int:
            keys = [r[0] for r in conn.execute(
                "SELECT DISTINCT key FROM profile_facts WHERE user_id = ? AND EXISTS ("
                " SELECT 1 FROM json_each(source_memory_ids) AS s"
                " WHERE s.value IN (SELECT value FROM json_each(?)))",
                (user_id, ids),
            )]
            retired = 0
            for key in keys:
                edit = timeline.forget(_key_rows(conn, user_id, key), memory_ids, at)
                _apply(conn, edit)
                retired += edit.retired
            return retired

        return await self._db.write(_forget)

    async def forget_key(self, user_id: str, key: str, at: datetime) -> ProfileFact | None:
        def _forget(conn: sqlite3.Connection) -> ProfileFact | None:
            edit = timeline.forget_key(_key_rows(conn, user_id, key), at)
            if not edit.writes:
                return None
            _apply(conn, edit)
            return timeline.holding(_key_rows(conn, user_id, key), edit.writes[0].id)

        return await self._db.write(_forget)

    async def get(self, user_id: str, *, include_history: bool = False) -> list[ProfileFact]:
        # A current fact may span several live rows, so every live row is read (one
        # statement: one snapshot).
        live_only = "" if include_history else " AND retired_reason IS NULL"

        def _get(conn: sqlite3.Connection) -> list[ProfileFact]:
            return [_row_to_fact(r) for r in conn.execute(
                f"SELECT {_COLUMNS} FROM profile_facts WHERE user_id = ?{live_only}",
                (user_id,),
            )]

        facts = timeline.as_facts(await self._db.read(_get))
        return facts if include_history else [f for f in facts if f.valid_to is None]

    async def import_facts(self, facts: Sequence[ProfileFact]) -> int:
        def _import(conn: sqlite3.Connection) -> int:
            added = 0
            for fact in facts:
                if conn.execute("SELECT 1 FROM profile_facts WHERE id = ?", (fact.id,)).fetchone():
                    continue
                if fact.valid_to is None and conn.execute(
                    "SELECT 1 FROM profile_facts WHERE user_id = ? AND key = ?"
                    " AND valid_to IS NULL", (fact.user_id, fact.key)
                ).fetchone():
                    continue
                _insert(conn, fact)
                added += 1
            return added

        return await self._db.write(_import)

    async def cited(self, user_id: str, memory_ids: Sequence[str]) -> set[str]:
        wanted = list(dict.fromkeys(memory_ids))

        def _cited(conn: sqlite3.Connection) -> set[str]:
            found: set[str] = set()
            for start in range(0, len(wanted), _BATCH):
                chunk = wanted[start : start + _BATCH]
                marks = ",".join("?" * len(chunk))
                found.update(r[0] for r in conn.execute(
                    "SELECT DISTINCT s.value FROM profile_facts f, json_each(f.source_memory_ids) s"
                    f" WHERE f.user_id = ? AND s.value IN ({marks})",
                    [user_id, *chunk],
                ))
            return found

        return await self._db.read(_cited)

    async def undo_facts(self, facts: Sequence[ProfileFact]) -> None:
        def _undo(conn: sqlite3.Connection) -> None:
            at = datetime.now(UTC)
            for fact in facts:
                _apply(conn, timeline.undo(
                    _key_rows(conn, fact.user_id, fact.key), fact.source_memory_ids, at))

        await self._db.write(_undo)

    async def current_keys(self, user_id: str) -> list[str]:
        def _keys(conn: sqlite3.Connection) -> list[str]:
            return [r[0] for r in conn.execute(
                "SELECT DISTINCT key FROM profile_facts WHERE user_id = ? AND valid_to IS NULL"
                " ORDER BY key", (user_id,))]

        return await self._db.read(_keys)

    async def delete_all(self, user_id: str) -> int:
        def _delete(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM profile_facts WHERE user_id = ?", (user_id,)).rowcount

        return await self._db.write(_delete)

    async def count(self, user_id: str | None = None) -> int:
        def _count(conn: sqlite3.Connection) -> int:
            if user_id is None:
                return int(conn.execute("SELECT count(*) FROM profile_facts").fetchone()[0])
            return int(conn.execute("SELECT count(*) FROM profile_facts WHERE user_id = ?",
                                    (user_id,)).fetchone()[0])

        return await self._db.read(_count)

    async def user_ids(self) -> list[str]:
        def _users(conn: sqlite3.Connection) -> list[str]:
            return [r[0] for r in conn.execute(
                "SELECT DISTINCT user_id FROM profile_facts ORDER BY user_id")]

        return await self._db.read(_users)
