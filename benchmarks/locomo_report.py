"""The LoCoMo benchmark's options, measurements and report (a JSON-ready dict and a table)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from benchmarks.common import latency, machine, package_version
from benchmarks.locomo_data import CATEGORIES, KS, Conversation, Key, Question, ceiling

__all__ = [
    "EmbedderKind",
    "Measurements",
    "Options",
    "Outcome",
    "build_report",
    "recall_table",
    "render",
]

OTHER_NAMING = "mem0, Zep and MemMachine name 1 single-hop, 3 multi-hop, 4 open-domain"

EmbedderKind = Literal["local", "none"]


@dataclass(frozen=True)
class Options:
    """How a run goes, from the command line."""

    embedder: EmbedderKind = "local"
    batch: bool = False
    pooled: bool = False
    limit: int = 10
    context: int = 0
    max_chars: int | None = None
    verbose: bool = True
    search: tuple[tuple[str, str], ...] = ()
    """``search.*`` settings (memvault's SearchConfig), as given on the command line."""
    encryption_key: str | None = None
    """Encrypt every store file under this key (SQLCipher), to measure what it costs."""

    def settings(self) -> dict[str, str]:
        # A dotted key names any setting (``embedder.query_threads=2``), others the search's.
        found = {key if "." in key else f"search.{key}": value for key, value in self.search}
        if self.encryption_key is not None:
            found["encryption.key"] = self.encryption_key
        return found


@dataclass(frozen=True)
class Outcome:
    """One question's search: the turns it found and how long it took."""

    question: Question
    retrieved: tuple[Key, ...]
    """The first max(KS) turns, in order."""
    search_ms: float

    def recall(self, k: int) -> float:
        return len(self.question.evidence & set(self.retrieved[:k])) / len(
            self.question.evidence)


@dataclass
class Measurements:
    """What a run measured; :func:`build_report` makes the report of it."""

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
            "encrypted": options.encryption_key is not None,
            "k": list(KS),
            "category_names": "LoCoMo authors' numbering; " + OTHER_NAMING,
        },
        "recall": recall_table(out.outcomes),
        "ceiling": {str(k): ceiling(questions, k) for k in KS},
        "latency_ms": {
            "add": {"unit": "session" if options.batch else "turn",
                    **latency(out.add_ms, peak=False)},
            "search": latency([o.search_ms for o in out.outcomes], peak=False),
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
        "machine": machine(load, torch=package_version("torch"),
                           sentence_transformers=package_version("sentence-transformers")),
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

