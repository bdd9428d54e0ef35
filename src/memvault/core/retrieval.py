"""Combining retrievers: score fusion, spreading along the timeline, and the response budget.

Each function is pure; :mod:`memvault.core.search` runs them in order. The constants are round
numbers chosen for what they mean, and every one was measured on its own (see
``docs/benchmarks.md``), not fitted to one data set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from memvault.models import Candidate, SearchHit

__all__ = [
    "FOLLOWS_WEIGHT",
    "PRECEDES_WEIGHT",
    "SPEAKER_BOOST",
    "apply_budget",
    "fuse",
    "fuse_ranks",
    "min_max",
    "spread",
]

#: A turn inherits this share of the score of the turn before it: an answer follows the
#: question that matched ("What did you research?" / "Adoption agencies.").
FOLLOWS_WEIGHT = 0.5
#: ... and this share of the score of the turn after it (a turn set up what followed).
PRECEDES_WEIGHT = 0.25
#: Added to the turns of a speaker the query names: their own words come before the turns
#: that only mention them. Fused scores lie in [0, 2], so this is a strong preference.
SPEAKER_BOOST = 1.0


def min_max(candidates: Sequence[Candidate], *, full: bool = True) -> dict[str, float]:
    """Scores rescaled to [0, 1] within one retriever's ranking (best 1).

    Raw scores (BM25, cosine) are on unrelated scales; rescaling each ranking before summing
    lets a retriever's confidence count, which reciprocal-rank fusion throws away. ``full``
    says the ranking was cut at the size asked for: its last candidate then stands for "not
    relevant" and maps to 0. A ranking that holds everything the retriever found is rescaled
    from 0 instead, so that a weak match among few is not taken for no match. Equal scores
    map to 1.
    """
    if not candidates:
        return {}
    scores = [c.score for c in candidates]
    low, high = min(scores), max(scores)
    if not full:
        low = min(low, 0.0)
    span = high - low
    return {
        c.memory_id: (c.score - low) / span if span > 0 else 1.0 for c in candidates
    }


def fuse(
    rankings: Sequence[Sequence[Candidate]],
    weights: Sequence[float] | None = None,
    *,
    pool: int | None = None,
) -> dict[str, float]:
    """Weighted sum of rescaled scores (:func:`min_max`); a memory missing from a ranking
    gets 0 there. ``pool`` is the size each ranking was asked for (``None``: all full)."""
    weights = weights or [1.0] * len(rankings)
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        full = pool is None or len(ranking) >= pool
        for memory_id, score in min_max(ranking, full=full).items():
            fused[memory_id] = fused.get(memory_id, 0.0) + weight * score
    return fused


#: Reciprocal rank fusion's constant (Cormack et al., 2009).
RRF_K = 60


def fuse_ranks(rankings: Sequence[Sequence[Candidate]]) -> dict[str, float]:
    """Reciprocal rank fusion, ``Σ 1 / (60 + rank)``: the textbook alternative to
    :func:`fuse`, kept to measure against (``search.fusion = "rank"``)."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, candidate in enumerate(ranking, start=1):
            fused[candidate.memory_id] = fused.get(candidate.memory_id, 0.0) + 1 / (RRF_K + rank)
    return fused


def spread(
    scores: Mapping[str, float], adjacent: Mapping[str, tuple[str | None, str | None]]
) -> dict[str, float]:
    """Add to each memory a share of the scores of its neighbours in the same session.

    ``adjacent`` maps ids to ``(previous, next)``; it should cover every scored memory and
    their neighbours, so that a turn right after a strong match is scored even when no
    retriever found it.
    """
    result: dict[str, float] = {}
    for memory_id in {*scores, *adjacent}:
        previous, following = adjacent.get(memory_id, (None, None))
        result[memory_id] = (
            scores.get(memory_id, 0.0)
            + FOLLOWS_WEIGHT * scores.get(previous or "", 0.0)
            + PRECEDES_WEIGHT * scores.get(following or "", 0.0)
        )
    return result


def apply_budget(hits: Sequence[SearchHit], max_chars: int) -> tuple[list[SearchHit], bool]:
    """Keep hits, best first, while their content and context fit in ``max_chars``.

    The first hit is always returned; if it alone is over the budget its content is cut and
    marked. Returns the hits kept and whether anything was left out or cut.
    """
    kept: list[SearchHit] = []
    used = 0
    for hit in hits:
        size = len(hit.memory.content) + sum(len(m.content) for m in hit.context)
        if used + size <= max_chars:
            kept.append(hit)
            used += size
            continue
        if not kept:
            room = max(max_chars - 1, 0)
            cut = hit.memory.model_copy(update={"content": hit.memory.content[:room] + "…"})
            kept.append(hit.model_copy(update={"memory": cut, "context": []}))
        return kept, True
    return kept, False
