"""Many servers, one memory: two HTTP servers over the same FalkorDB, PostgreSQL and Redis
serve one user consistently."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from memvault.stores.registry import open_episodic, open_working
from tests.interfaces.mcp_harness import call_ok, connect_http, running_server
from tests.services import port_open, unavailable
from tests.stores.falkordb_server import shared_server

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

POSTGRES = os.environ.get("MEMVAULT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("MEMVAULT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def shared_stores(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    falkordb = shared_server()
    if isinstance(falkordb, str):
        unavailable("FalkorDB", falkordb)
        raise AssertionError("unreachable")
    if not port_open("127.0.0.1", 5432):
        unavailable("PostgreSQL", "nothing listens on 127.0.0.1:5432")
    if not port_open("127.0.0.1", 6379):
        unavailable("Redis", "nothing listens on 127.0.0.1:6379")
    tag = "scale_" + hashlib.sha1(str(tmp_path).encode()).hexdigest()[:10]
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
    for user in ("alice", "bob"):
        await working.clear(user)
    await working.close()
    import asyncpg  # type: ignore[import-untyped, unused-ignore]

    connection = await asyncpg.connect(POSTGRES)
    await connection.execute(f'DROP SCHEMA IF EXISTS "{tag}" CASCADE')
    await connection.close()


async def test_two_servers_serve_one_user_consistently(
    tmp_path: Path, shared_stores: dict[str, str]
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with (
        running_server(tmp_path / "a", "http", env=shared_stores) as one,
        running_server(tmp_path / "b", "http", env=shared_stores) as two,
        connect_http(one, {"X-User-ID": "alice"}) as via_one,
        connect_http(two, {"X-User-ID": "alice"}) as via_two,
        connect_http(two, {"X-User-ID": "bob"}) as bob,
    ):
        added = await call_ok(
            via_one.session, "add_memory", content="Alice's favourite tea is genmaicha",
            session_id="chat-1", profile={"tea": "genmaicha"},
        )
        found = await call_ok(via_two.session, "search_memory", query="favourite tea")
        assert [r["memory"]["id"] for r in found["hits"]] == [added["id"]]
        profile = await call_ok(via_two.session, "get_profile")
        assert [(f["key"], f["value"]) for f in profile["facts"]] == [("tea", "genmaicha")]
        working = await call_ok(via_two.session, "list_memories", session_id="chat-1",
                                memory_type="working")
        assert [m["id"] for m in working["items"]] == [added["id"]]

        second = await call_ok(via_two.session, "add_memory", content="Alice switched to sencha",
                               session_id="chat-1", profile={"tea": "sencha"})
        context = await call_ok(via_one.session, "search_memory", query="switched sencha",
                                context=1)
        hit = context["hits"][0]
        assert hit["memory"]["id"] == second["id"]
        assert [m["id"] for m in hit["context"]] == [added["id"]]
        history = await call_ok(via_one.session, "get_profile", include_history=True)
        assert [f["value"] for f in history["facts"]] == ["sencha"]
        assert [f["value"] for f in history["history"]] == ["genmaicha"]

        assert (await call_ok(bob.session, "search_memory", query="tea"))["hits"] == []
        deleted = await call_ok(via_two.session, "delete_all_memories", confirm=True)
        assert deleted["memories"] == 2
        assert (await call_ok(via_one.session, "list_memories"))["items"] == []
