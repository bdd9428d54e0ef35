"""The profile store contract (see memvault.stores.base.ProfileStore)."""

from __future__ import annotations

import itertools
import json
import queue
import random
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio.to_thread
import pytest

from memvault.models import ProfileFact
from memvault.stores.base import ProfileStore
from tests.contract.builders import T0, fact

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


# -- the timeline follows when things happened -----------------------------------------------


def _timeline(facts: list[ProfileFact]) -> list[tuple[object, int, int | None]]:
    """Live facts as (value, from, to) in minutes after T0, oldest first."""
    def minutes(moment: datetime | None) -> int | None:
        return None if moment is None else int((moment - T0).total_seconds() // 60)

    live = sorted((f for f in facts if f.retired_reason is None), key=lambda f: f.valid_from)
    return [(f.value, minutes(f.valid_from) or 0, minutes(f.valid_to)) for f in live]


async def test_an_older_statement_goes_into_the_history_at_its_place(
    profile: ProfileStore,
) -> None:
    await profile.set_facts([fact("city", "Lisbon", minutes=60, source_memory_ids=["m1"])])
    [written] = await profile.set_facts([fact("city", "Paris", minutes=0,
                                              source_memory_ids=["m2"])])
    assert (written.value, written.valid_to) == ("Paris", T0 + timedelta(minutes=60))
    [current] = await profile.get("alice")
    assert (current.value, current.source_memory_ids) == ("Lisbon", ["m1"])
    await profile.set_facts([fact("city", "Rome", minutes=30)])
    everything = await profile.get("alice", include_history=True)
    assert _timeline(everything) == [("Paris", 0, 30), ("Rome", 30, 60), ("Lisbon", 60, None)]
    assert [f.value for f in everything] == ["Lisbon", "Rome", "Paris"]


async def test_a_statement_between_two_of_one_value_splits_it(profile: ProfileStore) -> None:
    # Lisbon at 0 and again at 20 read as one fact; Paris at 10 comes between them, and the
    # later Lisbon stays current.
    await profile.set_facts([fact("city", "Lisbon", minutes=0, source_memory_ids=["m1"])])
    await profile.set_facts([fact("city", "Lisbon", minutes=20, source_memory_ids=["m2"])])
    [one] = await profile.get("alice", include_history=True)
    assert (one.valid_from, one.source_memory_ids) == (T0, ["m1", "m2"])
    await profile.set_facts([fact("city", "Paris", minutes=10, source_memory_ids=["m3"])])
    everything = await profile.get("alice", include_history=True)
    assert _timeline(everything) == [("Lisbon", 0, 10), ("Paris", 10, 20), ("Lisbon", 20, None)]
    assert [f.source_memory_ids for f in everything] == [["m2"], ["m3"], ["m1"]]


async def test_an_older_statement_of_the_current_value_moves_its_start(
    profile: ProfileStore,
) -> None:
    await profile.set_facts([fact("city", "Oslo", minutes=0)])
    await profile.set_facts([fact("city", "Berlin", minutes=50, source_memory_ids=["m1"])])
    await profile.set_facts([fact("city", "Berlin", minutes=20, source_memory_ids=["m2"])])
    everything = await profile.get("alice", include_history=True)
    assert _timeline(everything) == [("Oslo", 0, 20), ("Berlin", 20, None)]
    assert everything[0].source_memory_ids == ["m2", "m1"]


async def test_one_instant_one_value(profile: ProfileStore) -> None:
    await profile.set_facts([fact("city", "Lisbon", minutes=10, source_memory_ids=["m1"])])
    await profile.set_facts([fact("city", "Lisbon", minutes=10, source_memory_ids=["m2"])])
    [merged] = await profile.get("alice", include_history=True)
    assert merged.source_memory_ids == ["m1", "m2"]
    before = datetime.now(UTC)
    await profile.set_facts([fact("city", "Porto", minutes=10, source_memory_ids=["m3"])])
    after = datetime.now(UTC)
    [current, replaced] = await profile.get("alice", include_history=True)
    assert (current.value, current.valid_from, current.valid_to) == (
        "Porto", T0 + timedelta(minutes=10), None)
    assert (replaced.value, replaced.retired_reason) == ("Lisbon", "replaced")
    assert replaced.valid_to is not None
    assert before <= replaced.valid_to <= after
    # A replaced fact is out of the timeline: nothing is ever an empty interval.
    await profile.set_facts([fact("city", "Faro", minutes=0)])
    assert _timeline(await profile.get("alice", include_history=True)) == [
        ("Faro", 0, 10), ("Porto", 10, None)]


async def test_one_batch_may_state_a_key_twice(profile: ProfileStore) -> None:
    written = await profile.set_facts([fact("city", "Lisbon", minutes=30),
                                       fact("city", "Paris", minutes=10)])
    assert [(f.value, f.valid_to) for f in written] == [
        ("Lisbon", None), ("Paris", T0 + timedelta(minutes=30))]


# -- deleting a memory forgets what it said ---------------------------------------------------


AT = T0 + timedelta(days=3)


async def test_a_fact_whose_only_source_is_forgotten_is_retired(profile: ProfileStore) -> None:
    await profile.set_facts([fact("allergy", "peanuts", minutes=0, source_memory_ids=["m1"])])
    await profile.set_facts([fact("allergy", "shellfish", minutes=10, source_memory_ids=["m2"]),
                             fact("diet", "vegan", minutes=10, source_memory_ids=["m2", "m3"])])
    assert await profile.forget_sources("alice", ["m2"], AT) == 1
    # The withdrawn value is not current, and the one it had ended does not come back.
    assert [(f.key, f.value, f.source_memory_ids) for f in await profile.get("alice")] == [
        ("diet", "vegan", ["m3"])]
    everything = await profile.get("alice", include_history=True)
    assert [(f.value, f.valid_to, f.retired_reason, f.source_memory_ids) for f in everything] == [
        ("vegan", None, None, ["m3"]),
        ("shellfish", AT, "source_deleted", []),
        ("peanuts", T0 + timedelta(minutes=10), None, ["m1"]),
    ]


async def test_a_withdrawn_statement_leaves_its_time_unknown(profile: ProfileStore) -> None:
    await profile.set_facts([fact("city", v, minutes=m, source_memory_ids=[s])
                             for v, m, s in [("Rome", 0, "m1"), ("Paris", 10, "m2"),
                                             ("Lisbon", 20, "m3")]])
    assert await profile.forget_sources("alice", ["m2", "m9"], AT) == 1
    everything = await profile.get("alice", include_history=True)
    assert _timeline(everything) == [("Rome", 0, 10), ("Lisbon", 20, None)]
    # A statement made in that time fills it up to the next one.
    await profile.set_facts([fact("city", "Madrid", minutes=15)])
    assert _timeline(await profile.get("alice", include_history=True)) == [
        ("Rome", 0, 10), ("Madrid", 15, 20), ("Lisbon", 20, None)]
    # After a withdrawn current value, an older statement stays in the history, a newer one
    # is current.
    assert await profile.forget_sources("alice", ["m3"], AT) == 1
    assert await profile.get("alice") == []
    await profile.set_facts([fact("city", "Faro", minutes=17)])
    assert await profile.get("alice") == []
    await profile.set_facts([fact("city", "Porto", minutes=25)])
    assert _timeline(await profile.get("alice", include_history=True)) == [
        ("Rome", 0, 10), ("Madrid", 15, 17), ("Faro", 17, 20), ("Porto", 25, None)]


async def test_withdrawing_a_repeated_value_changes_nothing_but_the_sources(
    profile: ProfileStore,
) -> None:
    await profile.set_facts([fact("city", "Lisbon", minutes=0, source_memory_ids=["m1"])])
    await profile.set_facts([fact("city", "Lisbon", minutes=20, source_memory_ids=["m2"])])
    assert await profile.forget_sources("alice", ["m2"], AT) == 0
    [current] = await profile.get("alice", include_history=True)
    assert (current.value, current.valid_from, current.source_memory_ids) == (
        "Lisbon", T0, ["m1"])


async def test_forgetting_stays_within_the_user(profile: ProfileStore) -> None:
    await profile.set_facts([fact("city", "Berlin", source_memory_ids=["m1"]),
                             fact("city", "Paris", user="bob", source_memory_ids=["m1"])])
    assert await profile.forget_sources("alice", ["m1"], AT) == 1
    assert await profile.forget_sources("alice", ["m1"], AT) == 0
    assert await profile.get("alice") == []
    assert [f.source_memory_ids for f in await profile.get("bob")] == [["m1"]]


async def test_import_keeps_retired_facts_as_they_were(profile: ProfileStore) -> None:
    retired = fact("allergy", "shellfish", valid_to=AT, retired_reason="source_deleted")
    assert await profile.import_facts([retired]) == 1
    assert await profile.get("alice", include_history=True) == [retired]
    assert await profile.get("alice") == []


# -- several processes writing one key ---------------------------------------------------------


WRITERS = 4
STATEMENTS = 24  # per writer and key
CITIES = ["Lisbon", "Paris", "Porto"]
READY_SECONDS = 60.0
RUN_SECONDS = 120.0
ROOT = Path(__file__).resolve().parents[2]

Statement = tuple[int, str, str]  # minutes after T0, value, source


def _plans(seed: int) -> list[list[list[object]]]:
    """Each writer's steps, interleaved over two keys: statements at distinct random
    instants, values from a few (so neighbours often repeat one); the writer withdraws some
    of its own earlier statements of ``home``, never of ``city``."""
    rng = random.Random(seed)
    instants = rng.sample(range(100_000), WRITERS * STATEMENTS * 2)
    plans: list[list[list[object]]] = []
    for writer in range(WRITERS):
        plan: list[list[object]] = []
        homes: list[str] = []
        for n in range(STATEMENTS * 2):
            key = ("city", "home")[n % 2]
            source = f"w{writer}{key}{n}"
            plan.append(["set", key, instants.pop(), rng.choice(CITIES), source])
            if key == "home":
                homes.append(source)
                if rng.random() < 0.4:
                    plan.append(["forget", homes.pop(rng.randrange(len(homes)))])
        plans.append(plan)
    return plans


def _readline(process: subprocess.Popen[str], timeout: float) -> str:
    line: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: line.put(stdout.readline()), daemon=True).start()
    try:
        return line.get(timeout=timeout).strip()
    except queue.Empty:
        pytest.fail(f"a writer did not answer within {timeout} s")


def _run_writers(url: str, plans: list[list[list[object]]]) -> None:
    """Start one process per plan, release them together, and wait for all to finish."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.contract.profile_writer", url, json.dumps(plan)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        for plan in plans
    ]
    try:
        for process in processes:
            if _readline(process, READY_SECONDS) != "ready":
                _, err = process.communicate(timeout=RUN_SECONDS)
                pytest.fail(f"a writer failed to start:\n{err}")
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        for process in processes:
            out, err = process.communicate(timeout=RUN_SECONDS)
            assert (process.returncode, out.strip()) == (0, "done"), err
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def _minutes(moment: datetime | None) -> int | None:
    return None if moment is None else int((moment - T0).total_seconds() // 60)


def _live(facts: list[ProfileFact], key: str) -> list[ProfileFact]:
    """The key's live facts, oldest first, checked to form a timeline: intervals never empty,
    never overlapping, only the last one open."""
    live = sorted((f for f in facts if f.key == key and f.retired_reason is None),
                  key=lambda f: f.valid_from)
    for fact_ in live:
        assert fact_.valid_to is None or fact_.valid_from < fact_.valid_to, fact_
    for earlier, later in itertools.pairwise(live):
        assert earlier.valid_to is not None
        assert earlier.valid_to <= later.valid_from
    return live


async def test_writers_in_several_processes_leave_the_timeline_of_the_statements(
    profile: ProfileStore,
) -> None:
    plans = _plans(8)
    await anyio.to_thread.run_sync(_run_writers, profile.url, plans)  # type: ignore[attr-defined]
    steps = [step for plan in plans for step in plan]
    stated = {str(key): sorted((int(str(m)), str(v), str(s)) for _, k, m, v, s in
                               (st for st in steps if st[0] == "set") if k == key)
              for key in ("city", "home")}
    withdrawn = {str(step[1]) for step in steps if step[0] == "forget"}
    everything = await profile.get("alice", include_history=True)

    # city: exactly what one writer stating everything in time order leaves (runs of one
    # value), whatever order the processes wrote in; the current value is the latest stated.
    runs: list[tuple[str, int, list[str]]] = []
    for minutes, value, source in stated["city"]:
        if runs and runs[-1][0] == value:
            runs[-1][2].append(source)
        else:
            runs.append((value, minutes, [source]))
    expected = [(value, start, runs[i + 1][1] if i + 1 < len(runs) else None, sources)
                for i, (value, start, sources) in enumerate(runs)]
    assert [(f.value, _minutes(f.valid_from), _minutes(f.valid_to), f.source_memory_ids)
            for f in _live(everything, "city")] == expected
    assert not [f for f in everything if f.key == "city" and f.retired_reason is not None]
    current = {f.key: f.value for f in await profile.get("alice")}
    assert current["city"] == stated["city"][-1][1]

    # home: nothing cites a withdrawn statement, every standing one is in effect at its
    # instant, and every withdrawn one is retired.
    assert withdrawn
    live = _live(everything, "home")
    assert not withdrawn.intersection(*(f.source_memory_ids for f in everything))
    standing = [s for s in stated["home"] if s[2] not in withdrawn]
    for minutes, value, source in standing:
        moment = T0 + timedelta(minutes=minutes)
        [covering] = [f for f in live if f.valid_from <= moment
                      and (f.valid_to is None or moment < f.valid_to)]
        assert (covering.value, source in covering.source_memory_ids) == (value, True)
    assert {_minutes(f.valid_from) for f in live} <= {s[0] for s in standing}
    # A withdrawn statement is in the history, unless it repeated the value in effect.
    shown = {(_minutes(f.valid_from), f.value) for f in everything
             if f.key == "home" and f.retired_reason == "source_deleted"}
    for minutes, value, source in stated["home"]:
        if source not in withdrawn or (minutes, value) in shown:
            continue
        moment = T0 + timedelta(minutes=minutes)
        assert [f.value for f in live if f.valid_from <= moment
                and (f.valid_to is None or moment < f.valid_to)] == [value]
    assert shown <= {(m, v) for m, v, source in stated["home"] if source in withdrawn}
    if stated["home"][-1] in standing:
        assert current["home"] == stated["home"][-1][1]

async def test_cited_names_the_memories_some_fact_lists(profile: ProfileStore) -> None:
    await profile.set_facts([fact("city", "Paris", source_memory_ids=["m1"])])
    await profile.set_facts([fact("city", "Lisbon", minutes=5, source_memory_ids=["m2", "m3"])])
    await profile.set_facts([fact("city", "Rome", user="bob", source_memory_ids=["m4"])])
    assert await profile.cited("alice", ["m1", "m3", "m4", "m9"]) == {"m1", "m3"}
    assert await profile.cited("alice", []) == set()


async def test_undo_takes_back_a_new_value_and_restores_the_old(profile: ProfileStore) -> None:
    await profile.set_facts([fact("city", "Paris", source_memory_ids=["m1"])])
    lisbon = fact("city", "Lisbon", minutes=5, source_memory_ids=["m2"])
    await profile.set_facts([lisbon])
    await profile.undo_facts([lisbon])
    everything = await profile.get("alice", include_history=True)
    assert [(f.value, f.source_memory_ids, f.valid_to) for f in everything] == [
        ("Paris", ["m1"], None)]
    await profile.undo_facts([lisbon])  # twice is safe
    assert await profile.get("alice", include_history=True) == everything


async def test_undo_of_a_value_already_there_only_drops_the_source(
    profile: ProfileStore,
) -> None:
    set_directly = fact("diet", "vegan")  # no source: set_profile
    await profile.set_facts([set_directly])
    again = fact("diet", "vegan", minutes=5, source_memory_ids=["m1"])
    await profile.set_facts([again])
    first = fact("city", "Berlin", source_memory_ids=["m1"])
    await profile.set_facts([first])
    await profile.set_facts([fact("city", "Berlin", minutes=5, source_memory_ids=["m2"])])
    await profile.undo_facts([again, first])
    got = {f.key: f for f in await profile.get("alice", include_history=True)}
    assert (got["diet"].id, got["diet"].source_memory_ids) == (set_directly.id, [])
    # One row per statement: the Berlin that m2 stated is all that is left of the key.
    assert (got["city"].value, got["city"].source_memory_ids) == ("Berlin", ["m2"])
    assert got["city"].valid_from == T0 + timedelta(minutes=5)
    assert len(got) == 2


async def test_undo_of_a_fact_never_written_changes_nothing(profile: ProfileStore) -> None:
    await profile.set_facts([fact("city", "Paris", source_memory_ids=["m1"])])
    before = await profile.get("alice", include_history=True)
    await profile.undo_facts([fact("city", "Lisbon", source_memory_ids=["m2"]),
                              fact("pet", "cat", source_memory_ids=["m2"])])
    assert await profile.get("alice", include_history=True) == before

async def test_current_keys_are_the_keys_of_current_facts(profile: ProfileStore) -> None:
    assert await profile.current_keys("alice") == []
    await profile.set_facts([fact("diet", "vegan"), fact("city", "Rome")])
    await profile.set_facts([fact("city", "Berlin", minutes=5), fact("city", "Oslo", user="bob")])
    assert await profile.current_keys("alice") == ["city", "diet"]
    assert await profile.current_keys("bob") == ["city"]
    await profile.delete_all("alice")
    assert await profile.current_keys("alice") == []
