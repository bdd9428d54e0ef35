"""get_memory and the explained, shortened search hits through every door: the MCP tools
(in process), the REST API and the synchronous SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from memvault import Config, NotFound, SyncMemvault
from memvault.interfaces.mcp.server import build_server
from memvault.interfaces.runtime import Runtime, ServeOptions
from memvault.interfaces.serve import build_http_app

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

_LONG = "assistant: " + ("The meeting ran long because the projector would not start. " * 80
                         + "Your sister is allergic to peanuts. "
                         + "We kept the older totals from the spreadsheet. " * 80).strip()


def _config(tmp_path: Path) -> Config:
    return Config.from_flat({"database": str(tmp_path / "m.db"), "user_id": "alice",
                             "embedder": "none", "max_result_chars": 2000})


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    runtime = Runtime(config=_config(tmp_path))
    async with anyio.create_task_group() as group:
        group.start_soon(runtime.keep_open)
        async with Client(build_server(runtime)) as connected:
            yield connected
        group.cancel_scope.cancel()


async def _ok(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def test_mcp_search_excerpts_then_get_memory_in_full(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    get = tools["get_memory"]
    assert get.annotations is not None
    assert get.annotations.read_only_hint is True
    assert get.title
    assert get.input_schema["required"] == ["memory_id"]
    assert "excerpt" in (get.description or "")
    search = tools["search_memory"]
    description = search.description or ""
    for word in ("excerpt", "get_memory", "min_score", "explanation", "full_length"):
        assert word in description, word
    assert search.input_schema["properties"]["min_score"]["minimum"] == 0
    assert search.input_schema["properties"]["min_score"]["maximum"] == 1
    hit_schema = search.output_schema
    assert hit_schema is not None
    assert "explanation" in str(hit_schema)

    added = await _ok(client, "add_memory", content=_LONG, session_id="s")
    neighbour = await _ok(client, "add_memory", content="I live in Porto", session_id="s")
    found = await _ok(client, "search_memory", query="peanuts")
    first, second = found["hits"]
    assert first["memory"]["id"] == added["id"]
    assert first["shortened"] is True
    assert first["full_length"] == len(_LONG)
    assert "Your sister is allergic to peanuts." in first["memory"]["content"]
    assert first["explanation"]["lexical"]["matched"] == ["peanuts"]
    assert first["score"] == 1.0
    assert second["memory"]["id"] == neighbour["id"]
    assert second["shortened"] is False
    assert second["explanation"]["neighbour_of"] == added["id"]
    assert second["score"] == 0.0
    assert found["truncated"] is True

    floored = await _ok(client, "search_memory", query="peanuts", min_score=0.5)
    assert [r["memory"]["id"] for r in floored["hits"]] == [added["id"]]
    assert (await client.call_tool("search_memory", {"query": "x", "min_score": 2})).is_error

    whole = await _ok(client, "get_memory", memory_id=added["id"])
    assert whole["content"] == _LONG
    assert whole["id"] == added["id"]
    missing = await client.call_tool("get_memory", {"memory_id": "01J0000000000000000000000Z"})
    assert missing.is_error
    assert "no memory" in str(missing.content)


async def test_rest_get_memory_and_min_score(tmp_path: Path) -> None:
    app = build_http_app(_config(tmp_path), ServeOptions(transport="http"))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", timeout=10,
    ) as api:
        added = (await api.post("/v1/memories", json={"content": _LONG, "session_id": "s"}
                                )).json()
        await api.post("/v1/memories", json={"content": "I live in Porto", "session_id": "s"})
        result = (await api.post("/v1/memories/search", json={"query": "peanuts"})).json()
        assert len(result["hits"]) == 2
        hit = result["hits"][0]
        assert hit["shortened"] is True
        assert hit["full_length"] == len(_LONG)
        assert hit["explanation"]["lexical"]["coverage"] == 1.0
        assert result["hits"][1]["explanation"]["neighbour_of"] == added["id"]
        floored = (await api.post("/v1/memories/search",
                                  json={"query": "peanuts", "min_score": 0.5})).json()
        assert [h["memory"]["id"] for h in floored["hits"]] == [added["id"]]
        bad = await api.post("/v1/memories/search", json={"query": "x", "min_score": 1.5})
        assert bad.status_code == 400
        assert "min_score" in bad.json()["error"]["message"]

        got = await api.get(f"/v1/memories/{added['id']}")
        assert got.status_code == 200
        assert got.json()["content"] == _LONG
        other = await api.get(f"/v1/memories/{added['id']}", headers={"X-User-ID": "bob"})
        assert other.status_code == 404
        assert other.json()["error"]["type"] == "NotFound"


def test_sdk_get_memory_and_min_score(tmp_path: Path) -> None:
    with SyncMemvault(_config(tmp_path)) as mv:
        memory = mv.add(_LONG, session_id="s")
        mv.add("I live in Porto", session_id="s")
        result = mv.search("peanuts", min_score=0.5)
        assert [h.memory.id for h in result.hits] == [memory.id]
        assert result.hits[0].shortened
        assert mv.get_memory(memory.id) == memory
        with pytest.raises(NotFound):
            mv.get_memory(memory.id, user_id="bob")
