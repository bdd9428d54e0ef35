"""Who said it: the speaker label of a conversational memory, and speakers named in a query.

Conversation turns are commonly stored as ``"<speaker>: <text>"`` ("Caroline: I went to a
support group", "user: book me a window seat"). Search treats the label as structure rather
than words:

* the text that is embedded is the body without its label, so that a turn's vector says what
  was said, not who said it (the label would pull every question about a person towards every
  turn of theirs alike);
* when a query names a speaker ("What did Caroline research?"), that speaker's own turns are
  preferred, and the name is replaced by a pronoun in the text embedded for the query.

A label is one to three words before a colon at the very start: capitalised words (a name),
or one of the usual role names in any case (``user``, ``assistant``...). Anything else
("Note: ...", a URL, a time such as "10:30") is not taken for a label when it does not look
like a name; the cost of a wrong guess is small, since the content itself is never changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from memvault.core.text.roles import ROLE_LABELS

__all__ = ["body_text", "mask_speakers", "speaker_of", "speakers_named"]

#: Role labels (:mod:`memvault.core.text.roles`): a label in any case, never a name.
_ROLES = frozenset().union(*ROLE_LABELS.values())
_NOT_NAMES = frozenset(
    [
        "note", "notes", "update", "summary", "todo", "reminder", "important", "warning",
        "question", "answer", "q", "a", "re", "fwd", "subject", "tip", "fact", "edit", "ps",
        "http", "https", "mailto", "step", "example", "error", "info", "debug",
    ]
)
_LABEL = re.compile(
    r"^\s*((?:[A-Z][\w'’.-]{0,30})(?:[ ][A-Z][\w'’.-]{0,30}){0,2}|[A-Za-z]{2,10})\s*:\s+(?=\S)"
)


def speaker_of(content: str) -> str | None:
    """The speaker label at the start of ``content``, lower-cased, or ``None``."""
    match = _LABEL.match(content)
    if match is None:
        return None
    label = match.group(1)
    lowered = label.lower()
    if lowered in _NOT_NAMES:
        return None
    if not label[0].isupper() and lowered not in _ROLES:
        return None
    return lowered


def body_text(content: str) -> str:
    """``content`` without its speaker label (unchanged when it has none)."""
    match = _LABEL.match(content)
    if match is None or speaker_of(content) is None:
        return content
    return content[match.end():]


def _name_pattern(name: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w'’])" + re.escape(name) + r"(?:['’]s)?(?![\w'’])", re.IGNORECASE)


def speakers_named(query: str, speakers: Iterable[str]) -> list[str]:
    """The speakers (lower-case labels) that ``query`` names, in order of first mention.

    Role labels such as ``user`` count only when written as a name would be; a query that
    says "the user" is about the user but seldom means their label alone.
    """
    found: list[tuple[int, str]] = []
    for speaker in set(speakers):
        if speaker in _ROLES:
            continue
        match = _name_pattern(speaker).search(query)
        if match is not None:
            found.append((match.start(), speaker))
    return [speaker for _, speaker in sorted(found)]


def mask_speakers(query: str, speakers: Iterable[str]) -> str:
    """``query`` with each named speaker (and their possessive) replaced by a pronoun."""
    for speaker in speakers:
        query = _name_pattern(speaker).sub("they", query)
    return query
