"""A mem0 or OpenMemory export: memories with their ids, users and metadata.

Accepted shapes: a list of memories; ``{"results": [...]}`` (mem0's ``get_all``); or
``{"memories": [...]}`` (an OpenMemory export, whose ``user`` may name the user). Each
memory has an ``id``, its text in ``memory`` (mem0), ``content`` or ``text``
(OpenMemory), and optionally ``user_id``, ``agent_id``, ``run_id`` (the session),
``metadata``, ``categories``, ``created_at`` and ``state`` (a ``deleted`` one is left out).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import JsonValue

from memvault.core.importers.records import Problem, Record, load_json, moment, text_of
from memvault.errors import InvalidInput

__all__ = ["parse"]

_GONE = {"deleted", "archived"}


def parse(name: str, data: bytes) -> Iterator[Record | Problem]:
    document = load_json(name, data)
    owner = None
    if isinstance(document, dict):
        user = document.get("user")
        owner = text_of(user.get("user_id")) if isinstance(user, dict) else text_of(user)
        owner = owner or text_of(document.get("user_id")) or None
        for field in ("results", "memories"):
            if isinstance(document.get(field), list):
                document = document[field]
                break
    if not isinstance(document, list):
        raise InvalidInput(f"{name}: expected a list of memories, or an object with "
                           "'results' or 'memories'")
    for number, memory in enumerate(document, start=1):
        where = f"{name}: memory {number}"
        try:
            record = _memory(where, memory, owner)
        except InvalidInput as exc:
            yield Problem(where, str(exc))
            continue
        if record is not None:
            yield record


def _memory(where: str, memory: object, owner: str | None) -> Record | None:
    if not isinstance(memory, dict):
        raise InvalidInput("is not an object")
    if text_of(memory.get("state")).lower() in _GONE:
        return None
    text = next((memory[f] for f in ("memory", "content", "text")
                 if isinstance(memory.get(f), str)), None)
    if text is None:
        raise InvalidInput("memory: missing (no 'memory', 'content' or 'text')")
    memory_id = text_of(memory.get("id")) or where
    given: Any = memory.get("metadata")
    if given is not None and not isinstance(given, dict):
        raise InvalidInput(f"metadata must be a JSON object, got {type(given).__name__}")
    metadata: dict[str, JsonValue] = {**(given or {}), "imported_from": "mem0",
                                      "mem0_id": memory_id}
    categories = memory.get("categories")
    if isinstance(categories, list) and categories:
        metadata["categories"] = [c for c in categories if isinstance(c, str)]
    app = memory.get("app_name") or memory.get("app")
    if isinstance(app, str) and app:
        metadata["app"] = app
    return Record(
        position=where, key=f"mem0:{memory_id}", content=text,
        occurred_at=moment(memory.get("created_at"), "created_at"),
        session_id=text_of(memory.get("run_id")) or None,
        agent_id=text_of(memory.get("agent_id")) or None, source="mem0",
        metadata=metadata, user_id=text_of(memory.get("user_id")) or owner,
    )
