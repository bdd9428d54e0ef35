"""The memory core: one async class behind every interface (MCP, REST, CLI, SDK).

Usage::

    async with Memvault.open("sqlite:///memory.db", user_id="alice") as mv:
        memory = await mv.add("I prefer window seats", session_id="chat-1")
        result = await mv.search("seat preference")

Every operation is scoped by ``user_id`` (default: the configured user). Writes store content
verbatim and return once it is searchable lexically; their vectors are always queued and
computed by a background task (a search waits up to a second for a short queue). Nothing here
calls an LLM.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import anyio
from anyio.abc import TaskGroup

from memvault.config import Config
from memvault.core import exchange, upkeep
from memvault.core.audit import AuditLog
from memvault.core.correct import Corrections
from memvault.core.embedding import EmbeddingService
from memvault.core.extract import Extraction
from memvault.core.idempotency import request_hash, store_once
from memvault.core.ids import derived_id, new_id
from memvault.core.search import pipeline
from memvault.core.search.early import KnownSpeakers
from memvault.core.state import State
from memvault.core.text.entities import extract_entities
from memvault.core.threads import single_threaded_blas
from memvault.core.timeutil import parse_datetime, utc_now
from memvault.core.transfers import Transfers
from memvault.core.typed import TypeRegistry
from memvault.core.validate import (
    build_filter,
    check_content,
    check_identifier,
    check_item,
    check_limit,
    check_metadata,
    decode_cursor,
    encode_cursor,
)
from memvault.embedders import Embedder, create_embedder
from memvault.errors import InvalidInput, MemvaultError, NotFound
from memvault.models import (
    AddOutcome,
    DeleteReport,
    EmbeddingInfo,
    Memory,
    MemoryFilter,
    MemoryInput,
    MemoryPage,
    MemoryVersion,
    Profile,
    ProfileFact,
    SearchResult,
)
from memvault.stores.base import EpisodicStore, NewMemory, ProfileStore, WorkingStore
from memvault.stores.registry import KeySet, add_writer, open_episodic, open_profile, open_working

__all__ = ["Memvault"]

log = logging.getLogger("memvault")

_ID_PAGE = 1_000


class Memvault(Transfers, State):
    """The async memory core; open it with ``async with``. Export and import come from
    :class:`~memvault.core.transfers.Transfers`.

    The configured embedder ``auto`` is resolved each time the stores open, against the
    embedder on record in the episodic store (:mod:`memvault.embedders.auto`); until then
    ``embedding`` has none."""

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
        self.config = config = config or Config.load()
        keys = KeySet.from_config(config.encryption)
        self.episodic = episodic or open_episodic(
            config.episodic_url, search=config.search, keys=keys,
            encrypt_content=config.encryption.encrypt_content)
        self.profile = profile or open_profile(self.config.profile_url, keys=keys)
        self.working = working or open_working(self.config.working_url, keys=keys)
        self.audit = AuditLog(self.profile)  # who wrote and deleted what (core/audit.py)
        self._writer = add_writer(
            self.episodic, self.profile, self.working,
            max_turns=self.config.working_max_turns, ttl_seconds=self.config.working_ttl_seconds,
        )
        #: ``auto`` chooses once the episodic store says whose vectors it holds.
        self._auto = embedder == "config" and config.embedder.kind == "auto"
        if self._auto:
            chosen, reason = None, "embedder: auto (chosen when the store is opened)"
        elif embedder == "config":
            chosen, reason = create_embedder(self.config.embedder)
        else:
            chosen, reason = embedder, f"embedder: {embedder.name if embedder else 'none'} (given)"
        self.embedding = self._embedding_service(chosen, reason)
        self.extraction = Extraction(
            self.config.llm, self.episodic, self.profile,
            max_value_bytes=self.config.max_profile_value_bytes,
            max_keys=self.config.max_profile_keys, on_summary=self._summarised)
        #: This process's writes, which the background work yields to.
        self._foreground = self.extraction.foreground
        self.types = TypeRegistry(config.types)
        self._check_embedder = check_embedder
        self._corrections = Corrections(self)
        self._speakers = KnownSpeakers()  # lets a search's embedding start at once
        self._stack: AsyncExitStack | None = None
        self._group: TaskGroup | None = None

    def _embedding_service(self, embedder: Embedder | None, reason: str) -> EmbeddingService:
        search = self.config.search
        return EmbeddingService(embedder, self.episodic, reason, speakers=search.speakers,
                                passages=search.passages, windows=search.windows)

    def _choose_embedder(self, info: EmbeddingInfo | None) -> None:
        """Resolve ``auto`` for a store whose vectors come from ``info`` (``None``: none on
        record): the recorded embedder when installed (:mod:`memvault.embedders.auto`).
        Without ``check_embedder`` the vectors are about to be replaced (``reembed``)."""
        chosen, reason = create_embedder(
            self.config.embedder, info.model if info is not None else None,
            replacing=not self._check_embedder)
        self.embedding = self._embedding_service(chosen, reason)

    @classmethod
    def open(cls, database: str | Path | None = None, **settings: Any) -> Self:
        """A Memvault on one database (a path or URL; default: the user's data file).

        ``settings`` are :class:`Config` fields, e.g. ``user_id="alice"``,
        ``embedder="none"``. The environment is not read.
        """
        flat = dict(settings)
        if database is not None:
            flat["database"] = str(database)
        return cls(Config.from_flat(flat))

    async def __aenter__(self) -> Self:
        single_threaded_blas()
        stack = AsyncExitStack()
        await stack.__aenter__()
        try:
            for store in (self.episodic, self.profile, self.working):
                await store.open()
                stack.push_async_callback(store.close)
            if self._auto:
                self._choose_embedder(await self.episodic.embedding_info())
            if self._check_embedder:
                await self.embedding.check()
            if self.embedding.embedder is not None:
                stack.push_async_callback(self.embedding.embedder.aclose)
            log.info(self.embedding.reason)
            await upkeep.heal(self._writer)
        except BaseException:
            await stack.aclose()
            raise
        # The background tasks' group is kept out of the exit stack: an error raised in the
        # caller's ``async with`` body must reach the caller as itself, not wrapped in an
        # exception group.
        group = anyio.create_task_group()
        await group.__aenter__()
        group.start_soon(self.embedding.run)
        group.start_soon(upkeep.sweep, self.embedding)
        group.start_soon(upkeep.heal_now_and_then, self._writer)
        group.start_soon(self.extraction.run)
        self._stack, self._group = stack, group
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        group, self._group = self._group, None
        stack, self._stack = self._stack, None
        try:
            if group is not None:
                group.cancel_scope.cancel()
                await group.__aexit__(None, None, None)
        finally:
            if stack is not None:
                await stack.aclose()

    # -- identity ----------------------------------------------------------------------------

    def _user(self, user_id: str | None) -> str:
        return check_identifier(user_id if user_id is not None else self.config.user_id,
                                "user_id")

    @staticmethod
    def _optional(value: object, field: str) -> str | None:
        return None if value is None else check_identifier(value, field)

    # -- writes ------------------------------------------------------------------------------

    async def add(
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
        """Store ``content`` verbatim and return the stored memory.

        ``type`` names a configured memory type (:attr:`types`) and ``data`` is checked
        against its JSON Schema; ``content`` may then be left out and is rendered from the
        data (:func:`memvault.core.typed.render`).

        ``profile`` states lasting facts about the user (``{"diet": "vegetarian"}`` or
        ``{"diet": {"value": "vegetarian", "category": "preference"}}``); they are recorded
        with this memory as their source. The memory, its facts and its working-memory copy
        are stored whole or not at all. Raises :class:`InvalidInput` before storing anything
        if any argument is invalid.

        ``idempotency_key`` (the caller's, per user, kept with the memory) makes retries
        safe: an add with a key already stored and the same arguments stores nothing and
        returns the memory first stored; with other arguments it raises
        :class:`~memvault.errors.IdempotencyConflict` (an :class:`InvalidInput`).
        """
        item = MemoryInput(
            content=content, session_id=session_id, agent_id=agent_id, metadata=metadata,
            occurred_at=occurred_at, source=source, profile=profile,
            idempotency_key=idempotency_key, type=type, data=data,
        )
        [memory] = await self.add_many([item], user_id=user_id)
        return memory

    async def add_many(
        self, items: Iterable[MemoryInput | Mapping[str, Any]], *, user_id: str | None = None
    ) -> builtins.list[Memory]:
        """Store many memories at once, in order (the batch API: one transaction, one
        embedding batch). All are validated first; one invalid item stores none. Each item
        is whole or not at all, and may carry an ``idempotency_key`` (see :meth:`add`)."""
        return [outcome.memory for outcome in await self.add_outcomes(items, user_id=user_id)]

    async def add_outcomes(
        self, items: Iterable[MemoryInput | Mapping[str, Any]], *, user_id: str | None = None
    ) -> builtins.list[AddOutcome]:
        """:meth:`add_many`, saying of each item whether it was a replay (its idempotency key
        was stored by an earlier add with the same request, so nothing was stored)."""
        user = self._user(user_id)
        now = utc_now()
        built: builtins.list[NewMemory] = []
        for index, raw in enumerate(items):
            item = raw if isinstance(raw, MemoryInput) else check_item(raw, index)
            try:
                built.append(self._build(item, user, now))
            except InvalidInput as exc:
                if index == 0 and not isinstance(raw, Mapping):
                    raise
                raise InvalidInput(f"item {index}: {exc}") from None
        if not built:
            return []
        with self._foreground.write():
            await self._corrections.room(user, [f for m in built for f in m.facts])
            outcomes, inserted = await store_once(self.episodic, self._writer, user, built)
            await self.audit.added(user, inserted)
        self.embedding.enqueue([(m.id, m.content) for m in inserted], user_id=user)
        self.extraction.notify()
        return outcomes

    def _build(self, item: MemoryInput, user: str, now: datetime) -> NewMemory:
        kind, data = None, None
        if item.type is not None:
            kind, data = self.types.check(item.type, item.data)
        elif item.data is not None:
            raise InvalidInput("data needs a type: give the memory type it follows")
        given = item.content
        if given is None:
            if kind is None:
                raise InvalidInput("content is missing: give the text to remember")
            given = self.types.render(kind, data or {})
        content = check_content(given, self.config.max_content_bytes)
        given_agent = self._optional(item.agent_id, "agent_id")
        agent = given_agent or self.config.agent_id
        occurred = None if item.occurred_at is None else parse_datetime(item.occurred_at,
                                                                        "occurred_at")
        metadata = check_metadata(item.metadata)
        source = self._optional(item.source, "source")
        stated = self._corrections.check_profile(item.profile)
        retry_key = self._optional(item.idempotency_key, "idempotency_key")
        memory = NewMemory(
            id=new_id() if item.id is None else check_identifier(item.id, "id"),
            user_id=user,
            agent_id=agent,
            session_id=self._optional(item.session_id, "session_id"),
            content=content,
            occurred_at=now if occurred is None else occurred,
            created_at=now,
            metadata=metadata,
            source=source or agent,
            entities=extract_entities(content),
            type=kind,
            data=data,
        )
        facts = [
            ProfileFact(
                id=derived_id(memory.id, key), user_id=user, key=key, value=value,
                category=category, source_memory_ids=[memory.id], agent_id=agent,
                valid_from=memory.occurred_at,
            )
            for key, value, category in stated
        ]
        digest = None if retry_key is None else request_hash(
            content=content, session_id=memory.session_id, agent_id=given_agent,
            metadata=metadata, occurred_at=occurred, source=source, profile=stated,
            type=kind, data=data,
        )
        return memory.model_copy(update={"facts": facts, "idempotency_key": retry_key,
                                         "request_hash": digest,
                                         "extract": self.extraction.wants(user),
                                         "summarise_after":
                                             self.extraction.summaries.after(user)})

    def _summarised(self, summary: Memory) -> None:
        """A session summary was stored: queue its vectors."""
        self.embedding.enqueue([(summary.id, summary.content)], user_id=summary.user_id)

    async def _after_add(self, memories: Sequence[Memory]) -> None:
        """Vectors (queued for the background embedder) and working memory: both can be
        rebuilt, so a failure here is logged and does not undo the add."""
        if not memories:
            return
        for user in dict.fromkeys(m.user_id for m in memories):
            self.embedding.enqueue(
                [(m.id, m.content) for m in memories if m.user_id == user], user_id=user
            )
        for memory in memories:
            if memory.session_id is None:
                continue
            try:
                await self.working.push(
                    memory, max_turns=self.config.working_max_turns,
                    ttl_seconds=self.config.working_ttl_seconds,
                )
            except MemvaultError as exc:
                log.warning("working memory unavailable; the memory is stored: %s", exc)

    async def set_profile(
        self, facts: Mapping[str, Any], *, user_id: str | None = None,
        agent_id: str | None = None, source_memory_ids: Sequence[str] = (),
    ) -> builtins.list[ProfileFact]:
        """Set profile facts directly; a key set again supersedes its old value, a key given
        ``None`` is forgotten (:meth:`forget_profile`). Returns those set, then those
        forgotten."""
        user = self._user(user_id)
        agent = self._optional(agent_id, "agent_id") or self.config.agent_id
        with self._foreground.write():
            stored = await self._corrections.set_profile(user, agent, facts, source_memory_ids)
        if stored:
            await self.audit.record("set_profile", user, keys=[f.key for f in stored],
                                    agent_id=agent)
        return stored

    async def forget_profile(self, key: str, *, user_id: str | None = None
                             ) -> ProfileFact | None:
        """Forget profile ``key``'s current value (see :mod:`memvault.core.correct`)."""
        user = self._user(user_id)
        with self._foreground.write():
            forgotten = await self._corrections.forget_one(user, key)
        if forgotten is not None:  # forgetting nothing changed nothing: nothing to record
            await self.audit.record("forget_profile", user, keys=[key])
        return forgotten

    async def update(
        self, memory_id: str, *, user_id: str | None = None, content: str | None = None,
        metadata: Mapping[str, Any] | None = None, occurred_at: datetime | str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Memory:
        """Correct a memory, keeping its id (see :mod:`memvault.core.correct`)."""
        user = self._user(user_id)
        with self._foreground.write():
            updated = await self._corrections.update(user, memory_id, content=content,
                                                     metadata=metadata,
                                                     occurred_at=occurred_at, data=data)
        await self.audit.record("update", user, memory_ids=[updated.id])
        return updated

    async def history(self, memory_id: str, *, user_id: str | None = None
                      ) -> builtins.list[MemoryVersion]:
        """The earlier versions of the user's memory, oldest first."""
        return await self._corrections.history(self._user(user_id), memory_id)

    # -- reads -------------------------------------------------------------------------------

    async def search(
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
        """Hybrid search over the user's memories, best first.

        ``session_id`` names the caller's current session: its recent turns (working memory)
        that match come first, then episodic memories from every session. ``filters`` narrow
        the episodic search (``agent_id``, ``session_id``, ``source``, ``entity``,
        ``metadata``, ``type``, ``data``); ``type`` keeps the memories of one memory type;
        ``since``/``until`` bound ``occurred_at``. ``context`` adds up to that
        many neighbouring turns on each side of a hit. Every hit found is returned (up to
        ``limit``); long ones are shortened to query-focused excerpts to fit ``max_chars``
        (``get`` returns a memory whole). Each hit has an explanation and a score in [0, 1]
        comparable across queries; ``min_score`` drops the hits below it.

        Adds return before their vectors are computed; a search first waits (up to a
        second) for the vectors of a few memories just added, so they are found by meaning
        too. Behind a longer backlog it does not wait: its query is embedded ahead of the
        backlog, it finds what is embedded so far by meaning and the rest by their words, and
        ``pending`` says how many of the user's memories are still being embedded.
        While the embedding model loads, a search waits for it up to ``wait_for_model``
        seconds (default: ``config.search_wait_seconds``), then goes on lexically; the
        result's ``retrievers`` and ``pending`` say so.
        """
        query = pipeline.check_query(query)
        if self.embedding.state == "loading":
            wait = self.config.search_wait_seconds if wait_for_model is None else wait_for_model
            if wait > 0:
                await self.embedding.wait_settled(wait)
        user = self._user(user_id)
        request = pipeline.Request(
            query=query,
            limit=check_limit(limit),
            context=pipeline.check_context(context),
            max_chars=self.config.max_result_chars if max_chars is None else int(max_chars),
            min_score=pipeline.check_min_score(min_score),
            session_id=self._optional(session_id, "session_id"),
            where=build_filter(user, filters, since, until,
                               memory_type=self._optional(type, "type")),
        )
        sources = pipeline.Sources(
            episodic=self.episodic, working=self.working, embedding=self.embedding,
            settings=self.config.search, working_turns=self.config.working_max_turns,
            known=self._speakers,
        )
        return await pipeline.run(sources, request)

    async def list(
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
        """The user's memories, newest first by ``occurred_at``, one page at a time.

        ``memory_type="working"`` lists the recent turns of ``session_id`` (required).
        ``type`` keeps the memories of one memory type (as ``filters={"type": ...}``).
        """
        user = self._user(user_id)
        limit = check_limit(limit)
        session = self._optional(session_id, "session_id")
        if memory_type == "working":
            if session is None:
                raise InvalidInput("memory_type 'working' needs a session_id")
            return MemoryPage(items=await self.working.recent(user, session, limit=limit))
        if memory_type != "episodic":
            raise InvalidInput("memory_type must be 'episodic' or 'working'")
        where = build_filter(user, filters, since, until, session_id=session,
                             memory_type=self._optional(type, "type"))
        before = None if cursor is None else decode_cursor(cursor)
        items = await self.episodic.list(where, limit=limit + 1, before=before)
        next_cursor = None
        if len(items) > limit:
            items = items[:limit]
            next_cursor = encode_cursor(items[-1].occurred_at, items[-1].id)
        return MemoryPage(items=items, next_cursor=next_cursor)

    async def get(self, memory_id: str, *, user_id: str | None = None) -> Memory:
        """One memory of the user, whole (search may show an excerpt); :class:`NotFound`
        if the user has none with that id, another user's included."""
        user = self._user(user_id)
        found = await self.episodic.get(user, [check_identifier(memory_id, "memory_id")])
        if not found:
            raise NotFound(f"no memory with id {memory_id!r}")
        return found[0]

    #: :meth:`get` under the name of the MCP tool.
    get_memory = get

    async def get_profile(
        self, *, user_id: str | None = None, include_history: bool = False
    ) -> Profile:
        user = self._user(user_id)
        facts = await self.profile.get(user, include_history=include_history)
        return Profile(
            user_id=user,
            facts=[f for f in facts if f.valid_to is None],
            history=[f for f in facts if f.valid_to is not None],
        )

    # -- deletes -----------------------------------------------------------------------------

    async def delete(self, memory_id: str, *, user_id: str | None = None) -> None:
        """Delete one memory (and its working-memory copy) and forget what it said: profile
        facts drop it from their sources, and a fact it alone stated is retired.
        :class:`NotFound` if the user has no memory with that id (its id is forgotten from
        the profile all the same, so a delete cut short is finished by deleting again)."""
        user = self._user(user_id)
        memory_id = check_identifier(memory_id, "memory_id")
        with self._foreground.write():
            found = await self.episodic.delete(user, memory_id)
            if found:
                await self.working.delete(user, memory_id)
                await self.audit.record("delete", user, memory_ids=[memory_id])
            await self.profile.forget_sources(user, [memory_id], utc_now())
        if not found:
            raise NotFound(f"no memory with id {memory_id!r}")

    async def delete_all(
        self, *, user_id: str | None = None, agent_id: str | None = None,
        session_id: str | None = None,
    ) -> DeleteReport:
        """Delete the user's memories, narrowed to one agent and/or session when given.
        Profile facts go too when the whole user is deleted (no narrowing); when narrowed,
        the profile forgets what the deleted memories said, as :meth:`delete` does (retired
        facts stay in the history: ``profile_facts`` counts only facts removed)."""
        user = self._user(user_id)
        agent = self._optional(agent_id, "agent_id")
        session = self._optional(session_id, "session_id")
        where = MemoryFilter(user_id=user, agent_id=agent, session_id=session)
        narrowed = agent is not None or session is not None
        doomed = ([m.id for m in await exchange.list_all(self.episodic, where)] if narrowed
                  else [])
        with self._foreground.write():
            memories = await self.episodic.delete_all(where)
            working = await self.working.clear(user, session_id=session, agent_id=agent)
            facts = 0
            if not narrowed:
                facts = await self.profile.delete_all(user)
            elif doomed:
                await self.profile.forget_sources(user, doomed, utc_now())
        report = DeleteReport(memories=memories, working=working, profile_facts=facts)
        await self.audit.deleted_all(user, report, agent_id=agent, session_id=session)
        return report
