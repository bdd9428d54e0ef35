"""ChatGPT's data export: ``conversations.json``, a list of conversations.

Each conversation holds its messages as a tree: ``mapping`` maps node ids to nodes with a
``parent``, ``children`` and a ``message`` (or ``null`` for the root). Regenerating an answer
or editing a question adds a sibling branch; ``current_node`` is the leaf of the branch the
user last saw. Only that branch is imported, walked from ``current_node`` up to the root (an
export without it: the branch ending at the newest leaf).

A message has ``author.role`` (``user``, ``assistant``, ``system``, ``tool``),
``content.content_type`` with ``parts`` (strings, and for ``multimodal_text`` also objects
for images), ``create_time`` (epoch seconds as a float, sometimes ``null``) and
``metadata`` (``attachments``, ``model_slug``, ``is_visually_hidden_from_conversation``).
User and assistant turns with text become memories written ``"user: ..."`` /
``"assistant: ..."`` (memvault's convention for chat turns); system, tool and hidden
messages, and messages without text, are left out. The conversation is the session (its
id), its title goes in each memory's metadata. A message without a time takes the time of
the message before it (or the conversation's).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from pydantic import JsonValue

from memvault.core.importers.records import (
    Problem,
    Record,
    conversation_records,
    conversations,
    moment,
    text_of,
)
from memvault.errors import InvalidInput

__all__ = ["parse"]

_ROLES = ("user", "assistant")
_TEXT_TYPES = ("text", "multimodal_text")


def parse(name: str, data: bytes) -> Iterator[Record | Problem]:
    for number, conversation in enumerate(conversations(name, data, "ChatGPT"), start=1):
        where = f"{name}: conversation {number}"
        try:
            yield from _conversation(where, conversation)
        except InvalidInput as exc:
            yield Problem(where, str(exc))


def _conversation(where: str, conversation: object) -> Iterator[Record | Problem]:
    if not isinstance(conversation, dict):
        raise InvalidInput("is not an object")
    mapping = conversation.get("mapping")
    if not isinstance(mapping, dict):
        raise InvalidInput("mapping: missing or not an object")
    conversation_id = text_of(conversation.get("conversation_id")) or text_of(
        conversation.get("id"))
    if not conversation_id:
        raise InvalidInput("id: missing")
    title = text_of(conversation.get("title")).strip()
    started = _time(conversation.get("create_time"), "create_time")
    branch = _branch(mapping, conversation.get("current_node"))
    messages = [(number, node["message"]) for number, node in enumerate(branch, start=1)
                if isinstance(node.get("message"), dict)]
    yield from conversation_records(
        where, messages,
        lambda here, message, before: _message(here, conversation_id, title, message, before),
        started)


def _branch(mapping: Mapping[str, Any], current: object) -> list[dict[str, Any]]:
    """The nodes from the root to ``current`` (or to the newest leaf), oldest first."""
    if not isinstance(current, str) or current not in mapping:
        leaves = [key for key, node in mapping.items()
                  if isinstance(node, dict) and not node.get("children")]
        if not leaves:
            return []
        current = max(leaves, key=lambda key: _sort_time(mapping[key]))
    path: list[dict[str, Any]] = []
    seen: set[str] = set()
    key: object = current
    while isinstance(key, str) and key in mapping and key not in seen:
        seen.add(key)
        node = mapping[key]
        if not isinstance(node, dict):
            break
        path.append(node)
        key = node.get("parent")
    path.reverse()
    return path


def _sort_time(node: object) -> float:
    message = node.get("message") if isinstance(node, dict) else None
    value = message.get("create_time") if isinstance(message, dict) else None
    return float(value) if isinstance(value, int | float) else 0.0


def _time(value: object, field: str) -> datetime | None:
    return moment(value, field)


def _message(where: str, conversation_id: str, title: str, message: dict[str, Any],
             started: datetime | None) -> Record | None:
    author = message.get("author")
    role = author.get("role") if isinstance(author, dict) else None
    given = message.get("metadata")
    meta: dict[str, Any] = given if isinstance(given, dict) else {}
    if role not in _ROLES or meta.get("is_visually_hidden_from_conversation"):
        return None
    content = message.get("content")
    if not isinstance(content, dict) or content.get("content_type") not in _TEXT_TYPES:
        return None
    parts = content.get("parts")
    if not isinstance(parts, list):
        return None
    texts = [part.strip() for part in parts if isinstance(part, str) and part.strip()]
    attachments = _attachments(meta, parts)
    if not texts:
        return None
    metadata: dict[str, JsonValue] = {"imported_from": "chatgpt",
                                      "conversation_id": conversation_id}
    if title:
        metadata["title"] = title
    if attachments:
        metadata["attachments"] = list(attachments)
    model = meta.get("model_slug")
    if isinstance(model, str) and model:
        metadata["model"] = model
    message_id = text_of(message.get("id")) or where
    occurred = _time(message.get("create_time"), "create_time") or started
    return Record(
        position=where, key=f"chatgpt:{conversation_id}:{message_id}",
        content=f"{role}: " + "\n\n".join(texts), occurred_at=occurred,
        session_id=conversation_id, source="chatgpt", metadata=metadata,
    )


def _attachments(meta: Mapping[str, Any], parts: list[Any]) -> list[JsonValue]:
    """The names of a message's attachments: files (``metadata.attachments``) and images
    (``image_asset_pointer`` parts)."""
    names: list[JsonValue] = []
    files = meta.get("attachments")
    for item in files if isinstance(files, list) else []:
        if isinstance(item, dict):
            names.append(text_of(item.get("name")) or text_of(item.get("id")) or "attachment")
    for part in parts:
        if isinstance(part, dict):
            pointer = text_of(part.get("asset_pointer"))
            names.append(pointer or text_of(part.get("content_type")) or "attachment")
    return names
