"""Generic tables: CSV with a header row, or JSONL (one JSON object a line).

A column mapping says which column holds each memory field (``content=text,
occurred_at=ts,session_id=conv``); a field without one is read from the column of its own
name. ``content`` is required; the other fields are ``occurred_at``, ``session_id``,
``agent_id``, ``user_id``, ``source``, ``metadata`` (a JSON object, or in CSV its text),
``id`` (the row's id in its source, used for its key: else its row number), ``memory_type``
(a configured memory type, named as in memvault's export) and ``data`` (its fields: a JSON
object, or in CSV its text). A typed
row may leave ``content`` empty: it is rendered from the data. Columns not mapped go in the
metadata.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import JsonValue

from memvault.core.importers.records import Problem, Record, moment
from memvault.core.validate import deep_key, nested_too_deep
from memvault.errors import InvalidInput

__all__ = ["FIELDS", "parse_csv", "parse_jsonl", "row_record"]

FIELDS = ("content", "occurred_at", "session_id", "agent_id", "user_id", "source",
          "metadata", "id", "memory_type", "data")


def parse_csv(name: str, data: bytes, mapping: Mapping[str, str]) -> Iterator[Record | Problem]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name}: is not UTF-8 text (byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = reader.fieldnames or []
    wanted = mapping.get("content", "content")
    if wanted not in columns:
        raise InvalidInput(f"{name}: no column {wanted!r} for content (columns: "
                           f"{', '.join(columns) or 'none'}); map one with content=COLUMN")
    for number, row in enumerate(reader, start=2):  # the header is line 1
        where = f"{name}: line {number}"
        try:
            yield row_record(where, f"csv:{name}", number, dict(row), mapping, csv_text=True)
        except InvalidInput as exc:
            yield Problem(where, str(exc))


def parse_jsonl(name: str, data: bytes, mapping: Mapping[str, str]
                ) -> Iterator[Record | Problem]:
    for number, line in enumerate(data.splitlines(), start=1):
        where = f"{name}: line {number}"
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except RecursionError:
            yield Problem(where, nested_too_deep(deep_key(line)))
            continue
        except ValueError:
            yield Problem(where, "is not JSON")
            continue
        if not isinstance(row, dict):
            yield Problem(where, "is not a JSON object")
            continue
        try:
            yield row_record(where, f"jsonl:{name}", number, row, mapping, csv_text=False)
        except InvalidInput as exc:
            yield Problem(where, str(exc))


def row_record(where: str, prefix: str, number: int, row: dict[str, Any],
               mapping: Mapping[str, str], *, csv_text: bool) -> Record:
    """One row → a record; ``csv_text``: every value is text (empty meaning absent)."""
    used = {mapping.get(field, field) for field in FIELDS}

    def get(field: str) -> Any:
        value = row.get(mapping.get(field, field))
        return None if csv_text and value == "" else value

    memory_type = _text(get("memory_type"), "memory_type")
    content = get("content")
    if content is None and memory_type is not None:
        content = ""  # rendered from the data when it is added
    if not isinstance(content, str):
        raise InvalidInput("content: missing or not text")
    metadata: dict[str, JsonValue] = dict(_object(get("metadata"), "metadata", csv_text) or {})
    data = _object(get("data"), "data", csv_text)
    if data is not None and memory_type is None:
        raise InvalidInput("data needs a type: give the memory type it follows")
    for column, value in row.items():
        if column is not None and column not in used and value not in (None, ""):
            metadata[str(column)] = value
    identity = get("id")
    return Record(
        position=where, key=f"{prefix}:{identity if identity is not None else number}",
        content=content, occurred_at=moment(get("occurred_at"), "occurred_at"),
        session_id=_text(get("session_id"), "session_id"),
        agent_id=_text(get("agent_id"), "agent_id"), source=_text(get("source"), "source"),
        metadata=metadata, user_id=_text(get("user_id"), "user_id"),
        memory_type=memory_type, data=data,
    )


def _object(value: object, field: str, csv_text: bool) -> dict[str, JsonValue] | None:
    """A JSON object given as one (JSONL) or as its text (CSV); ``None`` when absent."""
    if csv_text and isinstance(value, str):
        try:
            value = json.loads(value)
        except RecursionError:
            raise InvalidInput(nested_too_deep(field)) from None
        except ValueError:
            raise InvalidInput(f"{field}: is not JSON") from None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(f"{field} must be a JSON object, got {type(value).__name__}")
    return value


def _text(value: object, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInput(f"{field} must be a string, got {type(value).__name__}")
    return str(value)
