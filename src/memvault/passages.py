"""Passages: a long text cut into sentence-aware windows, by character offsets.

A 5,000-character message holds many topics; search scores such a memory by its best
passages, lexically and by meaning. Every part of memvault that cuts text into passages (the
full-text index, the embedders, the excerpts of search results) uses :func:`split`, so a
passage means the same span everywhere.

Windows are packed from whole sentences up to ``max_tokens`` estimated model tokens
(:func:`token_estimate`: about 1.3 per word, one per CJK character, one per other symbol);
a sentence longer than a window is cut between words, or between characters where the text
has no spaces. Spans cover the text without gaps or overlap, except leading and trailing
whitespace, and never split a surrogate pair or a word.
"""

from __future__ import annotations

import re

__all__ = ["PASSAGE_TOKENS", "split", "token_estimate"]

#: The default window, in estimated tokens: all-MiniLM-L6-v2 sees 256 word pieces, two of them
#: special, and the estimate runs short on rare words.
PASSAGE_TOKENS = 200

_SENTENCE = re.compile(r"[^.!?。！？\n]*(?:[.!?。！？]+[\"')\]」』]*|\n+|$)")
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+|[^\w\s]", re.UNICODE)
_CUT = re.compile(r"\s+")
_ONE_CJK = re.compile(f"[{_CJK}]")


def token_estimate(text: str) -> float:
    """About how many word pieces a multilingual or English model makes of ``text``."""
    total = 0.0
    for match in _TOKEN.finditer(text):
        piece = match.group()
        if (len(piece) == 1 and not piece.isalnum()) or _ONE_CJK.fullmatch(piece):
            total += 1.0
        else:
            total += 1.0 + len(piece) / 8
    return total


def split(text: str, *, max_tokens: float = PASSAGE_TOKENS) -> list[tuple[int, int]]:
    """The ``(start, end)`` character spans of ``text``'s passages, in order.

    A text within one window is one passage; an empty or blank text has none.
    """
    if not text.strip():
        return []
    if token_estimate(text) <= max_tokens:
        return [_strip(text, 0, len(text))]
    pieces: list[tuple[int, int, float]] = []
    for match in _SENTENCE.finditer(text):
        start, end = match.span()
        if start == end:
            continue
        cost = token_estimate(match.group())
        if cost <= max_tokens:
            pieces.append((start, end, cost))
        else:
            pieces.extend(_cut_long(text, start, end, max_tokens))
    spans: list[tuple[int, int]] = []
    begin, used = pieces[0][0], 0.0
    last_end = begin
    for start, end, cost in pieces:
        if used and used + cost > max_tokens:
            spans.append((begin, last_end))
            begin, used = start, 0.0
        used += cost
        last_end = end
    spans.append((begin, last_end))
    return [s for s in (_strip(text, a, b) for a, b in spans) if s[1] > s[0]]


def _cut_long(text: str, start: int, end: int, max_tokens: float) -> list[tuple[int, int, float]]:
    """A sentence over one window, cut between words (or characters) into window-sized runs."""
    cuts = [m.end() for m in _CUT.finditer(text, start, end)]
    if len(cuts) < 2:  # no spaces: CJK or one enormous token
        cuts = list(range(start + 1, end + 1))
    out: list[tuple[int, int, float]] = []
    begin, previous = start, start
    for cut in [*cuts, end]:
        if cut <= previous:
            continue
        if token_estimate(text[begin:cut]) > max_tokens and previous > begin:
            out.append((begin, previous, token_estimate(text[begin:previous])))
            begin = previous
        previous = cut
    if previous > begin:
        out.append((begin, previous, token_estimate(text[begin:previous])))
    return out


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
