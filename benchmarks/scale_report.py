"""The scale benchmark's plan, results and report (a JSON-ready dict and a Markdown table)."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import latency, machine, package_version, percentile
from benchmarks.scale_corpus import CORPUS_TEXT
from memvault.core.search.retrieve import POOL

__all__ = [
    "EMBEDDER_ROWS",
    "SEARCH_LIMIT",
    "WARM_UP",
    "Plan",
    "Results",
    "build_report",
    "code_version",
    "render",
]

# Fixed settings of every run, reported with it.
EMBEDDER_ROWS = 1 << 15
WARM_UP = 5
SEARCH_LIMIT = 10


@dataclass
class Plan:
    """What a run does, from the command line."""

    memories: int
    queries: int
    dimensions: int
    seed: int
    batch: int
    single_adds: int
    database: Path
    query_model: str = "fake"
    #: Search a database an earlier run filled (same memories, seed and batch): no ingest.
    reuse: bool = False


@dataclass
class Results:
    """What a run measured; :func:`build_report` makes the report of it."""

    ingest_batch_ms: list[float] = field(default_factory=list)
    ingest_add_many_seconds: float = 0.0
    vector_wait_seconds: float = 0.0
    ingest_wall_seconds: float = 0.0
    generate_seconds: float = 0.0
    embed_seconds_ingest: float = 0.0
    single_add_ms: list[float] = field(default_factory=list)
    sessions: int = 0
    first_search_ms: float = 0.0
    #: From the first search's answer until a search is hybrid again (a graph built in the
    #: background); 0 when the first search was hybrid.
    index_ready_seconds: float = 0.0
    warm_up_ms: list[float] = field(default_factory=list)
    search_ms: list[float] = field(default_factory=list)
    search_cpu_ms: list[float] = field(default_factory=list)
    lexical_only_cpu_ms: list[float] = field(default_factory=list)
    hits: list[int] = field(default_factory=list)
    retrievers: dict[str, int] = field(default_factory=dict)
    lexical_only_ms: list[float] = field(default_factory=list)
    stages: dict[str, list[float]] = field(default_factory=dict)
    fts_matches: list[int] = field(default_factory=list)
    fts_scored: list[int] = field(default_factory=list)
    fts_direct: int = 0
    sweep_scan_ms: float = 0.0
    memory: dict[str, dict[str, float | None]] = field(default_factory=dict)
    disk: dict[str, dict[str, int]] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    stored: int = 0
    vectors: int = 0


def code_version() -> dict[str, Any]:
    """The repository's commit and the files of src/ that differ from it (read-only git)."""
    repo = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "--no-optional-locks", "-C", str(repo), *args],
                                  capture_output=True, text=True, timeout=30, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    changed = git("diff", "--name-only", "HEAD", "--", "src")
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "src_changes": changed.splitlines() if changed else []}


QUERY_TEXT = (
    "half a run of 3-8 consecutive words of a stored memory, half 3-8 words drawn like memory "
    "text; lower-cased, no punctuation; search(query, limit=10), no session_id"
)


def build_report(plan: Plan, out: Results, load: Sequence[list[float] | None],
                 wall: float, code: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "benchmark": "memvault-scale",
        "settings": {
            "memories": plan.memories,
            "single_adds": plan.single_adds,
            "queries": plan.queries,
            "dimensions": plan.dimensions,
            "seed": plan.seed,
            "batch": plan.batch,
            "database": str(plan.database),
            "store": "sqlite (episodic, profile and working in one file)",
            "user_scopes": 1,
            "search_limit": SEARCH_LIMIT,
            "corpus": CORPUS_TEXT,
            "queries_how": QUERY_TEXT,
            "vectors": (
                "NOT a model: a deterministic fake embedder (hashed bag of words projected "
                f"through a fixed random {EMBEDDER_ROWS}x{plan.dimensions} normal matrix, "
                "L2-normalised); query embedding costs ~0.2 ms, so search timings "
                "exclude a real model's query-embedding time"
                if plan.query_model == "fake" else
                "stored vectors from a deterministic fake embedder (hashed bag of words "
                f"through a fixed random {EMBEDDER_ROWS}x{plan.dimensions} normal matrix); "
                "each query is also embedded by all-MiniLM-L6-v2, so search timings include "
                "a real query embedding"
            ),
        },
        "ingest": None if plan.reuse else _ingest(plan, out),
        "add_ms": None if plan.reuse else latency(out.single_add_ms),
        "search": {
            "first_search_ms": out.first_search_ms,
            "index_ready_seconds": out.index_ready_seconds,
            "warm_up_ms": out.warm_up_ms,
            "hybrid_ms": latency(out.search_ms),
            "hybrid_cpu_ms": latency(out.search_cpu_ms),
            "lexical_only_ms": latency(out.lexical_only_ms),
            "lexical_only_cpu_ms": latency(out.lexical_only_cpu_ms),
            "retrievers": out.retrievers,
            "hits_mean": sum(out.hits) / len(out.hits) if out.hits else None,
        },
        "stages_ms": {name: latency(values) for name, values in out.stages.items()},
        "fts_matching_rows": {
            "p50": percentile([float(x) for x in out.fts_matches], 50),
            "p95": percentile([float(x) for x in out.fts_matches], 95),
            "max": max(out.fts_matches) if out.fts_matches else None,
        },
        "fts_scored_postings": {
            "p50": percentile([float(x) for x in out.fts_scored], 50),
            "p95": percentile([float(x) for x in out.fts_scored], 95),
            "max": max(out.fts_scored) if out.fts_scored else None,
            "ranked_every_match": out.fts_direct,
        },
        "sweep_missing_embeddings_scan_ms": out.sweep_scan_ms,
        "stored": {"memories": out.stored, "vectors": out.vectors},
        "memory": out.memory,
        "disk_bytes": out.disk,
        "examples": out.examples,
        "machine": machine(load, sqlite=sqlite3.sqlite_version,
                           numpy=package_version("numpy")),
        "code": {**code, "same_at_end": dict(code) == code_version()},
        "wall_seconds": wall,
        "per_query": [
            {"query": q, "hybrid_ms": s,
             "lexical_ms": out.stages.get("lexical_search", [None] * len(out.queries))[i],
             "vector_ms": out.stages.get("vector_search", [None] * len(out.queries))[i],
             "fts_matches": out.fts_matches[i] if i < len(out.fts_matches) else None,
             "fts_scored": out.fts_scored[i] if i < len(out.fts_scored) else None}
            for i, (q, s) in enumerate(zip(out.queries, out.search_ms, strict=True))
        ],
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} MiB"


def _ingest(plan: Plan, out: Results) -> dict[str, Any]:
    tenth = max(1, len(out.ingest_batch_ms) // 10)
    return {
        "memories": plan.memories,
        "sessions": out.sessions,
        "add_many_seconds": out.ingest_add_many_seconds,
        "vector_wait_seconds": out.vector_wait_seconds,
        "wall_seconds": out.ingest_wall_seconds,
        "text_generation_seconds": out.generate_seconds,
        "fake_embedding_seconds": out.embed_seconds_ingest,
        "memories_per_second": plan.memories / out.ingest_add_many_seconds,
        "memories_per_second_first_10pct": (
            tenth * plan.batch / (sum(out.ingest_batch_ms[:tenth]) / 1000)),
        "memories_per_second_last_10pct": (
            tenth * plan.batch / (sum(out.ingest_batch_ms[-tenth:]) / 1000)),
        "add_many_batch_ms": latency(out.ingest_batch_ms),
    }


def _ingest_rows(report: Mapping[str, Any]) -> list[str]:
    ing = report["ingest"]
    return [
        f"| memories ingested with add_many | {ing['memories']:,} ({ing['sessions']:,} "
        "sessions) |",
        f"| add_many throughput | {ing['memories_per_second']:,.0f} memories/s (first 10%: "
        f"{ing['memories_per_second_first_10pct']:,.0f}/s, last 10%: "
        f"{ing['memories_per_second_last_10pct']:,.0f}/s) |",
        f"| ingest time | {ing['add_many_seconds']:,.1f} s in add_many and the wait for the "
        f"last vectors ({ing['vector_wait_seconds']:,.1f} s of it); "
        f"{ing['wall_seconds']:,.1f} s wall incl. {ing['text_generation_seconds']:,.1f} s text "
        f"generation (fake embedding, behind the adds: {ing['fake_embedding_seconds']:,.1f} s) |",
        f"| add_many per batch p50 / p95 / max | {_ms(ing['add_many_batch_ms']['p50'])} / "
        f"{_ms(ing['add_many_batch_ms']['p95'])} / {_ms(ing['add_many_batch_ms']['max'])} ms |",
        f"| single add p50 / p95 / max (n={report['add_ms']['n']}, at full size) | "
        f"{_ms(report['add_ms']['p50'])} / {_ms(report['add_ms']['p95'])} / "
        f"{_ms(report['add_ms']['max'])} ms |",
    ]


def render(report: Mapping[str, Any]) -> str:
    settings, ing, box = report["settings"], report["ingest"], report["machine"]
    search, memory, disk = report["search"], report["memory"], report["disk_bytes"]
    lines = [
        f"## memvault {box['memvault']} scale benchmark: {settings['memories']:,} memories, "
        "one user scope, SQLite",
        "",
        f"- machine: {box['cpu']}, {box['cores']} cores, {box['ram_gib']} GiB RAM; Python "
        f"{box['python']}, SQLite {box['sqlite']}, numpy {box['numpy']}; load average "
        f"{box['load_average_start']} at start, {box['load_average_end']} at end",
        f"- text: {settings['corpus']}",
        f"- queries: {settings['queries_how']}",
        f"- vectors: {settings['vectors']} ({settings['dimensions']} dimensions)",
        f"- code: commit {report['code']['commit']}, uncommitted changes in src/: "
        f"{', '.join(report['code']['src_changes']) or 'none'}"
        + ("" if report["code"]["same_at_end"] else " (CHANGED during the run)"),
        f"- seed {settings['seed']}, add_many batches of {settings['batch']:,}, "
        f"{settings['queries']} timed queries after {WARM_UP} warm-up ones",
        "",
        "| measure | value |",
        "|---|---|",
    ]
    lines += _ingest_rows(report) if ing is not None else [
        f"| memories | {settings['memories']:,} in an existing database, ingested by an "
        "earlier run (ingest and adds not timed here; memory figures are this process's) |",
    ]
    lines += [
        f"| first search (loads the vector cache) | {_ms(search['first_search_ms'])} ms |",
        f"| vector index ready after the first search (built in the background) | "
        f"{search.get('index_ready_seconds', 0.0):,.1f} s |",
        f"| hybrid search p50 / p95 / max (n={search['hybrid_ms']['n']}) | "
        f"{_ms(search['hybrid_ms']['p50'])} / {_ms(search['hybrid_ms']['p95'])} / "
        f"{_ms(search['hybrid_ms']['max'])} ms (mean {_ms(search['hybrid_ms']['mean'])}) |",
        f"| lexical-only search p50 / p95 / max (no embedder) | "
        f"{_ms(search['lexical_only_ms']['p50'])} / {_ms(search['lexical_only_ms']['p95'])} / "
        f"{_ms(search['lexical_only_ms']['max'])} ms |",
        f"| process CPU per search p50 / p95, hybrid; lexical-only | "
        f"{_ms(search['hybrid_cpu_ms']['p50'])} / {_ms(search['hybrid_cpu_ms']['p95'])} ms; "
        f"{_ms(search['lexical_only_cpu_ms']['p50'])} / "
        f"{_ms(search['lexical_only_cpu_ms']['p95'])} ms |",
        f"| peak RSS after ingest (or opening) / after search / at end | "
        f"{_mib(memory['after_ingest']['peak_rss_mib'])} / "
        f"{_mib(memory['after_search']['peak_rss_mib'])} / "
        f"{_mib(memory['end']['peak_rss_mib'])} |",
        f"| current RSS after ingest / after search | "
        f"{_mib(memory['after_ingest']['rss_mib'])} / {_mib(memory['after_search']['rss_mib'])} |",
        f"| database on disk after ingest (main + wal + shm) | "
        f"{disk['after_ingest']['total'] / 2**20:,.0f} MiB (wal "
        f"{disk['after_ingest']['wal'] / 2**20:,.0f} MiB) |",
        f"| database on disk after close | {disk['after_close']['total'] / 2**20:,.0f} MiB |",
        f"| stored memories / vectors | {report['stored']['memories']:,} / "
        f"{report['stored']['vectors']:,} |",
        "",
        "Store calls of hybrid search, timed one by one on the same queries (pool "
        f"{POOL}):",
        "",
        "| stage | p50 ms | p95 ms | max ms | mean ms |",
        "|---|---|---|---|---|",
    ]
    for name, row in report["stages_ms"].items():
        lines.append(f"| {name} | {_ms(row['p50'])} | {_ms(row['p95'])} | {_ms(row['max'])} | "
                     f"{_ms(row['mean'])} |")
    fts = report["fts_matching_rows"]
    scored = report["fts_scored_postings"]
    lines += [
        "",
        f"Rows matched by the FTS5 query (OR of the query's terms): p50 {fts['p50']:,.0f}, "
        f"p95 {fts['p95']:,.0f}, max {fts['max']:,}; postings the index scored for them: "
        f"p50 {scored['p50']:,.0f}, p95 {scored['p95']:,.0f}, max {scored['max']:,} (every "
        f"match ranked for {scored['ranked_every_match']} queries). Background sweep scan "
        f"(missing_embeddings, every 30 s): {report['sweep_missing_embeddings_scan_ms']:,.1f} "
        "ms. Retrievers used: "
        + ", ".join(f"{k} {v}" for k, v in sorted(search["retrievers"].items())) + ".",
        f"Example memory: {report['examples']['memories'][0]!r}",
        f"Example queries: {', '.join(repr(q) for q in report['examples']['queries'][:4])}",
        f"Wall time {report['wall_seconds']:,.1f} s.",
    ]
    return "\n".join(lines)
