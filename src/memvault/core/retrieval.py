"""Combining retrievers: reciprocal rank fusion and the response budget."""

from __future__ import annotations

from collections.abc import Sequence

from memvault.core.models import Candidate, SearchHit

__all__ = ["apply_budget", "fuse"]

RRF_K = 60


def fuse(
    rankings: Sequence[Sequence[Candidate]], weights: Sequence[float] | None = None
) -> list[Candidate]:
    """Reciprocal rank fusion: ``score(d) = Σ w_i / (k + rank_i(d))``, best first.

    Ties keep the order of the first ranking in which the candidates appear.
    """
    weights = weights or [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, candidate in enumerate(ranking, start=1):
            scores[candidate.memory_id] = (
                scores.get(candidate.memory_id, 0.0) + weight / (RRF_K + rank)
            )
    ordered = sorted(scores.items(), key=lambda item: -item[1])
    return [Candidate(memory_id=memory_id, score=score) for memory_id, score in ordered]


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
