"""An add is whole or nothing, on the embedded store.

Contract: on the embedded SQLite store the memory, the profile facts its add states and its
working-memory entry commit in one SQLite transaction. Whatever stops an add (kill -9, a
cancelled task, a failing store), the file afterwards holds every part of it or none: every
committed memory has its facts and its working turn, and no fact or turn cites a memory that
is not there. That holds for each item of an ``add_many`` batch as for a single add.

When the stores are not one SQLite file (here: a profile store wrapped by the test, which the
core must treat as any other ``ProfileStore`` and write through ``set_facts``), the core still
leaves nothing half-written: a cancelled or refused add stores nothing that the caller can
see, and a fact written before a failure reached the caller is reconciled when the stores are
opened again (the fact and its memory both, or neither).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from memvault import Config, Memvault, ProfileFact, StoreUnavailable
from memvault.stores.registry import open_episodic, open_profile, open_working
from tests.core.consistency import Committed, committed, spawn

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

KILL_RUNS = 5
KILL_BUDGET_SECONDS = 60.0
START_TIMEOUT = 60.0
ACK_TIMEOUT = 30.0
BATCH = 50
JITTER_SECONDS = 0.05

# Adds in a loop until killed: single adds and 50-item batches in turn. The n-th memory says
# "note n", has metadata {"n": n}, a session, and states the profile fact {"k<n>": n}. Every
# acknowledged add is reported at once as a JSON line.
ADDER = r'''
import json
import sys

from memvault import SyncMemvault


def emit(**fields):
    print(json.dumps(fields), flush=True)


database, start = sys.argv[1], int(sys.argv[2])
# every add states a key of its own: lift the per-user key limit, which several runs pass
with SyncMemvault.open(database, user_id="alice", embedder="none",
                       working_max_turns=10_000, max_profile_keys=1_000_000) as mv:
    emit(event="ready")
    n, acks = start, 0
    while True:
        if (n // 7) % 2:
            items = [{"content": f"note {i}", "session_id": f"s{i % 3}", "metadata": {"n": i},
                      "profile": {f"k{i}": i}} for i in range(n, n + 50)]
            ids = [m.id for m in mv.add_many(items)]
            n += 50
        else:
            ids = [mv.add(f"note {n}", session_id=f"s{n % 3}", metadata={"n": n},
                          profile={f"k{n}": n}).id]
            n += 1
        acks += 1
        emit(event="added", ids=ids, acks=acks)
'''


def _check_whole(state: Committed, acknowledged: set[str]) -> None:
    """Every committed memory has its fact and its working turn; nothing cites a memory that
    is not there; every acknowledged memory is there."""
    missing = acknowledged - set(state.memories)
    assert not missing, f"{len(missing)} acknowledged memories lost"
    cited: dict[str, set[str]] = {}
    for key, value, sources, current in state.facts:
        assert current, f"fact {key} was superseded, but every key is stated once"
        orphans = [s for s in sources if s not in state.memories]
        assert not orphans, f"fact {key}={value!r} cites memories that are not stored: {orphans}"
        for source in sources:
            cited.setdefault(source, set()).add(key)
    half_written = sorted(
        (meta["n"], memory_id) for memory_id, meta in state.memories.items()
        if f"k{meta['n']}" not in cited.get(memory_id, set())
    )
    assert not half_written, (
        f"{len(half_written)} memories committed without the profile fact their add stated "
        f"(n, id): {half_written[:10]}"
    )
    turns = set(state.working)
    no_turn = sorted(set(state.memories) - turns)
    assert not no_turn, f"{len(no_turn)} memories committed without their working turn"
    stray = sorted(turns - set(state.memories))
    assert not stray, f"working turns of memories that are not stored: {stray[:10]}"


async def test_kill_9_during_adds_leaves_every_add_whole_or_absent(tmp_path: Path) -> None:
    """A child adds (single adds and 50-item batches) until it is killed at a random point;
    the file is then read raw. A few runs on one file, bounded in time."""
    database = tmp_path / "m.db"
    rng = random.Random()
    acknowledged: set[str] = set()
    start = 0
    deadline = time.monotonic() + KILL_BUDGET_SECONDS
    runs = 0
    while runs < KILL_RUNS and (runs == 0 or time.monotonic() < deadline):
        runs += 1
        wanted = rng.randint(3, 30)
        with spawn(tmp_path, f"adder-{runs}", ADDER, [str(database), str(start)]) as child:
            await anyio.to_thread.run_sync(child.wait_for, '"event": "ready"', START_TIMEOUT)
            await anyio.to_thread.run_sync(child.wait_for, f'"acks": {wanted}}}', ACK_TIMEOUT)
            # Jitter, not a wait: it moves the kill off the instant after an acknowledgement
            # (always the start of the next add) to any point of the adds that follow.
            await anyio.sleep(rng.uniform(0, JITTER_SECONDS))
            child.kill()
            added = child.events("added")
        assert added, f"run {runs}: the child acknowledged nothing:\n{child.stderr}"
        for event in added:
            acknowledged.update(event["ids"])
        # The next run numbers its memories after every add this one may have committed.
        start = max(meta["n"] for meta in committed(database).memories.values()) + 1
        _check_whole(committed(database), acknowledged)


# -- cancellation and failing stores -------------------------------------------------------------

class _Wrapped:
    """A profile store wrapping a real one; every attribute but ``set_facts`` is the real
    store's, so the core sees an ordinary ``ProfileStore`` that is not an SQLite store."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class BlockingProfile(_Wrapped):
    """``set_facts`` signals :attr:`entered` and then blocks until cancelled."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.entered = anyio.Event()

    async def set_facts(self, facts: Sequence[ProfileFact]) -> list[ProfileFact]:
        self.entered.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


class FailingProfile(_Wrapped):
    """``set_facts`` raises :class:`StoreUnavailable`, before writing or (``after_write``)
    once the real write has committed, as when a reply is lost."""

    def __init__(self, inner: Any, *, after_write: bool) -> None:
        super().__init__(inner)
        self.after_write = after_write
        self.calls = 0

    async def set_facts(self, facts: Sequence[ProfileFact]) -> list[ProfileFact]:
        self.calls += 1
        if self.after_write:
            await self.inner.set_facts(facts)
        raise StoreUnavailable("profile", "connection lost (injected by the test)")


def _config(database: Path) -> Config:
    return Config.from_flat({"database": str(database), "user_id": "alice",
                             "embedder": "none", "working_max_turns": 10_000})


def _memvault(database: Path, profile: Any = None) -> Memvault:
    url = f"sqlite:///{database}"
    return Memvault(
        _config(database), episodic=open_episodic(url),
        profile=profile if profile is not None else open_profile(url),
        working=open_working(url), embedder=None,
    )


def _items(count: int) -> list[dict[str, Any]]:
    return [{"content": f"note {n} I'm allergic to shellfish", "session_id": "s",
             "metadata": {"n": n}, "profile": {f"k{n}": n}} for n in range(count)]


async def _add(mv: Memvault, count: int) -> None:
    if count == 1:
        await mv.add("note 0 I'm allergic to shellfish", session_id="s", metadata={"n": 0},
                     profile={"k0": 0})
    else:
        await mv.add_many(_items(count))


async def _visible(mv: Memvault) -> tuple[list[str], list[str], list[str]]:
    """Memory ids, fact keys (history too) and working-memory ids the SDK shows."""
    memories = [m.id for m in (await mv.list(limit=100)).items]
    profile = await mv.get_profile(include_history=True)
    working = [m.id for m in (await mv.list(session_id="s", memory_type="working",
                                            limit=100)).items]
    return memories, [f.key for f in [*profile.facts, *profile.history]], working


@pytest.mark.parametrize("count", [1, BATCH], ids=["add", "add_many-50"])
async def test_an_add_cancelled_in_its_profile_write_leaves_nothing(
    tmp_path: Path, count: int
) -> None:
    database = tmp_path / "m.db"
    blocking = BlockingProfile(open_profile(f"sqlite:///{database}"))
    async with _memvault(database, blocking) as mv:
        scope = anyio.CancelScope()
        finished = anyio.Event()

        async def adder() -> None:
            try:
                with scope:
                    await _add(mv, count)
            finally:
                finished.set()

        async with anyio.create_task_group() as group:
            group.start_soon(adder)
            with anyio.fail_after(10):
                await blocking.entered.wait()
            scope.cancel()
            with anyio.fail_after(10):
                await finished.wait()
        assert scope.cancelled_caught
        assert await _visible(mv) == ([], [], []), "the cancelled add left part of itself"
    state = committed(database)
    assert state.memories == {}
    assert state.facts == []
    assert state.working == []
    async with _memvault(database) as mv:
        assert await _visible(mv) == ([], [], [])


@pytest.mark.parametrize("count", [1, BATCH], ids=["add", "add_many-50"])
async def test_a_profile_store_failing_before_its_write_leaves_no_memory(
    tmp_path: Path, count: int
) -> None:
    database = tmp_path / "m.db"
    failing = FailingProfile(open_profile(f"sqlite:///{database}"), after_write=False)
    async with _memvault(database, failing) as mv:
        with pytest.raises(StoreUnavailable):
            await _add(mv, count)
        assert failing.calls == 1
        assert await _visible(mv) == ([], [], [])
    state = committed(database)
    assert (state.memories, state.facts, state.working) == ({}, [], [])


@pytest.mark.parametrize("count", [1, BATCH], ids=["add", "add_many-50"])
async def test_a_fact_written_before_a_failure_is_reconciled_at_the_next_open(
    tmp_path: Path, count: int
) -> None:
    """The profile store committed the facts, then the reply was lost: the caller sees the
    error; once the stores are opened again, the facts and their memories are both there or
    neither is."""
    database = tmp_path / "m.db"
    failing = FailingProfile(open_profile(f"sqlite:///{database}"), after_write=True)
    async with _memvault(database, failing) as mv:
        with pytest.raises(StoreUnavailable):
            await _add(mv, count)
        assert failing.calls == 1
    async with _memvault(database) as mv:
        memories, keys, _ = await _visible(mv)
        profile = await mv.get_profile(include_history=True)
    stored = set(memories)
    for fact in [*profile.facts, *profile.history]:
        orphans = [s for s in fact.source_memory_ids if s not in stored]
        assert not orphans, f"fact {fact.key} cites memories that are not stored: {orphans}"
    assert len(memories) in (0, count)
    assert sorted(keys) == sorted(f"k{n}" for n in range(len(memories)))
