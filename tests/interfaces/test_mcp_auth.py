"""The bearer token of the HTTP transports, the refusal to bind publicly without one, and
``GET /health``, against the real ``memvault serve`` subprocess."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.interfaces.mcp_harness import (
    MEMVAULT,
    STARTUP_TIMEOUT,
    HttpServer,
    call_ok,
    clean_env,
    connect_http,
    memvault_args,
    running_server,
)

pytestmark = pytest.mark.timeout(60)

INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "raw-test", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def test_public_bind_without_token_is_refused(tmp_path: Path) -> None:
    """No traffic needed: the server must exit at once, saying why."""
    variants: list[tuple[list[str], dict[str, str]]] = [
        (["--transport", "http", "--host", "0.0.0.0"], {}),
        (["--transport", "sse", "--host", "0.0.0.0", "--token", ""], {"MEMVAULT_TOKEN": ""}),
    ]
    processes = []
    for n, (serve, env) in enumerate(variants):
        command = [str(MEMVAULT), *memvault_args(tmp_path / f"m{n}.db", user="alice",
                                                 serve=[*serve, "--port", "0"])]
        processes.append(subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=clean_env(env), cwd=tmp_path,
        ))
    try:
        for (serve, _), process in zip(variants, processes, strict=True):
            _, err = process.communicate(timeout=STARTUP_TIMEOUT)
            assert process.returncode != 0, serve
            assert "token" in err.lower(), err
            assert "MEMVAULT_TOKEN" in err, err
            assert "0.0.0.0" in err, err
            assert "memvault token" in err, err
            assert "serving MCP" not in err, err
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


ENV_TOKEN = "tok-env-77c1-0123456789"


async def _raw(
    server: HttpServer, method: str, path: str, headers: dict[str, str] | None = None,
    body: Any = None,
) -> httpx2.Response:
    async with httpx2.AsyncClient(base_url=server.base, timeout=10) as http:
        return await http.request(method, path, headers=headers, json=body)


def _check_unauthorized(response: httpx2.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["error"]


async def _check_health(server: HttpServer, token: str) -> None:
    """Without the token /health answers its status only; with it, the full report."""
    for headers in (None, {"Authorization": "Bearer wrong"}):
        response = await _raw(server, "GET", "/health", headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "ok"}
    for headers in ({"Authorization": f"Bearer {token}"},):
        response = await _raw(server, "GET", "/health", headers)
        assert response.status_code == 200, response.text
        health = response.json()
        assert health["status"] == "ok"
        assert health["embedder"] == "disabled"
        stores = {s["role"]: s for s in health["stores"]}
        assert set(stores) == {"episodic", "profile", "working"}
        for store in stores.values():
            assert store["ok"] is True
            assert store["backend"] == "sqlite"
            assert str(server_db(server)) in store["location"]


def server_db(server: HttpServer) -> Path:
    command: list[str] = list(server.process.args)  # type: ignore[arg-type]
    return Path(command[command.index("--database") + 1])


@pytest.mark.anyio
async def test_token_flag_guards_http(tmp_path: Path) -> None:
    async with running_server(tmp_path, "http", token="tok-3f9a") as server:
        for auth in (None, "Bearer wrong", "tok-3f9a", "Bearer tok-3f9a-and-more", "Basic secret"):
            headers = dict(MCP_HEADERS)
            if auth is not None:
                headers["Authorization"] = auth
            _check_unauthorized(await _raw(server, "POST", "/mcp", headers, INITIALIZE))
        _check_unauthorized(await _raw(server, "GET", "/mcp"))
        _check_unauthorized(await _raw(server, "GET", "/nowhere"))

        good = {**MCP_HEADERS, "Authorization": "Bearer tok-3f9a"}
        response = await _raw(server, "POST", "/mcp", good, INITIALIZE)
        assert response.status_code == 200, response.text
        assert '"serverInfo"' in response.text
        # a loopback bind keeps DNS-rebinding protection, token or not
        response = await _raw(server, "POST", "/mcp", {**good, "Host": "evil.example"},
                              INITIALIZE)
        assert response.status_code == 421, response.text

        async with connect_http(server, {"Authorization": "Bearer tok-3f9a",
                                         "X-User-ID": "carol"}) as conn:
            added = await call_ok(conn.session, "add_memory", content="Token-guarded memory")
            found = await call_ok(conn.session, "search_memory", query="guarded memory")
            assert [h["memory"]["id"] for h in found["hits"]] == [added["id"]]
            assert conn.transport_errors == []
        # after a tool call the Memvault is open, so the health check is deterministic
        await _check_health(server, "tok-3f9a")
    assert "tok-3f9a" not in server.stderr.text(), "the token was logged"


@pytest.mark.anyio
async def test_token_from_environment_allows_public_bind_and_guards_sse(
    tmp_path: Path,
) -> None:
    """MEMVAULT_TOKEN alone satisfies the public-bind rule; traffic still goes to 127.0.0.1."""
    async with running_server(tmp_path, "sse", host="0.0.0.0",
                              env={"MEMVAULT_TOKEN": ENV_TOKEN}) as server:
        assert server.logged_url.startswith("http://0.0.0.0:")
        _check_unauthorized(await _raw(server, "GET", "/sse"))
        _check_unauthorized(await _raw(server, "GET", "/sse",
                                       {"Authorization": "Bearer tok-3f9a"}))
        _check_unauthorized(await _raw(server, "POST", "/messages/?session_id=00",
                                       {"Authorization": "Bearer wrong"}, INITIALIZE))
        async with connect_http(server, {"Authorization": f"Bearer {ENV_TOKEN}"}) as conn:
            added = await call_ok(conn.session, "add_memory", content="Env token memory",
                                  profile={"editor": "vim"})
            found = await call_ok(conn.session, "search_memory", query="env token")
            assert [h["memory"]["id"] for h in found["hits"]] == [added["id"]]
            profile = await call_ok(conn.session, "get_profile")
            assert [f["value"] for f in profile["facts"]] == ["vim"]
            assert conn.transport_errors == []
        await _check_health(server, ENV_TOKEN)
    assert ENV_TOKEN not in server.stderr.text(), "the token was logged"
