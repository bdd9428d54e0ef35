"""The protected resource's metadata (RFC 9728) and the ``WWW-Authenticate`` challenges that
point to it.

The document is served, without a credential, at ``/.well-known/oauth-protected-resource``
with the resource's path appended (``/.well-known/oauth-protected-resource/mcp`` for the
resource ``https://memory.example.com/mcp``: RFC 9728 section 3.1, the URL the challenges
name) and at the bare well-known path, the MCP authorization specification's fallback. Both
stay behind the Host/Origin guard like every route; the resource's own host is admitted by it
(:func:`resource_hosts`).

A request without a credential is answered 401 with ``WWW-Authenticate: Bearer
resource_metadata="<url>", scope="<read> <write>"``; with one that was refused, the same plus
``error="invalid_token"`` (:func:`bearer_settings`). A 403 to an OAuth caller carries
``error="insufficient_scope"`` and the scopes that would allow the request
(:class:`ScopeChallenge`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memvault.config import OAuthConfig
from memvault.interfaces.identity import SCOPES, Principal, principal_of

__all__ = [
    "SUBJECT_PREFIX", "WELL_KNOWN", "ScopeChallenge", "bearer_settings", "challenge",
    "metadata_document", "metadata_paths", "metadata_routes", "metadata_url",
    "resource_hosts",
]

WELL_KNOWN = "/.well-known/oauth-protected-resource"
#: How the subjects of OAuth principals begin (``oauth:<sub>``).
SUBJECT_PREFIX = "oauth:"


def _resource(config: OAuthConfig) -> str:
    if config.resource is None or config.issuer is None:
        raise ValueError("OAuth is not configured")
    return config.resource


def metadata_paths(config: OAuthConfig) -> list[str]:
    """The paths the document is served at: the resource's own first, then the bare one."""
    path = urlsplit(_resource(config)).path.rstrip("/")
    return [WELL_KNOWN + path, WELL_KNOWN] if path else [WELL_KNOWN]


def metadata_url(config: OAuthConfig) -> str:
    """The document's URL as the resource's clients reach it (RFC 9728 section 3.1)."""
    parts = urlsplit(_resource(config))
    return urlunsplit((parts.scheme, parts.netloc, metadata_paths(config)[0], "", ""))


def metadata_document(config: OAuthConfig) -> dict[str, Any]:
    """The RFC 9728 document: the resource, its authorization server, the scopes memvault
    knows (read, write, admin) and that tokens go in the ``Authorization`` header only."""
    return {
        "resource": _resource(config),
        "authorization_servers": [config.issuer],
        "scopes_supported": [config.read_scope, config.write_scope, config.admin_scope],
        "bearer_methods_supported": ["header"],
        "resource_name": "memvault",
    }


def metadata_routes(config: OAuthConfig) -> list[Route]:
    """``GET`` routes serving :func:`metadata_document`; none when OAuth is off."""
    if not config.enabled:
        return []
    document = metadata_document(config)

    async def metadata(request: Request) -> Response:
        return JSONResponse(document, headers={"Cache-Control": "public, max-age=3600"})

    return [Route(path, metadata, methods=["GET"]) for path in metadata_paths(config)]


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def challenge(config: OAuthConfig, *, error: str | None = None,
              description: str | None = None, scope: str | None = None) -> str:
    """A ``WWW-Authenticate`` value: ``Bearer resource_metadata="<url>"``, the scopes to ask
    for (``scope``, by default the read and write scopes), and ``error`` (``invalid_token``,
    ``insufficient_scope``) with its ``error_description`` when given (RFC 6750 section 3)."""
    params = [("resource_metadata", metadata_url(config)),
              ("scope", scope or f"{config.read_scope} {config.write_scope}")]
    if error is not None:
        params.append(("error", error))
        if description is not None:
            params.append(("error_description", description))
    return "Bearer " + ", ".join(f"{name}={_quoted(value)}" for name, value in params)


def resource_hosts(config: OAuthConfig) -> list[str]:
    """The ``Host`` values the resource URL's clients send (none when OAuth is off)."""
    if not config.enabled:
        return []
    return [urlsplit(_resource(config)).netloc]


def bearer_settings(config: OAuthConfig) -> dict[str, Any]:
    """:class:`~memvault.interfaces.http.auth.BearerAuth`'s challenges and public paths:
    OAuth's when it is on, its defaults otherwise."""
    if not config.enabled:
        return {}
    return {"challenge": challenge(config),
            "refused_challenge": challenge(config, error="invalid_token",
                                           description="the access token was refused"),
            "public_paths": ("/health", *metadata_paths(config))}


def _needed(principal: Principal, scope: Scope) -> int:
    """The level (an index of ``SCOPES``) that would allow the request ``principal`` was
    refused: ``admin`` to act for another user, else the one above its own."""
    asked = Request(scope).headers.get("x-user-id")
    if principal.scope != "admin" and asked is not None and unquote(asked) != principal.user_id:
        return SCOPES.index("admin")
    return min(SCOPES.index(principal.scope) + 1, len(SCOPES) - 1)


class ScopeChallenge:
    """Adds ``WWW-Authenticate: Bearer error="insufficient_scope", scope=...`` to a 403
    answered to an OAuth principal (one whose scope does not allow the call, e.g. a write
    with a read token, or another user's ``X-User-ID`` without admin): ``scope`` names the
    configured scopes up to the one that would allow it. Runs inside
    :class:`~memvault.interfaces.http.auth.BearerAuth`, which sets the principal."""

    def __init__(self, app: ASGIApp, config: OAuthConfig) -> None:
        self.app = app
        self._config = config
        self._names = (config.read_scope, config.write_scope, config.admin_scope)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = principal_of(Request(scope)) if scope["type"] == "http" else None
        if principal is None or not principal.subject.startswith(SUBJECT_PREFIX):
            await self.app(scope, receive, send)
            return
        found = principal

        async def send_challenge(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 403:
                headers = MutableHeaders(scope=message)
                if "www-authenticate" not in headers:
                    wanted = " ".join(self._names[: _needed(found, scope) + 1])
                    headers["WWW-Authenticate"] = challenge(
                        self._config, error="insufficient_scope", scope=wanted,
                        description="the access token's scope does not allow this request")
            await send(message)

        await self.app(scope, receive, send_challenge)
