"""Older episodic SQLite files are migrated in place when opened: one of schema version 1
(before idempotency keys and pending records) keeps its memories and the new columns work; one
of version 3 (one full-text row per memory) is re-indexed by passages with per-user
statistics."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from memvault.models import MemoryFilter
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


async def test_a_version_3_file_is_reindexed_by_passages(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    old = SqliteDatabase(path, "episodic")
    await old.open("episodic", EPISODIC[:3])
    await old.close()
    filler = " ".join(f"Sentence {i} is about the garden and the weather." for i in range(60))
    long = memory(filler + " Then we adopted a greyhound.")
    rows = [long, memory("A greyhound race", minutes=1), memory("greyhound", user="bob")]
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO memories (id, user_id, session_id, content, occurred_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(m.id, m.user_id, m.session_id, m.content, 1715176560000000, 1715176560000000)
             for m in rows],
        )
    conn.close()

    store = SqliteEpisodicStore(f"sqlite:///{path}")
    await store.open()
    try:
        found = await store.lexical_search(MemoryFilter(user_id="alice"), ["greyhound"],
                                           limit=5)
        assert {c.memory_id for c in found} == {rows[0].id, rows[1].id}
        [hit] = [c for c in found if c.memory_id == long.id]
        assert hit.span is not None
        assert hit.span.start > 0
        assert "greyhound" in long.content[hit.span.start:hit.span.end]
        assert await store.delete("alice", long.id)
        found = await store.lexical_search(MemoryFilter(user_id="alice"), ["greyhound"],
                                           limit=5)
        assert [c.memory_id for c in found] == [rows[1].id]
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    users = dict(conn.execute("SELECT user_id, passages FROM lexical_users"))
    conn.close()
    assert "memories_fts" not in tables
    assert users == {"alice": 1, "bob": 1}


async def test_a_version_4_file_is_reindexed_by_the_script_aware_analysis(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v4.db"
    old = SqliteDatabase(path, "episodic")
    await old.open("episodic", EPISODIC[:4])
    await old.close()
    rows = [memory("用户咨询2025年低风险理财方案"),
            memory("分析员Alice经常处理Cobalt Strike入侵事件，关注服务器10.120.8.21", minutes=1),
            memory("We went running by the lake", minutes=2)]
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO memories (id, user_id, session_id, content, occurred_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(m.id, m.user_id, m.session_id, m.content, 1715176560000000, 1715176560000000)
             for m in rows],
        )
    conn.close()

    store = SqliteEpisodicStore(f"sqlite:///{path}")
    await store.open()
    alice = MemoryFilter(user_id="alice")
    try:
        for words, wanted in ((["理财"], rows[0]), (["alice"], rows[1]),
                              (["10.120.8.21"], rows[1]), (["run"], rows[2])):
            found = await store.lexical_search(alice, words, limit=5)
            assert [c.memory_id for c in found][:1] == [wanted.id], words
        assert await store.delete("alice", rows[0].id)
        assert rows[0].id not in {c.memory_id for c in await store.lexical_search(
            alice, ["理财"], limit=5)}
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    users = dict(conn.execute("SELECT user_id, passages FROM lexical_users"))
    left = conn.execute("SELECT count(*) FROM passages_fts WHERE passages_fts MATCH '理财'")
    assert left.fetchone()[0] == 0
    conn.close()
    assert users == {"alice": 2}
