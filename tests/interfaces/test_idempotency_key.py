"""Retries never duplicate, over REST and MCP, against the real ``memvault serve``.

Contract, REST: ``POST /v1/memories`` takes an optional ``Idempotency-Key`` header. The first
request with a key answers 201 as usual; a request with the same key and the same body (and
the same user) stores nothing and answers 200 with the first response's body and the header
``Idempotent-Replayed: true``. The same key with another body answers 422 with an
``InvalidInput`` error naming ``Idempotency-Key`` (as draft-ietf-httpapi-idempotency-key-header
recommends), and stores nothing. A blank key answers 400. Keys are per user (``X-User-ID``).

Contract, MCP: the ``add_memory`` tool takes an optional ``idempotency_key`` argument (listed
in its input schema) with the same behaviour: the same key and arguments return the first
result and store nothing; the same key with other arguments is a tool error naming
``idempotency_key``. Keys are per user.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.interfaces.mcp_harness import call_error, call_ok, running_server, stdio_session

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

BODY: dict[str, Any] = {
    "content": "Booked the Lisbon flight",
    "session_id": "chat-1",
    "metadata": {"topic": "travel"},
    "occurred_at": "2024-05-01T10:00:00+00:00",
    "profile": {"trip": "Lisbon"},
}


async def _ids(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> list[str]:
    response = await client.get("/v1/memories", params={"limit": 100}, headers=headers)
    assert response.status_code == 200, response.text
    return [m["id"] for m in response.json()["items"]]


async def test_rest_replays_the_first_response_for_the_same_key_and_body(
    tmp_path: Path,
) -> None:
    async with running_server(tmp_path, "http") as server, httpx.AsyncClient(
        base_url=server.base, timeout=20
    ) as client:
        first = await client.post("/v1/memories", json=BODY, headers={"Idempotency-Key": "k1"})
        assert first.status_code == 201, first.text
        assert first.headers.get("idempotent-replayed", "false") == "false"
        again = await client.post("/v1/memories", json=BODY, headers={"Idempotency-Key": "k1"})
        assert again.status_code == 200, again.text
        assert again.headers.get("idempotent-replayed") == "true"
        assert again.json() == first.json()
        assert await _ids(client) == [first.json()["id"]]
        profile = (await client.get("/v1/profile")).json()
        assert [f["source_memory_ids"] for f in profile["facts"]] == [[first.json()["id"]]]

        # Without a key, the same body is a new memory, as before.
        plain = await client.post("/v1/memories", json=BODY)
        assert plain.status_code == 201, plain.text
        assert plain.json()["id"] != first.json()["id"]


async def test_rest_refuses_the_same_key_with_another_body(tmp_path: Path) -> None:
    async with running_server(tmp_path, "http") as server, httpx.AsyncClient(
        base_url=server.base, timeout=20
    ) as client:
        first = await client.post("/v1/memories", json=BODY, headers={"Idempotency-Key": "k1"})
        assert first.status_code == 201, first.text
        other = {**BODY, "content": "Booked the Porto flight"}
        refused = await client.post("/v1/memories", json=other,
                                    headers={"Idempotency-Key": "k1"})
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["type"] == "InvalidInput"
        assert "Idempotency-Key" in error["message"]
        assert await _ids(client) == [first.json()["id"]]

        # A value of spaces alone cannot be sent (HTTP strips them; httpx refuses): an empty
        # value, and an empty or blank sf-string, are the blank keys a client can send.
        for value in ("", '""', '"  "'):
            blank = await client.post("/v1/memories", json=BODY,
                                      headers={"Idempotency-Key": value})
            assert blank.status_code == 400, (value, blank.text)
            assert "Idempotency-Key" in blank.json()["error"]["message"]
        assert await _ids(client) == [first.json()["id"]]


async def test_rest_keys_are_per_user(tmp_path: Path) -> None:
    async with running_server(tmp_path, "http") as server, httpx.AsyncClient(
        base_url=server.base, timeout=20
    ) as client:
        alice = await client.post("/v1/memories", json=BODY,
                                  headers={"Idempotency-Key": "k1"})
        bob = await client.post("/v1/memories", json=BODY,
                                headers={"Idempotency-Key": "k1", "X-User-ID": "bob"})
        assert alice.status_code == 201, alice.text
        assert bob.status_code == 201, bob.text
        assert bob.json()["id"] != alice.json()["id"]
        assert bob.json()["user_id"] == "bob"
        for headers, first in (({}, alice), ({"X-User-ID": "bob"}, bob)):
            again = await client.post("/v1/memories", json=BODY,
                                      headers={"Idempotency-Key": "k1", **headers})
            assert again.status_code == 200, again.text
            assert again.json() == first.json()
        assert await _ids(client) == [alice.json()["id"]]
        assert await _ids(client, {"X-User-ID": "bob"}) == [bob.json()["id"]]


async def test_mcp_add_memory_takes_an_idempotency_key(tmp_path: Path) -> None:
    arguments = {k: v for k, v in BODY.items() if k != "session_id"}
    async with stdio_session(tmp_path, user="alice") as conn:
        tools = {tool.name: tool for tool in (await conn.session.list_tools()).tools}
        assert "idempotency_key" in tools["add_memory"].input_schema["properties"]

        first = await call_ok(conn.session, "add_memory", idempotency_key="k1", **arguments)
        again = await call_ok(conn.session, "add_memory", idempotency_key="k1", **arguments)
        assert again == first
        listed = await call_ok(conn.session, "list_memories", limit=100)
        assert [m["id"] for m in listed["items"]] == [first["id"]]

        message = await call_error(conn.session, "add_memory", idempotency_key="k1",
                                   **{**arguments, "content": "Booked the Porto flight"})
        assert "idempotency_key" in message
        listed = await call_ok(conn.session, "list_memories", limit=100)
        assert [m["id"] for m in listed["items"]] == [first["id"]]

    # The same file, another user: bob's k1 is his own.
    async with stdio_session(tmp_path, user="bob") as conn:
        bob = await call_ok(conn.session, "add_memory", idempotency_key="k1", **arguments)
        assert bob["id"] != first["id"]
        listed = await call_ok(conn.session, "list_memories", limit=100)
        assert [m["id"] for m in listed["items"]] == [bob["id"]]


async def test_rest_batch_items_take_their_own_keys(tmp_path: Path) -> None:
    """A batch takes no header (one key cannot name several memories): each item may carry
    ``idempotency_key``; a retried batch stores only its new items; a reused key with other
    fields refuses the whole batch (422). Answers are checked against the OpenAPI document."""
    from tests.interfaces.test_rest import _config, _serve

    item = {k: v for k, v in BODY.items() if k != "profile"}
    async with _serve(_config(tmp_path)) as client:
        header = await client.post("/v1/memories/batch", json={"items": [item]},
                                   headers={"Idempotency-Key": "k1"})
        assert header.status_code == 400, header.text
        assert "Idempotency-Key" in header.json()["error"]["message"]

        first = await client.post("/v1/memories/batch", json={"items": [
            {**item, "idempotency_key": "a"}, {**item, "content": "no key"}]})
        assert first.status_code == 201, first.text
        stored = [m["id"] for m in first.json()["items"]]
        again = await client.post("/v1/memories/batch", json={"items": [
            {**item, "idempotency_key": "a"}, {**item, "idempotency_key": "b"}]})
        assert again.status_code == 201, again.text
        ids = [m["id"] for m in again.json()["items"]]
        assert ids[0] == stored[0]
        assert ids[1] not in stored
        assert len(await _ids(client)) == 3

        refused = await client.post("/v1/memories/batch", json={"items": [
            {**item, "content": "fresh"}, {**item, "content": "other", "idempotency_key": "b"}]})
        assert refused.status_code == 422, refused.text
        assert "idempotency_key" in refused.json()["error"]["message"]
        assert len(await _ids(client)) == 3

        # The single add's replay and conflict answers are documented too.
        single = await client.post("/v1/memories", json=BODY, headers={"Idempotency-Key": "s"})
        replay = await client.post("/v1/memories", json=BODY, headers={"Idempotency-Key": "s"})
        assert (single.status_code, replay.status_code) == (201, 200)
        assert replay.headers["location"] == single.headers["location"]
        conflict = await client.post("/v1/memories", json={**BODY, "content": "x"},
                                     headers={"Idempotency-Key": '"s"'})
        assert conflict.status_code == 422, conflict.text
