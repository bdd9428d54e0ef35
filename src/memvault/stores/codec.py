"""Encoding and decoding shared by the stores: times, rows, session keys and status reports.

Times that a store sorts or compares as numbers are integer microseconds since the epoch
(:func:`to_micros`), read back as aware UTC datetimes (:func:`from_micros`). A memory row holds
:data:`MEMORY_FIELDS` in that order, a fact row names :data:`FACT_FIELDS`; how a backend
encodes times and id lists in its rows is passed to :func:`fact_from_row`.

Reads never fail on what is stored. Text that is not valid Unicode (bytes that are not UTF-8, a
lone surrogate kept as a JSON escape) reads with each bad character replaced by U+FFFD
(:func:`decode_text`, :func:`clean_text`); stored JSON (:func:`load_json`) reads with NaN and
infinity as null, values nested deeper than :data:`READ_DEPTH` as null, and text that does not
parse as the caller's default.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from memvault.errors import InvalidInput
from memvault.models import Memory, ProfileFact, StoreStatus

__all__ = [
    "FACT_FIELDS",
    "MEMORY_COLUMNS",
    "MEMORY_FIELDS",
    "READ_DEPTH",
    "IndexedRow",
    "NamedRow",
    "clean_json",
    "clean_text",
    "counted_status",
    "decode_text",
    "fact_from_row",
    "facts_from_json",
    "facts_to_json",
    "from_micros",
    "load_json",
    "memory_from_json",
    "memory_from_row",
    "session_of",
    "to_micros",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SURROGATE = re.compile("[\ud800-\udfff]")
#: How deep stored JSON is read (deeper than any input may nest); what lies deeper reads as
#: null.
READ_DEPTH = 100

#: The columns of a memory row, in the order :func:`memory_from_row` reads them.
MEMORY_FIELDS = (
    "id", "user_id", "agent_id", "session_id", "content", "occurred_at", "created_at",
    "metadata", "source", "entities", "type", "data",
)
#: :data:`MEMORY_FIELDS` selected from the alias ``m``, as SQL and Cypher both write it.
MEMORY_COLUMNS = ", ".join(f"m.{name}" for name in MEMORY_FIELDS)
#: The columns of a profile fact row, by name.
FACT_FIELDS = (
    "id", "user_id", "key", "value", "category", "source_memory_ids", "agent_id", "valid_from",
    "valid_to", "retired_reason", "origin",
)


class IndexedRow(Protocol):
    """A row read by position (a list, a tuple, ``sqlite3.Row``)."""

    def __getitem__(self, index: int, /) -> Any: ...


class NamedRow(Protocol):
    """A row read by column name (``sqlite3.Row``, an asyncpg record, a mapping)."""

    def __getitem__(self, name: str, /) -> Any: ...


def to_micros(moment: datetime) -> int:
    """A timezone-aware datetime → integer microseconds since the epoch (sortable)."""
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    """Integer microseconds since the epoch → an aware UTC datetime."""
    return _EPOCH + timedelta(0, 0, int(value))


def decode_text(raw: bytes) -> str:
    """Stored bytes → text, each byte sequence that is not UTF-8 replaced by U+FFFD."""
    return raw.decode("utf-8", errors="replace")


def clean_text(value: str) -> str:
    """``value`` with each lone surrogate replaced by U+FFFD (every other character kept)."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", value)
    return value


def _optional_text(value: object) -> str | None:
    if value is None:
        return None
    return decode_text(value) if isinstance(value, bytes) else clean_text(str(value))


def _text(value: object) -> str:
    return _optional_text(value) or ""


def clean_json(value: object, depth: int = READ_DEPTH) -> Any:
    """Decoded JSON made safe to serve: strings and keys cleaned (:func:`clean_text`), NaN and
    infinity as null, what lies deeper than ``depth`` levels as null."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int):
        return value
    if depth <= 0:
        return None
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v, depth - 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v, depth - 1) for v in value]
    return clean_text(str(value))


def _null(_: str) -> None:
    return None


def _finite(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


#: Reads NaN, infinity and numbers too large for a float (``1e999``) as null, as
#: :func:`clean_json` would.
_DECODER = json.JSONDecoder(parse_constant=_null, parse_float=_finite)


def load_json(raw: object, default: Any) -> Any:
    """Stored JSON text (or bytes) → a value cleaned by :func:`clean_json`; ``default`` for
    null, text that does not parse, and nesting too deep to parse."""
    if raw is None:
        return default
    if isinstance(raw, bytes):
        raw = decode_text(raw)
    if not isinstance(raw, str):
        return clean_json(raw)
    try:
        loaded = _DECODER.decode(raw)
    except (ValueError, RecursionError):
        return default
    if loaded is None:
        return default
    # Most stored JSON is small and plain: then the decoder has done all the cleaning. A
    # lone surrogate can only come from an escape (or be in the text itself), and nesting
    # is at most the number of brackets.
    if ("\\u" not in raw and raw.count("[") + raw.count("{") <= READ_DEPTH
            and clean_text(raw) is raw):
        return loaded
    return clean_json(loaded)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def memory_from_row(row: IndexedRow) -> Memory:
    """A :class:`Memory` from a row of :data:`MEMORY_FIELDS`: times in microseconds,
    ``metadata``, ``entities`` and ``data`` as JSON text."""
    data = load_json(row[11], None)
    return Memory(
        id=_text(row[0]),
        user_id=_text(row[1]),
        agent_id=_optional_text(row[2]),
        session_id=_optional_text(row[3]),
        content=_text(row[4]),
        occurred_at=from_micros(row[5]),
        created_at=from_micros(row[6]),
        metadata=_dict(load_json(row[7], {})),
        source=_optional_text(row[8]),
        entities=_strings(load_json(row[9], [])),
        type=_optional_text(row[10]),
        data=data if isinstance(data, dict) else None,
    )


def memory_from_json(payload: str | bytes) -> Memory | None:
    """A :class:`Memory` from its JSON form (``Memory.model_dump_json``), cleaned like a row;
    ``None`` if the payload is not a readable memory."""
    loaded = load_json(payload, None)
    if not isinstance(loaded, dict):
        return None
    if "metadata" in loaded:
        loaded["metadata"] = _dict(loaded["metadata"])
    if "entities" in loaded:
        loaded["entities"] = _strings(loaded["entities"])
    if "data" in loaded and not isinstance(loaded["data"], dict):
        loaded["data"] = None
    try:
        return Memory.model_validate(loaded)
    except ValidationError:
        return None


def fact_from_row(
    row: NamedRow,
    *,
    decode_time: Callable[[Any], datetime],
    decode_ids: Callable[[Any], list[str]],
) -> ProfileFact:
    """A :class:`ProfileFact` from a row naming :data:`FACT_FIELDS`, ``value`` as JSON text;
    ``decode_time`` reads ``valid_from`` and a non-null ``valid_to``, ``decode_ids`` reads
    ``source_memory_ids``."""
    valid_to = row["valid_to"]
    return ProfileFact(
        id=_text(row["id"]),
        user_id=_text(row["user_id"]),
        key=_text(row["key"]),
        value=load_json(row["value"], None),
        category=_text(row["category"]),
        source_memory_ids=[_text(i) for i in decode_ids(row["source_memory_ids"])
                           if isinstance(i, str | bytes)],
        agent_id=_optional_text(row["agent_id"]),
        valid_from=decode_time(row["valid_from"]),
        valid_to=None if valid_to is None else decode_time(valid_to),
        retired_reason=row["retired_reason"],
        origin="extracted" if row["origin"] == "extracted" else "stated",
    )


def facts_to_json(facts: Sequence[ProfileFact]) -> str:
    """Profile facts as one JSON text (a pending record's facts)."""
    return json.dumps([fact.model_dump(mode="json") for fact in facts])


def facts_from_json(text: str) -> tuple[ProfileFact, ...]:
    return tuple(ProfileFact.model_validate(item) for item in json.loads(text))




def session_of(memory: Memory) -> str:
    """The session a turn belongs to in working memory; :class:`InvalidInput` without one."""
    if memory.session_id is None:
        raise InvalidInput("working memory needs a session_id")
    return memory.session_id


async def counted_status(
    role: Literal["episodic", "profile", "working"],
    backend: str,
    location: str,
    count: Callable[[], Awaitable[int]],
    noun: str,
) -> StoreStatus:
    """A health report: ``ok`` with "<count> <noun>" when ``count()`` answers, else not ok
    with the error's text (reported, not raised)."""
    try:
        counted = await count()
    except Exception as exc:  # reported, not raised: this is a health check
        return StoreStatus(role=role, backend=backend, location=location, ok=False,
                           detail=str(exc))
    return StoreStatus(role=role, backend=backend, location=location, ok=True,
                       detail=f"{counted} {noun}")
