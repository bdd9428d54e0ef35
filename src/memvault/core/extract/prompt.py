"""The messages sent for one memory: what to extract, the user's current profile (so keys
are reused and changes recognised) and the memory's text."""

from __future__ import annotations

import json
from collections.abc import Sequence

from memvault.core.extract.schema import CATEGORIES
from memvault.models import Memory, ProfileFact

__all__ = ["messages"]

_SYSTEM = f"""You extract lasting facts about the user from one message they wrote or said.
Answer with JSON only: {{"facts": [...]}}. Each fact:
- "key": a short snake_case name (diet, home_city, answer_length); reuse a key of the current
  profile when the fact is about the same thing;
- "value": a short string, number, boolean or list;
- "category": one of {", ".join(CATEGORIES)};
- "span": the exact words of the message that state the fact;
- "confidence": 0 to 1;
- "retracts": true when the message says a value no longer holds ("I'm not vegan any more":
  key diet, value vegan, retracts true); a new value that replaces an old one is a plain fact.
Only facts about the user that stay true for a while; no questions, plans of the day or facts
about other people. When there are none, answer {{"facts": []}}."""


def messages(memory: Memory, profile: Sequence[ProfileFact], *, max_chars: int
             ) -> list[dict[str, str]]:
    """The chat messages for ``memory``, with at most ``max_chars`` of its content."""
    current = {fact.key: fact.value for fact in profile if fact.valid_to is None}
    text = memory.content[:max_chars]
    return [
        {"role": "system", "content": _SYSTEM},
        {"role": "user", "content":
            f"Current profile: {json.dumps(current, ensure_ascii=False)}\n"
            f"Message (said {memory.occurred_at.date().isoformat()}):\n{text}"},
    ]
