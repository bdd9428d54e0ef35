"""Profile extraction end to end against a scripted OpenAI-compatible chat server on loopback
(tests/fake_chat.py): the add does not wait, facts land with their source and time, stated
facts win, retractions close facts, garbage and outages fail jobs with their reason."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from memvault import Config, Memvault
from tests.fake_chat import FakeChat, Scripted, content, facts, fake_chat

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

WAIT = 30.0
VEGAN = "I've been vegan since March"
FISH = "I eat fish again"


def diet_script(text: str, body: dict[str, Any]) -> Scripted:
    if text == VEGAN:
        return facts({"key": "diet", "value": "vegan", "category": "preference",
                      "span": "I've been vegan"})
    if text == FISH:
        return facts({"key": "diet", "value": "vegan", "span": "I eat fish again",
                      "retracts": True, "category": "preference"})
    return facts()


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    with fake_chat(diet_script) as server:
        yield server


def _config(tmp_path: Path, url: str, **llm: Any) -> Config:
    return Config.from_flat({
        "database": str(tmp_path / "m.db"), "user_id": "alice", "embedder": "none",
        "llm": {"model": "scripted", "base_url": url, "retry_seconds": 0.01, **llm},
    })


async def test_the_add_returns_before_the_model_answers(tmp_path: Path, chat: FakeChat) -> None:
    chat.gate.clear()
    async with Memvault(_config(tmp_path, chat.url)) as mv:
        memory = await mv.add(VEGAN)  # the model holds every request meanwhile
        assert await anyio.to_thread.run_sync(chat.wait_for_requests, 1)
        assert (await mv.get_profile()).facts == []
        chat.gate.set()
        assert await mv.extraction.wait_until_done(WAIT)
        [fact] = (await mv.get_profile()).facts
        assert (fact.key, fact.value, fact.category) == ("diet", "vegan", "preference")
        assert fact.source_memory_ids == [memory.id]
        assert fact.valid_from == memory.occurred_at
        assert fact.origin == "extracted"
        fish = await mv.add(FISH)
        assert await mv.extraction.wait_until_done(WAIT)
        profile = await mv.get_profile(include_history=True)
        assert profile.facts == []
        closed = [f for f in profile.history if f.key == "diet" and f.retired_reason is None]
        assert closed[0].value == "vegan"
        assert closed[0].valid_to == fish.occurred_at
        retraction = [f for f in profile.history if f.retired_reason == "retracted"]
        assert retraction[0].source_memory_ids == [fish.id]
        report = await mv.doctor(vectors=False)
        assert report.extraction is not None
        assert report.extraction.queue is not None
        assert report.extraction.queue.done == 2
        assert report.extraction.queue.tokens_24h == 100
    assert chat.counts == {VEGAN: 1, FISH: 1}


async def test_a_stated_fact_is_not_displaced_by_an_older_text(
    tmp_path: Path, chat: FakeChat
) -> None:
    async with Memvault(_config(tmp_path, chat.url)) as mv:
        await mv.add(VEGAN, occurred_at="2026-03-01T00:00:00Z")
        await mv.set_profile({"diet": "pescatarian"})
        assert await mv.extraction.wait_until_done(WAIT)
        [fact] = (await mv.get_profile()).facts
        assert (fact.value, fact.origin) == ("pescatarian", "stated")
        # The same memory stating a fact itself: the stated one wins at its instant.
        stated = await mv.add(VEGAN, profile={"diet": "vegetarian"})
        assert await mv.extraction.wait_until_done(WAIT)
        [fact] = (await mv.get_profile()).facts
        assert (fact.value, fact.origin, fact.source_memory_ids) == (
            "vegetarian", "stated", [stated.id])


async def test_opted_out_users_and_unconfigured_servers_queue_nothing(
    tmp_path: Path, chat: FakeChat
) -> None:
    async with Memvault(_config(tmp_path, chat.url, opt_out_users=["bob"])) as mv:
        await mv.add(VEGAN, user_id="bob")
        assert await mv.extraction.wait_until_done(WAIT)
        report = await mv.doctor(vectors=False)
        assert report.extraction is not None
        assert report.extraction.queue is not None
        assert report.extraction.queue.done == 0
        assert report.extraction.queue.queued == 0
    config = Config.from_flat({"database": str(tmp_path / "m.db"), "user_id": "alice",
                               "embedder": "none"})
    async with Memvault(config) as mv:
        await mv.add(VEGAN)
        report = await mv.doctor(vectors=False)
        assert report.extraction is not None
        assert report.extraction.state == "off"
    assert chat.counts == {}


def _always(answer: Scripted) -> Callable[[str, dict[str, Any]], Scripted]:
    return lambda text, body: answer


@pytest.mark.parametrize(("answer", "reason"), [
    (content("this is not JSON"), "not JSON"),
    (content(json.dumps({"facts": [{"value": "x"}]})), "not the facts schema"),
    (Scripted(status=200, body=b"<html>"), "reply is not JSON"),
    (content("[" * 1000 + "]" * 1000), "message's JSON is nested too deep to read"),
    (Scripted(status=200, body=b"[" * 1000 + b"]" * 1000),
     "reply's JSON is nested too deep to read"),
    (Scripted(stream_bytes=10_000_000), "longer than"),
    (Scripted(status=500), "HTTP 500"),
    (Scripted(status=429), "HTTP 429"),
    (Scripted(delay=5.0), "timed out"),
], ids=["not-json", "wrong-schema", "html", "deep-message", "deep-reply", "huge", "500", "429",
        "slow"])
async def test_garbage_and_outages_fail_the_job_with_its_reason(
    tmp_path: Path, answer: Scripted, reason: str
) -> None:
    with fake_chat(_always(answer)) as chat:
        config = _config(tmp_path, chat.url, max_attempts=3, timeout_seconds=0.5)
        async with Memvault(config) as mv:
            memory = await mv.add(VEGAN)
            assert await mv.extraction.wait_until_done(WAIT)
            assert (await mv.get(memory.id)).content == VEGAN
            report = await mv.doctor(vectors=False)
            assert report.ok
            assert report.extraction is not None
            assert report.extraction.queue is not None
            [failure] = report.extraction.queue.failures
            assert failure.memory_id == memory.id
            assert failure.attempts == 3
            assert reason in failure.error
            assert (await mv.get_profile()).facts == []
        assert chat.counts[VEGAN] == 3


async def test_a_server_refusing_json_schema_is_asked_for_json_mode(tmp_path: Path) -> None:
    def script(text: str, body: dict[str, Any]) -> Scripted:
        if body.get("response_format", {}).get("type") == "json_schema":
            return Scripted(status=400)
        return diet_script(text, body)

    with fake_chat(script) as chat:
        async with Memvault(_config(tmp_path, chat.url)) as mv:
            await mv.add(VEGAN)
            assert await mv.extraction.wait_until_done(WAIT)
            assert [f.value for f in (await mv.get_profile()).facts] == ["vegan"]
        modes = [b.get("response_format", {}).get("type") for b in chat.bodies]
        assert modes == ["json_schema", "json_object"]


async def test_with_the_model_down_adds_succeed_and_doctor_shows_the_backlog(
    tmp_path: Path
) -> None:
    config = _config(tmp_path, "http://127.0.0.1:9/v1", retry_seconds=600)
    async with Memvault(config) as mv:
        for index in range(5):
            await mv.add(f"note {index}")
        report = await mv.doctor(vectors=False)
        assert report.extraction is not None
        assert report.extraction.queue is not None
        assert report.extraction.queue.queued == 5
        assert report.extraction.state == "running"


async def test_a_queue_over_its_cap_keeps_every_job(tmp_path: Path) -> None:
    config = _config(tmp_path, "http://127.0.0.1:9/v1", retry_seconds=600, max_queue=2)
    async with Memvault(config) as mv:
        await mv.add_many([{"content": f"note {i}"} for i in range(5)])
        report = await mv.doctor(vectors=False)
        assert report.extraction is not None
        assert report.extraction.queue is not None
        assert report.extraction.queue.queued == 5
        assert (report.extraction.deferred, report.extraction.over_cap) == (3, True)


async def test_the_worker_waits_for_a_pause_in_the_adds(tmp_path: Path, chat: FakeChat) -> None:
    async with Memvault(_config(tmp_path, chat.url, quiet_seconds=0.3)) as mv:
        await mv.add(VEGAN)
        added = anyio.current_time()
        assert await anyio.to_thread.run_sync(chat.wait_for_requests, 1)
        assert anyio.current_time() >= added + 0.3
        assert await mv.extraction.wait_until_done(WAIT)
        assert [f.value for f in (await mv.get_profile()).facts] == ["vegan"]


async def test_writes_that_never_pause_still_let_jobs_through(
    tmp_path: Path, chat: FakeChat
) -> None:
    config = _config(tmp_path, chat.url, quiet_seconds=10, max_yield_seconds=0.2)
    async with Memvault(config) as mv:
        with mv.extraction.foreground.write():  # a write that does not end meanwhile
            await mv.add(VEGAN)
            assert await mv.extraction.wait_until_done(5.0)
        assert [f.value for f in (await mv.get_profile()).facts] == ["vegan"]



async def test_doctor_on_a_store_that_does_not_exist_yet_creates_nothing(
    tmp_path: Path,
) -> None:
    mv = Memvault(_config(tmp_path, "http://127.0.0.1:9/v1"))  # not opened
    report = await mv.doctor()
    assert report.ok
    assert [(s.role, s.absent) for s in report.stores] == [
        ("episodic", True), ("profile", True), ("working", True)]
    assert report.vectors is not None
    assert (report.vectors.memories, report.vectors.vectors) == (0, 0)
    assert report.extraction is not None
    assert report.extraction.state == "stopped"
    assert report.extraction.queue is None  # not read: reading it would create the store
    assert [p async for p in anyio.Path(tmp_path).iterdir()] == []
