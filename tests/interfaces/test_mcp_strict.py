"""The MCP server refuses what it cannot take, clearly, against the real ``memvault serve``.

The contract:

* **Every stdio frame gets an answer.** A frame the server cannot read (not JSON, a lone
  surrogate escape such as ``"\\ud800"``, arrays nested 900 levels deep or more) is answered
  with a JSON-RPC error, code -32700 (parse error) or -32600 (invalid request), carrying the
  request's id when it can be read and ``null`` otherwise, as ``POST /mcp`` does; the
  server then keeps answering, and nothing is stored.
* **Tool arguments are strict, as REST bodies are.** An unknown argument is refused (tools
  take no ``user_id``); a string or a boolean is not a number; ``confirm`` takes only a JSON
  boolean. The refusal is a tool error (``isError``) whose text is one line naming the
  argument, without pydantic's URL, and nothing stored changes.
* **The advertised input schemas say so**: ``additionalProperties: false`` on every tool,
  ``minimum``/``maximum`` on ``limit`` (1..100) and ``context`` (0..5), ``minLength: 1`` on
  ``content`` and ``query``.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest
from mcp import ClientSession

from tests.interfaces.mcp_harness import (
    MEMVAULT,
    TOOLS,
    call_error,
    call_ok,
    clean_env,
    memvault_args,
    snapshot,
    stdio_session,
)

pytestmark = pytest.mark.timeout(90)

REPLY_TIMEOUT = 10.0
Message = dict[str, Any]


# -- 11: unreadable stdio frames ---------------------------------------------------------------

class _Frames:
    """JSON-RPC messages the server writes to stdout, read by a daemon thread."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.messages: list[Message] = []
        self.garbage: list[bytes] = []
        self._cond = threading.Condition()
        self._closed = False
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[bytes]) -> None:
        try:
            for line in stream:
                with self._cond:
                    try:
                        self.messages.append(json.loads(line))
                    except ValueError:
                        self.garbage.append(line)
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()

    def wait_for(self, wanted: Callable[[Message], bool], what: str) -> Message:
        deadline = time.monotonic() + REPLY_TIMEOUT
        with self._cond:
            while True:
                for message in self.messages:
                    if wanted(message):
                        self.messages.remove(message)
                        return message
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise AssertionError(
                        f"no {what} within {REPLY_TIMEOUT}s (server "
                        f"{'exited' if self._closed else 'silent'}); got {self.messages!r}, "
                        f"non-JSON lines {self.garbage!r}")
                self._cond.wait(left)


@contextmanager
def _raw_stdio(tmp_path: Path) -> Iterator[tuple[Callable[[bytes], None], _Frames]]:
    """``memvault serve`` over stdio, initialized by hand; yields (send a frame, replies)."""
    command = [str(MEMVAULT), *memvault_args(tmp_path / "m.db", user="alice")]
    with (tmp_path / "stderr.log").open("w", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=log, env=clean_env(), cwd=tmp_path)
        assert process.stdin is not None
        assert process.stdout is not None
        stdin = process.stdin
        frames = _Frames(process.stdout)

        def send(frame: bytes) -> None:
            stdin.write(frame + b"\n")
            stdin.flush()

        try:
            send(json.dumps({
                "jsonrpc": "2.0", "id": 0, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                           "clientInfo": {"name": "raw-frames", "version": "0"}},
            }).encode())
            frames.wait_for(lambda m: m.get("id") == 0 and "result" in m, "initialize reply")
            send(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}')
            yield send, frames
        finally:
            stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _add_frame(request_id: int, arguments: bytes) -> bytes:
    return (b'{"jsonrpc": "2.0", "id": %d, "method": "tools/call", "params": '
            b'{"name": "add_memory", "arguments": %s}}' % (request_id, arguments))


FRAMES = {
    "lone surrogate": _add_frame(5, b'{"content": "Anna likes tea \\ud800"}'),
    "surrogate in a key": _add_frame(5, b'{"content": "tea", "metadata": {"\\udfff": 1}}'),
    "900 nested arrays": _add_frame(
        5, b'{"content": "deep", "metadata": {"a": ' + b"[" * 900 + b"]" * 900 + b"}}"),
    "5000 nested arrays": _add_frame(
        5, b'{"content": "deep", "metadata": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}"),
    "not JSON": b'{"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {',
}


@pytest.mark.parametrize("frame", list(FRAMES), ids=list(FRAMES))
def test_unreadable_stdio_frame_gets_a_json_rpc_error(tmp_path: Path, frame: str) -> None:
    with _raw_stdio(tmp_path) as (send, frames):
        send(FRAMES[frame])
        reply = frames.wait_for(lambda m: "error" in m or m.get("id") == 5,
                                "reply to the unreadable frame")
        assert "error" in reply, f"answered as if read: {reply!r}"
        assert reply["error"]["code"] in (-32700, -32600), reply
        assert reply.get("id", "absent") in (5, None), reply
        assert reply["error"].get("message"), reply

        send(b'{"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": '
             b'{"name": "list_memories", "arguments": {}}}')
        later = frames.wait_for(lambda m: m.get("id") == 6, "reply to the next request")
        assert later["result"]["structuredContent"]["items"] == [], later


# -- 13: strict tool arguments -----------------------------------------------------------------

def _names_only(message: str, argument: str) -> None:
    assert "\n" not in message.strip(), f"not one line: {message!r}"
    assert argument in message, f"does not name {argument}: {message!r}"
    assert "pydantic" not in message.lower(), message
    assert "://" not in message, message


async def _seeded(session: ClientSession) -> None:
    await call_ok(session, "add_memory", content="Anna likes green tea",
                  profile={"drink": "tea"})


@pytest.mark.anyio
async def test_unknown_arguments_are_refused(tmp_path: Path) -> None:
    async with stdio_session(tmp_path) as conn:
        await _seeded(conn.session)
        before = await snapshot(conn.session)
        for tool, arguments in [
            ("add_memory", {"content": "x", "user_id": "bob"}),
            ("search_memory", {"query": "tea", "user_id": "bob"}),
            ("list_memories", {"user_id": "bob"}),
            ("get_profile", {"user_id": "bob"}),
            ("delete_memory", {"memory_id": before.memories[0]["id"], "user_id": "bob"}),
            ("delete_all_memories", {"confirm": True, "user_id": "bob"}),
        ]:
            message = await call_error(conn.session, tool, **arguments)
            _names_only(message, "user_id")
        assert await snapshot(conn.session) == before


@pytest.mark.anyio
async def test_numbers_are_not_coerced(tmp_path: Path) -> None:
    async with stdio_session(tmp_path) as conn:
        await _seeded(conn.session)
        before = await snapshot(conn.session)
        cases: list[tuple[str, dict[str, Any], str]] = [
            ("search_memory", {"query": "tea", "limit": "5"}, "limit"),
            ("search_memory", {"query": "tea", "limit": True}, "limit"),
            ("search_memory", {"query": "tea", "limit": 5.0}, "limit"),
            ("search_memory", {"query": "tea", "context": "1"}, "context"),
            ("search_memory", {"query": "tea", "context": True}, "context"),
            ("list_memories", {"limit": "5"}, "limit"),
            ("list_memories", {"limit": False}, "limit"),
        ]
        for tool, arguments, name in cases:
            message = await call_error(conn.session, tool, **arguments)
            _names_only(message, name)
        assert await snapshot(conn.session) == before


@pytest.mark.anyio
async def test_confirm_takes_only_a_boolean(tmp_path: Path) -> None:
    async with stdio_session(tmp_path) as conn:
        await _seeded(conn.session)
        before = await snapshot(conn.session)
        for confirm in ("true", 1, "yes"):
            message = await call_error(conn.session, "delete_all_memories", confirm=confirm)
            _names_only(message, "confirm")
        assert await snapshot(conn.session) == before


@pytest.mark.anyio
async def test_advertised_schemas_are_strict(tmp_path: Path) -> None:
    async with stdio_session(tmp_path) as conn:
        listed = await conn.session.list_tools()
    schemas = {tool.name: tool.input_schema for tool in listed.tools}
    assert set(schemas) == TOOLS
    problems = [f"{name}: additionalProperties {schema.get('additionalProperties')!r}"
                for name, schema in sorted(schemas.items())
                if schema.get("additionalProperties") is not False]
    bounds = [("search_memory", "limit", "minimum", 1), ("search_memory", "limit", "maximum", 100),
              ("list_memories", "limit", "minimum", 1), ("list_memories", "limit", "maximum", 100),
              ("search_memory", "context", "minimum", 0),
              ("search_memory", "context", "maximum", 5),
              ("add_memory", "content", "minLength", 1),
              ("search_memory", "query", "minLength", 1)]
    for tool, argument, keyword, value in bounds:
        prop = schemas[tool]["properties"][argument]
        if prop.get(keyword) != value:
            problems.append(f"{tool}.{argument}: {keyword} {prop.get(keyword)!r}, want {value}")
    assert problems == [], "the advertised schemas are loose:\n" + "\n".join(problems)


@pytest.mark.anyio
@pytest.mark.parametrize("frame", list(FRAMES), ids=list(FRAMES))
async def test_unreadable_http_frame_gets_the_same_json_rpc_error(
    tmp_path: Path, frame: str
) -> None:
    """``POST /mcp`` reads frames as stdio does: the same error, before the MCP SDK."""
    import httpx

    from memvault.config import Config
    from memvault.interfaces.mcp.frames import screen
    from memvault.interfaces.runtime import ServeOptions
    from memvault.interfaces.serve import build_http_app

    config = Config.from_flat({"database": str(tmp_path / "m.db"), "user_id": "alice",
                               "embedder": "none"})
    app = build_http_app(config, ServeOptions(transport="http"))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", timeout=10,
    ) as client:
        response = await client.post("/mcp", content=FRAMES[frame], headers={
            "Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
    assert response.status_code == 400, response.text
    expected = screen(FRAMES[frame].decode())
    assert expected is not None
    assert response.json() == expected.model_dump(mode="json", by_alias=True)
    assert response.json()["error"]["code"] in (-32700, -32600)
