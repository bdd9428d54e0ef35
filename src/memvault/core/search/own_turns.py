"""The named speakers' own turns, searched by vector as a ranking of their own.

A question about a person ("What activities has Melanie done with her family?") is answered
by that person's own turns, which often share no word with it ("We went camping") and rank
too low by the query's vector among every turn to reach the candidates. Searched among the
turns that name the speaker only, the same vector ranks them far higher: this ranking's
rescaled scores are added to the fused ones, and the speaker preference in
:mod:`memvault.core.search.retrieve` then puts the speaker's own turns first.

The store's entity filter does the restriction (a speaker label is one of its memory's
entities, :func:`memvault.core.text.entities.extract_entities`), so the store ranks before it
cuts the top ``pool``, and every backend's filter applies. The ranking also holds turns that
only mention the speaker; the speaker preference tells them apart. A search whose filter
already names an entity other than the speaker has no such ranking.
"""

from __future__ import annotations

from collections.abc import Sequence

from memvault.core.search.explain import Evidence
from memvault.core.search.fusion import min_max
from memvault.errors import IndexBuilding
from memvault.models import Candidate, MemoryFilter
from memvault.stores.base import EpisodicStore, Vector

__all__ = ["OWN_WEIGHT", "own_scores"]

#: The weight of a speaker's own ranking in fusion (the lexical and vector ones weigh 1;
#: 0.5 and more put the speaker's vector matches before the lexical ones).
OWN_WEIGHT = 0.25


async def own_scores(
    store: EpisodicStore,
    where: MemoryFilter,
    vector: Vector,
    named: Sequence[str],
    vector_ranking: Sequence[Candidate],
    evidence: dict[str, Evidence],
    *,
    pool: int,
) -> dict[str, float]:
    """What the first named speaker's own ranking adds to each memory's fused score: its
    rescaled cosine (:func:`~memvault.core.search.fusion.min_max` over the ``pool`` memories
    that have the speaker as an entity and pass ``where``) times :data:`OWN_WEIGHT`. The
    cosine of memories the whole vector ranking did not hold is recorded in ``evidence``."""
    speaker = named[0] if named else None
    if speaker is None or (where.entity is not None and where.entity != speaker):
        return {}
    try:
        found = await store.vector_search(
            where.model_copy(update={"entity": speaker}), vector, limit=pool)
    except IndexBuilding:  # a bulk import since the whole vector ranking: without it
        return {}
    seen = {c.memory_id for c in vector_ranking}
    out: dict[str, float] = {}
    scaled = min_max(found, full=len(found) >= pool)
    for candidate in found:
        out[candidate.memory_id] = OWN_WEIGHT * scaled[candidate.memory_id]
        if candidate.memory_id not in seen:
            item = evidence.setdefault(candidate.memory_id, Evidence())
            item.cosine = candidate.score
            if item.passage is None:
                item.passage = candidate.span
    return out
