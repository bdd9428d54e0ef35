"""Server store URLs for end-to-end tests: a fresh FalkorDB graph, PostgreSQL schema and
Redis key prefix, all three dropped afterwards; a missing service skips (fails under CI)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from memvault.stores.registry import open_episodic, open_working
from tests.services import port_open, unavailable
from tests.stores.falkordb_server import shared_server

__all__ = ["POSTGRES", "REDIS", "server_store_urls"]

POSTGRES = os.environ.get("MEMVAULT_TEST_POSTGRES_URL",
                          "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("MEMVAULT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@contextlib.asynccontextmanager
async def server_store_urls(tmp_path: Path, prefix: str, users: Sequence[str]
                            ) -> AsyncIterator[dict[str, str]]:
    """``MEMVAULT_*_URL`` settings naming stores of this test only; ``users``' working
    memory is cleared afterwards."""
    falkordb = shared_server()
    if isinstance(falkordb, str):
        unavailable("FalkorDB", falkordb)
        raise AssertionError("unreachable")
    if not port_open("127.0.0.1", 5432):
        unavailable("PostgreSQL", "nothing listens on 127.0.0.1:5432")
    if not port_open("127.0.0.1", 6379):
        unavailable("Redis", "nothing listens on 127.0.0.1:6379")
    tag = prefix + hashlib.sha1(str(tmp_path).encode()).hexdigest()[:10]
    urls = {
        "MEMVAULT_EPISODIC_URL": falkordb.url(tag),
        "MEMVAULT_PROFILE_URL": f"{POSTGRES}?schema={tag}",
        "MEMVAULT_WORKING_URL": f"{REDIS}?prefix={tag}",
    }
    yield urls
    graph = open_episodic(urls["MEMVAULT_EPISODIC_URL"])
    await graph.open()
    await graph.drop_namespace()  # type: ignore[attr-defined]
    await graph.close()
    working = open_working(urls["MEMVAULT_WORKING_URL"])
    await working.open()
    for user in users:
        await working.clear(user)
    await working.close()
    import asyncpg  # type: ignore[import-untyped, unused-ignore]

    connection = await asyncpg.connect(POSTGRES)
    await connection.execute(f'DROP SCHEMA IF EXISTS "{tag}" CASCADE')
    await connection.close()
