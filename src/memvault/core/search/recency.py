"""The newest statement first, and the time a question names.

Memories state things at different times, and a later statement may replace an earlier one
("I live in Porto" → months later "we moved to Lisbon"). Two rules, both preferences applied
to the ranking after fusion and the timeline (:mod:`memvault.core.search.retrieve`):

* **Present or past.** A question about the present ("where do I live?", "what is my current
  job?", "…now?") wants the latest of the statements that answer it; a question about how things
  used to be ("where did I live before?", "…previously?") the earliest. The statements that
  answer it are the *contenders*: the top candidates whose score is within
  :data:`CONTENDER_SHARE` of the best (they match the question about equally, so they say the
  same kind of thing), scores measured from the weakest candidate's rather than from 0 when
  there are more candidates than :data:`CONTENDERS` (so that an embedder whose similarities lie
  close together does not make every memory a contender). Each contender gains up to
  :data:`ORDER_SHARE` of the best score (measured the same way) in proportion to where its
  ``occurred_at`` lies between the oldest and the newest contender (newest most, for the
  present; oldest most, for the past), which is enough for the newest (or oldest) contender to
  come first. Contenders stated at one moment are left as they are.
* **A time named.** A question naming a year, a month of a year or a day ("where did I live
  in 2023?", "…on 8 May, 2023?") prefers memories whose ``occurred_at`` falls in it (a day
  with a day's slack either side, for time zones): they gain :data:`PERIOD_SHARE` of the best
  score. A question naming a time is about that time, not the present.

:func:`time_scope` reads a question; :func:`adjust` returns each memory's adjustment, so that
an explanation can show it. Both are pure. Dates are read in ISO form (``2023-05-08``) in
any text, English dates ("8 May 2023") and the CJK ``2023年5月8日`` / ``2023년 5월 8일``; the
words for the present and the past are English, Chinese, Japanese and Korean ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from memvault.analysis import CJK
from memvault.models import Memory

__all__ = [
    "CONTENDERS",
    "CONTENDER_SHARE",
    "ORDER_SHARE",
    "PERIOD_SHARE",
    "TimeScope",
    "adjust",
    "apply",
    "time_scope",
]

#: The most candidates, best first, that can be contenders for the latest statement.
CONTENDERS = 10
#: A contender scores at least this share of the best candidate's score.
CONTENDER_SHARE = 0.7
#: The most a contender gains for being the newest (present) or oldest (past), as a share of
#: the best score: 1 - :data:`CONTENDER_SHARE` plus a margin, so that it can come first.
ORDER_SHARE = 0.35
#: What a memory of the time a question names gains, as a share of the best score.
PERIOD_SHARE = 0.5

_MONTHS = {
    name: number
    for number, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
         ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
         ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
         ("december", "dec")],
        start=1,
    )
    for name in names
}
_MONTH = r"(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"((?:19|20)\d\d)"
_DAY_MONTH_YEAR = re.compile(rf"\b{_DAY}(?:\s+of)?\s+{_MONTH},?\s+{_YEAR}\b", re.IGNORECASE)
_MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.IGNORECASE)
# Word edges that a change to CJK script also makes ("在2023-05-08的", "2023年").
_START = rf"(?<![^\W{CJK}])"
_END = rf"(?![^\W{CJK}])"
_ISO_DAY = re.compile(rf"{_START}((?:19|20)\d\d)-(\d\d)-(\d\d){_END}")
#: 2023年5月8日 (Chinese, Japanese; 号 for 日 in speech), 2023년 5월 8일 (Korean).
_CJK_DATE = re.compile(
    r"(?<!\d)((?:19|20)\d\d)\s*[年년]\s*(?:(\d{1,2})\s*[月월]\s*(?:(\d{1,2})\s*[日号일])?)?")
_MONTH_YEAR = re.compile(rf"\b{_MONTH},?\s+(?:of\s+)?{_YEAR}\b", re.IGNORECASE)
_YEAR_ALONE = re.compile(rf"{_START}{_YEAR}{_END}")

_PRESENT = re.compile(
    r"\b(?:now|currently|current|nowadays|these days|at the moment|at present|right now|"
    r"still|anymore|any more|latest|most recent|most recently|presently|today)\b",
    re.IGNORECASE,
)
_PAST = re.compile(
    r"\b(?:used to|use to|previously|formerly|originally|at first|in the past|before moving|"
    r"earlier|initially|first)\b|\bbefore\W*$",
    re.IGNORECASE,
)
#: The same for Chinese, Japanese and Korean questions, found anywhere (no spaces).
_PRESENT_CJK = re.compile(
    "现在|目前|当前|如今|最近|最新|还在|仍然|依然|現在|今は|지금|현재|요즘|최근")
_PAST_CJK = re.compile(
    "以前|之前|从前|過去|过去|原来|当初|起初|最初|一开始|曾经|昔|예전|이전|처음")
#: A question in the present tense: its first verb is a present form of be, do or have
#: ("where do I live?", "what is my job?", "how many bikes does the user have?").
_PRESENT_TENSE = re.compile(
    r"^\W*(?:\w+\W+){0,3}?(?:do|does|is|are|am|has|have|'s|'re)\b", re.IGNORECASE)
_PAST_TENSE = re.compile(r"\b(?:did|was|were|had|used)\b", re.IGNORECASE)


@dataclass(frozen=True)
class TimeScope:
    """What a question says about time: which statement it wants among several
    (``"newest"``, ``"oldest"`` or ``None``) and the periods it names, as half-open UTC
    intervals."""

    order: Literal["newest", "oldest"] | None = None
    periods: tuple[tuple[datetime, datetime], ...] = field(default=())


def _month_span(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _day_span(year: int, month: int, day: int) -> tuple[datetime, datetime] | None:
    try:
        start = datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None
    return start - timedelta(days=1), start + timedelta(days=2)


def _periods(query: str) -> list[tuple[datetime, datetime]]:
    spans: list[tuple[datetime, datetime] | None] = []
    rest = query
    for pattern, order in ((_DAY_MONTH_YEAR, "dmy"), (_MONTH_DAY_YEAR, "mdy")):
        for match in pattern.finditer(rest):
            day, month, year = (match.group(1), match.group(2), match.group(3)) if (
                order == "dmy") else (match.group(2), match.group(1), match.group(3))
            spans.append(_day_span(int(year), _MONTHS[month.lower()], int(day)))
        rest = pattern.sub(" ", rest)
    for match in _ISO_DAY.finditer(rest):
        if 1 <= int(match.group(2)) <= 12:
            spans.append(_day_span(int(match.group(1)), int(match.group(2)),
                                   int(match.group(3))))
    rest = _ISO_DAY.sub(" ", rest)
    for match in _CJK_DATE.finditer(rest):
        year, month, day = (int(g) if g else 0 for g in match.groups())
        if day and 1 <= month <= 12:
            spans.append(_day_span(year, month, day))
        elif 1 <= month <= 12:
            spans.append(_month_span(year, month))
        elif not month:
            spans.append((datetime(year, 1, 1, tzinfo=UTC),
                          datetime(year + 1, 1, 1, tzinfo=UTC)))
    rest = _CJK_DATE.sub(" ", rest)
    for match in _MONTH_YEAR.finditer(rest):
        spans.append(_month_span(int(match.group(2)), _MONTHS[match.group(1).lower()]))
    rest = _MONTH_YEAR.sub(" ", rest)
    for match in _YEAR_ALONE.finditer(rest):
        year = int(match.group(1))
        spans.append((datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)))
    return [span for span in spans if span is not None]


def time_scope(query: str, *, tense: bool = True) -> TimeScope:
    """What ``query`` says about time (see the module's rules).

    A question naming a period is about that period; otherwise words such as "now" or
    "currently" ask for the newest statement and "previously" or "used to" for the oldest;
    without them, with ``tense``, a question in the present tense asks for the newest.
    """
    periods = tuple(_periods(query))
    if periods:
        return TimeScope(periods=periods)
    if _PAST.search(query) or _PAST_CJK.search(query):
        return TimeScope(order="oldest")
    if _PRESENT.search(query) or _PRESENT_CJK.search(query):
        return TimeScope(order="newest")
    if tense and _PRESENT_TENSE.search(query) and not _PAST_TENSE.search(query):
        return TimeScope(order="newest")
    return TimeScope()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def adjust(scope: TimeScope, ranked: Sequence[tuple[Memory, float]]) -> dict[str, float]:
    """What each memory of ``ranked`` (best first) gains under ``scope``, by memory id
    (memories that gain nothing are left out)."""
    if not ranked or (scope.order is None and not scope.periods):
        return {}
    best = ranked[0][1]
    if best <= 0:
        return {}
    gains: dict[str, float] = {}
    if scope.periods:
        for memory, _ in ranked:
            moment = _aware(memory.occurred_at)
            if any(start <= moment < end for start, end in scope.periods):
                gains[memory.id] = PERIOD_SHARE * best
        return gains
    floor = _floor(ranked)
    reach = best - floor
    if reach <= 0:
        return {}
    contenders = [
        (memory, score) for memory, score in ranked[:CONTENDERS]
        if score - floor >= CONTENDER_SHARE * reach
    ]
    times = [_aware(memory.occurred_at).timestamp() for memory, _ in contenders]
    if len(contenders) < 2 or max(times) == min(times):
        return {}
    oldest, span = min(times), max(times) - min(times)
    for (memory, _), stamp in zip(contenders, times, strict=True):
        share = (stamp - oldest) / span
        if scope.order == "oldest":
            share = 1.0 - share
        if share > 0:
            gains[memory.id] = ORDER_SHARE * reach * share
    return gains


def _floor(ranked: Sequence[tuple[Memory, float]]) -> float:
    """What the contenders' scores are measured from: the weakest candidate's score when
    there are more candidates than :data:`CONTENDERS` (the field they stand out from), else 0.

    Fused scores rise from 0 only where the retrievers' raw scores do; an embedder whose
    cosines all lie close together (multilingual-e5: 0.7-0.9 for any pair) lifts every
    memory of a small scope near the best, so shares of the best score would make nearly
    all of them contenders.
    """
    if len(ranked) <= CONTENDERS:
        return 0.0
    return max(0.0, min(score for _, score in ranked))


def apply(ranked: Sequence[tuple[Memory, float]], gains: Mapping[str, float]
          ) -> list[tuple[Memory, float]]:
    """``ranked`` with ``gains`` added, best first again (ties: older, then id)."""
    out = [(memory, score + gains.get(memory.id, 0.0)) for memory, score in ranked]
    out.sort(key=lambda pair: (-pair[1], pair[0].occurred_at, pair[0].id))
    return out
