"""The response budget: how many hits fit in a number of characters."""

from __future__ import annotations

from collections.abc import Sequence

from memvault.models import SearchHit

__all__ = ["apply_budget"]


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
