"""Input checks. Each raises :class:`InvalidInput` naming the field and what to fix, before
anything is stored."""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import JsonValue

from memvault.core.timeutil import parse_datetime
from memvault.errors import InvalidInput

__all__ = [
    "FILTER_KEYS",
    "check_content",
    "check_filters",
    "check_identifier",
    "check_limit",
    "check_metadata",
    "check_profile",
    "check_range",
    "decode_cursor",
    "encode_cursor",
]

FILTER_KEYS = ("agent_id", "session_id", "source", "entity", "metadata")
_KEY = re.compile(r"^[\w][\w.\-: ]{0,127}$", re.UNICODE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_METADATA_BYTES = 64_000


def check_identifier(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string, got {type(value).__name__}")
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
    size = len(content.encode("utf-8", errors="surrogatepass"))
    if size > max_bytes:
        raise InvalidInput(
            f"content is {size} bytes, over the limit of {max_bytes}: split it into several "
            "memories"
        )
    if "\x00" in content:
        raise InvalidInput("content contains a NUL character")
    return content


def check_metadata(metadata: object) -> dict[str, JsonValue]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidInput(f"metadata must be a JSON object, got {type(metadata).__name__}")
    for key in metadata:
        if not isinstance(key, str) or not key:
            raise InvalidInput("metadata keys must be non-empty strings")
    try:
        text = json.dumps(metadata, allow_nan=False)
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


def check_profile(profile: object) -> list[tuple[str, JsonValue, str]]:
    """``{"key": value}`` or ``{"key": {"value": v, "category": c}}`` → (key, value, category).

    Values are JSON scalars or lists of scalars; the default category is ``general``.
    """
    if profile is None:
        return []
    if not isinstance(profile, Mapping):
        raise InvalidInput(
            'profile must be an object of facts, e.g. {"risk_tolerance": "conservative"}'
        )
    facts: list[tuple[str, JsonValue, str]] = []
    for key, raw in profile.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise InvalidInput(
                f"profile key {key!r} must be 1-128 letters, digits, '_', '-', '.', ':' or spaces"
            )
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
                raise InvalidInput(f"profile[{key!r}].category must be a short word")
        if not _is_fact_value(value):
            raise InvalidInput(
                f"profile[{key!r}] must be a string, number, boolean or a list of those"
            )
        if isinstance(value, str) and not value.strip():
            raise InvalidInput(f"profile[{key!r}] is empty")
        if any(isinstance(v, str) and "\x00" in v for v in (value if isinstance(value, list)
                                                               else [value])):
            raise InvalidInput(f"profile[{key!r}] contains a NUL character")
        facts.append((key, value, category))
    return facts


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
        if key == "metadata":
            if not isinstance(value, Mapping):
                raise InvalidInput('filters.metadata must be an object, e.g. {"topic": "travel"}')
            for mkey, mvalue in value.items():
                if not isinstance(mkey, str) or not _KEY.match(mkey):
                    raise InvalidInput(f"filters.metadata key {mkey!r} is not a valid key")
                if mvalue is not None and not isinstance(mvalue, str | int | float | bool):
                    raise InvalidInput(
                        f"filters.metadata[{mkey!r}] must be a string, number, boolean or null"
                    )
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
        return parse_datetime(moment, "cursor"), memory_id
    except (ValueError, TypeError):
        raise InvalidInput("cursor is not one returned by list_memories") from None
