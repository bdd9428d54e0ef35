"""Explanations: why a hit was found, and a score that means the same for every query.

Retrieval gathers :class:`Evidence` per candidate while it ranks (the cosine similarity the
vector retriever saw, the passage that matched, the hit a neighbour came in with, the speaker
preferred); :func:`explanation` turns it into the hit's
:class:`~memvault.models.Explanation`, adding the query terms the memory contains.

The fused ranking score is relative to one query's candidates (each retriever's scores are
rescaled to its best), so it cannot be compared across queries. :func:`absolute_score` is:

    score = 1 - (1 - coverage) * (1 - max(cosine, 0))

``coverage`` is the share of the query's distinct terms the memory contains and ``cosine``
the similarity of the query and the memory by meaning (0 when the vector retriever did not
find it or did not run). Either kind of evidence alone gives its own value (all terms, or a
cosine of 1, give 1); both together give more than either. A memory reached only as a
session neighbour of a match scores by what it matches itself, often 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from memvault.analysis import fold, folded, has_cjk, is_cjk, mask_cjk
from memvault.core.search.timeline import FOLLOWS_WEIGHT, PRECEDES_WEIGHT
from memvault.models import Candidate, Explanation, JsonValue, LexicalMatch, PassageSpan

__all__ = [
    "Evidence", "absolute_score", "explanation", "gather", "lexical_match", "neighbours_of",
    "stem", "term_offsets", "term_spans",
]

_SUFFIXES = ("ingly", "edly", "sses", "ing", "ies", "ied", "ss", "ed", "ly", "s")
_KEEP = {"sses": "ss", "ss": "ss", "ies": "y", "ied": "y"}


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """A crude stem of a lower-case ``word``, so that "peanut" matches "peanuts" and
    "moving" "moved", close to what the full-text index's Porter stemmer finds."""
    if word.endswith(("ses", "xes", "zes", "ches", "shes")) and len(word) > 5:
        word = word[:-2]  # boxes → box
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= (2 if suffix in _KEEP else 3):
            word = word[: -len(suffix)] + _KEEP.get(suffix, "")
            if suffix in ("ing", "ed") and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # running → run
            break
    return word[:-1] if len(word) > 2 and word.endswith("e") else word


def term_offsets(text: str, query_terms: Sequence[str]) -> list[tuple[int, str]]:
    """Where ``text`` has a word of the same :func:`stem` as one of ``query_terms``: the
    word's offset and the term, in text order (:func:`term_spans`' starts)."""
    return [(start, term) for start, _, term in term_spans(text, query_terms)]


def term_spans(text: str, query_terms: Sequence[str]) -> list[tuple[int, int, str]]:
    """Where ``text`` has a word of the same :func:`stem` as one of ``query_terms``: the
    word's start and end and the term, in text order.

    Terms are tokens of :func:`memvault.analysis.tokens`: a CJK term (a character or a
    bigram) is found wherever its characters stand, inside a longer run too, and a word is
    found where a change of script ends it ("Alice" in "分析员Alice经常"). Text and terms
    are compared as the full-text index compares them (:func:`memvault.analysis.fold`:
    "Ｃｏｂａｌｔ" is "cobalt", "ﬁnance" "finance", "café" "cafe"); the offsets are
    ``text``'s own.
    """
    if not query_terms:
        return []
    pattern, by_stem, cjk = _pattern(tuple(query_terms))
    normal = folded(text)
    searched = normal.text
    found: list[tuple[int, int, str]] = []
    for match in pattern.finditer(mask_cjk(searched) if has_cjk(searched) else searched):
        word = match.group().replace("’", "'")
        word = (word[:-2] if word.endswith("'s") else word).strip("'")
        hit = by_stem.get(stem(word))
        if hit is not None:
            found.append((match.start(), match.end(), hit))
    for term, asked in cjk:  # bigrams overlap ("风险" and "险理" in "风险理"): each is searched
        start = searched.find(asked)
        while start >= 0:
            found.append((start, start + len(asked), term))
            start = searched.find(asked, start + 1)
    found.sort()
    if normal.moved:
        return [(normal.start(start), normal.end(end), term) for start, end, term in found]
    return found


@lru_cache(maxsize=64)
def _pattern(
    query_terms: tuple[str, ...],
) -> tuple[re.Pattern[str], dict[str, str], tuple[tuple[str, str], ...]]:
    """A regular expression for the words that may share a stem with a query term (to be
    checked with :func:`stem`; CJK characters masked, :func:`memvault.analysis.mask_cjk`),
    the term of each stem, and the CJK terms with their folded form (found as it is); the
    terms folded as texts are (:func:`memvault.analysis.fold`)."""
    by_stem: dict[str, str] = {}
    cjk: list[tuple[str, str]] = []
    for term in query_terms:
        asked = fold(term)
        if asked and is_cjk(asked[0]):
            cjk.append((term, asked))
        else:
            by_stem.setdefault(stem(asked), term)
    stems = sorted(by_stem, key=len, reverse=True) or ["(?!)"]
    alternatives = "|".join(s if s == "(?!)" else re.escape(s) for s in stems)
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})[\w'’]*", re.IGNORECASE)
    return pattern, by_stem, tuple(cjk)


def lexical_match(content: str, query_terms: Sequence[str]) -> LexicalMatch | None:
    """Which of ``query_terms`` occur in ``content`` (``None`` for a query without terms)."""
    if not query_terms:
        return None
    present = {term for _, term in term_offsets(content, query_terms)}
    matched = [t for t in query_terms if t in present]
    missing = [t for t in query_terms if t not in present]
    return LexicalMatch(matched=matched, missing=missing,
                        coverage=len(matched) / len(query_terms))


def absolute_score(lexical: LexicalMatch | None, cosine: float | None) -> float:
    """The hit's score in [0, 1], comparable across queries (see the module's docstring)."""
    coverage = lexical.coverage if lexical is not None else 0.0
    similarity = min(max(cosine or 0.0, 0.0), 1.0)
    return 1.0 - (1.0 - coverage) * (1.0 - similarity)


@dataclass
class Evidence:
    """What retrieval learnt about one candidate; stages fill what they know.

    ``stages`` holds entries of stages that have no field of their own, by stage name.
    """

    cosine: float | None = None
    passage: PassageSpan | None = None
    neighbour_of: str | None = None
    speaker: str | None = None
    recency: float | None = None
    stages: dict[str, JsonValue] = field(default_factory=dict)


def explanation(
    content: str, query_terms: Sequence[str], evidence: Evidence | None, rank_score: float,
    *, working: bool = False,
) -> tuple[Explanation, float]:
    """The explanation of a hit with ``content``, and its :func:`absolute_score`."""
    found = evidence or Evidence()
    lexical = lexical_match(content, query_terms)
    explained = Explanation(
        lexical=lexical,
        semantic=None if found.cosine is None else round(found.cosine, 6),
        passage=found.passage, neighbour_of=found.neighbour_of, speaker=found.speaker,
        recency=found.recency, working=working, rank_score=round(rank_score, 6),
        stages=dict(found.stages),
    )
    return explained, absolute_score(lexical, found.cosine)


def gather(
    rankings: Sequence[Sequence[Candidate]], retrievers: Sequence[str]
) -> dict[str, Evidence]:
    """Each candidate's cosine similarity (from the vector ranking) and best passage (the
    first ranking's that names one)."""
    out: dict[str, Evidence] = {}
    for ranking, name in zip(rankings, retrievers, strict=True):
        for candidate in ranking:
            found = out.setdefault(candidate.memory_id, Evidence())
            if name == "vector":
                found.cosine = candidate.score
            if found.passage is None and candidate.span is not None:
                found.passage = candidate.span
    return out


def neighbours_of(
    fused: Mapping[str, float],
    adjacent: Mapping[str, tuple[str | None, str | None]],
    evidence: dict[str, Evidence],
) -> None:
    """For each memory that only the timeline brought in, the match it is next to (the one
    whose score it took the larger share of)."""
    for memory_id, (previous, following) in adjacent.items():
        if memory_id in fused:
            continue
        shares = [(FOLLOWS_WEIGHT * fused.get(previous or "", 0.0), previous),
                  (PRECEDES_WEIGHT * fused.get(following or "", 0.0), following)]
        share, source = max(shares, key=lambda pair: pair[0])
        if share > 0 and source is not None:
            evidence.setdefault(memory_id, Evidence()).neighbour_of = source

