"""What the model is asked to answer, as a JSON Schema, and the reading of its answer.

The answer is ``{"facts": [...]}``; each fact has a ``key`` (snake_case, e.g. ``diet``), a
``value`` (a string, number, boolean or a list of them), a ``category``, the ``span`` of the
memory's text that states it, a ``confidence`` in [0, 1] and ``retracts`` (the text says the
value no longer holds: "I'm not vegan any more" is ``diet = vegan``, ``retracts = true``).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from memvault.errors import ModelReplyInvalid

__all__ = ["CATEGORIES", "RESPONSE_SCHEMA", "ExtractedFact", "read_reply", "reply_json"]

CATEGORIES = ("preference", "constraint", "background", "health", "finance", "style", "other")

Scalar = str | int | float | bool


class ExtractedFact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    key: str = Field(min_length=1, max_length=128)
    value: Scalar | list[Scalar] | None = None
    category: Literal["preference", "constraint", "background", "health", "finance",
                      "style", "other"] = "other"
    span: str = ""
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    retracts: bool = False


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore")

    facts: list[ExtractedFact]


_VALUE: dict[str, Any] = {"anyOf": [
    {"type": "string"}, {"type": "number"}, {"type": "boolean"},
    {"type": "array", "items": {"type": ["string", "number", "boolean"]}},
]}

#: The JSON Schema of a reply (``response_format`` ``json_schema``, strict).
RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["facts"],
    "properties": {"facts": {"type": "array", "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["key", "value", "category", "span", "confidence", "retracts"],
        "properties": {
            "key": {"type": "string"},
            "value": _VALUE,
            "category": {"type": "string", "enum": list(CATEGORIES)},
            "span": {"type": "string"},
            "confidence": {"type": "number"},
            "retracts": {"type": "boolean"},
        },
    }}},
}


def reply_json(answer: dict[str, Any], what: str) -> tuple[Any, int]:
    """The JSON of a chat-completions ``answer``'s message (a fenced ```json block accepted)
    and the tokens the answer reports (0 when it does not); raises
    :class:`~memvault.errors.ModelReplyInvalid` when there is no message or it is not JSON."""
    usage = answer.get("usage")
    tokens = usage.get("total_tokens", 0) if isinstance(usage, dict) else 0
    tokens = tokens if isinstance(tokens, int) and tokens >= 0 else 0
    try:
        content = answer["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ModelReplyInvalid(f"{what}: the reply has no message") from None
    if not isinstance(content, str):
        raise ModelReplyInvalid(f"{what}: the reply's message has no text")
    text = content.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        data = json.loads(text)
    except RecursionError:
        raise ModelReplyInvalid(f"{what}: the message's JSON is nested too deep to read") \
            from None
    except ValueError:
        raise ModelReplyInvalid(f"{what}: the message is not JSON: {text[:80]!r}") from None
    return data, tokens


def read_reply(answer: dict[str, Any], what: str) -> tuple[list[ExtractedFact], int]:
    """The facts of a chat-completions ``answer`` and the tokens it reports (0 when it does
    not). Raises :class:`~memvault.errors.ModelReplyInvalid` when there is no message, the
    message is not JSON (a fenced ```json block is accepted) or not the schema."""
    data, tokens = reply_json(answer, what)
    if isinstance(data, list):  # some small models answer the list alone
        data = {"facts": data}
    try:
        return _Reply.model_validate(data).facts, tokens
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ModelReplyInvalid(
            f"{what}: the message is not the facts schema ({where}: {first['msg']})"
        ) from None
