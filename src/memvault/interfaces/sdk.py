"""A blocking wrapper for scripts and notebooks.

::

    from memvault import SyncMemvault

    with SyncMemvault.open("memory.db", user_id="alice") as mv:
        mv.add("Alice is allergic to peanuts", profile={"allergy": "peanuts"})
        print(mv.search("allergies").hits[0].memory.content)

It runs a :class:`~memvault.core.memvault.Memvault` on an event loop in a background thread;
each method takes the same arguments as the async one.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Iterable
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from memvault.config import Config
from memvault.core.exchange import ImportReport
from memvault.core.memvault import Memvault
from memvault.models import (
    DeleteReport,
    Memory,
    MemoryPage,
    Profile,
    ProfileFact,
    SearchResult,
    StoreStatus,
)

__all__ = ["SyncMemvault"]

T = TypeVar("T")


class SyncMemvault:
    """The blocking twin of :class:`Memvault`; use it as a context manager."""

    def __init__(self, config: Config | None = None, **kwargs: Any) -> None:
        self._async = Memvault(config, **kwargs)
        self._stack: ExitStack | None = None
        self._portal: BlockingPortal | None = None

    @classmethod
    def open(cls, database: str | Path | None = None, **settings: Any) -> Self:
        flat = dict(settings)
        if database is not None:
            flat["database"] = str(database)
        return cls(Config.from_flat(flat))

    def __enter__(self) -> Self:
        stack = ExitStack()
        try:
            self._portal = stack.enter_context(start_blocking_portal())
            stack.enter_context(self._portal.wrap_async_context_manager(self._async))
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.__exit__(exc_type, exc, tb)

    @property
    def config(self) -> Config:
        return self._async.config

    def _run(self, fn: Callable[[], Awaitable[T]]) -> T:
        if self._portal is None or self._stack is None:
            raise RuntimeError(
                "use SyncMemvault as a context manager: with SyncMemvault(...) as mv"
            )

        async def call() -> T:
            return await fn()

        return self._portal.call(call)

    def add(self, content: str, **kwargs: Any) -> Memory:
        return self._run(lambda: self._async.add(content, **kwargs))

    def add_many(self, items: Iterable[Any], **kwargs: Any) -> builtins.list[Memory]:
        return self._run(lambda: self._async.add_many(items, **kwargs))

    def search(self, query: str, **kwargs: Any) -> SearchResult:
        return self._run(lambda: self._async.search(query, **kwargs))

    def list(self, **kwargs: Any) -> MemoryPage:
        return self._run(lambda: self._async.list(**kwargs))

    def get(self, memory_id: str, **kwargs: Any) -> Memory:
        return self._run(lambda: self._async.get(memory_id, **kwargs))

    def delete(self, memory_id: str, **kwargs: Any) -> None:
        self._run(lambda: self._async.delete(memory_id, **kwargs))

    def delete_all(self, **kwargs: Any) -> DeleteReport:
        return self._run(lambda: self._async.delete_all(**kwargs))

    def get_profile(self, **kwargs: Any) -> Profile:
        return self._run(lambda: self._async.get_profile(**kwargs))

    def set_profile(self, facts: dict[str, Any], **kwargs: Any) -> builtins.list[ProfileFact]:
        return self._run(lambda: self._async.set_profile(facts, **kwargs))

    def export(self, **kwargs: Any) -> builtins.list[str]:
        async def collect() -> builtins.list[str]:
            return [line async for line in self._async.export(**kwargs)]

        return self._run(collect)

    def import_lines(self, lines: Iterable[str], **kwargs: Any) -> ImportReport:
        return self._run(lambda: self._async.import_lines(lines, **kwargs))

    def wait_until_ready(self, timeout: float | None = None) -> str:
        return self._run(lambda: self._async.wait_until_ready(timeout))

    def wait_for_vectors(self, timeout: float | None = None) -> bool:
        return self._run(lambda: self._async.wait_for_vectors(timeout))

    def status(self) -> builtins.list[StoreStatus]:
        return self._run(self._async.status)
