"""LoCoMo retrieval benchmark: how well and how fast memvault finds the turns that answer
LoCoMo's questions.

The data set is not part of this repository (its licence is non-commercial). Download
``data/locomo10.json`` from the public repository https://github.com/snap-research/LoCoMo
and pass its path::

    python benchmarks/locomo.py path/to/locomo10.json                    # local embedder
    python benchmarks/locomo.py path/to/locomo10.json --embedder none    # lexical only
    python benchmarks/locomo.py path/to/locomo10.json --pooled           # one shared scope
    python benchmarks/locomo.py path/to/locomo10.json --batch --json out.json
    python benchmarks/locomo.py path/to/locomo10.json --limit-conversations 1 \\
        --limit-questions 20                                             # a quick look

The protocol, through memvault's public SDK only (no LLM anywhere):

1. Each conversation gets a fresh memory scope: its own temporary database, with
   ``user_id`` = the sample id (``--pooled``: all ten conversations in one scope). Every turn
   is added in order as ``"<speaker>: <text>"`` (image turns append
   ``" [shares <blip_caption>]"``), with the session's date-time as ``occurred_at``,
   ``session_id`` = ``"<sample_id>:session_<n>"`` and ``{"dia_id": ...}`` as metadata.
   Sessions without turns are skipped. Default: one ``add`` per turn, each timed;
   ``--batch``: one ``add_many`` per session. With an embedder, ingest starts once it is
   ready; adds queue their vectors, and a conversation's ingest ends when
   ``wait_for_vectors()`` returns.
2. Each question of categories 1-4 with at least one valid evidence id (1,536 of them) is
   searched once with the bare question text (``limit`` 10, ``context`` 0 unless given).
3. The hits are flattened into turns in rank order. A hit that carries neighbouring turns
   (``--context N``) contributes, in reading order, its earlier neighbours, itself, then its
   later neighbours; all of them count towards the budget. Duplicates are dropped and the
   first k turns kept; each maps to ``(sample_id, dia_id)`` through its metadata and
   session id, so in ``--pooled`` runs a turn from another conversation is a miss.
4. recall@k = |evidence ∩ first k turns| / |evidence|, averaged per category and over all
   questions (micro average), for k = 5 and 10.
5. Every add and search is timed from the caller's side in a warm process (a throwaway
   store is exercised first); p50 and p95 are reported in milliseconds, with the total
   ingest time: the adds, then the wait until every vector is stored (adds return before
   their vectors exist), not opening stores or loading the model. Searches start only when
   the conversation's vectors are all stored.

Evidence ids are normalised before scoring: strings holding several ids are split on ``;``
and whitespace, ``"D:11:26"`` becomes ``"D11:26"``, ``"D30:05"`` becomes ``"D30:5"``, and
empty ids (``"D"``) and ids of turns that do not exist are dropped. As a self-check the
script prints the number of questions left (it must be 1,536 on locomo10.json) and the
recall ceilings (0.9948 at k = 5, 0.9993 at k = 10), and stops if they differ.

Categories are numbered as in the LoCoMo authors' code: 1 multi-hop, 2 temporal,
3 open-domain, 4 single-hop (5 adversarial is not scored). Write-ups by mem0, Zep and
MemMachine name 1 single-hop, 3 multi-hop and 4 open-domain, so compare by number.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import anyio

import memvault
from memvault import Memory, Memvault, SearchResult

__all__ = ["main"]

DATE_FORMAT = "%I:%M %p on %d %B, %Y"
KS = (5, 10)
EXPECTED_QUESTIONS = 1536
EXPECTED_CEILINGS = {5: 0.9948, 10: 0.9993}
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
ADVERSARIAL = 5
POOLED_USER = "locomo-pooled"
OTHER_NAMING = "mem0, Zep and MemMachine name 1 single-hop, 3 multi-hop, 4 open-domain"

Key = tuple[str, str]
"""A turn: (sample_id, dia_id). dia_ids repeat across conversations."""

EmbedderKind = Literal["local", "none"]

_SESSION_KEY = re.compile(r"session_(\d+)")
_DIA_ID = re.compile(r"D:?(\d+):(\d+)")
_EVIDENCE_SEPARATORS = re.compile(r"[;\s]+")


# -- the data set ----------------------------------------------------------------------------


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


# -- running ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    embedder: EmbedderKind = "local"
    batch: bool = False
    pooled: bool = False
    limit: int = 10
    context: int = 0
    max_chars: int | None = None
    verbose: bool = True
    search: tuple[tuple[str, str], ...] = ()
    """``search.*`` settings (memvault's SearchConfig), as given on the command line."""

    def settings(self) -> dict[str, str]:
        return {f"search.{key}": value for key, value in self.search}


@dataclass(frozen=True)
class Outcome:
    question: Question
    retrieved: tuple[Key, ...]
    """The first max(KS) turns, in order."""
    search_ms: float

    def recall(self, k: int) -> float:
        return len(self.question.evidence & set(self.retrieved[:k])) / len(
            self.question.evidence)


@dataclass
class Measurements:
    embedder: str = "none"
    add_ms: list[float] = field(default_factory=list)
    ingest_seconds: float = 0.0
    vector_wait_seconds: float = 0.0
    """Of ``ingest_seconds``: waiting, after the last add, for the vectors still queued."""
    setup_seconds: float = 0.0
    outcomes: list[Outcome] = field(default_factory=list)
    retrievers: Counter[str] = field(default_factory=Counter)
    truncated: int = 0
    short: int = 0


def turn_key(memory: Memory) -> Key:
    """(sample_id, dia_id) of a stored turn, from its session id and metadata."""
    session = memory.session_id or ""
    return session.rsplit(":session_", 1)[0], str(memory.metadata.get("dia_id"))


def flatten(result: SearchResult, order: Mapping[str, int], k: int) -> list[Memory]:
    """The first ``k`` distinct turns: per hit, its earlier neighbours (oldest first), the
    hit, its later neighbours. ``order`` maps memory ids to their position in the ingest."""
    turns: list[Memory] = []
    seen: set[str] = set()
    for hit in result.hits:
        position = order[hit.memory.id]
        before = [m for m in hit.context if order[m.id] < position]
        after = [m for m in hit.context if order[m.id] > position]
        for memory in (*before, hit.memory, *after):
            if memory.id in seen:
                continue
            seen.add(memory.id)
            turns.append(memory)
            if len(turns) == k:
                return turns
    return turns


def _log(options: Options, message: str) -> None:
    if options.verbose:
        print(message, file=sys.stderr, flush=True)


async def _ready(mv: Memvault, options: Options) -> str:
    """Wait for the embedder; returns its name. Stops if a wanted embedder failed."""
    state = await mv.wait_until_ready()
    embedder = mv.embedding.embedder
    if options.embedder == "none":
        return "none"
    if state != "ready" or embedder is None:
        raise SystemExit(f"error: the {options.embedder} embedder is {state}: "
                         f"{mv.embedding.error or mv.embedding.reason}")
    return embedder.name


async def _warm_up(directory: Path, options: Options) -> None:
    """Exercise a throwaway store so the timed work runs in a warm process."""
    async with Memvault.open(directory / "warm-up.db", user_id="warm-up",
                             embedder=options.embedder, **options.settings()) as mv:
        await _ready(mv, options)
        texts = ["Alice: I adopted a dog last week.", "Bob: What is its name?",
                 "Alice: Her name is Pepper."]
        for text in texts:
            await mv.add(text, session_id="warm-up:session_1", metadata={"dia_id": "D1:1"})
        await mv.add_many([{"content": t, "session_id": "warm-up:session_2"} for t in texts])
        for _ in range(3):
            await mv.search("What is the name of Alice's dog?", limit=options.limit,
                            context=options.context)


async def _ingest(mv: Memvault, conversation: Conversation, user: str, options: Options,
                  order: dict[str, int], out: Measurements) -> float:
    """Add the conversation's turns; returns the seconds the adds took."""
    total = 0.0
    for session in conversation.sessions:
        if options.batch:
            items = [
                {"content": t.content, "session_id": session.session_id,
                 "metadata": {"dia_id": t.dia_id}, "occurred_at": session.occurred_at}
                for t in session.turns
            ]
            start = time.perf_counter()
            memories = await mv.add_many(items, user_id=user)
            elapsed = time.perf_counter() - start
            out.add_ms.append(elapsed * 1000)
            total += elapsed
            for memory in memories:
                order[memory.id] = len(order)
            continue
        for turn in session.turns:
            start = time.perf_counter()
            memory = await mv.add(
                turn.content, user_id=user, session_id=session.session_id,
                metadata={"dia_id": turn.dia_id}, occurred_at=session.occurred_at,
            )
            elapsed = time.perf_counter() - start
            out.add_ms.append(elapsed * 1000)
            total += elapsed
            order[memory.id] = len(order)
    return total


async def _ask(mv: Memvault, questions: Iterable[Question], user: str, options: Options,
               order: Mapping[str, int], out: Measurements) -> None:
    k = max(KS)
    for question in questions:
        start = time.perf_counter()
        result = await mv.search(
            question.text, user_id=user, limit=options.limit, context=options.context,
            max_chars=options.max_chars,
        )
        elapsed_ms = (time.perf_counter() - start) * 1000
        turns = flatten(result, order, k)
        out.retrievers["+".join(result.retrievers) or "none"] += 1
        out.truncated += result.truncated
        out.short += len(turns) < k
        out.outcomes.append(Outcome(question, tuple(turn_key(m) for m in turns), elapsed_ms))


async def run(conversations: Sequence[Conversation], questions: Sequence[Question],
              options: Options) -> Measurements:
    """Ingest and search as the protocol says; every store lives in a temporary directory."""
    out = Measurements()
    by_sample: dict[str, list[Question]] = {}
    for question in questions:
        by_sample.setdefault(question.sample_id, []).append(question)
    with tempfile.TemporaryDirectory(prefix="memvault-locomo-") as tmp:
        directory = Path(tmp)
        _log(options, "warming up …")
        await _warm_up(directory, options)
        if options.pooled:
            scopes = [(POOLED_USER, list(conversations))]
        else:
            scopes = [(c.sample_id, [c]) for c in conversations]
        for user, members in scopes:
            start = time.perf_counter()
            async with Memvault.open(directory / f"{user}.db", user_id=user,
                                     embedder=options.embedder, **options.settings()) as mv:
                out.embedder = await _ready(mv, options)
                out.setup_seconds += time.perf_counter() - start
                order: dict[str, int] = {}
                for conversation in members:
                    seconds = await _ingest(mv, conversation, user, options, order, out)
                    # Adds return before their vectors exist; the ingest is done when every
                    # vector is stored, so that search sees what a later user would see.
                    start = time.perf_counter()
                    await mv.wait_for_vectors()
                    waited = time.perf_counter() - start
                    out.vector_wait_seconds += waited
                    out.ingest_seconds += seconds + waited
                    _log(options, f"{conversation.sample_id}: {conversation.turn_count} turns "
                                  f"in {len(conversation.sessions)} sessions added in "
                                  f"{seconds:.1f} s, vectors {waited:.1f} s later")
                asked = [q for c in members for q in by_sample.get(c.sample_id, [])]
                start = time.perf_counter()
                await _ask(mv, asked, user, options, order, out)
                _log(options, f"{user}: {len(asked)} searches in "
                              f"{time.perf_counter() - start:.1f} s")
    return out


# -- reporting -------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks; ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _latency(values: Sequence[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "mean": sum(values) / len(values) if values else None,
    }


def recall_table(outcomes: Sequence[Outcome]) -> dict[str, dict[str, Any]]:
    """Recall per category (keyed by number) and over all questions (``"all"``)."""
    groups: dict[str, list[Outcome]] = {
        str(c): [o for o in outcomes if o.question.category == c] for c in CATEGORIES
    }
    groups["all"] = list(outcomes)
    table: dict[str, dict[str, Any]] = {}
    for name, members in groups.items():
        row: dict[str, Any] = {
            "name": CATEGORIES[int(name)] if name != "all" else "micro average",
            "n": len(members),
        }
        for k in KS:
            row[f"recall@{k}"] = (
                sum(o.recall(k) for o in members) / len(members) if members else None
            )
        table[name] = row
    return table


def _meminfo_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _meminfo_gib(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "memvault": memvault.__version__,
        "torch": _version("torch"),
        "sentence_transformers": _version("sentence-transformers"),
    }


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def build_report(path: Path, digest: str, conversations: Sequence[Conversation],
                 questions: Sequence[Question], options: Options, out: Measurements,
                 ceilings: Mapping[int, float], load: Sequence[list[float] | None],
                 wall_seconds: float) -> dict[str, Any]:
    return {
        "benchmark": "locomo-retrieval",
        "dataset": {
            "path": str(path),
            "sha256": digest,
            "conversations": len(conversations),
            "sessions": sum(len(c.sessions) for c in conversations),
            "turns": sum(c.turn_count for c in conversations),
            "questions": len(questions),
            "ceiling_full_dataset": {str(k): v for k, v in ceilings.items()},
        },
        "settings": {
            "embedder": out.embedder,
            "ingest": "add_many per session" if options.batch else "add per turn",
            "scope": "pooled" if options.pooled else "one per conversation",
            "search_limit": options.limit,
            "context": options.context,
            "max_chars": options.max_chars,
            "search": dict(options.search),
            "k": list(KS),
            "category_names": "LoCoMo authors' numbering; " + OTHER_NAMING,
        },
        "recall": recall_table(out.outcomes),
        "ceiling": {str(k): ceiling(questions, k) for k in KS},
        "latency_ms": {
            "add": {"unit": "session" if options.batch else "turn", **_latency(out.add_ms)},
            "search": _latency([o.search_ms for o in out.outcomes]),
        },
        "ingest_seconds": out.ingest_seconds,
        "vector_wait_seconds": out.vector_wait_seconds,
        "setup_seconds": out.setup_seconds,
        "wall_seconds": wall_seconds,
        "searches": {
            "retrievers": dict(out.retrievers),
            "truncated_by_budget": out.truncated,
            "fewer_than_k_turns": out.short,
        },
        "machine": {**machine(), "load_average_start": load[0], "load_average_end": load[1]},
        "questions": [
            {
                "sample_id": o.question.sample_id,
                "category": o.question.category,
                "question": o.question.text,
                "evidence": sorted(d for _, d in o.question.evidence),
                "retrieved": [list(key) for key in o.retrieved],
                **{f"recall@{k}": o.recall(k) for k in KS},
                "search_ms": o.search_ms,
            }
            for o in out.outcomes
        ],
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def render(report: Mapping[str, Any]) -> str:
    settings, data, box = report["settings"], report["dataset"], report["machine"]
    lines = [
        f"memvault {box['memvault']} on LoCoMo ({Path(data['path']).name}, "
        f"sha256 {data['sha256'][:12]}…)",
        f"embedder: {settings['embedder']} | ingest: {settings['ingest']} | "
        f"scope: {settings['scope']} | search: limit {settings['search_limit']}, "
        f"context {settings['context']}"
        + "".join(f", {key}={value}" for key, value in settings["search"].items()),
        "",
        f"{'category':<26}{'n':>6}{'recall@5':>11}{'recall@10':>11}",
    ]
    for key, row in report["recall"].items():
        label = f"{key} {row['name']}" if key != "all" else "all (micro average)"
        lines.append(f"{label:<26}{row['n']:>6}{_score(row['recall@5']):>11}"
                     f"{_score(row['recall@10']):>11}")
    ceil = report["ceiling"]
    lines += [
        f"{'ceiling':<26}{data['questions']:>6}{_score(ceil['5']):>11}{_score(ceil['10']):>11}",
        f"(categories numbered as by the LoCoMo authors; {OTHER_NAMING})",
        "",
        f"{'latency (ms)':<26}{'n':>6}{'p50':>11}{'p95':>11}",
    ]
    for name, row in report["latency_ms"].items():
        label = f"{name} (per {row['unit']})" if "unit" in row else name
        lines.append(f"{label:<26}{row['n']:>6}{_ms(row['p50']):>11}{_ms(row['p95']):>11}")
    searches = report["searches"]
    retrievers = ", ".join(f"{k} {v}" for k, v in sorted(searches["retrievers"].items()))
    lines += [
        f"ingest total: {report['ingest_seconds']:.1f} s ({data['turns']} turns, "
        f"{data['sessions']} sessions, {data['conversations']} conversations; of it "
        f"{report['vector_wait_seconds']:.1f} s waiting for vectors after the last add); "
        f"store opening and model loading: {report['setup_seconds']:.1f} s",
        f"searches by retrievers: {retrievers or '-'}; cut by the character budget: "
        f"{searches['truncated_by_budget']}; with fewer than {max(KS)} turns: "
        f"{searches['fewer_than_k_turns']}",
        "",
        f"machine: {box['cpu']}, {box['cores']} cores, {box['ram_gib']} GiB RAM, "
        f"Python {box['python']} ({box['platform']})",
        f"load average at start {box['load_average_start']}, at end "
        f"{box['load_average_end']}; wall time {report['wall_seconds']:.1f} s",
    ]
    return "\n".join(lines)


# -- command line ----------------------------------------------------------------------------


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _setting(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="locomo.py",
        description="LoCoMo retrieval benchmark for memvault (recall@5/@10 and latency).",
        epilog="Get locomo10.json from https://github.com/snap-research/LoCoMo (data/).",
    )
    parser.add_argument("path", type=Path, help="path to locomo10.json")
    parser.add_argument("--embedder", choices=["local", "none"], default="local",
                        help="local: sentence-transformers all-MiniLM-L6-v2; none: lexical")
    parser.add_argument("--batch", action="store_true",
                        help="ingest with one add_many per session instead of one add per turn")
    parser.add_argument("--pooled", action="store_true",
                        help="all conversations in one user scope")
    parser.add_argument("--context", type=int, default=0, choices=range(6), metavar="N",
                        help="neighbouring turns per side that search returns (0-5; default 0)")
    parser.add_argument("--limit", type=_positive, default=max(KS),
                        help=f"hits per search (default {max(KS)})")
    parser.add_argument("--max-chars", type=_positive, default=None,
                        help="search's character budget (default: memvault's)")
    parser.add_argument("--limit-conversations", type=_positive, metavar="N",
                        help="only the first N conversations")
    parser.add_argument("--limit-questions", type=_positive, metavar="N",
                        help="only the first N questions of each conversation")
    parser.add_argument("--expect-questions", type=int, default=EXPECTED_QUESTIONS,
                        metavar="N", help="stop unless the file has N questions with valid "
                        f"evidence (default {EXPECTED_QUESTIONS}; 0: no check)")
    parser.add_argument("--json", type=Path, metavar="OUT", dest="json_out",
                        help="also write the report as JSON")
    parser.add_argument("--search", action="append", default=[], type=_setting,
                        metavar="KEY=VALUE", help="a search setting, e.g. timeline=false or "
                        "fusion=rank (memvault's SearchConfig; repeatable)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; prints the table and returns the report."""
    args = parse_args(argv)
    path: Path = args.path
    if not path.is_file():
        raise SystemExit(f"error: {path} not found; get locomo10.json from "
                         "https://github.com/snap-research/LoCoMo")
    wall = time.perf_counter()
    load_start = _load_average()
    raw = path.read_bytes()
    dataset = load_dataset(path)
    ceilings = self_check(dataset, args.expect_questions)
    conversations, questions = select(dataset, args.limit_conversations, args.limit_questions)
    options = Options(
        embedder=args.embedder, batch=args.batch, pooled=args.pooled, limit=args.limit,
        context=args.context, max_chars=args.max_chars, verbose=not args.quiet,
        search=tuple(args.search),
    )
    print(f"evaluating {len(questions)} questions over {len(conversations)} conversations",
          flush=True)
    out = anyio.run(run, conversations, questions, options)
    report = build_report(
        path, hashlib.sha256(raw).hexdigest(), conversations, questions, options, out,
        ceilings, (load_start, _load_average()), time.perf_counter() - wall,
    )
    print()
    print(render(report))
    if args.json_out is not None:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"\nJSON written to {args.json_out}")
    return report


if __name__ == "__main__":
    main()
