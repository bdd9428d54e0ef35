"""Deleting a memory forgets what it said, on SQLite and on PostgreSQL.

Contract: a profile fact lists the memories it came from (``source_memory_ids``). When a
memory is deleted (``delete``, or ``delete_all`` narrowed to a session or an agent):

* a current fact whose only source it was is retired: it is no longer current, and it stays in
  the history with ``valid_to`` set to the time of the deletion and
  ``ProfileFact.retired_reason == "source_deleted"``;
* a current fact with other sources stays current and only drops the deleted id from its
  ``source_memory_ids``.

``retired_reason`` says why a fact stopped being current: ``None`` while it is current,
``None`` too when a newer statement of its key ended it, ``"source_deleted"`` as above.
A key whose fact was retired can be stated again; the retired fact stays in the history.
Facts set without a source (``set_profile``) are not touched by deletes of memories.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from memvault import Memvault, ProfileFact
from tests.core.consistency import settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture(params=["sqlite", "postgres"])
async def settings(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[
        dict[str, Any]]:
    async with settings_for(request.param, tmp_path) as found:
        yield found


def _open(settings: dict[str, Any]) -> Memvault:
    return Memvault.open(**settings)


def _now() -> datetime:
    return datetime.now(UTC)


def _of(facts: Sequence[ProfileFact], key: str) -> list[ProfileFact]:
    return [f for f in facts if f.key == key]


def _assert_retired(fact: ProfileFact, before: datetime, after: datetime) -> None:
    assert fact.valid_to is not None, f"{fact.key} is still current"
    assert before <= fact.valid_to <= after, (
        f"{fact.key} retired at {fact.valid_to}, not at its deletion ({before} .. {after})")
    assert fact.retired_reason == "source_deleted"


async def test_deleting_the_only_source_retires_the_fact(settings: dict[str, Any]) -> None:
    async with _open(settings) as mv:
        memory = await mv.add("I'm allergic to shellfish", profile={"allergy": "shellfish"})
        before = _now()
        await mv.delete(memory.id)
        after = _now()
        current = await mv.get_profile()
        profile = await mv.get_profile(include_history=True)

    assert _of(current.facts, "allergy") == [], "the fact of a deleted memory is current"
    assert all(memory.id not in f.source_memory_ids for f in profile.facts)
    [retired] = _of(profile.history, "allergy")
    assert retired.value == "shellfish"
    assert retired.valid_from == memory.occurred_at
    _assert_retired(retired, before, after)


async def test_a_fact_with_other_sources_only_drops_the_id(settings: dict[str, Any]) -> None:
    async with _open(settings) as mv:
        first = await mv.add("I'm vegetarian", profile={"diet": "vegetarian"})
        second = await mv.add("Still no meat for me", profile={"diet": "vegetarian"})
        await mv.delete(first.id)
        profile = await mv.get_profile(include_history=True)

    [diet] = _of(profile.facts, "diet")
    assert diet.value == "vegetarian"
    assert diet.source_memory_ids == [second.id]
    assert diet.valid_to is None
    assert diet.retired_reason is None
    # Each statement is kept on its own: the withdrawn one stays visible in the history as
    # withdrawn, and the fact now starts at the statement that still stands.
    assert diet.valid_from == second.occurred_at
    assert [f.retired_reason for f in _of(profile.history, "diet")] == ["source_deleted"]


async def test_delete_all_of_a_session_retires_and_drops_alike(
    settings: dict[str, Any]
) -> None:
    async with _open(settings) as mv:
        await mv.add("I'm allergic to shellfish", session_id="s1",
                     profile={"allergy": "shellfish"})
        await mv.add("I'm vegetarian", session_id="s1", profile={"diet": "vegetarian"})
        kept = await mv.add("Vegetarian, as I said", session_id="s2",
                            profile={"diet": "vegetarian"})
        city = await mv.add("I live in Lisbon", session_id="s2", profile={"city": "Lisbon"})
        await mv.set_profile({"language": "Portuguese"})
        before = _now()
        report = await mv.delete_all(session_id="s1")
        after = _now()
        profile = await mv.get_profile(include_history=True)

    assert report.memories == 2
    assert sorted(f.key for f in profile.facts) == ["city", "diet", "language"]
    [diet] = _of(profile.facts, "diet")
    assert diet.source_memory_ids == [kept.id]
    [lisbon] = _of(profile.facts, "city")
    assert lisbon.source_memory_ids == [city.id]
    [retired] = _of(profile.history, "allergy")
    _assert_retired(retired, before, after)
    assert sorted(f.key for f in profile.history) == ["allergy", "diet"]
    assert {f.retired_reason for f in profile.history} == {"source_deleted"}


async def test_delete_all_of_an_agent_retires_its_facts(settings: dict[str, Any]) -> None:
    async with _open(settings) as mv:
        await mv.add("I'm allergic to shellfish", agent_id="intake",
                     profile={"allergy": "shellfish"})
        other = await mv.add("I live in Lisbon", agent_id="travel", profile={"city": "Lisbon"})
        before = _now()
        await mv.delete_all(agent_id="intake")
        after = _now()
        profile = await mv.get_profile(include_history=True)

    assert [(f.key, f.source_memory_ids) for f in profile.facts] == [("city", [other.id])]
    [retired] = _of(profile.history, "allergy")
    _assert_retired(retired, before, after)


async def test_a_retired_key_can_be_stated_again(settings: dict[str, Any]) -> None:
    async with _open(settings) as mv:
        shellfish = await mv.add("I'm allergic to shellfish", profile={"allergy": "shellfish"})
        before = _now()
        await mv.delete(shellfish.id)
        after = _now()
        peanuts = await mv.add("I'm allergic to peanuts", profile={"allergy": "peanuts"})
        profile = await mv.get_profile(include_history=True)

    assert [(f.value, f.source_memory_ids, f.retired_reason)
            for f in _of(profile.facts, "allergy")] == [("peanuts", [peanuts.id], None)]
    [retired] = _of(profile.history, "allergy")
    assert retired.value == "shellfish"
    _assert_retired(retired, before, after)


async def test_a_superseded_fact_says_so(settings: dict[str, Any]) -> None:
    async with _open(settings) as mv:
        await mv.add("I lived in Paris", occurred_at="2020-01-01", profile={"city": "Paris"})
        await mv.add("I live in Lisbon", occurred_at="2024-05-01", profile={"city": "Lisbon"})
        profile = await mv.get_profile(include_history=True)

    assert [(f.value, f.retired_reason) for f in profile.facts] == [("Lisbon", None)]
    # Superseded by a newer statement is the ordinary end of a fact: no retirement reason.
    assert [(f.value, f.retired_reason) for f in profile.history] == [("Paris", None)]
