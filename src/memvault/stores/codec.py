"""Encoding and decoding shared by the stores: times, rows, session keys and status reports.

Times that a store sorts or compares as numbers are integer microseconds since the epoch
(:func:`to_micros`), read back as aware UTC datetimes (:func:`from_micros`). A memory row holds
:data:`MEMORY_FIELDS` in that order, a fact row names :data:`FACT_FIELDS`; how a backend
encodes times and id lists in its rows is passed to :func:`fact_from_row`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from memvault.errors import InvalidInput
from memvault.models import Memory, ProfileFact, StoreStatus

__all__ = [
    "FACT_FIELDS",
    "MEMORY_COLUMNS",
    "MEMORY_FIELDS",
    "IndexedRow",
    "NamedRow",
    "counted_status",
    "fact_from_row",
    "facts_from_json",
    "facts_to_json",
    "from_micros",
    "memory_from_row",
    "session_of",
    "to_micros",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: The columns of a memory row, in the order :func:`memory_from_row` reads them.
MEMORY_FIELDS = (
    "id", "user_id", "agent_id", "session_id", "content", "occurred_at", "created_at",
    "metadata", "source", "entities",
)
#: :data:`MEMORY_FIELDS` selected from the alias ``m``, as SQL and Cypher both write it.
MEMORY_COLUMNS = ", ".join(f"m.{name}" for name in MEMORY_FIELDS)
#: The columns of a profile fact row, by name.
FACT_FIELDS = (
    "id", "user_id", "key", "value", "category", "source_memory_ids", "agent_id", "valid_from",
    "valid_to", "retired_reason",
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
    return _EPOCH + timedelta(microseconds=int(value))


def memory_from_row(row: IndexedRow) -> Memory:
    """A :class:`Memory` from a row of :data:`MEMORY_FIELDS`: times in microseconds,
    ``metadata`` and ``entities`` as JSON text."""
    return Memory(
        id=row[0],
        user_id=row[1],
        agent_id=row[2],
        session_id=row[3],
        content=row[4],
        occurred_at=from_micros(row[5]),
        created_at=from_micros(row[6]),
        metadata=json.loads(row[7]),
        source=row[8],
        entities=json.loads(row[9]),
    )


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
        id=row["id"],
        user_id=row["user_id"],
        key=row["key"],
        value=json.loads(row["value"]),
        category=row["category"],
        source_memory_ids=decode_ids(row["source_memory_ids"]),
        agent_id=row["agent_id"],
        valid_from=decode_time(row["valid_from"]),
        valid_to=None if valid_to is None else decode_time(valid_to),
        retired_reason=row["retired_reason"],
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
