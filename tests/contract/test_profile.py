"""The profile store contract (see memvault.stores.base.ProfileStore)."""

from __future__ import annotations

import pytest

from memvault.stores.base import ProfileStore
from tests.contract.builders import fact

pytestmark = pytest.mark.anyio


async def test_set_and_get_current_facts(profile: ProfileStore) -> None:
    written = await profile.set_facts([
        fact("diet", "vegetarian", category="preference", source_memory_ids=["m1"]),
        fact("languages", ["en", "de"]),
    ])
    assert [f.key for f in written] == ["diet", "languages"]
    got = await profile.get("alice")
    assert [(f.key, f.value, f.valid_to) for f in got] == [
        ("diet", "vegetarian", None), ("languages", ["en", "de"], None)]
    assert got[0].source_memory_ids == ["m1"]
    assert got[0].category == "preference"


async def test_a_new_value_supersedes_and_keeps_history(profile: ProfileStore) -> None:
    old = fact("risk_tolerance", "aggressive", minutes=0, source_memory_ids=["m1"])
    new = fact("risk_tolerance", "conservative", minutes=30, source_memory_ids=["m2"])
    await profile.set_facts([old])
    await profile.set_facts([new])
    current = await profile.get("alice")
    assert [(f.value, f.source_memory_ids) for f in current] == [("conservative", ["m2"])]
    everything = await profile.get("alice", include_history=True)
    assert [f.value for f in everything] == ["conservative", "aggressive"]
    assert everything[1].valid_to == new.valid_from


async def test_the_same_value_gains_sources(profile: ProfileStore) -> None:
    await profile.set_facts([fact("city", "Berlin", source_memory_ids=["m1"])])
    await profile.set_facts([fact("city", "Berlin", minutes=5, source_memory_ids=["m2", "m1"])])
    [current] = await profile.get("alice", include_history=True)
    assert current.source_memory_ids == ["m1", "m2"]


async def test_users_are_isolated(profile: ProfileStore) -> None:
    await profile.set_facts([fact("city", "Berlin"), fact("city", "Paris", user="bob")])
    assert [f.value for f in await profile.get("alice")] == ["Berlin"]
    assert [f.value for f in await profile.get("bob")] == ["Paris"]
    assert await profile.delete_all("alice") == 1
    assert await profile.get("alice") == []
    assert await profile.count("bob") == 1
    assert await profile.user_ids() == ["bob"]


async def test_import_is_verbatim_and_idempotent(profile: ProfileStore) -> None:
    old = fact("city", "Rome", minutes=0)
    old = old.model_copy(update={"valid_to": old.valid_from.replace(hour=20)})
    current = fact("city", "Berlin", minutes=600)
    assert await profile.import_facts([old, current]) == 2
    assert await profile.import_facts([old, current]) == 0
    everything = await profile.get("alice", include_history=True)
    assert everything == [current, old]


async def test_current_keys_are_the_keys_of_current_facts(profile: ProfileStore) -> None:
    assert await profile.current_keys("alice") == []
    await profile.set_facts([fact("diet", "vegan"), fact("city", "Rome")])
    await profile.set_facts([fact("city", "Berlin", minutes=5), fact("city", "Oslo", user="bob")])
    assert await profile.current_keys("alice") == ["city", "diet"]
    assert await profile.current_keys("bob") == ["city"]
    await profile.delete_all("alice")
    assert await profile.current_keys("alice") == []
