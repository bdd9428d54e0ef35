"""Claude's data export: ``conversations.json``, a list of conversations.

Each conversation has a ``uuid``, a ``name`` (its title), ``created_at`` (ISO 8601) and
``chat_messages``, in order: each with a ``uuid``, ``sender`` (``human`` or ``assistant``),
``created_at``, ``text`` and, in newer exports, ``content`` blocks (``{"type": "text",
"text": ...}``, ``tool_use``, ``tool_result``...), plus ``attachments`` (``file_name``,
``extracted_content``) and ``files`` (``file_name``). The text blocks (else ``text``) make
the memory, written ``"user: ..."`` / ``"assistant: ..."``; tool blocks are left out, and
attachments are named in the metadata. The conversation is the session, its name goes in
each memory's metadata. A message without a time takes the time of the one before it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import datetime

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

_ROLES = {"human": "user", "user": "user", "assistant": "assistant"}


def parse(name: str, data: bytes) -> Iterator[Record | Problem]:
    for number, conversation in enumerate(conversations(name, data, "Claude"), start=1):
        where = f"{name}: conversation {number}"
        if not isinstance(conversation, dict):
            yield Problem(where, "is not an object")
            continue
        conversation_id = text_of(conversation.get("uuid"))
        messages = conversation.get("chat_messages")
        if not conversation_id or not isinstance(messages, list):
            yield Problem(where, "uuid or chat_messages: missing")
            continue
        title = (text_of(conversation.get("name")) or text_of(conversation.get("title"))).strip()
        try:
            started = moment(conversation.get("created_at"), "created_at")
        except InvalidInput as exc:
            yield Problem(where, str(exc))
            continue
        yield from conversation_records(
            where, enumerate(messages, start=1),
            functools.partial(_message, conversation_id, title),
            started)


def _message(conversation_id: str, title: str, where: str, message: object,
             started: datetime | None) -> Record | None:
    if not isinstance(message, dict):
        raise InvalidInput("is not an object")
    role = _ROLES.get(text_of(message.get("sender")))
    if role is None:
        return None
    blocks = message.get("content")
    texts: list[str] = []
    if isinstance(blocks, list):
        texts = [text_of(b.get("text")).strip() for b in blocks
                 if isinstance(b, dict) and b.get("type") == "text"]
    texts = [t for t in texts if t] or [text_of(message.get("text")).strip()]
    texts = [t for t in texts if t]
    if not texts:
        return None
    metadata: dict[str, JsonValue] = {"imported_from": "claude",
                                      "conversation_id": conversation_id}
    if title:
        metadata["title"] = title
    attached: list[JsonValue] = []
    for group in ("attachments", "files"):
        items = message.get(group)
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                attached.append(text_of(item.get("file_name")) or "attachment")
    if attached:
        metadata["attachments"] = attached
    message_id = text_of(message.get("uuid")) or where
    occurred = moment(message.get("created_at"), "created_at") or started
    return Record(
        position=where, key=f"claude:{conversation_id}:{message_id}",
        content=f"{role}: " + "\n\n".join(texts), occurred_at=occurred,
        session_id=conversation_id, source="claude", metadata=metadata,
    )
