"""What the dashboard's templates show, computed from the core's models: pure functions,
no I/O, so they are tested without a browser."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from memvault.core.search.explain import term_spans
from memvault.core.timeutil import shown
from memvault.errors import InvalidInput
from memvault.models import Memory, ProfileFact, SearchHit

__all__ = [
    "Segment", "SessionGroup", "day_bounds", "entity_graph", "facts_by_category",
    "group_by_session", "highlight", "history_by_key", "matched_terms", "parse_fact_value",
    "show_value", "when",
]


def when(moment: datetime | None) -> str:
    """A time as the dashboard shows it: UTC, to the minute."""
    if moment is None:
        return ""
    return f"{shown(moment.astimezone(UTC))} UTC"


def day_bounds(since: str, until: str) -> tuple[str | None, str | None]:
    """The timeline's date range (``YYYY-MM-DD`` from its date fields, either may be empty)
    as ``since``/``until`` for the core: from the start of ``since`` to the end of ``until``
    (the core's ``until`` is exclusive, so the next day's midnight), UTC."""
    bounds: list[str | None] = []
    for name, text in (("since", since), ("until", until)):
        if not text:
            bounds.append(None)
            continue
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise InvalidInput(f"{name}: not a date like 2024-05-08: {text!r}") from None
        if name == "until":
            if day == date.max:
                bounds.append(None)
                continue
            day += timedelta(days=1)
        bounds.append(day.isoformat())
    return bounds[0], bounds[1]


def show_value(value: object) -> str:
    """A profile value as text: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def parse_fact_value(text: str) -> object:
    """A value typed into the profile form: JSON numbers, booleans and lists of scalars
    are taken as such (``42``, ``true``, ``["tea", "coffee"]``); anything else is a string.
    Lists nested too deep for the JSON parser are refused (:class:`InvalidInput`)."""
    stripped = text.strip()
    if stripped and (stripped[0] in "[-0123456789" or stripped in ("true", "false")):
        try:
            parsed = json.loads(stripped)
        except RecursionError:
            raise InvalidInput("value: a list nested too deep to read; give a string, number, "
                               "boolean or a list of those") from None
        except ValueError:
            return stripped
        if isinstance(parsed, bool | int | float | list):
            return parsed
    return stripped


@dataclass
class SessionGroup:
    """Consecutive memories of one session, as the timeline shows them."""

    session_id: str | None
    memories: list[Memory] = field(default_factory=list)


def group_by_session(memories: Iterable[Memory]) -> list[SessionGroup]:
    """Memories in their given order (newest first), consecutive ones of a session together."""
    groups: list[SessionGroup] = []
    for memory in memories:
        if not groups or groups[-1].session_id != memory.session_id:
            groups.append(SessionGroup(memory.session_id))
        groups[-1].memories.append(memory)
    return groups


@dataclass(frozen=True)
class Segment:
    text: str
    marked: bool = False


def highlight(text: str, terms: Sequence[str]) -> list[Segment]:
    """``text`` cut into segments, the words that matched a query term marked, as search's
    explanations find them (:func:`~memvault.core.search.explain.term_spans`): the words of
    the same stem ("peanut" for "peanuts"), whatever their width or accents ("Ｃｏｂａｌｔ"
    for "cobalt"), and for CJK the term itself. The template escapes each segment."""
    segments: list[Segment] = []
    last = 0
    for start, end, _ in term_spans(text, [t for t in terms if t.strip()]):
        if start < last:
            continue
        if start > last:
            segments.append(Segment(text[last:start]))
        segments.append(Segment(text[start:end], marked=True))
        last = end
    if last < len(text) or not segments:
        segments.append(Segment(text[last:]))
    return segments


def matched_terms(hit: SearchHit) -> list[str]:
    lexical = hit.explanation.lexical
    return list(lexical.matched) if lexical is not None else []


def facts_by_category(facts: Iterable[ProfileFact]) -> list[tuple[str, list[ProfileFact]]]:
    """Current facts grouped by category, categories and keys in alphabetical order."""
    groups: dict[str, list[ProfileFact]] = {}
    for fact in facts:
        groups.setdefault(fact.category, []).append(fact)
    return [(name, sorted(groups[name], key=lambda f: f.key)) for name in sorted(groups)]


def history_by_key(
    current: Iterable[ProfileFact], history: Iterable[ProfileFact]
) -> list[tuple[str, list[ProfileFact]]]:
    """Every statement of each key, newest first, keys in alphabetical order."""
    keys: dict[str, list[ProfileFact]] = {}
    for fact in [*current, *history]:
        keys.setdefault(fact.key, []).append(fact)
    return [(key, sorted(keys[key], key=lambda f: f.valid_from, reverse=True))
            for key in sorted(keys)]


def entity_graph(memories: Sequence[Memory], *, focus: str | None = None,
                 max_nodes: int = 60) -> dict[str, object]:
    """The entities of ``memories`` and how often two are mentioned by one memory, as the
    graph page draws them: ``{"nodes": [{id, count, focus}], "links": [{source, target,
    weight}]}``, the ``max_nodes`` most mentioned entities (``focus`` always among them)."""
    counts: dict[str, int] = {}
    for memory in memories:
        for entity in set(memory.entities):
            counts[entity] = counts.get(entity, 0) + 1
    ranked = sorted(counts, key=lambda e: (-counts[e], e))[:max_nodes]
    if focus is not None and focus in counts and focus not in ranked:
        ranked[-1:] = [focus]
    kept = set(ranked)
    weights: dict[tuple[str, str], int] = {}
    for memory in memories:
        present = sorted(set(memory.entities) & kept)
        for i, left in enumerate(present):
            for right in present[i + 1:]:
                weights[(left, right)] = weights.get((left, right), 0) + 1
    return {
        "nodes": [{"id": e, "count": counts[e], "focus": e == focus} for e in ranked],
        "links": [{"source": a, "target": b, "weight": w} for (a, b), w in weights.items()],
    }
