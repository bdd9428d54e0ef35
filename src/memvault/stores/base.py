"""The store roles, one Protocol each. The embedded SQLite stores are the reference
implementation; every implementation passes the contract suite in ``tests/contract``.

Contracts common to all roles:

* ``open()`` creates or migrates the schema and must be called before anything else;
  ``close()`` releases connections and may be called twice.
* Every read, list and delete names a ``user_id``; nothing crosses users.
* Failures to reach the backing service raise :class:`~memvault.errors.StoreUnavailable`.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from memvault.models import (
    Candidate,
    EmbeddingInfo,
    Memory,
    MemoryFilter,
    ProfileFact,
    StoreStatus,
)

__all__ = ["EpisodicStore", "ProfileStore", "Vector", "WorkingStore"]

Vector = npt.NDArray[np.float32]


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
        (their stored version is left alone); returns the ids actually inserted."""
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
        """Full-text candidates for any of ``terms`` (already normalised words), best first."""
        ...

    async def vector_search(
        self, where: MemoryFilter, vector: Vector, *, limit: int
    ) -> builtins.list[Candidate]:
        """Nearest memories by cosine similarity to a unit ``vector``, best first. A memory
        scores by the best of its vectors (see :meth:`set_embeddings`); memories without a
        vector are not returned."""
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

    async def set_embeddings(self, items: Sequence[tuple[str, Vector]]) -> None:
        """Store unit vectors for existing memories; ids that no longer exist are ignored.

        A vector is one row (the whole memory) or a matrix whose first row is the whole
        memory and whose other rows are its passages (sentences embedded in context). A store
        keeps every row, or at least the first.
        """
        ...

    async def count_embeddings(self) -> int: ...


@runtime_checkable
class ProfileStore(Protocol):
    """Structured facts about users, with provenance and history."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def status(self) -> StoreStatus: ...

    async def set_facts(self, facts: Sequence[ProfileFact]) -> builtins.list[ProfileFact]:
        """Make each fact the current value of its ``(user_id, key)``, atomically.

        A different current value is superseded (its ``valid_to`` set to the new fact's
        ``valid_from``) and kept in the history; the same value keeps its row and gains the
        new ``source_memory_ids``. Returns the current facts for the keys written.
        """
        ...

    async def get(
        self, user_id: str, *, include_history: bool = False
    ) -> builtins.list[ProfileFact]:
        """Current facts ordered by key; with history, superseded ones follow, newest first."""
        ...

    async def import_facts(self, facts: Sequence[ProfileFact]) -> int:
        """Insert facts verbatim (ids, times, history); existing ids are skipped."""
        ...

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
