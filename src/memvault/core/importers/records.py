"""What a parser yields, and the helpers every parser shares."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import JsonValue

from memvault.core.validate import deep_key, nested_too_deep
from memvault.errors import InvalidInput

__all__ = [
    "MessageReader", "Problem", "Record", "conversation_records", "conversations",
    "load_json", "moment", "text_of",
]

#: Epoch values above this are milliseconds (a seconds value this large is after 5138).
_MILLIS_FROM = 1e11
_MICROS_FROM = 1e14


@dataclass(frozen=True)
class Record:
    """One memory read from a source.

    ``position`` names it for people ("conversations.json: conversation 3, message 7");
    ``key`` names it for the importer, the same on every run. ``user_id`` is the source's
    own user, when it has one (mem0); ``memory_id`` an id the source says the memory had in
    memvault (a memvault Markdown export), kept so that importing it back adds nothing.
    ``memory_type`` and ``data`` make it a typed memory (checked against the configured
    type's schema as an add checks them); ``content`` may then be empty, and is rendered
    from the data.
    """

    position: str
    key: str
    content: str
    occurred_at: datetime | None = None
    session_id: str | None = None
    agent_id: str | None = None
    source: str | None = None
    metadata: dict[str, JsonValue] = field(default_factory=dict)
    user_id: str | None = None
    memory_id: str | None = None
    memory_type: str | None = None
    data: dict[str, JsonValue] | None = None


@dataclass(frozen=True)
class Problem:
    """A record that cannot be read: where it is and what is wrong."""

    position: str
    message: str


def load_json(name: str, data: bytes) -> Any:
    """The JSON document in ``data``; :class:`InvalidInput` naming the file otherwise."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name}: is not UTF-8 text (byte {exc.start})") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise InvalidInput(f"{name}: {nested_too_deep(deep_key(text))}") from None
    except ValueError as exc:
        raise InvalidInput(f"{name}: is not JSON: {exc}") from None


def conversations(name: str, data: bytes, tool: str) -> list[Any]:
    """The list of conversations of a chat export's ``conversations.json`` (the list itself,
    or an object holding it under ``conversations``); :class:`InvalidInput` otherwise."""
    found = load_json(name, data)
    if isinstance(found, dict) and isinstance(found.get("conversations"), list):
        found = found["conversations"]
    if not isinstance(found, list):
        raise InvalidInput(f"{name}: expected a list of conversations ({tool}'s "
                           "conversations.json)")
    return found


#: Reads one message of a conversation (its position, the message, the time of the one
#: before); ``None`` for a message that holds no memory.
MessageReader = Callable[[str, Any, "datetime | None"], "Record | None"]


def conversation_records(where: str, messages: Iterable[tuple[int, Any]],
                         read: MessageReader, started: datetime | None
                         ) -> Iterator[Record | Problem]:
    """The records of one conversation's numbered messages, in order: a message that cannot
    be read is a :class:`Problem` at its position, and one without a time takes the time of
    the message before (``started`` for the first)."""
    for number, message in messages:
        here = f"{where}, message {number}"
        try:
            record = read(here, message, started)
        except InvalidInput as exc:
            yield Problem(here, str(exc))
            continue
        if record is not None:
            started = record.occurred_at
            yield record


def moment(value: object, field_name: str) -> datetime | None:
    """A timestamp as exports write them: ``None``; epoch seconds (int or float), or
    milliseconds/microseconds when too large to be seconds; or an ISO 8601 string (also a
    numeric string). Raises :class:`InvalidInput` naming ``field_name``."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidInput(f"{field_name} is not a timestamp: {value!r}")
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            if text.endswith(("z", "Z")):
                text = text[:-1] + "+00:00"
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                raise InvalidInput(f"{field_name} is not a timestamp: {value!r}") from None
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    if not isinstance(value, int | float):
        raise InvalidInput(f"{field_name} is not a timestamp: {type(value).__name__}")
    seconds = float(value)
    if abs(seconds) >= _MICROS_FROM:
        seconds /= 1e6
    elif abs(seconds) >= _MILLIS_FROM:
        seconds /= 1e3
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidInput(f"{field_name} is out of range: {value!r}") from None


def text_of(value: object) -> str:
    """A string field's text, or ``""`` for anything else (missing, null, not a string)."""
    return value if isinstance(value, str) else ""
