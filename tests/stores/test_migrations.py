"""The migration rule shared by the SQLite and PostgreSQL stores (the PostgreSQL side is
exercised against a real server in ``test_postgres_faults.py``)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from memvault import Memvault
from memvault.errors import ConfigError
from memvault.stores.migrations import Migration, pending
from memvault.stores.registry import open_profile
from memvault.stores.sqlite import schema
from memvault.stores.sqlite.schema import PROFILE as SQLITE_PROFILE

pytestmark = pytest.mark.anyio

STEPS = [Migration(2, "second", "-- 2"), Migration(1, "first", "-- 1"), Migration(3, "third", "")]


def test_pending_steps_come_in_version_order_without_the_applied_ones() -> None:
    assert [m.version for m in pending("c", STEPS, [], location="x")] == [1, 2, 3]
    assert [m.version for m in pending("c", STEPS, [1, 3], location="x")] == [2]
    assert pending("c", STEPS, [1, 2, 3], location="x") == []


def test_a_version_newer_than_the_code_is_refused_naming_both() -> None:
    with pytest.raises(ConfigError, match=r"c schema version 7 in here is newer than this "
                                          r"memvault knows \(3\); upgrade memvault"):
        pending("c", STEPS, [1, 2, 3, 7], location="here")


async def test_a_sqlite_file_from_a_newer_memvault_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = open_profile(f"sqlite:///{path}")
    await store.open()
    await store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_migrations (component, version, name, applied_at)"
                     " VALUES ('profile', 99, 'from the future', '')")
    known = max(m.version for m in SQLITE_PROFILE)
    with pytest.raises(ConfigError, match=rf"profile schema version 99 in {re.escape(str(path))} .*"
                                          rf"\({known}\); upgrade memvault"):
        await store.open()
    await store.close()


def _oldest_schema(path: Path) -> None:
    """A file as the first memvault release left it: each component at its first step only,
    written with that step's own SQL, holding one memory, one fact and one working turn."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_migrations (component TEXT NOT NULL, version INTEGER"
                     " NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL,"
                     " PRIMARY KEY (component, version))")
        for component, steps in (("episodic", schema.EPISODIC), ("profile", schema.PROFILE),
                                 ("working", schema.WORKING)):
            first = min(steps, key=lambda m: m.version)
            for statement in re.split(r"^;;$", first.sql, flags=re.MULTILINE):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?, '')",
                         (component, first.version, first.name))
        conn.execute("INSERT INTO memories (id, user_id, session_id, content, occurred_at,"
                     " created_at, metadata, entities) VALUES ('m1', 'alice', 's1',"
                     " 'I moved to Lisbon', 1700000000000000, 1700000000000000, '{\"k\": 1}',"
                     " '[\"lisbon\"]')")
        conn.execute("INSERT INTO profile_facts (id, user_id, key, value, category,"
                     " source_memory_ids, valid_from) VALUES ('f1', 'alice', 'city',"
                     " '\"Lisbon\"', 'fact', '[\"m1\"]', 1700000000000000)")


async def test_a_sqlite_file_from_an_older_memvault_is_upgraded_keeping_its_data(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    _oldest_schema(path)
    async with Memvault.open(path, embedder="none", user_id="alice") as mv:
        [kept] = (await mv.list()).items
        assert (kept.id, kept.content, kept.metadata, kept.entities) == (
            "m1", "I moved to Lisbon", {"k": 1}, ["lisbon"])
        assert [h.memory.id for h in (await mv.search("Lisbon")).hits] == ["m1"]
        assert [(f.key, f.value) for f in (await mv.get_profile()).facts] == [("city", "Lisbon")]
        added = await mv.add("Now in Porto", session_id="s1")
        assert {m.id for m in (await mv.list()).items} == {"m1", added.id}
    with sqlite3.connect(path) as conn:
        recorded = set(conn.execute("SELECT component, version FROM schema_migrations"))
    assert recorded == {(component, m.version)
                        for component, steps in (("episodic", schema.EPISODIC),
                                                 ("profile", schema.PROFILE),
                                                 ("working", schema.WORKING))
                        for m in steps}
