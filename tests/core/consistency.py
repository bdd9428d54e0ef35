"""Helpers for the tests that an add is whole or nothing and that profile history follows
what happened: child processes that can be killed at a chosen moment, the server stores'
URLs on a namespace of the test's own, and a raw look at what an SQLite file committed.

Child processes are fresh interpreters running a script given as text; their stdout is read
line by line by :class:`tests.interfaces.mcp_harness.LineReader`, so waiting for a line is a
wait on a condition with a deadline, never a sleep.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread

from tests.contract.backends import graph, postgres, redis
from tests.interfaces.mcp_harness import LineReader
from tests.services import unavailable
from tests.stores.falkordb_server import shared_server

__all__ = [
    "Child",
    "Committed",
    "committed",
    "falkordb_url",
    "postgres_url",
    "redis_url",
    "settings_for",
    "spawn",
]

EXIT_TIMEOUT = 30.0


@dataclass
class Child:
    """A child interpreter: its process, its stdout as JSON lines, its stderr file."""

    process: subprocess.Popen[str]
    stdout: LineReader
    stderr_path: Path

    def events(self, kind: str) -> list[dict[str, Any]]:
        found = []
        for line in list(self.stdout.lines):
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == kind:
                found.append(event)
        return found

    def wait_for(self, pattern: str, timeout: float) -> None:
        if self.stdout.wait_for(pattern, timeout) is None:
            raise AssertionError(
                f"no line matching {pattern!r} within {timeout}s (exit code "
                f"{self.process.poll()}); stdout:\n{self.stdout.text()}\nstderr:\n{self.stderr}"
            )

    def kill(self) -> None:
        """kill -9, then wait for the process and its stdout to end."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=EXIT_TIMEOUT)
        self.stdout.join(EXIT_TIMEOUT)

    def wait(self) -> int:
        code = self.process.wait(timeout=EXIT_TIMEOUT)
        self.stdout.join(EXIT_TIMEOUT)
        return code

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def spawn(tmp_path: Path, name: str, script: str, args: Sequence[str]) -> Iterator[Child]:
    """Run ``script`` in a fresh interpreter with ``args``; killed on exit if still running.
    Its stdin is a pipe the test may write to (a start barrier)."""
    path = tmp_path / f"{name}.py"
    path.write_text(script, encoding="utf-8")
    stderr_path = tmp_path / f"{name}.stderr"
    with stderr_path.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-W", "ignore::DeprecationWarning", str(path), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True,
            encoding="utf-8",
        )
    assert process.stdout is not None
    child = Child(process=process, stdout=LineReader(process.stdout), stderr_path=stderr_path)
    try:
        yield child
    finally:
        if process.stdin is not None:
            process.stdin.close()
        child.kill()


# -- server stores -------------------------------------------------------------------------------

@asynccontextmanager
async def postgres_url(tmp_path: Path) -> AsyncIterator[str]:
    """A PostgreSQL profile URL on a schema of this test's own (``?schema=``), dropped at the
    end; skips (fails under CI=true) without a server."""
    async with postgres.PROFILE["postgres"](tmp_path):
        yield postgres.with_schema(postgres.server_url(), postgres.schema_for(tmp_path))


@asynccontextmanager
async def settings_for(profile: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """``Memvault.open`` settings for alice without an embedder: one SQLite file for every
    store (``profile="sqlite"``), or that file with the profile store on PostgreSQL
    (``"postgres"``)."""
    base: dict[str, Any] = {"database": str(tmp_path / "m.db"), "user_id": "alice",
                            "embedder": "none"}
    if profile == "sqlite":
        yield base
        return
    async with postgres_url(tmp_path) as url:
        yield {**base, "profile_url": url}


@asynccontextmanager
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    """A Redis working URL on a key prefix of this test's own (``?prefix=``), cleared at the
    end; skips (fails under CI=true) without a server."""
    async with redis.WORKING["redis"](tmp_path):
        yield redis.with_prefix(redis.redis_url(), redis.prefix_for(tmp_path))


@asynccontextmanager
async def falkordb_url(tmp_path: Path) -> AsyncIterator[str]:
    """A FalkorDB episodic URL on a graph of this test's own, dropped at the end."""
    async with graph.falkordb(tmp_path):
        server = await anyio.to_thread.run_sync(shared_server)
        if isinstance(server, str):  # graph.falkordb has already skipped in that case
            unavailable("FalkorDB", server)
            raise AssertionError("unreachable")
        yield server.url(graph.namespace_of(tmp_path))


# -- what an SQLite file committed ---------------------------------------------------------------

@dataclass(frozen=True)
class Committed:
    """Rows read straight from the file: memory id -> metadata, each profile fact as
    ``(key, value, source ids, current)``, and the memory ids working memory holds."""

    memories: dict[str, dict[str, Any]]
    facts: list[tuple[str, Any, list[str], bool]]
    working: list[str]


def committed(database: Path) -> Committed:
    """What ``database`` holds, read with the sqlite3 module (recovering its WAL, as the
    next process to open it would), without going through memvault."""
    conn = sqlite3.connect(database, timeout=30)
    try:
        memories = {row[0]: json.loads(row[1])
                    for row in conn.execute("SELECT id, metadata FROM memories")}
        facts = [(row[0], json.loads(row[1]), json.loads(row[2]), row[3] is None)
                 for row in conn.execute(
                     "SELECT key, value, source_memory_ids, valid_to FROM profile_facts")]
        working = [row[0] for row in conn.execute("SELECT memory_id FROM working_turns")]
    finally:
        conn.close()
    return Committed(memories=memories, facts=facts, working=working)
