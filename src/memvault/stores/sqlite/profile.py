"""The embedded profile store: facts with provenance and history in SQLite."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from memvault.models import ProfileFact, StoreStatus
from memvault.stores.codec import (
    FACT_FIELDS,
    counted_status,
    fact_from_row,
    from_micros,
    load_json,
    to_micros,
)
from memvault.stores.sqlite.db import SqliteDatabase, path_from_url
from memvault.stores.sqlite.schema import PROFILE

__all__ = ["SqliteProfileStore"]

_COLUMNS = ", ".join(FACT_FIELDS)


def _row_to_fact(row: sqlite3.Row) -> ProfileFact:
    return fact_from_row(row, decode_time=from_micros,
                         decode_ids=lambda raw: load_json(raw, []))


def _insert(conn: sqlite3.Connection, fact: ProfileFact) -> None:
    conn.execute(
        f"INSERT INTO profile_facts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            fact.id, fact.user_id, fact.key, json.dumps(fact.value), fact.category,
            json.dumps(fact.source_memory_ids), fact.agent_id, to_micros(fact.valid_from),
            None if fact.valid_to is None else to_micros(fact.valid_to),
        ),
    )


class SqliteProfileStore:
    """Profile memory in one SQLite file (see :class:`memvault.stores.base.ProfileStore`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._db = SqliteDatabase(path_from_url(url), "profile")

    async def open(self) -> None:
        await self._db.open("profile", PROFILE)

    async def close(self) -> None:
        await self._db.close()

    async def status(self) -> StoreStatus:
        return await counted_status("profile", "sqlite", str(self._db.path), self.count, "facts")

    async def set_facts(self, facts: Sequence[ProfileFact]) -> list[ProfileFact]:
        def _set(conn: sqlite3.Connection) -> list[ProfileFact]:
            current: list[ProfileFact] = []
            for fact in facts:
                row = conn.execute(
                    f"SELECT {_COLUMNS} FROM profile_facts"
                    " WHERE user_id = ? AND key = ? AND valid_to IS NULL",
                    (fact.user_id, fact.key),
                ).fetchone()
                old = _row_to_fact(row) if row else None
                if old is not None and old.value == fact.value and old.category == fact.category:
                    sources = list(dict.fromkeys([*old.source_memory_ids,
                                                  *fact.source_memory_ids]))
                    conn.execute(
                        "UPDATE profile_facts SET source_memory_ids = ? WHERE id = ?",
                        (json.dumps(sources), old.id),
                    )
                    current.append(old.model_copy(update={"source_memory_ids": sources}))
                    continue
                if old is not None:
                    ended = max(to_micros(fact.valid_from), to_micros(old.valid_from))
                    conn.execute(
                        "UPDATE profile_facts SET valid_to = ? WHERE id = ?", (ended, old.id)
                    )
                _insert(conn, fact)
                current.append(fact)
            return current

        return await self._db.write(_set)

    async def get(self, user_id: str, *, include_history: bool = False) -> list[ProfileFact]:
        def _get(conn: sqlite3.Connection) -> list[ProfileFact]:
            facts = [
                _row_to_fact(r)
                for r in conn.execute(
                    f"SELECT {_COLUMNS} FROM profile_facts WHERE user_id = ? AND valid_to IS NULL"
                    " ORDER BY key",
                    (user_id,),
                )
            ]
            if include_history:
                facts += [
                    _row_to_fact(r)
                    for r in conn.execute(
                        f"SELECT {_COLUMNS} FROM profile_facts"
                        " WHERE user_id = ? AND valid_to IS NOT NULL"
                        " ORDER BY valid_to DESC, key",
                        (user_id,),
                    )
                ]
            return facts

        return await self._db.read(_get)

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
