"""A cheap, deterministic entity extractor (no model, no LLM).

It finds URLs, e-mail addresses, @handles, #hashtags, quoted terms and runs of capitalised
words ("Caroline", "New York City"), and returns them normalised (lower case, possessive
``'s`` dropped) in order of first appearance. Leading words that are usually capitalised only
because they start a sentence ("The", "Yesterday", "Thanks") are dropped from a run.
"""

from __future__ import annotations

import re

__all__ = ["extract_entities"]

_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{2,39}\b")
_HASHTAG = re.compile(r"(?<![\w#])#[A-Za-z][\w-]{1,49}")
_QUOTED = re.compile(r"[\"“]([^\"“”\n]{2,60})[\"”]")
_CAPITALISED = re.compile(
    r"\b[A-Z][\w'’-]*(?:[ \t]+(?:of|de|van|von|the)?[ \t]*[A-Z][\w'’-]*)*"
)

_MAX_NAME_WORDS = 5

_SENTENCE_WORDS = frozenset(
    [
        "a",
        "about",
        "after",
        "again",
        "all",
        "also",
        "although",
        "an",
        "and",
        "any",
        "anyway",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "don't",
        "during",
        "each",
        "even",
        "every",
        "for",
        "from",
        "good",
        "great",
        "had",
        "has",
        "have",
        "he",
        "hello",
        "her",
        "here",
        "hey",
        "hi",
        "his",
        "how",
        "however",
        "i",
        "i'd",
        "i'll",
        "i'm",
        "i've",
        "if",
        "in",
        "is",
        "it",
        "it's",
        "its",
        "just",
        "last",
        "let",
        "let's",
        "like",
        "maybe",
        "me",
        "my",
        "next",
        "no",
        "not",
        "now",
        "of",
        "oh",
        "ok",
        "okay",
        "on",
        "once",
        "one",
        "only",
        "or",
        "our",
        "she",
        "since",
        "so",
        "some",
        "still",
        "than",
        "thank",
        "thanks",
        "that",
        "that's",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "though",
        "to",
        "today",
        "tomorrow",
        "too",
        "um",
        "us",
        "very",
        "was",
        "we",
        "well",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "why",
        "will",
        "with",
        "wow",
        "yeah",
        "yes",
        "yesterday",
        "yet",
        "you",
        "your",
        "also",
        "sure",
        "great",
        "awesome",
        "nice",
        "cool",
        "really",
        "sounds",
        "actually",
        "definitely",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
)


def _normalise(name: str) -> str:
    name = " ".join(name.split()).strip(" .,;:!?-'’\"")
    if name.lower().endswith(("'s", "’s")):
        name = name[:-2]
    return name.lower()


def extract_entities(text: str, *, limit: int = 32) -> list[str]:
    """Normalised entity names mentioned in ``text``, at most ``limit``."""
    found: dict[str, None] = {}

    def keep(name: str) -> None:
        norm = _normalise(name)
        if len(norm) >= 2 and len(found) < limit:
            found.setdefault(norm, None)

    rest = text
    for pattern in (_URL, _EMAIL):
        for match in pattern.finditer(rest):
            keep(match.group().rstrip(".,;:!?"))
        rest = pattern.sub(" ", rest)
    for pattern in (_HANDLE, _HASHTAG):
        for match in pattern.finditer(rest):
            keep(match.group())
    for match in _QUOTED.finditer(rest):
        keep(match.group(1))
    for match in _CAPITALISED.finditer(rest):
        words = match.group().split()
        while words and words[0].lower().strip("'’") in _SENTENCE_WORDS:
            words.pop(0)
        while words and words[-1].lower() in {"of", "de", "van", "von", "the"}:
            words.pop()
        if len(words) > _MAX_NAME_WORDS:  # a title-cased line, not a name: keep the words
            for word in words:
                if word.lower().strip("'’") not in _SENTENCE_WORDS:
                    keep(word)
        elif words:
            keep(" ".join(words))
    return list(found)
