"""The PostgreSQL profile store: facts with provenance and history, the same semantics as
the embedded SQLite store (:mod:`memvault.stores.timeline`).

Values are JSONB, times ``timestamptz`` (microseconds kept, returned as aware UTC). A partial
unique index keeps one current row per ``(user_id, key)``. Writers take a transaction-scoped
advisory lock per ``(user_id, key)`` before reading the key's rows and hold it to the
commit, so replicas editing the same key at once are serialised around the whole
read-modify-write instead of racing.

With encryption keys (:mod:`memvault.stores.crypto`) every value is written sealed, as the
JSON object ``{"sealed": "mv1:<kid>:..."}`` (a plain value is never an object, so the two
cannot be confused), bound to its user and key; values written before the key was configured
read as they are until ``memvault rekey --fields`` seals them. Keys, categories, sources and
times stay plaintext: they order, lock and filter the rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from memvault.errors import EncryptionError
from memvault.models import ProfileFact, StoreStatus
from memvault.stores import timeline
from memvault.stores.codec import counted_status, fact_from_row, load_json
from memvault.stores.crypto import FieldCipher, KeySet, check_sealed
from memvault.stores.postgres.access import PostgresAccess
from memvault.stores.postgres.pool import Connection, PostgresDatabase, Row
from memvault.stores.postgres.schema import PROFILE

__all__ = ["PostgresProfileStore"]

_COLUMNS = (
    "id, user_id, key, value::text AS value, category, source_memory_ids, agent_id,"
    " valid_from, valid_to, retired_reason, origin"
)
_INSERT = (
    "INSERT INTO profile_facts (id, user_id, key, value, category, source_memory_ids,"
    " agent_id, valid_from, valid_to, retired_reason, origin)"
    " VALUES ($1, $2, $3, $4::jsonb, $5, $6::text[], $7, $8, $9, $10, $11)"
)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _context(user_id: str, key: str) -> bytes:
    return f"profile\0{user_id}\0{key}".encode("utf-8", "surrogatepass")


def _open_value(cipher: FieldCipher | None, text: str, user_id: str, key: str) -> str:
    """A stored value's JSON text, opened if sealed."""
    loaded = load_json(text, None)
    sealed = loaded.get("sealed") if isinstance(loaded, dict) and len(loaded) == 1 else None
    if not FieldCipher.is_sealed(sealed):
        return text  # a plain value (or whatever else a row holds: the codec reads it)
    if cipher is None:
        raise EncryptionError("the profile values are encrypted and no encryption key is "
                              "configured: give the key (MEMVAULT_ENCRYPTION_KEY)")
    return cipher.open(str(sealed), _context(user_id, key))


def _sealed(cipher: FieldCipher | None, fact: ProfileFact) -> str:
    text = json.dumps(fact.value)
    if cipher is None:
        return text
    return json.dumps({"sealed": cipher.seal(text, _context(fact.user_id, fact.key))})


def _row_to_fact(row: Row, cipher: FieldCipher | None = None) -> ProfileFact:
    data = dict(row.items())
    data["value"] = _open_value(cipher, str(row["value"]), str(row["user_id"]), str(row["key"]))
    return fact_from_row(data, decode_time=_utc, decode_ids=list)


def _values(fact: ProfileFact, cipher: FieldCipher | None = None) -> tuple[object, ...]:
    return (
        fact.id, fact.user_id, fact.key, _sealed(cipher, fact), fact.category,
        list(fact.source_memory_ids), fact.agent_id, _utc(fact.valid_from),
        None if fact.valid_to is None else _utc(fact.valid_to), fact.retired_reason,
        fact.origin,
    )


async def _key_rows(conn: Connection, user_id: str, key: str,
                    cipher: FieldCipher | None = None) -> list[ProfileFact]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM profile_facts WHERE user_id = $1 AND key = $2", user_id, key
    )
    return [_row_to_fact(row, cipher) for row in rows]


async def _apply(conn: Connection, edit: timeline.Edit,
                 cipher: FieldCipher | None = None) -> None:
    """Write an edit's rows (only sources, ``valid_to`` and the reason of a row change)."""
    for row_id in edit.deleted:
        await conn.execute("DELETE FROM profile_facts WHERE id = $1", row_id)
    for fact in edit.writes:
        if fact.id in edit.inserted:
            await conn.execute(_INSERT, *_values(fact, cipher))
        else:
            await conn.execute(
                "UPDATE profile_facts SET source_memory_ids = $1::text[], valid_to = $2,"
                " retired_reason = $3 WHERE id = $4",
                list(fact.source_memory_ids),
                None if fact.valid_to is None else _utc(fact.valid_to),
                fact.retired_reason, fact.id,
            )


class PostgresProfileStore(PostgresAccess):
    """Profile memory in PostgreSQL (see :class:`memvault.stores.base.ProfileStore`).

    ``url`` is ``postgresql://user@host:5432/db``, optionally with ``?schema=name`` (default
    ``memvault``; see :mod:`memvault.stores.postgres`).
    """

    def __init__(self, url: str, *, keys: KeySet | None = None) -> None:
        self.url = url
        self._db = PostgresDatabase(url, "profile")
        self._cipher = None if keys is None else FieldCipher(keys)

    async def open(self) -> None:
        await self._db.open("profile", PROFILE)

    async def close(self) -> None:
        await self._db.close()

    async def status(self) -> StoreStatus:
        return await counted_status("profile", "postgresql", self._db.url.location, self.count,
                                    "facts")

    async def set_facts(self, facts: Sequence[ProfileFact]) -> list[ProfileFact]:
        batch = list(facts)

        async def _set(conn: Connection) -> list[ProfileFact]:
            await self._db.lock(conn, [("profile", f.user_id, f.key) for f in batch])
            at = datetime.now(UTC)
            holders: list[tuple[ProfileFact, str]] = []
            for fact in batch:
                rows = await _key_rows(conn, fact.user_id, fact.key, self._cipher)
                edit = timeline.place(rows, fact, at)
                await _apply(conn, edit, self._cipher)
                holders.append((fact, edit.holder or fact.id))
            return [timeline.holding(await _key_rows(conn, f.user_id, f.key, self._cipher), h)
                    for f, h in holders]

        return await self._db.write(_set)

    async def forget_sources(self, user_id: str, memory_ids: Sequence[str], at: datetime) -> int:
        ids = list(dict.fromkeys(memory_ids))

        async def _forget(conn: Connection) -> int:
            keys = [str(row["key"]) for row in await conn.fetch(
                "SELECT DISTINCT key FROM profile_facts WHERE user_id = $1"
                " AND source_memory_ids && $2::text[]", user_id, ids,
            )]
            await self._db.lock(conn, [("profile", user_id, key) for key in keys])
            retired = 0
            for key in keys:
                edit = timeline.forget(await _key_rows(conn, user_id, key, self._cipher), ids, at)
                await _apply(conn, edit, self._cipher)
                retired += edit.retired
            return retired

        return await self._db.write(_forget)

    async def forget_key(self, user_id: str, key: str, at: datetime) -> ProfileFact | None:
        async def _forget(conn: Connection) -> ProfileFact | None:
            await self._db.lock(conn, [("profile", user_id, key)])
            edit = timeline.forget_key(await _key_rows(conn, user_id, key), at)
            if not edit.writes:
                return None
            await _apply(conn, edit)
            return timeline.holding(await _key_rows(conn, user_id, key), edit.writes[0].id)

        return await self._db.write(_forget)

    async def get(self, user_id: str, *, include_history: bool = False) -> list[ProfileFact]:
        # One statement, so current facts and history come from one snapshot; a current fact
        # may span several live rows, so every live row is read.
        live_only = "" if include_history else " AND retired_reason IS NULL"
        rows = await self._db.read(lambda conn: conn.fetch(
            f"SELECT {_COLUMNS} FROM profile_facts WHERE user_id = $1{live_only}", user_id,
        ))
        facts = timeline.as_facts(_row_to_fact(row, self._cipher) for row in rows)
        return facts if include_history else [f for f in facts if f.valid_to is None]

    async def import_facts(self, facts: Sequence[ProfileFact]) -> int:
        batch = list(facts)

        async def _import(conn: Connection) -> int:
            await self._db.lock(conn, [("profile", f.user_id, f.key) for f in batch])
            added = 0
            for fact in batch:
                # Skips an existing id, and a current fact when the key already has one.
                inserted = await conn.fetchval(
                    _INSERT + " ON CONFLICT DO NOTHING RETURNING 1", *_values(fact, self._cipher)
                )
                if inserted is not None:
                    added += 1
            return added

        return await self._db.write(_import)

    async def cited(self, user_id: str, memory_ids: Sequence[str]) -> set[str]:
        wanted = list(dict.fromkeys(memory_ids))
        if not wanted:
            return set()
        rows = await self._db.read(lambda conn: conn.fetch(
            "SELECT DISTINCT s.id FROM profile_facts, unnest(source_memory_ids) AS s(id)"
            " WHERE user_id = $1 AND source_memory_ids && $2::text[] AND s.id = ANY($2::text[])",
            user_id, wanted,
        ))
        return {str(row["id"]) for row in rows}

    async def undo_facts(self, facts: Sequence[ProfileFact]) -> None:
        batch = list(facts)

        async def _undo(conn: Connection) -> None:
            await self._db.lock(conn, [("profile", f.user_id, f.key) for f in batch])
            at = datetime.now(UTC)
            for fact in batch:
                rows = await _key_rows(conn, fact.user_id, fact.key, self._cipher)
                await _apply(conn, timeline.undo(rows, fact.source_memory_ids, at), self._cipher)

        await self._db.write(_undo)

    async def current_keys(self, user_id: str) -> list[str]:
        rows = await self._db.read(lambda conn: conn.fetch(
            "SELECT DISTINCT key FROM profile_facts WHERE user_id = $1 AND valid_to IS NULL"
            " ORDER BY key", user_id,
        ))
        return [str(row["key"]) for row in rows]

    async def delete_all(self, user_id: str) -> int:
        async def _delete(conn: Connection) -> int:
            return int(await conn.fetchval(
                "WITH gone AS (DELETE FROM profile_facts WHERE user_id = $1 RETURNING 1)"
                " SELECT count(*) FROM gone",
                user_id,
            ))

        return await self._db.write(_delete)

    async def count(self, user_id: str | None = None) -> int:
        async def _count(conn: Connection) -> int:
            if user_id is None:
                return int(await conn.fetchval("SELECT count(*) FROM profile_facts"))
            return int(await conn.fetchval(
                "SELECT count(*) FROM profile_facts WHERE user_id = $1", user_id
            ))

        return await self._db.read(_count)

    async def user_ids(self) -> list[str]:
        rows = await self._db.read(lambda conn: conn.fetch(
            "SELECT DISTINCT user_id FROM profile_facts ORDER BY user_id"
        ))
        return [str(row["user_id"]) for row in rows]

    # -- field encryption (memvault.core.encryption.FieldRekeying) ---------------------------

    async def check_keys(self) -> None:
        """Refuse (:class:`EncryptionError`) a store whose sealed values the configured keys
        do not open, from a sample of them (a wrong key seals none of them)."""
        rows = await self._db.read(lambda conn: conn.fetch(
            "SELECT value->>'sealed' AS sealed FROM profile_facts"
            " WHERE jsonb_typeof(value) = 'object' AND value ? 'sealed' LIMIT 100"))
        check_sealed((str(row["sealed"]) for row in rows),
                     None if self._cipher is None else self._cipher.keys,
                     f"the profile values in {self._db.url.location}")

    def _stale(self) -> tuple[str, str]:
        if self._cipher is None:
            raise EncryptionError("no encryption key is configured")
        return ("NOT (jsonb_typeof(value) = 'object' AND value->>'sealed' LIKE $1)",
                f"mv1:{self._cipher.keys.current.kid}:%")

    async def fields_to_rekey(self) -> int:
        clause, pattern = self._stale()
        return int(await self._db.read(lambda conn: conn.fetchval(
            f"SELECT count(*) FROM profile_facts WHERE {clause}", pattern)))

    async def rekey_fields(self, *, batch: int, progress: Callable[[int], None]) -> int:
        clause, pattern = self._stale()

        async def _batch(conn: Connection) -> int:
            rows = await conn.fetch(
                f"SELECT id, user_id, key, value::text AS value FROM profile_facts"
                f" WHERE {clause} ORDER BY id LIMIT $2 FOR UPDATE", pattern, batch)
            for row in rows:
                user_id, key = str(row["user_id"]), str(row["key"])
                text = _open_value(self._cipher, str(row["value"]), user_id, key)
                sealed = json.dumps({"sealed": self._cipher.seal(text, _context(user_id, key))}
                                    ) if self._cipher else text
                await conn.execute("UPDATE profile_facts SET value = $1::jsonb WHERE id = $2",
                                   sealed, row["id"])
            return len(rows)

        done = 0
        while True:
            count = await self._db.write(_batch)
            if not count:
                return done
            done += count
            progress(count)
