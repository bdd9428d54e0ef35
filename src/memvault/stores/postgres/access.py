"""Per-user API keys and the audit trail in the PostgreSQL profile store's schema
(:class:`~memvault.stores.base.KeyStore`, :class:`~memvault.stores.base.AuditStore`).

Times are ``timestamptz``; an audit entry's ids and keys are ``text[]``, its detail JSONB.
Mixed into :class:`~memvault.stores.postgres.profile.PostgresProfileStore`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from memvault.errors import InvalidInput
from memvault.models import ApiKey, AuditEntry
from memvault.stores.codec import load_json
from memvault.stores.postgres.pool import Connection, PostgresDatabase, Row

__all__ = ["PostgresAccess"]

_KEY_COLUMNS = ("id, name, user_id, agent_id, scope, created_at, last_used_at, expires_at,"
                " revoked_at")
_AUDIT_COLUMNS = ("id, at, user_id, subject, agent_id, action, memory_ids, keys,"
                  " detail::text AS detail")


def _time(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _key(row: Row) -> ApiKey:
    return ApiKey(
        id=row["id"], name=row["name"], user_id=row["user_id"], agent_id=row["agent_id"],
        scope=row["scope"], created_at=row["created_at"].astimezone(UTC),
        last_used_at=_time(row["last_used_at"]), expires_at=_time(row["expires_at"]),
        revoked_at=_time(row["revoked_at"]),
    )


def _entry(row: Row) -> AuditEntry:
    detail = load_json(row["detail"], {})
    return AuditEntry(
        id=row["id"], at=row["at"].astimezone(UTC), user_id=row["user_id"],
        subject=row["subject"], agent_id=row["agent_id"], action=row["action"],
        memory_ids=list(row["memory_ids"] or []), keys=list(row["keys"] or []),
        detail=detail if isinstance(detail, dict) else {},
    )


class PostgresAccess:
    """The key and audit methods of the PostgreSQL profile store, over its ``_db``."""

    _db: PostgresDatabase

    async def add_key(self, key: ApiKey, secret_hash: str) -> None:
        async def _add(conn: Connection) -> object:
            return await conn.fetchval(
                f"INSERT INTO api_keys ({_KEY_COLUMNS}, secret_hash)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                " ON CONFLICT (id) DO NOTHING RETURNING id",
                key.id, key.name, key.user_id, key.agent_id, key.scope, key.created_at,
                key.last_used_at, key.expires_at, key.revoked_at, secret_hash,
            )

        if await self._db.write(_add) is None:
            raise InvalidInput(f"a key with id {key.id!r} exists")

    async def find_key(self, key_id: str) -> tuple[ApiKey, str] | None:
        async def _find(conn: Connection) -> Row | None:
            return await conn.fetchrow(
                f"SELECT {_KEY_COLUMNS}, secret_hash FROM api_keys WHERE id = $1", key_id)

        row = await self._db.read(_find)
        return None if row is None else (_key(row), str(row["secret_hash"]))

    async def list_keys(self, user_id: str | None = None) -> list[ApiKey]:
        async def _list(conn: Connection) -> list[Row]:
            if user_id is None:
                return await conn.fetch(
                    f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id")
            return await conn.fetch(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE user_id = $1"
                " ORDER BY created_at, id", user_id)

        return [_key(row) for row in await self._db.read(_list)]

    async def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None:
        async def _revoke(conn: Connection) -> Row | None:
            await conn.execute("UPDATE api_keys SET revoked_at = $1 WHERE id = $2"
                               " AND revoked_at IS NULL", at, key_id)
            return await conn.fetchrow(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = $1",
                                       key_id)

        row = await self._db.write(_revoke)
        return None if row is None else _key(row)

    async def touch_key(self, key_id: str, at: datetime) -> None:
        async def _touch(conn: Connection) -> None:
            await conn.execute("UPDATE api_keys SET last_used_at = $1 WHERE id = $2"
                               " AND (last_used_at IS NULL OR last_used_at < $1)", at, key_id)

        await self._db.write(_touch)

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        batch = list(entries)
        if not batch:
            return

        async def _record(conn: Connection) -> None:
            for e in batch:
                await conn.execute(
                    "INSERT INTO audit_log (id, at, user_id, subject, agent_id, action,"
                    " memory_ids, keys, detail) VALUES ($1, $2, $3, $4, $5, $6, $7::text[],"
                    " $8::text[], $9::jsonb) ON CONFLICT (id) DO NOTHING",
                    e.id, e.at, e.user_id, e.subject, e.agent_id, e.action,
                    list(e.memory_ids), list(e.keys), json.dumps(e.detail),
                )

        await self._db.write(_record)

    async def audit_trail(
        self, user_id: str, *, limit: int, newest_first: bool = True,
        beyond: str | None = None,
    ) -> list[AuditEntry]:
        order, past = ("DESC", "<") if newest_first else ("ASC", ">")

        async def _trail(conn: Connection) -> list[Row]:
            if beyond is None:
                return await conn.fetch(
                    f"SELECT {_AUDIT_COLUMNS} FROM audit_log WHERE user_id = $1"
                    f" ORDER BY id {order} LIMIT $2", user_id, limit)
            return await conn.fetch(
                f"SELECT {_AUDIT_COLUMNS} FROM audit_log WHERE user_id = $1 AND id {past} $2"
                f" ORDER BY id {order} LIMIT $3", user_id, beyond, limit)

        return [_entry(row) for row in await self._db.read(_trail)]
