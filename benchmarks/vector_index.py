"""The SQLite store's approximate vector index against exact search, on a scale database.

::

    python benchmarks/scale.py --memories 100000 --database /tmp/s/memvault.db
    python benchmarks/vector_index.py /tmp/s/memvault.db --queries 200 --k 50

Opens the file left by ``benchmarks/scale.py --database`` twice: once with the graph
(``--ann-min``, default ``SearchConfig.ann_min_vectors``) and once exact. It reports

- the first search with the graph, built from the table (the saved graph beside the database
  is removed first) and then loaded from the file it saved, in a new store object;
- recall@k of the graph path against exact search (the share of the exact top k that the
  graph path returns, ties at the k-th score counted as found), without and with a session
  filter;
- ``vector_search`` p50/p95 for both paths (the same fake query vectors as the scale
  benchmark, ``limit`` k), and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
from pathlib import Path

if not __package__:  # run as a script: the benchmarks package is in the repository's root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio
import anyio.to_thread
import numpy as np

from benchmarks.scale import STOP_WORDS, USER, FakeEmbedder, make_queries
from benchmarks.scale_corpus import Conversations, Corpus
from memvault.config import SearchConfig
from memvault.errors import IndexBuilding
from memvault.models import Candidate, MemoryFilter
from memvault.stores.sqlite.episodic import SqliteEpisodicStore


def _ms(clock: float) -> float:
    return (time.perf_counter() - clock) * 1000


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _recall(got: list[Candidate], want: list[Candidate]) -> float:
    if not want:
        return 1.0
    kth = want[-1].score
    found = {c.memory_id for c in got} & {c.memory_id for c in want}
    tied = sum(1 for c in got if c.memory_id not in found and c.score >= kth - 1e-6)
    return min(1.0, (len(found) + tied) / len(want))


async def run(database: Path, queries: int, k: int, dimensions: int, seed: int,
              ann_min: int, reuse_saved: bool) -> None:
    corpus = Corpus(seed, reserved=STOP_WORDS)
    stream = Conversations(corpus, seed)
    sources = {i: t.content for i, t in enumerate(stream.take(min(5000, queries * 4)))}
    texts = make_queries(corpus, sources, queries, seed)
    embedder = FakeEmbedder(dimensions, seed)
    vectors = embedder.vectors(texts)
    where = MemoryFilter(user_id=USER)
    labels = ["built from the table", "loaded from the saved graph"]
    if reuse_saved:
        labels = labels[1:]
    else:
        shutil.rmtree(database.with_name(database.name + ".vectors"), ignore_errors=True)
    for label in labels:
        store = SqliteEpisodicStore(str(database), ann_min=ann_min)
        await store.open()
        clock, cpu = time.perf_counter(), time.process_time()
        try:
            await store.vector_search(where, vectors[0], limit=k)
        except IndexBuilding:  # built in the background: wait for it, then search
            builds = store._vectors.builds
            assert builds is not None
            await anyio.to_thread.run_sync(builds.wait, 24 * 3600.0)
            await store.vector_search(where, vectors[0], limit=k)
        print(f"first search with the graph, {label}: {_ms(clock):,.0f} ms"
              f" (process CPU {(time.process_time() - cpu) * 1000:,.0f} ms)", flush=True)
        await store.close()
    graph = SqliteEpisodicStore(str(database), ann_min=ann_min)
    exact = SqliteEpisodicStore(str(database), ann_min=None)
    await graph.open()
    await exact.open()
    await exact.vector_search(where, vectors[0], limit=k)
    sessions = [m.session_id for m in await graph.get(USER, [
        c.memory_id for c in await exact.vector_search(where, vectors[0], limit=20)])]
    timings: dict[str, list[float]] = {"graph": [], "exact": [], "graph CPU": [],
                                       "exact CPU": []}
    recalls: dict[str, list[float]] = {"no filter": [], "session filter": []}
    for vector in vectors:
        clock, cpu = time.perf_counter(), time.process_time()
        got = await graph.vector_search(where, vector, limit=k)
        timings["graph"].append(_ms(clock))
        timings["graph CPU"].append((time.process_time() - cpu) * 1000)
        clock, cpu = time.perf_counter(), time.process_time()
        want = await exact.vector_search(where, vector, limit=k)
        timings["exact"].append(_ms(clock))
        timings["exact CPU"].append((time.process_time() - cpu) * 1000)
        recalls["no filter"].append(_recall(got, want))
    for session in dict.fromkeys(s for s in sessions if s is not None):
        narrow = MemoryFilter(user_id=USER, session_id=session)
        for vector in vectors[:20]:
            recalls["session filter"].append(_recall(
                await graph.vector_search(narrow, vector, limit=k),
                await exact.vector_search(narrow, vector, limit=k)))
    for name, values in recalls.items():
        print(f"recall@{k} {name}: mean {np.mean(values):.4f}, p10 {_pct(values, 10):.3f},"
              f" min {min(values):.3f} (n={len(values)})")
    for name, values in timings.items():
        print(f"vector_search {name} (limit {k}): p50 {_pct(values, 50):.2f} ms,"
              f" p95 {_pct(values, 95):.2f} ms")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")
    await graph.close()
    await exact.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="vector_index.py", description=__doc__.split("\n")[0])
    parser.add_argument("database", type=Path)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--dimensions", type=int, default=384)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ann-min", type=int, default=SearchConfig().ann_min_vectors,
                        help="vector rows from which the graph is used (default: the config's)")
    parser.add_argument("--reuse-saved", action="store_true",
                        help="keep the graph saved beside the database (skip timing a build)")
    args = parser.parse_args(argv)
    if not args.database.exists():
        sys.exit(f"error: {args.database} does not exist (make it with scale.py --database)")
    anyio.run(run, args.database, args.queries, args.k, args.dimensions, args.seed,
              args.ann_min, args.reuse_saved)


if __name__ == "__main__":
    main()
