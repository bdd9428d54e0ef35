"""Hostile input and hostile stored data over MCP, on the real ``memvault serve`` (streamable
HTTP and stdio subprocesses).

The official client cannot send a lone surrogate (it serializes with pydantic, which refuses
one), so refusals are driven with raw JSON-RPC frames whose text carries ``\\ud800`` escapes,
as any client written in another language can send. Reads go through the official client.

Contracts pinned here:

* Refusals. A ``tools/call`` whose arguments hold a lone surrogate (content, metadata keys and
  values at any depth, profile values, session ids, the query, filters, a memory id), a date
  that leaves Python's range once converted to UTC (``occurred_at``, ``since``, ``until``, a
  forged list cursor), or metadata nested 990 levels deep is answered, with the request's id,
  by a tool error (``result.isError`` true) whose text names the field (``metadata.a``,
  ``profile.city``, ``session_id``, ``occurred_at``, ``cursor``...), never a bare "Error
  executing tool ..."; a lone surrogate or too deep a nesting, which the frame screen
  catches before any tool, may instead get a JSON-RPC error; nothing is stored (the user's memories
  and profile are the same before and after).
* Reads. With hostile values written straight into each store (:mod:`tests.hostile_data`),
  ``list_memories`` (episodic and working), ``search_memory`` (with and without a session) and
  ``get_profile`` succeed over HTTP and stdio, with bad characters replaced by U+FFFD.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import IO, Any, Literal

import anyio
import anyio.to_thread
import httpx
import pytest

from tests.hostile_data import (
    BACKENDS,
    SESSION,
    TOO_EARLY,
    TOO_LATE,
    Backend,
    assert_clean,
    forged_cursor,
    hostile_stores,
    plant,
)
from tests.interfaces.mcp_harness import (
    MEMVAULT,
    HttpServer,
    LineReader,
    call_ok,
    clean_env,
    connect_http,
    memvault_args,
    running_server,
    stdio_session,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

S = "\ud800"
REPLY_TIMEOUT = 15.0
PROTOCOL = "2025-06-18"
BARE = "Error executing tool"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


# -- raw JSON-RPC clients ----------------------------------------------------------------------

def _frame(request_id: int, method: str, params_text: str) -> str:
    return (f'{{"jsonrpc": "2.0", "id": {request_id}, "method": "{method}", '
            f'"params": {params_text}}}')


def _call_params(tool: str, arguments_text: str) -> str:
    return f'{{"name": "{tool}", "arguments": {arguments_text}}}'


_INITIALIZE = json.dumps({"protocolVersion": PROTOCOL, "capabilities": {},
                          "clientInfo": {"name": "hostile-tests", "version": "0"}})
_INITIALIZED = '{"jsonrpc": "2.0", "method": "notifications/initialized"}'


class RawClient:
    """Sends JSON-RPC frames as text and returns the answer to each (a dict)."""

    def __init__(self) -> None:
        self._next = 100

    def next_id(self) -> int:
        self._next += 1
        return self._next

    async def request(self, method: str, params_text: str) -> dict[str, Any]:
        raise NotImplementedError

    async def call(self, tool: str, arguments_text: str) -> dict[str, Any]:
        return await self.request("tools/call", _call_params(tool, arguments_text))

    async def structured(self, tool: str, **arguments: Any) -> dict[str, Any]:
        answer = await self.call(tool, json.dumps(arguments))
        result = answer.get("result")
        assert result is not None, answer
        assert not result.get("isError"), answer
        content: dict[str, Any] = result["structuredContent"]
        return content


class RawHttp(RawClient):
    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__()
        self.client = client
        self.headers = {"Accept": "application/json, text/event-stream",
                        "Content-Type": "application/json"}

    async def start(self) -> None:
        answer = await self.client.post("/mcp", content=_frame(1, "initialize", _INITIALIZE),
                                        headers=self.headers)
        assert answer.status_code == 200, answer.text
        session = answer.headers.get("mcp-session-id")
        if session:
            self.headers["mcp-session-id"] = session
        self.headers["mcp-protocol-version"] = PROTOCOL
        answer = await self.client.post("/mcp", content=_INITIALIZED, headers=self.headers)
        assert answer.status_code in (200, 202), answer.text

    async def request(self, method: str, params_text: str) -> dict[str, Any]:
        request_id = self.next_id()
        answer = await self.client.post("/mcp", content=_frame(request_id, method, params_text),
                                        headers=self.headers)
        text = answer.content.decode("utf-8")
        if answer.headers.get("content-type", "").startswith("text/event-stream"):
            messages = [json.loads(line[5:]) for line in text.splitlines()
                        if line.startswith("data:") and line[5:].strip()]
        else:
            messages = [json.loads(text)]
        for message in messages:
            if isinstance(message, dict) and ("result" in message or "error" in message):
                return message
        raise AssertionError(f"no answer to request {request_id}: {answer.status_code} {text}")


class RawStdio(RawClient):
    """``memvault serve`` over stdio, spoken to line by line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        super().__init__()
        self.process = process
        assert process.stdout is not None
        self.stdout = LineReader(process.stdout)

    def _send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def _answer(self, request_id: int) -> dict[str, Any] | None:
        for line in self.stdout.lines:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("id") == request_id:
                return message
        return None

    async def _wait(self, request_id: int) -> dict[str, Any]:
        deadline = time.monotonic() + REPLY_TIMEOUT
        pattern = rf'"id":\s*{request_id}\b'
        while True:
            left = deadline - time.monotonic()
            found = await anyio.to_thread.run_sync(self.stdout.wait_for, pattern, max(left, 0))
            answer = self._answer(request_id)
            if answer is not None:
                return answer
            if found is None or left <= 0:
                raise AssertionError(f"no answer to request {request_id} within "
                                     f"{REPLY_TIMEOUT} s over stdio")

    async def start(self) -> None:
        self._send(_frame(1, "initialize", _INITIALIZE))
        await self._wait(1)
        self._send(_INITIALIZED)

    async def request(self, method: str, params_text: str) -> dict[str, Any]:
        request_id = self.next_id()
        self._send(_frame(request_id, method, params_text))
        return await self._wait(request_id)


@contextlib.asynccontextmanager
async def raw_http(server: HttpServer, user: str) -> AsyncIterator[RawHttp]:
    async with httpx.AsyncClient(base_url=server.base, timeout=REPLY_TIMEOUT,
                                 headers={"X-User-ID": user}) as client:
        raw = RawHttp(client)
        await raw.start()
        yield raw


def _spawn_stdio(tmp_path: Path, log: IO[str]) -> subprocess.Popen[str]:
    command = [str(MEMVAULT), *memvault_args(tmp_path / "m.db", user="alice")]
    return subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
        encoding="utf-8", errors="replace", env=clean_env(), cwd=tmp_path,
    )


def _stop_stdio(process: subprocess.Popen[str]) -> None:
    """Close stdin (which ends a stdio server), then wait; kill it if it does not end."""
    assert process.stdin is not None
    process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextlib.asynccontextmanager
async def raw_stdio(tmp_path: Path) -> AsyncIterator[RawStdio]:
    with (tmp_path / "stderr.log").open("w", encoding="utf-8") as log:
        process = _spawn_stdio(tmp_path, log)
        try:
            raw = RawStdio(process)
            await raw.start()
            yield raw
        finally:
            await anyio.to_thread.run_sync(_stop_stdio, process)


# -- refusals ----------------------------------------------------------------------------------

def _deep_metadata_text(levels: int) -> str:
    return '{"a": ' * (levels - 1) + '{"leaf": 1}' + "}" * (levels - 1)


def _args(**arguments: Any) -> str:
    return json.dumps(arguments, ensure_ascii=True)


CASES: dict[str, tuple[str, str, str]] = {
    "content": ("add_memory", _args(content=f"Anna {S} tea"), "content"),
    "metadata value": ("add_memory", _args(content="Anna likes tea", metadata={"a": S}),
                       "metadata.a"),
    "nested metadata value": ("add_memory",
                              _args(content="x", metadata={"a": {"b": ["ok", S]}}),
                              "metadata.a.b[1]"),
    "metadata key": ("add_memory", _args(content="x", metadata={S: 1}), "metadata"),
    "profile value": ("add_memory", _args(content="x", profile={"city": S}), "profile.city"),
    "profile list item": ("add_memory", _args(content="x", profile={"likes": ["tea", S]}),
                          "profile.likes"),
    "session_id": ("add_memory", _args(content="x", session_id=f"s{S}"), "session_id"),
    "deep metadata": ("add_memory",
                      '{"content": "deep", "metadata": ' + _deep_metadata_text(990) + "}",
                      "metadata"),
    **{f"occurred_at {m}": ("add_memory", _args(content="x", occurred_at=m), "occurred_at")
       for m in (TOO_EARLY, TOO_LATE)},
    "query": ("search_memory", _args(query=f"tea {S}"), "query"),
    "search session_id": ("search_memory", _args(query="tea", session_id=f"s{S}"),
                          "session_id"),
    "search filter": ("search_memory", _args(query="tea", filters={"session_id": f"s{S}"}),
                      "filters.session_id"),
    "search metadata filter": ("search_memory",
                               _args(query="tea", filters={"metadata": {"a": S}}),
                               "filters.metadata.a"),
    **{f"{bound} {m}": ("search_memory", _args(query="tea", **{bound: m}), bound)
       for m in (TOO_EARLY, TOO_LATE) for bound in ("since", "until")},
    "list session_id": ("list_memories", _args(session_id=f"s{S}"), "session_id"),
    "delete memory_id": ("delete_memory", _args(memory_id=f"id{S}"), "memory_id"),
    "delete_all session_id": ("delete_all_memories", _args(confirm=True, session_id=f"s{S}"),
                              "session_id"),
}
#: The cases also sent over stdio (each costs a server process).
STDIO_CASES = ("content", "metadata value", "session_id", "deep metadata",
               f"occurred_at {TOO_EARLY}", f"since {TOO_LATE}")


async def _snapshot(raw: RawClient) -> tuple[Any, Any]:
    page = await raw.structured("list_memories", limit=100)
    profile = await raw.structured("get_profile", include_history=True)
    return page, profile


async def _seed(raw: RawClient) -> None:
    for content in ("Anna likes tea", "Anna moved to Lisbon"):
        await raw.structured("add_memory", content=content, session_id="chat",
                             profile={"drink": "tea"})


async def _refused(raw: RawClient, send: Callable[[], Awaitable[dict[str, Any]]],
                   field: str) -> str:
    before = await _snapshot(raw)
    answer = await send()
    if "error" in answer:
        # A frame the MCP layer cannot hand to a tool (a lone surrogate in its text) is
        # refused before it, with a JSON-RPC error that names the argument's path.
        message = str(answer["error"].get("message", ""))
    else:
        result = answer["result"]
        assert result.get("isError") is True, f"accepted: {json.dumps(result)[:300]}"
        message = "\n".join(c.get("text", "") for c in result["content"])
    # The MCP SDK puts "Error executing tool <name>: " before every tool error; bare is that
    # prefix with nothing of the cause after it.
    assert re.fullmatch(BARE + r" \w+", message) is None, f"a bare tool error: {message!r}"
    assert field in message, f"the message does not name {field!r}: {message!r}"
    assert await _snapshot(raw) == before, "a refused call changed what is stored"
    return message


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HttpServer]:
    async with running_server(tmp_path_factory.mktemp("mcp"), "http") as running:
        yield running


@pytest.fixture
async def http(server: HttpServer, request: pytest.FixtureRequest) -> AsyncIterator[RawHttp]:
    """A raw MCP session as this test's own user, who has two memories and a fact."""
    user = "u" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:12]
    async with raw_http(server, user) as raw:
        await _seed(raw)
        yield raw


@pytest.mark.parametrize("case", sorted(CASES))
async def test_bad_arguments_are_a_tool_error_over_http(http: RawHttp, case: str) -> None:
    tool, arguments, field = CASES[case]
    await _refused(http, lambda: http.call(tool, arguments), field)


@pytest.mark.parametrize("case", STDIO_CASES)
async def test_bad_arguments_are_a_tool_error_over_stdio(tmp_path: Path, case: str) -> None:
    tool, arguments, field = CASES[case]
    async with raw_stdio(tmp_path) as raw:
        await _seed(raw)
        await _refused(raw, lambda: raw.call(tool, arguments), field)


@pytest.mark.parametrize("moment", [TOO_EARLY, TOO_LATE])
async def test_a_cursor_out_of_range_is_a_tool_error(http: RawHttp, moment: str) -> None:
    page = await http.structured("list_memories", limit=1)
    cursor = forged_cursor(page["next_cursor"], moment)
    await _refused(http, lambda: http.call("list_memories", _args(limit=1, cursor=cursor)),
                   "cursor")


async def test_a_cursor_naming_no_text_is_a_tool_error(http: RawHttp) -> None:
    page = await http.structured("list_memories", limit=1)
    cursor = forged_cursor(page["next_cursor"], memory_id="\ud800")
    await _refused(http, lambda: http.call("list_memories", _args(limit=1, cursor=cursor)),
                   "cursor")


# -- reads of hostile stored data --------------------------------------------------------------

@pytest.mark.parametrize("transport", ["http", "stdio"])
@pytest.mark.parametrize("backend", BACKENDS)
async def test_mcp_reads_hostile_stored_data(
    backend: Backend, transport: Literal["http", "stdio"], tmp_path: Path
) -> None:
    async with hostile_stores(backend, tmp_path) as stores:
        hostile = await plant(stores, backend)
        problems: list[str] = []
        async with contextlib.AsyncExitStack() as stack:
            if transport == "http":
                running = await stack.enter_async_context(
                    running_server(tmp_path, "http", env=stores.env()))
                connection = await stack.enter_async_context(
                    connect_http(running, {"X-User-ID": "alice"}))
            else:
                connection = await stack.enter_async_context(
                    stdio_session(tmp_path, env=stores.env()))
            session = connection.session

            async def listed() -> None:
                page = await call_ok(session, "list_memories", limit=100)
                hostile.check_memories(page["items"], complete=True)

            async def searched() -> None:
                found = await call_ok(session, "search_memory", query="tea", limit=100)
                assert_clean(found, "search")
                # a shortened result holds an excerpt; get_memory reads it whole
                hostile.check_memories([r["memory"] for r in found["hits"] if not r["shortened"]],
                                       complete=False)
                for result in found["hits"]:
                    if result["shortened"]:
                        whole = await call_ok(session, "get_memory",
                                              memory_id=result["memory"]["id"])
                        hostile.check_memories([whole], complete=False)

            async def searched_in_session() -> None:
                found = await call_ok(session, "search_memory", query="turn tea", limit=100,
                                      session_id=SESSION, context=2)
                assert_clean(found, "search")
                hostile.check_working([r["memory"] for r in found["hits"]
                                       if r["memory_type"] == "working"
                                       and not r["shortened"]], complete=False)

            async def working() -> None:
                page = await call_ok(session, "list_memories", limit=100,
                                     memory_type="working", session_id=SESSION)
                hostile.check_working(page["items"])

            async def profile() -> None:
                found = await call_ok(session, "get_profile", include_history=True)
                hostile.check_profile([*found["facts"], *found["history"]])

            for name, action in [("list_memories", listed), ("search_memory", searched),
                                 ("search_memory in session", searched_in_session),
                                 ("list_memories working", working),
                                 ("get_profile", profile)]:
                try:
                    with anyio.fail_after(REPLY_TIMEOUT * 2):
                        await action()
                except Exception as exc:
                    problems.append(f"{name}: {type(exc).__name__}: {str(exc)[:300]}")
        if problems:
            pytest.fail(f"MCP reads over {transport} failed on hostile data in {backend}:\n"
                        + "\n".join(problems), pytrace=False)
