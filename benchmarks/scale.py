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
   in-memory numpy matrix) is timed on its own, four more warm-up queries follow, then each
   of ``--queries`` queries is searched once with ``search(query, limit=10)`` and timed from
   the caller's side (p50/p95/max, milliseconds).
3. **Stages**: the same queries again, calling the episodic store's retrievers directly
   (``lexical_search`` and ``vector_search`` with the pool size hybrid search uses, the
   query "embedding", ``get``, ``adjacent``), with the number of rows the full-text query
   matches; and the scan that memvault's 30-second background sweep runs
   (``missing_embeddings``).
4. **Lexical only**: the database is reopened without an embedder and the queries are timed
   again.
5. **Memory and disk**: peak RSS of the process (``ru_maxrss``) after ingest, after the
   hybrid searches and at the end; the database size on disk (main file + ``-wal`` +
   ``-shm``) after ingest and after closing.

**Text** (deterministic for a given ``--seed``, ``--memories`` and ``--batch``): a vocabulary
of 5,000 words, whose first ~110 ranks are common English function and conversational words
("the", "i", "and", ..., "like", "really", "think") and the rest pronounceable pseudo-words
built from 1-4 consonant-vowel syllables and an optional final consonant ("tralen",
"voustik"), drawn with Zipf probabilities p(rank) ∝ 1/rank
(exponent 1.0). A memory is one sentence of 8-30 such words (uniform length), the first word
capitalised, ending in "." (or "?" one time in ten). 30% of memories contain one capitalised
name and a further 10% two (names: 300 capitalised pseudo-words, also Zipf-distributed),
each replacing a word at a random position. Memories form sessions of 10-30 turns (uniform,
mean 20) with ``session_id`` ``session-0000001``...; ``occurred_at`` starts at
2021-01-01T00:00Z and increases by 15-180 s between turns and by an exponential gap (mean 1
hour) between sessions.

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
timings, where a real model would add its own time (about 8-10 ms for
all-MiniLM-L6-v2 on a 2-core CPU). It is not a passage embedder: one vector per memory, as for any
one-sentence memory.
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
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import numpy.typing as npt

import memvault
from memvault import Config, MemoryInput, Memvault
from memvault.core.search.retrieve import POOL
from memvault.core.text.stopwords import STOP_WORDS
from memvault.core.text.terms import terms
from memvault.embedders.base import Matrix
from memvault.models import MemoryFilter
from memvault.stores.sqlite.episodic import SqliteEpisodicStore

__all__ = ["Corpus", "FakeEmbedder", "main"]

USER = "scale-user"
VOCABULARY = 5_000
NAMES = 300
ZIPF_EXPONENT = 1.0
WORDS_PER_MEMORY = (8, 30)
WORDS_PER_QUERY = (3, 8)
TURNS_PER_SESSION = (10, 30)
TURN_GAP_SECONDS = (15, 180)
SESSION_GAP_MEAN_SECONDS = 3600.0
START = datetime(2021, 1, 1, tzinfo=UTC)
ONE_NAME, TWO_NAMES, QUESTION = 0.30, 0.10, 0.10
EMBEDDER_ROWS = 1 << 15
WARM_UP = 5
SEARCH_LIMIT = 10

#: The most frequent ranks of the vocabulary, in (roughly) conversational frequency order.
COMMON_WORDS = [
    "the", "i", "and", "to", "a", "you", "it", "of", "that", "in", "is", "my", "was", "for",
    "so", "we", "on", "have", "but", "it's", "with", "me", "just", "this", "be", "i'm",
    "like", "at", "they", "are", "not", "do", "what", "really", "all", "about", "your",
    "yeah", "know", "one", "think", "can", "if", "out", "there", "get", "time", "from",
    "would", "going", "go", "when", "been", "had", "more", "some", "good", "great", "up",
    "our", "now", "how", "then", "also", "very", "much", "them", "were", "did", "an", "or",
    "by", "as", "because", "too", "want", "people", "day", "love", "new", "see", "way",
    "make", "lot", "thing", "things", "fun", "well", "oh", "he", "she", "her", "his",
    "will", "could", "should", "last", "week", "year", "home", "work", "friends", "family",
    "feel", "still", "even", "back", "take", "pretty", "always", "never",
]

_ONSETS = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w",
           "z", "br", "cr", "dr", "fl", "gr", "pl", "st", "tr", "sh", "ch", "th", "qu"]
_VOWELS = ["a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "ea", "ou", "y"]
_CODAS = ["", "", "n", "r", "l", "s", "t", "m", "k", "nd", "st", "x", "ng"]
_QUERY_TOKEN = re.compile(r"[^\w'’]+")
_EMBED_TOKEN = re.compile(r"[\w'’]+")


# -- text ------------------------------------------------------------------------------------


def _pseudo_words(rng: np.random.Generator, count: int, syllables: tuple[int, int],
                  taken: set[str]) -> list[str]:
    words: list[str] = []
    while len(words) < count:
        n = int(rng.integers(syllables[0], syllables[1] + 1))
        parts = [
            _ONSETS[int(rng.integers(len(_ONSETS)))] + _VOWELS[int(rng.integers(len(_VOWELS)))]
            for _ in range(n)
        ]
        word = "".join(parts) + _CODAS[int(rng.integers(len(_CODAS)))]
        if len(word) >= 3 and word not in taken and word not in STOP_WORDS:
            taken.add(word)
            words.append(word)
    return words


def _zipf_cdf(size: int) -> npt.NDArray[np.float64]:
    weights = np.arange(1, size + 1, dtype=np.float64) ** -ZIPF_EXPONENT
    cdf: npt.NDArray[np.float64] = np.cumsum(weights / weights.sum())
    cdf[-1] = 1.0
    return cdf


class Corpus:
    """The vocabulary, the names and their Zipf distributions (see the module docstring)."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng([seed, 0])
        common = list(dict.fromkeys(COMMON_WORDS))
        taken = set(common)
        self.words = common + _pseudo_words(rng, VOCABULARY - len(common), (1, 4), taken)
        self.names = [w.capitalize() for w in _pseudo_words(rng, NAMES, (2, 2), taken)]
        self._word_cdf = _zipf_cdf(len(self.words))
        self._name_cdf = _zipf_cdf(len(self.names))

    def _draw(self, rng: np.random.Generator, cdf: npt.NDArray[np.float64], count: int
              ) -> npt.NDArray[np.intp]:
        picks: npt.NDArray[np.intp] = np.searchsorted(cdf, rng.random(count), side="right")
        clipped: npt.NDArray[np.intp] = np.minimum(picks, cdf.shape[0] - 1)
        return clipped

    def word_lists(self, rng: np.random.Generator, lengths: Sequence[int]) -> list[list[str]]:
        """Lists of words drawn with the Zipf distribution, names put in at random places."""
        count = len(lengths)
        picks = self._draw(rng, self._word_cdf, int(sum(lengths))).tolist()
        rolls = rng.random(count).tolist()
        names = self._draw(rng, self._name_cdf, 2 * count).tolist()
        places = rng.random(2 * count).tolist()
        lists: list[list[str]] = []
        offset = 0
        for j, length in enumerate(lengths):
            words = [self.words[i] for i in picks[offset:offset + length]]
            offset += length
            how_many = 2 if rolls[j] < TWO_NAMES else 1 if rolls[j] < TWO_NAMES + ONE_NAME else 0
            for k in range(how_many):
                words[int(places[2 * j + k] * length)] = self.names[names[2 * j + k]]
            lists.append(words)
        return lists

    def sentences(self, rng: np.random.Generator, count: int) -> list[str]:
        lengths = rng.integers(WORDS_PER_MEMORY[0], WORDS_PER_MEMORY[1] + 1, size=count).tolist()
        endings = rng.random(count).tolist()
        out: list[str] = []
        for words, ending in zip(self.word_lists(rng, lengths), endings, strict=True):
            first = words[0]
            words[0] = first[0].upper() + first[1:]
            out.append(" ".join(words) + ("?" if ending < QUESTION else "."))
        return out

    def fresh_query(self, rng: np.random.Generator) -> str:
        while True:
            length = int(rng.integers(WORDS_PER_QUERY[0], WORDS_PER_QUERY[1] + 1))
            query = " ".join(self.word_lists(rng, [length])[0]).lower()
            if terms(query):
                return query


def query_from(text: str, rng: np.random.Generator) -> str | None:
    """A run of 3-8 consecutive words of ``text``, lower-cased, without punctuation."""
    words = [w for w in _QUERY_TOKEN.split(text) if w]
    length = min(len(words), int(rng.integers(WORDS_PER_QUERY[0], WORDS_PER_QUERY[1] + 1)))
    start = int(rng.integers(0, len(words) - length + 1))
    query = " ".join(words[start:start + length]).lower()
    return query if terms(query) else None


@dataclass(frozen=True)
class Turn:
    content: str
    session_id: str
    occurred_at: datetime

    def as_input(self) -> MemoryInput:
        return MemoryInput(content=self.content, session_id=self.session_id,
                           occurred_at=self.occurred_at)


class Conversations:
    """The stream of turns: sessions of 10-30 turns with increasing timestamps."""

    def __init__(self, corpus: Corpus, seed: int) -> None:
        self.corpus = corpus
        self.rng = np.random.default_rng([seed, 1])
        self.sessions = 0
        self.produced = 0
        self._left = 0
        self._clock = START

    def take(self, count: int) -> list[Turn]:
        texts = self.corpus.sentences(self.rng, count)
        turns: list[Turn] = []
        for text in texts:
            if self._left == 0:
                self.sessions += 1
                self._left = int(self.rng.integers(TURNS_PER_SESSION[0],
                                                   TURNS_PER_SESSION[1] + 1))
                if self.produced or turns:
                    gap = float(self.rng.exponential(SESSION_GAP_MEAN_SECONDS))
                    self._clock += timedelta(seconds=gap)
            else:
                self._clock += timedelta(seconds=int(self.rng.integers(
                    TURN_GAP_SECONDS[0], TURN_GAP_SECONDS[1] + 1)))
            self._left -= 1
            turns.append(Turn(text, f"session-{self.sessions:07d}", self._clock))
        self.produced += count
        return turns


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
        return self.vectors(texts)

    async def aclose(self) -> None:
        return None


# -- measuring -------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks; ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency(values: Sequence[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "max": max(values) if values else None,
        "mean": sum(values) / len(values) if values else None,
    }


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


@dataclass
class Plan:
    memories: int
    queries: int
    dimensions: int
    seed: int
    batch: int
    single_adds: int
    database: Path


@dataclass
class Results:
    ingest_batch_ms: list[float] = field(default_factory=list)
    ingest_add_many_seconds: float = 0.0
    vector_wait_seconds: float = 0.0
    ingest_wall_seconds: float = 0.0
    generate_seconds: float = 0.0
    embed_seconds_ingest: float = 0.0
    single_add_ms: list[float] = field(default_factory=list)
    sessions: int = 0
    first_search_ms: float = 0.0
    warm_up_ms: list[float] = field(default_factory=list)
    search_ms: list[float] = field(default_factory=list)
    search_cpu_ms: list[float] = field(default_factory=list)
    lexical_only_cpu_ms: list[float] = field(default_factory=list)
    hits: list[int] = field(default_factory=list)
    retrievers: dict[str, int] = field(default_factory=dict)
    lexical_only_ms: list[float] = field(default_factory=list)
    stages: dict[str, list[float]] = field(default_factory=dict)
    fts_matches: list[int] = field(default_factory=list)
    sweep_scan_ms: float = 0.0
    memory: dict[str, dict[str, float | None]] = field(default_factory=dict)
    disk: dict[str, dict[str, int]] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    stored: int = 0
    vectors: int = 0


def make_config(database: Path) -> Config:
    return Config.from_flat({"database": str(database), "user_id": USER, "embedder": "none"})


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
        items = [turn.as_input() for turn in batch]
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


async def single_adds(mv: Memvault, plan: Plan, stream: Conversations, out: Results) -> None:
    for turn in stream.take(plan.single_adds):
        clock = time.perf_counter()
        await mv.add(turn.content, user_id=USER, session_id=turn.session_id,
                     occurred_at=turn.occurred_at)
        out.single_add_ms.append((time.perf_counter() - clock) * 1000)


async def timed_searches(mv: Memvault, queries: Sequence[str], out: Results | None = None,
                         cpu: list[float] | None = None) -> list[float]:
    """Wall milliseconds per search; ``cpu`` collects the process's CPU milliseconds (all
    threads), which show how much of the wall time was spent waiting for a core."""
    times: list[float] = []
    for query in queries:
        cpu_clock = time.process_time()
        clock = time.perf_counter()
        result = await mv.search(query, user_id=USER, limit=SEARCH_LIMIT)
        times.append((time.perf_counter() - clock) * 1000)
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
    names = ["lexical_search", "embed (fake)", "vector_search", "get", "adjacent",
             "fts match count"]
    timings: dict[str, list[float]] = {name: [] for name in names}
    sqlite_store = store if isinstance(store, SqliteEpisodicStore) else None
    for query in queries:
        query_terms = terms(query)
        clock = time.perf_counter()
        lexical = await store.lexical_search(where, query_terms, limit=POOL)
        timings["lexical_search"].append((time.perf_counter() - clock) * 1000)
        clock = time.perf_counter()
        vector = await embedder.embed([query])
        timings["embed (fake)"].append((time.perf_counter() - clock) * 1000)
        clock = time.perf_counter()
        nearest = await store.vector_search(where, vector[0], limit=POOL)
        timings["vector_search"].append((time.perf_counter() - clock) * 1000)
        ids = list(dict.fromkeys([c.memory_id for c in lexical] + [c.memory_id for c in nearest]))
        clock = time.perf_counter()
        await store.get(USER, ids)
        timings["get"].append((time.perf_counter() - clock) * 1000)
        clock = time.perf_counter()
        await store.adjacent(USER, ids)
        timings["adjacent"].append((time.perf_counter() - clock) * 1000)
        if sqlite_store is not None:
            match = " OR ".join('"' + w.replace('"', '""') + '"' for w in query_terms)

            def _count(conn: sqlite3.Connection, match: str = match) -> int:
                return int(conn.execute(
                    "SELECT count(*) FROM memories_fts WHERE memories_fts MATCH ?", (match,)
                ).fetchone()[0])

            clock = time.perf_counter()
            out.fts_matches.append(await sqlite_store._db.read(_count))
            timings["fts match count"].append((time.perf_counter() - clock) * 1000)
    out.stages = {k: v for k, v in timings.items() if v}
    clock = time.perf_counter()
    await store.missing_embeddings(limit=256)
    out.sweep_scan_ms = (time.perf_counter() - clock) * 1000


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
        queries.append(query if query is not None else corpus.fresh_query(rng))
    return queries


async def run(plan: Plan) -> Results:
    out = Results()
    corpus = Corpus(plan.seed)
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
        sources = await ingest(mv, plan, stream, wanted, out)
        out.embed_seconds_ingest = embedder.seconds
        out.memory["after_ingest"] = memory_snapshot()
        out.disk["after_ingest"] = disk_usage(plan.database)
        _log(f"ingest done in {out.ingest_wall_seconds:,.1f} s; {plan.single_adds} single adds")
        await single_adds(mv, plan, stream, out)
        await mv.wait_for_vectors()
        out.sessions = stream.sessions
        out.examples["memories"] = [sources[i] for i in sorted(sources)[:3]]

        queries = make_queries(corpus, sources, total_queries, plan.seed)
        warm, timed = queries[:WARM_UP], queries[WARM_UP:]
        out.queries = timed
        out.examples["queries"] = timed[:6]
        _log("first search (builds the vector cache)")
        clock = time.perf_counter()
        await mv.search(warm[0], user_id=USER, limit=SEARCH_LIMIT)
        out.first_search_ms = (time.perf_counter() - clock) * 1000
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


# -- report ----------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


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


def machine() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "memvault": memvault.__version__,
        "sqlite": sqlite3.sqlite_version,
        "numpy": importlib.metadata.version("numpy"),
    }


CORPUS_TEXT = (
    "one sentence per memory, 8-30 words (uniform) drawn from a 5,000-word vocabulary with "
    "Zipf probabilities 1/rank (ranks 1-~110 common English words, the rest pseudo-words); "
    "30% of memories hold one capitalised name, 10% two (300 pseudo-names, Zipf); first word "
    "capitalised, ends in '.' or '?' (10%); sessions of 10-30 turns, occurred_at increasing "
    "15-180 s per turn and ~1 h (exponential) per session"
)
QUERY_TEXT = (
    "half a run of 3-8 consecutive words of a stored memory, half 3-8 words drawn like memory "
    "text; lower-cased, no punctuation; search(query, limit=10), no session_id"
)


def build_report(plan: Plan, out: Results, load: Sequence[list[float] | None],
                 wall: float, code: Mapping[str, Any]) -> dict[str, Any]:
    batch_rates = [plan.batch / (ms / 1000) for ms in out.ingest_batch_ms]
    tenth = max(1, len(batch_rates) // 10)
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
            ),
        },
        "ingest": {
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
        },
        "add_ms": latency(out.single_add_ms),
        "search": {
            "first_search_ms": out.first_search_ms,
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
        "sweep_missing_embeddings_scan_ms": out.sweep_scan_ms,
        "stored": {"memories": out.stored, "vectors": out.vectors},
        "memory": out.memory,
        "disk_bytes": out.disk,
        "examples": out.examples,
        "machine": {**machine(), "load_average_start": load[0], "load_average_end": load[1]},
        "code": {**code, "same_at_end": dict(code) == code_version()},
        "wall_seconds": wall,
        "per_query": [
            {"query": q, "hybrid_ms": s,
             "lexical_ms": out.stages.get("lexical_search", [None] * len(out.queries))[i],
             "vector_ms": out.stages.get("vector_search", [None] * len(out.queries))[i],
             "fts_matches": out.fts_matches[i] if i < len(out.fts_matches) else None}
            for i, (q, s) in enumerate(zip(out.queries, out.search_ms, strict=True))
        ],
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} MiB"


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
        f"| first search (loads the vector cache) | {_ms(search['first_search_ms'])} ms |",
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
        f"| peak RSS after ingest / after search / at end | "
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
    lines += [
        "",
        f"Rows matched by the FTS5 query (OR of the query's terms): p50 {fts['p50']:,.0f}, "
        f"p95 {fts['p95']:,.0f}, max {fts['max']:,}. Background sweep scan "
        f"(missing_embeddings, every 30 s): {report['sweep_missing_embeddings_scan_ms']:,.1f} "
        "ms. Retrievers used: "
        + ", ".join(f"{k} {v}" for k, v in sorted(search["retrievers"].items())) + ".",
        f"Example memory: {report['examples']['memories'][0]!r}",
        f"Example queries: {', '.join(repr(q) for q in report['examples']['queries'][:4])}",
        f"Wall time {report['wall_seconds']:,.1f} s.",
    ]
    return "\n".join(lines)


# -- command line ----------------------------------------------------------------------------


def _positive(text: str) -> int:
    value = int(text.replace("_", "").replace(",", ""))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scale.py",
        description="Scale benchmark for memvault's SQLite store: ingest, add and search "
        "latency, memory and disk with N generated memories in one scope (fake vectors).",
    )
    parser.add_argument("--memories", type=_positive, default=100_000,
                        help="memories to ingest (default 100000)")
    parser.add_argument("--queries", type=_positive, default=200,
                        help="timed searches (default 200)")
    parser.add_argument("--dimensions", type=_positive, default=384,
                        help="vector dimensions (default 384)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--batch", type=_positive, default=1_000,
                        help="memories per add_many call (default 1000)")
    parser.add_argument("--single-adds", type=_positive, default=200,
                        help="single add calls timed after the ingest (default 200)")
    parser.add_argument("--database", type=Path, metavar="PATH",
                        help="SQLite file to create (must not exist; kept afterwards). "
                        "Default: a temporary directory, deleted at the end")
    parser.add_argument("--json", type=Path, metavar="OUT", dest="json_out",
                        help="also write the report as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; prints the table and returns the report."""
    args = parse_args(argv)
    wall = time.perf_counter()
    load_start = _load_average()
    code = code_version()
    temporary: Path | None = None
    if args.database is None:
        temporary = Path(tempfile.mkdtemp(prefix="memvault-scale-"))
        database = temporary / "memvault.db"
    else:
        database = args.database.expanduser().resolve()
        if database.exists():
            raise SystemExit(f"error: {database} exists; the benchmark needs a new database")
    plan = Plan(memories=args.memories, queries=args.queries, dimensions=args.dimensions,
                seed=args.seed, batch=args.batch, single_adds=args.single_adds,
                database=database)
    try:
        out = anyio.run(run, plan)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    report = build_report(plan, out, (load_start, _load_average()),
                          time.perf_counter() - wall, code)
    print(render(report))
    if args.json_out is not None:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"\nJSON written to {args.json_out}")
    return report


if __name__ == "__main__":
    main()
