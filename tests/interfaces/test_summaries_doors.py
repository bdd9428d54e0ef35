"""A session summary through the real doors: MCP's search and list and REST's say it is
derived (kind, source turns); the turns stay plain. The model is tests/fake_chat.py's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from memvault import Config
from memvault.interfaces.mcp.server import build_server
from memvault.interfaces.runtime import Runtime, ServeOptions
from memvault.interfaces.serve import build_http_app
from tests.core.test_summaries import is_summary, summary
from tests.fake_chat import Scripted, facts, fake_chat
from tests.interfaces.mcp_harness import call_ok

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

WAIT = 30.0


def script(_: str, body: dict[str, Any]) -> Scripted:
    return summary("Alice planned a kayak trip.") if is_summary(body) else facts()


def _config(tmp_path: Path, url: str) -> Config:
    return Config.from_flat({
        "database": str(tmp_path / "m.db"), "user_id": "alice", "embedder": "none",
        "llm": {"model": "scripted", "base_url": url, "summaries": True,
                "summary_idle_seconds": 0.1},
    })


async def test_mcp_marks_the_summary_derived(tmp_path: Path) -> None:
    with fake_chat(script) as chat:
        runtime = Runtime(config=_config(tmp_path, chat.url))
        async with anyio.create_task_group() as group:
            group.start_soon(runtime.keep_open)
            async with Client(build_server(runtime)) as client:
                turn = await call_ok(client, "add_memory",  # type: ignore[arg-type]
                                     content="I want to kayak in June", session_id="s1")
                mv = await runtime.require()
                assert await mv.extraction.summaries.wait_until_done(WAIT)
                found = await call_ok(client, "search_memory",  # type: ignore[arg-type]
                                      query="kayak trip")
                marks = {h["memory"]["id"]: h["memory"]["derived"] for h in found["hits"]}
                assert marks[turn["id"]] is None
                [(made, mark)] = [(k, v) for k, v in marks.items() if v is not None]
                assert mark == {"kind": "summary", "source_ids": [turn["id"]]}
                listed = await call_ok(client, "list_memories",  # type: ignore[arg-type]
                                       session_id="s1")
                assert {m["id"]: m["derived"] for m in listed["items"]} == marks
                whole = await call_ok(client, "get_memory",  # type: ignore[arg-type]
                                      memory_id=made)
                assert whole["derived"]["kind"] == "summary"
            group.cancel_scope.cancel()


async def test_rest_marks_the_summary_derived(tmp_path: Path) -> None:
    with fake_chat(script) as chat:
        app = build_http_app(_config(tmp_path, chat.url), ServeOptions(transport="http"))
        async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", timeout=10,
        ) as api:
            turn = (await api.post("/v1/memories", json={
                "content": "I want to kayak in June", "session_id": "s1"})).json()
            assert turn["derived"] is None
            with anyio.fail_after(WAIT):
                while True:
                    page = (await api.get("/v1/memories", params={"session_id": "s1"})).json()
                    derived = [m for m in page["items"] if m["derived"] is not None]
                    if derived:
                        break
                    await anyio.sleep(0.05)
            assert derived[0]["derived"] == {"kind": "summary", "source_ids": [turn["id"]]}
            hits = (await api.post("/v1/memories/search", json={"query": "kayak trip"})).json()
            assert {h["memory"]["id"]: h["memory"]["derived"] is not None
                    for h in hits["hits"]} == {turn["id"]: False, derived[0]["id"]: True}
