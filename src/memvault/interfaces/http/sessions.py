"""An MCP session belongs to the credential that opened it.

The MCP SDK binds a session to its opener only through Starlette's ``scope["user"]``, which
memvault's bearer credentials do not use, so left alone a second credential could post into
another's session (streamable HTTP's ``Mcp-Session-Id``, SSE's ``session_id``), acting as
itself there but inside the other's conversation. :class:`SessionBinding` records who opened
each session, as the server tells the client its id (the ``Mcp-Session-Id`` header of the
response that opens a streamable-HTTP session; the ``endpoint`` event of an SSE stream), and
answers 403 with one line to any later request on it from another principal (another key id
or OAuth subject, or another user). It runs inside
:class:`~memvault.interfaces.http.auth.BearerAuth`, which sets the principal.

A streamable-HTTP session is forgotten when the client ends it (``DELETE``) or after it has
had no request in flight for the SDK's idle timeout (the SDK has ended it by then); a request
naming a session this layer does not know is answered 404, as the SDK answers an unknown one,
so a session is never served without its owner on record (the owner is recorded before the
client is told the id). An SSE session is forgotten when its stream closes.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memvault.interfaces.identity import PRINCIPAL_STATE_KEY, Principal

__all__ = ["IDLE_SECONDS", "SessionBinding"]

#: The MCP SDK's default idle timeout of a streamable-HTTP session (30 minutes).
IDLE_SECONDS = 30 * 60.0
_SESSION_HEADER = "mcp-session-id"
_ENDPOINT = re.compile(rb"session_id=([0-9a-fA-F]{32})")
_SWEEP_EVERY = 256


@dataclass
class _Owner:
    subject: str | None
    user_id: str | None
    in_flight: int = 0
    last_done: float = 0.0


def _who(scope: Scope) -> tuple[str | None, str | None]:
    principal: Principal | None = scope.get("state", {}).get(PRINCIPAL_STATE_KEY)
    return (None, None) if principal is None else (principal.subject, principal.user_id)


def _refusal(status: int, message: str) -> JSONResponse:
    """A JSON-RPC error without an id, as the MCP SDK answers a request it refuses."""
    return JSONResponse({"jsonrpc": "2.0", "id": None,
                         "error": {"code": -32600, "message": message}}, status_code=status)


_FORBIDDEN = ("this MCP session was opened with another credential: open a session of your "
              "own (initialize without a session id)")


class SessionBinding:
    """Binds each MCP session to the principal that opened it (see the module docstring);
    ``transport`` is the server's MCP transport, ``"http"`` (``/mcp``) or ``"sse"``
    (``GET /sse``, ``POST /messages/``)."""

    def __init__(self, app: ASGIApp, transport: str, idle_seconds: float = IDLE_SECONDS
                 ) -> None:
        self.app = app
        self._transport = transport
        self._idle = idle_seconds
        self._owners: dict[str, _Owner] = {}
        self._opened = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"].rstrip("/")
        if self._transport == "http" and path == "/mcp":
            await self._streamable(scope, receive, send)
        elif self._transport == "sse" and path == "/sse" and scope["method"] == "GET":
            await self._sse_stream(scope, receive, send)
        elif self._transport == "sse" and path == "/messages" and scope["method"] == "POST":
            await self._sse_message(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    @staticmethod
    def _refused(owner: _Owner | None, scope: Scope) -> JSONResponse | None:
        """Why a request on a session is refused, or ``None`` (it is its owner's)."""
        if owner is None:
            return _refusal(404, "Session not found")
        if (owner.subject, owner.user_id) != _who(scope):
            return _refusal(403, _FORBIDDEN)
        return None

    async def _streamable(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = Headers(scope=scope).get(_SESSION_HEADER)
        if given is None:  # a new session: its id comes back in the response's header
            subject, user = _who(scope)

            async def record(message: Message) -> None:
                if message["type"] == "http.response.start":
                    opened = Headers(raw=message.get("headers", [])).get(_SESSION_HEADER)
                    if opened is not None and opened not in self._owners:
                        self._remember(opened, _Owner(subject, user, last_done=time.monotonic()))
                await send(message)

            await self.app(scope, receive, record)
            return
        owner = self._owners.get(given)
        refusal = self._refused(owner, scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        assert owner is not None
        owner.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            owner.in_flight -= 1
            owner.last_done = time.monotonic()
            if scope["method"] == "DELETE":
                self._owners.pop(given, None)

    def _remember(self, session: str, owner: _Owner) -> None:
        self._owners[session] = owner
        self._opened += 1
        if self._opened % _SWEEP_EVERY == 0:
            now = time.monotonic()
            for stale in [s for s, o in self._owners.items()
                          if o.in_flight == 0 and now - o.last_done > self._idle]:
                del self._owners[stale]

    async def _sse_stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        subject, user = _who(scope)
        opened: list[str] = []

        async def record(message: Message) -> None:
            if not opened and message["type"] == "http.response.body":
                found = _ENDPOINT.search(message.get("body", b""))
                if found is not None:
                    opened.append(found.group(1).decode().lower())
                    self._owners[opened[0]] = _Owner(subject, user, in_flight=1)
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            if opened:
                self._owners.pop(opened[0], None)

    async def _sse_message(self, scope: Scope, receive: Receive, send: Send) -> None:
        query: dict[str, Any] = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = query.get("session_id", [None])[0]
        if given is None:  # the SDK answers a missing or malformed id
            await self.app(scope, receive, send)
            return
        try:  # read as the SDK reads it: braces, hyphens and a urn: prefix are the same id
            session = uuid.UUID(hex=given).hex
        except ValueError:
            await self.app(scope, receive, send)  # the SDK answers 400
            return
        refusal = self._refused(self._owners.get(session), scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)
