"""The response budget: every hit kept, long ones shortened to query-focused excerpts.

A search returns every hit it found (``limit`` is a promise); the character budget is met by
shortening content, never by leaving hits out. When the hits' content and context do not fit
in ``max_chars``, each hit gets a share of the budget (:func:`shares`: best hits more room,
room a short hit does not need goes to the others) and content over its share becomes an
excerpt (:func:`memvault.core.search.excerpt.excerpt`). No share is below
:data:`MIN_EXCERPT`, so many hits under a small budget may go over it rather than be dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

from memvault.core.search.excerpt import excerpt
from memvault.models import Memory, SearchHit

__all__ = ["MIN_EXCERPT", "RANK_DECAY", "apply_budget", "shares"]

#: The fewest characters a shortened hit keeps: about a sentence.
MIN_EXCERPT = 100
#: Hit ``i`` (0-based) weighs ``1 / (1 + RANK_DECAY * i)`` in the budget's sharing: the first
#: of ten hits gets about twice the room of the last.
RANK_DECAY = 0.1
#: The share of a hit's room its own content may take when it also carries context turns.
_CONTENT_SHARE = 0.6


def _size(hit: SearchHit) -> int:
    return len(hit.memory.content) + sum(len(m.content) for m in hit.context)


def shares(sizes: Sequence[int], budget: int) -> list[int]:
    """Room for each of ``sizes`` (best first) within ``budget``: each hit gets at most its
    size, and at least :data:`MIN_EXCERPT` (or its size, if smaller)."""
    room = [0] * len(sizes)
    weights = [1.0 / (1.0 + RANK_DECAY * i) for i in range(len(sizes))]
    left = budget
    open_ = set(range(len(sizes)))
    while open_ and left > 0:  # water-filling: hits that need less give their rest back
        total = sum(weights[i] for i in open_)
        offer = {i: left * weights[i] / total for i in open_}
        done = {i for i in open_ if sizes[i] - room[i] <= offer[i]}
        if not done:
            for i in open_:
                room[i] += int(offer[i])
            break
        for i in done:
            left -= sizes[i] - room[i]
            room[i] = sizes[i]
        open_ -= done
    return [max(r, min(s, MIN_EXCERPT)) for r, s in zip(room, sizes, strict=True)]


def apply_budget(
    hits: Sequence[SearchHit], max_chars: int, query_terms: Sequence[str] = ()
) -> tuple[list[SearchHit], bool]:
    """Every hit of ``hits``, each with ``full_length`` set, long ones shortened so that
    their content and context fit in ``max_chars``. Returns them and whether any was
    shortened. Hits that fit are returned as they are."""
    out = [h.model_copy(update={"full_length": len(h.memory.content)}) for h in hits]
    if sum(_size(h) for h in out) <= max_chars:
        return out, False
    rooms = shares([_size(h) for h in out], max_chars)
    return [_shorten(h, room, query_terms) for h, room in zip(out, rooms, strict=True)], True


def _shorten(hit: SearchHit, room: int, query_terms: Sequence[str]) -> SearchHit:
    if _size(hit) <= room:
        return hit
    context_size = sum(len(m.content) for m in hit.context)
    own = max(room - context_size, int(room * _CONTENT_SHARE)) if hit.context else room
    own = max(min(own, len(hit.memory.content)), min(MIN_EXCERPT, len(hit.memory.content)))
    prefer = hit.explanation.passage
    content = excerpt(hit.memory.content, query_terms, own, prefer=prefer)
    update: dict[str, object] = {}
    if content != hit.memory.content:
        update["memory"] = hit.memory.model_copy(update={"content": content})
        update["shortened"] = True
    if hit.context and context_size > room - len(content):
        context = _shorten_context(hit.context, room - len(content), query_terms)
        update["context"] = context
        update["context_shortened"] = context != list(hit.context)
    return hit.model_copy(update=update)


def _shorten_context(context: Sequence[Memory], room: int, query_terms: Sequence[str]
                     ) -> list[Memory]:
    rooms = shares([len(m.content) for m in context], max(room, 0))
    return [
        m if len(m.content) <= r else m.model_copy(
            update={"content": excerpt(m.content, query_terms, r)})
        for m, r in zip(context, rooms, strict=True)
    ]
