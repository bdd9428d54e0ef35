"""The store roles, one Protocol each. The embedded SQLite stores are the reference
implementation; every implementation passes the contract suite in ``tests/contract``.

Contracts common to all roles:

* ``open()`` creates or migrates the schema and must be called before anything else;
  ``close()`` releases connections and may be called twice.
* Every read, list and delete names a ``user_id``; nothing crosses users.
* Failures to reach the backing service raise :class:`~memvault.errors.StoreUnavailable`.

An add writes to all three roles; :class:`AddWriter` is how it does so whole or not at all
(:func:`memvault.stores.registry.add_writer` picks one for a set of stores). Where the roles
cannot share a transaction, the episodic store keeps a pending record of each add
(:class:`NewMemory`, :class:`Pending`) until the other roles have their part of it.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from pydantic import Field

from memvault.models import (
    ApiKey,
    AuditEntry,
    Candidate,
    EmbeddingInfo,
    Memory,
    MemoryFilter,
    MemoryVersion,
    ProfileFact,
    QueueStats,
    StoreStatus,
)

__all__ = [
    "AddWriter",
    "AuditStore",
    "CreatedOnOpen",
    "EpisodicStore",
    "ExtractionQueue",
    "Job",
    "KeyStore",
    "NewMemory",
    "Pending",
    "ProfileStore",
    "Revision",
    "SummaryJob",
    "SummaryQueue",
    "Vector",
    "WorkingStore",
]

Vector = npt.NDArray[np.float32]


class NewMemory(Memory):
    """A memory as an add hands it to :meth:`EpisodicStore.add`, with what the add carries
    besides the memory itself.

    ``idempotency_key`` and ``request_hash`` are stored with the memory: at most one memory per
    ``(user_id, idempotency_key)``. With ``pending``, the store also keeps a :class:`Pending`
    record of ``facts`` (the profile facts the add states) in the same transaction, until
    :meth:`EpisodicStore.clear_pending`: the outbox from which an interrupted add is finished
    or undone. With ``extract``, a store that is also an :class:`ExtractionQueue` queues a
    profile-extraction job for the memory in the same transaction. With
    ``summarise_after`` (seconds), a store that is also a :class:`SummaryQueue` (re)arms the
    summary job of the memory's session, due once the session has had no new turn for that
    long. None of these fields is part of the stored memory that reads return.
    """

    facts: list[ProfileFact] = Field(default_factory=list)
    pending: bool = False
    extract: bool = False
    summarise_after: float | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None

    def as_memory(self) -> Memory:
        """The memory alone, as reads return it."""
        return Memory(**{name: getattr(self, name) for name in Memory.model_fields})


@dataclass(frozen=True)
class Pending:
    """The pending record of an add (see :class:`NewMemory`): the memory's id and user, the
    profile facts its add states and when it was made (the memory's ``created_at``)."""

    memory_id: str
    user_id: str
    facts: tuple[ProfileFact, ...]
    created_at: datetime


@dataclass(frozen=True)
class Revision:
    """An update of one memory (:meth:`EpisodicStore.update`): the fields to replace, ``None``
    for those kept. ``entities`` are given with ``content`` (they are derived from it);
    ``at`` is when the update is made (the replaced version's ``replaced_at``). ``data`` is
    a typed memory's new data (its type never changes)."""

    user_id: str
    memory_id: str
    at: datetime
    content: str | None = None
    entities: tuple[str, ...] | None = None
    metadata: dict[str, Any] | None = None
    occurred_at: datetime | None = None
    data: dict[str, Any] | None = None


@runtime_checkable
class EpisodicStore(Protocol):
    """Every memory, verbatim and permanent, linked as a graph.

    Graph contract: ``add`` links each memory to the previously added memory of the same
    ``(user_id, session_id)`` (next-in-session), and to each of its ``entities`` (mentions).
    ``neighbors`` walks the next-in-session links.
    """

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def status(self) -> StoreStatus: ...

    async def add(self, memories: Sequence[Memory]) -> builtins.list[str]:
        """Store memories in the given order, atomically. Ids that already exist are skipped
        (their stored version is left alone); returns the ids actually inserted.

        A :class:`NewMemory` is stored with its idempotency key and request hash, and with its
        pending record when it asks for one. A memory whose ``(user_id, idempotency_key)`` is
        already stored, or comes earlier in the same call, is skipped like an existing id."""
        ...

    async def keyed(
        self, user_id: str, keys: Sequence[str]
    ) -> dict[str, tuple[Memory, str | None]]:
        """``key -> (memory, request hash)`` for the user's memories stored under these
        idempotency keys; keys not found are left out."""
        ...

    async def pending(
        self, *, limit: int, before: datetime | None = None
    ) -> builtins.list[Pending]:
        """Pending records (of every user), oldest first, made before ``before`` when given.
        A record outlives its memory: a deleted memory's record stays until cleared."""
        ...

    async def clear_pending(self, user_id: str, memory_ids: Sequence[str]) -> None:
        """Drop the pending records of these memories of the user; unknown ids are ignored."""
        ...

    async def get(self, user_id: str, memory_ids: Sequence[str]) -> builtins.list[Memory]:
        """The memories of ``user_id`` with these ids, in the order asked; unknown ids and
        other users' ids are left out."""
        ...

    async def list(
        self, where: MemoryFilter, *, limit: int, before: tuple[datetime, str] | None = None
    ) -> builtins.list[Memory]:
        """Newest first by ``(occurred_at, id)``, strictly before ``before`` when given."""
        ...

    async def lexical_search(
        self, where: MemoryFilter, terms: Sequence[str], *, limit: int
    ) -> builtins.list[Candidate]:
        """Full-text candidates for any of ``terms`` (already normalised words), best first.

        Scores depend on the memories of ``where.user_id`` only: other users' memories never
        change them. A store that scores passages ranks a memory by its best passage and
        sets the candidate's ``span`` to it."""
        ...

    async def vector_search(
        self, where: MemoryFilter, vector: Vector, *, limit: int
    ) -> builtins.list[Candidate]:
        """Nearest memories by cosine similarity to a unit ``vector``, best first. A memory
        scores by the best of its vectors (see :meth:`set_embeddings`); memories without a
        vector are not returned. Raises :class:`~memvault.errors.IndexBuilding` while the
        user's vector index is being built in the background (the caller searches without
        vectors meanwhile)."""
        ...

    async def neighbors(
        self, user_id: str, memory_id: str, *, before: int, after: int
    ) -> builtins.list[Memory]:
        """Up to ``before`` earlier and ``after`` later turns of the memory's session, in
        time order, the memory itself excluded."""
        ...

    async def adjacent(
        self, user_id: str, memory_ids: Sequence[str]
    ) -> dict[str, tuple[str | None, str | None]]:
        """``id -> (previous id, next id)`` in the same session, for each of ``memory_ids``
        the user has; ids not found are left out. ``None`` where there is no such turn."""
        ...

    async def update(self, revision: Revision) -> Memory | None:
        """Replace the given fields of the user's memory ``revision.memory_id``, atomically,
        keeping its id, session links and ``created_at``. The stored version goes into the
        memory's history first (:meth:`versions`). New content is indexed for full-text
        search at once, its mentions are those of ``revision.entities``, and its vectors
        are dropped (the memory is found by :meth:`missing_embeddings` again). Returns the
        memory as now stored, or ``None`` (nothing changed) if the user has no such memory.
        Concurrent updates of one memory are serialised: none is lost from the history."""
        ...

    async def versions(self, user_id: str, memory_id: str) -> builtins.list[MemoryVersion]:
        """The earlier versions of the user's memory, oldest first (empty for a memory never
        updated, or none of the user's). Deleting the memory deletes them."""
        ...

    async def delete(self, user_id: str, memory_id: str) -> bool: ...

    async def delete_all(self, where: MemoryFilter) -> int:
        """Delete every memory matching ``where``; returns how many."""
        ...

    async def count(self, user_id: str | None = None) -> int: ...

    async def user_ids(self) -> builtins.list[str]: ...

    async def embedding_info(self) -> EmbeddingInfo | None:
        """Which embedder produced the stored vectors, or ``None`` if none was recorded."""
        ...

    async def reset_embeddings(self, info: EmbeddingInfo | None) -> None:
        """Drop every vector and record ``info`` as the embedder of future vectors."""
        ...

    async def missing_embeddings(self, *, limit: int) -> builtins.list[tuple[str, str]]:
        """``(id, content)`` of memories that have no vector yet, oldest first."""
        ...

    async def set_embeddings(
        self,
        items: Sequence[tuple[str, Vector]],
        *,
        spans: Sequence[Sequence[tuple[int, int]]] | None = None,
    ) -> None:
        """Store unit vectors for existing memories; ids that no longer exist are ignored.

        A vector is one row (the whole memory) or a matrix whose first row is the whole
        memory and whose other rows are its passages (windows of a long memory, sentences
        embedded in context). A store keeps every row, or at least the first. ``spans``, when
        given, holds for each item the ``(start, end)`` character span of its content that
        each row stands for; a store that keeps them reports the best row's span as a vector
        hit's :attr:`~memvault.models.Candidate.span`.
        """
        ...

    async def count_embeddings(self) -> int: ...


@dataclass(frozen=True)
class Job:
    """A claimed profile-extraction job: its memory and how many times it was claimed."""

    memory_id: str
    user_id: str
    attempts: int


@runtime_checkable
class ExtractionQueue(Protocol):
    """The durable queue of profile-extraction jobs, one per memory, kept by an episodic
    store beside its memories (an add queues its jobs in its own transaction: see
    :class:`NewMemory`). Shared by every process of the store: a job is claimed by one
    worker at a time under a lease; a job whose lease ran out (its worker died) is claimed
    again. A job outlives its memory (a worker finds the memory gone and finishes it)."""

    async def claim_jobs(self, worker: str, *, limit: int, lease_seconds: float,
                         now: datetime) -> builtins.list[Job]:
        """Atomically lease up to ``limit`` queued jobs that are due and not leased (or whose
        lease ended) to ``worker``, oldest first; each claim counts as an attempt."""
        ...

    async def finish_job(self, worker: str, memory_id: str, *, tokens: int,
                         now: datetime) -> bool:
        """Mark the job done; ``False`` (nothing changed) when ``worker`` no longer holds it."""
        ...

    async def retry_job(self, worker: str, memory_id: str, *, error: str, tokens: int,
                        not_before: datetime, max_attempts: int, now: datetime) -> bool:
        """Give the job back with ``error``, due again at ``not_before``, or failed for good
        once it was attempted ``max_attempts`` times; ``False`` when ``worker`` does not hold
        it."""
        ...

    async def release_jobs(self, worker: str) -> int:
        """Give back every job ``worker`` holds, the attempt not counted (a clean stop)."""
        ...

    async def job_stats(self, *, now: datetime, failures: int = 5) -> QueueStats:
        """Counts of the queue (see :class:`~memvault.models.QueueStats`), with the latest
        ``failures``."""
        ...


@dataclass(frozen=True)
class SummaryJob:
    """A claimed session-summary job: the session, the version of its turns when claimed
    (every new turn adds one) and how many times it was claimed."""

    user_id: str
    session_id: str
    version: int
    attempts: int


@runtime_checkable
class SummaryQueue(Protocol):
    """The durable queue of session summaries, one job per session, kept by an episodic
    store beside its memories. A new turn (re)arms its session's job in the add's own
    transaction (:class:`NewMemory` ``summarise_after``), due once the session is idle; a
    job is leased to one worker at a time, as extraction jobs are. The summary is a memory
    marked :class:`~memvault.models.Derived`, linked to its turns; writing a session's
    summary replaces the one before it. Deleting a turn deletes the summaries derived from
    it and arms the session's job again."""

    async def claim_summary(self, worker: str, *, lease_seconds: float,
                            now: datetime) -> SummaryJob | None:
        """Lease the oldest due session job to ``worker``, counted as an attempt."""
        ...

    async def session_turns(self, user_id: str, session_id: str) -> builtins.list[Memory]:
        """The session's memories that are not derived, oldest first."""
        ...

    async def write_summary(self, worker: str, job: SummaryJob, summary: Memory | None, *,
                            tokens: int, now: datetime) -> bool:
        """In one transaction, while ``worker`` holds the job: replace the session's summary
        with ``summary`` (``None``: remove it) and finish the job, unless new turns came
        meanwhile (it stays due for them). ``False`` (nothing written) when the worker no
        longer holds it."""
        ...

    async def retry_summary(self, worker: str, job: SummaryJob, *, error: str,
                            not_before: datetime, max_attempts: int, now: datetime) -> bool:
        """As :meth:`ExtractionQueue.retry_job`, for a session job; its turns are untouched."""
        ...

    async def release_summaries(self, worker: str) -> int:
        """Give back every session job ``worker`` holds, the attempt not counted."""
        ...

    async def summary_stats(self, *, now: datetime, failures: int = 5) -> QueueStats:
        """The session jobs' counts; ``queued`` includes sessions not idle yet."""
        ...


@runtime_checkable
class ProfileStore(Protocol):
    """Structured facts about users, with provenance and history."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def status(self) -> StoreStatus: ...

    async def set_facts(self, facts: Sequence[ProfileFact]) -> builtins.list[ProfileFact]:
        """Record each fact as a statement of its ``(user_id, key)`` made at its
        ``valid_from``, atomically, by the rules of :mod:`memvault.stores.timeline`.

        A statement newer than the current value supersedes it (the old value's ``valid_to``
        becomes the new ``valid_from``); an older one goes into the history between its
        neighbours and never supersedes a newer one; the value in effect, stated again, only
        gains the new ``source_memory_ids``. Concurrent writers of one key are serialised.
        Returns, for each fact in order, the fact (as :meth:`get` reads it) that now holds
        its statement: the current one unless a newer statement of the key exists.
        """
        ...

    async def get(
        self, user_id: str, *, include_history: bool = False
    ) -> builtins.list[ProfileFact]:
        """Current facts ordered by key; with history, superseded and retired ones follow,
        the most recently ended first."""
        ...

    async def forget_sources(
        self, user_id: str, memory_ids: Sequence[str], at: datetime
    ) -> int:
        """Forget what the memories ``memory_ids`` of ``user_id`` said, atomically: a fact
        citing them drops their ids from ``source_memory_ids``, and one left without sources
        is retired (``retired_reason="source_deleted"``, ``valid_to=at``) without restoring
        the value before it. Returns how many facts were retired."""
        ...

    async def forget_key(self, user_id: str, key: str, at: datetime) -> ProfileFact | None:
        """Forget the current value of the user's ``key``, atomically and serialised with the
        key's other writers, by :func:`memvault.stores.timeline.forget_key`: the current fact
        moves to the history, retired at ``at`` (``retired_reason="forgotten"``), and the
        value before it does not come back. Returns that fact as :meth:`get` now reads it,
        or ``None`` (nothing changed) when the key has no current value."""
        ...

    async def import_facts(self, facts: Sequence[ProfileFact]) -> int:
        """Insert facts verbatim (ids, times, history); existing ids are skipped."""
        ...

    async def cited(self, user_id: str, memory_ids: Sequence[str]) -> builtins.set[str]:
        """Which of ``memory_ids`` some fact of the user (current or past) lists as a source."""
        ...

    async def undo_facts(self, facts: Sequence[ProfileFact]) -> None:
        """Take back what :meth:`set_facts` did with ``facts``, for an add that is not stored.

        Each fact's ``source_memory_ids`` leave every fact of its ``(user_id, key)``. The row
        inserted for the fact itself (same ``id``) is deleted when it cites nothing else, and if
        it was current, the value it superseded (the latest one of its key that ended when or
        after it began) is current again. Facts never written are ignored, so undoing twice
        is safe. Atomic."""

    async def current_keys(self, user_id: str) -> builtins.list[str]:
        """The keys of the user's current facts, sorted (the core bounds their number)."""
        ...

    async def delete_all(self, user_id: str) -> int: ...

    async def count(self, user_id: str | None = None) -> int: ...

    async def user_ids(self) -> builtins.list[str]: ...


@runtime_checkable
class WorkingStore(Protocol):
    """The recent turns of each session: at most ``max_turns`` per session, forgotten
    ``ttl_seconds`` after the session's last turn."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def status(self) -> StoreStatus: ...

    async def push(self, memory: Memory, *, max_turns: int, ttl_seconds: float) -> None:
        """Append a turn to ``(memory.user_id, memory.session_id)``; the oldest turns beyond
        ``max_turns`` are dropped. Concurrent pushes to one session lose nothing."""
        ...

    async def recent(self, user_id: str, session_id: str, *, limit: int) -> builtins.list[Memory]:
        """The session's live turns, newest first."""
        ...

    async def delete(self, user_id: str, memory_id: str) -> None: ...

    async def clear(
        self, user_id: str, *, session_id: str | None = None, agent_id: str | None = None
    ) -> int:
        """Forget the user's turns, narrowed to one session and/or one agent when given;
        returns how many turns were forgotten."""
        ...


@runtime_checkable
class CreatedOnOpen(Protocol):
    """A store that ``open()`` creates where there is none yet (the embedded SQLite file), so
    that opening it only to look would create it; :meth:`missing` looks without opening."""

    async def missing(self) -> StoreStatus | None:
        """The store's status while it does not exist yet (``ok``, its detail saying it is
        created on first use), found without creating anything (no file, no directory);
        ``None`` when it exists: open it to ask its state."""
        ...


class AddWriter(Protocol):
    """Writes adds to the three stores whole or not at all, and repairs interrupted ones.

    Where the stores share one database, an add is one transaction. Elsewhere the memory is
    written first with its pending record, then its profile facts, then its working-memory
    copy, then the record is cleared; an add that fails or is cancelled on the way is taken
    back (its memory deleted, its facts undone), and what a crash leaves is finished (memory
    present) or undone (memory absent) by :meth:`heal`.
    """

    async def write(self, memories: Sequence[NewMemory]) -> builtins.list[str]:
        """Store the memories, the facts each states and, for those with a session, their
        working-memory copy; returns the ids inserted (see :meth:`EpisodicStore.add`: facts and
        working copies are written only for those). Raises, with nothing of the call left
        visible, if a memory or its facts cannot be stored; a failing working store is logged
        and does not fail the add."""
        ...

    async def heal(self, *, before: datetime | None = None) -> int:
        """Finish or undo the adds whose pending record was made before ``before`` (all when
        ``None``); returns how many. Safe to run while other processes add."""
        ...


@runtime_checkable
class KeyStore(Protocol):
    """Per-user API keys, kept by the profile stores (SQLite and PostgreSQL). The store keeps
    each key's record and an opaque hash of its secret; it never sees the secret, and it
    does not judge validity (expiry, revocation): :mod:`memvault.core.keys` does, from what
    :meth:`find_key` returns, on every request (no cache), so a revocation holds at once in
    every process sharing the store."""

    async def add_key(self, key: ApiKey, secret_hash: str) -> None:
        """Store a new key; :class:`~memvault.errors.InvalidInput` if its id exists."""
        ...

    async def find_key(self, key_id: str) -> tuple[ApiKey, str] | None:
        """The key and its secret's hash, revoked and expired ones included."""
        ...

    async def list_keys(self, user_id: str | None = None) -> builtins.list[ApiKey]:
        """The keys of ``user_id`` (every user's when ``None``), oldest first."""
        ...

    async def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None:
        """Mark the key revoked at ``at`` (a key already revoked keeps its first time);
        the key as stored after, or ``None`` if there is none with that id."""
        ...

    async def touch_key(self, key_id: str, at: datetime) -> None:
        """Record that the key was used at ``at`` (``last_used_at`` only moves forward)."""
        ...


@runtime_checkable
class AuditStore(Protocol):
    """The audit trail of writes and deletes, kept by the profile stores. Entries are never
    changed or deleted (deleting a user's memories leaves the trail: it holds ids and keys,
    no content). Ids are time-ordered (:func:`memvault.core.ids.new_id`)."""

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        """Store entries; one whose id exists is skipped (a re-import stores nothing)."""
        ...

    async def audit_trail(
        self, user_id: str, *, limit: int, newest_first: bool = True,
        beyond: str | None = None,
    ) -> builtins.list[AuditEntry]:
        """Up to ``limit`` of the user's entries by id, newest (or oldest) first, from past
        the entry ``beyond`` in that order (a cursor: the last id of the previous page)."""
        ...
