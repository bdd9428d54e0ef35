"""What guards the HTTP server as a whole, against the real ``memvault serve`` subprocess.

The contract:

* **Host and Origin, every route.** One check covers the whole app: ``/mcp``, ``/sse``,
  ``/messages/``, every route of docs/openapi.json and ``/health``. A request whose ``Host``
  is not allowed answers 421, one whose ``Origin`` is not allowed answers 403 (the MCP SDK's
  convention), before any handler runs: nothing is read, stored or deleted. Allowed by
  default: ``127.0.0.1``, ``localhost`` and ``[::1]`` with any port or none, and the
  ``http://`` origins of those; a request without ``Origin`` (curl, SDKs) is fine. ``serve
  --allowed-host HOST`` and ``--allowed-origin ORIGIN`` (repeatable) add a deployment's
  names to the defaults; a HOST given without a port is allowed on any port and without one.
* **/health** without the token, when the server has one, answers ``{"status": ...}`` and
  nothing else (no database path, counts, Redis prefix or embedder state); with the token it
  answers the full report.
* **The token.** The ``Authorization`` scheme is case-insensitive (``bearer <token>``). On a
  non-loopback bind a blank token or one under 16 characters is refused at start: the server
  exits non-zero with one line that says to run ``memvault token``. ``memvault token``
  prints a new random URL-safe token of at least 32 characters.
* **Identity headers** (``X-User-ID``, ``X-Agent-ID``, ``X-Session-ID``) are ASCII:
  percent-encoded UTF-8 is decoded (``X-User-ID: caf%C3%A9`` is the user ``café``, the one
  ``memvault --user café`` reads), and a raw non-ASCII byte is refused with 400 naming the
  header, on REST and on MCP over HTTP alike.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.to_thread
import httpx2
import pytest

from tests.interfaces.mcp_harness import (
    MEMVAULT,
    STARTUP_TIMEOUT,
    HttpServer,
    LineReader,
    call_ok,
    clean_env,
    connect_http,
    memvault_args,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

DOC_FILE = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
READY = re.compile(r"serving MCP over \w+ at http://\S+:(?P<port>\d+)/")
TOKEN = "tok-0123456789abcdef-guard"
SEED = "Seeded memory: the spare key is under the blue pot"
INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "guard-test", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}
# The body each documented operation gets; an operation not listed here gets {}.
BODIES: dict[str, Any] = {
    "add_memory": {"content": "Written through a rebinding attack"},
    "add_memories": {"items": [{"content": "Written through a rebinding attack"}]},
    "search_memories": {"query": "spare key"},
    "delete_all_memories": {"confirm": True},
    "set_profile": {"facts": {"city": "Evilton"}},
}


# -- harness -----------------------------------------------------------------------------------

def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _spawn(tmp_path: Path, serve: Sequence[str], env: dict[str, str] | None = None,
           database: str = "m.db") -> tuple[subprocess.Popen[str], LineReader]:
    command = [str(MEMVAULT), *memvault_args(tmp_path / database, user="alice", serve=serve)]
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, encoding="utf-8", env=clean_env(env), cwd=tmp_path,
    )
    assert process.stderr is not None
    return process, LineReader(process.stderr)


@contextlib.asynccontextmanager
async def _serve(
    tmp_path: Path, transport: Literal["http", "sse"] = "http", *, token: str | None = None,
    extra: Sequence[str] = (),
) -> AsyncIterator[HttpServer]:
    """``memvault serve`` on loopback, port 0, with ``extra`` serve options."""
    serve = ["--transport", transport, "--host", "127.0.0.1", "--port", "0", *extra]
    if token is not None:
        serve += ["--token", token]
    process, reader = _spawn(tmp_path, serve)
    try:
        found = await reader.await_line(READY, STARTUP_TIMEOUT)
        yield HttpServer(process=process, stderr=reader, transport=transport,
                         port=int(found["port"]), logged_url=found[0])
    finally:
        await anyio.to_thread.run_sync(_stop, process)
        reader.join()


async def _send(
    server: HttpServer, method: str, path: str,
    headers: dict[str, Any] | list[tuple[str, Any]] | None = None,
    body: Any = None,
) -> tuple[int, str]:
    """Status and (at most the first 64 KiB of the) body; streams like /sse are not read to
    their end."""
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            httpx2.AsyncClient(base_url=server.base, timeout=10))
        response = await stack.enter_async_context(
            http.stream(method, path, headers=headers, json=body))
        text = b""
        async for chunk in response.aiter_bytes():
            text += chunk
            if len(text) > 65536 or path == "/sse":
                break
        return response.status_code, text.decode("utf-8", "replace")


def _documented_routes(memory_id: str) -> list[tuple[str, str, Any]]:
    """(method, path, body) of every operation in docs/openapi.json."""
    doc = json.loads(DOC_FILE.read_text(encoding="utf-8"))
    routes = []
    for template, operations in doc["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            path = re.sub(r"\{\w+\}", memory_id, template)
            if template.startswith("/") and not template.startswith(("/v1", "/health")):
                path = "/v1" + path
            body = BODIES.get(operation.get("operationId", ""), {}) \
                if "requestBody" in operation else None
            routes.append((method.upper(), path, body))
    return sorted(routes, key=_harm)


def _harm(route: tuple[str, str, Any]) -> int:
    """Reads first, then writes, then deletions: a leak check after a delete sees nothing."""
    method, path, _ = route
    if method == "GET" or path.endswith("/search"):
        return 0
    return 3 if path.endswith("/delete-all") else 2 if method == "DELETE" else 1


def _every_route(server: HttpServer, memory_id: str) -> list[tuple[str, str, Any]]:
    routes = _documented_routes(memory_id)
    if ("GET", "/health", None) not in routes:
        routes.append(("GET", "/health", None))
    if server.transport == "http":
        routes += [("POST", "/mcp", INITIALIZE), ("GET", "/mcp", None)]
    else:
        routes += [("GET", "/sse", None),
                   ("POST", "/messages/?session_id=" + "0" * 32, INITIALIZE)]
    return routes


def _auth(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


async def _seed(server: HttpServer, token: str | None = None) -> str:
    """One memory and one profile fact for alice, through an allowed request."""
    async with httpx2.AsyncClient(base_url=server.base, timeout=10,
                                  headers=_auth(token)) as http:
        added = await http.post("/v1/memories", json={"content": SEED,
                                                      "profile": {"city": "Lisbon"}})
        assert added.status_code == 201, added.text
        memory_id: str = added.json()["id"]
        return memory_id


async def _state(server: HttpServer, token: str | None = None) -> tuple[list[str], Any]:
    """Alice's memory contents and profile, read through allowed requests."""
    async with httpx2.AsyncClient(base_url=server.base, timeout=10,
                                  headers=_auth(token)) as http:
        listed = await http.get("/v1/memories", params={"limit": 100})
        assert listed.status_code == 200, listed.text
        profile = await http.get("/v1/profile", params={"include_history": "true"})
        assert profile.status_code == 200, profile.text
        return [m["content"] for m in listed.json()["items"]], profile.json()


def _db(server: HttpServer) -> str:
    command: list[str] = list(server.process.args)  # type: ignore[arg-type]
    return command[command.index("--database") + 1]


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(MEMVAULT), *args], capture_output=True, text=True,
                          encoding="utf-8", env=clean_env(), cwd=tmp_path,
                          timeout=STARTUP_TIMEOUT, check=False)


def _cli_contents(tmp_path: Path, database: str, user: str) -> list[str]:
    done = _cli(tmp_path, "--database", database, "--user", user, "--embedder", "none",
                "list", "--limit", "100", "--json")
    assert done.returncode == 0, done.stderr
    return [m["content"] for m in json.loads(done.stdout)["items"]]


# -- 1: Host and Origin ------------------------------------------------------------------------

async def _sweep(server: HttpServer, headers: dict[str, str], status: int,
                 token: str | None = None) -> None:
    """Every route with ``headers`` answers ``status``, leaks nothing and changes nothing."""
    memory_id = await _seed(server, token)
    before = await _state(server, token)
    wrong = []
    for method, path, body in _every_route(server, memory_id):
        sent = {**MCP_HEADERS, **_auth(token), **headers}
        got, text = await _send(server, method, path, sent, body)
        if got != status:
            wrong.append(f"{method} {path} -> {got}")
        if SEED in text or "Lisbon" in text or _db(server) in text:
            wrong.append(f"{method} {path} leaked stored data or the database path")
    assert wrong == [], f"expected {status} on every route:\n" + "\n".join(wrong)
    assert await _state(server, token) == before, "a refused request changed stored data"


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_foreign_host_is_refused_on_every_route(
    tmp_path: Path, transport: Literal["http", "sse"]
) -> None:
    async with _serve(tmp_path, transport) as server:
        await _sweep(server, {"Host": f"evil.example:{server.port}"}, 421)
        await _sweep(server, {"Host": "evil.example"}, 421)


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_foreign_origin_is_refused_on_every_route(
    tmp_path: Path, transport: Literal["http", "sse"]
) -> None:
    async with _serve(tmp_path, transport) as server:
        await _sweep(server, {"Origin": f"http://evil.example:{server.port}"}, 403)
        await _sweep(server, {"Origin": "null"}, 403)


async def test_foreign_origin_is_refused_with_a_token_too(tmp_path: Path) -> None:
    """A token does not replace the Origin check: a page may hold no token but a proxy may
    add one."""
    async with _serve(tmp_path, token=TOKEN) as server:
        await _sweep(server, {"Origin": "http://evil.example"}, 403, token=TOKEN)


async def test_export_and_delete_all_through_rebinding_do_nothing(tmp_path: Path) -> None:
    """The two requests a rebinding page would send first."""
    async with _serve(tmp_path) as server:
        await _seed(server)
        evil = {"Host": f"evil.example:{server.port}",
                "Origin": f"http://evil.example:{server.port}"}
        status, text = await _send(server, "GET", "/v1/export", evil)
        assert status == 421, f"export with a foreign Host answered {status}"
        assert SEED not in text, "export with a foreign Host returned the memories"
        status, _ = await _send(server, "POST", "/v1/memories/delete-all",
                                {"Origin": f"http://evil.example:{server.port}"},
                                {"confirm": True})
        assert status == 403, f"delete-all with a foreign Origin answered {status}"
        contents, _ = await _state(server)
        assert contents == [SEED]


async def test_allowed_host_and_origin_flags_admit_a_deployment(tmp_path: Path) -> None:
    extra = ["--allowed-host", "memory.example.com", "--allowed-host", "10.0.0.5",
             "--allowed-origin", "https://app.example.com"]
    async with _serve(tmp_path, extra=extra) as server:
        memory_id = await _seed(server)
        admitted = [
            {"Host": "memory.example.com"},
            {"Host": f"memory.example.com:{server.port}"},
            {"Host": "10.0.0.5:8443", "Origin": "https://app.example.com"},
            {"Host": "memory.example.com", "Origin": "https://app.example.com"},
            # the loopback defaults stay
            {"Host": f"localhost:{server.port}", "Origin": f"http://localhost:{server.port}"},
            {"Host": f"127.0.0.1:{server.port}", "Origin": f"http://127.0.0.1:{server.port}"},
        ]
        for headers in admitted:
            for method, path, body in [("GET", "/health", None),
                                       ("GET", "/v1/memories", None),
                                       ("GET", f"/v1/memories/{memory_id}", None),
                                       ("POST", "/v1/memories/search", {"query": "spare key"}),
                                       ("POST", "/mcp", INITIALIZE)]:
                status, text = await _send(server, method, path, {**MCP_HEADERS, **headers},
                                           body)
                assert status == 200, f"{method} {path} with {headers}: {status} {text}"
        refused = [
            ({"Host": "evil.example"}, 421),
            ({"Host": "memory.example.com.evil.example"}, 421),
            ({"Host": "memory.example.com", "Origin": "https://evil.example"}, 403),
            ({"Host": "memory.example.com", "Origin": "http://app.example.com"}, 403),
            ({"Host": "evil.example", "Origin": "https://app.example.com"}, 421),
        ]
        for headers, expected in refused:
            for path in ("/health", "/v1/memories"):
                status, _ = await _send(server, "GET", path, headers)
                assert status == expected, f"GET {path} with {headers}: {status}"


# -- 3: /health --------------------------------------------------------------------------------

async def test_health_without_the_token_answers_status_only(tmp_path: Path) -> None:
    async with _serve(tmp_path, token=TOKEN) as server:
        await _seed(server, TOKEN)  # opens the Memvault, so the report is deterministic
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                        {"Authorization": f"Basic {TOKEN}"}):
            status, text = await _send(server, "GET", "/health", headers)
            assert status == 200, text
            assert json.loads(text) == {"status": "ok"}, f"{headers}: {text}"
            assert _db(server) not in text
        status, text = await _send(server, "GET", "/health", _auth(TOKEN))
        assert status == 200, text
        report = json.loads(text)
        assert report["status"] == "ok"
        assert report["embedder"] == "disabled"
        assert {s["role"] for s in report["stores"]} == {"episodic", "profile", "working"}
        assert all(_db(server) in s["location"] for s in report["stores"])


# -- 4: the token ------------------------------------------------------------------------------

async def test_bearer_scheme_is_case_insensitive(tmp_path: Path) -> None:
    async with _serve(tmp_path, token=TOKEN) as server:
        for scheme in ("bearer", "BEARER", "bEaReR"):
            headers = {**MCP_HEADERS, "Authorization": f"{scheme} {TOKEN}"}
            status, text = await _send(server, "GET", "/v1/memories", headers)
            assert status == 200, f"{scheme}: {status} {text}"
            status, text = await _send(server, "POST", "/mcp", headers, INITIALIZE)
            assert status == 200, f"{scheme}: {status} {text}"
            assert '"serverInfo"' in text
            status, _ = await _send(server, "GET", "/v1/memories",
                                    {"Authorization": f"{scheme} {TOKEN}x"})
            assert status == 401


def _refused_at_start(tmp_path: Path, n: int, serve: list[str], env: dict[str, str]) -> str:
    """Start ``serve`` on 0.0.0.0; it must exit non-zero without serving. Its stderr."""
    process, reader = _spawn(tmp_path, ["--transport", "http", "--host", "0.0.0.0",
                                        "--port", "0", *serve], env, database=f"m{n}.db")
    try:
        served = reader.wait_for(READY, STARTUP_TIMEOUT)
        assert served is None, f"{serve} {env}: the server started: {served[0]}"
        process.wait(timeout=10)
    finally:
        _stop(process)
        reader.join()
    assert process.returncode != 0, f"{serve} {env}: exit status 0"
    return reader.text()


def test_blank_or_short_token_is_refused_on_a_public_bind(tmp_path: Path) -> None:
    variants: list[tuple[list[str], dict[str, str]]] = [
        (["--token", "short-token-15c"], {}),
        (["--token", "   "], {}),
        (["--token", " " * 20], {}),
        ([], {"MEMVAULT_TOKEN": "0123456789abcde"}),
        ([], {"MEMVAULT_TOKEN": "  "}),
    ]
    for n, (serve, env) in enumerate(variants):
        err = _refused_at_start(tmp_path, n, serve, env)
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1, f"{serve} {env}: not one line:\n{err}"
        assert "memvault token" in lines[0], f"{serve} {env}: {lines[0]}"
        assert "short-token-15c" not in err, "the token was logged"
        assert "0123456789abcde" not in err, "the token was logged"


def test_memvault_token_prints_a_new_random_token(tmp_path: Path) -> None:
    tokens = []
    for _ in range(2):
        done = _cli(tmp_path, "token")
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert len(lines) == 1, done.stdout
        assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", lines[0]), lines[0]
        tokens.append(lines[0])
    assert tokens[0] != tokens[1]


async def test_a_sixteen_character_token_serves_publicly(tmp_path: Path) -> None:
    """The lower bound of the length rule, and a token from ``memvault token``."""
    done = _cli(tmp_path, "token")
    assert done.returncode == 0, done.stderr
    for n, token in enumerate(["0123456789abcdef", done.stdout.strip()]):
        process, reader = _spawn(tmp_path, ["--transport", "http", "--host", "0.0.0.0",
                                            "--port", "0", "--token", token],
                                 database=f"m{n}.db")
        try:
            await reader.await_line(READY, STARTUP_TIMEOUT)
        finally:
            await anyio.to_thread.run_sync(_stop, process)
            reader.join()


# -- 5: identity headers -----------------------------------------------------------------------

async def test_percent_encoded_identity_headers_are_decoded_on_rest(tmp_path: Path) -> None:
    async with _serve(tmp_path) as server:
        headers = {"X-User-ID": "caf%C3%A9", "X-Agent-ID": "caf%C3%A9-bot",
                   "X-Session-ID": "s%C3%A9ance-1"}
        async with httpx2.AsyncClient(base_url=server.base, timeout=10,
                                      headers=headers) as http:
            added = await http.post("/v1/memories", json={"content": "Through REST"})
            assert added.status_code == 201, added.text
            memory = added.json()
            assert memory["user_id"] == "café"
            assert memory["agent_id"] == "café-bot"
            assert memory["session_id"] == "séance-1"
        assert _cli_contents(tmp_path, _db(server), "café") == ["Through REST"]

        done = _cli(tmp_path, "--database", _db(server), "--user", "café", "--embedder",
                    "none", "add", "Through the CLI")
        assert done.returncode == 0, done.stderr
        async with httpx2.AsyncClient(base_url=server.base, timeout=10,
                                      headers={"X-User-ID": "caf%C3%A9"}) as http:
            listed = await http.get("/v1/memories")
            assert listed.status_code == 200, listed.text
            assert sorted(m["content"] for m in listed.json()["items"]) == [
                "Through REST", "Through the CLI"]


async def test_percent_encoded_identity_headers_are_decoded_on_mcp(tmp_path: Path) -> None:
    async with _serve(tmp_path) as server:
        headers = {"X-User-ID": "caf%C3%A9", "X-Agent-ID": "caf%C3%A9-bot",
                   "X-Session-ID": "s%C3%A9ance-1"}
        async with connect_http(server, headers) as conn:
            added = await call_ok(conn.session, "add_memory", content="Through MCP")
            assert added["session_id"] == "séance-1"
            page = await call_ok(conn.session, "list_memories")
            assert [(m["content"], m["agent_id"]) for m in page["items"]] == [
                ("Through MCP", "café-bot")]
        assert _cli_contents(tmp_path, _db(server), "café") == ["Through MCP"]


@pytest.mark.parametrize("header", ["X-User-ID", "X-Agent-ID", "X-Session-ID"])
async def test_raw_non_ascii_identity_header_is_refused(tmp_path: Path, header: str) -> None:
    raw = {header: "café".encode()}
    async with _serve(tmp_path) as server:
        status, text = await _send(server, "POST", "/v1/memories", raw,
                                   {"content": "Mojibake"})
        assert status == 400, f"REST: {status} {text}"
        assert header.lower() in text.lower(), text
        status, text = await _send(server, "GET", "/v1/memories", raw)
        assert status == 400, f"REST: {status} {text}"
        status, text = await _send(server, "POST", "/mcp", {**MCP_HEADERS, **raw}, INITIALIZE)
        assert status == 400, f"MCP: {status} {text}"
        assert header.lower() in text.lower(), text
        for user in ("alice", "café", "cafÃ©"):
            assert _cli_contents(tmp_path, _db(server), user) == [], user


@pytest.mark.parametrize("header", ["X-User-ID", "X-Agent-ID", "X-Session-ID"])
async def test_a_repeated_identity_header_is_refused(tmp_path: Path, header: str) -> None:
    # A proxy appending its own value must not leave the client's first one to decide.
    twice = [(header, "alice"), (header, "carol")]
    async with _serve(tmp_path) as server:
        for method, path, headers, body in (
                ("POST", "/v1/memories", twice, {"content": "Twice named"}),
                ("GET", "/v1/memories", twice, None),
                ("POST", "/mcp", [*MCP_HEADERS.items(), *twice], INITIALIZE)):
            status, text = await _send(server, method, path, headers, body)
            assert status == 400, f"{method} {path}: {status} {text}"
            assert json.loads(text)["error"]["message"] == (
                f"the {header} header is given more than once")
        for user in ("alice", "carol"):
            assert _cli_contents(tmp_path, _db(server), user) == [], user


async def test_the_host_is_read_in_any_case_and_its_port_must_be_a_number(
        tmp_path: Path) -> None:
    async with _serve(tmp_path) as server:
        status, text = await _send(server, "GET", "/v1/memories",
                                   {"Host": f"LocalHost:{server.port}"})
        assert status == 200, text
        status, text = await _send(server, "POST", "/mcp",
                                   {**MCP_HEADERS, "Host": f"LOCALHOST:{server.port}"},
                                   INITIALIZE)
        assert status == 200, text
        for host in ("localhost:abc", "localhost:", "[::1]:x", "localhost:²".encode("latin-1")):
            status, text = await _send(server, "GET", "/v1/memories", {"Host": host})
            assert status == 421, f"{host}: {status} {text}"
            assert json.loads(text)["error"]["type"] == "MisdirectedRequest"
        status, text = await _send(server, "GET", "/health", {"Origin": "http://evil.example"})
        assert status == 403
        assert "http://evil.example" in json.loads(text)["error"]["message"]
