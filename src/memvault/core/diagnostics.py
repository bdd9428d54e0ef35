"""What ``memvault doctor`` and ``GET /health`` report: each store's state, the episodic
store's vectors and the embedder's state (see :meth:`memvault.core.memvault.Memvault.doctor`)."""

from __future__ import annotations

from typing import Literal

from memvault.core.embedding import EmbeddingService
from memvault.core.extract import Extraction
from memvault.errors import MemvaultError
from memvault.models import DoctorReport, ExtractionReport, StoreReport, VectorReport
from memvault.stores.base import CreatedOnOpen, EpisodicStore, ProfileStore, WorkingStore

__all__ = ["diagnose"]


async def diagnose(
    episodic: EpisodicStore, profile: ProfileStore, working: WorkingStore,
    embedding: EmbeddingService, *, opened: bool, vectors: bool,
    extraction: Extraction | None = None,
) -> DoctorReport:
    """The report; stores not ``opened`` are opened for the check and closed again, one at a
    time, so one that cannot open is reported without hiding the others. One that does not
    exist yet (:class:`~memvault.stores.base.CreatedOnOpen`) is reported ``absent`` and not
    opened, so that the check creates nothing: an absent episodic store has no vectors (0 of
    0 memories) and its extraction queue is not read."""
    from memvault.embedders.auto import installed  # looks packages up, imports none

    stores: list[StoreReport] = []
    counted: VectorReport | None = None
    roles: tuple[tuple[Literal["episodic", "profile", "working"],
                       EpisodicStore | ProfileStore | WorkingStore], ...] = (
        ("episodic", episodic), ("profile", profile), ("working", working))
    for role, store in roles:
        if not opened:
            absent = await store.missing() if isinstance(store, CreatedOnOpen) else None
            if absent is not None:
                stores.append(StoreReport(role=role, status=absent, absent=True))
                if store is episodic and vectors:
                    counted = VectorReport(memories=0, vectors=0)
                continue
            try:
                await store.open()
            except MemvaultError as exc:
                stores.append(StoreReport(role=role, error=str(exc)))
                continue
        try:
            status = await store.status()
            stores.append(StoreReport(role=role, status=status))
            if store is episodic and vectors and status.ok:
                counted = VectorReport(
                    embedding=await episodic.embedding_info(),
                    vectors=await episodic.count_embeddings(),
                    memories=await episodic.count(),
                )
        finally:
            if not opened:
                await store.close()
    available, detail = installed("local")
    e5, e5_detail = installed("e5")
    extracted = None if extraction is None else await _extraction(
        extraction, episodic, stores, opened)
    return DoctorReport(
        extraction=extracted,
        stores=stores, vectors=counted, embedder_state=embedding.state,
        embedder_reason=embedding.reason, local_extra=available,
        local_extra_detail=detail, e5=e5, e5_detail=e5_detail,
    )


async def _extraction(extraction: Extraction, episodic: EpisodicStore,
                      stores: list[StoreReport], opened: bool) -> ExtractionReport:
    """The extraction queue's state, read from the episodic store when it answers (opened
    for the read when the engine is not)."""
    if not extraction.active or not (stores and stores[0].ok) or stores[0].absent:
        return await extraction.report(read_queue=False)
    if opened:
        return await extraction.report()
    await episodic.open()
    try:
        return await extraction.report()
    finally:
        await episodic.close()
