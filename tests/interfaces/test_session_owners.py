"""How long :class:`~memvault.interfaces.http.sessions.SessionBinding` remembers a session's
owner: until the client ends it, or until it has been idle past the SDK's timeout; a session
forgotten is refused (404), never served without its owner on record."""

from __future__ import annotations

import uuid

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from memvault.interfaces.http.sessions import SessionBinding
from memvault.interfaces.identity import PRINCIPAL_STATE_KEY, Principal

pytestmark = pytest.mark.anyio


async def _mcp(scope: Scope, receive: Receive, send: Send) -> None:
    """Stands in for the SDK: a request without a session id opens one."""
    headers = [] if any(k == b"mcp-session-id" for k, _ in scope["headers"]) else [
        (b"mcp-session-id", uuid.uuid4().hex.encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


def _app(idle_seconds: float) -> object:
    binding = SessionBinding(_mcp, "http", idle_seconds=idle_seconds)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        who = dict(scope["headers"]).get(b"x-who", b"alice").decode()
        scope["state"] = {PRINCIPAL_STATE_KEY: Principal(subject=f"key_{who}", scope="write",
                                                         user_id=who)}
        await binding(scope, receive, send)

    return app


async def _open(client: httpx.AsyncClient) -> str:
    response = await client.post("/mcp", json={})
    return response.headers["mcp-session-id"]


async def test_an_ended_session_is_forgotten() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(1800.0)),  # type: ignore[arg-type]
                                 base_url="http://127.0.0.1") as client:
        session = await _open(client)
        on = {"mcp-session-id": session}
        assert (await client.post("/mcp", json={}, headers={**on, "x-who": "bob"})
                ).status_code == 403
        assert (await client.post("/mcp", json={}, headers=on)).status_code == 200
        assert (await client.delete("/mcp", headers=on)).status_code == 200
        assert (await client.post("/mcp", json={}, headers=on)).status_code == 404


@pytest.mark.parametrize(("idle", "kept"), [(1800.0, True), (0.0, False)])
async def test_idle_sessions_are_swept_as_sessions_open(idle: float, kept: bool) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(idle)),  # type: ignore[arg-type]
                                 base_url="http://127.0.0.1") as client:
        first = await _open(client)
        for _ in range(300):  # a sweep every 256 sessions opened
            await _open(client)
        answer = await client.post("/mcp", json={}, headers={"mcp-session-id": first})
        assert answer.status_code == (200 if kept else 404)
