"""Updating a stored memory (EpisodicStore.update, versions), on every episodic store."""

from __future__ import annotations

from datetime import timedelta

import anyio
import numpy as np
import pytest

from memvault.models import EmbeddingInfo, MemoryFilter
from memvault.stores.base import EpisodicStore, Revision
from tests.contract.builders import T0, memory, unit

pytestmark = pytest.mark.anyio

AT = T0 + timedelta(days=1)


async def test_update_replaces_content_and_keeps_the_old_version(
    episodic: EpisodicStore,
) -> None:
    first = memory("I live in Paris", metadata={"topic": "home"}, entities=["paris"])
    after = memory("next turn", minutes=1)
    await episodic.add([first, after])
    new = await episodic.update(Revision(
        user_id="alice", memory_id=first.id, at=AT, content="I live in Lisbon",
        entities=("lisbon",)))
    assert new is not None
    assert (new.id, new.content, new.entities, new.metadata) == (
        first.id, "I live in Lisbon", ["lisbon"], {"topic": "home"})
    assert (new.created_at, new.occurred_at, new.session_id) == (
        first.created_at, first.occurred_at, first.session_id)
    assert await episodic.get("alice", [first.id]) == [new]
    [old] = await episodic.versions("alice", first.id)
    assert (old.version, old.content, old.metadata, old.occurred_at, old.replaced_at) == (
        1, "I live in Paris", {"topic": "home"}, first.occurred_at, AT)
    # The session's links and the entity graph follow the new content.
    assert [m.id for m in await episodic.neighbors("alice", after.id, before=1, after=0)] == [
        first.id]
    assert [m.id for m in await episodic.list(
        MemoryFilter(user_id="alice", entity="lisbon"), limit=5)] == [first.id]
    assert await episodic.list(MemoryFilter(user_id="alice", entity="paris"), limit=5) == []


async def test_update_reindexes_the_text(episodic: EpisodicStore) -> None:
    target = memory("the quarterly budget spreadsheet")
    await episodic.add([target, memory("a note about gardening")])
    await episodic.update(Revision(user_id="alice", memory_id=target.id, at=AT,
                                   content="the volcano hiking trip", entities=()))
    found = await episodic.lexical_search(MemoryFilter(user_id="alice"), ["volcano"], limit=5)
    assert [c.memory_id for c in found] == [target.id]
    assert await episodic.lexical_search(MemoryFilter(user_id="alice"), ["spreadsheet"],
                                         limit=5) == []


async def test_update_reindexes_chinese_text_and_deletes_cleanly(
    episodic: EpisodicStore,
) -> None:
    target = memory("用户咨询2025年低风险理财方案")
    await episodic.add([target, memory("a note about gardening")])
    await episodic.update(Revision(user_id="alice", memory_id=target.id, at=AT,
                                   content="我的朋友彼得是蜘蛛侠", entities=()))
    where = MemoryFilter(user_id="alice")
    found = await episodic.lexical_search(where, ["蜘蛛侠"], limit=5)
    assert [c.memory_id for c in found] == [target.id]
    assert await episodic.lexical_search(where, ["理财"], limit=5) == []
    assert await episodic.delete("alice", target.id)
    assert await episodic.lexical_search(where, ["蜘蛛侠"], limit=5) == []


async def test_update_of_metadata_or_time_only(episodic: EpisodicStore) -> None:
    target = memory("dentist on Monday", metadata={"a": 1})
    await episodic.add([target])
    moved = T0 - timedelta(days=3)
    await episodic.update(Revision(user_id="alice", memory_id=target.id, at=AT,
                                   metadata={"b": True}))
    new = await episodic.update(Revision(user_id="alice", memory_id=target.id,
                                         at=AT + timedelta(seconds=1), occurred_at=moved))
    assert new is not None
    assert (new.content, new.metadata, new.occurred_at) == ("dentist on Monday", {"b": True},
                                                            moved)
    assert [(v.version, v.metadata, v.occurred_at) for v in
            await episodic.versions("alice", target.id)] == [
        (1, {"a": 1}, target.occurred_at), (2, {"b": True}, target.occurred_at)]
    assert [m.id for m in await episodic.list(
        MemoryFilter(user_id="alice", metadata={"b": True}), limit=5)] == [target.id]


async def test_new_content_drops_the_vectors(episodic: EpisodicStore) -> None:
    target, other = memory("old words"), memory("other")
    await episodic.add([target, other])
    await episodic.reset_embeddings(EmbeddingInfo(model="test", dimensions=3))
    await episodic.set_embeddings([(target.id, unit(1, 0, 0)), (other.id, unit(0, 1, 0))])
    await episodic.update(Revision(user_id="alice", memory_id=target.id, at=AT,
                                   metadata={"x": 1}))
    assert await episodic.count_embeddings() == 2  # metadata alone keeps them
    await episodic.update(Revision(user_id="alice", memory_id=target.id, at=AT,
                                   content="new words", entities=()))
    assert await episodic.missing_embeddings(limit=10) == [(target.id, "new words")]
    hits = await episodic.vector_search(MemoryFilter(user_id="alice"), unit(1, 0, 0), limit=5)
    assert [c.memory_id for c in hits] == [other.id]
    await episodic.set_embeddings([(target.id, np.stack([unit(1, 0, 0)]))])
    hits = await episodic.vector_search(MemoryFilter(user_id="alice"), unit(1, 0, 0), limit=5)
    assert hits[0].memory_id == target.id


async def test_update_never_crosses_users_and_deletes_take_the_history(
    episodic: EpisodicStore,
) -> None:
    mine = memory("alice's note")
    await episodic.add([mine])
    assert await episodic.update(Revision(user_id="bob", memory_id=mine.id, at=AT,
                                          content="hijacked", entities=())) is None
    assert await episodic.update(Revision(user_id="alice", memory_id="nope", at=AT,
                                          content="x", entities=())) is None
    assert [m.content for m in await episodic.get("alice", [mine.id])] == ["alice's note"]
    assert await episodic.versions("bob", mine.id) == []
    await episodic.update(Revision(user_id="alice", memory_id=mine.id, at=AT,
                                   content="edited", entities=()))
    assert len(await episodic.versions("alice", mine.id)) == 1
    assert await episodic.delete("alice", mine.id)
    assert await episodic.versions("alice", mine.id) == []


async def test_concurrent_updates_lose_no_version(episodic: EpisodicStore) -> None:
    target = memory("v0")
    await episodic.add([target])

    async def edit(n: int) -> None:
        await episodic.update(Revision(user_id="alice", memory_id=target.id, at=AT,
                                       content=f"v{n}", entities=()))

    async with anyio.create_task_group() as group:
        for n in range(1, 6):
            group.start_soon(edit, n)
    history = await episodic.versions("alice", target.id)
    assert [v.version for v in history] == [1, 2, 3, 4, 5]
    [now] = await episodic.get("alice", [target.id])
    assert sorted([v.content for v in history] + [now.content]) == [f"v{n}" for n in range(6)]
