"""Input checks. Each raises :class:`InvalidInput` naming the field and what to fix, before
anything is stored.

Every string that enters passes :func:`check_text` (no lone surrogates: they are not Unicode
text and no store can serve them back); JSON values pass :func:`check_json`, which names the
field as a path (``metadata.a.b[1]``), refuses NaN and infinity and nesting deeper than
:data:`MAX_DEPTH` levels.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import JsonValue

from memvault.core.text.entities import entity_key
from memvault.core.timeutil import parse_datetime
from memvault.errors import InvalidInput
from memvault.models import MemoryFilter, MemoryInput

__all__ = [
    "FILTER_KEYS",
    "MAX_DEPTH",
    "MAX_PROFILE_KEYS",
    "MAX_PROFILE_VALUE_BYTES",
    "build_filter",
    "check_content",
    "check_fact_value",
    "check_filters",
    "check_identifier",
    "check_item",
    "check_json",
    "check_limit",
    "check_metadata",
    "check_profile",
    "check_profile_key",
    "check_profile_keys",
    "check_range",
    "check_text",
    "decode_cursor",
    "deep_key",
    "encode_cursor",
    "nested_too_deep",
]

FILTER_KEYS = ("agent_id", "session_id", "source", "entity", "metadata", "type", "data")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_KEY = re.compile(r"^[\w][\w.\-: ]{0,127}$", re.UNICODE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_METADATA_BYTES = 64_000
#: How deep a JSON value (metadata) may nest.
MAX_DEPTH = 64
#: A JSON string (with the colon after it when it is a key) or bracket, for :func:`deep_key`.
_JSON_TOKEN = re.compile(r'(?P<string>"[^"\\]*(?:\\.[^"\\]*)*")(?P<colon>\s*:)?|[\[\]{}]')
#: The defaults of ``Config.max_profile_value_bytes`` and ``Config.max_profile_keys``.
MAX_PROFILE_VALUE_BYTES = 65_536
MAX_PROFILE_KEYS = 1_000


def check_text(value: str, field: str) -> str:
    """``value`` unless it holds a lone surrogate (half of a UTF-16 pair, not a character)."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            f"{field} holds a lone surrogate (U+{ord(value[exc.start]):04X} at index "
            f"{exc.start}), which is not Unicode text: send valid UTF-8"
        ) from None
    return value


def nested_too_deep(field: str | None = None) -> str:
    """The message for JSON nested deeper than :data:`MAX_DEPTH` levels, at ``field`` when
    it is known."""
    return f"{field} is nested too deep: at most {MAX_DEPTH} levels" if field \
        else f"nested too deep: at most {MAX_DEPTH} levels"


def deep_key(text: str | bytes) -> str | None:
    """The key of the JSON object ``text`` under which it nests deeper than
    :data:`MAX_DEPTH` levels, as written (escapes left as they are), or ``None``. For text
    too deep for :func:`json.loads` to read, whose ``RecursionError`` names no place."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    key: str | None = None
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        if match.group("string") is not None:
            if depth == 1 and match.group("colon"):
                key = match.group("string")[1:-1] or None
            continue
        depth += 1 if match.group() in "[{" else -1
        if depth > MAX_DEPTH + 1:  # the object itself, then the value under its key
            return key
    return None


def check_json(value: object, field: str, *, depth: int = MAX_DEPTH,
               legacy: bool = False) -> JsonValue:
    """A copy of ``value`` if it is JSON: objects with non-empty string keys, arrays,
    strings (:func:`check_text`, without NUL), finite numbers (integers within 64 bits, as
    every store and filter can compare them), booleans and null, nested at most ``depth``
    levels. The error names the path of the value at fault, e.g. ``metadata.a.b[1]``.
    ``legacy`` lets integers past 64 bits and NUL through, as earlier versions stored them:
    for imports, so that what a store held can be carried to another."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not legacy and not _INT64_MIN <= value <= _INT64_MAX:
            raise InvalidInput(f"{field} is an integer outside the 64-bit range "
                               "(-2**63 to 2**63 - 1): send it as a string")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{field} is {value}, which is not a JSON number")
        return value
    if isinstance(value, str):
        if "\x00" in value and not legacy:
            raise InvalidInput(f"{field} contains a NUL character")
        return check_text(value, field)
    if isinstance(value, Mapping | list | tuple) and depth <= 0:
        raise InvalidInput(nested_too_deep(field))
    if isinstance(value, Mapping):
        out: dict[str, JsonValue] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise InvalidInput(f"{field} has a key that is not a non-empty string: {key!r}")
            if "\x00" in key and not legacy:
                raise InvalidInput(f"a key of {field} contains a NUL character: {key!r}")
            check_text(key, f"a key of {field}")
            out[key] = check_json(item, f"{field}.{key}", depth=depth - 1, legacy=legacy)
        return out
    if isinstance(value, list | tuple):
        return [check_json(item, f"{field}[{index}]", depth=depth - 1, legacy=legacy)
                for index, item in enumerate(value)]
    raise InvalidInput(f"{field} must be JSON-serialisable, got {type(value).__name__}")


def check_identifier(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string, got {type(value).__name__}")
    check_text(value, field)
    if not value.strip():
        raise InvalidInput(f"{field} is empty")
    if len(value) > 256 or _CONTROL.search(value):
        raise InvalidInput(f"{field} must be at most 256 printable characters")
    return value


def check_content(content: object, max_bytes: int) -> str:
    if not isinstance(content, str):
        raise InvalidInput(f"content must be a string, got {type(content).__name__}")
    if not content.strip():
        raise InvalidInput("content is empty: pass the text to remember")
    check_text(content, "content")
    size = len(content.encode("utf-8"))
    if size > max_bytes:
        raise InvalidInput(
            f"content is {size} bytes, over the limit of {max_bytes}: split it into several "
            "memories"
        )
    if "\x00" in content:
        raise InvalidInput("content contains a NUL character")
    return content


def check_metadata(metadata: object, *, legacy: bool = False) -> dict[str, JsonValue]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidInput(f"metadata must be a JSON object, got {type(metadata).__name__}")
    for key in metadata:
        if not isinstance(key, str) or not key:
            raise InvalidInput("metadata keys must be non-empty strings")
    checked = check_json(metadata, "metadata", legacy=legacy)
    try:
        text = json.dumps(checked, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"metadata must be JSON-serialisable: {exc}") from None
    if len(text) > _MAX_METADATA_BYTES:
        raise InvalidInput(f"metadata is over {_MAX_METADATA_BYTES} bytes as JSON")
    loaded: dict[str, JsonValue] = json.loads(text)
    return loaded


def check_limit(limit: object, field: str = "limit", *, maximum: int = 100) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidInput(f"{field} must be an integer")
    if not 1 <= limit <= maximum:
        raise InvalidInput(f"{field} must be between 1 and {maximum}, got {limit}")
    return limit


def check_profile(
    profile: object, *, max_value_bytes: int = MAX_PROFILE_VALUE_BYTES,
    max_keys: int = MAX_PROFILE_KEYS,
) -> list[tuple[str, JsonValue, str]]:
    """``{"key": value}`` or ``{"key": {"value": v, "category": c}}`` → (key, value, category).

    Values are JSON scalars or lists of scalars of at most ``max_value_bytes`` as JSON
    (``json.dumps``); the default category is ``general``. At most ``max_keys`` facts (the
    user's total is checked by :func:`check_profile_keys`). Errors name the fact as
    ``profile.<key>``.
    """
    if profile is None:
        return []
    if not isinstance(profile, Mapping):
        raise InvalidInput(
            'profile must be an object of facts, e.g. {"risk_tolerance": "conservative"}'
        )
    if len(profile) > max_keys:
        raise _too_many_keys(len(profile), max_keys)
    facts: list[tuple[str, JsonValue, str]] = []
    for key, raw in profile.items():
        check_profile_key(key)
        category = "general"
        value: Any = raw
        if isinstance(raw, Mapping):
            unknown = set(raw) - {"value", "category"}
            if "value" not in raw or unknown:
                raise InvalidInput(
                    f"profile[{key!r}] must be a value or {{\"value\": ..., \"category\": ...}}"
                )
            value = raw["value"]
            category = raw.get("category", "general")
            if not isinstance(category, str) or not _KEY.match(category):
                raise InvalidInput(f"profile.{key}.category must be a short word")
        facts.append((key, check_fact_value(value, f"profile.{key}", max_value_bytes),
                      category))
    return facts


def check_profile_key(key: object, field: str = "profile key") -> str:
    """A profile key (or category): 1-128 letters, digits, ``_``, ``-``, ``.``, ``:`` or
    spaces, starting with a letter or digit."""
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidInput(
            f"{field} {key!r} must be 1-128 letters, digits, '_', '-', '.', ':' or spaces"
        )
    return key


def check_fact_value(value: object, field: str, max_bytes: int, *,
                     legacy: bool = False) -> JsonValue:
    """A profile value: a string, number, boolean or a list of those, of at most
    ``max_bytes`` as JSON; never with NUL, with integers past 64 bits only when ``legacy``
    (:func:`check_json`)."""
    if not _is_fact_value(value):
        raise InvalidInput(f"{field} must be a string, number, boolean or a list of those")
    checked = check_json(value, field, legacy=legacy)
    if isinstance(checked, str) and not checked.strip():
        raise InvalidInput(f"{field} is empty")
    if any(isinstance(v, str) and "\x00" in v for v in (checked if isinstance(checked, list)
                                                         else [checked])):
        raise InvalidInput(f"{field} contains a NUL character")  # legacy or not
    size = len(json.dumps(checked).encode())
    if size > max_bytes:
        raise InvalidInput(
            f"{field} is {size:,} bytes as JSON, over the limit of {max_bytes:,} bytes "
            "(MEMVAULT_MAX_PROFILE_VALUE_BYTES): keep long text in a memory's content"
        )
    return checked


def check_profile_keys(current: int, max_keys: int) -> None:
    """Refuse a write that would leave a user with ``current`` keys, over ``max_keys``."""
    if current > max_keys:
        raise _too_many_keys(current, max_keys)


def _too_many_keys(count: int, max_keys: int) -> InvalidInput:
    return InvalidInput(
        f"profile: {count:,} keys, over the limit of {max_keys:,} keys per user "
        "(MEMVAULT_MAX_PROFILE_KEYS): set fewer facts or reuse existing keys"
    )


def _is_fact_value(value: object) -> bool:
    scalar = (str, int, float, bool)
    if isinstance(value, scalar):
        return not (isinstance(value, float) and not math.isfinite(value))
    return isinstance(value, list) and all(isinstance(v, scalar) for v in value)


def check_filters(filters: object) -> dict[str, Any]:
    if filters is None:
        return {}
    if not isinstance(filters, Mapping):
        raise InvalidInput("filters must be an object")
    unknown = sorted(set(filters) - set(FILTER_KEYS))
    if unknown:
        raise InvalidInput(
            f"unknown filter {', '.join(map(repr, unknown))}; allowed: {', '.join(FILTER_KEYS)}"
        )
    out: dict[str, Any] = {}
    for key, value in filters.items():
        if key in ("metadata", "data"):
            if not isinstance(value, Mapping):
                raise InvalidInput(f'filters.{key} must be an object, e.g. {{"topic": "travel"}}')
            for mkey, mvalue in value.items():
                if not isinstance(mkey, str) or not _KEY.match(mkey):
                    raise InvalidInput(f"filters.{key} key {mkey!r} is not a valid key")
                if mvalue is not None and not isinstance(mvalue, str | int | float | bool):
                    raise InvalidInput(
                        f"filters.{key}[{mkey!r}] must be a string, number, boolean or null"
                    )
                check_json(mvalue, f"filters.{key}.{mkey}")
            out[key] = dict(value)
        elif value is not None:
            out[key] = check_identifier(value, f"filters.{key}")
    return out


def check_range(since: object, until: object) -> tuple[datetime | None, datetime | None]:
    start = None if since is None else parse_datetime(since, "since")
    end = None if until is None else parse_datetime(until, "until")
    if start is not None and end is not None and start >= end:
        raise InvalidInput("since must be earlier than until")
    return start, end


def encode_cursor(occurred_at: datetime, memory_id: str) -> str:
    raw = json.dumps([occurred_at.isoformat(), memory_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, memory_id = json.loads(raw)
        if not isinstance(moment, str) or not isinstance(memory_id, str):
            raise ValueError
        memory_id.encode("utf-8")  # a forged cursor's lone surrogate is no id
        return parse_datetime(moment, "cursor"), memory_id
    except (ValueError, TypeError, UnicodeError, RecursionError):
        raise InvalidInput("cursor is not one returned by list_memories") from None


def check_item(raw: Mapping[str, Any], index: int) -> MemoryInput:
    """One item of a batch as given (a mapping), its fields known and content present."""
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"item {index} is {type(raw).__name__}: give an object with a "
                           "content field")
    unknown = sorted(set(raw) - set(MemoryInput.model_fields))
    if unknown:
        raise InvalidInput(f"item {index}: unknown field(s) {', '.join(unknown)}")
    if "content" not in raw and raw.get("type") is None:
        raise InvalidInput(f"item {index}: content is missing")
    return MemoryInput(**raw)


def build_filter(
    user: str, filters: Mapping[str, Any] | None, since: object = None, until: object = None,
    session_id: str | None = None, agent_id: str | None = None, memory_type: str | None = None,
) -> MemoryFilter:
    """The :class:`MemoryFilter` of a read: ``filters`` checked (:func:`check_filters`, its
    keys win over ``session_id``, ``agent_id`` and ``memory_type``, a memory type's name) and
    ``since``/``until`` parsed."""
    checked = check_filters(filters)
    start, end = check_range(since, until)
    return MemoryFilter(
        user_id=user,
        agent_id=checked.get("agent_id", agent_id),
        session_id=checked.get("session_id", session_id),
        source=checked.get("source"),
        entity=entity_key(checked.get("entity")),
        metadata=checked.get("metadata", {}),
        since=start,
        until=end,
        type=checked.get("type", memory_type),
        data=checked.get("data", {}),
    )
