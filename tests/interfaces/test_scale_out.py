"""Many servers, one memory: two HTTP servers over the same FalkorDB, PostgreSQL and Redis
serve one user consistently."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.interfaces.mcp_harness import call_ok, connect_http, running_server
from tests.server_stores import server_store_urls

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

@pytest.fixture
async def shared_stores(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    async with server_store_urls(tmp_path, "scale_", ("alice", "bob")) as urls:
        yield urls


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
