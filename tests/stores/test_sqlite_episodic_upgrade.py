"""An episodic SQLite file of schema version 1 (before idempotency keys and pending records)
is migrated in place when opened: its memories stay readable and the new columns work."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from memvault.stores.sqlite.db import SqliteDatabase
from memvault.stores.sqlite.episodic import SqliteEpisodicStore
from memvault.stores.sqlite.schema import EPISODIC
from tests.contract.builders import memory, new_memory

pytestmark = pytest.mark.anyio


async def test_a_version_1_file_is_migrated_and_keeps_its_memories(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = SqliteDatabase(path, "episodic")
    await old.open("episodic", EPISODIC[:1])
    await old.close()
    kept = memory("written by the old schema")
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "INSERT INTO memories (id, user_id, session_id, content, occurred_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (kept.id, kept.user_id, kept.session_id, kept.content, 1715176560000000,
             1715176560000000),
        )
    conn.close()

    store = SqliteEpisodicStore(f"sqlite:///{path}")
    await store.open()
    try:
        [got] = await store.get("alice", [kept.id])
        assert got.content == kept.content
        fresh = new_memory("new", idempotency_key="k1", request_hash="h", pending=True)
        assert await store.add([fresh]) == [fresh.id]
        assert list(await store.keyed("alice", ["k1"])) == ["k1"]
        assert [r.memory_id for r in await store.pending(limit=5)] == [fresh.id]
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    versions = [r[0] for r in conn.execute(
        "SELECT version FROM schema_migrations WHERE component = 'episodic' ORDER BY version")]
    conn.close()
    assert versions == [m.version for m in EPISODIC]
