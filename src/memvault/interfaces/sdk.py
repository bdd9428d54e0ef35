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
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from memvault.config import Config
from memvault.core import importing
from memvault.core.embedding import EmbeddingState
from memvault.core.exchange import ImportReport
from memvault.core.memvault import Memvault
from memvault.embedders import Embedder
from memvault.models import (
    AddOutcome,
    DeleteReport,
    DoctorReport,
    Memory,
    MemoryInput,
    MemoryPage,
    MemoryVersion,
    Profile,
    ProfileFact,
    SearchResult,
    StoreStatus,
)
from memvault.stores.base import EpisodicStore, ProfileStore, WorkingStore

__all__ = ["SyncMemvault"]

T = TypeVar("T")


class SyncMemvault:
    """The blocking twin of :class:`Memvault`; use it as a context manager. Every method
    takes the same arguments as its async namesake and returns what it returns (``export``
    as a list of lines)."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        episodic: EpisodicStore | None = None,
        profile: ProfileStore | None = None,
        working: WorkingStore | None = None,
        embedder: Embedder | Literal["config"] | None = "config",
        check_embedder: bool = True,
    ) -> None:
        self._async = Memvault(config, episodic=episodic, profile=profile, working=working,
                               embedder=embedder, check_embedder=check_embedder)
        self._stack: ExitStack | None = None
        self._portal: BlockingPortal | None = None

    @classmethod
    def open(cls, database: str | Path | None = None, **settings: Any) -> Self:
        """A SyncMemvault on one database; ``settings`` are :class:`Config` fields, as for
        :meth:`Memvault.open`."""
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

    def add(
        self,
        content: str | None = None,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        occurred_at: datetime | str | None = None,
        source: str | None = None,
        profile: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        type: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Memory:
        return self._run(lambda: self._async.add(
            content, user_id=user_id, agent_id=agent_id, session_id=session_id,
            metadata=metadata, occurred_at=occurred_at, source=source, profile=profile,
            idempotency_key=idempotency_key, type=type, data=data,
        ))

    def add_many(
        self, items: Iterable[MemoryInput | Mapping[str, Any]], *, user_id: str | None = None
    ) -> builtins.list[Memory]:
        return self._run(lambda: self._async.add_many(items, user_id=user_id))

    def add_outcomes(
        self, items: Iterable[MemoryInput | Mapping[str, Any]], *, user_id: str | None = None
    ) -> builtins.list[AddOutcome]:
        return self._run(lambda: self._async.add_outcomes(items, user_id=user_id))

    def set_profile(
        self,
        facts: Mapping[str, Any],
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        source_memory_ids: Sequence[str] = (),
    ) -> builtins.list[ProfileFact]:
        return self._run(lambda: self._async.set_profile(
            facts, user_id=user_id, agent_id=agent_id, source_memory_ids=source_memory_ids,
        ))

    def forget_profile(self, key: str, *, user_id: str | None = None
                       ) -> ProfileFact | None:
        return self._run(lambda: self._async.forget_profile(key, user_id=user_id))

    def update(
        self, memory_id: str, *, user_id: str | None = None, content: str | None = None,
        metadata: Mapping[str, Any] | None = None, occurred_at: datetime | str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Memory:
        return self._run(lambda: self._async.update(
            memory_id, user_id=user_id, content=content, metadata=metadata,
            occurred_at=occurred_at, data=data))

    def history(self, memory_id: str, *, user_id: str | None = None
                ) -> builtins.list[MemoryVersion]:
        return self._run(lambda: self._async.history(memory_id, user_id=user_id))

    def search(
        self,
        query: str,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        limit: int = 10,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        filters: Mapping[str, Any] | None = None,
        context: int = 0,
        max_chars: int | None = None,
        wait_for_model: float | None = None,
        min_score: float | None = None,
        type: str | None = None,
    ) -> SearchResult:
        return self._run(lambda: self._async.search(
            query, user_id=user_id, session_id=session_id, limit=limit, since=since,
            until=until, filters=filters, context=context, max_chars=max_chars,
            wait_for_model=wait_for_model, min_score=min_score, type=type,
        ))

    def list(
        self,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        memory_type: Literal["episodic", "working"] = "episodic",
        limit: int = 20,
        cursor: str | None = None,
        filters: Mapping[str, Any] | None = None,
        since: datetime | str | None = None, until: datetime | str | None = None,
        type: str | None = None,
    ) -> MemoryPage:
        return self._run(lambda: self._async.list(
            user_id=user_id, session_id=session_id, memory_type=memory_type, limit=limit,
            cursor=cursor, filters=filters, since=since, until=until, type=type,
        ))

    def get(self, memory_id: str, *, user_id: str | None = None) -> Memory:
        return self._run(lambda: self._async.get(memory_id, user_id=user_id))

    get_memory = get

    def get_profile(
        self, *, user_id: str | None = None, include_history: bool = False
    ) -> Profile:
        return self._run(lambda: self._async.get_profile(
            user_id=user_id, include_history=include_history))

    def delete(self, memory_id: str, *, user_id: str | None = None) -> None:
        self._run(lambda: self._async.delete(memory_id, user_id=user_id))

    def delete_all(
        self, *, user_id: str | None = None, agent_id: str | None = None,
        session_id: str | None = None,
    ) -> DeleteReport:
        return self._run(lambda: self._async.delete_all(
            user_id=user_id, agent_id=agent_id, session_id=session_id))

    def export(self, *, user_id: str | None = None, all_users: bool = False
               ) -> builtins.list[str]:
        async def collect() -> builtins.list[str]:
            return [line async for line in self._async.export(
                user_id=user_id, all_users=all_users)]

        return self._run(collect)

    def import_lines(
        self, lines: Iterable[str | bytes], *, user_id: str | None = None,
        skip_invalid: bool = False, progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        return self._run(lambda: self._async.import_lines(
            lines, user_id=user_id, skip_invalid=skip_invalid, progress=progress))

    def import_from(
        self,
        source: str | Path | bytes,
        *,
        format: str = "jsonl",
        name: str | None = None,
        user_id: str | None = None,
        all_users: bool = False,
        mapping: Mapping[str, str] | str | None = None,
        skip_invalid: bool = False,
        batch_size: int = importing.BATCH,
        progress: Callable[[int, int], None] | None = None,
    ) -> ImportReport:
        return self._run(lambda: self._async.import_from(
            source, format=format, name=name, user_id=user_id, all_users=all_users,
            mapping=mapping, skip_invalid=skip_invalid, batch_size=batch_size,
            progress=progress))

    def export_markdown(self, directory: str | Path, *,
                        user_id: str | None = None) -> builtins.list[Path]:
        return self._run(lambda: self._async.export_markdown(directory, user_id=user_id))

    def wait_for_vectors(self, timeout: float | None = None) -> bool:
        return self._run(lambda: self._async.wait_for_vectors(timeout))

    def wait_until_ready(self, timeout: float | None = None) -> EmbeddingState:
        return self._run(lambda: self._async.wait_until_ready(timeout))

    def status(self) -> builtins.list[StoreStatus]:
        return self._run(self._async.status)

    def reembed(self, progress: Callable[[int], None] | None = None) -> int:
        return self._run(lambda: self._async.reembed(progress))

    def count(self, *, user_id: str | None = None, all_users: bool = False) -> int:
        return self._run(lambda: self._async.count(user_id=user_id, all_users=all_users))

    def doctor(self, *, vectors: bool = True) -> DoctorReport:
        return self._run(lambda: self._async.doctor(vectors=vectors))
