"""Plain BM25 over the same memories, to measure memvault's search against: the baseline a
reader can rebuild from any textbook, on LoCoMo's turns and on the long-memory variant.

::

    python benchmarks/bm25_baseline.py path/to/locomo10.json            # one memory per turn
    python benchmarks/bm25_baseline.py path/to/locomo10.json --long     # benchmarks.longmem's

The protocol is :mod:`benchmarks.locomo`'s (``--long``: :mod:`benchmarks.longmem`'s, with
its default merge) with memvault replaced by the simplest full-text ranking: each
conversation's memories (``"<speaker>: <text>"``, image turns with their caption) go into an
SQLite FTS5 table of their own with the Porter stemmer (``porter unicode61``); a question
becomes the OR of its words that are not English stop words (the list memvault uses), and
the memories are ranked by FTS5's ``bm25()`` (k1 = 1.2, b = 0.75, statistics of the
conversation alone). Nothing else: no speakers, no timeline, no vectors. recall@5 / recall@10
as in those benchmarks, per category and over all questions.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: the benchmarks package is in the repository's root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import load_average, machine, positive, write_json
from benchmarks.locomo_data import (
    CATEGORIES,
    EXPECTED_QUESTIONS,
    KS,
    Key,
    Question,
    load_dataset,
    self_check,
)
from benchmarks.locomo_report import Outcome, recall_table
from benchmarks.longmem_data import MAX_CHARS, MIN_CHARS, long_questions, merge_conversation
from memvault.core.text.stopwords import STOP_WORDS

__all__ = ["main", "query_of", "rank"]

_WORD = re.compile(r"\w+")


def query_of(question: str) -> str | None:
    """The FTS5 query of a question: its words that are not stop words, each quoted, OR-ed;
    ``None`` when none is left."""
    words = [w for w in _WORD.findall(question.lower()) if w not in STOP_WORDS]
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(words)) or None


def rank(documents: Sequence[tuple[Key, str]], questions: Sequence[Question]
         ) -> list[Outcome]:
    """Each question's first ``max(KS)`` documents by plain BM25 over ``documents``."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE VIRTUAL TABLE docs USING fts5(content, tokenize='porter unicode61')")
        conn.executemany("INSERT INTO docs(rowid, content) VALUES (?, ?)",
                         [(i + 1, text) for i, (_, text) in enumerate(documents)])
        outcomes: list[Outcome] = []
        for question in questions:
            query = query_of(question.text)
            rows = [] if query is None else conn.execute(
                "SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT ?",
                (query, max(KS))).fetchall()
            outcomes.append(Outcome(question, tuple(documents[r - 1][0] for (r,) in rows), 0.0))
        return outcomes
    finally:
        conn.close()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bm25_baseline.py",
        description="Plain BM25 (FTS5, Porter stemmer, stop words) on LoCoMo's questions.")
    parser.add_argument("path", type=Path, help="path to locomo10.json")
    parser.add_argument("--long", action="store_true",
                        help="over the long-memory variant's merged messages (benchmarks.longmem)")
    parser.add_argument("--message-min", type=positive, default=MIN_CHARS,
                        help=f"with --long: shortest merged message (default {MIN_CHARS})")
    parser.add_argument("--message-max", type=positive, default=MAX_CHARS,
                        help=f"with --long: longest merged message (default {MAX_CHARS})")
    parser.add_argument("--expect-questions", type=int, default=EXPECTED_QUESTIONS,
                        help=argparse.SUPPRESS)  # for the smoke test's tiny file
    parser.add_argument("--json", dest="json_out", type=Path, default=None,
                        help="also write the report as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if not args.path.is_file():
        raise SystemExit(f"error: {args.path} not found; get locomo10.json from "
                         "https://github.com/snap-research/LoCoMo")
    load_start = load_average()
    dataset = load_dataset(args.path)
    self_check(dataset, args.expect_questions)
    outcomes: list[Outcome] = []
    for conversation in dataset.conversations:
        asked = [q for q in dataset.questions if q.sample_id == conversation.sample_id]
        documents: list[tuple[Key, str]]
        if args.long:
            merged = merge_conversation(conversation, min_chars=args.message_min,
                                        max_chars=args.message_max)
            documents = [((merged.sample_id, m.message_id), m.content) for m in merged.messages]
            asked = long_questions(asked, [merged])
        else:
            documents = [((conversation.sample_id, turn.dia_id), turn.content)
                         for session in conversation.sessions for turn in session.turns]
        outcomes += rank(documents, asked)
    report: dict[str, Any] = {
        "benchmark": "bm25_baseline", "variant": "long" if args.long else "turns",
        "data_sha256": hashlib.sha256(args.path.read_bytes()).hexdigest(),
        "questions": [{"question": o.question.text, "category": o.question.category,
                       "retrieved": [key for _, key in o.retrieved]} for o in outcomes],
        "recall": recall_table(outcomes),
        "machine": machine((load_start, load_average())),
    }
    print(f"plain BM25 over {'merged messages' if args.long else 'turns'}, "
          f"{len(outcomes)} questions (recall@5 / recall@10)")
    for key, row in report["recall"].items():
        label = f"{key} {CATEGORIES[int(key)]}" if key.isdigit() else key
        print(f"  {label:<16}{row['n']:>6}  " + " / ".join(
            f"{row[f'recall@{k}']:.4f}" for k in KS))
    if args.json_out is not None:
        write_json(args.json_out, report)
    return report


if __name__ == "__main__":
    main()
