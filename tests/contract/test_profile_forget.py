"""Forgetting one profile key (ProfileStore.forget_key), on every profile store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from memvault.stores.base import ProfileStore
from memvault.stores.timeline import FORGOTTEN
from tests.contract.builders import T0, fact

pytestmark = pytest.mark.anyio

LATER = T0 + timedelta(hours=5)


async def test_forget_moves_the_current_value_to_the_history(profile: ProfileStore) -> None:
    await profile.set_facts([fact("diet", "vegan", minutes=0, source_memory_ids=["m1"])])
    await profile.set_facts([fact("diet", "vegetarian", minutes=10, source_memory_ids=["m2"]),
                             fact("city", "Berlin")])
    forgotten = await profile.forget_key("alice", "diet", LATER)
    assert forgotten is not None
    assert (forgotten.value, forgotten.valid_to, forgotten.retired_reason) == (
        "vegetarian", LATER, FORGOTTEN)
    assert [f.key for f in await profile.get("alice")] == ["city"]
    history = [(f.value, f.retired_reason) for f in
               await profile.get("alice", include_history=True) if f.key == "diet"]
    assert history == [("vegetarian", FORGOTTEN), ("vegan", None)]  # the old one stays old
    assert await profile.current_keys("alice") == ["city"]


async def test_forget_of_a_key_without_a_value_changes_nothing(profile: ProfileStore) -> None:
    await profile.set_facts([fact("city", "Berlin")])
    before = await profile.get("alice", include_history=True)
    assert await profile.forget_key("alice", "diet", LATER) is None
    assert await profile.forget_key("bob", "city", LATER) is None
    assert await profile.get("alice", include_history=True) == before


async def test_forget_takes_a_restated_value_whole(profile: ProfileStore) -> None:
    await profile.set_facts([fact("city", "Berlin", minutes=0, source_memory_ids=["m1"])])
    await profile.set_facts([fact("city", "Berlin", minutes=5, source_memory_ids=["m2"])])
    await profile.forget_key("alice", "city", LATER)
    assert await profile.get("alice") == []
    assert await profile.forget_key("alice", "city", LATER) is None


async def test_a_newer_statement_sets_a_forgotten_key_again(profile: ProfileStore) -> None:
    await profile.set_facts([fact("city", "Berlin", minutes=0)])
    await profile.forget_key("alice", "city", LATER)
    await profile.set_facts([fact("city", "Berlin", minutes=600)])
    assert [(f.value, f.valid_to) for f in await profile.get("alice")] == [("Berlin", None)]
    history = await profile.get("alice", include_history=True)
    assert [f.retired_reason for f in history] == [None, FORGOTTEN]
