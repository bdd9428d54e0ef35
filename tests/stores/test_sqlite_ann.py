"""The SQLite store's approximate vector search: above ``ann_min`` rows it answers as exact
search does, filters stay exact, other connections' deletes and adds are seen, the graph is
saved and loaded, and the background sweep is incremental."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from memvault.config import Config
from memvault.models import EmbeddingInfo, MemoryFilter
from memvault.stores.registry import open_episodic
from memvault.stores.sqlite import ann
from memvault.stores.sqlite.episodic import SqliteEpisodicStore
from tests.contract.builders import memory

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not ann.available(), reason="usearch (the ann extra) is not installed"),
]

DIMENSIONS = 32
CLUSTERS = 30
MEMORIES = 1500
ANN_MIN = 300
ALICE = MemoryFilter(user_id="alice")


def _clustered(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around ``CLUSTERS`` random centres, and the cluster of each."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((CLUSTERS, DIMENSIONS)).astype(np.float32)
    labels = rng.integers(0, CLUSTERS, count)
    points = centres[labels] + 0.35 * rng.standard_normal((count, DIMENSIONS)).astype(np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points, labels


async def _filled(path: Path, ann_min: int | None = ANN_MIN) -> tuple[SqliteEpisodicStore,
                                                                    list[str], np.ndarray]:
    store = SqliteEpisodicStore(str(path), ann_min=ann_min)
    await store.open()
    points, labels = _clustered(MEMORIES)
    memories = [
        memory(f"memory {i}", session=f"s{i % 5}", minutes=i,
               agent_id="rare" if i % 50 == 0 else "common",
               metadata={"cluster": int(labels[i])})
        for i in range(MEMORIES)
    ]
    await store.add(memories)
    await store.reset_embeddings(EmbeddingInfo(model="test", dimensions=DIMENSIONS))
    await store.set_embeddings([(m.id, points[i]) for i, m in enumerate(memories)])
    return store, [m.id for m in memories], points


def _remove_files(directory: Path, pattern: str) -> None:
    for leftover in directory.glob(pattern):
        if leftover.is_file():
            leftover.unlink()


async def _exact(path: Path) -> SqliteEpisodicStore:
    store = SqliteEpisodicStore(str(path), ann_min=None)
    await store.open()
    return store


def _queries(count: int = 20) -> np.ndarray:
    queries, _ = _clustered(count, seed=7)
    return queries


async def test_the_graph_returns_the_top_hits_of_exact_search(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store, _, _ = await _filled(path)
    exact = await _exact(path)
    try:
        overlap = []
        for query in _queries():
            got = await store.vector_search(ALICE, query, limit=10)
            want = await exact.vector_search(ALICE, query, limit=10)
            overlap.append(len({c.memory_id for c in got} & {c.memory_id for c in want}) / 10)
            # The graph is approximate (and built by several threads): its best hit is one of
            # the exact best few, with its exact score.
            exact_scores = {c.memory_id: c.score for c in want}
            assert got[0].memory_id in [c.memory_id for c in want[:3]]
            assert got[0].score == pytest.approx(exact_scores[got[0].memory_id])
            assert [c.score for c in got] == sorted((c.score for c in got), reverse=True)
        assert store._vectors.users["alice"].graph is not None
        assert exact._vectors.users["alice"].graph is None
        assert np.mean(overlap) >= 0.95
    finally:
        await store.close()
        await exact.close()


@pytest.mark.parametrize(
    "where",
    [
        MemoryFilter(user_id="alice", session_id="s2"),  # a fifth: graph candidates, filtered
        MemoryFilter(user_id="alice", agent_id="rare"),  # 30 memories: scored exactly
        MemoryFilter(user_id="alice", metadata={"cluster": 3}),
        MemoryFilter(user_id="alice", session_id="s1", agent_id="rare"),
        MemoryFilter(user_id="nobody"),
    ],
)
async def test_filters_stay_exact(tmp_path: Path, where: MemoryFilter) -> None:
    path = tmp_path / "m.db"
    store, _, _ = await _filled(path)
    exact = await _exact(path)
    try:
        for query in _queries(8):
            got = await store.vector_search(where, query, limit=10)
            want = await exact.vector_search(where, query, limit=10)
            assert [c.memory_id for c in got] == [c.memory_id for c in want]
            assert [c.score for c in got] == pytest.approx([c.score for c in want], abs=1e-5)
    finally:
        await store.close()
        await exact.close()


async def test_deletes_and_adds_by_another_connection_are_seen(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store, ids, points = await _filled(path)
    other = await _exact(path)
    try:
        query = points[10]
        [first] = await store.vector_search(ALICE, query, limit=1)
        assert first.memory_id == ids[10]
        assert await other.delete("alice", ids[10])
        hits = await store.vector_search(ALICE, query, limit=20)
        assert ids[10] not in {c.memory_id for c in hits}
        assert hits == await other.vector_search(ALICE, query, limit=20)
        added = memory("a new one", minutes=10_000)
        await other.add([added])
        await other.set_embeddings([(added.id, query)])
        [first] = await store.vector_search(ALICE, query, limit=1)
        assert first.memory_id == added.id
        assert store._vectors.users["alice"].graph is not None  # patched, not rebuilt as exact
    finally:
        await store.close()
        await other.close()


async def test_a_saved_graph_is_loaded_and_brought_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store, ids, points = await _filled(path)
    before = await store.vector_search(ALICE, points[3], limit=10)
    await store.close()
    assert list((tmp_path / "m.db.vectors").glob("*.usearch"))
    other = await _exact(path)
    await other.delete("alice", ids[3])
    await other.close()
    again = SqliteEpisodicStore(str(path), ann_min=ANN_MIN)
    await again.open()
    try:
        after = await again.vector_search(ALICE, points[3], limit=10)
        assert [c.memory_id for c in after] == [c.memory_id for c in before if c.memory_id
                                                != ids[3]] + [after[-1].memory_id]
        cache = again._vectors.users["alice"]
        assert cache.graph is not None
        assert cache.dead == 1
    finally:
        await again.close()


async def test_the_threshold_comes_from_the_search_config(tmp_path: Path) -> None:
    config = Config.from_flat({"database": str(tmp_path / "m.db"),
                               "search.ann_min_vectors": 7})
    store = open_episodic(config.episodic_url, search=config.search)
    assert isinstance(store, SqliteEpisodicStore)
    assert store.ann_min == 7
    off = Config.from_flat({"database": str(tmp_path / "m.db"), "search.ann": False})
    store = open_episodic(off.episodic_url, search=off.search)
    assert isinstance(store, SqliteEpisodicStore)
    assert store.ann_min is None


async def test_the_sweep_reads_only_what_is_new(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store, ids, points = await _filled(path)
    try:
        assert await store.missing_embeddings(limit=10) == []
        assert store._sweep_from > MEMORIES  # resumes past every memory
        late = memory("late")
        await store.add([late])
        assert await store.missing_embeddings(limit=10) == [(late.id, "late")]
        await store.set_embeddings([(late.id, points[0])])
        assert await store.missing_embeddings(limit=10) == []
        await store.reset_embeddings(EmbeddingInfo(model="test", dimensions=DIMENSIONS))
        assert [i for i, _ in await store.missing_embeddings(limit=3)] == ids[:3]
    finally:
        await store.close()


async def test_a_saved_graph_of_another_database_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store, _, _ = await _filled(path)
    await store.vector_search(ALICE, _queries(1)[0], limit=5)
    await store.close()
    _remove_files(tmp_path, "m.db*")  # the database goes, its saved graph stays
    fresh = SqliteEpisodicStore(str(path), ann_min=ANN_MIN)
    await fresh.open()
    exact = await _exact(path)
    try:
        points, _ = _clustered(MEMORIES, seed=3)
        memories = [memory(f"other {i}", minutes=i) for i in range(MEMORIES)]
        await fresh.add(memories)
        await fresh.reset_embeddings(EmbeddingInfo(model="test", dimensions=DIMENSIONS))
        await fresh.set_embeddings([(m.id, points[i]) for i, m in enumerate(memories)])
        query = points[5]
        got = await fresh.vector_search(ALICE, query, limit=10)
        assert got[0].memory_id == memories[5].id
        assert got[0] == (await exact.vector_search(ALICE, query, limit=10))[0]
    finally:
        await fresh.close()
        await exact.close()
