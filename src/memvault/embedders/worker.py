"""One daemon thread that runs a model's every call, in order.

PyTorch keeps a pool of OpenMP threads per calling thread. Inference handed to whichever
worker thread anyio picks builds a pool on each of them, and the idle pools spin on the same
cores as the busy one: on two cores a single-text embedding took 15-25 ms instead of 10.
Calling the model from one thread keeps one pool.

The thread is a daemon and a wait on it can be cancelled: loading a model takes seconds and
cannot be interrupted, and a server whose client goes away mid-load must still exit at once.
Inference is another matter: a process that exits while the thread runs inside torch aborts
("terminate called without an active exception"), so :meth:`ModelThread.stop` can wait for
the call in flight.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread

__all__ = ["ModelThread"]

T = TypeVar("T")

_Job = tuple[Callable[[], Any], Callable[[Any, BaseException | None], None]]


class _Worker:
    """One thread and its queue; ``None`` in the queue ends it, and once ``stopping`` is set
    the calls still queued fail instead of running."""

    def __init__(self, name: str) -> None:
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while (job := self.jobs.get()) is not None:
            fn, reply = job
            if self.stopping.is_set():
                reply(None, RuntimeError("the model thread is stopped"))
                continue
            try:
                result = fn()
            except BaseException as exc:  # handed to the waiting task
                reply(None, exc)
            else:
                reply(result, None)


class ModelThread:
    """Runs callables on one daemon thread, started on first use (again after :meth:`stop`)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._worker: _Worker | None = None
        self._start_lock = threading.Lock()

    def _ensure_started(self) -> _Worker:
        with self._start_lock:
            if self._worker is None:
                self._worker = _Worker(self._name)
            return self._worker

    async def stop(self, *, wait: bool = True) -> None:
        """End the thread after the call it is running; calls queued behind it fail. With
        ``wait``, return once the thread has ended, even when cancelled (a call can take a
        second or two)."""
        with self._start_lock:
            worker, self._worker = self._worker, None
        if worker is None:
            return
        worker.stopping.set()
        worker.jobs.put(None)
        if wait:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(worker.thread.join)

    async def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the thread and return its result (or raise its exception)."""
        worker = self._ensure_started()
        done = anyio.Event()
        token = anyio.lowlevel.current_token()
        outcome: list[Any] = []

        def reply(result: Any, error: BaseException | None) -> None:
            outcome.append((result, error))
            with contextlib.suppress(RuntimeError):  # the event loop may be gone
                anyio.from_thread.run_sync(done.set, token=token)

        worker.jobs.put((fn, reply))
        await done.wait()
        result, error = outcome[0]
        if error is not None:
            raise error
        return result  # type: ignore[no-any-return]
