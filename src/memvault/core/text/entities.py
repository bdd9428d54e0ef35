"""A cheap, deterministic entity extractor (no model, no LLM).

It finds URLs, e-mail addresses, @handles, #hashtags, quoted terms and runs of capitalised
words ("Caroline", "New York City"), and returns them normalised (lower case, possessive
``'s`` dropped) in order of first appearance. Leading words that are usually capitalised only
because they start a sentence ("The", "Yesterday", "Thanks") are dropped from a run. The first
word of a sentence is not (part of) a name either when it is a common verb ("Booked Lisbon
flight" names "lisbon"; "Remember Anna" names "anna") or looks like one: an "-ed" or "-ing"
form ("Piped memory" names nothing), unless the same word is capitalised elsewhere in the text
where no sentence starts.

In Chinese text, names are found by :func:`memvault.core.text.cjk_names.cjk_names` (the
speaker label, a family name with a title, the name after "叫" or a relation); a Latin name
glued to Chinese text ("分析员Alice经常") is a name as it is between spaces, and a term in
corner brackets (「…」, 『…』) is a quoted term.
"""

from __future__ import annotations

import re

from memvault.analysis import has_cjk, mask_cjk
from memvault.core.text.cjk_names import cjk_names
from memvault.core.text.speakers import speaker_of
from memvault.core.text.stopwords import OPENING_VERBS, SENTENCE_OPENERS, STOP_WORDS

__all__ = ["entity_key", "extract_entities"]

_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{2,39}\b")
_HASHTAG = re.compile(r"(?<![\w#])#[A-Za-z][\w-]{1,49}")
_QUOTED = re.compile(r"[\"“「『]([^\"“”「」『』\n]{2,60})[\"”」』]")
_CAPITALISED = re.compile(
    r"\b[A-Z][\w'’-]*(?:[ \t]+(?:of|de|van|von|the)?[ \t]*[A-Z][\w'’-]*)*"
)
_WORD = re.compile(r"\b[A-Z][\w'’-]*")

_MAX_NAME_WORDS = 5
#: What may stand between a sentence's end (or the text's start) and its first word.
_OPENING_PUNCTUATION = " \t\"'“‘([{*•>-"
#: Names that end like a verb form (compared lower case).
_VERB_LIKE_NAMES = frozenset(["ahmed", "beijing", "mohammed", "muhammed", "reading", "sterling"])

#: Words dropped from the start of a run of capitalised words (and from a title-cased line):
#: a stop word or a sentence opener there is most likely capitalised because it starts a
#: sentence.
_SENTENCE_WORDS = STOP_WORDS | SENTENCE_OPENERS


def _normalise(name: str) -> str:
    name = " ".join(name.split()).strip(" .,;:!?-'’\"")
    if name.lower().endswith(("'s", "’s")):
        name = name[:-2]
    return name.lower()


def _starts_sentence(text: str, start: int) -> bool:
    before = text[:start].rstrip(_OPENING_PUNCTUATION)
    return not before or before[-1] in ".!?:;\n\r"


def _verb_like(word: str) -> bool:
    low = word.lower().strip("'’")
    if low in OPENING_VERBS:
        return True
    if low in _VERB_LIKE_NAMES:
        return False
    return (len(low) >= 5 and low.endswith("ed")) or (len(low) >= 6 and low.endswith("ing"))


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
    mixed = has_cjk(rest)
    if mixed:  # a Latin name glued to Chinese text is a word of its own
        rest = mask_cjk(rest)
    mid_sentence = {
        word.group().lower()
        for word in _WORD.finditer(rest)
        if not _starts_sentence(rest, word.start())
    }
    for match in _CAPITALISED.finditer(rest):
        words = match.group().split()
        if (
            _starts_sentence(rest, match.start())
            and _verb_like(words[0])
            and words[0].lower() not in mid_sentence
        ):
            words.pop(0)
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
    if mixed:
        for name in cjk_names(text, speaker_of(text)):
            keep(name)
    return list(found)


def entity_key(name: str | None) -> str | None:
    """The entity an entity filter naming ``name`` matches: the first entity
    :func:`extract_entities` finds in it, else ``name`` stripped and lower-cased
    (``None``: no entity filter)."""
    if name is None:
        return None
    found = extract_entities(name)
    return found[0] if found else name.strip().lower()
