"""Scale benchmark: memvault's embedded store (one SQLite file) with N memories in one scope.

::

    python benchmarks/scale.py --memories 100000
    python benchmarks/scale.py --memories 1000000 --json scale-1m.json
    python benchmarks/scale.py --memories 10000 --queries 50 --database /tmp/x/memvault.db

What it does, through memvault's public API (``Memvault``, ``add_many``, ``add``, ``search``)
on a fresh ``sqlite:///`` database (episodic, profile and working stores in one file):

1. **Ingest**: N generated memories for one ``user_id``, with ``add_many`` in batches
   (``--batch``, default 1,000), in session order. Each batch call is timed; throughput is
   memories per second of ``add_many`` time, and the total wall time (which also counts
   generating the text) is reported beside it. Then ``--single-adds`` (default 200) more
   memories are added one ``add`` at a time and each call is timed (p50/p95), at full size.
2. **Search**: the first search (which loads every vector of the scope into memvault's
   in-memory numpy matrix, or a saved graph; a graph to build is built in the background
   while searches are lexical, and the time until it is ready is reported) is timed on its
   own, four more warm-up queries follow, then each
   of ``--queries`` queries is searched once with ``search(query, limit=10)`` and timed from
   the caller's side (p50/p95/max, milliseconds).
3. **Stages**: the same queries again, calling the episodic store's retrievers directly
   (``lexical_search`` and ``vector_search`` with the pool size hybrid search uses, the
   query "embedding", ``get``, ``adjacent``), with the number of rows the full-text query
   matches and the postings the index scored for it (the sum of the document frequencies of
   the phrases it ranked, see :mod:`memvault.stores.sqlite.bm25`); and the scan that
   memvault's 30-second background sweep runs (``missing_embeddings``).
4. **Lexical only**: the database is reopened without an embedder and the queries are timed
   again.
5. **Memory and disk**: peak RSS of the process (``ru_maxrss``) after ingest, after the
   hybrid searches and at the end; the database size on disk (main file + ``-wal`` +
   ``-shm``) after ingest and after closing.

**Text**: :mod:`benchmarks.scale_corpus` (its docstring says how) generates one-sentence
memories of 8-30 words drawn from a 5,000-word Zipf vocabulary with capitalised names, in
sessions of 10-30 turns, deterministic for a given ``--seed``, ``--memories`` and ``--batch``.

**Queries**: half are a random run of 3-8 consecutive words of a stored memory (so they have
an exact match), half are 3-8 words drawn like memory text (names included the same way),
lower-cased, without punctuation. A query whose words are all stop words is drawn again.

**Vectors are not from a model.** Embedding a million texts with a real model on a small CPU
takes hours, so the benchmark passes memvault a deterministic fake embedder
(:class:`FakeEmbedder`, which implements :class:`memvault.embedders.base.Embedder`): each
lower-cased word is hashed (BLAKE2b) to one of 32,768 rows of a fixed random normal matrix
(seeded), a text's vector is the sum of its words' rows, L2-normalised, float32, 384
dimensions by default. It costs about 25 microseconds per text (0.2 ms per query, measured
and reported as the "embed (fake)" stage), so query embedding is nearly free in the search
timings, where a real model would add its own time (``--query-model local``: about 3 ms for
all-MiniLM-L6-v2 on ONNX Runtime, 8-10 ms on torch, on a 2-core CPU). It is not a passage
embedder: one vector per memory, as for any one-sentence memory.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: the benchmarks package is in the repository's root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio
import numpy as np

from benchmarks.common import load_average, ms_since, positive, write_json
from benchmarks.scale_corpus import Conversations, Corpus, Turn
from benchmarks.scale_report import (
    EMBEDDER_ROWS,
    SEARCH_LIMIT,
    WARM_UP,
    Plan,
    Results,
    build_report,
    code_version,
    render,
)
from memvault import Config, MemoryInput, Memvault
from memvault.core.search.retrieve import POOL
from memvault.core.text.stopwords import STOP_WORDS
from memvault.core.text.terms import terms
from memvault.embedders.base import Embedder, Matrix, QueryEmbedder
from memvault.models import MemoryFilter
from memvault.stores.sqlite import lexical as sqlite_lexical
from memvault.stores.sqlite.episodic import SqliteEpisodicStore

__all__ = ["Corpus", "FakeEmbedder", "main"]

USER = "scale-user"
WORDS_PER_QUERY = (3, 8)
_QUERY_TOKEN = re.compile(r"[^\w'’]+")
_EMBED_TOKEN = re.compile(r"[\w'’]+")


# -- queries ---------------------------------------------------------------------------------


def query_from(text: str, rng: np.random.Generator) -> str | None:
    """A run of 3-8 consecutive words of ``text``, lower-cased, without punctuation."""
    words = [w for w in _QUERY_TOKEN.split(text) if w]
    length = min(len(words), int(rng.integers(WORDS_PER_QUERY[0], WORDS_PER_QUERY[1] + 1)))
    start = int(rng.integers(0, len(words) - length + 1))
    query = " ".join(words[start:start + length]).lower()
    return query if terms(query) else None


def fresh_query(corpus: Corpus, rng: np.random.Generator) -> str:
    """3-8 words drawn like memory text, lower-cased; drawn again while none is a term."""
    while True:
        length = int(rng.integers(WORDS_PER_QUERY[0], WORDS_PER_QUERY[1] + 1))
        query = " ".join(corpus.word_lists(rng, [length])[0]).lower()
        if terms(query):
            return query


def make_queries(corpus: Corpus, sources: Mapping[int, str], count: int, seed: int
                 ) -> list[str]:
    """``count`` queries, alternately from a stored memory and freshly drawn."""
    rng = np.random.default_rng([seed, 3])
    texts = [sources[i] for i in sorted(sources)]
    order = rng.permutation(len(texts)).tolist()
    queries: list[str] = []
    for n in range(count):
        query = None
        if n % 2 == 0:
            while query is None and order:
                query = query_from(texts[order.pop()], rng)
        queries.append(query if query is not None else fresh_query(corpus, rng))
    return queries


# -- the fake embedder -----------------------------------------------------------------------


class FakeEmbedder:
    """Deterministic, model-free vectors: the normalised sum of hashed per-word random rows.

    Implements :class:`memvault.embedders.base.Embedder`. Texts that share words get similar
    vectors, so the vector retriever's results are not pure noise, but the point is cost:
    about 25 microseconds per text.
    """

    def __init__(self, dimensions: int, seed: int) -> None:
        self.dimensions = dimensions
        self.seed = seed
        rng = np.random.default_rng([seed, 2])
        self._table = rng.standard_normal((EMBEDDER_ROWS, dimensions), dtype=np.float32)
        self._slots: dict[str, int] = {}
        self.texts = 0
        self.seconds = 0.0
        #: With ``--query-model``, a real model that also embeds every query (its vector is
        #: discarded: the stored vectors are fake), so search timings include its cost.
        self.query_model: Embedder | None = None

    @property
    def name(self) -> str:
        return f"scale-benchmark-fake-{self.dimensions}d-seed{self.seed}"

    async def load(self) -> None:
        return None

    def _slot(self, word: str) -> int:
        slot = self._slots.get(word)
        if slot is None:
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            slot = int.from_bytes(digest, "little") % EMBEDDER_ROWS
            self._slots[word] = slot
        return slot

    def vectors(self, texts: Sequence[str]) -> Matrix:
        started = time.perf_counter()
        slots: list[int] = []
        starts: list[int] = []
        for text in texts:
            starts.append(len(slots))
            words = _EMBED_TOKEN.findall(text.lower()) or [text]
            slots.extend(self._slot(w) for w in words)
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        sums = np.add.reduceat(self._table[np.asarray(slots, dtype=np.intp)],
                               np.asarray(starts, dtype=np.intp), axis=0)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        result: Matrix = (sums / norms).astype(np.float32, copy=False)
        self.texts += len(texts)
        self.seconds += time.perf_counter() - started
        return result

    async def embed(self, texts: Sequence[str]) -> Matrix:
        if self.query_model is not None:
            await self.query_model.embed(texts)
        return self.vectors(texts)

    async def embed_query(self, texts: Sequence[str]) -> Matrix:
        """A search's vectors: the query model embeds the query as it would a search's."""
        if isinstance(self.query_model, QueryEmbedder):
            await self.query_model.embed_query(texts)
        elif self.query_model is not None:
            await self.query_model.embed(texts)
        return self.vectors(texts)

    async def aclose(self) -> None:
        return None


# -- measuring -------------------------------------------------------------------------------


def peak_rss_mib() -> float:
    """The process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def memory_snapshot() -> dict[str, float | None]:
    return {"peak_rss_mib": round(peak_rss_mib(), 1), "rss_mib": _round(current_rss_mib())}


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def disk_usage(path: Path) -> dict[str, int]:
    sizes = {}
    for suffix in ("", "-wal", "-shm"):
        target = Path(str(path) + suffix)
        sizes[suffix.lstrip("-") or "main"] = target.stat().st_size if target.exists() else 0
    sizes["total"] = sum(sizes.values())
    return sizes


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def make_config(database: Path) -> Config:
    return Config.from_flat({"database": str(database), "user_id": USER, "embedder": "none"})


def _as_input(turn: Turn) -> MemoryInput:
    return MemoryInput(content=turn.content, session_id=turn.session_id,
                       occurred_at=turn.occurred_at)


def _batches(stream: Conversations, total: int, size: int) -> Iterator[list[Turn]]:
    done = 0
    while done < total:
        count = min(size, total - done)
        yield stream.take(count)
        done += count


async def ingest(mv: Memvault, plan: Plan, stream: Conversations, wanted: set[int],
                 out: Results) -> dict[int, str]:
    """Add ``plan.memories`` memories with ``add_many``; returns the texts of ``wanted``."""
    sources: dict[int, str] = {}
    started = time.perf_counter()
    report_every = max(plan.batch, plan.memories // 20)
    next_report = report_every
    index = 0
    clock = time.perf_counter()
    batches = _batches(stream, plan.memories, plan.batch)
    while True:
        generated = time.perf_counter()
        batch = next(batches, None)
        if batch is None:
            break
        items = [_as_input(turn) for turn in batch]
        out.generate_seconds += time.perf_counter() - generated
        for offset, turn in enumerate(batch):
            if index + offset in wanted:
                sources[index + offset] = turn.content
        clock = time.perf_counter()
        await mv.add_many(items, user_id=USER)
        elapsed = time.perf_counter() - clock
        out.ingest_batch_ms.append(elapsed * 1000)
        out.ingest_add_many_seconds += elapsed
        index += len(batch)
        if index >= next_report or index == plan.memories:
            recent = out.ingest_batch_ms[-max(1, report_every // plan.batch):]
            rate = len(recent) * plan.batch / (sum(recent) / 1000)
            total = time.perf_counter() - started
            eta = (plan.memories - index) / rate
            _log(f"ingest {index:,}/{plan.memories:,}: {rate:,.0f} memories/s lately, "
                 f"{total:,.0f} s so far, ~{eta:,.0f} s to go, peak RSS {peak_rss_mib():,.0f} MiB")
            next_report += report_every
    # add_many returns before the vectors are stored (they are embedded behind the adds):
    # the ingest ends when the last one is, and its throughput counts that wait.
    clock = time.perf_counter()
    await mv.wait_for_vectors()
    out.vector_wait_seconds = time.perf_counter() - clock
    out.ingest_add_many_seconds += out.vector_wait_seconds
    out.ingest_wall_seconds = time.perf_counter() - started
    return sources


def regenerate(plan: Plan, stream: Conversations, wanted: set[int]) -> dict[int, str]:
    """The texts of ``wanted`` as the ingest of the same plan made them, without adding."""
    sources: dict[int, str] = {}
    index = 0
    for batch in _batches(stream, plan.memories, plan.batch):
        for offset, turn in enumerate(batch):
            if index + offset in wanted:
                sources[index + offset] = turn.content
        index += len(batch)
    return sources


async def single_adds(mv: Memvault, plan: Plan, stream: Conversations, out: Results) -> None:
    for turn in stream.take(plan.single_adds):
        clock = time.perf_counter()
        await mv.add(turn.content, user_id=USER, session_id=turn.session_id,
                     occurred_at=turn.occurred_at)
        out.single_add_ms.append(ms_since(clock))


async def timed_searches(mv: Memvault, queries: Sequence[str], out: Results | None = None,
                         cpu: list[float] | None = None) -> list[float]:
    """Wall milliseconds per search; ``cpu`` collects the process's CPU milliseconds (all
    threads), which show how much of the wall time was spent waiting for a core."""
    times: list[float] = []
    for query in queries:
        cpu_clock = time.process_time()
        clock = time.perf_counter()
        result = await mv.search(query, user_id=USER, limit=SEARCH_LIMIT)
        times.append(ms_since(clock))
        if cpu is not None:
            cpu.append((time.process_time() - cpu_clock) * 1000)
        if out is not None:
            out.hits.append(len(result.hits))
            key = "+".join(result.retrievers) or "none"
            out.retrievers[key] = out.retrievers.get(key, 0) + 1
    return times


async def stages(mv: Memvault, embedder: FakeEmbedder, queries: Sequence[str], out: Results
                 ) -> None:
    """Each store call of hybrid search on its own, plus the FTS match count per query."""
    store = mv.episodic
    where = MemoryFilter(user_id=USER)
    embed = "embed (fake)" if embedder.query_model is None else "embed (local model + fake)"
    names = ["lexical_search", embed, "vector_search", "get", "adjacent", "fts match count"]
    timings: dict[str, list[float]] = {name: [] for name in names}
    sqlite_store = store if isinstance(store, SqliteEpisodicStore) else None
    for query in queries:
        query_terms = terms(query)
        clock = time.perf_counter()
        lexical = await store.lexical_search(where, query_terms, limit=POOL)
        timings["lexical_search"].append(ms_since(clock))
        clock = time.perf_counter()
        vector = await embedder.embed_query([query])
        timings[embed].append(ms_since(clock))
        clock = time.perf_counter()
        nearest = await store.vector_search(where, vector[0], limit=POOL)
        timings["vector_search"].append(ms_since(clock))
        ids = list(dict.fromkeys([c.memory_id for c in lexical] + [c.memory_id for c in nearest]))
        clock = time.perf_counter()
        await store.get(USER, ids)
        timings["get"].append(ms_since(clock))
        clock = time.perf_counter()
        await store.adjacent(USER, ids)
        timings["adjacent"].append(ms_since(clock))
        if sqlite_store is not None:
            match = " OR ".join('"' + w.replace('"', '""') + '"' for w in query_terms)

            def _count(conn: sqlite3.Connection, match: str = match) -> int:
                return int(conn.execute(
                    "SELECT count(*) FROM passages_fts WHERE passages_fts MATCH ?",
                    (match,),
                ).fetchone()[0])

            def _scored(conn: sqlite3.Connection, words: Sequence[str] = query_terms
                        ) -> tuple[int, bool]:
                found = sqlite_lexical.ranking(conn, words, limit=POOL)
                return found.postings, found.direct

            clock = time.perf_counter()
            out.fts_matches.append(await sqlite_store._db.read(_count))
            timings["fts match count"].append(ms_since(clock))
            scored, direct = await sqlite_store._db.read(_scored)
            out.fts_scored.append(scored)
            out.fts_direct += direct
    out.stages = {k: v for k, v in timings.items() if v}
    clock = time.perf_counter()
    await store.missing_embeddings(limit=256)
    out.sweep_scan_ms = ms_since(clock)


async def run(plan: Plan) -> Results:
    out = Results()
    corpus = Corpus(plan.seed, reserved=STOP_WORDS)
    stream = Conversations(corpus, plan.seed)
    total_queries = plan.queries + WARM_UP
    pick = np.random.default_rng([plan.seed, 4])
    wanted_count = min(plan.memories, total_queries * 2)
    wanted = set(pick.choice(plan.memories, size=wanted_count, replace=False).tolist())
    config = make_config(plan.database)

    embedder = FakeEmbedder(plan.dimensions, plan.seed)
    _log(f"database {plan.database}; embedder {embedder.name}")
    async with Memvault(config, embedder=embedder) as mv:
        state = await mv.embedding.wait_settled(60)
        if state != "ready":
            raise SystemExit(f"the fake embedder is {state}: {mv.embedding.error}")
        if plan.reuse:
            sources = regenerate(plan, stream, wanted)
            stored = await mv.episodic.count(USER)
            if stored < plan.memories:
                raise SystemExit(f"error: {plan.database} holds {stored:,} memories, not "
                                 f"{plan.memories:,}: run without --reuse to fill it")
        else:
            sources = await ingest(mv, plan, stream, wanted, out)
        out.embed_seconds_ingest = embedder.seconds
        out.memory["after_ingest"] = memory_snapshot()
        out.disk["after_ingest"] = disk_usage(plan.database)
        if not plan.reuse:
            _log(f"ingest done in {out.ingest_wall_seconds:,.1f} s; "
                 f"{plan.single_adds} single adds")
            await single_adds(mv, plan, stream, out)
            await mv.wait_for_vectors()
        out.sessions = stream.sessions
        out.examples["memories"] = [sources[i] for i in sorted(sources)[:3]]

        if plan.query_model == "local":
            from memvault.embedders.local import LocalEmbedder

            embedder.query_model = LocalEmbedder()
            await embedder.query_model.load()
            await embedder.query_model.embed(["warm up the model"])
        queries = make_queries(corpus, sources, total_queries, plan.seed)
        warm, timed = queries[:WARM_UP], queries[WARM_UP:]
        out.queries = timed
        out.examples["queries"] = timed[:6]
        _log("first search (builds the vector cache)")
        clock = time.perf_counter()
        first = await mv.search(warm[0], user_id=USER, limit=SEARCH_LIMIT)
        out.first_search_ms = ms_since(clock)
        clock = time.perf_counter()
        while first.pending is not None and "index" in first.pending:
            _log(first.pending)
            await anyio.sleep(5.0)  # the graph is built in the background meanwhile
            first = await mv.search(warm[0], user_id=USER, limit=SEARCH_LIMIT)
        out.index_ready_seconds = time.perf_counter() - clock
        out.warm_up_ms = await timed_searches(mv, warm[1:])
        _log(f"timing {len(timed)} searches")
        out.search_ms = await timed_searches(mv, timed, out, out.search_cpu_ms)
        out.memory["after_search"] = memory_snapshot()
        _log("stage timings")
        await stages(mv, embedder, timed, out)
        out.stored = await mv.episodic.count(USER)
        out.vectors = await mv.episodic.count_embeddings()

    _log("lexical-only searches (no embedder)")
    async with Memvault(config, embedder=None) as lexical:
        await timed_searches(lexical, warm)
        out.lexical_only_ms = await timed_searches(lexical, timed, None,
                                                   out.lexical_only_cpu_ms)
    out.memory["end"] = memory_snapshot()
    out.disk["after_close"] = disk_usage(plan.database)
    return out

# -- command line ----------------------------------------------------------------------------


def _positive(text: str) -> int:
    return positive(text.replace("_", "").replace(",", ""))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scale.py",
        description="Scale benchmark for memvault's SQLite store: ingest, add and search "
        "latency, memory and disk with N generated memories in one scope (fake vectors).",
    )
    parser.add_argument("--memories", type=positive, default=100_000,
                        help="memories to ingest (default 100000)")
    parser.add_argument("--queries", type=positive, default=200,
                        help="timed searches (default 200)")
    parser.add_argument("--dimensions", type=positive, default=384,
                        help="vector dimensions (default 384)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--batch", type=positive, default=1_000,
                        help="memories per add_many call (default 1000)")
    parser.add_argument("--single-adds", type=positive, default=200,
                        help="single add calls timed after the ingest (default 200)")
    parser.add_argument("--database", type=Path, metavar="PATH",
                        help="SQLite file to create (must not exist; kept afterwards). "
                        "Default: a temporary directory, deleted at the end")
    parser.add_argument("--reuse", action="store_true",
                        help="search the existing --database, filled by an earlier run with "
                        "the same --memories, --seed and --batch, without ingesting: the "
                        "searches and memory of a process that opens a full store")
    parser.add_argument("--query-model", choices=["fake", "local"], default="fake",
                        help="'local' also embeds each query with all-MiniLM-L6-v2 (the vector "
                        "is discarded), so search timings include a real query embedding")
    parser.add_argument("--json", type=Path, metavar="OUT", dest="json_out",
                        help="also write the report as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; prints the table and returns the report."""
    args = parse_args(argv)
    wall = time.perf_counter()
    load_start = load_average()
    code = code_version()
    temporary: Path | None = None
    if args.database is None:
        temporary = Path(tempfile.mkdtemp(prefix="memvault-scale-"))
        database = temporary / "memvault.db"
    else:
        database = args.database.expanduser().resolve()
        if database.exists() != args.reuse:
            raise SystemExit(f"error: {database} exists; the benchmark needs a new database"
                             if database.exists() else
                             f"error: {database} does not exist; --reuse searches a full one")
    if args.reuse and temporary is not None:
        raise SystemExit("error: --reuse needs --database")
    plan = Plan(memories=args.memories, queries=args.queries, dimensions=args.dimensions,
                seed=args.seed, batch=args.batch, single_adds=args.single_adds,
                database=database, query_model=args.query_model, reuse=args.reuse)
    try:
        out = anyio.run(run, plan)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    report = build_report(plan, out, (load_start, load_average()),
                          time.perf_counter() - wall, code)
    print(render(report))
    if args.json_out is not None:
        write_json(args.json_out, report)
    return report


if __name__ == "__main__":
    main()

