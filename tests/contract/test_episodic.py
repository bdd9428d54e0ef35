"""The episodic store contract (see memvault.stores.base.EpisodicStore)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from memvault.models import EmbeddingInfo, MemoryFilter
from memvault.stores.base import EpisodicStore
from memvault.stores.graph.cypher import CypherEpisodicStore
from tests.contract.builders import T0, fact, memory, new_memory, unit
from tests.contract.conftest import Factory

pytestmark = pytest.mark.anyio

ALICE = MemoryFilter(user_id="alice")


async def test_add_and_get_round_trip_every_field(episodic: EpisodicStore) -> None:
    stored = memory(
        "Caroline moved to Boston", agent_id="cursor", source="cursor",
        metadata={"topic": "moving", "n": 3, "ok": True, "nested": {"a": [1, 2]}},
        entities=["caroline", "boston"],
        occurred_at=T0.replace(microsecond=123456),
    )
    assert await episodic.add([stored]) == [stored.id]
    [got] = await episodic.get("alice", [stored.id])
    assert got == stored


async def test_add_skips_existing_ids_and_keeps_the_stored_version(
    episodic: EpisodicStore,
) -> None:
    first = memory("original")
    await episodic.add([first])
    again = first.model_copy(update={"content": "changed"})
    fresh = memory("fresh")
    assert await episodic.add([again, fresh]) == [fresh.id]
    assert [m.content for m in await episodic.get("alice", [first.id])] == ["original"]


async def test_get_never_crosses_users(episodic: EpisodicStore) -> None:
    mine = memory("alice's secret")
    await episodic.add([mine])
    assert await episodic.get("bob", [mine.id]) == []
    assert await episodic.get("alice", ["nope", mine.id]) == [mine]


async def test_list_is_newest_first_and_pages_with_before(episodic: EpisodicStore) -> None:
    items = [memory(f"turn {i}", minutes=i) for i in range(5)]
    await episodic.add(items)
    page = await episodic.list(ALICE, limit=2)
    assert [m.content for m in page] == ["turn 4", "turn 3"]
    rest = await episodic.list(ALICE, limit=10, before=(page[-1].occurred_at, page[-1].id))
    assert [m.content for m in rest] == ["turn 2", "turn 1", "turn 0"]


async def test_list_filters(episodic: EpisodicStore) -> None:
    await episodic.add([
        memory("a", session="s1", agent_id="claude", source="claude", minutes=0,
               metadata={"topic": "travel"}, entities=["paris"]),
        memory("b", session="s2", agent_id="cursor", source="cursor", minutes=10,
               metadata={"topic": "work", "flag": True}),
        memory("c", session="s2", minutes=20, metadata={"topic": "travel"}),
        memory("other user", user="bob", minutes=5),
    ])

    async def contents(**where: object) -> list[str]:
        found = await episodic.list(MemoryFilter(user_id="alice", **where), limit=10)
        return sorted(m.content for m in found)

    assert await contents() == ["a", "b", "c"]
    assert await contents(session_id="s2") == ["b", "c"]
    assert await contents(agent_id="cursor") == ["b"]
    assert await contents(source="claude") == ["a"]
    assert await contents(entity="paris") == ["a"]
    assert await contents(metadata={"topic": "travel"}) == ["a", "c"]
    assert await contents(metadata={"flag": True}) == ["b"]
    assert await contents(since=T0 + timedelta(minutes=10)) == ["b", "c"]
    assert await contents(until=T0 + timedelta(minutes=10)) == ["a"]


async def test_lexical_search_ranks_matches_and_stems(episodic: EpisodicStore) -> None:
    await episodic.add([
        memory("I went running in the park every morning"),
        memory("The park was closed for repairs"),
        memory("Completely unrelated sentence about cooking"),
        memory("bob runs too", user="bob"),
    ])
    found = await episodic.lexical_search(ALICE, ["run", "park"], limit=10)
    got = await episodic.get("alice", [c.memory_id for c in found])
    assert got[0].content.startswith("I went running")
    assert {m.content for m in got} == {
        "I went running in the park every morning", "The park was closed for repairs",
    }
    assert all(a.score >= b.score for a, b in itertools.pairwise(found))


async def test_lexical_search_survives_query_syntax(episodic: EpisodicStore) -> None:
    stored = memory('she said "hello" AND left (quickly) * NEAR')
    await episodic.add([stored, memory("nothing to see", minutes=1)])
    for words in (['"hello"'], ["(quickly)"], ["left*"], ["hello", "AND"], ["quickly", "NEAR"]):
        # Query syntax in a term neither breaks the search nor widens it: the words still match.
        found = await episodic.lexical_search(ALICE, words, limit=5)
        assert [c.memory_id for c in found] == [stored.id], words
    for words in (["AND"], ["NEAR"], ["*"], ["o'brien"], ["OR"]):
        found = await episodic.lexical_search(ALICE, words, limit=5)
        assert {c.memory_id for c in found} <= {stored.id}, words
    assert await episodic.lexical_search(ALICE, [], limit=5) == []


async def test_vector_search_nearest_first_within_user(episodic: EpisodicStore) -> None:
    a, b, c = memory("a"), memory("b"), memory("c", session="s2")
    bob = memory("bob", user="bob")
    await episodic.add([a, b, c, bob])
    await episodic.reset_embeddings(EmbeddingInfo(model="test", dimensions=3))
    await episodic.set_embeddings([
        (a.id, unit(1, 0, 0)), (b.id, unit(1, 1, 0)), (c.id, unit(0, 0, 1)),
        (bob.id, unit(1, 0, 0)),
    ])
    found = await episodic.vector_search(ALICE, unit(1, 0.1, 0), limit=2)
    assert [x.memory_id for x in found] == [a.id, b.id]
    assert found[0].score == pytest.approx(float(unit(1, 0, 0) @ unit(1, 0.1, 0)), abs=1e-5)
    in_s2 = await episodic.vector_search(
        MemoryFilter(user_id="alice", session_id="s2"), unit(1, 0, 0), limit=5
    )
    assert [x.memory_id for x in in_s2] == [c.id]


async def test_vector_search_sees_new_vectors_and_forgets_deleted(
    episodic: EpisodicStore,
) -> None:
    a, b = memory("a"), memory("b")
    await episodic.add([a, b])
    await episodic.reset_embeddings(EmbeddingInfo(model="test", dimensions=2))
    await episodic.set_embeddings([(a.id, unit(1, 0))])
    assert [x.memory_id for x in await episodic.vector_search(ALICE, unit(0, 1), limit=5)] == [
        a.id]
    await episodic.set_embeddings([(b.id, unit(0, 1))])
    assert [x.memory_id for x in await episodic.vector_search(ALICE, unit(0, 1), limit=5)] == [
        b.id, a.id]
    assert await episodic.delete("alice", b.id)
    assert [x.memory_id for x in await episodic.vector_search(ALICE, unit(0, 1), limit=5)] == [
        a.id]


async def test_a_second_handle_sees_the_first_ones_writes(
    tmp_path: Path, episodic_factory: Factory
) -> None:
    async with episodic_factory(tmp_path) as one, episodic_factory(tmp_path) as two:
        a = memory("written by one")
        await one.add([a])
        await one.reset_embeddings(EmbeddingInfo(model="test", dimensions=2))
        await one.set_embeddings([(a.id, unit(1, 0))])
        assert [x.memory_id for x in await two.vector_search(ALICE, unit(1, 0), limit=3)] == [
            a.id]
        b = memory("also by one")
        await one.add([b])
        await one.set_embeddings([(b.id, unit(0, 1))])
        await one.delete("alice", a.id)
        assert [x.memory_id for x in await two.vector_search(ALICE, unit(1, 0), limit=3)] == [
            b.id]
        assert [m.content for m in await two.list(ALICE, limit=5)] == ["also by one"]


async def test_embedding_bookkeeping(episodic: EpisodicStore) -> None:
    a, b = memory("a"), memory("b")
    await episodic.add([a, b])
    assert await episodic.embedding_info() is None
    info = EmbeddingInfo(model="test", dimensions=2)
    await episodic.reset_embeddings(info)
    assert await episodic.embedding_info() == info
    assert await episodic.missing_embeddings(limit=10) == [(a.id, "a"), (b.id, "b")]
    await episodic.set_embeddings([(a.id, unit(1, 0)), ("gone", unit(1, 0))])
    assert await episodic.missing_embeddings(limit=10) == [(b.id, "b")]
    assert await episodic.count_embeddings() == 1
    await episodic.reset_embeddings(EmbeddingInfo(model="other", dimensions=2))
    assert await episodic.count_embeddings() == 0
    assert await episodic.vector_search(ALICE, unit(1, 0), limit=3) == []


async def test_neighbors_follow_the_session_chain(episodic: EpisodicStore) -> None:
    turns = [memory(f"t{i}", minutes=i) for i in range(6)]
    other = memory("other session", session="s2", minutes=3)
    await episodic.add(turns[:3])
    await episodic.add([other])
    await episodic.add(turns[3:])
    around = await episodic.neighbors("alice", turns[3].id, before=2, after=1)
    assert [m.content for m in around] == ["t1", "t2", "t4"]
    assert await episodic.neighbors("bob", turns[3].id, before=2, after=2) == []
    assert await episodic.delete("alice", turns[2].id)
    around = await episodic.neighbors("alice", turns[3].id, before=1, after=0)
    assert [m.content for m in around] == ["t1"]


async def test_adjacent_gives_each_turns_session_neighbours(episodic: EpisodicStore) -> None:
    turns = [memory(f"t{i}", minutes=i) for i in range(4)]
    other = memory("other session", session="s2", minutes=2)
    await episodic.add(turns[:2])
    await episodic.add([other])
    await episodic.add(turns[2:])
    ids = [t.id for t in turns]
    found = await episodic.adjacent("alice", [ids[0], ids[2], other.id, "missing", ids[0]])
    assert found == {
        ids[0]: (None, ids[1]),
        ids[2]: (ids[1], ids[3]),
        other.id: (None, None),
    }
    assert await episodic.adjacent("bob", ids) == {}
    assert await episodic.adjacent("alice", []) == {}
    assert await episodic.delete("alice", ids[2])
    assert await episodic.adjacent("alice", [ids[1]]) == {ids[1]: (ids[0], ids[3])}


async def test_vector_search_scores_a_memory_by_its_best_row(episodic: EpisodicStore) -> None:
    """A stored matrix is the memory's vector then its passages'; a store keeps at least the
    first row, and a memory is returned once, however many of its rows match."""
    a, b = memory("a"), memory("b")
    await episodic.add([a, b])
    await episodic.reset_embeddings(EmbeddingInfo(model="test", dimensions=3))
    await episodic.set_embeddings([
        (a.id, np.stack([unit(1, 0, 0), unit(1, 0.2, 0), unit(0, 0, 1)])),
        (b.id, np.stack([unit(1, 0.1, 0)])),
    ])
    found = await episodic.vector_search(ALICE, unit(1, 0, 0), limit=5)
    assert [x.memory_id for x in found] == [a.id, b.id]
    assert found[0].score == pytest.approx(1.0, abs=1e-5)
    assert await episodic.count_embeddings() == 2
    # Only a passage points this way: stores keeping every row rank ``a`` first; the graph
    # stores keep the first row only, so no memory matches it well there.
    [passage] = await episodic.vector_search(ALICE, unit(0, 0, 1), limit=1)
    if isinstance(episodic, CypherEpisodicStore):
        assert passage.score < 0.5
    else:
        assert passage.memory_id == a.id
        assert passage.score == pytest.approx(1.0, abs=1e-5)


async def test_delete_is_scoped_to_the_user(episodic: EpisodicStore) -> None:
    mine = memory("mine")
    await episodic.add([mine])
    assert not await episodic.delete("bob", mine.id)
    assert await episodic.get("alice", [mine.id]) == [mine]
    assert await episodic.delete("alice", mine.id)
    assert not await episodic.delete("alice", mine.id)
    assert await episodic.lexical_search(ALICE, ["mine"], limit=3) == []


async def test_delete_all_counts_and_user_ids(episodic: EpisodicStore) -> None:
    await episodic.add([memory("a", session="s1"), memory("b", session="s2"),
                        memory("c", user="bob")])
    assert await episodic.count() == 3
    assert await episodic.user_ids() == ["alice", "bob"]
    assert await episodic.delete_all(MemoryFilter(user_id="alice", session_id="s1")) == 1
    assert await episodic.delete_all(ALICE) == 1
    assert await episodic.count("alice") == 0
    assert await episodic.count("bob") == 1


async def test_vector_dimension_mismatch_is_refused(episodic: EpisodicStore) -> None:
    a = memory("a")
    await episodic.add([a])
    await episodic.reset_embeddings(EmbeddingInfo(model="test", dimensions=3))
    with pytest.raises(ValueError, match="dimension"):
        await episodic.set_embeddings([(a.id, np.ones(2, dtype=np.float32))])
    assert await episodic.count_embeddings() == 0


# -- what an add carries besides the memory ------------------------------------------------------

async def test_an_idempotency_key_is_stored_once_per_user(episodic: EpisodicStore) -> None:
    first = new_memory("Booked the flight", idempotency_key="k1", request_hash="h1")
    again = new_memory("Booked the flight", idempotency_key="k1", request_hash="h2")
    twin = new_memory("twin in one call", idempotency_key="k2", request_hash="h3")
    twin_again = new_memory("twin in one call", idempotency_key="k2", request_hash="h3")
    bobs = new_memory("Booked the flight", user="bob", idempotency_key="k1", request_hash="h4")
    assert await episodic.add([first, twin, twin_again]) == [first.id, twin.id]
    assert await episodic.add([again, bobs]) == [bobs.id]
    [stored] = await episodic.get("alice", [first.id])
    assert stored == first.as_memory()
    assert await episodic.keyed("alice", ["k1", "k2", "nope"]) == {
        "k1": (first.as_memory(), "h1"), "k2": (twin.as_memory(), "h3")}
    assert await episodic.keyed("bob", ["k1", "k2"]) == {"k1": (bobs.as_memory(), "h4")}
    assert await episodic.keyed("carol", ["k1"]) == {}
    assert await episodic.count("alice") == 2


async def test_a_key_is_freed_with_its_memory_only(
    episodic: EpisodicStore,
) -> None:
    keyed = new_memory("keyed", idempotency_key="k1", request_hash="h1")
    other = memory("other")
    await episodic.add([keyed, other])
    assert await episodic.delete("alice", other.id)
    assert list(await episodic.keyed("alice", ["k1"])) == ["k1"]
    assert await episodic.delete("alice", keyed.id)
    assert await episodic.keyed("alice", ["k1"]) == {}
    again = new_memory("keyed", idempotency_key="k1", request_hash="h1")
    assert await episodic.add([again]) == [again.id]


async def test_pending_records_are_kept_until_cleared_and_outlive_their_memory(
    episodic: EpisodicStore,
) -> None:
    facts = [fact("city", "Lisbon", source_memory_ids=["placeholder"])]
    old = new_memory("old", minutes=0, pending=True, facts=facts)
    young = new_memory("young", minutes=10, user="bob", pending=True)
    quiet = new_memory("no record", minutes=5)
    await episodic.add([old, young, quiet])
    records = await episodic.pending(limit=10)
    assert [(r.memory_id, r.user_id) for r in records] == [(old.id, "alice"), (young.id, "bob")]
    assert records[0].facts == tuple(facts)
    assert records[0].created_at == old.created_at
    assert records[1].facts == ()
    assert [r.memory_id for r in await episodic.pending(limit=1)] == [old.id]
    before = T0 + timedelta(minutes=5)
    assert [r.memory_id for r in await episodic.pending(limit=10, before=before)] == [old.id]
    # Nothing of the record shows in the memory, and deleting the memory keeps the record.
    assert await episodic.get("alice", [old.id]) == [old.as_memory()]
    assert await episodic.delete("alice", old.id)
    assert [r.memory_id for r in await episodic.pending(limit=10)] == [old.id, young.id]
    await episodic.clear_pending("alice", [young.id, "unknown"])  # bob's: not alice's to clear
    await episodic.clear_pending("alice", [old.id])
    assert [r.memory_id for r in await episodic.pending(limit=10)] == [young.id]
    await episodic.clear_pending("bob", [young.id])
    assert await episodic.pending(limit=10) == []


async def test_an_add_skipped_for_its_id_or_key_leaves_no_record(
    episodic: EpisodicStore,
) -> None:
    first = new_memory("first", idempotency_key="k1", request_hash="h1")
    await episodic.add([first])
    same_id = new_memory("same id", pending=True).model_copy(update={"id": first.id})
    same_key = new_memory("same key", idempotency_key="k1", request_hash="h1", pending=True)
    assert await episodic.add([same_id, same_key]) == []
    assert await episodic.pending(limit=10) == []
