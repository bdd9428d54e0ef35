"""A large vector graph is built beside the searches: the first search of a user whose graph
would take many rows answers at once (the store raises ``IndexBuilding``, the core searches
by words and says so), the graph is built on a thread and connection of its own, deletes and
adds made meanwhile are applied, and closing the store stops the build."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio.to_thread
import numpy as np
import pytest

from memvault import Config, Memvault
from memvault.errors import IndexBuilding, StoreUnavailable
from memvault.models import EmbeddingInfo, MemoryFilter
from memvault.stores.crypto import Key, KeySet
from memvault.stores.sqlite import ann, vector_files
from memvault.stores.sqlite.episodic import SqliteEpisodicStore
from memvault.stores.sqlite.vectors import UserVectors
from tests.contract.builders import memory
from tests.core.fakes import HashEmbedder

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not ann.available(), reason="usearch (the ann extra) is not installed"),
]

DIMENSIONS = 32
MEMORIES = 1200
ANN_MIN = 200
ALICE = MemoryFilter(user_id="alice")
BOUND = 60.0


@pytest.fixture(autouse=True)
def _small_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vector_files, "INLINE_ROWS", 300)


def _points(count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    points = rng.standard_normal((count, DIMENSIONS)).astype(np.float32)
    return points / np.linalg.norm(points, axis=1, keepdims=True)


async def _filled(path: Path | str, keys: KeySet | None = None
                  ) -> tuple[SqliteEpisodicStore, list[str], np.ndarray]:
    """An open store of ``MEMORIES`` memories of alice, each with one random vector."""
    store = SqliteEpisodicStore(str(path), ann_min=ANN_MIN, keys=keys)
    await store.open()
    memories = [memory(f"memory {i}", minutes=i) for i in range(MEMORIES)]
    await store.add(memories)
    await store.reset_embeddings(EmbeddingInfo(model="test", dimensions=DIMENSIONS))
    points = _points(MEMORIES)
    await store.set_embeddings([(m.id, points[i]) for i, m in enumerate(memories)])
    return store, [m.id for m in memories], points


async def _built(store: SqliteEpisodicStore) -> None:
    builds = store._vectors.builds
    assert builds is not None
    assert await anyio.to_thread.run_sync(builds.wait, BOUND)


async def test_the_first_search_answers_at_once_and_the_graph_follows(tmp_path: Path) -> None:
    store, ids, points = await _filled(tmp_path / "m.db")
    try:
        with pytest.raises(IndexBuilding) as raised:
            await store.vector_search(ALICE, points[5], limit=10)
        assert raised.value.total == MEMORIES
        await _built(store)
        found = await store.vector_search(ALICE, points[5], limit=10)
        assert found[0].memory_id == ids[5]
        assert found[0].score == pytest.approx(1.0, abs=1e-5)
        cache = store._vectors.users["alice"]
        assert cache.graph is not None
        assert cache.live_rows == MEMORIES
        assert list((tmp_path / "m.db.vectors").glob("*.usearch"))  # saved by the build
    finally:
        await store.close()


async def test_deletes_and_adds_made_during_the_build_are_applied(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store, ids, points = await _filled(path)
    other = SqliteEpisodicStore(str(path), ann_min=None)
    await other.open()
    try:
        with pytest.raises(IndexBuilding):
            await store.vector_search(ALICE, points[7], limit=10)
        assert await other.delete("alice", ids[7])
        added = memory("added while the graph was built", minutes=5000)
        await other.add([added])
        await other.set_embeddings([(added.id, points[7])])
        await _built(store)
        found = await store.vector_search(ALICE, points[7], limit=10)
        assert found[0].memory_id == added.id
        assert ids[7] not in {c.memory_id for c in found}
    finally:
        await other.close()
        await store.close()


async def test_closing_the_store_stops_the_build(tmp_path: Path) -> None:
    store, _, points = await _filled(tmp_path / "m.db")
    with pytest.raises(IndexBuilding):
        await store.vector_search(ALICE, points[0], limit=10)
    builds = store._vectors.builds
    assert builds is not None
    jobs = list(builds._jobs.values())
    await store.close()
    assert all(job.thread is not None and not job.thread.is_alive() for job in jobs)
    assert not builds._jobs


async def test_a_search_during_the_build_is_lexical_and_says_so(tmp_path: Path) -> None:
    config = Config.from_flat({"database": str(tmp_path / "m.db"), "user_id": "alice",
                               "search.ann_min_vectors": ANN_MIN})
    async with Memvault(config, embedder=HashEmbedder()) as mv:
        await mv.add_many([{"content": f"note {i} about the garden and its roses"}
                           for i in range(400)]
                          + [{"content": "the violin lesson is on tuesday"}])
        assert await mv.wait_for_vectors(BOUND)
        during = await mv.search("violin lesson")
        assert during.pending is not None
        assert "vector index is being built" in during.pending
        assert during.retrievers == ["lexical"]
        assert "violin" in during.hits[0].memory.content
        store = mv.episodic
        assert isinstance(store, SqliteEpisodicStore)
        await _built(store)
        after = await mv.search("violin lesson")
        assert after.pending is None
        assert "vector" in after.retrievers
        assert "violin" in after.hits[0].memory.content


async def test_an_in_memory_store_builds_its_graph_in_the_search() -> None:
    store, ids, points = await _filled(":memory:")
    try:
        found = await store.vector_search(ALICE, points[9], limit=10)
        assert found[0].memory_id == ids[9]
        assert store._vectors.users["alice"].graph is not None
    finally:
        await store.close()


async def test_a_failed_build_leaves_the_searches_to_build_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, ids, points = await _filled(tmp_path / "m.db")
    builds = store._vectors.builds
    assert builds is not None

    def fail(conn: object, user_id: str, cache: object) -> None:
        raise OSError("the disk is full")

    monkeypatch.setattr(builds, "_save", fail)
    try:
        for _ in range(3):  # a failure may be passing: tried again, up to three times
            with pytest.raises(IndexBuilding):
                await store.vector_search(ALICE, points[3], limit=10)
            await _built(store)
        found = await store.vector_search(ALICE, points[3], limit=10)  # built here instead
        assert found[0].memory_id == ids[3]
        assert store._vectors.users["alice"].graph is not None
        assert not builds._jobs
    finally:
        await store.close()


async def test_a_store_opened_again_builds_in_the_background_again(tmp_path: Path) -> None:
    store, _, points = await _filled(tmp_path / "m.db")
    await store.close()
    await store.open()
    try:
        with pytest.raises(IndexBuilding):
            await store.vector_search(ALICE, points[0], limit=10)
        await _built(store)
    finally:
        await store.close()


async def test_an_encrypted_store_builds_in_the_background_and_saves_nothing(
        tmp_path: Path) -> None:
    pytest.importorskip("sqlcipher3", reason="the encryption extra is not installed")
    store, ids, points = await _filled(tmp_path / "sealed.db",
                                       KeySet(Key("the graph build passphrase", "test")))
    try:
        with pytest.raises(IndexBuilding):
            await store.vector_search(ALICE, points[11], limit=10)
        await _built(store)
        found = await store.vector_search(ALICE, points[11], limit=10)
        assert found[0].memory_id == ids[11]
        assert not (tmp_path / "sealed.db.vectors").exists()
    finally:
        await store.close()


async def test_a_finished_build_survives_a_failed_read_of_the_search_taking_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sqlcipher3", reason="the encryption extra is not installed")
    store, ids, points = await _filled(tmp_path / "sealed.db",
                                       KeySet(Key("the graph build passphrase", "test")))
    try:
        with pytest.raises(IndexBuilding):
            await store.vector_search(ALICE, points[3], limit=10)
        await _built(store)
        real = UserVectors.incoming
        calls = 0

        def failing_once(self: UserVectors, conn: sqlite3.Connection, user_id: str) -> int:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise sqlite3.OperationalError("disk I/O error")
            return real(self, conn, user_id)

        monkeypatch.setattr(UserVectors, "incoming", failing_once)
        with pytest.raises(StoreUnavailable):
            await store.vector_search(ALICE, points[3], limit=10)
        # An encrypted store saves no graph: only the kept build answers without a new one.
        found = await store.vector_search(ALICE, points[3], limit=10)
        assert found[0].memory_id == ids[3]
    finally:
        await store.close()
