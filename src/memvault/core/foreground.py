"""Foreground writes, so that background work can yield to them.

The engine's own background work (profile extraction and session summaries,
:mod:`memvault.core.extract`) shares the process with the writes an agent waits for: the
GIL, the SQLite file's write gate and its connections. A background step done while an add
runs makes that add slower, so the background waits for a pause instead.

Contract: every foreground write (add, batch, import, update, delete, a profile change) is
wrapped in :meth:`Foreground.write`. :meth:`Foreground.quiet` returns once no foreground write
is running and none has ended for ``quiet_seconds``, or once ``max_wait_seconds`` have passed
since ``since``, whichever comes first: a steady stream of writes delays background work by
at most that bound (one step per bound, at worst), never forever. The wait sleeps until the
moment the pause would be long enough and looks again, so it wakes at most once per
``quiet_seconds`` of writes, and a write costs two clock readings. Only this process's writes
are seen: other processes on the same file have their own GIL and write gate.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import anyio

__all__ = ["Foreground"]


class Foreground:
    """The writes an agent waits for, as the background sees them (one per engine)."""

    def __init__(self, *, quiet_seconds: float, max_wait_seconds: float) -> None:
        self.quiet_seconds = quiet_seconds
        self.max_wait_seconds = max_wait_seconds
        self._running = 0
        self._last = -math.inf

    @contextmanager
    def write(self) -> Iterator[None]:
        """Mark a foreground write for as long as the block runs (in the event loop)."""
        self._running += 1
        self._last = anyio.current_time()
        try:
            yield
        finally:
            self._running -= 1
            self._last = anyio.current_time()

    @property
    def busy(self) -> bool:
        """Whether a foreground write runs or ended less than ``quiet_seconds`` ago."""
        return self._running > 0 or anyio.current_time() < self._last + self.quiet_seconds

    async def quiet(self, since: float | None = None) -> None:
        """Return once the foreground is quiet (see the module), or ``max_wait_seconds``
        after ``since`` (an :func:`anyio.current_time` reading; default now). Background
        work calls it before each step that would compete with a write: claiming a job,
        writing its results."""
        now = anyio.current_time()
        limit = (now if since is None else since) + self.max_wait_seconds
        while now < limit:
            due = self._last + self.quiet_seconds
            if self._running:
                due = max(due, now + self.quiet_seconds)
            if now >= due:
                return
            await anyio.sleep_until(min(due, limit))
            now = anyio.current_time()
