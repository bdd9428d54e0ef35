"""Query text → search terms: lower-case words without stop words, deduplicated."""

from __future__ import annotations

import re

from memvault.core.text.stopwords import STOP_WORDS

__all__ = ["terms"]

_WORD = re.compile(r"[\w][\w'’]*", re.UNICODE)


def terms(text: str) -> list[str]:
    """The distinct content words of ``text``, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in _WORD.finditer(text.lower()):
        word = match.group().replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        word = word.strip("'")
        if word and word not in STOP_WORDS:
            seen.setdefault(word, None)
    return list(seen)
