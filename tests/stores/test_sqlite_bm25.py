"""The embedded store's essential-phrase ranking (:mod:`memvault.stores.sqlite.bm25`) returns
FTS5's own best passages and scores where some query words are common."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from memvault.analysis import tokens as analyse
from memvault.models import MemoryFilter
from memvault.stores.sqlite import bm25, lexical
from memvault.stores.sqlite.episodic import SqliteEpisodicStore
from tests.contract.builders import memory

pytestmark = pytest.mark.anyio

COMMON = ["time", "people", "place", "good", "house"]
RARE = [f"zq{i}word" for i in range(60)]
QUERIES = [
    ["time", "people", "zq3word"],
    ["good", "house", "zq7word", "zq8word"],
    ["time", "people", "place", "good", "zq11word"],
    ["place", "zq2word", "houses", "zq40word", "zq41word"],
    ["zq5word", "time"],
    ["good", "house"],  # every word common: the index ranks every match
    ["zq59word", "zq1word", "people"],
]


def _texts(count: int) -> list[str]:
    rng = np.random.default_rng(7)
    texts = []
    for _ in range(count):
        words = [str(w) for w in rng.choice(COMMON, size=int(rng.integers(1, 6)))]
        if rng.random() < 0.3:
            words += [str(w) for w in rng.choice(RARE, size=int(rng.integers(1, 3)))]
        words += ["filler"] * int(rng.integers(0, 12))
        rng.shuffle(words)
        texts.append(" ".join(words))
    return texts


def _both(conn: sqlite3.Connection, query: list[str], pool: int
          ) -> tuple[bm25.Ranking, bm25.Ranking]:
    words = list(dict.fromkeys(t for w in query for t in analyse(w, query=True)))
    bm25.create_tables(conn, lexical.TOKENIZE)
    conn.execute("SAVEPOINT t")
    try:
        fast = bm25.top_passages(conn, words, pool)
        full = bm25.full_ranking(conn, words, pool)
    finally:
        conn.execute("ROLLBACK TO t")
        conn.execute("RELEASE t")
    return fast, full


async def test_essential_phrases_rank_as_the_whole_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = SqliteEpisodicStore(str(tmp_path / "m.db"))
    await store.open()
    try:
        await store.add([memory(t, minutes=i) for i, t in enumerate(_texts(3000))])
        monkeypatch.setattr(bm25, "DIRECT_POSTINGS", 0)
        monkeypatch.setattr(bm25, "COMMON_SHARE", 0.05)
        essential = 0
        for query in QUERIES:
            for pool in (10, 40):
                fast, full = await store._db.read(lambda c, q=query, p=pool: _both(c, q, p))
                essential += not fast.direct
                assert [s for _, s in fast.passages] == [s for _, s in full.passages], query
                # Equal scores may be cut in another order: compare each score's passages.
                cut = full.passages[-1][1]
                assert ({r for r, s in fast.passages if s != cut}
                        == {r for r, s in full.passages if s != cut}), query
                if not fast.direct:
                    assert fast.postings < sum(p.documents for p in fast.phrases)
        assert essential > 0  # the essential-only path was taken, not only the fallback
        # Through the store: the same memories and scores as the index's own ranking.
        where = MemoryFilter(user_id="alice")
        fast_hits = await store.lexical_search(where, QUERIES[0], limit=20)
        monkeypatch.setattr(bm25, "DIRECT_POSTINGS", 10**9)
        full_hits = await store.lexical_search(where, QUERIES[0], limit=20)
        assert [c.score for c in fast_hits] == [c.score for c in full_hits]
    finally:
        await store.close()


def test_bound_is_never_exceeded() -> None:
    weight, mean = 3.0, 9.5
    for most in (1, 2, 5):
        top = bm25.bound(weight, most, mean)
        for tf in range(1, most + 1):
            for length in range(tf, 60):
                norm = bm25.K1 * (1 - bm25.B + bm25.B * length / mean)
                assert weight * ((tf * (bm25.K1 + 1.0)) / (tf + norm)) <= top + 1e-12


def test_index_tokens_hold_when_the_cache_is_emptied(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = sqlite3.connect(":memory:")
    tokenize = lexical.TOKENIZE.replace('"', '""')
    conn.execute("CREATE VIRTUAL TABLE passages_fts USING fts5"
                 f" (content, content='', tokenize=\"{tokenize}\")")
    bm25.create_tables(conn, lexical.TOKENIZE)
    monkeypatch.setattr(bm25, "_STEMS", {})
    monkeypatch.setattr(bm25, "_STEMS_KEPT", 2)
    assert bm25.index_tokens(conn, ["apples"]) == [("appl",)]
    bm25._STEMS.update({"x": (), "y": ()})  # past the bound: the next new word empties it
    assert bm25.index_tokens(conn, ["apples", "running", "apples"]) == [
        ("appl",), ("run",), ("appl",)]
    assert bm25._STEMS == {"running": ("run",)}
