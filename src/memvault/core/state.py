"""Memvault's state and diagnostics methods (vectors, re-embedding, counts, ``doctor``),
kept apart from the core class they belong to.

:class:`State` is a base of :class:`~memvault.core.memvault.Memvault`; its methods use the
Memvault's stores and embedding service (they are typed on ``self``).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from memvault.core.diagnostics import diagnose
from memvault.core.embedding import EmbeddingState
from memvault.errors import InvalidInput
from memvault.models import DoctorReport, EmbeddingInfo, StoreStatus

if TYPE_CHECKING:
    from memvault.core.memvault import Memvault

__all__ = ["State"]


class State:
    """Vectors, re-embedding, counts and diagnostics; see
    :class:`~memvault.core.memvault.Memvault`."""

    def _core(self) -> Memvault:
        return cast("Memvault", self)

    # -- state -------------------------------------------------------------------------------

    async def wait_for_vectors(self, timeout: float | None = None) -> bool:
        """Wait until every memory added through this instance has its vector (adds return
        before that: they never wait for the model). Returns ``False`` on timeout."""
        mv = self._core()
        return await mv.embedding.wait_idle(timeout)

    async def wait_until_ready(self, timeout: float | None = None) -> EmbeddingState:
        """Wait for the embedder to load (or fail); returns its state."""
        mv = self._core()
        return await mv.embedding.wait_settled(timeout)

    async def status(self) -> builtins.list[StoreStatus]:
        mv = self._core()
        return [await s.status() for s in (mv.episodic, mv.profile, mv.working)]

    async def reembed(self, progress: Callable[[int], None] | None = None) -> int:
        """Drop every vector and embed every memory again with the configured embedder;
        returns how many memories have their vectors again (the background sweep may embed
        some of them meanwhile: they count too)."""
        mv = self._core()
        embedder = mv.embedding.embedder
        if embedder is None:
            raise InvalidInput("no embedder is configured: nothing to re-embed with")
        await embedder.load()
        dimensions = int((await embedder.embed(["memvault"])).shape[1])
        await mv.episodic.reset_embeddings(
            EmbeddingInfo(model=embedder.name, dimensions=dimensions)
        )
        total = await mv.episodic.count(None)
        await mv.embedding.backfill(progress)
        return total - len(await mv.episodic.missing_embeddings(limit=max(total, 1)))

    # -- diagnostics -------------------------------------------------------------------------

    async def count(self, *, user_id: str | None = None, all_users: bool = False) -> int:
        """How many memories the user has, or every user with ``all_users`` (what
        :meth:`reembed` goes through)."""
        mv = self._core()
        return await mv.episodic.count(None if all_users else mv._user(user_id))

    async def doctor(self, *, vectors: bool = True) -> DoctorReport:
        """The stores' state, the episodic store's vectors and the embedder's state.

        On an open Memvault the stores are asked as they are. On one not opened, each store
        is opened for the check and closed again, one at a time, so a store that cannot open
        is reported (with the reason) without hiding the others, one that does not exist yet
        is reported absent and not created (see :func:`diagnose`), and ``auto`` is resolved
        against the vectors on record as opening would (not with ``vectors=False``, which
        leaves out the vector counts). Raises only for what a store fails after opening.
        """
        mv = self._core()
        report = await diagnose(mv.episodic, mv.profile, mv.working, mv.embedding,
                                opened=mv._stack is not None, vectors=vectors,
                                extraction=mv.extraction)
        if not mv._auto or mv._stack is not None or report.vectors is None:
            return report  # chosen already, or the store did not say whose vectors it has
        mv._choose_embedder(report.vectors.embedding)
        return report.model_copy(update={"embedder_reason": mv.embedding.reason,
                                         "embedder_state": mv.embedding.state})
