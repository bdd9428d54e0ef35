"""An MCP session serves only the credential that opened it, against the real
``memvault serve --keys`` over streamable HTTP and SSE: another key (of another user, or
another key of the same user) is refused with 403 and one line on the session's every
request, and nothing it sent is acted on."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx2
import pytest

from memvault.config import Config
from memvault.core.keys import open_keys
from tests.interfaces.mcp_harness import HttpServer, running_server

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

# A version whose requests carry no per-request envelope, so the frames stay short.
PROTOCOL = "2025-06-18"
TOKEN = "admin-token-0123456789abcdef"
ACCEPT = {"Accept": "application/json, text/event-stream"}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": PROTOCOL, "capabilities": {},
    "clientInfo": {"name": "binding-test", "version": "1"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def _add(content: str, request_id: int = 2) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
            "params": {"name": "add_memory", "arguments": {"content": content}}}


async def _keys(tmp_path: Path) -> dict[str, str]:
    config = Config.from_flat({"database": str(tmp_path / "m.db"), "embedder": "none"})
    async with open_keys(config) as service:
        return {name: (await service.create(user_id=user, scope="write"))[1]
                for name, user in [("alice", "alice"), ("alice2", "alice"),
                                   ("mallory", "mallory")]}


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@asynccontextmanager
async def _served(tmp_path: Path, transport: Literal["sse", "http"]
                  ) -> AsyncIterator[tuple[HttpServer, dict[str, str]]]:
    keys = await _keys(tmp_path)
    async with running_server(tmp_path, transport, token=TOKEN,
                              env={"MEMVAULT_KEYS": "1"}) as server:
        yield server, keys


async def _contents(http: httpx2.AsyncClient, key: str) -> list[str]:
    listed = await http.get("/v1/memories", headers=_bearer(key))
    assert listed.status_code == 200, listed.text
    return [m["content"] for m in listed.json()["items"]]


def _refused(response: httpx2.Response) -> None:
    assert response.status_code == 403, response.text
    message = response.json()["error"]["message"]
    assert "opened with another credential" in message
    assert "\n" not in message


async def test_a_streamable_http_session_serves_only_its_opener(tmp_path: Path) -> None:
    async with _served(tmp_path, "http") as (server, keys), httpx2.AsyncClient(
            base_url=server.base, timeout=20) as http:
        opened = await http.post("/mcp", json=INITIALIZE, headers={**ACCEPT,
                                                                  **_bearer(keys["alice"])})
        assert opened.status_code == 200, opened.text
        session = opened.headers["mcp-session-id"]
        on_session = {**ACCEPT, "mcp-session-id": session,
                      "mcp-protocol-version": PROTOCOL}
        done = await http.post("/mcp", json=INITIALIZED,
                               headers={**on_session, **_bearer(keys["alice"])})
        assert done.status_code == 202, done.text

        for other in ("mallory", "alice2"):  # another user's key; the same user's other key
            _refused(await http.post("/mcp", json=_add(f"posted by {other}"),
                                     headers={**on_session, **_bearer(keys[other])}))
            _refused(await http.get("/mcp", headers={**on_session, **_bearer(keys[other])}))
            _refused(await http.delete("/mcp", headers={**on_session,
                                                        **_bearer(keys[other])}))
        _refused(await http.post("/mcp", json=_add("posted by the token"),
                                 headers={**on_session, **_bearer(TOKEN)}))
        unknown = await http.post("/mcp", json=_add("x"), headers={
            **on_session, "mcp-session-id": "0" * 32, **_bearer(keys["mallory"])})
        assert unknown.status_code == 404, unknown.text

        # the session is still its opener's, and nothing the others sent was stored
        mine = await http.post("/mcp", json=_add("posted by alice"),
                               headers={**on_session, **_bearer(keys["alice"])})
        assert mine.status_code == 200, mine.text
        assert '"isError":true' not in mine.text.replace(" ", "")
        assert await _contents(http, keys["alice"]) == ["posted by alice"]
        assert await _contents(http, keys["mallory"]) == []

        ended = await http.delete("/mcp", headers={**on_session, **_bearer(keys["alice"])})
        assert ended.status_code in (200, 204), ended.text
        gone = await http.post("/mcp", json=_add("after the end"),
                               headers={**on_session, **_bearer(keys["alice"])})
        assert gone.status_code == 404, gone.text


async def _endpoint(lines: AsyncIterator[str]) -> str:
    async for line in lines:
        if line.startswith("data:") and "session_id=" in line:
            return line.removeprefix("data:").strip()
    raise AssertionError("the SSE stream ended without an endpoint event")


async def _next_result(lines: AsyncIterator[str], request_id: int) -> dict[str, Any]:
    async for line in lines:
        if line.startswith("data:"):
            message: dict[str, Any] = json.loads(line.removeprefix("data:"))
            if message.get("id") == request_id:
                return message
    raise AssertionError("the SSE stream ended without the result")


async def test_an_sse_session_serves_only_its_opener(tmp_path: Path) -> None:
    async with _served(tmp_path, "sse") as (server, keys), httpx2.AsyncClient(
            base_url=server.base, timeout=20) as http, http.stream(
            "GET", "/sse", headers=_bearer(keys["alice"])) as stream:
        assert stream.status_code == 200
        lines = stream.aiter_lines()
        with anyio.fail_after(20):
            endpoint = await _endpoint(lines)
        session = re.search(r"session_id=([0-9a-f]{32})", endpoint)
        assert session is not None
        hexed = session.group(1)
        alice = _bearer(keys["alice"])
        assert (await http.post(endpoint, json=INITIALIZE, headers=alice)).status_code == 202
        with anyio.fail_after(20):
            await _next_result(lines, 1)
        assert (await http.post(endpoint, json=INITIALIZED, headers=alice)).status_code == 202

        braced = f"/messages/?session_id={{{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-" \
                 f"{hexed[16:20]}-{hexed[20:]}}}"
        for other in ("mallory", "alice2"):
            for path in (endpoint, braced, endpoint.replace(hexed, hexed.upper())):
                _refused(await http.post(path, json=_add(f"posted by {other}"),
                                         headers=_bearer(keys[other])))
        _refused(await http.post(endpoint, json=_add("posted by the token"),
                                 headers=_bearer(TOKEN)))
        unknown = await http.post("/messages/?session_id=" + "0" * 32, json=_add("x"),
                                  headers=_bearer(keys["mallory"]))
        assert unknown.status_code == 404, unknown.text

        assert (await http.post(endpoint, json=_add("posted by alice", 3),
                                headers=alice)).status_code == 202
        with anyio.fail_after(20):
            result = await _next_result(lines, 3)
        assert not result["result"].get("isError"), result
        assert await _contents(http, keys["alice"]) == ["posted by alice"]
        assert await _contents(http, keys["mallory"]) == []
