"""Search latency while an embedding backlog drains.

Adds ``--adds`` long memories (about ``--chars`` characters each, built from LoCoMo turns)
one after another, as a client adding a chat through MCP does, then searches at once and
keeps searching, one question after another, until every memory has its vector, and a
while after. Reports search p50/p95 while the backlog drains and after it, how long the
backlog took to drain, and what the searches said was pending.

Usage::

    python benchmarks/backlog.py ../shared/data/locomo/locomo10.json
    python benchmarks/backlog.py locomo10.json --adds 600 --chars 2400 --json out.json

``--trace`` also times the parts of each search made while the backlog drained: the wait
for queued vectors (``wait_idle``, absent when no search waited) and the query's embedding.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

if not __package__:  # run as a script: the benchmarks package is in the repository's root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio

from benchmarks.common import (
    latency,
    load_average,
    machine,
    ms_since,
    package_version,
    positive,
    write_json,
)
from memvault import Memvault

T = TypeVar("T")


def long_messages(path: Path, count: int, chars: int) -> tuple[list[str], list[str]]:
    """``count`` messages of about ``chars`` characters, each consecutive LoCoMo turns of
    one conversation joined and labelled ``user:``/``assistant:`` by turn, and the
    questions of the conversations used."""
    data = json.loads(path.read_text(encoding="utf-8"))
    messages: list[str] = []
    questions: list[str] = []
    for sample in data:
        conversation = sample["conversation"]
        turns = [
            turn["text"]
            for key in sorted(
                (k for k in conversation if k.startswith("session_") and k[8:].isdigit()),
                key=lambda k: int(k[8:]),
            )
            for turn in conversation[key]
        ]
        questions += [qa["question"] for qa in sample["qa"] if "question" in qa]
        current: list[str] = []
        for turn in turns:
            current.append(turn)
            if sum(len(t) + 1 for t in current) >= chars:
                role = "user" if len(messages) % 2 == 0 else "assistant"
                messages.append(f"{role}: " + " ".join(current)[:chars])
                current = []
                if len(messages) == count:
                    return messages, questions
    if not messages:
        raise SystemExit("error: no messages built from the data")
    while len(messages) < count:  # fewer turns than asked for: reuse them, numbered
        messages.append(f"{messages[len(messages) % len(messages)]} ({len(messages)})")
    return messages, questions


class Trace:
    """Milliseconds spent in some awaited calls of one Memvault, per call."""

    def __init__(self) -> None:
        self.calls: dict[str, list[float]] = {}
        self.on = False

    def wrap(self, name: str, fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
        async def timed(*args: Any, **kwargs: Any) -> T:
            start = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                if self.on:
                    self.calls.setdefault(name, []).append(ms_since(start))

        return timed


async def _search(mv: Memvault, query: str, limit: int) -> tuple[float, Any]:
    start = time.perf_counter()
    result = await mv.search(query, limit=limit)
    return ms_since(start), result


async def _search_until(
    mv: Memvault, questions: Sequence[str], drained: anyio.Event, options: argparse.Namespace,
) -> tuple[list[float], list[int], list[str]]:
    """Search one question after another until ``drained`` is set: the latencies, the
    numbers of hits and the distinct ``pending`` notes."""
    during: list[float] = []
    hits: list[int] = []
    notes: list[str] = []
    while not drained.is_set() and len(during) < options.max_searches:
        ms, result = await _search(mv, questions[len(during) % len(questions)], options.limit)
        during.append(ms)
        hits.append(len(result.hits))
        if result.pending and result.pending not in notes:
            notes.append(result.pending)
        if options.verbose and len(during) % 20 == 0:
            print(f"  {len(during)} searches during the backlog, last {ms:.0f} ms", flush=True)
    return during, hits, notes


async def run(options: argparse.Namespace) -> dict[str, Any]:
    messages, questions = long_messages(options.path, options.adds, options.chars)
    trace = Trace()
    with tempfile.TemporaryDirectory() as directory:
        async with Memvault.open(Path(directory) / "backlog.db", user_id="bench",
                                 embedder=options.embedder) as mv:
            state = await mv.wait_until_ready(600)
            if options.embedder != "none" and state != "ready":
                raise SystemExit(f"error: the embedder is {state}: {mv.embedding.error}")
            # Warm the model and the search path on a throwaway user.
            await mv.add(messages[0], user_id="warm-up")
            await mv.wait_for_vectors(60)
            await mv.search("warm up", user_id="warm-up")
            wait_idle = mv.embedding.wait_idle  # the drain's own wait, not traced
            if options.trace:
                service = mv.embedding
                service.wait_idle = trace.wrap("wait_idle", service.wait_idle)  # type: ignore[method-assign]
                service.embed = trace.wrap("query_embed", service.embed)  # type: ignore[method-assign]

            adds: list[float] = []
            ingest = time.perf_counter()
            for message in messages:
                start = time.perf_counter()
                await mv.add(message)
                adds.append(ms_since(start))
            ingest_s = time.perf_counter() - ingest

            trace.on = True
            drained = anyio.Event()

            async def drain() -> None:
                await wait_idle(None)
                drained.set()

            async with anyio.create_task_group() as group:
                group.start_soon(drain)
                during, hits_during, notes = await _search_until(mv, questions, drained,
                                                                 options)
            trace.on = False
            drained_at = time.perf_counter() - ingest
            after: list[float] = []
            for i in range(options.after):
                ms, _ = await _search(mv, questions[(len(during) + i) % len(questions)],
                                      options.limit)
                after.append(ms)
    return {
        "adds": len(messages),
        "chars": options.chars,
        "embedder": options.embedder,
        "ingest_seconds": round(ingest_s, 2),
        "add_ms": latency(adds),
        "backlog_drained_seconds": round(drained_at, 2),
        "search_during_backlog_ms": latency(during),
        "first_searches_ms": [round(x, 1) for x in during[:5]],
        "hits_during_backlog_mean": (sum(hits_during) / len(hits_during)
                                     if hits_during else None),
        "pending_notes": notes[:3],
        "search_after_ms": latency(after),
        "trace_ms": {name: latency(values) for name, values in trace.calls.items()},
    }


def render(report: dict[str, Any]) -> str:
    def row(name: str, stats: dict[str, Any]) -> str:
        def f(x: float | None) -> str:
            return "-" if x is None else f"{x:.1f}"
        return (f"  {name:<26} n={stats['n']:<5} p50={f(stats['p50'])} ms  "
                f"p95={f(stats['p95'])} ms  max={f(stats.get('max'))} ms")

    lines = [
        f"{report['adds']} adds of {report['chars']} chars, embedder {report['embedder']}: "
        f"ingest {report['ingest_seconds']} s, backlog drained "
        f"{report['backlog_drained_seconds']} s after the first add",
        row("add", report["add_ms"]),
        row("search during backlog", report["search_during_backlog_ms"]),
        row("search after", report["search_after_ms"]),
        f"  first searches: {report['first_searches_ms']} ms",
        f"  mean hits during backlog: {report['hits_during_backlog_mean']}",
    ]
    lines += [f"  pending: {note}" for note in report["pending_notes"]]
    lines += [row(name, stats) for name, stats in report["trace_ms"].items()]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="backlog.py", description=__doc__.split("\n")[0])
    parser.add_argument("path", type=Path, help="path to locomo10.json")
    parser.add_argument("--adds", type=positive, default=600)
    parser.add_argument("--chars", type=positive, default=2400)
    parser.add_argument("--limit", type=positive, default=10)
    parser.add_argument("--embedder", choices=["local", "e5", "auto", "none"], default="local")
    parser.add_argument("--after", type=int, default=30,
                        help="searches timed once the backlog has drained (default 30)")
    parser.add_argument("--max-searches", type=positive, default=100_000)
    parser.add_argument("--trace", action="store_true",
                        help="also time wait_idle and the query embedding")
    parser.add_argument("--json", type=Path, dest="json_out")
    parser.add_argument("--quiet", dest="verbose", action="store_false")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    options = parse_args(argv)
    load_start = load_average()
    report = anyio.run(run, options)
    report["machine"] = machine(
        (load_start, load_average()), torch=package_version("torch"),
        sentence_transformers=package_version("sentence-transformers"),
    )
    print(render(report))
    if options.json_out is not None:
        write_json(options.json_out, report)
    return report


if __name__ == "__main__":
    main()
