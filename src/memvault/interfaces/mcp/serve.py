"""Running the MCP server: stdio, SSE or streamable HTTP.

HTTP transports bind only loopback unless a bearer token is configured; with a token, every
request but ``GET /health`` must carry ``Authorization: Bearer <token>``. The Memvault is
opened in the application's lifespan, once per process, whatever the transport.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import anyio
import uvicorn
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from memvault.config import Config
from memvault.errors import ConfigError
from memvault.interfaces.mcp.runtime import LogLevel, Runtime
from memvault.interfaces.mcp.server import build_server
from memvault.interfaces.rest import rest_routes

__all__ = ["ServeOptions", "build_http_app", "is_loopback", "serve_http", "serve_stdio"]

log = logging.getLogger("memvault.serve")

Transport = Literal["stdio", "sse", "http"]


@dataclass(frozen=True)
class ServeOptions:
    transport: Transport = "stdio"
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    log_level: LogLevel = "INFO"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def serve_stdio(config: Config, options: ServeOptions) -> None:
    """Serve MCP over stdin/stdout; only protocol messages reach stdout."""
    # The SDK diverts fd 1 to stderr while serving; line buffering makes a stray print() from
    # a library land there at once instead of on the wire at exit.
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    runtime = Runtime(config=config, log_level=options.log_level)
    server = build_server(runtime)
    async with anyio.create_task_group() as group:
        group.start_soon(runtime.keep_open)
        log.info("memvault: serving MCP over stdio for user %s", config.user_id)
        await server.run_stdio_async()
        group.cancel_scope.cancel()


class _BearerAuth:
    """Rejects requests without the configured bearer token (``/health`` stays open)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != "/health":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                response = JSONResponse(
                    {"error": "unauthorized: send Authorization: Bearer <token>"},
                    status_code=401, headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def build_http_app(config: Config, options: ServeOptions) -> Starlette:
    """The ASGI app: MCP at ``/mcp`` (streamable HTTP) or ``/sse`` + ``/messages/`` (SSE),
    the REST API under ``/v1`` (:mod:`memvault.interfaces.rest`), and ``GET /health``."""
    runtime = Runtime(config=config, log_level=options.log_level)
    server = build_server(runtime)
    security = (
        TransportSecuritySettings(
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        )
        if is_loopback(options.host)
        # Off a loopback bind the bearer token guards every request; Host names vary.
        else TransportSecuritySettings(enable_dns_rebinding_protection=False)
    )

    async def health(request: Request) -> Response:
        memvault = runtime.memvault
        if memvault is None:
            return JSONResponse({"status": "unavailable" if runtime.error else "starting",
                                 "error": runtime.error}, status_code=503)
        stores = await memvault.status()
        ok = all(s.ok for s in stores)
        return JSONResponse(
            {
                "status": "ok" if ok else "degraded",
                "stores": [s.model_dump() for s in stores],
                "embedder": memvault.embedding.state,
            },
            status_code=200 if ok else 503,
        )

    routes: list[Route | Mount] = [
        Route("/health", health, methods=["GET"]),
        Mount("/v1", routes=rest_routes(runtime)),
    ]
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
    if options.token:
        app.add_middleware(_BearerAuth, token=options.token)
    return app


async def serve_http(config: Config, options: ServeOptions) -> None:
    """Serve SSE or streamable HTTP until cancelled. Port 0 picks a free port; the address is
    logged once the socket is bound."""
    if not is_loopback(options.host) and not options.token:
        raise ConfigError(
            f"refusing to listen on {options.host} without a token: set --token or "
            "MEMVAULT_TOKEN, or bind 127.0.0.1"
        )
    app = build_http_app(config, options)
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
             shown, port, path, config.user_id)
    server = uvicorn.Server(uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=3,
    ))
    try:
        await server.serve(sockets=[sock])
    finally:
        sock.close()
