"""OAuth 2.1 against the real ``memvault serve`` subprocess: a live issuer on loopback serves
its JWKS and metadata, and the server checks its tokens over MCP streamable HTTP (the official
client with the bearer header) and REST, serves the RFC 9728 metadata, and answers refusals
with the challenges the MCP authorization specification asks for. The server binds 0.0.0.0:
an OAuth issuer is a credential for the bind rule."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import httpx2
import jsonschema  # type: ignore[import-untyped]
import pytest

from tests.interfaces.mcp_harness import (
    MEMVAULT,
    STARTUP_TIMEOUT,
    HttpServer,
    call_error,
    call_ok,
    clean_env,
    connect_http,
    memvault_args,
    running_server,
)
from tests.interfaces.oauth_issuer import Issuer, SigningKey, running_issuer

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

RESOURCE = "https://memory.example.test/mcp"
METADATA_URL = "https://memory.example.test/.well-known/oauth-protected-resource/mcp"

#: RFC 9728 section 2: ``resource`` is required; the others, when present, have these types.
METADATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["resource", "authorization_servers"],
    "properties": {
        "resource": {"type": "string", "format": "uri", "pattern": "^https://[^#]+$"},
        "authorization_servers": {"type": "array", "minItems": 1,
                                  "items": {"type": "string", "format": "uri"}},
        "scopes_supported": {"type": "array", "items": {"type": "string"}},
        "bearer_methods_supported": {"type": "array",
                                     "items": {"enum": ["header", "body", "query"]}},
        "resource_name": {"type": "string"},
        "jwks_uri": {"type": "string"},
    },
}


async def _raw(server: HttpServer, method: str, path: str, token: str | None = None,
               headers: dict[str, str] | None = None, body: Any = None) -> httpx2.Response:
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    async with httpx2.AsyncClient(base_url=server.base, timeout=20) as http:
        return await http.request(method, path, headers=sent, json=body)


def _challenge(response: httpx2.Response) -> str:
    value: str = response.headers.get("www-authenticate", "")
    assert value.startswith("Bearer "), response.headers
    assert f'resource_metadata="{METADATA_URL}"' in value, value
    return value


async def test_oauth_over_mcp_and_rest(tmp_path: Path) -> None:
    with running_issuer("RS256", "ES256", audience=RESOURCE) as issuer:
        env = {"MEMVAULT_OAUTH_ISSUER": issuer.url, "MEMVAULT_OAUTH_RESOURCE": RESOURCE}
        async with running_server(tmp_path, "http", host="0.0.0.0", env=env) as server:
            await _metadata(server, issuer)
            await _good_tokens(server, issuer)
            await _identity_and_scope(server, issuer)
            # before the unknown kid below: a refetch for one waits 10 s for the next
            await _rotation(server, issuer)
            await _refusals(server, issuer)
        assert issuer.token("alice") not in server.stderr.text()


async def _metadata(server: HttpServer, issuer: Issuer) -> None:
    for path in ("/.well-known/oauth-protected-resource/mcp",
                 "/.well-known/oauth-protected-resource"):
        response = await _raw(server, "GET", path)
        assert response.status_code == 200, response.text
        document = response.json()
        jsonschema.validate(document, METADATA_SCHEMA,
                            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        assert document["resource"] == RESOURCE
        assert document["authorization_servers"] == [issuer.url]
        assert document["scopes_supported"] == ["memvault:read", "memvault:write",
                                                "memvault:admin"]
        assert document["bearer_methods_supported"] == ["header"]
        # behind the Host/Origin guard like every route; the resource's host is admitted
        evil = await _raw(server, "GET", path, headers={"Host": "evil.example"})
        assert evil.status_code == 421, evil.text
        own = await _raw(server, "GET", path, headers={"Host": "memory.example.test"})
        assert own.status_code == 200, own.text
        origin = await _raw(server, "GET", path, headers={"Origin": "https://evil.example"})
        assert origin.status_code == 403, origin.text


async def _refusals(server: HttpServer, issuer: Issuer) -> None:
    for path, method in (("/mcp", "POST"), ("/v1/memories", "GET")):
        response = await _raw(server, method, path, body={} if method == "POST" else None)
        assert response.status_code == 401, response.text
        value = _challenge(response)
        assert 'scope="memvault:read memvault:write"' in value
        assert "error=" not in value
    now = int(time.time())
    head, body, signature = issuer.token("alice").split(".")
    bad = {
        "expired": issuer.token("alice", exp=now - 120),
        "not yet valid": issuer.token("alice", nbf=now + 120),
        "wrong audience": issuer.token("alice", aud="https://memory.example.test/other"),
        "wrong issuer": issuer.token("alice", iss="https://auth.example.test"),
        "tampered signature": f"{head}.{body}.{signature[::-1]}",
        "alg none": issuer.unsigned("alice"),
        "HS256 with the public key": issuer.hmac_with_public_key("alice"),
        "unknown kid": issuer.token("alice", kid="nobody"),
    }
    for what, token in bad.items():
        for path, method in (("/mcp", "POST"), ("/v1/memories", "GET")):
            response = await _raw(server, method, path, token,
                                  body={} if method == "POST" else None)
            assert response.status_code == 401, (what, path, response.text)
            assert 'error="invalid_token"' in _challenge(response), what


async def _good_tokens(server: HttpServer, issuer: Issuer) -> None:
    for key in issuer.keys:
        token = issuer.token("alice", key=key)
        async with connect_http(server, {"Authorization": f"Bearer {token}"}) as conn:
            added = await call_ok(conn.session, "add_memory",
                                  content=f"Alice's {key.alg} memory about tulips")
            found = await call_ok(conn.session, "search_memory", query=f"{key.alg} tulips")
            assert added["id"] in [h["memory"]["id"] for h in found["hits"]]
            assert conn.transport_errors == []
    token = issuer.token("alice")
    response = await _raw(server, "POST", "/v1/memories", token,
                          body={"content": "Alice over REST"})
    assert response.status_code == 201, response.text
    assert response.json()["user_id"] == "alice"
    listed = await _raw(server, "GET", "/v1/memories", token)
    assert listed.status_code == 200, listed.text
    assert len(listed.json()["items"]) == 3
    # bob's token sees none of alice's memories
    bobs = await _raw(server, "GET", "/v1/memories", issuer.token("bob"))
    assert bobs.status_code == 200, bobs.text
    assert bobs.json()["items"] == []


async def _identity_and_scope(server: HttpServer, issuer: Issuer) -> None:
    alice = issuer.token("alice")
    response = await _raw(server, "GET", "/v1/memories", alice, {"X-User-ID": "bob"})
    assert response.status_code == 403, response.text
    value = _challenge(response)
    assert 'error="insufficient_scope"' in value
    assert 'scope="memvault:read memvault:write memvault:admin"' in value
    async with connect_http(server, {"Authorization": f"Bearer {alice}",
                                     "X-User-ID": "bob"}) as conn:
        assert "forbidden" in (await call_error(conn.session, "list_memories")).lower()

    reader = issuer.token("alice", scope="memvault:read")
    response = await _raw(server, "POST", "/v1/memories", reader, body={"content": "nope"})
    assert response.status_code == 403, response.text
    value = _challenge(response)
    assert 'error="insufficient_scope"' in value
    assert 'scope="memvault:read memvault:write"' in value
    assert (await _raw(server, "GET", "/v1/memories", reader)).status_code == 200
    async with connect_http(server, {"Authorization": f"Bearer {reader}"}) as conn:
        assert "write" in await call_error(conn.session, "add_memory", content="nope")
        listed = await call_ok(conn.session, "list_memories")
        assert "nope" not in [m["content"] for m in listed["items"]]

    admin = issuer.token("carol", scope="memvault:admin")
    response = await _raw(server, "GET", "/v1/memories", admin, {"X-User-ID": "alice"})
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == 3


async def _rotation(server: HttpServer, issuer: Issuer) -> None:
    rotated = SigningKey.new("key-rotated")
    issuer.keys = [rotated]
    before = issuer.fetch_count()
    response = await _raw(server, "GET", "/v1/memories", issuer.token("alice", key=rotated))
    assert response.status_code == 200, response.text
    assert issuer.fetch_count() == before + 1


def test_serve_refuses_a_half_configured_issuer(tmp_path: Path) -> None:
    """The --oauth-* flags reach the configuration, and a missing resource is named."""
    command = [str(MEMVAULT), *memvault_args(tmp_path / "m.db", user="alice", serve=[
        "--transport", "http", "--port", "0", "--oauth-issuer", "https://auth.example.test"])]
    done = subprocess.run(command, capture_output=True, text=True, env=clean_env(),
                          cwd=tmp_path, timeout=STARTUP_TIMEOUT, check=False)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if "oauth.resource" in line]
    assert lines, done.stderr
    assert "serving MCP" not in done.stderr
