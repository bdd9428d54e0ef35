"""Excerpts: the part of a long text that answers a query, in a number of characters.

A text is cut into short sentence-aware pieces by :func:`memvault.passages.split` (the same
splitter as the index and the embedders, with a smaller window). Pieces are chosen in this
order until the room is used: those holding most of the query's terms (ties: the preferred
passage, then the earlier piece), the piece inside the preferred passage (the retriever's
best, when known), the text's opening (it names the speaker), then the pieces around those
already chosen. They are shown in the text's order; a gap between them, and text left out
before the first or after the last, is marked with "…".
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from functools import lru_cache

from memvault.core.search.explain import term_offsets
from memvault.models import PassageSpan
from memvault.passages import split

__all__ = ["ELLIPSIS", "PIECE_TOKENS", "excerpt"]

ELLIPSIS = "…"
#: The pieces an excerpt is made of, in estimated tokens: about a sentence.
PIECE_TOKENS = 40


def excerpt(
    text: str, query_terms: Sequence[str], room: int, *, prefer: PassageSpan | None = None
) -> str:
    """``text`` if it fits in ``room`` characters, else a query-focused excerpt of at most
    ``room`` characters (at least one character of text)."""
    if len(text) <= room:
        return text
    room = max(room, 2)
    pieces = _pieces(text) if len(text) <= _CACHED_CHARS else _split(text)
    if not pieces:
        return text[: room - 1] + ELLIPSIS
    starts = [start for start, _ in pieces]
    matched: list[set[str]] = [set() for _ in pieces]
    first: dict[int, int] = {}  # piece → offset of its first match
    for offset, term in term_offsets(text, query_terms):
        index = max(bisect_right(starts, offset) - 1, 0)
        matched[index].add(term)
        first.setdefault(index, offset)
    counts = [len(m) for m in matched]

    def preferred(span: tuple[int, int]) -> bool:
        return prefer is not None and span[0] < prefer.end and span[1] > prefer.start

    order = sorted((i for i, c in enumerate(counts) if c),
                   key=lambda i: (-counts[i], not preferred(pieces[i]), i))
    order += [i for i, p in enumerate(pieces) if preferred(p)] + [0]
    chosen: set[int] = set()
    if not _try(order[0], chosen, pieces, text, room):
        # the best piece alone is over the room: cut it around its first match
        return _cut(text, pieces[order[0]], first.get(order[0]), room)
    failed: set[int] = set()
    ranked = [order[0]]
    for index in order[1:]:
        if index not in chosen:
            (ranked.append if _try(index, chosen, pieces, text, room) else failed.add)(index)
    grown = True
    while grown:  # the sentences around the chosen ones, the best first
        grown = False
        for index in list(ranked):
            for near in (index + 1, index - 1):
                if 0 <= near < len(pieces) and near not in chosen and near not in failed:
                    if _try(near, chosen, pieces, text, room):
                        ranked.append(near)
                        grown = True
                    else:
                        failed.add(near)
    return _render(text, pieces, sorted(chosen))


def _split(text: str) -> tuple[tuple[int, int], ...]:
    return tuple(split(text, max_tokens=PIECE_TOKENS))


#: Splitting is the costly part and depends on the text alone: the pieces of recently
#: excerpted texts (of at most ``_CACHED_CHARS``) are kept.
_CACHED_CHARS = 100_000
_pieces = lru_cache(maxsize=256)(_split)


def _try(index: int, chosen: set[int], pieces: Sequence[tuple[int, int]], text: str,
         room: int) -> bool:
    """Add piece ``index`` to ``chosen`` if the excerpt still fits in ``room``."""
    chosen.add(index)
    if _length(pieces, sorted(chosen)) <= room:
        return True
    chosen.discard(index)
    return False


def _length(pieces: Sequence[tuple[int, int]], chosen: Sequence[int]) -> int:
    """``len(_render(text, pieces, chosen))``, without building it: pieces cover the text's
    non-blank part, so text is left out before piece 0 only and after the last only."""
    total = 2 if chosen[0] > 0 else 0
    previous: int | None = None
    for index in chosen:
        start, end = pieces[index]
        if previous is not None:
            total += start - pieces[previous][1] if index == previous + 1 else 3
        total += end - start
        previous = index
    return total + (2 if chosen[-1] < len(pieces) - 1 else 0)


def _render(text: str, pieces: Sequence[tuple[int, int]], chosen: Sequence[int]) -> str:
    parts: list[str] = []
    previous: int | None = None
    for index in chosen:
        start, end = pieces[index]
        if previous is None:
            if text[:start].strip():
                parts.append(ELLIPSIS + " ")
        elif index == previous + 1:
            parts.append(text[pieces[previous][1]:start])
        else:
            parts.append(" " + ELLIPSIS + " ")
        parts.append(text[start:end])
        previous = index
    if previous is not None and text[pieces[previous][1]:].strip():
        parts.append(" " + ELLIPSIS)
    return "".join(parts)


def _cut(text: str, piece: tuple[int, int], first: int | None, room: int) -> str:
    """``room`` characters of one piece, starting a little before its first match."""
    start, end = piece
    begin = start if first is None else max(start, first - room // 4)
    while begin > start and not text[begin - 1].isspace():
        begin -= 1  # not in the middle of a word
    lead = ELLIPSIS if text[:begin].strip() else ""
    body = text[begin:end]
    keep = room - len(lead) - 1
    cut = body[:keep]
    if " " in cut[keep // 2:]:
        cut = cut[: cut.rindex(" ")]
    if cut and "\ud800" <= cut[-1] <= "\udbff":
        cut = cut[:-1]  # half a surrogate pair
    return lead + cut.rstrip() + ELLIPSIS
