"""Markdown notes: one memory per heading section, the YAML front matter as metadata.

A file may open with front matter (``---`` lines around ``key: value`` lines; read by a
small parser that takes strings, numbers, booleans, ``null`` and inline ``[a, b]`` lists,
nothing executable). ``session_id`` (or ``session``), ``agent_id`` (or ``agent``) and
``date`` set the memories' session, agent and time; the other keys go in each memory's
metadata. Each ATX heading (``#`` to ``######``, outside fenced code) starts a section: its
memory is the heading's text and the body below it; text before the first heading is a
section of its own.

A file written by ``memvault export --to markdown`` has a marker after each heading
(``<!-- memvault {...} -->``, one line of JSON with the memory's id, time, session and
metadata): there each marker starts a memory, whose content is the text up to the next
heading with a marker, and its id is kept, so importing the export adds nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from pydantic import JsonValue

from memvault.core.importers.records import Problem, Record, moment, text_of
from memvault.core.validate import deep_key, nested_too_deep
from memvault.errors import InvalidInput

__all__ = ["MARKER", "PROFILE_FORMAT", "SESSION_FORMAT", "front_matter", "marker_line", "parse"]

SESSION_FORMAT = "memvault-markdown"
PROFILE_FORMAT = "memvault-profile"

MARKER = re.compile(r"^<!-- memvault (\{.*\}) -->$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_KEY = re.compile(r"^([A-Za-z_][\w.-]*)\s*:\s*(.*)$")
_FIELDS = {"session_id": "session_id", "session": "session_id", "agent_id": "agent_id",
           "agent": "agent_id"}
_DATES = ("date", "created", "created_at")


def marker_line(fields: dict[str, JsonValue]) -> str:
    """The marker a Markdown export writes after a memory's heading."""
    return "<!-- memvault " + json.dumps(fields, ensure_ascii=False).replace("-->", "--\\u003e") \
        + " -->"


def parse(name: str, data: bytes) -> Iterator[Record | Problem]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name}: is not UTF-8 text (byte {exc.start})") from None
    lines = text.splitlines()
    try:
        matter, start = front_matter(lines)
    except InvalidInput as exc:
        raise InvalidInput(f"{name}: front matter: {exc}") from None
    body = lines[start:]
    if matter.get("format") == PROFILE_FORMAT:
        return  # a profile page: its facts are read from the JSONL export, not from here
    if any(MARKER.match(line) for line in body):
        yield from _exported(name, body, matter)
    else:
        yield from _notes(name, body, matter)


def front_matter(lines: list[str]) -> tuple[dict[str, JsonValue], int]:
    """The front matter's keys and the index of the first line after it."""
    if not lines or lines[0].strip() != "---":
        return {}, 0
    matter: dict[str, JsonValue] = {}
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() in ("---", "..."):
            return matter, index + 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        found = _KEY.match(line)
        if found is None:
            raise InvalidInput(f"line {index + 1}: not 'key: value'")
        matter[found.group(1)] = _scalar(found.group(2).strip())
    raise InvalidInput("no closing '---'")


def _scalar(text: str) -> JsonValue:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            loaded: JsonValue = json.loads(text)
            return loaded
        except ValueError:
            return text[1:-1]
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1]
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [_scalar(part.strip()) for part in inner.split(",")] if inner else []
    lowered = text.lower()
    if lowered in ("true", "yes"):
        return True
    if lowered in ("false", "no"):
        return False
    if lowered in ("null", "~", ""):
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _common(matter: dict[str, JsonValue]) -> tuple[dict[str, Any], dict[str, JsonValue]]:
    """Front matter → the record fields it sets and the metadata it adds."""
    fields: dict[str, Any] = {}
    metadata: dict[str, JsonValue] = {}
    for key, value in matter.items():
        if key in _FIELDS and isinstance(value, str | int) and not isinstance(value, bool):
            fields[_FIELDS[key]] = str(value)
        elif key in _DATES and "occurred_at" not in fields:
            fields["occurred_at"] = moment(value, key)
        else:
            metadata[key] = value
    return fields, metadata


def _notes(name: str, lines: list[str], matter: dict[str, JsonValue]
           ) -> Iterator[Record | Problem]:
    try:
        fields, shared = _common(matter)
    except InvalidInput as exc:
        yield Problem(f"{name}: front matter", str(exc))
        return
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    fenced = False
    for line in lines:
        if _FENCE.match(line):
            fenced = not fenced
        heading = None if fenced else _HEADING.match(line)
        if heading is not None:
            sections.append((heading.group(2), []))
        else:
            sections[-1][1].append(line)
    number = 0
    for title, body in sections:
        text = "\n".join(body).strip()
        if title is None and not text:
            continue
        number += 1
        content = "\n\n".join(part for part in (title, text) if part)
        if not content.strip():
            continue
        metadata: dict[str, JsonValue] = {**shared, "imported_from": "markdown", "file": name}
        if title:
            metadata["heading"] = title
        yield Record(position=f"{name}: section {number}", key=f"markdown:{name}:{number}",
                     content=content, source="markdown", metadata=metadata, **fields)


def _exported(name: str, lines: list[str], matter: dict[str, JsonValue]
              ) -> Iterator[Record | Problem]:
    marks = [i for i, line in enumerate(lines) if MARKER.match(line)]
    for number, index in enumerate(marks, start=1):
        where = f"{name}: section {number}"
        end = marks[number] if number < len(marks) else len(lines)
        # The memory ends before the next memory's heading (the line above its marker).
        if number < len(marks):
            while end > index + 1 and not _HEADING.match(lines[end - 1]):
                end -= 1
            end -= 1
        content = "\n".join(lines[index + 1:max(end, index + 1)]).strip("\n")
        found = MARKER.match(lines[index])
        try:
            fields = json.loads(found.group(1)) if found else None
        except RecursionError:
            key = deep_key(found.group(1)) if found else None
            yield Problem(where, nested_too_deep(
                f"the memvault marker's {key}" if key else "the memvault marker"))
            continue
        except ValueError:
            fields = None
        if not isinstance(fields, dict):
            yield Problem(where, "the memvault marker is not a JSON object")
            continue
        metadata = fields.get("metadata")
        try:
            yield Record(
                position=where, key=f"markdown:{name}:{number}", content=content,
                occurred_at=moment(fields.get("occurred_at"), "occurred_at"),
                session_id=text_of(fields.get("session_id")) or text_of(
                    matter.get("session_id")) or None,
                agent_id=text_of(fields.get("agent_id")) or None,
                source=text_of(fields.get("source")) or None,
                metadata=metadata if isinstance(metadata, dict) else {},
                memory_id=text_of(fields.get("id")) or None,
            )
        except InvalidInput as exc:
            yield Problem(where, str(exc))
