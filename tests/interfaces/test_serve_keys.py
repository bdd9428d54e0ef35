"""A server whose store key is missing or wrong: ``memvault serve`` refuses to start over
every transport with one line naming the key setting, before it listens; a store that stops
reading with the key while serving answers 503, never 500."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from memvault.config import Config
from memvault.core.memvault import Memvault
from memvault.interfaces.runtime import ServeOptions
from memvault.interfaces.serve import build_http_app
from tests.interfaces.mcp_harness import (
    MEMVAULT,
    STARTUP_TIMEOUT,
    call_ok,
    clean_env,
    memvault_args,
    stdio_session,
)

pytest.importorskip("sqlcipher3", reason="the encryption extra (sqlcipher3) is not installed")

pytestmark = pytest.mark.anyio

KEY = "first-secret-passphrase-01"
WRONG = "another-secret-passphrase-02"
SETTING = "MEMVAULT_ENCRYPTION_KEY"


async def _encrypted(tmp_path: Path, key: str | None = KEY) -> Path:
    db = tmp_path / "m.db"
    flat: dict[str, object] = {"database": str(db), "user_id": "alice", "embedder": "none"}
    if key is not None:
        flat["encryption.key"] = key
    async with Memvault(Config.from_flat(flat)) as mv:
        await mv.add("the vault holds Quetzalcoatlus")
    return db


def _serve(tmp_path: Path, transport: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``memvault serve`` on ``tmp_path/m.db``; it must exit on its own, before serving."""
    serve = [] if transport == "stdio" else ["--transport", transport, "--port", "0"]
    command = [str(MEMVAULT), *memvault_args(tmp_path / "m.db", user="alice", serve=serve)]
    return subprocess.run(command, stdin=subprocess.PIPE, capture_output=True, text=True,
                          env=clean_env(env), cwd=tmp_path, timeout=STARTUP_TIMEOUT * 2,
                          check=False)


def _refused(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert done.returncode != 0, done.stderr
    assert done.stdout == ""  # not a byte of MCP: nothing was served
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr  # one line, no traceback, no "serving MCP" log
    [line] = lines
    for text in expected:
        assert text in line, line
    return line


@pytest.mark.parametrize("transport", ["stdio", "sse", "http"])
async def test_a_wrong_key_stops_serve_before_it_listens(tmp_path: Path, transport: str) -> None:
    await _encrypted(tmp_path)
    line = _refused(_serve(tmp_path, transport, {SETTING: WRONG}), SETTING, "does not open")
    assert WRONG not in line


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_a_missing_key_stops_serve(tmp_path: Path, transport: str) -> None:
    await _encrypted(tmp_path)
    _refused(_serve(tmp_path, transport, {}), "no encryption key is configured", SETTING)
    _refused(_serve(tmp_path, transport, {"MEMVAULT_ENCRYPTION_KEY_FILE": str(tmp_path / "k")}),
             "cannot read the encryption key file", "MEMVAULT_ENCRYPTION_KEY_FILE")


async def test_a_plain_store_with_a_key_stops_serve(tmp_path: Path) -> None:
    await _encrypted(tmp_path, key=None)
    _refused(_serve(tmp_path, "sse", {SETTING: KEY}), "not encrypted", "memvault encrypt")


async def test_the_right_key_serves(tmp_path: Path) -> None:
    """The check lets a good configuration through: the stdio server answers the handshake
    (and a new store, no file yet, is created under the key)."""
    await _encrypted(tmp_path)
    async with stdio_session(tmp_path, env={SETTING: KEY}) as conn:
        found = await call_ok(conn.session, "search_memory", query="Quetzalcoatlus")
        assert len(found["hits"]) == 1
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    async with stdio_session(fresh, env={SETTING: KEY}) as conn:
        await call_ok(conn.session, "add_memory", content="a new vault")
    assert not (fresh / "m.db").read_bytes().startswith(b"SQLite format 3")


async def test_a_store_the_key_does_not_open_at_run_time_answers_503(tmp_path: Path) -> None:
    """The HTTP app on a store its key does not open (the file changed after the check):
    every route answers 503 StoreUnavailable naming the key setting, never 500."""
    db = await _encrypted(tmp_path)
    config = Config.from_flat({"database": str(db), "user_id": "alice", "embedder": "none",
                               "encryption.key": WRONG})
    app = build_http_app(config, ServeOptions(transport="http"))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1",
            timeout=30) as client:
        for method, path in [("GET", "/v1/memories"), ("POST", "/v1/memories"),
                             ("GET", "/v1/profile")]:
            response = await client.request(method, path, json={"content": "x"}
                                            if method == "POST" else None)
            assert response.status_code == 503, response.text
            error = response.json()["error"]
            assert error["type"] == "StoreUnavailable"
            assert SETTING in error["message"]
            assert "\n" not in error["message"]
            assert response.headers["Retry-After"] == "1"
        health = await client.get("/health")
        assert health.status_code == 503
