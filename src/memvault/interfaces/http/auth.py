"""Who may reach the HTTP server: the bind rule, the bearer token and Host/Origin checks.

An HTTP server binds only loopback unless a bearer token is configured; with a token, every
request but ``GET /health`` must carry ``Authorization: Bearer <token>``. On a loopback bind
the MCP endpoints also check ``Host`` and ``Origin`` against loopback names (DNS rebinding);
off loopback the token guards every request and host names vary, so they do not.
"""

from __future__ import annotations

import hmac
import ipaddress

from mcp.server.transport_security import TransportSecuritySettings
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from memvault.errors import ConfigError

__all__ = ["BearerAuth", "check_bind", "is_loopback", "transport_security"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse (:class:`ConfigError`) to listen off loopback without a token."""
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"refusing to listen on {host} without a token: set --token or "
            "MEMVAULT_TOKEN, or bind 127.0.0.1"
        )


def transport_security(host: str) -> TransportSecuritySettings:
    """The MCP endpoints' Host/Origin checks for a server bound to ``host``."""
    if is_loopback(host):
        return TransportSecuritySettings(
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        )
    return TransportSecuritySettings(enable_dns_rebinding_protection=False)


class BearerAuth:
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
