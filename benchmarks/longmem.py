"""Long-memory LoCoMo: LoCoMo's questions over memories of a few kilobytes each.

An assistant's message of 5,000 characters holds many topics; this benchmark measures how
memvault finds such memories, how many hits a search returns within the default result
budget, and how fast it answers while the vectors of freshly added memories are still being
computed. It uses ``locomo10.json`` (see :mod:`benchmarks.locomo` for where to get it)::

    python benchmarks/longmem.py path/to/locomo10.json                   # local embedder
    python benchmarks/longmem.py path/to/locomo10.json --embedder none   # lexical only
    python benchmarks/longmem.py path/to/locomo10.json --batch --json out.json

The protocol, through memvault's public SDK only, as :mod:`benchmarks.locomo` does it:

1. Each conversation's turns are merged into messages of ``--message-min`` to
   ``--message-max`` characters (default 2,000-5,000) by the rule of
   :mod:`benchmarks.longmem_data`: a session's consecutive turns of one speaker make one
   ``"<speaker>: ..."`` block, and consecutive blocks are packed into a message until it
   reaches the minimum. A question's evidence is the set of messages holding its evidence
   turns.
2. Each conversation gets its own temporary database (``user_id`` = the sample id). Messages
   are added in order, with the session's date-time as ``occurred_at``, ``session_id`` =
   ``"<sample_id>:session_<n>"`` and ``{"message": "m<n>", "dia_ids": [...]}`` as metadata;
   one ``add`` per message (``--batch``: one ``add_many`` per session).
3. Backlog phase (with an embedder): right after the adds, while some of the conversation's
   vectors are not yet stored, its questions are searched one after another, each timed,
   until every vector is stored. This measures search while the embedding backlog drains.
4. Then the ingest ends once ``wait_for_vectors()`` returns, and every question is searched
   once with the bare question text, ``limit`` 10, ``context`` 0 and memvault's default
   result budget (``--max-chars`` overrides it).
5. recall@k = |evidence messages ∩ first k hits| / |evidence messages|, per category and over
   all questions, for k = 5 and 10; the mean number of hits returned per search is reported
   against the limit, with search p50/p95 of both phases.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

if not __package__:  # run as a script: the benchmarks package is in the repository's root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio

from benchmarks.common import (
    latency,
    load_average,
    machine,
    ms_since,
    package_version,
    percentile,
    positive,
    setting,
    write_json,
)
from benchmarks.locomo import _ready, _warm_up
from benchmarks.locomo_data import (
    EXPECTED_QUESTIONS,
    KS,
    Key,
    Question,
    ceiling,
    load_dataset,
    select,
)
from benchmarks.locomo_report import Options as LocomoOptions
from benchmarks.locomo_report import Outcome, recall_table
from benchmarks.longmem_data import (
    MAX_CHARS,
    MIN_CHARS,
    LongConversation,
    long_questions,
    merge_conversation,
)
from memvault import Memory, Memvault

__all__ = ["main"]


@dataclass(frozen=True)
class Options:
    embedder: Literal["local", "none"] = "local"
    batch: bool = False
    limit: int = 10
    max_chars: int | None = None
    message_min: int = MIN_CHARS
    message_max: int = MAX_CHARS
    backlog: bool = True
    verbose: bool = True
    search: tuple[tuple[str, str], ...] = ()

    def settings(self) -> dict[str, str]:
        return {f"search.{key}": value for key, value in self.search}

    def locomo(self) -> LocomoOptions:
        return LocomoOptions(embedder=self.embedder, limit=self.limit, search=self.search)


@dataclass
class Measurements:
    embedder: str = "none"
    add_ms: list[float] = field(default_factory=list)
    ingest_seconds: float = 0.0
    vector_wait_seconds: float = 0.0
    setup_seconds: float = 0.0
    outcomes: list[Outcome] = field(default_factory=list)
    hits: list[int] = field(default_factory=list)
    truncated: int = 0
    backlog_ms: list[float] = field(default_factory=list)
    backlog_hits: list[int] = field(default_factory=list)
    backlog_vector: int = 0
    """Backlog searches that used the vector retriever."""


def message_key(memory: Memory) -> Key:
    session = memory.session_id or ""
    return session.rsplit(":session_", 1)[0], str(memory.metadata.get("message"))


def _log(options: Options, message: str) -> None:
    if options.verbose:
        print(message, file=sys.stderr, flush=True)


async def _ingest(mv: Memvault, conversation: LongConversation, options: Options,
                  out: Measurements) -> float:
    total = 0.0
    user = conversation.sample_id
    for session in conversation.sessions():
        items = [
            {"content": m.content, "session_id": m.session_id, "occurred_at": m.occurred_at,
             "metadata": {"message": m.message_id, "dia_ids": list(m.dia_ids)}}
            for m in session
        ]
        if options.batch:
            start = time.perf_counter()
            await mv.add_many(items, user_id=user)
            out.add_ms.append(ms_since(start))
            total += time.perf_counter() - start
            continue
        for item in items:
            start = time.perf_counter()
            await mv.add(item["content"], user_id=user, session_id=item["session_id"],
                         occurred_at=item["occurred_at"], metadata=item["metadata"])
            out.add_ms.append(ms_since(start))
            total += time.perf_counter() - start
    return total


async def _backlog(mv: Memvault, questions: Sequence[Question], user: str, messages: int,
                   options: Options, out: Measurements) -> None:
    """Search while the conversation's vectors are still being stored (stops when they
    are all stored, or the questions run out)."""
    for question in questions:
        if await mv.episodic.count_embeddings() >= messages:
            return
        start = time.perf_counter()
        result = await mv.search(question.text, user_id=user, limit=options.limit,
                                 max_chars=options.max_chars)
        out.backlog_ms.append(ms_since(start))
        out.backlog_hits.append(len(result.hits))
        out.backlog_vector += "vector" in result.retrievers


async def _ask(mv: Memvault, questions: Sequence[Question], user: str, options: Options,
               out: Measurements) -> None:
    for question in questions:
        start = time.perf_counter()
        result = await mv.search(question.text, user_id=user, limit=options.limit,
                                 max_chars=options.max_chars)
        elapsed = ms_since(start)
        keys: list[Key] = []
        for hit in result.hits:
            key = message_key(hit.memory)
            if key not in keys:
                keys.append(key)
        out.hits.append(len(result.hits))
        out.truncated += result.truncated
        out.outcomes.append(Outcome(question, tuple(keys[: max(KS)]), elapsed))


async def run(conversations: Sequence[LongConversation], questions: Sequence[Question],
              options: Options) -> Measurements:
    out = Measurements()
    by_sample: dict[str, list[Question]] = {}
    for question in questions:
        by_sample.setdefault(question.sample_id, []).append(question)
    with tempfile.TemporaryDirectory(prefix="memvault-longmem-") as tmp:
        directory = Path(tmp)
        _log(options, "warming up …")
        await _warm_up(directory, options.locomo())
        for conversation in conversations:
            user = conversation.sample_id
            asked = by_sample.get(user, [])
            start = time.perf_counter()
            async with Memvault.open(directory / f"{user}.db", user_id=user,
                                     embedder=options.embedder, **options.settings()) as mv:
                out.embedder = await _ready(mv, options.locomo())
                out.setup_seconds += time.perf_counter() - start
                seconds = await _ingest(mv, conversation, options, out)
                start = time.perf_counter()
                if options.backlog and options.embedder != "none":
                    await _backlog(mv, asked, user, len(conversation.messages), options, out)
                await mv.wait_for_vectors()
                waited = time.perf_counter() - start
                out.vector_wait_seconds += waited
                out.ingest_seconds += seconds + waited
                _log(options, f"{user}: {len(conversation.messages)} messages added in "
                              f"{seconds:.1f} s, vectors {waited:.1f} s later")
                start = time.perf_counter()
                await _ask(mv, asked, user, options, out)
                _log(options, f"{user}: {len(asked)} searches in "
                              f"{time.perf_counter() - start:.1f} s")
    return out


# -- report ----------------------------------------------------------------------------------


def _mean(values: Sequence[int]) -> float | None:
    return sum(values) / len(values) if values else None


def build_report(path: Path, digest: str, conversations: Sequence[LongConversation],
                 questions: Sequence[Question], options: Options, out: Measurements,
                 load: Sequence[list[float] | None], wall_seconds: float) -> dict[str, Any]:
    sizes = [len(m.content) for c in conversations for m in c.messages]
    return {
        "benchmark": "locomo-long-memories",
        "dataset": {
            "path": str(path),
            "sha256": digest,
            "conversations": len(conversations),
            "messages": len(sizes),
            "message_chars": {"min": min(sizes, default=None), "p50": percentile(sizes, 50),
                              "mean": _mean(sizes), "max": max(sizes, default=None)},
            "questions": len(questions),
        },
        "settings": {
            "embedder": out.embedder,
            "ingest": "add_many per session" if options.batch else "add per message",
            "message_chars": [options.message_min, options.message_max],
            "search_limit": options.limit,
            "max_chars": options.max_chars,
            "search": dict(options.search),
            "k": list(KS),
        },
        "recall": recall_table(out.outcomes),
        "ceiling": {str(k): ceiling(questions, k) for k in KS},
        "hits_per_search": {
            "limit": options.limit,
            "mean": _mean(out.hits),
            "fewer_than_limit": sum(h < options.limit for h in out.hits),
            "truncated_by_budget": out.truncated,
            "backlog_mean": _mean(out.backlog_hits),
        },
        "latency_ms": {
            "add": {"unit": "session" if options.batch else "message",
                    **latency(out.add_ms, peak=False)},
            "search": latency([o.search_ms for o in out.outcomes]),
            "search_during_backlog": {**latency(out.backlog_ms),
                                      "with_vectors": out.backlog_vector},
        },
        "ingest_seconds": out.ingest_seconds,
        "vector_wait_seconds": out.vector_wait_seconds,
        "setup_seconds": out.setup_seconds,
        "wall_seconds": wall_seconds,
        "machine": machine(load, torch=package_version("torch"),
                           sentence_transformers=package_version("sentence-transformers")),
        "questions": [
            {"sample_id": o.question.sample_id, "category": o.question.category,
             "question": o.question.text, "evidence": sorted(m for _, m in o.question.evidence),
             "retrieved": [m for _, m in o.retrieved],
             **{f"recall@{k}": o.recall(k) for k in KS}, "search_ms": o.search_ms}
            for o in out.outcomes
        ],
    }


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render(report: dict[str, Any]) -> str:
    data, settings, box = report["dataset"], report["settings"], report["machine"]
    chars = data["message_chars"]
    lines = [
        f"memvault {box['memvault']} on long-memory LoCoMo ({Path(data['path']).name}, "
        f"sha256 {data['sha256'][:12]}…)",
        f"{data['messages']} messages of {chars['min']}-{chars['max']} characters "
        f"(median {_f(chars['p50'], 0)}); embedder: {settings['embedder']} | ingest: "
        f"{settings['ingest']} | search: limit {settings['search_limit']}, budget "
        f"{settings['max_chars'] or 'default'}"
        + "".join(f", {key}={value}" for key, value in settings["search"].items()),
        "",
        f"{'category':<26}{'n':>6}{'recall@5':>11}{'recall@10':>11}",
    ]
    for key, row in report["recall"].items():
        label = f"{key} {row['name']}" if key != "all" else "all (micro average)"
        lines.append(f"{label:<26}{row['n']:>6}{_f(row['recall@5'], 4):>11}"
                     f"{_f(row['recall@10'], 4):>11}")
    ceil, hits = report["ceiling"], report["hits_per_search"]
    lines += [
        f"{'ceiling':<26}{data['questions']:>6}{_f(ceil['5'], 4):>11}{_f(ceil['10'], 4):>11}",
        "",
        f"hits per search: mean {_f(hits['mean'])} of limit {hits['limit']}; "
        f"{hits['fewer_than_limit']} searches returned fewer; cut by the budget: "
        f"{hits['truncated_by_budget']}; during the backlog: mean {_f(hits['backlog_mean'])}",
        "",
        f"{'latency (ms)':<26}{'n':>6}{'p50':>11}{'p95':>11}{'max':>11}",
    ]
    for name, row in report["latency_ms"].items():
        label = f"{name} (per {row['unit']})" if "unit" in row else name
        lines.append(f"{label:<26}{row['n']:>6}{_f(row['p50']):>11}{_f(row['p95']):>11}"
                     f"{_f(row.get('max')):>11}")
    lines += [
        f"ingest total: {report['ingest_seconds']:.1f} s (of it "
        f"{report['vector_wait_seconds']:.1f} s after the last add, until every vector was "
        f"stored); store opening and model loading: {report['setup_seconds']:.1f} s",
        f"machine: {box['cpu']}, {box['cores']} cores, {box['ram_gib']} GiB RAM, "
        f"Python {box['python']}; load average at start {box['load_average_start']}, at end "
        f"{box['load_average_end']}; wall time {report['wall_seconds']:.1f} s",
    ]
    return "\n".join(lines)


# -- command line ----------------------------------------------------------------------------




def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="longmem.py",
        description="LoCoMo over long memories: recall@5/@10, hits per search, latency.",
    )
    parser.add_argument("path", type=Path, help="path to locomo10.json")
    parser.add_argument("--embedder", choices=["local", "e5", "auto", "none"], default="local")
    parser.add_argument("--batch", action="store_true",
                        help="one add_many per session instead of one add per message")
    parser.add_argument("--limit", type=positive, default=max(KS))
    parser.add_argument("--max-chars", type=positive, default=None,
                        help="search's character budget (default: memvault's)")
    parser.add_argument("--message-min", type=positive, default=MIN_CHARS,
                        help=f"shortest merged message, in characters (default {MIN_CHARS})")
    parser.add_argument("--message-max", type=positive, default=MAX_CHARS,
                        help=f"longest merged message (default {MAX_CHARS})")
    parser.add_argument("--no-backlog", action="store_true",
                        help="skip the searches made while vectors are being computed")
    parser.add_argument("--limit-conversations", type=positive, metavar="N")
    parser.add_argument("--limit-questions", type=positive, metavar="N")
    parser.add_argument("--expect-questions", type=int, default=EXPECTED_QUESTIONS,
                        metavar="N", help="stop unless the file has N scored questions "
                        f"(default {EXPECTED_QUESTIONS}; 0: no check)")
    parser.add_argument("--json", type=Path, metavar="OUT", dest="json_out")
    parser.add_argument("--search", action="append", default=[], type=setting,
                        metavar="KEY=VALUE", help="a SearchConfig setting (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    path: Path = args.path
    if not path.is_file():
        raise SystemExit(f"error: {path} not found; get locomo10.json from "
                         "https://github.com/snap-research/LoCoMo")
    if args.message_min > args.message_max:
        raise SystemExit("error: --message-min is larger than --message-max")
    wall = time.perf_counter()
    load_start = load_average()
    raw = path.read_bytes()
    dataset = load_dataset(path)
    if args.expect_questions and len(dataset.questions) != args.expect_questions:
        raise SystemExit(f"error: expected {args.expect_questions} questions with valid "
                         f"evidence, found {len(dataset.questions)}")
    chosen, turn_questions = select(dataset, args.limit_conversations, args.limit_questions)
    conversations = [merge_conversation(c, min_chars=args.message_min,
                                        max_chars=args.message_max) for c in chosen]
    questions = long_questions(turn_questions, conversations)
    options = Options(
        embedder=args.embedder, batch=args.batch, limit=args.limit, max_chars=args.max_chars,
        message_min=args.message_min, message_max=args.message_max,
        backlog=not args.no_backlog, verbose=not args.quiet, search=tuple(args.search),
    )
    print(f"evaluating {len(questions)} questions over {len(conversations)} conversations "
          f"({sum(len(c.messages) for c in conversations)} messages)", flush=True)
    out = anyio.run(run, conversations, questions, options)
    report = build_report(path, hashlib.sha256(raw).hexdigest(), conversations, questions,
                          options, out, (load_start, load_average()),
                          time.perf_counter() - wall)
    print()
    print(render(report))
    if args.json_out is not None:
        write_json(args.json_out, report)
    return report


if __name__ == "__main__":
    main()
