"""Typed memories (a memory type's name and its data) on every episodic store, and their
copies in every working store: stored and read back whole, filtered by type and by data
fields, updated with their history, searchable by the words of their content."""

from __future__ import annotations

from datetime import timedelta

import pytest

from memvault.models import MemoryFilter
from memvault.stores.base import EpisodicStore, Revision, WorkingStore
from tests.contract.builders import T0, memory

pytestmark = pytest.mark.anyio

DEAL = {"account": "Acme", "stage": "won", "value": 12000, "closed": True,
        "contacts": ["Ann", "Bo"], "terms": {"months": 12}}


async def test_type_and_data_round_trip(episodic: EpisodicStore) -> None:
    typed = memory("deal: account=Acme; stage=won", type="deal", data=DEAL)
    plain = memory("an untyped note", minutes=1)
    await episodic.add([typed, plain])
    assert await episodic.get("alice", [typed.id, plain.id]) == [typed, plain]
    [got, untyped] = await episodic.get("alice", [typed.id, plain.id])
    assert (got.type, got.data) == ("deal", DEAL)
    assert (untyped.type, untyped.data) == (None, None)
    listed = await episodic.list(MemoryFilter(user_id="alice"), limit=5)
    assert listed == [plain, typed]
    assert await episodic.neighbors("alice", plain.id, before=1, after=0) == [typed]


async def test_filters_on_type_and_data_fields(episodic: EpisodicStore) -> None:
    won = memory("deal: account=Acme; stage=won", type="deal", data=DEAL)
    lost = memory("deal: account=Globex; stage=lost", minutes=1, type="deal",
                  data={"account": "Globex", "stage": "lost", "closed": False})
    pill = memory("medication: name=Aspirin", minutes=2, type="medication",
                  data={"name": "Aspirin", "stage": "won"})
    plain = memory("Acme called about the deal", minutes=3, metadata={"stage": "won"})
    await episodic.add([won, lost, pill, plain])

    async def ids(**fields: object) -> set[str]:
        where = MemoryFilter(user_id="alice", **fields)  # type: ignore[arg-type]
        return {m.id for m in await episodic.list(where, limit=10)}

    assert await ids(type="deal") == {won.id, lost.id}
    assert await ids(type="medication") == {pill.id}
    assert await ids(type="recipe") == set()
    assert await ids(data={"stage": "won"}) == {won.id, pill.id}  # not metadata's stage
    assert await ids(type="deal", data={"stage": "won"}) == {won.id}
    assert await ids(data={"value": 12000, "closed": True}) == {won.id}
    assert await ids(data={"closed": False}) == {lost.id}
    assert await ids(type="deal", data={"value": None}) == {lost.id}
    assert await ids(metadata={"stage": "won"}) == {plain.id}
    found = await episodic.lexical_search(MemoryFilter(user_id="alice", type="deal"),
                                          ["acme"], limit=5)
    assert [c.memory_id for c in found] == [won.id]
    everything = await episodic.lexical_search(MemoryFilter(user_id="alice"), ["acme"],
                                               limit=5)
    assert {c.memory_id for c in everything} == {won.id, plain.id}
    removed = await episodic.delete_all(MemoryFilter(user_id="alice", type="medication"))
    assert removed == 1
    assert await ids() == {won.id, lost.id, plain.id}


async def test_update_of_data_keeps_the_old_data(episodic: EpisodicStore) -> None:
    deal = memory("deal: account=Acme; stage=lead", type="deal",
                  data={"account": "Acme", "stage": "lead"})
    await episodic.add([deal])
    at = T0 + timedelta(days=1)
    new = await episodic.update(Revision(
        user_id="alice", memory_id=deal.id, at=at, content="deal: account=Acme; stage=won",
        entities=("acme",), data={"account": "Acme", "stage": "won"}))
    assert new is not None
    assert (new.type, new.data, new.content) == (
        "deal", {"account": "Acme", "stage": "won"}, "deal: account=Acme; stage=won")
    assert await episodic.get("alice", [deal.id]) == [new]
    [old] = await episodic.versions("alice", deal.id)
    assert (old.content, old.data) == (deal.content, deal.data)
    where = MemoryFilter(user_id="alice", data={"stage": "won"})
    assert [m.id for m in await episodic.list(where, limit=5)] == [deal.id]
    assert await episodic.list(MemoryFilter(user_id="alice", data={"stage": "lead"}),
                               limit=5) == []
    kept = await episodic.update(Revision(user_id="alice", memory_id=deal.id, at=at,
                                          metadata={"note": 1}))
    assert kept is not None
    assert kept.data == new.data
    plain = memory("untyped", minutes=1)
    await episodic.add([plain])
    await episodic.update(Revision(user_id="alice", memory_id=plain.id, at=at,
                                   content="still untyped", entities=()))
    [version] = await episodic.versions("alice", plain.id)
    assert version.data is None


async def test_working_copies_keep_type_and_data(working: WorkingStore) -> None:
    typed = memory("deal: account=Acme", type="deal", data=DEAL)
    await working.push(typed, max_turns=5, ttl_seconds=60)
    assert await working.recent("alice", "s1", limit=5) == [typed]
