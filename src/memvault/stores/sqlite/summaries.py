"""Derived memories and the session-summary jobs of the embedded episodic store (see
:class:`memvault.stores.base.SummaryQueue`).

A derived memory is a row of ``memories`` with ``derived_kind`` set and its sources, in
order, in ``derived_sources``. It is out of its session's chain (``prev_id`` is never set on
it, and no turn links to it), so the timeline of turns is the same with or without
summaries. ``summary_jobs`` holds one row per session: each new turn arms it again (its
``version`` goes up, it is due ``summarise_after`` seconds later), so a session is
summarised once it is idle, and again after new turns. A claim is one ``UPDATE ...
RETURNING`` under the file's write lock, so two processes never hold one job; the write of a
summary checks the claim in the same transaction."""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from memvault.models import Derived, JobFailure, Memory, QueueStats
from memvault.stores.base import NewMemory, SummaryJob
from memvault.stores.codec import MEMORY_COLUMNS, memory_from_row, to_micros
from memvault.stores.sqlite import leases
from memvault.stores.sqlite.db import SqliteDatabase

__all__ = ["COLUMNS", "SqliteSummaryQueue", "arm_summary", "drop_derived_of", "read_memory",
           "write_derived"]

#: The columns of a memory row read by the SQLite episodic store: the shared ones, then the
#: derived kind and the sources as a JSON array (``NULL`` for what was said).
COLUMNS = (
    f"{MEMORY_COLUMNS}, m.derived_kind AS derived_kind,"
    " CASE WHEN m.derived_kind IS NULL THEN NULL ELSE (SELECT json_group_array(source_id)"
    " FROM (SELECT source_id FROM derived_sources WHERE memory_rowid = m.rowid"
    " ORDER BY position)) END AS derived_sources"
)


def read_memory(row: sqlite3.Row) -> Memory:
    """A memory from a row of :data:`COLUMNS`."""
    memory = memory_from_row(row)
    if row["derived_kind"] is None:
        return memory
    sources = json.loads(row["derived_sources"] or "[]")
    return memory.model_copy(update={"derived": Derived(
        kind="summary", source_ids=[str(s) for s in sources])})


def write_derived(conn: sqlite3.Connection, rowid: int, memory: Memory) -> None:
    """Record ``memory``'s derivation (its kind and sources) for its new row."""
    if memory.derived is None:
        return
    conn.execute("UPDATE memories SET derived_kind = ? WHERE rowid = ?",
                 (memory.derived.kind, rowid))
    conn.executemany(
        "INSERT INTO derived_sources (memory_rowid, position, source_id) VALUES (?, ?, ?)",
        [(rowid, i, source) for i, source in enumerate(memory.derived.source_ids)],
    )


def arm_summary(conn: sqlite3.Connection, memory: NewMemory) -> None:
    """(Re)arm the summary job of the memory's session (part of the add's transaction)."""
    if memory.summarise_after is None or memory.session_id is None or memory.derived:
        return
    due = to_micros(memory.created_at + timedelta(seconds=memory.summarise_after))
    conn.execute(
        "INSERT INTO summary_jobs (user_id, session_id, not_before) VALUES (?, ?, ?)"
        " ON CONFLICT (user_id, session_id) DO UPDATE SET version = version + 1,"
        " state = 'queued', attempts = 0, error = NULL, finished_at = NULL,"
        " not_before = max(not_before, excluded.not_before)",
        (memory.user_id, memory.session_id, due),
    )


def drop_derived_of(conn: sqlite3.Connection, user_id: str, memory_ids: Sequence[str]
                    ) -> builtins.list[str]:
    """Delete the user's derived memories made from any of ``memory_ids`` (they would keep
    what a deleted memory said) and arm their sessions' jobs again, due now; their ids."""
    doomed: dict[str, str | None] = {}
    for memory_id in memory_ids:
        for derived_id, session in conn.execute(
            "SELECT m.id, m.session_id FROM derived_sources d JOIN memories m"
            " ON m.rowid = d.memory_rowid WHERE d.source_id = ? AND m.user_id = ?",
            (memory_id, user_id),
        ):
            doomed[derived_id] = session
    for derived_id, session in doomed.items():
        conn.execute("DELETE FROM memories WHERE id = ?", (derived_id,))
        if session is not None:
            conn.execute(
                "UPDATE summary_jobs SET version = version + 1, state = 'queued',"
                " attempts = 0, error = NULL, finished_at = NULL, not_before = ?"
                " WHERE user_id = ? AND session_id = ?",
                (to_micros(datetime.now(UTC)), user_id, session),
            )
    return list(doomed)


class SqliteSummaryQueue:
    """The :class:`~memvault.stores.base.SummaryQueue` methods of the SQLite episodic store
    (a base class of it; ``_db`` is its database, ``adding`` its insert)."""

    _db: SqliteDatabase

    def adding(self, memories: Sequence[Memory], *, pending: bool = True
               ) -> Callable[[sqlite3.Connection], builtins.list[str]]:
        raise NotImplementedError

    async def claim_summary(self, worker: str, *, lease_seconds: float,
                            now: datetime) -> SummaryJob | None:
        moment = to_micros(now)
        until = to_micros(now + timedelta(seconds=lease_seconds))

        def _claim(conn: sqlite3.Connection) -> SummaryJob | None:
            row = conn.execute(
                "UPDATE summary_jobs SET claimed_by = ?, lease_until = ?,"
                " attempts = attempts + 1"
                " WHERE rowid = (SELECT rowid FROM summary_jobs"
                "  WHERE state = 'queued' AND not_before <= ?"
                "  AND (lease_until IS NULL OR lease_until < ?)"
                "  ORDER BY not_before LIMIT 1)"
                " RETURNING user_id, session_id, version, attempts",
                (worker, until, moment, moment),
            ).fetchone()
            return None if row is None else SummaryJob(*row)

        return await self._db.write(_claim)

    async def session_turns(self, user_id: str, session_id: str) -> builtins.list[Memory]:
        def _turns(conn: sqlite3.Connection) -> builtins.list[Memory]:
            return [read_memory(r) for r in conn.execute(
                f"SELECT {COLUMNS} FROM memories m WHERE m.user_id = ? AND m.session_id = ?"
                " AND m.derived_kind IS NULL ORDER BY m.occurred_at, m.rowid",
                (user_id, session_id))]

        return await self._db.read(_turns)

    async def write_summary(self, worker: str, job: SummaryJob, summary: Memory | None, *,
                            tokens: int, now: datetime) -> bool:
        insert = None if summary is None else self.adding([summary], pending=False)

        def _write(conn: sqlite3.Connection) -> bool:
            held = conn.execute(
                "SELECT version FROM summary_jobs WHERE user_id = ? AND session_id = ?"
                " AND claimed_by = ? AND state = 'queued'",
                (job.user_id, job.session_id, worker)).fetchone()
            if held is None:
                return False
            old = [r[0] for r in conn.execute(
                "SELECT id FROM memories WHERE user_id = ? AND session_id = ?"
                " AND derived_kind = 'summary'", (job.user_id, job.session_id))]
            for memory_id in old:
                conn.execute("DELETE FROM memories WHERE id = ?", (memory_id,))
            if old:
                conn.execute(
                    "INSERT INTO vector_generations (user_id, generation) VALUES (?, 1)"
                    " ON CONFLICT (user_id) DO UPDATE SET generation = generation + 1",
                    (job.user_id,))
                conn.execute(
                    "DELETE FROM entities WHERE user_id = ? AND NOT EXISTS"
                    " (SELECT 1 FROM mentions WHERE entity_id = entities.id)", (job.user_id,))
            if insert is not None:
                insert(conn)
            newer = int(held[0]) != job.version
            conn.execute(
                "UPDATE summary_jobs SET claimed_by = NULL, lease_until = NULL, error = NULL,"
                " tokens = tokens + ?, state = CASE WHEN ? THEN 'queued' ELSE 'done' END,"
                " attempts = CASE WHEN ? THEN 0 ELSE attempts END,"
                " finished_at = CASE WHEN ? THEN NULL ELSE ? END"
                " WHERE user_id = ? AND session_id = ?",
                (tokens, newer, newer, newer, to_micros(now), job.user_id, job.session_id))
            return True

        return await self._db.write(_write)

    async def retry_summary(self, worker: str, job: SummaryJob, *, error: str,
                            not_before: datetime, max_attempts: int, now: datetime) -> bool:
        def _retry(conn: sqlite3.Connection) -> bool:
            return conn.execute(
                "UPDATE summary_jobs SET claimed_by = NULL, lease_until = NULL, error = ?,"
                " not_before = max(not_before, ?),"
                " state = CASE WHEN attempts >= ? THEN 'failed' ELSE 'queued' END,"
                " finished_at = CASE WHEN attempts >= ? THEN ? ELSE NULL END"
                " WHERE user_id = ? AND session_id = ? AND claimed_by = ?"
                " AND state = 'queued'",
                (error, to_micros(not_before), max_attempts, max_attempts, to_micros(now),
                 job.user_id, job.session_id, worker),
            ).rowcount == 1

        return await self._db.write(_retry)

    async def release_summaries(self, worker: str) -> int:
        return await self._db.write(lambda conn: leases.release(conn, "summary_jobs", worker))

    async def summary_stats(self, *, now: datetime, failures: int = 5) -> QueueStats:
        def _stats(conn: sqlite3.Connection) -> QueueStats:
            return leases.stats(
                conn, "summary_jobs", now=now, failures=failures, oldest="not_before",
                tokens_also="0", keys="user_id, session_id",
                failure=lambda r: JobFailure(memory_id="", user_id=r[0], session_id=r[1],
                                             attempts=r[2], error=r[3] or ""))

        return await self._db.read(_stats)
