"""Session summaries end to end against the scripted chat server (tests/fake_chat.py): a
session idle for ``summary_idle_seconds`` gets one derived summary memory linked to its
turns, found by search, replaced after new turns, never extracted into the profile; garbage
replies fail the job and leave the turns as they were."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from memvault import Config, Memory, Memvault
from memvault.core import exchange
from memvault.core.extract.summaries import read_summary, summary_memory
from memvault.core.timeutil import utc_now
from memvault.errors import ModelReplyInvalid
from memvault.stores.base import NewMemory, SummaryQueue
from tests.fake_chat import Scripted, content, facts, fake_chat

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

WAIT = 30.0


def is_summary(body: dict[str, Any]) -> bool:
    return "You summarise" in str(body["messages"][0]["content"])


def conversation(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])


def summary(text: str, tokens: int = 40) -> Scripted:
    answer = {"choices": [{"index": 0, "message": {
        "role": "assistant", "content": json.dumps({"summary": text})}}],
        "usage": {"total_tokens": tokens}}
    return Scripted(body=json.dumps(answer).encode())


def summarising(text: Callable[[str], str]) -> Callable[[str, dict[str, Any]], Scripted]:
    def script(_: str, body: dict[str, Any]) -> Scripted:
        if is_summary(body):
            return summary(text(conversation(body)))
        return facts({"key": "diet", "value": "vegan", "span": "vegan"})
    return script


def _config(tmp_path: Path, url: str, **llm: Any) -> Config:
    return Config.from_flat({
        "database": str(tmp_path / "m.db"), "user_id": "alice", "embedder": "none",
        "llm": {"model": "scripted", "base_url": url, "retry_seconds": 0.01,
                "summaries": True, "summary_idle_seconds": 0.2, **llm},
    })


def _about(turns: str) -> str:
    topics = [w for w in ("kayak", "lisbon", "pottery") if w in turns.lower()]
    return "Alice and Bob discussed " + " and ".join(topics) + "."


async def _summaries(mv: Memvault, session: str) -> list[Any]:
    page = await mv.list(session_id=session, limit=100)
    return [m for m in page.items if m.derived is not None]


async def test_an_idle_session_is_summarised_linked_and_found(tmp_path: Path) -> None:
    with fake_chat(summarising(_about)) as chat:
        async with Memvault(_config(tmp_path, chat.url)) as mv:
            first = await mv.add("Alice: I bought a kayak", session_id="s1")
            second = await mv.add("Bob: take it to Lisbon", session_id="s1")
            other = await mv.add("unrelated note, vegan food")
            assert await mv.extraction.summaries.wait_until_done(WAIT)
            [made] = await _summaries(mv, "s1")
            assert made.content == "Alice and Bob discussed kayak and lisbon."
            assert made.derived.kind == "summary"
            assert made.derived.source_ids == [first.id, second.id]
            assert made.source == "memvault-summary"
            assert made.occurred_at == second.occurred_at
            # Out of the turns' chain: the timeline of turns is unchanged.
            assert [m.id for m in await mv.episodic.neighbors(
                "alice", second.id, before=3, after=3)] == [first.id]
            hits = (await mv.search("kayak Lisbon discussed")).hits
            assert made.id in [h.memory.id for h in hits]
            derived = next(h for h in hits if h.memory.id == made.id)
            assert derived.memory.derived is not None
            # Turns are turns, a note without session has no summary.
            assert (await mv.get(first.id)).derived is None
            assert (await mv.get(other.id)).derived is None
            # The extractor never reads a summary.
            assert await mv.extraction.wait_until_done(WAIT)
            extracted = [b for b in chat.bodies if not is_summary(b)]
            assert all(made.content not in str(b["messages"]) for b in extracted)
            assert len(extracted) == 3
            report = await mv.doctor(vectors=False)
            assert report.extraction is not None
            assert report.extraction.summaries is not None
            assert report.extraction.summaries.done == 1
            # Each summary request's tokens count (a slow add may have let the session go
            # idle between the two turns: then it was summarised twice).
            asked = sum(1 for b in chat.bodies if is_summary(b))
            assert all(b["max_tokens"] == 600 for b in chat.bodies if is_summary(b))
            assert report.extraction.summaries.tokens_24h == 40 * asked


async def test_more_turns_replace_the_summary(tmp_path: Path) -> None:
    with fake_chat(summarising(_about)) as chat:
        async with Memvault(_config(tmp_path, chat.url)) as mv:
            await mv.add("Alice: I bought a kayak", session_id="s1")
            assert await mv.extraction.summaries.wait_until_done(WAIT)
            [old] = await _summaries(mv, "s1")
            later = await mv.add("Bob: try pottery too", session_id="s1")
            assert await mv.extraction.summaries.wait_until_done(WAIT)
            [new] = await _summaries(mv, "s1")
            assert new.id != old.id
            assert new.content == "Alice and Bob discussed kayak and pottery."
            assert new.derived is not None
            assert new.derived.source_ids[-1] == later.id
            assert await mv.episodic.get("alice", [old.id]) == []
            assert [h.memory.id for h in (await mv.search("kayak")).hits
                    if h.memory.derived] == [new.id]
            # Deleting a turn forgets the summary that quoted it, and summarises again.
            await mv.delete(later.id)
            assert await mv.extraction.summaries.wait_until_done(WAIT)
            [again] = await _summaries(mv, "s1")
            assert again.content == "Alice and Bob discussed kayak."
            assert later.id not in again.derived.source_ids  # type: ignore[union-attr]
    summary_requests = [b for b in chat.bodies if is_summary(b)]
    assert len(summary_requests) == 3


@pytest.mark.parametrize("garbage", [
    content("not json at all"), content('{"facts": []}'), content('{"summary": ""}'),
    content(json.dumps({"summary": "x" * 5000})), Scripted(status=500),
    Scripted(stream_bytes=2_000_000),
])
async def test_garbage_fails_the_job_and_leaves_the_turns(tmp_path: Path,
                                                          garbage: Scripted) -> None:
    def script(_: str, body: dict[str, Any]) -> Scripted:
        return garbage if is_summary(body) else facts()

    with fake_chat(script) as chat:
        config = _config(tmp_path, chat.url, max_attempts=2, max_reply_bytes=100_000)
        async with Memvault(config) as mv:
            turn = await mv.add("Alice: I bought a kayak", session_id="s1")
            assert await mv.extraction.summaries.wait_until_done(WAIT)
            assert await _summaries(mv, "s1") == []
            assert (await mv.get(turn.id)) == turn.model_copy(update={"derived": None})
            page = await mv.list(limit=10)
            assert [m.id for m in page.items] == [turn.id]
            report = await mv.doctor(vectors=False)
            stats = report.extraction.summaries  # type: ignore[union-attr]
            assert stats is not None
            assert stats.failed == 1
            assert stats.failures[0].session_id == "s1"
            assert stats.failures[0].error
    assert sum(1 for b in chat.bodies if is_summary(b)) == 2


async def test_off_by_default_and_a_crash_loses_no_job(tmp_path: Path) -> None:
    with fake_chat(summarising(_about)) as chat:
        plain = Config.from_flat({
            "database": str(tmp_path / "m.db"), "user_id": "alice", "embedder": "none",
            "llm": {"model": "scripted", "base_url": chat.url}})
        async with Memvault(plain) as mv:
            await mv.add("Alice: I bought a kayak", session_id="s0")
            assert mv.extraction.summaries.active is False
            assert await mv.extraction.wait_until_done(WAIT)
        assert not any(is_summary(b) for b in chat.bodies)
        # A job armed by an add survives the process: the next one summarises it.
        chat.gate.clear()
        config = _config(tmp_path, chat.url, summary_idle_seconds=0)
        async with Memvault(config) as mv:
            await mv.add("Alice: I bought a kayak", session_id="s1")
            assert await anyio.to_thread.run_sync(chat.wait_for_requests, 1)
        chat.gate.set()
        async with Memvault(config) as mv:
            assert await mv.extraction.summaries.wait_until_done(WAIT)
            assert len(await _summaries(mv, "s1")) == 1
            assert await _summaries(mv, "s0") == []


async def test_export_and_import_carry_the_marking(tmp_path: Path) -> None:
    with fake_chat(summarising(_about)) as chat:
        async with Memvault(_config(tmp_path, chat.url)) as mv:
            turn = await mv.add("Alice: I bought a kayak", session_id="s1")
            assert await mv.extraction.summaries.wait_until_done(WAIT)
            lines = [line async for line in mv.export()]
        copy = Config.from_flat({"database": str(tmp_path / "copy.db"), "user_id": "alice",
                                 "embedder": "none"})
        async with Memvault(copy) as mv:
            await mv.import_lines(lines)
            [made] = await _summaries(mv, "s1")
            assert made.derived is not None
            assert made.derived.source_ids == [turn.id]
            # Off the chain in the copy too: a later turn links to the turn, not the summary.
            later = await mv.add("Bob: nice", session_id="s1")
            assert [m.id for m in await mv.episodic.neighbors(
                "alice", later.id, before=1, after=0)] == [turn.id]
    bad = json.dumps({"type": "memory", "id": "01J0000000000000000000000A", "user_id": "a",
                      "content": "x", "occurred_at": "2024-01-01", "created_at": "2024-01-01",
                      "derived": {"kind": "opinion"}})
    async with Memvault(copy) as mv:
        with pytest.raises(Exception, match=r"derived\.kind"):
            await mv.import_lines([bad])


def test_read_summary_accepts_only_the_shape() -> None:
    def answer(text: str) -> dict[str, Any]:
        return {"choices": [{"message": {"content": text}}], "usage": {"total_tokens": 7}}

    assert read_summary(answer('{"summary": " a  b "}'), "m") == ("a b", 7)
    assert read_summary(answer('```json\n{"summary": "a"}\n```'), "m") == ("a", 7)
    for bad in ("[]", '{"summary": 3}', "plain words", '{"summary": "   "}'):
        with pytest.raises(ModelReplyInvalid):
            read_summary(answer(bad), "m")





async def test_one_worker_at_a_time_holds_a_session(tmp_path: Path) -> None:
    config = Config.from_flat({"database": str(tmp_path / "m.db"), "user_id": "alice",
                               "embedder": "none"})
    async with Memvault(config) as mv:
        queue = mv.episodic
        assert isinstance(queue, SummaryQueue)
        turn = await mv.add("Alice: I bought a kayak", session_id="s1")
        await queue.add([NewMemory(**dict(turn.model_copy(update={
            "id": "01J0000000000000000000000B", "content": "more"})), summarise_after=0)])
        now = utc_now()
        job = await queue.claim_summary("a", lease_seconds=0.0, now=now)
        assert job is not None
        assert job.session_id == "s1"
        assert await queue.claim_summary("b", lease_seconds=60, now=now) is None
        # a's lease ran out: b takes the job, and a can no longer write.
        later = now + timedelta(seconds=1)
        taken = await queue.claim_summary("b", lease_seconds=60, now=later)
        assert taken is not None
        made = summary_memory([turn], "Alice bought a kayak.")
        assert not await queue.write_summary("a", job, made, tokens=0, now=later)
        assert await queue.write_summary("b", taken, made, tokens=0, now=later)
        assert [m.id for m in (await mv.list(session_id="s1")).items if m.derived] == [made.id]
        assert (await queue.summary_stats(now=later)).done == 1


class _Unmarking:
    """An episodic store that keeps no derived marking (as the graph stores): adds only."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.added: list[Memory] = []

    async def add(self, memories: list[Memory]) -> list[str]:
        self.added.extend(memories)
        return await self.inner.add(memories)  # type: ignore[no-any-return]


async def test_a_store_without_the_marking_skips_derived_lines(tmp_path: Path) -> None:
    with fake_chat(summarising(_about)) as chat:
        async with Memvault(_config(tmp_path, chat.url)) as mv:
            turn = await mv.add("Alice: I bought a kayak", session_id="s1")
            assert await mv.extraction.summaries.wait_until_done(WAIT)
            lines = [line async for line in mv.export()]
    copy = Config.from_flat({"database": str(tmp_path / "copy.db"), "user_id": "alice",
                             "embedder": "none"})
    async with Memvault(copy) as mv:
        store = _Unmarking(mv.episodic)
        report = await exchange.import_lines(
            store, mv.profile, lines,  # type: ignore[arg-type]
            limits=exchange.Limits(max_content_bytes=10_000, max_value_bytes=10_000))
        assert [m.id for m in store.added] == [turn.id]
        assert (report.memories, report.skipped) == (1, 1)
