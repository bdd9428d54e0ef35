"""The profile through the core: facts follow when their memories happened, and deleting a
memory forgets what it said."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from memvault import Config, Memvault, NotFound

pytestmark = pytest.mark.anyio


def _config(path: Path) -> Config:
    path.mkdir(exist_ok=True)
    return Config.from_flat({"database": str(path / "m.db"), "user_id": "alice",
                             "embedder": "none"})


@pytest.fixture
async def mv(tmp_path: Path) -> AsyncIterator[Memvault]:
    async with Memvault(_config(tmp_path)) as memvault:
        yield memvault


async def test_an_older_memory_goes_into_the_history_at_its_place(mv: Memvault) -> None:
    lisbon = await mv.add("I live in Lisbon now", occurred_at="2024-05-01",
                          profile={"city": "Lisbon"})
    paris = await mv.add("Back in 2020 I lived in Paris", occurred_at="2020-01-01",
                         profile={"city": "Paris"})
    profile = await mv.get_profile(include_history=True)
    assert [(f.value, f.source_memory_ids) for f in profile.facts] == [("Lisbon", [lisbon.id])]
    [old] = profile.history
    assert (old.value, old.source_memory_ids) == ("Paris", [paris.id])
    assert (old.valid_from, old.valid_to) == (paris.occurred_at, lisbon.occurred_at)
    assert old.valid_from < old.valid_to


async def test_deleting_a_memory_forgets_what_it_said(mv: Memvault) -> None:
    both = await mv.add("I eat no meat", profile={"diet": "vegetarian"})
    allergy = await mv.add("I'm allergic to shellfish",
                           profile={"allergy": "shellfish", "diet": "vegetarian"})
    before = datetime.now(UTC)
    await mv.delete(allergy.id)
    after = datetime.now(UTC)
    profile = await mv.get_profile(include_history=True)
    assert [(f.key, f.source_memory_ids) for f in profile.facts] == [("diet", [both.id])]
    [retired] = profile.history
    assert (retired.key, retired.value, retired.source_memory_ids, retired.retired_reason) == (
        "allergy", "shellfish", [], "source_deleted")
    assert retired.valid_to is not None
    assert before <= retired.valid_to <= after


async def test_the_value_a_deleted_memory_replaced_does_not_come_back(mv: Memvault) -> None:
    await mv.add("I moved to Lisbon", occurred_at="2020-01-01", profile={"city": "Lisbon"})
    porto = await mv.add("I moved to Porto", occurred_at="2024-01-01", profile={"city": "Porto"})
    await mv.delete(porto.id)
    profile = await mv.get_profile(include_history=True)
    assert profile.facts == []
    assert [(f.value, f.retired_reason) for f in profile.history] == [
        ("Porto", "source_deleted"), ("Lisbon", None)]
    assert profile.history[1].valid_to == porto.occurred_at


async def test_a_delete_cut_short_is_finished_by_deleting_again(mv: Memvault) -> None:
    memory = await mv.add("I'm allergic to shellfish", profile={"allergy": "shellfish"})
    assert await mv.episodic.delete("alice", memory.id)  # the profile step never ran
    with pytest.raises(NotFound):
        await mv.delete(memory.id)
    assert (await mv.get_profile()).facts == []


async def test_deleting_a_session_or_an_agent_forgets_what_its_memories_said(
    mv: Memvault,
) -> None:
    kept = await mv.add("in another chat", session_id="b", profile={"pet": "cat"})
    await mv.add("in this chat", session_id="a", profile={"pet": "cat", "city": "Oslo"})
    await mv.add("by the other agent", agent_id="helper", profile={"team": "blue"})
    report = await mv.delete_all(session_id="a")
    assert (report.memories, report.profile_facts) == (1, 0)
    profile = await mv.get_profile(include_history=True)
    assert [f.key for f in profile.facts] == ["pet", "team"]
    assert profile.facts[0].source_memory_ids == [kept.id]
    assert [(f.key, f.retired_reason) for f in profile.history] == [("city", "source_deleted")]
    await mv.delete_all(agent_id="helper")
    assert [f.key for f in (await mv.get_profile()).facts] == ["pet"]


async def test_export_and_import_carry_why_a_fact_was_retired(tmp_path: Path) -> None:
    async with Memvault(_config(tmp_path / "a")) as mv:
        memory = await mv.add("I'm allergic to shellfish", profile={"allergy": "shellfish"})
        await mv.set_profile({"city": "Oslo"})
        await mv.delete(memory.id)
        lines = [line async for line in mv.export()
                 if '"type": "audit"' not in line and '"type": "end"' not in line]
        # Taken apart, the lines are read as an export of before the end line (version 2).
        lines[0] = json.dumps({**json.loads(lines[0]), "version": 2})
        original = await mv.get_profile(include_history=True)
    assert [json.loads(line).get("retired_reason") for line in lines[1:]] == [
        None, "source_deleted"]
    # An export made before facts could be retired has no retired_reason: still importable.
    older = [lines[0]] + [json.dumps({k: v for k, v in json.loads(line).items()
                                      if k != "retired_reason"}) for line in lines[1:]]
    async with Memvault(_config(tmp_path / "b")) as mv:
        await mv.import_lines(lines)
        assert await mv.get_profile(include_history=True) == original
    async with Memvault(_config(tmp_path / "c")) as mv:
        report = await mv.import_lines(older[:2])
        assert report.profile_facts == 1
        assert [f.value for f in (await mv.get_profile()).facts] == ["Oslo"]
