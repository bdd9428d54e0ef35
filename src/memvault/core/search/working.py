"""Working memory: the caller's current session, searched before episodic memory."""

from __future__ import annotations

from collections.abc import Sequence

from memvault.core.text.terms import terms
from memvault.models import MemoryFilter, SearchHit
from memvault.stores.base import WorkingStore

__all__ = ["working_hits"]


async def working_hits(
    store: WorkingStore,
    where: MemoryFilter,
    session_id: str,
    query_terms: Sequence[str],
    *,
    max_turns: int,
) -> list[SearchHit]:
    """The live turns of ``session_id`` (at most ``max_turns``, the newest) that ``where``
    admits and that share a term with the query, best first.

    A turn scores the share of ``query_terms`` it contains; equal scores keep the newest
    first. No terms, no hits.
    """
    wanted = set(query_terms)
    if not wanted:
        return []
    turns = await store.recent(where.user_id, session_id, limit=max_turns)
    scored = []
    for turn in turns:
        if not where.admits(turn):
            continue
        overlap = len(wanted & set(terms(turn.content)))
        if overlap:
            scored.append((overlap / len(wanted), turn))
    scored.sort(key=lambda pair: -pair[0])
    return [SearchHit(memory=t, score=s, memory_type="working") for s, t in scored]
