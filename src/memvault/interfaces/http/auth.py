"""Who may reach the HTTP server: the bind rule, the bearer token and the Host/Origin guard.

* **Host and Origin** (DNS rebinding) are checked for the whole app, every route included
  (``/health``, ``/v1``, ``/mcp``, ``/sse``, ``/messages/``), by :class:`HostGuard`, before
  any handler runs: a ``Host`` that is not allowed answers 421, an ``Origin`` that is not
  allowed 403. Loopback names (``127.0.0.1``, ``localhost``, ``[::1]``, with any port or
  none) and their ``http://`` origins are always allowed, plus the bind address itself when
  it is a specific one, plus ``--allowed-host`` / ``--allowed-origin``. A request without
  ``Origin`` passes. The MCP SDK's own check on ``/mcp`` and ``/sse`` gets the same settings
  (:func:`transport_security`), so both answer alike.
* **The bearer token**: an HTTP server binds only loopback unless a token of at least
  :data:`MIN_TOKEN_LENGTH` characters is configured; with a token every request but
  ``GET /health`` must carry ``Authorization: Bearer <token>`` (the scheme in any case).
  ``/health`` without the token answers its status only.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Mapping

from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from memvault.errors import ConfigError
from memvault.interfaces.identity import header_problem

__all__ = [
    "MIN_TOKEN_LENGTH", "BearerAuth", "HostGuard", "check_bind", "has_token", "is_loopback",
    "transport_security",
]

MIN_TOKEN_LENGTH = 16
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_WILDCARD_BINDS = ("0.0.0.0", "::", "[::]", "")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse (:class:`ConfigError`, one line) to listen off loopback without a token, or with
    a blank one or one shorter than :data:`MIN_TOKEN_LENGTH`; the message never shows it."""
    if is_loopback(host):
        return
    how = ("make one with `memvault token` (or python -c \"import secrets; "
           "print(secrets.token_urlsafe(32))\") and pass it as --token or MEMVAULT_TOKEN, "
           "or bind 127.0.0.1")
    if not token or not token.strip():
        raise ConfigError(f"refusing to listen on {host} without a token: {how}")
    if len(token.strip()) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"refusing to listen on {host} with a token under "
                          f"{MIN_TOKEN_LENGTH} characters: {how}")


def _host_entry(name: str) -> list[str]:
    """``name`` as allowed Host values: without a port it matches any port and none."""
    name = name.strip()
    if not name:
        return []
    if name.endswith("]") or name.count(":") != 1:  # no port (IPv6 literals in brackets)
        return [name, f"{name}:*"]
    return [name]


def transport_security(
    bind: str, hosts: Iterable[str] = (), origins: Iterable[str] = ()
) -> TransportSecuritySettings:
    """The one Host/Origin configuration, used by :class:`HostGuard` and the MCP SDK."""
    names = list(LOOPBACK_HOSTS)
    if bind not in _WILDCARD_BINDS and not is_loopback(bind):
        names.append(f"[{bind}]" if ":" in bind and not bind.startswith("[") else bind)
    allowed_hosts = [entry for name in [*names, *hosts] for entry in _host_entry(name)]
    allowed_origins = [f"http://{name}{port}" for name in LOOPBACK_HOSTS for port in ("", ":*")]
    allowed_origins += [origin.strip().rstrip("/") for origin in origins if origin.strip()]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=allowed_hosts, allowed_origins=allowed_origins,
    )


class HostGuard:
    """Answers 421 (Host) or 403 (Origin) for every HTTP request ``settings`` does not allow
    (it runs the MCP SDK's own check, so ``/mcp`` and ``/v1`` answer alike), and 400 for an
    identity header that cannot be read (:func:`~memvault.interfaces.identity.header_problem`),
    so REST and MCP refuse it alike."""

    def __init__(self, app: ASGIApp, settings: TransportSecuritySettings) -> None:
        self.app = app
        self._check = TransportSecurityMiddleware(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            refused = await self._check.validate_request(request, is_post=False)
            if refused is None and (problem := header_problem(request.headers)):
                refused = JSONResponse(
                    {"error": {"type": "InvalidInput", "message": problem}}, status_code=400)
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)


def has_token(headers: Mapping[str, str], token: str) -> bool:
    """Whether ``headers`` carry ``Authorization: Bearer <token>`` (scheme in any case)."""
    scheme, _, given = headers.get("authorization", "").strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode())


def _signs_in_itself(path: str) -> bool:
    """The dashboard (``/ui/``, and ``/`` sending a browser there) checks the credential
    itself, from its sign-in cookie, which no other route accepts."""
    return path == "/" or path == "/ui" or path.startswith("/ui/")


class BearerAuth:
    """Rejects requests without the configured bearer token (``/health`` stays open; the
    dashboard asks a browser to sign in instead)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["path"] != "/health"
                and not _signs_in_itself(scope["path"])
                and not has_token(Request(scope).headers, self._token)):
            response = JSONResponse(
                {"error": "unauthorized: send Authorization: Bearer <token>"},
                status_code=401, headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
