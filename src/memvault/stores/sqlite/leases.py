"""What the SQLite job tables share: giving a worker's leases back, and their statistics.

``extraction_jobs`` (one row per memory) and ``summary_jobs`` (one per session) have the same
lease columns (``state``, ``claimed_by``, ``lease_until``, ``attempts``, ``tokens``,
``finished_at``, ``error``); the statements here are written once for both. Table and column
names are this module's constants, never input.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from memvault.models import JobFailure, QueueStats
from memvault.stores.codec import from_micros, to_micros

__all__ = ["release", "stats"]

Table = Literal["extraction_jobs", "summary_jobs"]

_DAY = timedelta(days=1)


def release(conn: sqlite3.Connection, table: Table, worker: str) -> int:
    """Give back ``worker``'s claimed jobs, their attempt not counted; how many."""
    return conn.execute(
        f"UPDATE {table} SET claimed_by = NULL, lease_until = NULL,"
        " attempts = max(attempts - 1, 0)"
        " WHERE claimed_by = ? AND state = 'queued'", (worker,),
    ).rowcount


def stats(conn: sqlite3.Connection, table: Table, *, now: datetime, failures: int,
          oldest: str, tokens_also: str, keys: str,
          failure: Callable[[Sequence[Any]], JobFailure]) -> QueueStats:
    """The queue's counts, tokens of the last day, and its latest ``failures``.

    ``oldest`` is the column dating the oldest queued job; ``tokens_also`` a condition under
    which a job's tokens count besides having finished within the day (``"0"``: none);
    ``keys`` the columns read before ``attempts, error`` for each failure, which
    ``failure`` turns into a :class:`JobFailure`."""
    counts = dict(conn.execute(f"SELECT state, count(*) FROM {table} GROUP BY state").fetchall())
    claimed, first = conn.execute(
        f"SELECT count(lease_until > ? OR NULL), min({oldest}) FROM {table}"
        " WHERE state = 'queued'", (to_micros(now),)).fetchone()
    tokens = conn.execute(
        f"SELECT coalesce(sum(tokens), 0) FROM {table} WHERE finished_at > ? OR ({tokens_also})",
        (to_micros(now - _DAY),)).fetchone()[0]
    failed = [failure(row) for row in conn.execute(
        f"SELECT {keys}, attempts, error FROM {table}"
        " WHERE state = 'failed' ORDER BY finished_at DESC LIMIT ?", (failures,))]
    return QueueStats(
        queued=counts.get("queued", 0), claimed=claimed or 0,
        done=counts.get("done", 0), failed=counts.get("failed", 0),
        tokens_24h=int(tokens), failures=failed,
        oldest_queued=None if first is None else from_micros(first),
    )
