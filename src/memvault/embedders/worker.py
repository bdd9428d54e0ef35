"""One daemon thread that runs a model's every call, queries first.

PyTorch keeps a pool of OpenMP threads per calling thread. Inference handed to whichever
worker thread anyio picks builds a pool on each of them, and the idle pools spin on the same
cores as the busy one: on two cores a single-text embedding took 15-25 ms instead of 10.
Calling the model from one thread keeps one pool.

Calls come in two lanes. An ``urgent`` call (a search's query) runs before any queued
backlog call (memories waiting for their vectors), and a long backlog call lets urgent ones
in between its steps by calling :meth:`ModelThread.checkpoint`: so a query waits for at
most one forward pass, never for a backlog of them.

The thread is a daemon and a wait on it can be cancelled: loading a model takes seconds and
cannot be interrupted, and a server whose client goes away mid-load must still exit at once.
Inference is another matter: a process that exits while the thread runs inside torch aborts
("terminate called without an active exception"), so :meth:`ModelThread.stop` can wait for
the call in flight. Once stopped, calls fail (:class:`~memvault.errors.ModelUnavailable`)
until :meth:`ModelThread.reopen`: a search still in flight when its embedder closes must not
start a thread that nothing will wait for.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread

from memvault.errors import ModelUnavailable

__all__ = ["ModelThread", "ThreadStopped"]

T = TypeVar("T")

_Job = tuple[Callable[[], Any], Callable[[Any, BaseException | None], None]]


class _Worker:
    """One thread and its two queues, urgent first; ``closed`` ends it once the call in
    flight returns, and once ``stopping`` is set the calls still queued fail instead of
    running."""

    def __init__(self, name: str) -> None:
        self.urgent: deque[_Job] = deque()
        self.backlog: deque[_Job] = deque()
        self.closed = False
        self.ready = threading.Condition()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self.thread.start()

    def put(self, job: _Job, *, urgent: bool) -> None:
        with self.ready:
            (self.urgent if urgent else self.backlog).append(job)
            self.ready.notify()

    def close(self) -> None:
        with self.ready:
            self.closed = True
            self.ready.notify()

    def _next(self, *, urgent_only: bool) -> _Job | None:
        """The next call to run, urgent first; ``None`` when none is left to run now."""
        with self.ready:
            while True:
                if self.urgent:
                    return self.urgent.popleft()
                if urgent_only:
                    return None
                if self.backlog:
                    return self.backlog.popleft()
                if self.closed:
                    return None
                self.ready.wait()

    def _run(self, job: _Job) -> None:
        fn, reply = job
        if self.stopping.is_set():
            reply(None, _stopped(self.thread.name))
            return
        try:
            result = fn()
        except BaseException as exc:  # handed to the waiting task
            reply(None, exc)
        else:
            reply(result, None)

    def _serve(self) -> None:
        while (job := self._next(urgent_only=False)) is not None:
            self._run(job)

    def run_urgent(self) -> None:
        while not self.stopping.is_set() and (job := self._next(urgent_only=True)):
            self._run(job)


class ThreadStopped(ModelUnavailable):
    """A call reached a :class:`ModelThread` after :meth:`~ModelThread.stop` (the embedder
    was closed); loading the embedder again reopens it."""


def _stopped(name: str) -> ThreadStopped:
    return ThreadStopped("the model", f"its thread ({name}) is stopped: the embedder was "
                         "closed")


class ModelThread:
    """Runs callables on one daemon thread, started on first use; after :meth:`stop`, calls
    fail until :meth:`reopen`."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._worker: _Worker | None = None
        self._start_lock = threading.Lock()
        self._stopped = False

    def reopen(self) -> None:
        """Accept calls again after :meth:`stop` (a new thread starts with the next one)."""
        with self._start_lock:
            self._stopped = False

    def _ensure_started(self) -> _Worker:
        with self._start_lock:
            if self._stopped:
                raise _stopped(self._name)
            if self._worker is None:
                self._worker = _Worker(self._name)
            return self._worker

    async def stop(self, *, wait: bool = True) -> None:
        """End the thread after the call it is running; calls queued behind it fail. With
        ``wait``, return once the thread has ended, even when cancelled (a call can take a
        second or two)."""
        with self._start_lock:
            worker, self._worker = self._worker, None
            self._stopped = True
        if worker is None:
            return
        worker.stopping.set()
        worker.close()
        if wait:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(worker.thread.join)

    def checkpoint(self) -> None:
        """Run the urgent calls queued now, in order; called by a long call on the model
        thread between its steps (elsewhere it does nothing). The long call must allow
        the urgent ones to use the model meanwhile (e.g. take only a re-entrant lock)."""
        worker = self._worker
        if worker is not None and threading.current_thread() is worker.thread:
            worker.run_urgent()

    async def run(self, fn: Callable[[], T], *, urgent: bool = False) -> T:
        """Run ``fn`` on the thread and return its result (or raise its exception); an
        ``urgent`` call goes before every backlog call not yet started, and runs at the next
        :meth:`checkpoint` of the one in flight."""
        worker = self._ensure_started()
        done = anyio.Event()
        token = anyio.lowlevel.current_token()
        outcome: list[Any] = []

        def reply(result: Any, error: BaseException | None) -> None:
            outcome.append((result, error))
            with contextlib.suppress(RuntimeError):  # the event loop may be gone
                anyio.from_thread.run_sync(done.set, token=token)

        worker.put((fn, reply), urgent=urgent)
        await done.wait()
        result, error = outcome[0]
        if error is not None:
            raise error
        return result  # type: ignore[no-any-return]
