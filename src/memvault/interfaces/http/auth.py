"""Who may reach the HTTP server: the bind rule, the bearer token and the Host/Origin guard.

* **Host and Origin** (DNS rebinding) are checked for the whole app, every route included
  (``/health``, ``/v1``, ``/mcp``, ``/sse``, ``/messages/``), by :class:`HostGuard`, before
  any handler runs: a ``Host`` that is not allowed answers 421, an ``Origin`` that is not
  allowed 403. Loopback names (``127.0.0.1``, ``localhost``, ``[::1]``, with any port or
  none) and their ``http://`` origins are always allowed, plus the bind address itself when
  it is a specific one, plus ``--allowed-host`` / ``--allowed-origin``. A request without
  ``Origin`` passes. The MCP SDK's own check on ``/mcp`` and ``/sse`` gets the same settings
  (:func:`transport_security`), so both answer alike.
* **The bearer credential**: an HTTP server binds only loopback unless a credential is
  configured (a token of at least :data:`MIN_TOKEN_LENGTH` characters, or another
  authenticator, e.g. per-user keys). With one, every request but the public paths
  (``GET /health``) must carry ``Authorization: Bearer <credential>`` (the scheme in any case)
  that one of the server's :class:`~memvault.interfaces.identity.Authenticator` s accepts, or
  is answered 401 with ``WWW-Authenticate``. :class:`BearerAuth` tries them in order and
  leaves the first :class:`~memvault.interfaces.identity.Principal` found at
  ``scope["state"]["principal"]`` (read it with
  :func:`~memvault.interfaces.identity.principal_of`); on a public path it does so too when
  a valid credential is sent, and refuses nothing. The single ``--token`` is the
  :class:`TokenAuthenticator`: an admin principal bound to no user.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence

from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from memvault.errors import ConfigError, MemvaultError
from memvault.interfaces.identity import (
    PRINCIPAL_STATE_KEY,
    Authenticator,
    Principal,
    header_problem,
)

__all__ = [
    "MIN_TOKEN_LENGTH", "TOKEN_SUBJECT", "BearerAuth", "HostGuard", "TokenAuthenticator",
    "bearer_credential", "check_bind", "has_token", "is_loopback", "transport_security",
]

#: The audit trail's name for the single ``--token``.
TOKEN_SUBJECT = "token"

log = logging.getLogger("memvault.serve")

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


def check_bind(host: str, token: str | None, *, other_credentials: bool = False) -> None:
    """Refuse (:class:`ConfigError`, one line) to listen off loopback without a credential:
    a token, or ``other_credentials`` (another authenticator is configured, e.g. per-user
    keys); refuse a token that is blank or shorter than :data:`MIN_TOKEN_LENGTH` anywhere
    off loopback. The message never shows the token."""
    if is_loopback(host) or (other_credentials and token is None):
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
    name = name.strip().lower()
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
    identity header that cannot be read or is given more than once
    (:func:`~memvault.interfaces.identity.header_problem`), so REST and MCP refuse it alike;
    each with the REST error object. The Host is compared, and passed on, in lower case (host
    names are case-insensitive); one whose port is not a number is refused."""

    def __init__(self, app: ASGIApp, settings: TransportSecuritySettings) -> None:
        self.app = app
        self._check = TransportSecurityMiddleware(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = _lower_host(scope)
            request = Request(scope)
            refused = _refusal(request, await self._check.validate_request(request))
            if refused is None and (problem := header_problem(request.headers.items())):
                refused = _error(400, "InvalidInput", problem)
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _lower_host(scope: Scope) -> Scope:
    headers = scope.get("headers") or []
    if all(name != b"host" or value == value.lower() for name, value in headers):
        return scope
    lowered = [(name, value.lower() if name == b"host" else value) for name, value in headers]
    return {**scope, "headers": lowered}


def _refusal(request: Request, sdk: Response | None) -> JSONResponse | None:
    """The guard's refusal, as the REST error object (the SDK answers in plain text): 421
    for a Host the SDK refuses or whose port is not a number, 403 for an Origin it refuses
    (with ``is_post`` off, those are the only answers it gives)."""
    host = request.headers.get("host", "")
    port = host.rpartition("]")[2] if host.startswith("[") else host
    _, colon, digits = port.partition(":")
    if (sdk is not None and sdk.status_code == 421) or (
            colon and not (digits.isascii() and digits.isdigit())):
        return _error(421, "MisdirectedRequest",
                      f"the Host header {host!r} is not one this server answers to (add it "
                      "with --allowed-host)")
    if sdk is not None:
        return _error(403, "Forbidden", f"the Origin header {request.headers.get('origin')!r} "
                                        "is not allowed (add it with --allowed-origin)")
    return None


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)


def bearer_credential(headers: Mapping[str, str]) -> str | None:
    """The credential of ``Authorization: Bearer <credential>`` (scheme in any case)."""
    scheme, _, given = headers.get("authorization", "").strip().partition(" ")
    given = given.strip()
    return given if scheme.lower() == "bearer" and given else None


def has_token(headers: Mapping[str, str], token: str) -> bool:
    """Whether ``headers`` carry ``Authorization: Bearer <token>`` (scheme in any case)."""
    given = bearer_credential(headers)
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


class TokenAuthenticator:
    """The server's single ``--token``: an admin :class:`Principal` bound to no user (it acts
    for the configured user, or any ``X-User-ID``), subject :data:`TOKEN_SUBJECT`."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    async def authenticate(self, token: str) -> Principal | None:
        if hmac.compare_digest(token.encode(), self._token):
            return Principal(subject=TOKEN_SUBJECT, scope="admin", user_id=None)
        return None


def _signs_in_itself(path: str) -> bool:
    """The dashboard (``/ui/``, and ``/`` sending a browser there) checks the credential
    itself, from its sign-in cookie, which no other route accepts."""
    return path == "/" or path == "/ui" or path.startswith("/ui/")


class BearerAuth:
    """Rejects requests whose bearer credential no authenticator accepts (401 with
    ``WWW-Authenticate: <challenge>``, or ``<refused_challenge>`` when a credential was sent
    and refused), except on ``public_paths``; puts the accepted :class:`Principal` at
    ``scope["state"]["principal"]``. Authenticators are tried in order; one that raises
    :class:`~memvault.errors.MemvaultError` (its store is down) counts as not accepting, and
    when no other accepts the answer is 503 with the reason (the credential may be valid);
    any other exception is logged and counts the same. The dashboard (``/``, ``/ui/``) signs
    a browser in itself, from a cookie no other route accepts."""

    def __init__(self, app: ASGIApp, authenticators: Sequence[Authenticator],
                 challenge: str = "Bearer", public_paths: Collection[str] = ("/health",),
                 refused_challenge: str | None = None) -> None:
        self.app = app
        self._authenticators = tuple(authenticators)
        self._challenge = challenge
        self._refused = refused_challenge or challenge
        self._public = frozenset(public_paths)

    async def _principal(self, scope: Scope) -> tuple[Principal | None, str | None]:
        """The principal, or ``None`` and why no authenticator could answer (or ``None``)."""
        given = bearer_credential(Request(scope).headers)
        if given is None:
            return None, None
        problem: str | None = None
        for authenticator in self._authenticators:
            try:
                found = await authenticator.authenticate(given)
            except MemvaultError as exc:
                problem = str(exc)
                continue
            except Exception:
                log.exception("%s failed; trying the next", type(authenticator).__name__)
                continue
            if found is not None:
                return found, None
        return None, problem

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        principal, problem = await self._principal(scope)
        if (principal is None and scope["path"] not in self._public
                and not _signs_in_itself(scope["path"])):
            if problem is not None:
                unavailable = JSONResponse(
                    {"error": {"type": "StoreUnavailable",
                               "message": f"cannot check the credential now: {problem}"}},
                    status_code=503, headers={"Retry-After": "1"})
                await unavailable(scope, receive, send)
                return
            sent = bearer_credential(Request(scope).headers) is not None
            response = JSONResponse(
                {"error": "unauthorized: send Authorization: Bearer <credential>"},
                status_code=401,
                headers={"WWW-Authenticate": self._refused if sent else self._challenge},
            )
            await response(scope, receive, send)
            return
        # A new dict: a server may hand every request the same state mapping.
        state = {k: v for k, v in scope.get("state", {}).items() if k != PRINCIPAL_STATE_KEY}
        if principal is not None:
            state[PRINCIPAL_STATE_KEY] = principal
        scope["state"] = state
        await self.app(scope, receive, send)
