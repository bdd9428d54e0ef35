"""The embedded working store: each session's recent turns in the shared SQLite file, so
every server process sees them and a restart keeps them."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from memvault.models import Memory, StoreStatus
from memvault.stores.codec import counted_status, memory_from_json, session_of
from memvault.stores.crypto import KeySet
from memvault.stores.sqlite.db import SqliteDatabase, path_from_url
from memvault.stores.sqlite.schema import WORKING

__all__ = ["SqliteWorkingStore"]


def _now_micros() -> int:
    return int(time.time() * 1_000_000)


class SqliteWorkingStore:
    """Working memory in one SQLite file (see :class:`memvault.stores.base.WorkingStore`)."""

    def __init__(self, url: str, *, keys: KeySet | None = None) -> None:
        self.url = url
        self._db = SqliteDatabase(path_from_url(url), "working", keys)

    async def open(self) -> None:
        await self._db.open("working", WORKING)

    async def close(self) -> None:
        await self._db.close()

    async def missing(self) -> StoreStatus | None:
        return self._db.missing("working")

    async def status(self) -> StoreStatus:
        def _count(conn: sqlite3.Connection) -> int:
            return int(conn.execute("SELECT count(*) FROM working_turns").fetchone()[0])

        return await counted_status("working", "sqlite", str(self._db.path),
                                    lambda: self._db.read(_count), "recent turns")

    async def push(self, memory: Memory, *, max_turns: int, ttl_seconds: float) -> None:
        await self._db.write(self.pusher(memory, max_turns=max_turns, ttl_seconds=ttl_seconds))

    @property
    def database(self) -> SqliteDatabase:
        return self._db

    def pusher(
        self, memory: Memory, *, max_turns: int, ttl_seconds: float
    ) -> Callable[[sqlite3.Connection], None]:
        """The transaction body of :meth:`push`, for a connection to this store's file."""
        session = (memory.user_id, session_of(memory))

        def _push(conn: sqlite3.Connection) -> None:
            now = _now_micros()
            _purge_expired(conn, now)
            conn.execute(
                "INSERT INTO working_turns (user_id, session_id, memory_id, agent_id, payload)"
                " VALUES (?, ?, ?, ?, ?)",
                (*session, memory.id, memory.agent_id, memory.model_dump_json()),
            )
            conn.execute(
                "DELETE FROM working_turns WHERE user_id = ? AND session_id = ? AND seq NOT IN"
                " (SELECT seq FROM working_turns WHERE user_id = ? AND session_id = ?"
                " ORDER BY seq DESC LIMIT ?)",
                (*session, *session, max_turns),
            )
            conn.execute(
                "INSERT INTO working_sessions (user_id, session_id, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (user_id, session_id) DO UPDATE SET expires_at = excluded.expires_at",
                (*session, now + int(ttl_seconds * 1_000_000)),
            )

        return _push

    async def recent(self, user_id: str, session_id: str, *, limit: int) -> list[Memory]:
        def _recent(conn: sqlite3.Connection) -> list[Memory]:
            rows = conn.execute(
                "SELECT t.payload FROM working_turns t JOIN working_sessions s"
                " ON s.user_id = t.user_id AND s.session_id = t.session_id"
                " WHERE t.user_id = ? AND t.session_id = ? AND s.expires_at > ?"
                " ORDER BY t.seq DESC LIMIT ?",
                (user_id, session_id, _now_micros(), limit),
            )
            turns = (memory_from_json(r[0]) for r in rows)
            return [turn for turn in turns if turn is not None]

        return await self._db.read(_recent)

    async def delete(self, user_id: str, memory_id: str) -> None:
        def _delete(conn: sqlite3.Connection) -> None:
            conn.execute(
                "DELETE FROM working_turns WHERE user_id = ? AND memory_id = ?",
                (user_id, memory_id),
            )

        await self._db.write(_delete)

    async def clear(
        self, user_id: str, *, session_id: str | None = None, agent_id: str | None = None
    ) -> int:
        clause = "user_id = ?"
        params: list[Any] = [user_id]
        if session_id is not None:
            clause += " AND session_id = ?"
            params.append(session_id)
        if agent_id is not None:
            clause += " AND agent_id = ?"
            params.append(agent_id)

        def _clear(conn: sqlite3.Connection) -> int:
            live = conn.execute(
                f"SELECT count(*) FROM working_turns t WHERE {clause} AND EXISTS"
                " (SELECT 1 FROM working_sessions s WHERE s.user_id = t.user_id"
                " AND s.session_id = t.session_id AND s.expires_at > ?)",
                [*params, _now_micros()],
            ).fetchone()[0]
            conn.execute(f"DELETE FROM working_turns WHERE {clause}", params)
            if agent_id is None:
                conn.execute(f"DELETE FROM working_sessions WHERE {clause}", params)
            return int(live)

        return await self._db.write(_clear)


def _purge_expired(conn: sqlite3.Connection, now: int) -> None:
    expired = conn.execute(
        "SELECT user_id, session_id FROM working_sessions WHERE expires_at <= ?", (now,)
    ).fetchall()
    for user_id, session_id in expired:
        conn.execute(
            "DELETE FROM working_turns WHERE user_id = ? AND session_id = ?", (user_id, session_id)
        )
        conn.execute(
            "DELETE FROM working_sessions WHERE user_id = ? AND session_id = ?",
            (user_id, session_id),
        )
