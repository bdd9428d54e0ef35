"""The model thread stops: after the call in flight, failing the calls queued behind it, so a
process never exits while a model runs (torch aborts it then)."""

from __future__ import annotations

import threading
from pathlib import Path

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from memvault import Config, Memvault
from memvault.embedders.local import LocalEmbedder
from memvault.embedders.worker import ModelThread
from memvault.errors import ModelUnavailable
from tests.core.fakes import LaneEmbedder

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


def _alive(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


async def test_stop_waits_for_the_call_in_flight_and_fails_the_queued() -> None:
    thread = ModelThread("memvault-test-stop")
    started, release = threading.Event(), threading.Event()
    results: list[object] = []
    stopped = anyio.Event()

    def slow() -> int:
        started.set()
        release.wait(10)
        return 1

    async def call(fn: object) -> None:
        try:
            results.append(await thread.run(fn))  # type: ignore[arg-type]
        except ModelUnavailable as exc:
            results.append(str(exc))

    async def stop() -> None:
        await thread.stop()
        stopped.set()

    async with anyio.create_task_group() as group:
        group.start_soon(call, slow)
        assert await anyio.to_thread.run_sync(started.wait, 10)
        group.start_soon(call, lambda: 2)
        await anyio.lowlevel.checkpoint()  # the second call is queued
        group.start_soon(stop)
        await anyio.lowlevel.checkpoint()
        assert not stopped.is_set()
        assert _alive("memvault-test-stop")  # the call in flight is still running
        release.set()
        with anyio.fail_after(10):
            await stopped.wait()
    assert not _alive("memvault-test-stop")
    assert results[0] == 1
    assert "is stopped" in str(results[1])
    with pytest.raises(ModelUnavailable, match="is stopped"):  # a late call starts nothing
        await thread.run(lambda: 3)
    assert not _alive("memvault-test-stop")
    thread.reopen()
    assert await thread.run(lambda: 3) == 3  # reopened: a new thread
    await thread.stop()
    assert not _alive("memvault-test-stop")


async def test_local_embedder_aclose_ends_its_thread() -> None:
    embedder = LocalEmbedder()
    embedder._model = object()  # as if loaded: aclose must wait for the thread
    release = threading.Event()
    assert await embedder._thread.run(lambda: release.set() or 1) == 1
    [thread] = [t for t in _alive("memvault-model") if t is _thread_of(embedder)]
    await embedder.aclose()
    assert not thread.is_alive()


def _thread_of(embedder: LocalEmbedder) -> threading.Thread | None:
    worker = embedder._thread._worker
    return None if worker is None else worker.thread


async def test_an_embedder_shared_by_two_instances_outlives_one_closing(tmp_path: Path) -> None:
    embedder = LaneEmbedder()
    first = Memvault(_config(tmp_path / "first.db"), embedder=embedder)
    second = Memvault(_config(tmp_path / "second.db"), embedder=embedder)
    async with second:
        async with first:
            await first.add("the first instance's note about herons")
            assert await first.wait_for_vectors(10)
        # first closed its embedder; second loads it again on its next call
        await second.add("the second instance's note about kestrels")
        assert await second.wait_for_vectors(10)
        found = await second.search("kestrels")
        assert "vector" in found.retrievers
        assert "kestrels" in found.hits[0].memory.content
    service = second.embedding
    assert await service.embed(["after both closed"]) is None  # refused: no new thread
    assert not _alive("memvault-test-lane")


def _config(path: Path) -> Config:
    return Config.from_flat({"database": str(path), "user_id": "alice"})


async def test_an_instance_starting_while_the_other_closes_their_embedder_recovers(
        tmp_path: Path) -> None:
    embedder = LaneEmbedder()
    first = Memvault(_config(tmp_path / "first.db"), embedder=embedder)
    second = Memvault(_config(tmp_path / "second.db"), embedder=embedder)
    first_up, close_first, first_closed = anyio.Event(), anyio.Event(), anyio.Event()

    async def run_first() -> None:
        async with first:
            await first.wait_until_ready(10)
            first_up.set()
            await close_first.wait()
        first_closed.set()

    async with anyio.create_task_group() as group:
        group.start_soon(run_first)
        with anyio.fail_after(10):
            await first_up.wait()
        embedder.gate = anyio.Event()  # the second's load waits here, its thread reopened
        async with second:
            await anyio.wait_all_tasks_blocked()
            close_first.set()  # the first closes the shared embedder meanwhile
            with anyio.fail_after(10):
                await first_closed.wait()
            embedder.gate.set()
            assert await second.wait_until_ready(10) == "ready"
            await second.add("kestrels nest on the cliffs")
            assert await second.wait_for_vectors(10)
            assert "vector" in (await second.search("kestrels")).retrievers
