"""One vocabulary for every door: a search hit and a page of memories carry the same field
names in the MCP tools' structured output, the REST API's JSON, the SDK's models
(``model_dump``) and the CLI's ``--json``, for one memory and one query.

MCP leaves some fields of a memory out (the user id, the entities...): there a memory's
fields are a subset of the others', never a renamed one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from click.testing import CliRunner
from mcp import Client

from memvault import Config, SyncMemvault
from memvault.interfaces.cli.main import cli
from memvault.interfaces.mcp.server import build_server
from memvault.interfaces.runtime import Runtime, ServeOptions
from memvault.interfaces.serve import build_http_app

pytestmark = pytest.mark.timeout(90)

CONTENT = "Booked a window seat on the flight to Lisbon"
QUERY = "Lisbon window seat"
Door = dict[str, dict[str, Any]]


def _config(db: Path) -> Config:
    return Config.from_flat({"database": str(db), "user_id": "alice", "embedder": "none"})


def _sdk(db: Path) -> Door:
    with SyncMemvault(_config(db)) as mv:
        return {"search": mv.search(QUERY, context=1).model_dump(mode="json"),
                "list": mv.list().model_dump(mode="json")}


def _cli(db: Path) -> Door:
    def run(*args: str) -> dict[str, Any]:
        result = CliRunner().invoke(
            cli, ["--database", str(db), "--embedder", "none", "--user", "alice", *args])
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        loaded: dict[str, Any] = json.loads(result.stdout)
        return loaded

    return {"search": run("search", QUERY, "--context", "1", "--json"),
            "list": run("list", "--json")}


async def _rest(db: Path) -> Door:
    app = build_http_app(_config(db), ServeOptions(transport="http"))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", timeout=30,
    ) as api:
        found = await api.post("/v1/memories/search", json={"query": QUERY, "context": 1})
        page = await api.get("/v1/memories")
        assert (found.status_code, page.status_code) == (200, 200), (found.text, page.text)
        return {"search": found.json(), "list": page.json()}


async def _mcp(db: Path) -> Door:
    runtime = Runtime(config=_config(db))
    out: Door = {}
    async with anyio.create_task_group() as group:
        group.start_soon(runtime.keep_open)
        async with Client(build_server(runtime)) as client:
            for door, tool, arguments in (("search", "search_memory",
                                           {"query": QUERY, "context": 1}),
                                          ("list", "list_memories", {})):
                result = await client.call_tool(tool, arguments)
                assert not result.is_error, result.content
                assert result.structured_content is not None
                out[door] = result.structured_content
        group.cancel_scope.cancel()
    return out


def _names(door: Door) -> dict[str, set[str]]:
    """The field names of a search result, its one hit, the hit's memory and explanation, a
    page and its one memory."""
    [hit] = door["search"]["hits"]
    [item] = door["list"]["items"]
    return {
        "search": set(door["search"]), "hit": set(hit), "hit.memory": set(hit["memory"]),
        "hit.explanation": set(hit["explanation"]), "page": set(door["list"]),
        "page.item": set(item),
    }


def test_every_door_names_a_hit_and_a_page_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("MEMVAULT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    db = tmp_path / "m.db"
    with SyncMemvault(_config(db)) as mv:
        stored = mv.add(CONTENT, session_id="trip")

    doors = {"sdk": _sdk(db), "cli": _cli(db), "rest": anyio.run(_rest, db),
             "mcp": anyio.run(_mcp, db)}
    for door in doors.values():
        assert door["search"]["hits"][0]["memory"]["id"] == stored.id
        assert door["list"]["items"][0]["id"] == stored.id

    names = {door: _names(found) for door, found in doors.items()}
    sdk = names["sdk"]
    assert sdk["hit"] == {"memory", "score", "memory_type", "context", "shortened",
                          "full_length", "context_shortened", "explanation"}
    assert {"hits", "truncated", "retrievers", "pending"} <= sdk["search"]
    assert sdk["page"] == {"items", "next_cursor"}
    for door in ("cli", "rest"):
        assert names[door] == sdk, door
    mcp = names["mcp"]
    for part in ("search", "hit", "hit.explanation", "page"):
        assert mcp[part] == sdk[part], part
    for part in ("hit.memory", "page.item"):
        assert mcp[part] < sdk[part], (part, mcp[part] - sdk[part])
    assert mcp["hit.memory"] == mcp["page.item"]
