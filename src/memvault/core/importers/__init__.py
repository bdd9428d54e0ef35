"""Parsers of other tools' exports: each turns a file's bytes into memvault records.

One module per format; each is a pure function from a named file's bytes to an iterator of
:class:`Record` (a memory to add, with its stable source position and key) and
:class:`Problem` (a record that cannot be read, by position). Nothing here touches a store:
the driver (:mod:`memvault.core.importing`) validates the records as an add does and writes
them in batches.

A record's :attr:`Record.key` names it in its source (format, conversation and message ids,
or file and section), so that importing the same file again yields the same keys: the driver
derives each memory's id and idempotency key from it, and re-running adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Literal, get_args

from memvault.core.importers import chatgpt, claude, markdown, mem0, table
from memvault.core.importers.records import Problem, Record
from memvault.errors import InvalidInput

__all__ = ["FORMATS", "Format", "Problem", "Record", "parse", "parse_mapping"]

Format = Literal["jsonl", "chatgpt", "claude", "mem0", "markdown", "csv"]
FORMATS: tuple[str, ...] = get_args(Format)

Parser = Callable[[str, bytes, Mapping[str, str]], Iterator[Record | Problem]]

_PARSERS: dict[str, Parser] = {
    "chatgpt": lambda name, data, _: chatgpt.parse(name, data),
    "claude": lambda name, data, _: claude.parse(name, data),
    "mem0": lambda name, data, _: mem0.parse(name, data),
    "markdown": lambda name, data, _: markdown.parse(name, data),
    "csv": table.parse_csv,
    "jsonl": table.parse_jsonl,
}


def parse(format: str, name: str, data: bytes,
          mapping: Mapping[str, str] | None = None) -> Iterator[Record | Problem]:
    """The records of one file (``name`` as positions should call it) in ``format``."""
    parser = _PARSERS.get(format)
    if parser is None:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    return parser(name, data, mapping or {})


def parse_mapping(text: str | None) -> dict[str, str]:
    """``content=text,occurred_at=ts`` → ``{"content": "text", "occurred_at": "ts"}``: which
    column (or JSON field) of a table holds each memory field."""
    if not text:
        return {}
    mapping: dict[str, str] = {}
    for part in text.split(","):
        field, sep, column = (s.strip() for s in part.partition("="))
        if not sep or not field or not column:
            raise InvalidInput(f"map: {part.strip()!r} is not FIELD=COLUMN")
        if field not in table.FIELDS:
            raise InvalidInput(f"map: unknown field {field!r} (one of "
                               f"{', '.join(table.FIELDS)})")
        mapping[field] = column
    return mapping
