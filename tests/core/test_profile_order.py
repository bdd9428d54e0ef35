"""Profile history in the order things happened, on SQLite and on PostgreSQL.

Contract: a fact stated by a memory is valid from that memory's ``occurred_at``, whatever the
order of the adds. For one ``(user, key)``, the facts ordered by ``valid_from`` form one
timeline: each interval ends (``valid_to``) where the next one begins, none is empty
(``valid_from < valid_to``), none overlaps another, and the current fact (``valid_to`` is
``None``) is the one with the latest ``occurred_at``. An older statement, added after a newer
one, goes into the history in its place and never supersedes the newer one. This holds with
several processes writing one key at once.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import AsyncIterator, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest

from memvault import Memvault, ProfileFact
from tests.core.consistency import Child, settings_for, spawn

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

WORKERS = 4
ADDS_PER_WORKER = 25
START_TIMEOUT = 60.0
RUN_TIMEOUT = 120.0


@pytest.fixture(params=["sqlite", "postgres"])
async def settings(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[
        dict[str, Any]]:
    async with settings_for(request.param, tmp_path) as found:
        yield found


def _open(settings: dict[str, Any]) -> Memvault:
    return Memvault.open(**settings)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _timeline(facts: Sequence[ProfileFact], key: str) -> list[ProfileFact]:
    return sorted((f for f in facts if f.key == key), key=lambda f: f.valid_from)


def _assert_one_timeline(timeline: Sequence[ProfileFact]) -> None:
    """Non-empty, non-overlapping, contiguous intervals; only the last is open."""
    assert timeline, "no facts"
    for fact in timeline:
        if fact.valid_to is not None:
            assert fact.valid_from < fact.valid_to, (
                f"empty interval: {fact.value!r} from {fact.valid_from} to {fact.valid_to}")
    for earlier, later in itertools.pairwise(timeline):
        assert earlier.valid_to == later.valid_from, (
            f"{earlier.value!r} [{earlier.valid_from}, {earlier.valid_to}) and "
            f"{later.value!r} from {later.valid_from} overlap or leave a gap")
    assert [f.valid_to is None for f in timeline] == [False] * (len(timeline) - 1) + [True]


async def test_an_older_statement_goes_into_the_history(settings: dict[str, Any]) -> None:
    async with _open(settings) as mv:
        lisbon = await mv.add("I live in Lisbon", occurred_at="2024-05-01",
                              profile={"city": "Lisbon"})
        paris = await mv.add("I lived in Paris", occurred_at="2020-01-01",
                             profile={"city": "Paris"})
        profile = await mv.get_profile(include_history=True)
        current = await mv.get_profile()

    assert [(f.key, f.value, f.valid_from) for f in current.facts] == [
        ("city", "Lisbon", _utc("2024-05-01"))]
    assert [(f.key, f.value) for f in profile.facts] == [("city", "Lisbon")]
    assert profile.facts[0].source_memory_ids == [lisbon.id]
    assert [(f.value, f.valid_from, f.valid_to, f.source_memory_ids)
            for f in profile.history] == [
        ("Paris", _utc("2020-01-01"), _utc("2024-05-01"), [paris.id])]
    _assert_one_timeline(_timeline([*profile.facts, *profile.history], "city"))


async def test_a_statement_between_two_splits_the_timeline(settings: dict[str, Any]) -> None:
    async with _open(settings) as mv:
        await mv.add("I lived in Paris", occurred_at="2020-01-01", profile={"city": "Paris"})
        await mv.add("I live in Lisbon", occurred_at="2024-05-01", profile={"city": "Lisbon"})
        await mv.add("I moved to Berlin", occurred_at="2022-03-01", profile={"city": "Berlin"})
        profile = await mv.get_profile(include_history=True)

    timeline = _timeline([*profile.facts, *profile.history], "city")
    assert [(f.value, f.valid_from, f.valid_to) for f in timeline] == [
        ("Paris", _utc("2020-01-01"), _utc("2022-03-01")),
        ("Berlin", _utc("2022-03-01"), _utc("2024-05-01")),
        ("Lisbon", _utc("2024-05-01"), None),
    ]
    _assert_one_timeline(timeline)


# Each worker adds its statements about one key, with the occurred_at values it is given, as
# fast as it can once released (a line "go" on stdin), and reports each acknowledged add.
WORKER = r'''
import json
import sys

from memvault import SyncMemvault

settings = json.loads(sys.argv[1])
plan = json.loads(sys.argv[2])
with SyncMemvault.open(**settings) as mv:
    print(json.dumps({"event": "ready"}), flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit(1)
    for value, occurred_at in plan:
        memory = mv.add(f"I live in {value}", occurred_at=occurred_at,
                        profile={"city": value})
        print(json.dumps({"event": "added", "id": memory.id, "value": value}), flush=True)
    print(json.dumps({"event": "done"}), flush=True)
'''


def _plans(rng: random.Random) -> list[list[tuple[str, str]]]:
    """Distinct random occurred_at values (a few years, to the second), dealt to the
    workers; each statement has its own value."""
    start = datetime(2018, 1, 1, tzinfo=UTC)
    seconds = rng.sample(range(5 * 365 * 86_400), WORKERS * ADDS_PER_WORKER)
    plans: list[list[tuple[str, str]]] = [[] for _ in range(WORKERS)]
    for n, offset in enumerate(seconds):
        plans[n % WORKERS].append(
            (f"city-{n}", (start + timedelta(seconds=offset)).isoformat()))
    return plans


async def test_concurrent_writers_of_one_key_keep_one_timeline(
    tmp_path: Path, settings: dict[str, Any]
) -> None:
    plans = _plans(random.Random())
    with ExitStack() as stack:
        children: list[Child] = [
            stack.enter_context(spawn(tmp_path, f"writer-{i}", WORKER,
                                      [json.dumps(settings), json.dumps(plan)]))
            for i, plan in enumerate(plans)
        ]
        for child in children:
            await anyio.to_thread.run_sync(child.wait_for, '"event": "ready"', START_TIMEOUT)
        for child in children:
            assert child.process.stdin is not None
            child.process.stdin.write("go\n")
            child.process.stdin.flush()
        for child in children:
            await anyio.to_thread.run_sync(child.wait_for, '"event": "done"', RUN_TIMEOUT)
            assert await anyio.to_thread.run_sync(child.wait) == 0, child.stderr

    async with _open(settings) as mv:
        profile = await mv.get_profile(include_history=True)
    timeline = _timeline([*profile.facts, *profile.history], "city")
    stated = sorted(((_aware(at), value) for plan in plans for value, at in plan))
    assert [(f.valid_from, f.value) for f in timeline] == stated, (
        "the history is not every statement in occurred_at order")
    _assert_one_timeline(timeline)
    assert [f.value for f in profile.facts] == [stated[-1][1]]


def _aware(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
