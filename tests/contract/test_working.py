"""The working store contract (see memvault.stores.base.WorkingStore)."""

from __future__ import annotations

import time

import anyio
import pytest

from memvault.stores.base import WorkingStore
from tests.contract.builders import memory

pytestmark = pytest.mark.anyio

DAY = 86_400.0


async def test_recent_is_newest_first_and_bounded(working: WorkingStore) -> None:
    for i in range(5):
        await working.push(memory(f"t{i}"), max_turns=3, ttl_seconds=DAY)
    assert [m.content for m in await working.recent("alice", "s1", limit=10)] == [
        "t4", "t3", "t2"]
    assert [m.content for m in await working.recent("alice", "s1", limit=1)] == ["t4"]


async def test_round_trips_the_memory(working: WorkingStore) -> None:
    turn = memory("hello", metadata={"k": 1}, entities=["x"], agent_id="claude")
    await working.push(turn, max_turns=5, ttl_seconds=DAY)
    assert await working.recent("alice", "s1", limit=5) == [turn]


async def test_expired_sessions_are_forgotten(working: WorkingStore) -> None:
    await working.push(memory("gone"), max_turns=5, ttl_seconds=0)
    assert await working.recent("alice", "s1", limit=5) == []


async def _until(moment: float) -> None:
    """Let time pass until ``time.monotonic()`` reaches ``moment``: what a TTL test waits for
    is time itself (the stores take no clock)."""
    with anyio.fail_after(moment - time.monotonic() + 5):
        while True:
            if time.monotonic() >= moment:
                return
            await anyio.sleep(0.01)


async def test_a_session_lives_its_ttl_after_its_last_push(working: WorkingStore) -> None:
    ttl = 0.8
    start_a = time.monotonic()
    await working.push(memory("a"), max_turns=5, ttl_seconds=ttl)
    assert [m.content for m in await working.recent("alice", "s1", limit=5)] == ["a"]
    await _until(start_a + ttl / 2)
    start_b = time.monotonic()
    await working.push(memory("b"), max_turns=5, ttl_seconds=ttl)
    assert time.monotonic() < start_a + ttl, "too slow to push within the TTL"

    # Past the first push's TTL, the second push keeps the whole session alive.
    await _until(start_a + ttl + 0.1)
    alive = [m.content for m in await working.recent("alice", "s1", limit=5)]
    assert time.monotonic() < start_b + ttl, "too slow to look within the renewed TTL"
    assert alive == ["b", "a"]

    # And the session goes once the renewed TTL has passed.
    with anyio.fail_after(ttl + 5):
        while True:  # a bounded poll of the condition
            if not await working.recent("alice", "s1", limit=5):
                break
            await anyio.sleep(0.01)
    assert time.monotonic() >= start_b + ttl - 0.05


async def test_sessions_and_users_are_isolated(working: WorkingStore) -> None:
    await working.push(memory("a1", session="a"), max_turns=5, ttl_seconds=DAY)
    await working.push(memory("b1", session="b"), max_turns=5, ttl_seconds=DAY)
    await working.push(memory("bob", user="bob", session="a"), max_turns=5, ttl_seconds=DAY)
    assert [m.content for m in await working.recent("alice", "a", limit=5)] == ["a1"]
    assert [m.content for m in await working.recent("bob", "a", limit=5)] == ["bob"]


async def test_delete_and_clear(working: WorkingStore) -> None:
    one = memory("one", session="a", agent_id="claude")
    await working.push(one, max_turns=5, ttl_seconds=DAY)
    await working.push(memory("two", session="a", agent_id="cursor"), max_turns=5,
                       ttl_seconds=DAY)
    await working.push(memory("three", session="b"), max_turns=5, ttl_seconds=DAY)
    await working.push(memory("bob's", user="bob", session="a"), max_turns=5, ttl_seconds=DAY)
    await working.delete("bob", one.id)
    assert len(await working.recent("alice", "a", limit=5)) == 2
    await working.delete("alice", one.id)
    assert [m.content for m in await working.recent("alice", "a", limit=5)] == ["two"]
    assert await working.clear("alice", agent_id="cursor") == 1
    assert await working.clear("alice", session_id="b") == 1
    assert await working.clear("alice") == 0
    assert [m.content for m in await working.recent("bob", "a", limit=5)] == ["bob's"]


async def test_concurrent_pushes_lose_nothing(working: WorkingStore) -> None:
    turns = [memory(f"t{i}") for i in range(40)]

    async with anyio.create_task_group() as group:
        for turn in turns:
            group.start_soon(lambda t=turn: working.push(t, max_turns=100, ttl_seconds=DAY))
    got = await working.recent("alice", "s1", limit=100)
    assert {m.id for m in got} == {t.id for t in turns}
