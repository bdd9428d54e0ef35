"""Per-user API keys and the audit trail in the embedded profile store's file
(:class:`~memvault.stores.base.KeyStore`, :class:`~memvault.stores.base.AuditStore`).

Times are integer microseconds (:func:`~memvault.stores.codec.to_micros`); an audit entry's id
lists are JSON text. Mixed into :class:`~memvault.stores.sqlite.profile.SqliteProfileStore`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from memvault.errors import InvalidInput
from memvault.models import ApiKey, AuditEntry
from memvault.stores.codec import from_micros, load_json, to_micros
from memvault.stores.sqlite.db import SqliteDatabase

__all__ = ["SqliteAccess"]

_KEY_COLUMNS = ("id, name, user_id, agent_id, scope, created_at, last_used_at, expires_at,"
                " revoked_at")
_AUDIT_COLUMNS = "id, at, user_id, subject, agent_id, action, memory_ids, keys, detail"


def _micros(moment: datetime | None) -> int | None:
    return None if moment is None else to_micros(moment)


def _time(value: int | None) -> datetime | None:
    return None if value is None else from_micros(value)


def _key(row: sqlite3.Row) -> ApiKey:
    return ApiKey(
        id=row["id"], name=row["name"], user_id=row["user_id"], agent_id=row["agent_id"],
        scope=row["scope"], created_at=from_micros(row["created_at"]),
        last_used_at=_time(row["last_used_at"]), expires_at=_time(row["expires_at"]),
        revoked_at=_time(row["revoked_at"]),
    )


def _entry(row: sqlite3.Row) -> AuditEntry:
    detail = load_json(row["detail"], {})
    return AuditEntry(
        id=row["id"], at=from_micros(row["at"]), user_id=row["user_id"],
        subject=row["subject"], agent_id=row["agent_id"], action=row["action"],
        memory_ids=[str(i) for i in load_json(row["memory_ids"], [])],
        keys=[str(k) for k in load_json(row["keys"], [])],
        detail=detail if isinstance(detail, dict) else {},
    )


class SqliteAccess:
    """The key and audit methods of the SQLite profile store, over its ``_db``."""

    _db: SqliteDatabase

    async def add_key(self, key: ApiKey, secret_hash: str) -> None:
        def _add(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    f"INSERT INTO api_keys ({_KEY_COLUMNS}, secret_hash)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key.id, key.name, key.user_id, key.agent_id, key.scope,
                     to_micros(key.created_at), _micros(key.last_used_at),
                     _micros(key.expires_at), _micros(key.revoked_at), secret_hash),
                )
            except sqlite3.IntegrityError:
                raise InvalidInput(f"a key with id {key.id!r} exists") from None

        await self._db.write(_add)

    async def find_key(self, key_id: str) -> tuple[ApiKey, str] | None:
        def _find(conn: sqlite3.Connection) -> tuple[ApiKey, str] | None:
            row = conn.execute(f"SELECT {_KEY_COLUMNS}, secret_hash FROM api_keys WHERE id = ?",
                               (key_id,)).fetchone()
            return None if row is None else (_key(row), str(row["secret_hash"]))

        return await self._db.read(_find)

    async def list_keys(self, user_id: str | None = None) -> list[ApiKey]:
        where, args = ("WHERE user_id = ?", (user_id,)) if user_id is not None else ("", ())

        def _list(conn: sqlite3.Connection) -> list[ApiKey]:
            return [_key(r) for r in conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys {where} ORDER BY created_at, id", args)]

        return await self._db.read(_list)

    async def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None:
        def _revoke(conn: sqlite3.Connection) -> ApiKey | None:
            conn.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                         (to_micros(at), key_id))
            row = conn.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ?",
                               (key_id,)).fetchone()
            return None if row is None else _key(row)

        return await self._db.write(_revoke)

    async def touch_key(self, key_id: str, at: datetime) -> None:
        def _touch(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?"
                         " AND (last_used_at IS NULL OR last_used_at < ?)",
                         (to_micros(at), key_id, to_micros(at)))

        await self._db.write(_touch)

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        rows = [(e.id, to_micros(e.at), e.user_id, e.subject, e.agent_id, e.action,
                 json.dumps(e.memory_ids), json.dumps(e.keys), json.dumps(e.detail))
                for e in entries]
        if not rows:
            return

        def _record(conn: sqlite3.Connection) -> None:
            conn.executemany(f"INSERT OR IGNORE INTO audit_log ({_AUDIT_COLUMNS})"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

        await self._db.write(_record)

    async def audit_trail(
        self, user_id: str, *, limit: int, newest_first: bool = True,
        beyond: str | None = None,
    ) -> list[AuditEntry]:
        order, past = ("DESC", "<") if newest_first else ("ASC", ">")
        after = f" AND id {past} ?" if beyond is not None else ""
        args: tuple[object, ...] = (user_id, *(() if beyond is None else (beyond,)), limit)

        def _trail(conn: sqlite3.Connection) -> list[AuditEntry]:
            return [_entry(r) for r in conn.execute(
                f"SELECT {_AUDIT_COLUMNS} FROM audit_log WHERE user_id = ?{after}"
                f" ORDER BY id {order} LIMIT ?", args)]

        return await self._db.read(_trail)
