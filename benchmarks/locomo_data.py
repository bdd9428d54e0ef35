"""The LoCoMo data set as the benchmark reads it: conversations, sessions, turns and the
scored questions, with their evidence normalised (see :mod:`benchmarks.locomo`)."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "CATEGORIES",
    "EXPECTED_QUESTIONS",
    "KS",
    "Conversation",
    "Dataset",
    "Key",
    "Question",
    "Session",
    "Turn",
    "ceiling",
    "load_dataset",
    "normalise_dia_id",
    "normalise_evidence",
    "select",
    "self_check",
    "turn_content",
]

DATE_FORMAT = "%I:%M %p on %d %B, %Y"
KS = (5, 10)
EXPECTED_QUESTIONS = 1536
EXPECTED_CEILINGS = {5: 0.9948, 10: 0.9993}
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
ADVERSARIAL = 5

Key = tuple[str, str]
"""A turn: (sample_id, dia_id). dia_ids repeat across conversations."""

_SESSION_KEY = re.compile(r"session_(\d+)")
_DIA_ID = re.compile(r"D:?(\d+):(\d+)")
_EVIDENCE_SEPARATORS = re.compile(r"[;\s]+")


@dataclass(frozen=True)
class Turn:
    dia_id: str
    content: str


@dataclass(frozen=True)
class Session:
    session_id: str
    occurred_at: datetime
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class Conversation:
    sample_id: str
    sessions: tuple[Session, ...]

    @property
    def turn_count(self) -> int:
        return sum(len(s.turns) for s in self.sessions)


@dataclass(frozen=True)
class Question:
    sample_id: str
    category: int
    text: str
    evidence: frozenset[Key]


@dataclass(frozen=True)
class Dataset:
    conversations: tuple[Conversation, ...]
    questions: tuple[Question, ...]
    """Categories 1-4 with at least one valid evidence id, in file order."""
    without_evidence: int
    """Questions of categories 1-4 left out: no valid evidence id."""
    adversarial: int


def turn_content(turn: Mapping[str, Any]) -> str:
    """``"<speaker>: <text>"``, plus ``" [shares <blip_caption>]"`` for image turns."""
    content = f"{turn['speaker']}: {turn['text']}"
    caption = turn.get("blip_caption")
    if caption:
        content += f" [shares {caption}]"
    return content


def normalise_dia_id(token: str) -> str | None:
    """``"D:11:26"`` → ``"D11:26"``, ``"D30:05"`` → ``"D30:5"``; ``None`` if not an id."""
    match = _DIA_ID.fullmatch(token.strip())
    return f"D{int(match[1])}:{int(match[2])}" if match else None


def normalise_evidence(raw: Iterable[str], existing: set[str]) -> set[str]:
    """The valid dia_ids in a question's evidence list (see the module docstring)."""
    found: set[str] = set()
    for item in raw:
        for token in _EVIDENCE_SEPARATORS.split(item):
            dia_id = normalise_dia_id(token)
            if dia_id is not None and dia_id in existing:
                found.add(dia_id)
    return found


def _sessions(sample_id: str, conversation: Mapping[str, Any]) -> tuple[Session, ...]:
    numbered = sorted(
        (int(match[1]), value)
        for key, value in conversation.items()
        if (match := _SESSION_KEY.fullmatch(key)) and isinstance(value, list) and value
    )
    sessions = []
    for number, turns in numbered:
        when = datetime.strptime(conversation[f"session_{number}_date_time"], DATE_FORMAT)
        sessions.append(Session(
            session_id=f"{sample_id}:session_{number}",
            occurred_at=when,
            turns=tuple(Turn(dia_id=t["dia_id"], content=turn_content(t)) for t in turns),
        ))
    return tuple(sessions)


def load_dataset(path: Path) -> Dataset:
    samples = json.loads(path.read_text(encoding="utf-8"))
    conversations: list[Conversation] = []
    questions: list[Question] = []
    without_evidence = adversarial = 0
    for sample in samples:
        sample_id = str(sample["sample_id"])
        conversation = Conversation(sample_id, _sessions(sample_id, sample["conversation"]))
        conversations.append(conversation)
        existing = {t.dia_id for s in conversation.sessions for t in s.turns}
        for qa in sample["qa"]:
            category = int(qa["category"])
            if category == ADVERSARIAL:
                adversarial += 1
                continue
            evidence = normalise_evidence(qa.get("evidence", []), existing)
            if not evidence:
                without_evidence += 1
                continue
            questions.append(Question(
                sample_id=sample_id, category=category, text=str(qa["question"]),
                evidence=frozenset((sample_id, d) for d in evidence),
            ))
    return Dataset(tuple(conversations), tuple(questions), without_evidence, adversarial)


def ceiling(questions: Iterable[Question], k: int) -> float:
    """The best reachable recall@k: questions with more than k evidence turns cap it."""
    values = [min(k, len(q.evidence)) / len(q.evidence) for q in questions]
    return sum(values) / len(values) if values else math.nan


def self_check(dataset: Dataset, expected: int) -> dict[int, float]:
    """Print the question count and the ceilings; stop if they are not LoCoMo's."""
    count = len(dataset.questions)
    ceilings = {k: ceiling(dataset.questions, k) for k in KS}
    print(f"questions of categories 1-4 with valid evidence: {count} "
          f"({dataset.without_evidence} without; {dataset.adversarial} category 5 not scored)")
    print("recall ceiling: " + ", ".join(f"@{k} {ceilings[k]:.4f}" for k in KS))
    if expected and count != expected:
        raise SystemExit(
            f"error: expected {expected} questions with valid evidence, found {count}: "
            "is this the unchanged locomo10.json? (--expect-questions 0 skips this check)"
        )
    if expected == EXPECTED_QUESTIONS:
        for k, want in EXPECTED_CEILINGS.items():
            if round(ceilings[k], 4) != want:
                raise SystemExit(
                    f"error: recall@{k} ceiling is {ceilings[k]:.4f}, expected {want}: "
                    "the evidence normalisation does not match the protocol"
                )
    return ceilings


def select(dataset: Dataset, conversations: int | None, questions: int | None
           ) -> tuple[tuple[Conversation, ...], tuple[Question, ...]]:
    """The first ``conversations`` conversations and at most ``questions`` questions of
    each."""
    chosen = dataset.conversations[:conversations]
    ids = {c.sample_id for c in chosen}
    taken: Counter[str] = Counter()
    kept = []
    for question in dataset.questions:
        if question.sample_id not in ids:
            continue
        if questions is not None and taken[question.sample_id] >= questions:
            continue
        taken[question.sample_id] += 1
        kept.append(question)
    return chosen, tuple(kept)
