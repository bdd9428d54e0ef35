"""The PostgreSQL profile store: facts with provenance and history, the same semantics as
the embedded SQLite store.

Values are JSONB, times ``timestamptz`` (microseconds kept, returned as aware UTC). A partial
unique index keeps one current row per ``(user_id, key)``; writers take a transaction-scoped
advisory lock per ``(user_id, key)`` before reading the current row, so replicas writing the
same key at once are serialised instead of racing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from memvault.models import ProfileFact, StoreStatus
from memvault.stores.codec import counted_status, fact_from_row
from memvault.stores.postgres.pool import Connection, PostgresDatabase, Row
from memvault.stores.postgres.schema import PROFILE

__all__ = ["PostgresProfileStore"]

_COLUMNS = (
    "id, user_id, key, value::text AS value, category, source_memory_ids, agent_id,"
    " valid_from, valid_to"
)
_INSERT = (
    "INSERT INTO profile_facts"
    " (id, user_id, key, value, category, source_memory_ids, agent_id, valid_from, valid_to)"
    " VALUES ($1, $2, $3, $4::jsonb, $5, $6::text[], $7, $8, $9)"
)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _row_to_fact(row: Row) -> ProfileFact:
    return fact_from_row(row, decode_time=_utc, decode_ids=list)


def _values(fact: ProfileFact) -> tuple[object, ...]:
    return (
        fact.id, fact.user_id, fact.key, json.dumps(fact.value), fact.category,
        list(fact.source_memory_ids), fact.agent_id, _utc(fact.valid_from),
        None if fact.valid_to is None else _utc(fact.valid_to),
    )


class PostgresProfileStore:
    """Profile memory in PostgreSQL (see :class:`memvault.stores.base.ProfileStore`).

    ``url`` is ``postgresql://user@host:5432/db``, optionally with ``?schema=name`` (default
    ``memvault``; see :mod:`memvault.stores.postgres`).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._db = PostgresDatabase(url, "profile")

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
            current: list[ProfileFact] = []
            for fact in batch:
                row = await conn.fetchrow(
                    f"SELECT {_COLUMNS} FROM profile_facts"
                    " WHERE user_id = $1 AND key = $2 AND valid_to IS NULL",
                    fact.user_id, fact.key,
                )
                old = _row_to_fact(row) if row else None
                if old is not None and old.value == fact.value and old.category == fact.category:
                    sources = list(dict.fromkeys([*old.source_memory_ids,
                                                  *fact.source_memory_ids]))
                    await conn.execute(
                        "UPDATE profile_facts SET source_memory_ids = $1::text[] WHERE id = $2",
                        sources, old.id,
                    )
                    current.append(old.model_copy(update={"source_memory_ids": sources}))
                    continue
                if old is not None:
                    ended = max(_utc(fact.valid_from), old.valid_from)
                    await conn.execute(
                        "UPDATE profile_facts SET valid_to = $1 WHERE id = $2", ended, old.id
                    )
                await conn.execute(_INSERT, *_values(fact))
                current.append(fact)
            return current

        return await self._db.write(_set)

    async def get(self, user_id: str, *, include_history: bool = False) -> list[ProfileFact]:
        # One statement, so current facts and history come from one snapshot.
        current_only = "" if include_history else " AND valid_to IS NULL"
        rows = await self._db.read(lambda conn: conn.fetch(
            f"SELECT {_COLUMNS} FROM profile_facts WHERE user_id = $1{current_only}"
            " ORDER BY valid_to IS NOT NULL, valid_to DESC, key",
            user_id,
        ))
        return [_row_to_fact(row) for row in rows]

    async def import_facts(self, facts: Sequence[ProfileFact]) -> int:
        batch = list(facts)

        async def _import(conn: Connection) -> int:
            await self._db.lock(conn, [("profile", f.user_id, f.key) for f in batch])
            added = 0
            for fact in batch:
                # Skips an existing id, and a current fact when the key already has one.
                inserted = await conn.fetchval(
                    _INSERT + " ON CONFLICT DO NOTHING RETURNING 1", *_values(fact)
                )
                if inserted is not None:
                    added += 1
            return added

        return await self._db.write(_import)

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
