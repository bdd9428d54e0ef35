"""Fusion: the rankings of several retrievers combined into one score per memory.

Each function is pure. Fused scores lie in [0, number of rankings]; the stages after fusion
(:mod:`memvault.core.search.timeline`, the speaker preference in
:mod:`memvault.core.search.retrieve`) add to them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from memvault.models import Candidate

__all__ = ["RRF_K", "fuse", "fuse_ranks", "min_max", "stand_in"]


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


def stand_in(
    fused: dict[str, float],
    vector: Sequence[Candidate],
    unreached: Collection[str],
    *,
    weight: float = 1.0,
    pool: int | None = None,
) -> dict[str, float]:
    """``fused`` with each memory of ``unreached`` (which the lexical ranking cannot hold:
    :mod:`memvault.core.search.scripts`) given its rescaled vector score once more, in the
    lexical ranking's place (``weight``: that ranking's weight). ``pool`` as for :func:`fuse`."""
    if not unreached or not vector:
        return fused
    full = pool is None or len(vector) >= pool
    out = dict(fused)
    for memory_id, score in min_max(vector, full=full).items():
        if memory_id in unreached:
            out[memory_id] = out.get(memory_id, 0.0) + weight * score
    return out


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
