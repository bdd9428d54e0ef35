"""Vector graphs built beside the searches, on a connection and a thread of their own.

Putting a user's rows into the HNSW graph costs about 0.14 ms a row on two cores: a million
rows, the first time a process searches a store that has no saved graph (an encrypted store
never saves one), took over two minutes, all of it inside that first search. A top-up that
would put more than :data:`INLINE_ROWS` rows into a graph is therefore handed to a
:class:`GraphBuilds` job: it reads the rows a page at a time, each page in a read transaction
of its own (so that writers and checkpoints never wait on it for long), adds them to the
graph, saves the graph, and hands the result back; searches of that user meanwhile raise
:class:`~memvault.errors.IndexBuilding` and go on by words. Deletes and adds made during the
build are applied by the usual prune and top-up when the result is taken. A user whose build
has failed three times in this process (until the store is reopened) has the searches build
the graph themselves, as before.
"""

from __future__ import annotations

import atexit
import logging
import sqlite3
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from memvault.stores.sqlite.vectors import UserVectors

__all__ = ["INLINE_ROWS", "GraphBuilds"]

log = logging.getLogger(__name__)

#: The most rows a search puts into a graph itself (about a second's work); more are built
#: in the background.
INLINE_ROWS = 8192
#: Memories read per page of a build (a page's rows go into the graph before a stop is seen).
_STEP = 1024
#: Failed builds of one user after which the searches build its graph themselves.
_MAX_FAILURES = 3

_everyone: weakref.WeakSet[GraphBuilds] = weakref.WeakSet()


@atexit.register
def _stop_everyone() -> None:
    """Stop the builds of stores never closed: an interpreter that exits while a build's
    daemon thread runs inside the graph library aborts."""
    for builds in list(_everyone):
        builds.stop()


@dataclass
class _Job:
    cache: UserVectors
    total: int
    stop: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    failure: str | None = None


class GraphBuilds:
    """The graph builds of one store, one job per user at most.

    ``connect`` opens a connection for a job and ``release`` closes it; ``save`` stores a
    finished graph (on the job's connection). Start, take and look up jobs from one thread
    at a time (the store's vector door); :meth:`stop` may be called from any."""

    def __init__(self, connect: Callable[[], sqlite3.Connection],
                 release: Callable[[sqlite3.Connection], None],
                 save: Callable[[sqlite3.Connection, str, UserVectors], None]) -> None:
        self._connect = connect
        self._release = release
        self._save = save
        self._jobs: dict[str, _Job] = {}
        self._failures: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stopped = False
        _everyone.add(self)

    def resume(self) -> None:
        """Accept builds again after :meth:`stop` (the store was opened again)."""
        with self._lock:
            self._stopped = False
            self._failures.clear()

    def progress(self, user_id: str) -> tuple[int, int] | None:
        """(rows in the graph so far, rows to build) while ``user_id``'s graph is being
        built and not yet taken; ``None`` otherwise."""
        with self._lock:
            job = self._jobs.get(user_id)
        return None if job is None else (job.cache.live_rows, job.total)

    def start(self, user_id: str, cache: UserVectors, incoming: int) -> bool:
        """Build ``cache`` up with the ``incoming`` rows stored after its ``last_seq``; the
        cache belongs to the job until :meth:`take` returns it. ``False`` (and nothing
        started) once :meth:`stop` has been called, or when this user's builds failed
        :data:`_MAX_FAILURES` times: the caller builds it itself."""
        with self._lock:
            if self._stopped or self._failures.get(user_id, 0) >= _MAX_FAILURES:
                return False
            if user_id in self._jobs:
                return True
            job = _Job(cache, cache.live_rows + incoming)
            job.thread = threading.Thread(target=self._run, args=(user_id, job, incoming),
                                          name="memvault-vector-graph", daemon=True)
            self._jobs[user_id] = job
            job.thread.start()
            return True

    def take(self, user_id: str) -> UserVectors | None:
        """The finished cache of ``user_id`` (once), or ``None`` while it builds or when there
        is no job. A failed build gives ``None`` and is dropped (and counted: see
        :meth:`start`)."""
        with self._lock:
            job = self._jobs.get(user_id)
            if job is None or not job.finished.is_set():
                return None
            del self._jobs[user_id]
            if job.failure is not None:
                self._failures[user_id] = self._failures.get(user_id, 0) + 1
        if job.failure is not None:
            log.warning("building the vector graph in the background failed: %s", job.failure)
            return None
        return job.cache

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every job to finish; whether they did."""
        with self._lock:
            jobs = list(self._jobs.values())
        return all(job.finished.wait(timeout) for job in jobs)

    def stop(self) -> None:
        """Stop every job and wait for its thread; later :meth:`start` calls do nothing."""
        with self._lock:
            self._stopped = True
            jobs = list(self._jobs.values())
        for job in jobs:
            job.stop.set()
        for job in jobs:
            if job.thread is not None:
                job.thread.join()
        with self._lock:
            for user_id, job in list(self._jobs.items()):
                if job in jobs:
                    del self._jobs[user_id]

    def _run(self, user_id: str, job: _Job, incoming: int) -> None:
        try:
            conn = self._connect()
        except Exception as exc:
            job.failure = f"cannot open the database: {exc}"
            job.finished.set()
            return
        try:
            while not job.stop.is_set():
                conn.execute("BEGIN")
                try:
                    more = job.cache.top_up(conn, user_id, incoming, limit=_STEP)
                finally:
                    conn.execute("COMMIT")
                if not more:
                    break
            if not job.stop.is_set():
                self._save(conn, user_id, job.cache)
        except Exception as exc:  # a database fault, or the graph library's
            job.failure = str(exc) or type(exc).__name__
        finally:
            try:
                self._release(conn)
            finally:
                job.finished.set()
