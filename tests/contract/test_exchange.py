"""Export and import (memvault.core.exchange) round-trip on the embedded store and on the
server stores (FalkorDB episodic with PostgreSQL profile)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memvault.config import Config
from memvault.core.exchange import FORMAT, VERSION, Limits, export_lines, import_lines
from memvault.stores.base import EpisodicStore, ProfileStore
from tests.contract.builders import fact, memory
from tests.contract.conftest import EPISODIC, PROFILE

pytestmark = pytest.mark.anyio

PAIRS = [("sqlite", "sqlite"), ("falkordb", "postgres")]


_DEFAULTS = Config.from_flat({"database": "unused.db", "user_id": "alice"})
_LIMITS = Limits(max_content_bytes=_DEFAULTS.max_content_bytes,
                 max_value_bytes=_DEFAULTS.max_profile_value_bytes)


async def _export(episodic: EpisodicStore, profile: ProfileStore) -> list[dict[str, object]]:
    lines = [json.loads(line) async for line in export_lines(episodic, profile, None)]
    assert lines[0]["type"] == "header"
    return lines[1:]


@pytest.mark.parametrize(("episodic_name", "profile_name"), PAIRS,
                         ids=[f"{e}+{p}" for e, p in PAIRS])
async def test_an_export_imports_into_empty_stores_unchanged(
    tmp_path: Path, episodic_name: str, profile_name: str
) -> None:
    memories = [
        memory("I moved to Lisbon", session="s1", metadata={"k": [1, {"a": "b"}]},
               entities=["lisbon"], agent_id="claude", source="cli"),
        memory("Then to Porto", session="s1", minutes=5),
        memory("bob's own", user="bob", session=None, minutes=1),
    ]
    old = fact("city", "Lisbon", source_memory_ids=[memories[0].id])
    old = old.model_copy(update={"valid_to": old.valid_from.replace(minute=59)})
    facts = [old, fact("city", "Porto", minutes=3, source_memory_ids=[memories[1].id]),
             fact("tea", ["green", "sencha"], user="bob", category="preference")]
    (tmp_path / "from").mkdir()
    (tmp_path / "to").mkdir()
    async with (
        EPISODIC[episodic_name](tmp_path / "from") as episodic,
        PROFILE[profile_name](tmp_path / "from") as profile,
    ):
        assert await episodic.add(memories) == [m.id for m in memories]
        assert await profile.import_facts(facts) == len(facts)
        exported = await _export(episodic, profile)
    assert sorted(m["id"] for m in exported if m["type"] == "memory") == sorted(
        m.id for m in memories)
    assert sorted(f["id"] for f in exported if f["type"] == "profile_fact") == sorted(
        f.id for f in facts)

    async with (
        EPISODIC[episodic_name](tmp_path / "to") as episodic,
        PROFILE[profile_name](tmp_path / "to") as profile,
    ):
        lines = [json.dumps({"type": "header", "format": FORMAT, "version": VERSION}),
                 *map(json.dumps, exported)]
        report = await import_lines(episodic, profile, lines, limits=_LIMITS)
        assert (report.memories, report.profile_facts, report.skipped) == (3, 3, 0)
        again_exported = await _export(episodic, profile)
        assert [line for line in again_exported if line["type"] not in ("audit", "end")] \
            == [line for line in exported if line["type"] != "end"]
        assert again_exported[-1] == {"type": "end", "memories": 3, "profile_facts": 3,
                                      "audit": 2}
        # the import records itself in the importing store's audit trail, once per user
        assert sorted((line["user_id"], line["action"], line["detail"]) for line in
                      again_exported if line["type"] == "audit") == [
            ("alice", "import", {"memories": 2}), ("bob", "import", {"memories": 1})]
        for user, own in (("alice", memories[:2]), ("bob", memories[2:])):
            assert sorted(await episodic.get(user, [m.id for m in own]),
                          key=lambda m: m.id) == sorted(own, key=lambda m: m.id)
        assert [f.value for f in await profile.get("alice")] == ["Porto"]
        # Importing the same file again adds nothing.
        again = await import_lines(episodic, profile, lines, limits=_LIMITS)
        assert (again.memories, again.profile_facts, again.skipped) == (0, 0, 6)
