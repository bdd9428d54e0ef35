"""A profile store made by an older memvault (schema version 1, before facts could be
retired) is migrated on open, keeps its facts, and the next write of a key repairs a timeline
written by the rules of that time (an older statement made current, a newer one left as an
empty interval)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from memvault.models import ProfileFact
from memvault.stores.base import ProfileStore
from memvault.stores.codec import to_micros
from memvault.stores.postgres.pool import Connection, PostgresDatabase
from memvault.stores.postgres.schema import PROFILE as POSTGRES_PROFILE
from memvault.stores.registry import open_profile
from memvault.stores.sqlite.db import SqliteDatabase
from memvault.stores.sqlite.schema import PROFILE as SQLITE_PROFILE
from tests.contract.backends.postgres import _drop_schema, schema_for, server_url, with_schema
from tests.contract.builders import T0

pytestmark = pytest.mark.anyio

LISBON = T0.replace(year=2024)
PARIS = T0.replace(year=2020)
# What version 1 left after "Lisbon" (2024) then an older "Paris" (2020): Paris current.
LEGACY = [("f1", "Lisbon", "m1", LISBON, LISBON), ("f2", "Paris", "m2", PARIS, None)]


async def _sqlite_v1(tmp_path: Path) -> str:
    path = tmp_path / "old.db"
    db = SqliteDatabase(path, "profile")
    await db.open("profile", SQLITE_PROFILE[:1])

    def insert(conn: sqlite3.Connection) -> None:
        for fid, value, source, start, end in LEGACY:
            conn.execute(
                "INSERT INTO profile_facts (id, user_id, key, value, category,"
                " source_memory_ids, agent_id, valid_from, valid_to)"
                " VALUES (?, 'alice', 'city', ?, 'general', ?, NULL, ?, ?)",
                (fid, f'"{value}"', f'["{source}"]', to_micros(start),
                 None if end is None else to_micros(end)),
            )

    await db.write(insert)
    await db.close()
    return f"sqlite:///{path}"


async def _postgres_v1(tmp_path: Path) -> str:
    schema = schema_for(tmp_path)
    await _drop_schema(server_url(), schema)
    url = with_schema(server_url(), schema)
    db = PostgresDatabase(url, "profile")
    await db.open("profile", POSTGRES_PROFILE[:1])

    async def insert(conn: Connection) -> None:
        for fid, value, source, start, end in LEGACY:
            await conn.execute(
                "INSERT INTO profile_facts (id, user_id, key, value, category,"
                " source_memory_ids, agent_id, valid_from, valid_to)"
                " VALUES ($1, 'alice', 'city', $2::jsonb, 'general', $3::text[], NULL, $4, $5)",
                fid, f'"{value}"', [source], start, end,
            )

    await db.write(insert)
    await db.close()
    return url


@pytest.fixture(params=["sqlite", "postgres"])
async def old_store(request: pytest.FixtureRequest, tmp_path: Path
                    ) -> AsyncIterator[ProfileStore]:
    url = await (_sqlite_v1 if request.param == "sqlite" else _postgres_v1)(tmp_path)
    store = open_profile(url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()
        if request.param == "postgres":
            await _drop_schema(server_url(), schema_for(tmp_path))


def _timeline(facts: list[ProfileFact]) -> list[tuple[object, datetime, datetime | None]]:
    return sorted(((f.value, f.valid_from, f.valid_to) for f in facts
                   if f.retired_reason is None), key=lambda t: t[1])


async def test_an_old_store_is_migrated_and_its_timelines_repaired_on_write(
    old_store: ProfileStore,
) -> None:
    everything = await old_store.get("alice", include_history=True)
    assert [(f.id, f.retired_reason) for f in everything] == [("f2", None), ("f1", None)]
    assert await old_store.forget_sources("alice", ["nothing"], LISBON) == 0
    oslo = T0.replace(year=2010)
    await old_store.set_facts([everything[0].model_copy(
        update={"id": "f3", "value": "Oslo", "valid_from": oslo, "source_memory_ids": ["m3"]})])
    assert _timeline(await old_store.get("alice", include_history=True)) == [
        ("Oslo", oslo, PARIS), ("Paris", PARIS, LISBON), ("Lisbon", LISBON, None)]
