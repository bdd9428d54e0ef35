"""What an interrupted add left in the stores is repaired when they are opened.

Contract: an add that cannot use one transaction leaves a pending record in the episodic
store until its facts and working copy are written. When ``async with Memvault(...)`` has
entered, every record has been acted on: the add is finished where its memory is stored (its
facts written, once, and its working copy made) and undone where the memory is gone (facts
citing it removed, a value they superseded current again). The periodic pass does the same for
records older than a few minutes only, leaving adds still under way alone.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from memvault import Config, Memvault
from memvault.core.ids import derived_id, new_id
from memvault.core.timeutil import utc_now
from memvault.models import ProfileFact
from memvault.stores.base import NewMemory
from memvault.stores.outbox import OutboxWriter
from memvault.stores.registry import open_episodic, open_profile, open_working

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


def _memvault(database: Path) -> Memvault:
    url = f"sqlite:///{database}"
    config = Config.from_flat({"database": str(database), "user_id": "alice",
                               "embedder": "none"})
    return Memvault(config, episodic=open_episodic(url), profile=open_profile(url),
                    working=open_working(url), embedder=None)


def _pending(content: str, key: str, value: str) -> NewMemory:
    now = utc_now()
    memory_id = new_id()
    fact = ProfileFact(id=derived_id(memory_id, key), user_id="alice", key=key, value=value,
                       source_memory_ids=[memory_id], valid_from=now)
    return NewMemory(id=memory_id, user_id="alice", session_id="s", content=content,
                     occurred_at=now, created_at=now, facts=[fact], pending=True)


async def test_an_add_interrupted_after_its_memory_is_finished_at_open(tmp_path: Path) -> None:
    database = tmp_path / "m.db"
    url = f"sqlite:///{database}"
    async with _memvault(database):
        pass  # creates the schema
    episodic = open_episodic(url)
    await episodic.open()
    half = _pending("I moved to Lisbon", "city", "Lisbon")
    await episodic.add([half])
    await episodic.close()

    async with _memvault(database) as mv:
        profile = await mv.get_profile(include_history=True)
        assert [(f.key, f.value, f.source_memory_ids) for f in profile.facts] == [
            ("city", "Lisbon", [half.id])]
        assert profile.history == []
        working = await mv.list(session_id="s", memory_type="working")
        assert [m.id for m in working.items] == [half.id]
        assert await mv.episodic.pending(limit=5) == []
    async with _memvault(database) as mv:  # healing twice changes nothing
        working = await mv.list(session_id="s", memory_type="working")
        assert [m.id for m in working.items] == [half.id]
        assert len((await mv.get_profile(include_history=True)).facts) == 1


async def test_facts_of_an_add_whose_memory_is_gone_are_undone_at_open(tmp_path: Path) -> None:
    database = tmp_path / "m.db"
    url = f"sqlite:///{database}"
    async with _memvault(database) as mv:
        paris = await mv.add("I live in Paris", profile={"city": "Paris"})
    episodic, profile = open_episodic(url), open_profile(url)
    await episodic.open()
    await profile.open()
    gone = _pending("I moved to Lisbon", "city", "Lisbon")
    await episodic.add([gone])
    await profile.set_facts(gone.facts)
    assert await episodic.delete("alice", gone.id)
    await episodic.close()
    await profile.close()

    async with _memvault(database) as mv:
        facts = await mv.get_profile(include_history=True)
        assert [(f.value, f.source_memory_ids) for f in facts.facts] == [("Paris", [paris.id])]
        assert facts.history == []
        assert await mv.episodic.pending(limit=5) == []


async def test_the_periodic_pass_leaves_young_adds_alone(tmp_path: Path) -> None:
    database = tmp_path / "m.db"
    async with _memvault(database) as mv:
        young = _pending("still being added", "pet", "cat")
        await mv.episodic.add([young])
        writer = OutboxWriter(mv.episodic, mv.profile, mv.working, max_turns=5,
                              ttl_seconds=60)
        assert await writer.heal(before=utc_now() - timedelta(minutes=5)) == 0
        assert (await mv.get_profile()).facts == []
        assert await writer.heal(before=utc_now() + timedelta(seconds=1)) == 1
        assert [f.key for f in (await mv.get_profile()).facts] == ["pet"]
