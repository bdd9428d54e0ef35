"""Profile extraction through the real doors: an add over MCP does not wait for the model, a
killed server loses no queued job, two servers on one file never extract a memory twice.
The model is the scripted chat server of tests/fake_chat.py on a loopback port."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx2
import pytest
from mcp import Client

from memvault import Config, Memvault
from memvault.interfaces.mcp.server import build_server
from memvault.interfaces.runtime import Runtime
from tests.fake_chat import FakeChat, Scripted, facts, fake_chat
from tests.interfaces.mcp_harness import HttpServer, LineReader, call_ok, running_server

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

WAIT = 60.0
DONE = re.compile(r"extraction of (\S+) done")


def item_script(text: str, body: dict[str, Any]) -> Scripted:
    """``note N`` states ``item_N = N``; the vegan sentence states the diet."""
    if text.startswith("note "):
        number = text.split()[1]
        return facts({"key": f"item_{number}", "value": number, "span": text})
    if "vegan" in text:
        return facts({"key": "diet", "value": "vegan", "span": "vegan",
                      "category": "preference"})
    return facts()


def _llm(url: str, **extra: Any) -> dict[str, Any]:
    return {"model": "scripted", "base_url": url, "retry_seconds": 0.05, **extra}


def _env(url: str, **extra: str) -> dict[str, str]:
    return {"MEMVAULT_LLM_MODEL": "scripted", "MEMVAULT_LLM_BASE_URL": url,
            "MEMVAULT_LLM_RETRY_SECONDS": "0.05",
            "MEMVAULT_LLM_REQUESTS_PER_MINUTE": "100000", **extra}


async def test_an_mcp_add_does_not_wait_and_the_profile_cites_it(tmp_path: Path) -> None:
    with fake_chat(item_script) as chat:
        chat.gate.clear()
        config = Config.from_flat({"database": str(tmp_path / "m.db"), "user_id": "alice",
                                   "embedder": "none", "llm": _llm(chat.url)})
        runtime = Runtime(config=config)
        async with anyio.create_task_group() as group:
            group.start_soon(runtime.keep_open)
            async with Client(build_server(runtime)) as client:
                started = time.perf_counter()
                added = await call_ok(client, "add_memory",  # type: ignore[arg-type]
                                      content="I've been vegan since March")
                took = time.perf_counter() - started
                # The model has the request and holds it: the add returned without it.
                assert await anyio.to_thread.run_sync(chat.wait_for_requests, 1)
                assert took < 5.0
                profile = await call_ok(client, "get_profile")  # type: ignore[arg-type]
                assert profile["facts"] == []
                chat.gate.set()
                mv = await runtime.require()
                assert await mv.extraction.wait_until_done(WAIT)
                profile = await call_ok(client, "get_profile")  # type: ignore[arg-type]
                [fact] = profile["facts"]
                assert (fact["key"], fact["value"]) == ("diet", "vegan")
                assert fact["source_memory_ids"] == [added["id"]]
            group.cancel_scope.cancel()


async def _add_notes(server: HttpServer, numbers: range) -> None:
    async with httpx2.AsyncClient(base_url=server.base, timeout=30) as http:
        items = [{"content": f"note {n}"} for n in numbers]
        response = await http.post("/v1/memories/batch", json={"items": items})
        assert response.status_code in (200, 201), response.text


def _done_lines(reader: LineReader, count: int, timeout: float) -> set[str]:
    """Wait (bounded) until the server logged ``count`` finished jobs; their memory ids."""
    deadline = time.monotonic() + timeout
    with reader._cond:
        while True:
            found = {m.group(1) for line in reader.lines if (m := DONE.search(line))}
            left = deadline - time.monotonic()
            if len(found) >= count or reader._closed or left <= 0:
                return found
            reader._cond.wait(left)


def _done_by_either(first: HttpServer, second: HttpServer, count: int) -> set[str]:
    """Wait (bounded) until the two servers together logged ``count`` finished jobs."""
    deadline = time.monotonic() + WAIT
    while True:
        found = _done_lines(first.stderr, 0, 0) | _done_lines(second.stderr, 0, 0)
        left = deadline - time.monotonic()
        if len(found) >= count or left <= 0:
            return found
        # A new line of the first server, or a slice of the wait: then look at both again.
        _done_lines(first.stderr, len(_done_lines(first.stderr, 0, 0)) + 1, min(0.2, left))


async def _finish_here(tmp_path: Path, chat: FakeChat) -> None:
    """Work off whatever is still queued in this process (after the servers stopped)."""
    config = Config.from_flat({"database": str(tmp_path / "m.db"), "user_id": "alice",
                               "embedder": "none", "llm": _llm(chat.url)})
    async with Memvault(config) as mv:
        assert await mv.extraction.wait_until_done(WAIT)


def _stored(tmp_path: Path) -> tuple[dict[str, str], dict[str, int]]:
    with contextlib.closing(sqlite3.connect(tmp_path / "m.db")) as conn:
        facts_by_key = {k: json.loads(v) for k, v in conn.execute(
            "SELECT key, value FROM profile_facts WHERE valid_to IS NULL")}
        states = dict(conn.execute(
            "SELECT state, count(*) FROM extraction_jobs GROUP BY state").fetchall())
    return facts_by_key, states


async def test_a_killed_server_loses_no_queued_job(tmp_path: Path) -> None:
    with fake_chat(item_script) as chat:
        chat.gate.clear()  # the first server's model never answers
        env = _env(chat.url, MEMVAULT_LLM_LEASE_SECONDS="2")
        async with running_server(tmp_path, "http", env=env) as server:
            await _add_notes(server, range(100))
            assert await anyio.to_thread.run_sync(chat.wait_for_requests, 1)
            os.kill(server.process.pid, signal.SIGKILL)
            server.process.wait(10)
        _, states = _stored(tmp_path)
        assert states == {"queued": 100}
        chat.gate.set()
        async with running_server(tmp_path, "http", env=env) as server:
            done = await anyio.to_thread.run_sync(_done_lines, server.stderr, 100, WAIT)
            assert len(done) == 100
        await _finish_here(tmp_path, chat)
        facts_by_key, states = _stored(tmp_path)
        assert states == {"done": 100}
        assert facts_by_key == {f"item_{n}": str(n) for n in range(100)}
        # Only the job the killed server held was asked twice.
        assert sorted(chat.counts.values()) == [1] * 99 + [2]


async def test_two_servers_never_extract_one_memory_twice(tmp_path: Path) -> None:
    with fake_chat(item_script) as chat:
        env = _env(chat.url, MEMVAULT_LLM_CONCURRENCY="2")
        async with running_server(tmp_path, "http", env=env) as first, \
                running_server(tmp_path, "http", env=env) as second:
            async with anyio.create_task_group() as group:
                group.start_soon(_add_notes, first, range(0, 60))
                group.start_soon(_add_notes, second, range(60, 120))
            done = await anyio.to_thread.run_sync(_done_by_either, first, second, 120)
            assert len(done) == 120
        await _finish_here(tmp_path, chat)
        facts_by_key, states = _stored(tmp_path)
        assert states == {"done": 120}
        assert len(facts_by_key) == 120
        assert set(chat.counts.values()) == {1}, chat.counts.most_common(3)
        # Both servers did some of the work.
        assert _done_lines(first.stderr, 0, 0)
        assert _done_lines(second.stderr, 0, 0)

