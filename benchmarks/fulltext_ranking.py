"""The full-text stage alone on a database the scale benchmark filled: FTS5 ranking every match
against the essential-phrase ranking (:mod:`memvault.stores.sqlite.bm25`), query by query.

::

    python benchmarks/fulltext_ranking.py --database /work/scale-1m.db --memories 1000000

The queries are the scale benchmark's timed ones for the same ``--memories``, ``--seed`` and
``--batch`` (regenerated, which reads no memory). For each, in one read-only connection: the
old ranking (``ORDER BY rank LIMIT pool`` over every match) and the new one, each timed in CPU
time, the rows the full query matches, the postings the new one scored, and whether the two
rankings are the same passages with the same scores (bit for bit). Prints percentiles.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: the benchmarks package is in the repository's root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.common import percentile, positive, write_json
from benchmarks.scale import make_queries, regenerate
from benchmarks.scale_corpus import Conversations, Corpus
from benchmarks.scale_report import WARM_UP, Plan
from memvault.analysis import tokens as analyse
from memvault.core.search.retrieve import POOL
from memvault.core.text.stopwords import STOP_WORDS
from memvault.core.text.terms import terms
from memvault.stores.sqlite import bm25, lexical


def queries(database: Path, memories: int, count: int, seed: int, batch: int) -> list[str]:
    corpus = Corpus(seed, reserved=STOP_WORDS)
    stream = Conversations(corpus, seed)
    total = count + WARM_UP
    pick = np.random.default_rng([seed, 4])
    wanted = set(pick.choice(memories, size=min(memories, total * 2), replace=False).tolist())
    plan = Plan(memories=memories, queries=count, dimensions=384, seed=seed, batch=batch,
                single_adds=0, database=database, query_model="fake", reuse=True)
    return make_queries(corpus, regenerate(plan, stream, wanted), total, seed)[WARM_UP:]


def compare(conn: sqlite3.Connection, query: str, pool: int) -> dict[str, Any]:
    words = list(dict.fromkeys(t for w in terms(query) for t in analyse(w, query=True)))
    conn.execute("SAVEPOINT compare")
    try:
        clock = time.process_time()
        full = bm25.full_ranking(conn, words, pool)
        full_ms = (time.process_time() - clock) * 1000
        clock = time.process_time()
        fast = bm25.top_passages(conn, words, pool)
        fast_ms = (time.process_time() - clock) * 1000
        matches = conn.execute("SELECT count(*) FROM passages_fts WHERE passages_fts MATCH ?",
                               (" OR ".join(bm25.phrase(w) for w in words),)).fetchone()[0]
    finally:
        conn.execute("ROLLBACK TO compare")
        conn.execute("RELEASE compare")
    return {"query": query, "full_cpu_ms": full_ms, "cpu_ms": fast_ms, "matches": matches,
            "postings": fast.postings, "direct": fast.direct, "rounds": fast.rounds,
            "same": fast.passages == full.passages}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="fulltext_ranking.py", description=__doc__)
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--memories", type=positive, required=True)
    parser.add_argument("--queries", type=positive, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=positive, default=1_000)
    parser.add_argument("--json", type=Path, dest="json_out")
    args = parser.parse_args(argv)
    asked = queries(args.database, args.memories, args.queries, args.seed, args.batch)
    conn = sqlite3.connect(f"file:{args.database}?mode=ro", uri=True, isolation_level=None)
    bm25.create_tables(conn, lexical.TOKENIZE)
    pool = max(POOL * 2, 40)  # lexical.search's pool for hybrid search's limit
    rows = [compare(conn, q, pool) for q in asked]
    summary: dict[str, Any] = {"queries": len(rows), "pool": pool,
                               "same": sum(r["same"] for r in rows),
                               "essential_path": sum(not r["direct"] for r in rows)}
    for key in ("full_cpu_ms", "cpu_ms", "matches", "postings"):
        values = [float(r[key]) for r in rows]
        summary[key] = {"p50": percentile(values, 50), "p95": percentile(values, 95),
                        "max": max(values), "mean": sum(values) / len(values)}
    for key, value in summary.items():
        print(f"{key}: {value}")
    if args.json_out is not None:
        write_json(args.json_out, {"summary": summary, "per_query": rows})
    return summary


if __name__ == "__main__":
    main()
