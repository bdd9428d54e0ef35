"""An add is whole or nothing across the server stores (FalkorDB + PostgreSQL + Redis).

Contract: the memory (graph) and the profile facts its add states (PostgreSQL) cannot commit
in one transaction, so they are written in an order that can be repaired, and the repair runs
when the stores are opened: once ``async with Memvault(...)`` has entered, a crash at any
point of an earlier add has left that add whole (the memory and every fact it stated, each
fact citing it) or absent (neither), and no fact cites a memory that is not stored.

The crash is real: a child process adds through stores whose methods are wrapped to kill the
process with SIGKILL at one point (no ``finally``, no compensation runs), and the test opens
the stores again in its own process and looks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from memvault import Config, Memvault
from memvault.stores.registry import open_episodic, open_profile, open_working
from tests.core.consistency import falkordb_url, postgres_url, redis_url, spawn

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

START_TIMEOUT = 60.0
WHOLE_ADDS = 3

# argv: episodic, profile and working URLs, the point to die at, and how many memories the
# fatal add has (1: add, more: add_many). Three whole adds come first.
CHILD = r'''
import json
import os
import signal
import sys

import anyio

from memvault import Config, Memvault
from memvault.stores.registry import open_episodic, open_profile, open_working

episodic_url, profile_url, working_url, point, size = sys.argv[1:6]
size = int(size)
armed = False


def emit(**fields):
    print(json.dumps(fields), flush=True)


def die(where):
    if armed and where == point:
        emit(event="dying", point=point)
        os.kill(os.getpid(), signal.SIGKILL)


class Wrapped:
    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)


class Episodic(Wrapped):
    async def add(self, memories):
        die("before_episodic_add")
        inserted = await self.inner.add(memories)
        die("after_episodic_add")
        return inserted


class Profile(Wrapped):
    async def set_facts(self, facts):
        die("before_set_facts")
        current = await self.inner.set_facts(facts)
        die("after_set_facts")
        return current


async def main():
    global armed
    config = Config.from_flat({"episodic_url": episodic_url, "profile_url": profile_url,
                               "working_url": working_url, "user_id": "alice",
                               "embedder": "none"})
    async with Memvault(config, episodic=Episodic(open_episodic(episodic_url)),
                        profile=Profile(open_profile(profile_url)),
                        working=open_working(working_url), embedder=None) as mv:
        for n in range(3):
            memory = await mv.add(f"note {n}", session_id="s", profile={f"k{n}": n})
            emit(event="added", ids=[memory.id])
        armed = True
        items = [{"content": f"note {n}", "session_id": "s", "profile": {f"k{n}": n}}
                 for n in range(3, 3 + size)]
        if size == 1:
            memories = [await mv.add(**items[0])]
        else:
            memories = await mv.add_many(items)
        emit(event="survived", ids=[m.id for m in memories])


anyio.run(main)
'''

# Each point is a window for some order of writes (memory first, or facts first); a batch
# is tried at the point where today's order leaves it half-written.
CASES = [
    pytest.param("before_episodic_add", 1, id="before_episodic_add"),
    pytest.param("after_episodic_add", 1, id="after_episodic_add"),
    pytest.param("after_episodic_add", 50, id="after_episodic_add-add_many-50"),
    pytest.param("before_set_facts", 1, id="before_set_facts"),
    pytest.param("after_set_facts", 1, id="after_set_facts"),
]


@pytest.mark.parametrize(("point", "size"), CASES)
async def test_a_crash_inside_an_add_is_healed_at_the_next_open(
    tmp_path: Path, point: str, size: int
) -> None:
    async with falkordb_url(tmp_path) as episodic, postgres_url(tmp_path) as profile, \
            redis_url(tmp_path) as working:
        with spawn(tmp_path, "child", CHILD,
                   [episodic, profile, working, point, str(size)]) as child:
            child.wait_for('"event": "dying"', START_TIMEOUT)
            code = child.wait()
        assert code == -9, f"the child was to die at {point}:\n{child.stderr}"
        assert not child.events("survived")
        acknowledged = {i for event in child.events("added") for i in event["ids"]}
        assert len(acknowledged) == WHOLE_ADDS

        config = Config.from_flat({"episodic_url": episodic, "profile_url": profile,
                                   "working_url": working, "user_id": "alice",
                                   "embedder": "none"})
        async with Memvault(config, episodic=open_episodic(episodic),
                            profile=open_profile(profile), working=open_working(working),
                            embedder=None) as mv:
            memories = {m.id: m for m in (await mv.list(limit=100)).items}
            facts = (await mv.get_profile(include_history=True)).facts

    assert acknowledged <= set(memories), "an acknowledged add was lost"
    assert len(memories) in (WHOLE_ADDS, WHOLE_ADDS + size), (
        f"the add killed at {point} is partly stored: {len(memories) - WHOLE_ADDS} of "
        f"its {size} memories"
    )
    for fact in facts:
        orphans = [s for s in fact.source_memory_ids if s not in memories]
        assert not orphans, (
            f"after a crash at {point}, fact {fact.key} cites memories that are not stored")
    cited = {(fact.key, source) for fact in facts for source in fact.source_memory_ids}
    for memory in memories.values():
        n = int(memory.content.split()[1])
        assert (f"k{n}", memory.id) in cited, (
            f"after a crash at {point}, memory {memory.content!r} is stored without the "
            f"profile fact its add stated")
