"""One daemon thread that runs a model's every call, in order.

PyTorch keeps a pool of OpenMP threads per calling thread. Inference handed to whichever
worker thread anyio picks builds a pool on each of them, and the idle pools spin on the same
cores as the busy one: on two cores a single-text embedding took 15-25 ms instead of 10.
Calling the model from one thread keeps one pool.

The thread is a daemon and a wait on it can be cancelled: loading a model takes seconds and
cannot be interrupted, and a server whose client goes away mid-load must still exit at once.
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

__all__ = ["ModelThread"]

T = TypeVar("T")

_Job = tuple[Callable[[], Any], Callable[[Any, BaseException | None], None]]


class ModelThread:
    """Runs callables on one daemon thread, started on first use."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def _serve(self) -> None:
        while True:
            fn, reply = self._jobs.get()
            try:
                result = fn()
            except BaseException as exc:  # handed to the waiting task
                reply(None, exc)
            else:
                reply(result, None)

    def _ensure_started(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self._name,
                                                daemon=True)
                self._thread.start()

    async def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the thread and return its result (or raise its exception)."""
        self._ensure_started()
        done = anyio.Event()
        token = anyio.lowlevel.current_token()
        outcome: list[Any] = []

        def reply(result: Any, error: BaseException | None) -> None:
            outcome.append((result, error))
            with contextlib.suppress(RuntimeError):  # the event loop may be gone
                anyio.from_thread.run_sync(done.set, token=token)

        self._jobs.put((fn, reply))
        await done.wait()
        result, error = outcome[0]
        if error is not None:
            raise error
        return result  # type: ignore[no-any-return]
