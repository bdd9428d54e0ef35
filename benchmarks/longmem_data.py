"""LoCoMo's conversations as long memories: consecutive turns merged into messages of a few
kilobytes, and each question's evidence mapped to the messages that hold its turns (see
:mod:`benchmarks.longmem`).

The merging rule, per session, in order (a message never spans two sessions):

1. Consecutive turns of the same speaker become one line, ``"<speaker>: <text> <text>"``.
2. Lines are packed into a message, joined by newlines, until it holds at least
   ``min_chars`` characters; a line that would take it past ``max_chars`` starts the next
   message instead (a single line longer than ``max_chars`` is a message of its own).
3. What is left at the end of a session, if shorter than ``min_chars``, joins the session's
   previous message when the two fit in ``max_chars``; otherwise it stays a short message.

LoCoMo's speakers alternate nearly every turn, so step 1 rarely merges and step 2 makes
messages of several speakers: a message reads as a stretch of the conversation in
``"<speaker>: ..."`` blocks, each block one speaker's consecutive turns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from benchmarks.locomo_data import Conversation, Question, Session, Turn

__all__ = [
    "MAX_CHARS",
    "MIN_CHARS",
    "LongConversation",
    "Message",
    "long_questions",
    "merge_conversation",
    "merge_session",
]

MIN_CHARS = 2000
MAX_CHARS = 5000


@dataclass(frozen=True)
class Message:
    """One long memory: its id within the conversation (``"m<n>"``), its text and the
    dia_ids of the turns it holds."""

    message_id: str
    session_id: str
    occurred_at: datetime
    content: str
    dia_ids: tuple[str, ...]


@dataclass(frozen=True)
class LongConversation:
    sample_id: str
    messages: tuple[Message, ...]
    by_dia_id: dict[str, str]
    """dia_id → message_id."""

    def sessions(self) -> list[list[Message]]:
        """The messages grouped by session, in order."""
        groups: list[list[Message]] = []
        for message in self.messages:
            if groups and groups[-1][0].session_id == message.session_id:
                groups[-1].append(message)
            else:
                groups.append([message])
        return groups


def _speaker(turn: Turn) -> tuple[str, str]:
    speaker, _, text = turn.content.partition(": ")
    return speaker, text


def _lines(turns: Iterable[Turn]) -> list[tuple[str, tuple[str, ...]]]:
    """Step 1: ``(line, dia_ids)`` per run of one speaker's consecutive turns."""
    runs: list[tuple[str, list[str], list[str]]] = []
    for turn in turns:
        speaker, text = _speaker(turn)
        if runs and runs[-1][0] == speaker:
            runs[-1][1].append(text)
            runs[-1][2].append(turn.dia_id)
        else:
            runs.append((speaker, [text], [turn.dia_id]))
    return [(f"{speaker}: {' '.join(texts)}", tuple(ids)) for speaker, texts, ids in runs]


def merge_session(session: Session, *, min_chars: int = MIN_CHARS,
                  max_chars: int = MAX_CHARS) -> list[tuple[str, tuple[str, ...]]]:
    """Steps 1-3 for one session: ``(content, dia_ids)`` per message, in order."""
    messages: list[tuple[list[str], list[str]]] = []
    lines: list[str] = []
    ids: list[str] = []
    size = 0
    for line, line_ids in _lines(session.turns):
        added = len(line) + (1 if lines else 0)
        if lines and size + added > max_chars:
            messages.append((lines, ids))
            lines, ids, size, added = [], [], 0, len(line)
        lines.append(line)
        ids.extend(line_ids)
        size += added
        if size >= min_chars:
            messages.append((lines, ids))
            lines, ids, size = [], [], 0
    if lines:
        if messages and size < min_chars:
            last_lines, last_ids = messages[-1]
            if len("\n".join(last_lines)) + 1 + size <= max_chars:
                last_lines.extend(lines)
                last_ids.extend(ids)
                lines = []
        if lines:
            messages.append((lines, ids))
    return [("\n".join(lines), tuple(ids)) for lines, ids in messages]


def merge_conversation(conversation: Conversation, *, min_chars: int = MIN_CHARS,
                       max_chars: int = MAX_CHARS) -> LongConversation:
    messages: list[Message] = []
    by_dia_id: dict[str, str] = {}
    for session in conversation.sessions:
        for content, dia_ids in merge_session(session, min_chars=min_chars,
                                              max_chars=max_chars):
            message_id = f"m{len(messages) + 1}"
            messages.append(Message(message_id, session.session_id, session.occurred_at,
                                    content, dia_ids))
            by_dia_id |= dict.fromkeys(dia_ids, message_id)
    return LongConversation(conversation.sample_id, tuple(messages), by_dia_id)


def long_questions(questions: Sequence[Question],
                   conversations: Sequence[LongConversation]) -> list[Question]:
    """The questions with their evidence mapped from turns to the messages holding them
    (several evidence turns in one message count once)."""
    maps = {c.sample_id: c.by_dia_id for c in conversations}
    return [
        Question(q.sample_id, q.category, q.text, frozenset(
            (sample_id, maps[sample_id][dia_id]) for sample_id, dia_id in q.evidence
        ))
        for q in questions
        if q.sample_id in maps
    ]
