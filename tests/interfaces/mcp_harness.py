"""Helpers for the MCP end-to-end tests: spawn the real ``memvault serve``, wait for it to
bind, connect the official mcp client over stdio, SSE or streamable HTTP, and call tools.

Servers are subprocesses of the console script next to the running interpreter. Their
stderr is read by a thread; waiting for a log line is a wait on a condition with a deadline,
never a sleep.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import anyio
import anyio.to_thread
import httpx2
from mcp import Client, ClientSession, StdioServerParameters, stdio_client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from memvault.config import Config
from memvault.interfaces.mcp.server import build_server
from memvault.interfaces.runtime import Runtime

__all__ = [
    "MEMVAULT",
    "STARTUP_TIMEOUT",
    "TOOLS",
    "Connection",
    "HttpServer",
    "LineReader",
    "Snapshot",
    "Transport",
    "call_error",
    "call_ok",
    "clean_env",
    "connect_http",
    "inprocess_client",
    "memvault_args",
    "open_session",
    "running_server",
    "snapshot",
    "stdio_session",
    "text_of",
]

Transport = Literal["stdio", "sse", "http"]

MEMVAULT = Path(sys.executable).parent / "memvault"
TOOLS = frozenset({
    "add_memory", "search_memory", "get_memory", "list_memories", "delete_memory",
    "delete_all_memories", "get_profile", "update_memory", "set_profile",
})
STARTUP_TIMEOUT = 20.0
CALL_TIMEOUT = 20.0
READY_LINE = re.compile(
    r"serving MCP over (?P<transport>\w+) at (?P<url>http://\S+) for user (?P<user>\S+)"
)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any ``MEMVAULT_*`` setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMVAULT_")}
    env.update({"PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    env.update(extra or {})
    return env


def memvault_args(
    database: Path, *, user: str, embedder: str = "none", serve: Sequence[str] = ()
) -> list[str]:
    """Arguments of ``memvault [global options] serve [serve options]``."""
    return ["--database", str(database), "--user", user, "--embedder", embedder,
            "serve", *serve]


class LineReader:
    """Reads a text stream line by line in a daemon thread; :meth:`wait_for` blocks until a
    line matches, the stream ends, or the deadline passes."""

    def __init__(self, stream: IO[str], tee: Path | None = None) -> None:
        self.lines: list[str] = []
        self._stream = stream
        self._tee = tee
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        sink = self._tee.open("w", encoding="utf-8") if self._tee is not None else None
        try:
            for line in self._stream:
                if sink is not None:
                    sink.write(line)
                    sink.flush()
                with self._cond:
                    self.lines.append(line.rstrip("\n"))
                    self._cond.notify_all()
        finally:
            if sink is not None:
                sink.close()
            with self._cond:
                self._closed = True
                self._cond.notify_all()

    def _find(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        for line in self.lines:
            found = pattern.search(line)
            if found:
                return found
        return None

    def wait_for(self, pattern: str | re.Pattern[str], timeout: float) -> re.Match[str] | None:
        """The first line matching ``pattern``; ``None`` if the stream ended or ``timeout``
        seconds passed first."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self._find(regex)
                if found is not None or self._closed:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    async def await_line(self, pattern: str | re.Pattern[str], timeout: float) -> re.Match[str]:
        found = await anyio.to_thread.run_sync(self.wait_for, pattern, timeout)
        if found is None:
            raise AssertionError(
                f"no line matching {pattern!r} within {timeout}s; got:\n" + self.text()
            )
        return found

    def join(self, timeout: float = 10.0) -> None:
        self._thread.join(timeout)

    def text(self) -> str:
        with self._cond:
            return "\n".join(self.lines)


@dataclass
class HttpServer:
    process: subprocess.Popen[str]
    stderr: LineReader
    transport: Literal["sse", "http"]
    port: int
    logged_url: str

    @property
    def base(self) -> str:
        """Where clients connect: always loopback, whatever address the server bound."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.base + ("/sse" if self.transport == "sse" else "/mcp")


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _spawn(
    command: list[str], env: dict[str, str] | None, cwd: Path
) -> tuple[subprocess.Popen[str], LineReader]:
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, encoding="utf-8", env=clean_env(env), cwd=cwd,
    )
    assert process.stderr is not None
    return process, LineReader(process.stderr)


@contextlib.asynccontextmanager
async def running_server(
    tmp_path: Path,
    transport: Literal["sse", "http"],
    *,
    user: str = "alice",
    host: str = "127.0.0.1",
    token: str | None = None,
    env: dict[str, str] | None = None,
    embedder: str = "none",
) -> AsyncIterator[HttpServer]:
    """``memvault serve --transport sse|http --port 0`` on its own database, once it has
    logged its address; terminated on exit."""
    serve = ["--transport", transport, "--host", host, "--port", "0"]
    if token is not None:
        serve += ["--token", token]
    command = [str(MEMVAULT), *memvault_args(tmp_path / "m.db", user=user, embedder=embedder,
                                             serve=serve)]
    process, reader = _spawn(command, env, tmp_path)
    try:
        found = await reader.await_line(READY_LINE, STARTUP_TIMEOUT)
        assert found["transport"] == transport
        assert found["user"] == user
        port = int(found["url"].rsplit(":", 1)[1].split("/", 1)[0])
        yield HttpServer(process=process, stderr=reader, transport=transport, port=port,
                         logged_url=found["url"])
    finally:
        await anyio.to_thread.run_sync(_stop, process)
        reader.join()


@dataclass
class Connection:
    session: ClientSession
    transport: Transport
    server: HttpServer | None = None
    transport_errors: list[Exception] = field(default_factory=list)


def _error_recorder() -> tuple[list[Exception], Callable[[Any], Awaitable[None]]]:
    """A ClientSession message handler keeping the transport's exceptions, e.g. a line on
    the server's stdout that is not JSON-RPC."""
    errors: list[Exception] = []

    async def handler(message: Any) -> None:
        if isinstance(message, Exception):
            errors.append(message)

    return errors, handler


@contextlib.asynccontextmanager
async def connect_http(
    server: HttpServer, headers: dict[str, str] | None = None
) -> AsyncIterator[Connection]:
    """An initialized ClientSession to a running SSE or streamable-HTTP server."""
    errors, handler = _error_recorder()

    async with contextlib.AsyncExitStack() as stack:
        if server.transport == "sse":
            read, write = await stack.enter_async_context(
                sse_client(server.url, headers=headers, timeout=CALL_TIMEOUT)
            )
        else:
            http = await stack.enter_async_context(
                httpx2.AsyncClient(headers=headers, timeout=CALL_TIMEOUT)
            )
            read, write = await stack.enter_async_context(
                streamable_http_client(server.url, http_client=http)
            )
        session = await stack.enter_async_context(ClientSession(
            read, write, read_timeout_seconds=CALL_TIMEOUT, message_handler=handler,
        ))
        with anyio.fail_after(CALL_TIMEOUT):
            await session.initialize()
        yield Connection(session=session, transport=server.transport, server=server,
                         transport_errors=errors)


@contextlib.asynccontextmanager
async def stdio_session(
    tmp_path: Path,
    *,
    user: str = "alice",
    embedder: str = "none",
    env: dict[str, str] | None = None,
    errlog: IO[str] | None = None,
    initialize: bool = True,
) -> AsyncIterator[Connection]:
    """A ClientSession over stdio to ``memvault serve`` spawned by the mcp client."""
    errors, handler = _error_recorder()

    params = StdioServerParameters(
        command=str(MEMVAULT),
        args=memvault_args(tmp_path / "m.db", user=user, embedder=embedder),
        env=clean_env(env),
        cwd=tmp_path,
    )
    log = errlog
    with contextlib.ExitStack() as files:
        if log is None:
            log = files.enter_context((tmp_path / "stderr.log").open("w", encoding="utf-8"))
        async with stdio_client(params, errlog=log) as (read, write), ClientSession(
            read, write, read_timeout_seconds=CALL_TIMEOUT, message_handler=handler,
        ) as session:
            if initialize:
                with anyio.fail_after(CALL_TIMEOUT):
                    await session.initialize()
            yield Connection(session=session, transport="stdio", transport_errors=errors)


@contextlib.asynccontextmanager
async def open_session(
    transport: Transport,
    tmp_path: Path,
    *,
    user: str = "alice",
    env: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> AsyncIterator[Connection]:
    """A fresh server on its own database and one initialized client session to it."""
    if transport == "stdio":
        async with stdio_session(tmp_path, user=user, env=env) as conn:
            yield conn
        return
    async with running_server(tmp_path, transport, user=user, env=env) as server, \
            connect_http(server, headers) as conn:
        yield conn


def text_of(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


async def call_ok(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call ``tool``; it must succeed. Returns its structured content."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, f"{tool}({arguments!r}) failed: {text_of(result)}"
    assert result.structured_content is not None, f"{tool} returned no structured content"
    return result.structured_content


async def call_error(session: ClientSession, tool: str, **arguments: Any) -> str:
    """Call ``tool``; it must fail with ``is_error``. Returns the error text."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, f"{tool}({arguments!r}) should have failed: {result!r}"
    message = text_of(result)
    assert message, f"{tool} failed without a message"
    return message


@dataclass(frozen=True)
class Snapshot:
    memories: list[dict[str, Any]]
    profile: dict[str, Any]


async def snapshot(session: ClientSession) -> Snapshot:
    """Everything the caller's user has stored: every memory (following cursors) and the
    profile with its history."""
    memories: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        arguments: dict[str, Any] = {"limit": 100}
        if cursor is not None:
            arguments["cursor"] = cursor
        page = await call_ok(session, "list_memories", **arguments)
        memories += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    profile = await call_ok(session, "get_profile", include_history=True)
    return Snapshot(memories=memories, profile=profile)


@contextlib.asynccontextmanager
async def inprocess_client(database: Path, user_id: str = "alice", **settings: Any
                           ) -> AsyncIterator[Client]:
    """The official client connected in process to a server on ``database`` (no embedder);
    ``settings`` are further configuration keys."""
    config = Config.from_flat({"database": str(database), "user_id": user_id,
                               "embedder": "none", **settings})
    runtime = Runtime(config=config)
    async with anyio.create_task_group() as group:
        group.start_soon(runtime.keep_open)
        async with Client(build_server(runtime)) as connected:
            yield connected
        group.cancel_scope.cancel()
