"""The one HTTP app: MCP (streamable HTTP at ``/mcp``, or SSE at ``/sse`` + ``/messages/``),
the REST API under ``/v1``, the dashboard under ``/ui/`` and ``GET /health``, over one
:class:`Runtime`.

The Memvault is opened in the app's lifespan, once per process, whatever the transport; the
MCP server is given (:func:`memvault.interfaces.serve.build_http_app` builds one), so this
package does not depend on :mod:`memvault.interfaces.mcp`. Who may call is :mod:`.auth`'s.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memvault.errors import ConfigError
from memvault.interfaces.dashboard import dashboard_routes
from memvault.interfaces.http import oauth
from memvault.interfaces.http.auth import BearerAuth, HostGuard, transport_security
from memvault.interfaces.http.rest import rest_mount
from memvault.interfaces.http.sessions import SessionBinding
from memvault.interfaces.identity import Authenticator, principal_of
from memvault.interfaces.runtime import Runtime, ServeOptions

__all__ = ["FrameScreen", "http_app", "serve_http"]

#: Reads a JSON-RPC frame; returns the error to answer it with, or ``None`` to pass it on.
Screen = Callable[[str], Any]
_MAX_SCREENED = 4 * 1024 * 1024  # the MCP SDK refuses larger bodies itself

log = logging.getLogger("memvault.serve")


def _health(runtime: Runtime, authenticated: bool) -> Route:
    """``GET /health``: 200 when every store answers, 503 otherwise (see ``HealthOut`` in
    :mod:`.openapi`); never behind a credential, but when the server has ``authenticated``
    callers, a request without an admin credential gets ``{"status": ...}`` only (no
    locations, counts or embedder state)."""

    async def health(request: Request) -> Response:
        principal = principal_of(request)
        full = not authenticated or (principal is not None and principal.scope == "admin")
        memvault = runtime.memvault
        if memvault is None:
            status = "unavailable" if runtime.error else "starting"
            return JSONResponse({"status": status, "error": runtime.error} if full
                                else {"status": status}, status_code=503)
        report = await memvault.doctor(vectors=False)
        if not full:
            return JSONResponse({"status": "ok" if report.ok else "degraded"},
                                status_code=200 if report.ok else 503)
        return JSONResponse(
            {
                "status": "ok" if report.ok else "degraded",
                "stores": [s.status.model_dump() for s in report.stores
                           if s.status is not None],
                "embedder": report.embedder_state,
                "extraction": None if report.extraction is None
                else report.extraction.model_dump(mode="json"),
            },
            status_code=200 if report.ok else 503,
        )

    return Route("/health", health, methods=["GET"])


class FrameScreen:
    """Reads the JSON-RPC body of ``POST /mcp`` and ``POST /messages/`` before the MCP SDK,
    with the same ``screen`` stdio uses, so both doors answer an unreadable frame alike
    (400 with the JSON-RPC error)."""

    def __init__(self, app: ASGIApp, screen: Screen) -> None:
        self.app = app
        self._screen = screen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] != "POST"
                or scope["path"].rstrip("/") not in ("/mcp", "/messages")):
            await self.app(scope, receive, send)
            return
        length = Request(scope).headers.get("content-length", "")
        if not length.isdigit() or int(length) > _MAX_SCREENED:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        error = self._screen(body.decode("utf-8", "replace"))
        if error is not None:
            reply = JSONResponse(error.model_dump(mode="json", by_alias=True), status_code=400)
            await reply(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def http_app(runtime: Runtime, server: MCPServer[Any], options: ServeOptions,
             screen: Screen | None = None,
             authenticators: Sequence[Authenticator] = ()) -> Starlette:
    """The ASGI app serving ``server`` over ``options.transport`` (``sse`` or ``http``),
    the REST routes and ``/health``, all on ``runtime``; the app's lifespan keeps the
    runtime's Memvault open. ``screen``, when given, reads MCP frames first
    (:class:`FrameScreen`). With ``authenticators`` every request but ``/health`` needs a
    bearer credential one of them accepts (:class:`~.auth.BearerAuth`), and an MCP session
    serves only the credential that opened it (:class:`~.sessions.SessionBinding`); with
    none, anyone who reaches the server may call (the bind rule keeps that to loopback). With OAuth
    configured, the protected resource's metadata is served too, and the challenges name
    it (:mod:`.oauth`)."""
    settings = runtime.config.oauth
    security = transport_security(options.host, [*options.allowed_hosts,
                                                 *oauth.resource_hosts(settings)],
                                  options.allowed_origins)
    routes: list[BaseRoute] = [_health(runtime, bool(authenticators)),
                               *oauth.metadata_routes(settings),
                               rest_mount(runtime),
                               *dashboard_routes(runtime, runtime.config.user_id,
                                                 authenticators)]
    if options.transport == "sse":
        routes.append(Mount("/", app=server.sse_app(transport_security=security)))
    else:
        routes.append(Mount("/", app=server.streamable_http_app(transport_security=security)))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as group:
            group.start_soon(runtime.keep_open)
            if options.transport == "http":
                async with server.session_manager.run():
                    yield
            else:
                yield
            group.cancel_scope.cancel()

    app = Starlette(routes=routes, lifespan=lifespan)
    if authenticators:
        if settings.enabled:
            app.add_middleware(oauth.ScopeChallenge, config=settings)
        # Between the two: its 403 is not a scope's, and it reads BearerAuth's principal.
        app.add_middleware(SessionBinding, transport=options.transport)
        app.add_middleware(BearerAuth, authenticators=authenticators,
                           **oauth.bearer_settings(settings))
    if screen is not None:
        app.add_middleware(FrameScreen, screen=screen)
    app.add_middleware(HostGuard, settings=security)  # added last: runs first
    return app


async def serve_http(app: Starlette, options: ServeOptions, user_id: str) -> None:
    """Serve ``app`` until cancelled. Port 0 picks a free port; the address is logged once
    the socket is bound (clients may connect from then on). The caller has checked the bind
    rule (:func:`~memvault.interfaces.http.auth.check_bind`)."""
    family = socket.AF_INET6 if ":" in options.host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((options.host.strip("[]"), options.port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {options.host}:{options.port}: {exc}") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    host, port = sock.getsockname()[:2]
    path = "/sse" if options.transport == "sse" else "/mcp"
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    log.info("memvault: serving MCP over %s at http://%s:%d%s for user %s", options.transport,
             shown, port, path, user_id)
    server = uvicorn.Server(uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=3,
    ))
    try:
        await server.serve(sockets=[sock])
    finally:
        sock.close()
