"""Per-user API keys against the real ``memvault serve --keys``: the key's identity on every
door (MCP over streamable HTTP and SSE, every REST route), scopes, revocation across two
server processes, expiry, the admin key, what the database file holds, and the audit trail.

The MCP tools come from ``tools/list`` and the REST routes from the operation table, so a new
tool or route is covered without a change here.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread
import httpx2
import pytest
from mcp import ClientSession
from mcp.shared.exceptions import MCPError

from memvault.config import Config
from memvault.core.keys import KeyService, open_keys
from memvault.core.timeutil import utc_now
from memvault.interfaces.http.operations import OPERATIONS, Operation
from memvault.models import ApiKey
from tests.contract.backends.postgres import PROFILE as POSTGRES
from tests.interfaces.mcp_harness import (
    MEMVAULT,
    HttpServer,
    call_error,
    call_ok,
    clean_env,
    connect_http,
    running_server,
    text_of,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

TOKEN = "admin-token-0123456789abcdef"
KEYS_ON = {"MEMVAULT_KEYS": "1"}


def _config(tmp_path: Path, profile_url: str | None = None) -> Config:
    flat = {"database": str(tmp_path / "m.db"), "embedder": "none"}
    return Config.from_flat(flat if profile_url is None else {**flat, "profile_url": profile_url})


async def _key(tmp_path: Path, user: str, scope: str = "write", profile_url: str | None = None,
               **more: Any) -> tuple[ApiKey, str]:
    async with open_keys(_config(tmp_path, profile_url)) as service:
        return await service.create(user_id=user, scope=scope, **more)


def _bearer(key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


async def _rest(server: HttpServer, method: str, path: str, headers: dict[str, str],
                body: Any = None) -> httpx2.Response:
    async with httpx2.AsyncClient(base_url=server.base, timeout=20) as http:
        return await http.request(method, "/v1" + path, headers=headers, json=body)


def _path(op: Operation, memory_id: str) -> str:
    return op.path.replace("{memory_id}", memory_id)


def _arguments(schema: dict[str, Any]) -> dict[str, Any]:
    """Valid arguments for a tool: a value of the right type for each required one."""
    samples = {"string": "x", "integer": 1, "number": 1.0, "boolean": True, "object": {},
               "array": []}
    props = schema.get("properties", {})
    out: dict[str, Any] = {}
    for name in schema.get("required", []):
        kind = props[name].get("type")
        if kind is None:  # anyOf [T, null]
            kind = next(o["type"] for o in props[name].get("anyOf", []) if o["type"] != "null")
        out[name] = samples[kind]
    return out


@asynccontextmanager
async def _server(tmp_path: Path, transport: Literal["sse", "http"] = "http",
                  profile_url: str | None = None) -> AsyncIterator[HttpServer]:
    env = KEYS_ON if profile_url is None else {**KEYS_ON, "MEMVAULT_PROFILE_URL": profile_url}
    async with running_server(tmp_path, transport, token=TOKEN, env=env) as server:
        yield server


async def _bobs_memory(server: HttpServer) -> str:
    made = await _rest(server, "POST", "/memories", _bearer(TOKEN, **{"X-User-ID": "bob"}),
                       {"content": "Bob's private note", "profile": {"city": "Lyon"}})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def _bob_untouched(server: HttpServer, memory_id: str) -> None:
    listed = await _rest(server, "GET", "/memories", _bearer(TOKEN, **{"X-User-ID": "bob"}))
    assert [m["id"] for m in listed.json()["items"]] == [memory_id]
    profile = await _rest(server, "GET", "/profile", _bearer(TOKEN, **{"X-User-ID": "bob"}))
    assert [f["key"] for f in profile.json()["facts"]] == ["city"]


async def _every_tool_refused(session: ClientSession, memory_id: str, expected: str) -> set[str]:
    refused = set()
    for tool in (await session.list_tools()).tools:
        arguments = _arguments(tool.input_schema)
        if "memory_id" in arguments:
            arguments["memory_id"] = memory_id
        message = await call_error(session, tool.name, **arguments)
        assert expected in message, (tool.name, message)
        refused.add(tool.name)
    return refused


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_another_users_id_is_refused_on_every_tool_and_route(
    tmp_path: Path, transport: Literal["sse", "http"],
) -> None:
    _, alice = await _key(tmp_path, "alice")
    async with _server(tmp_path, transport) as server:
        bobs = await _bobs_memory(server)
        headers = _bearer(alice, **{"X-User-ID": "bob"})
        async with connect_http(server, headers) as conn:
            refused = await _every_tool_refused(conn.session, bobs, "X-User-ID 'bob'")
            assert "delete_all_memories" in refused
            assert "add_memory" in refused
            with pytest.raises(MCPError, match="X-User-ID 'bob'"):
                await conn.session.read_resource("memvault://profile")
        for op in OPERATIONS:
            response = await _rest(server, op.method, _path(op, bobs), headers, {})
            assert response.status_code == 403, (op.name, response.text)
            error = response.json()["error"]
            assert error["type"] == "Forbidden", op.name
            assert "X-User-ID 'bob'" in error["message"]
            assert "\n" not in error["message"]
        await _bob_untouched(server, bobs)

        # without the header the key acts as its own user, on both doors
        async with connect_http(server, _bearer(alice)) as conn:
            added = await call_ok(conn.session, "add_memory", content="Alice's own note")
        mine = await _rest(server, "GET", f"/memories/{added['id']}",
                           _bearer(alice, **{"X-User-ID": "alice"}))
        assert mine.status_code == 200, mine.text
        assert mine.json()["user_id"] == "alice"


async def test_a_read_key_reads_and_cannot_write(tmp_path: Path) -> None:
    _, reader = await _key(tmp_path, "alice", scope="read")
    async with _server(tmp_path) as server:
        seeded = await _rest(server, "POST", "/memories", _bearer(TOKEN, **{"X-User-ID": "alice"}),
                             {"content": "Alice likes tea"})
        memory_id = seeded.json()["id"]
        async with connect_http(server, _bearer(reader)) as conn:
            tools = {t.name: t for t in (await conn.session.list_tools()).tools}
            for name, tool in tools.items():
                arguments = _arguments(tool.input_schema)
                if "memory_id" in arguments:
                    arguments["memory_id"] = memory_id
                result = await conn.session.call_tool(name, arguments)
                writes = not (tool.annotations and tool.annotations.read_only_hint)
                if writes:
                    assert result.is_error, name
                    assert "needs a write credential" in text_of(result), name
                else:
                    assert "credential" not in text_of(result), (name, text_of(result))
            found = await call_ok(conn.session, "search_memory", query="tea")
            assert [h["memory"]["id"] for h in found["hits"]] == [memory_id]
        for op in OPERATIONS:
            response = await _rest(server, op.method, _path(op, memory_id), _bearer(reader), {})
            if op.scope == "read":
                assert response.status_code != 403, (op.name, response.text)
            else:
                assert response.status_code == 403, (op.name, response.text)
                assert "needs a write credential" in response.json()["error"]["message"]
        still = await _rest(server, "GET", f"/memories/{memory_id}", _bearer(reader))
        assert still.status_code == 200, still.text


async def test_an_admin_key_acts_for_any_user(tmp_path: Path) -> None:
    _, admin = await _key(tmp_path, "alice", scope="admin")
    async with _server(tmp_path) as server:
        bobs = await _bobs_memory(server)
        as_bob = _bearer(admin, **{"X-User-ID": "bob"})
        async with connect_http(server, as_bob) as conn:
            listed = await call_ok(conn.session, "list_memories")
            assert [m["id"] for m in listed["items"]] == [bobs]
        gone = await _rest(server, "POST", "/memories/delete-all", as_bob, {"confirm": True})
        assert gone.status_code == 200, gone.text
        assert gone.json()["memories"] == 1
        own = await _rest(server, "GET", "/memories", _bearer(admin))
        assert own.status_code == 200  # bound to alice: acts as alice without the header


@asynccontextmanager
async def _profile_url(backend: str, tmp_path: Path) -> AsyncIterator[str | None]:
    """``None`` (the SQLite file) or a fresh PostgreSQL schema, held for the test."""
    if backend == "sqlite":
        yield None
        return
    async with POSTGRES["postgres"](tmp_path / "pg") as store:
        yield str(store.url)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_revoked_key_is_refused_at_once_by_two_servers(
    tmp_path: Path, backend: str,
) -> None:
    async with _profile_url(backend, tmp_path) as url:
        await _revoked_across_servers(tmp_path, url)


async def _revoked_across_servers(tmp_path: Path, url: str | None) -> None:
    key, text = await _key(tmp_path, "alice", profile_url=url)
    async with _server(tmp_path, profile_url=url) as one, \
            _server(tmp_path, profile_url=url) as two:
        assert one.port != two.port
        for server in (one, two):
            ok = await _rest(server, "GET", "/memories", _bearer(text))
            assert ok.status_code == 200, ok.text
        where = () if url is None else ("--profile", url)
        assert "revoked" in await anyio.to_thread.run_sync(
            _cli, tmp_path, *where, "keys", "revoke", key.id)
        for server in (one, two):
            refused = await _rest(server, "GET", "/memories", _bearer(text))
            assert refused.status_code == 401, refused.text
            assert refused.headers["www-authenticate"] == "Bearer"
            async with httpx2.AsyncClient(timeout=20) as http:
                mcp = await http.post(server.url, headers={
                    **_bearer(text), "Accept": "application/json, text/event-stream"},
                    json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
            assert mcp.status_code == 401, mcp.text


async def test_expired_unknown_and_tampered_keys_are_refused(tmp_path: Path) -> None:
    _, expired = await _key(tmp_path, "alice", expires=utc_now() - timedelta(seconds=1))
    _, good = await _key(tmp_path, "alice", expires="30d")
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    unknown = "mvk_" + "0" * 26 + "_" + good.rsplit("_", 1)[1]
    async with _server(tmp_path) as server:
        assert (await _rest(server, "GET", "/memories", _bearer(good))).status_code == 200
        for bad in (expired, tampered, unknown, "mvk_short", good + "x"):
            response = await _rest(server, "GET", "/memories", _bearer(bad))
            assert response.status_code == 401, (bad, response.text)


async def test_only_the_keys_hash_is_stored(tmp_path: Path) -> None:
    key, text = await _key(tmp_path, "alice", name="laptop")
    secret = text.rsplit("_", 1)[1]
    stored = await anyio.to_thread.run_sync(
        lambda: b"".join(path.read_bytes() for path in tmp_path.glob("m.db*")))
    assert key.id.encode() in stored
    assert secret.encode() not in stored
    assert text.encode() not in stored
    async with open_keys(_config(tmp_path)) as service:
        assert isinstance(service, KeyService)
        assert [k.id for k in await service.list("alice")] == [key.id]
        assert await service.check(text) is not None
        assert await service.check(text[:-1]) is None


def _cli(tmp_path: Path, *args: str) -> str:
    done = subprocess.run([str(MEMVAULT), "--database", str(tmp_path / "m.db"), *args],
                          capture_output=True, text=True, env=clean_env(), timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_the_audit_trail_says_who_did_what(tmp_path: Path) -> None:
    made = _cli(tmp_path, "keys", "create", "--user", "alice", "--agent", "crm-bot",
                "--name", "crm")
    text = made.strip().splitlines()[-1]
    key_id = "key_" + text.split("_")[1]
    listed = _cli(tmp_path, "keys", "list")
    assert key_id in listed
    assert text not in listed
    async with _server(tmp_path) as server:
        added = await _rest(server, "POST", "/memories", _bearer(text),
                            {"content": "Meeting moved to Friday", "profile": {"tz": "CET"}})
        memory_id = added.json()["id"]
        async with connect_http(server, _bearer(text)) as conn:
            await call_ok(conn.session, "delete_memory", memory_id=memory_id)
        token_add = await _rest(server, "POST", "/memories",
                                _bearer(TOKEN, **{"X-User-ID": "alice"}), {"content": "x"})
        assert token_add.status_code == 201
        export = await _rest(server, "GET", "/export", _bearer(text))
    _cli(tmp_path, "--user", "alice", "add", "a local note")
    entries = [json.loads(line) for line in
               _cli(tmp_path, "audit", "--user", "alice", "--json").splitlines()]
    actions = [(e["subject"], e["agent_id"], e["action"]) for e in reversed(entries)]
    assert actions == [
        ("local", None, "key_create"), (key_id, "crm-bot", "add"),
        (key_id, "crm-bot", "delete"), ("token", None, "add"), ("local", None, "add")]
    by_action = {e["action"]: e for e in entries if e["subject"] == key_id}
    assert by_action["add"]["memory_ids"] == [memory_id]
    assert by_action["add"]["keys"] == ["tz"]
    assert by_action["delete"]["memory_ids"] == [memory_id]
    assert "Meeting" not in json.dumps(entries)
    shown = _cli(tmp_path, "audit", "--user", "alice", "--limit", "2")
    assert len(shown.splitlines()) == 2
    assert re.search(rf"{key_id}\s+agent=crm-bot\s+delete\s+{memory_id}", _cli(
        tmp_path, "audit", "--user", "alice"))
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert {line["action"] for line in lines if line["type"] == "audit"} >= {
        "key_create", "add", "delete"}
