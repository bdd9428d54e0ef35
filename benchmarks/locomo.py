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
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: the benchmarks package is in the repository's root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio

from benchmarks.common import load_average, ms_since, positive, setting, write_json
from benchmarks.locomo_data import (
    EXPECTED_QUESTIONS,
    KS,
    Conversation,
    Key,
    Question,
    load_dataset,
    select,
    self_check,
)
from benchmarks.locomo_report import Measurements, Options, Outcome, build_report, render
from memvault import Memory, Memvault, SearchResult

__all__ = ["main"]

POOLED_USER = "locomo-pooled"


# -- running ---------------------------------------------------------------------------------


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
        elapsed_ms = ms_since(start)
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


# -- command line ----------------------------------------------------------------------------




def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="locomo.py",
        description="LoCoMo retrieval benchmark for memvault (recall@5/@10 and latency).",
        epilog="Get locomo10.json from https://github.com/snap-research/LoCoMo (data/).",
    )
    parser.add_argument("path", type=Path, help="path to locomo10.json")
    parser.add_argument("--embedder", choices=["local", "e5", "none"], default="local",
                        help="local: all-MiniLM-L6-v2; e5: multilingual-e5-small; none: lexical")
    parser.add_argument("--batch", action="store_true",
                        help="ingest with one add_many per session instead of one add per turn")
    parser.add_argument("--pooled", action="store_true",
                        help="all conversations in one user scope")
    parser.add_argument("--context", type=int, default=0, choices=range(6), metavar="N",
                        help="neighbouring turns per side that search returns (0-5; default 0)")
    parser.add_argument("--limit", type=positive, default=max(KS),
                        help=f"hits per search (default {max(KS)})")
    parser.add_argument("--max-chars", type=positive, default=None,
                        help="search's character budget (default: memvault's)")
    parser.add_argument("--limit-conversations", type=positive, metavar="N",
                        help="only the first N conversations")
    parser.add_argument("--limit-questions", type=positive, metavar="N",
                        help="only the first N questions of each conversation")
    parser.add_argument("--expect-questions", type=int, default=EXPECTED_QUESTIONS,
                        metavar="N", help="stop unless the file has N questions with valid "
                        f"evidence (default {EXPECTED_QUESTIONS}; 0: no check)")
    parser.add_argument("--json", type=Path, metavar="OUT", dest="json_out",
                        help="also write the report as JSON")
    parser.add_argument("--search", action="append", default=[], type=setting,
                        metavar="KEY=VALUE", help="a search setting, e.g. timeline=false or "
                        "fusion=rank (memvault's SearchConfig; repeatable); a dotted key "
                        "names any setting, e.g. embedder.query_threads=2")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--encryption-key", default=None, metavar="KEY",
                        help="encrypt the stores under KEY (the encryption extra)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; prints the table and returns the report."""
    args = parse_args(argv)
    path: Path = args.path
    if not path.is_file():
        raise SystemExit(f"error: {path} not found; get locomo10.json from "
                         "https://github.com/snap-research/LoCoMo")
    wall = time.perf_counter()
    load_start = load_average()
    raw = path.read_bytes()
    dataset = load_dataset(path)
    ceilings = self_check(dataset, args.expect_questions)
    conversations, questions = select(dataset, args.limit_conversations, args.limit_questions)
    options = Options(
        embedder=args.embedder, batch=args.batch, pooled=args.pooled, limit=args.limit,
        context=args.context, max_chars=args.max_chars, verbose=not args.quiet,
        search=tuple(args.search), encryption_key=args.encryption_key,
    )
    print(f"evaluating {len(questions)} questions over {len(conversations)} conversations",
          flush=True)
    out = anyio.run(run, conversations, questions, options)
    report = build_report(
        path, hashlib.sha256(raw).hexdigest(), conversations, questions, options, out,
        ceilings, (load_start, load_average()), time.perf_counter() - wall,
    )
    print()
    print(render(report))
    if args.json_out is not None:
        write_json(args.json_out, report)
    return report


if __name__ == "__main__":
    main()
