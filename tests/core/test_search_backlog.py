"""Searches never queue behind the embedding backlog: a query's embedding goes before the
memories waiting for theirs (and in between the steps of the batch in flight), and a search
made while memories wait answers at once with what is embedded, saying what is not."""

from __future__ import annotations

import threading
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from memvault import Config, Memvault
from memvault.core.search import pipeline
from memvault.embedders.local import LocalEmbedder, local_available
from memvault.embedders.worker import ModelThread
from tests.core.fakes import LaneEmbedder

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


def _config(path: Path) -> Config:
    return Config.from_flat({"database": str(path / "m.db"), "user_id": "alice",
                             "embedder": "none"})


async def test_an_urgent_call_runs_at_the_checkpoint_of_the_call_in_flight() -> None:
    thread = ModelThread("memvault-test-lanes")
    started, queued, release = threading.Event(), threading.Event(), threading.Event()
    order: list[str] = []
    urgent_done = anyio.Event()

    def long_batch() -> None:
        started.set()
        queued.wait(10)
        thread.checkpoint()  # between two forward passes
        release.wait(10)
        order.append("long batch")

    async def urgent() -> None:
        assert await thread.run(lambda: order.append("query") or 7, urgent=True) == 7
        urgent_done.set()

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(thread.run, long_batch)
            assert await anyio.to_thread.run_sync(started.wait, 10)
            group.start_soon(thread.run, lambda: order.append("next batch"))
            group.start_soon(urgent)
            await anyio.wait_all_tasks_blocked()  # both calls are queued
            queued.set()
            with anyio.fail_after(10):
                await urgent_done.wait()
            assert order == ["query"]  # while the long batch is still running
            release.set()
        assert order == ["query", "long batch", "next batch"]
    finally:
        release.set()
        await thread.stop()


async def test_urgent_calls_go_before_the_queued_backlog() -> None:
    thread = ModelThread("memvault-test-order")
    started, release = threading.Event(), threading.Event()
    order: list[str] = []

    def first() -> None:
        started.set()
        release.wait(10)  # no checkpoint: a query waits for this call, not the queue
        order.append("first")

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(thread.run, first)
            assert await anyio.to_thread.run_sync(started.wait, 10)
            for name in ("backlog 1", "backlog 2"):
                group.start_soon(thread.run, lambda name=name: order.append(name))
                await anyio.wait_all_tasks_blocked()
            group.start_soon(lambda: thread.run(lambda: order.append("query"), urgent=True))
            await anyio.wait_all_tasks_blocked()
            release.set()
        assert order == ["first", "query", "backlog 1", "backlog 2"]
    finally:
        release.set()
        await thread.stop()


async def test_a_search_behind_a_backlog_answers_at_once_and_says_what_is_pending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Were the search to wait for the backlog, it would outlast the test's bound.
    monkeypatch.setattr(pipeline, "VECTOR_WAIT_SECONDS", 600.0)
    embedder = LaneEmbedder()
    async with Memvault(_config(tmp_path), embedder=embedder) as mv:
        assert await mv.wait_until_ready(timeout=10) == "ready"
        first = await mv.add("the quarterly revenue figures")
        await mv.add("weather in Porto", user_id="bob")
        assert await mv.wait_for_vectors(timeout=10)
        embedder.hold.set()
        backlog = pipeline.VECTOR_WAIT_MEMORIES + 12
        for i in range(backlog):
            await mv.add(f"note {i} about the garden")
        assert await anyio.to_thread.run_sync(embedder.blocked.wait, 10)

        with anyio.fail_after(30):
            result = await mv.search("quarter revenues")
            other = await mv.search("weather", user_id="bob")
        assert result.retrievers == ["lexical", "vector"]  # the query was embedded
        assert result.hits[0].memory.id == first.id
        assert result.pending == (f"{backlog} memories are still being embedded; they were "
                                  "searched by their words only")
        assert other.pending is None  # bob's memories all have their vectors

        embedder.release.set()
        assert await mv.wait_for_vectors(timeout=10)
        assert await mv.episodic.count_embeddings() == backlog + 2
        after = await mv.search("garden notes")
        assert after.pending is None
        assert len(after.hits) == 10


@pytest.mark.skipif(not local_available()[0], reason="the local extra is not installed")
@pytest.mark.timeout(900)  # importing torch and the model is slow on a busy machine
async def test_a_local_query_does_not_wait_for_the_memories_batch() -> None:
    """The real model: a query sent while a long batch of memories is embedded returns
    before that batch does (it waits for at most one layer of one forward pass of it)."""
    embedder = LocalEmbedder()
    await embedder.load()
    try:
        memories = [f"memory {i}: " + "the garden needs water and sun. " * 40
                    for i in range(8)]  # eight full forward passes
        finished: list[str] = []

        async def embed_memories() -> None:
            await embedder.embed_passages(memories)
            finished.append("memories")

        async with anyio.create_task_group() as group:
            group.start_soon(embed_memories)
            await anyio.wait_all_tasks_blocked()
            with anyio.fail_after(600):
                vector = await embedder.embed_query(["does the garden need water?"])
            finished.append("query")
        assert vector.shape[0] == 1
        assert finished == ["query", "memories"]
    finally:
        await embedder.aclose()
