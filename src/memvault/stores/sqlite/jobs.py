"""The profile-extraction job queue in the episodic file (see
:class:`memvault.stores.base.ExtractionQueue`): table ``extraction_jobs``, one row per memory.

A claim is one ``UPDATE ... RETURNING`` under the file's write lock, so two processes never
hold one job; a lease that ran out (``lease_until`` past) makes the job claimable again.
Finished and failed jobs keep their row: it is how a memory is never extracted twice, and
their ``tokens`` and ``finished_at`` bound the tokens of a day across processes."""

from __future__ import annotations

import builtins
import sqlite3
from datetime import datetime, timedelta

from memvault.models import JobFailure, QueueStats
from memvault.stores.base import Job, NewMemory
from memvault.stores.codec import to_micros
from memvault.stores.sqlite import leases
from memvault.stores.sqlite.db import SqliteDatabase

__all__ = ["SqliteJobQueue", "queue_job"]


def queue_job(conn: sqlite3.Connection, memory: NewMemory) -> None:
    """Queue the memory's job (part of the add's transaction)."""
    conn.execute(
        "INSERT OR IGNORE INTO extraction_jobs (memory_id, user_id, created_at)"
        " VALUES (?, ?, ?)",
        (memory.id, memory.user_id, to_micros(memory.created_at)),
    )


class SqliteJobQueue:
    """The :class:`~memvault.stores.base.ExtractionQueue` methods of the SQLite episodic
    store (a base class of it; ``_db`` is its database)."""

    _db: SqliteDatabase

    async def claim_jobs(self, worker: str, *, limit: int, lease_seconds: float,
                         now: datetime) -> builtins.list[Job]:
        moment = to_micros(now)
        until = to_micros(now + timedelta(seconds=lease_seconds))

        def _claim(conn: sqlite3.Connection) -> builtins.list[Job]:
            rows = conn.execute(
                "UPDATE extraction_jobs SET claimed_by = ?, lease_until = ?,"
                " attempts = attempts + 1"
                " WHERE memory_id IN (SELECT memory_id FROM extraction_jobs"
                "  WHERE state = 'queued' AND not_before <= ?"
                "  AND (lease_until IS NULL OR lease_until < ?)"
                "  ORDER BY created_at, memory_id LIMIT ?)"
                " RETURNING memory_id, user_id, attempts, created_at",
                (worker, until, moment, moment, limit),
            ).fetchall()
            rows.sort(key=lambda r: (r[3], r[0]))
            return [Job(memory_id=r[0], user_id=r[1], attempts=r[2]) for r in rows]

        return await self._db.write(_claim)

    async def finish_job(self, worker: str, memory_id: str, *, tokens: int,
                         now: datetime) -> bool:
        def _finish(conn: sqlite3.Connection) -> bool:
            return conn.execute(
                "UPDATE extraction_jobs SET state = 'done', claimed_by = NULL,"
                " lease_until = NULL, error = NULL, tokens = tokens + ?, finished_at = ?"
                " WHERE memory_id = ? AND claimed_by = ? AND state = 'queued'",
                (tokens, to_micros(now), memory_id, worker),
            ).rowcount == 1

        return await self._db.write(_finish)

    async def retry_job(self, worker: str, memory_id: str, *, error: str, tokens: int,
                        not_before: datetime, max_attempts: int, now: datetime) -> bool:
        def _retry(conn: sqlite3.Connection) -> bool:
            return conn.execute(
                "UPDATE extraction_jobs SET claimed_by = NULL, lease_until = NULL,"
                " error = ?, tokens = tokens + ?, not_before = ?,"
                " state = CASE WHEN attempts >= ? THEN 'failed' ELSE 'queued' END,"
                " finished_at = CASE WHEN attempts >= ? THEN ? ELSE NULL END"
                " WHERE memory_id = ? AND claimed_by = ? AND state = 'queued'",
                (error, tokens, to_micros(not_before), max_attempts, max_attempts,
                 to_micros(now), memory_id, worker),
            ).rowcount == 1

        return await self._db.write(_retry)

    async def release_jobs(self, worker: str) -> int:
        return await self._db.write(lambda conn: leases.release(conn, "extraction_jobs", worker))

    async def job_stats(self, *, now: datetime, failures: int = 5) -> QueueStats:
        def _stats(conn: sqlite3.Connection) -> QueueStats:
            return leases.stats(
                conn, "extraction_jobs", now=now, failures=failures, oldest="created_at",
                tokens_also="state = 'queued' AND tokens > 0", keys="memory_id, user_id",
                failure=lambda r: JobFailure(memory_id=r[0], user_id=r[1], attempts=r[2],
                                             error=r[3] or ""))

        return await self._db.read(_stats)
