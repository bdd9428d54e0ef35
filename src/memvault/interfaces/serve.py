"""What ``memvault serve`` runs: the MCP server over stdio, or the one HTTP app that carries
MCP, the REST API and ``/health``.

This is where the MCP server (:mod:`memvault.interfaces.mcp`) and the HTTP app
(:mod:`memvault.interfaces.http`) meet; neither imports the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from memvault.config import Config
from memvault.core.encryption import check_keys
from memvault.interfaces.mcp.server import build_server
from memvault.interfaces.runtime import Runtime, ServeOptions

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from memvault.interfaces.identity import Authenticator

__all__ = ["authenticators", "build_http_app", "serve"]

# The HTTP stack (Starlette, uvicorn, the REST API, the dashboard, OAuth) is imported by the
# functions that serve HTTP: over stdio, the handshake would wait for it.


def authenticators(config: Config, options: ServeOptions, runtime: Runtime
                   ) -> list[Authenticator]:
    """Who may call the HTTP server: the authenticators a bearer credential is offered to,
    in order (the first to accept it names the caller). Empty: no credential is asked for.
    A new kind of credential (e.g. OAuth access tokens) is one more line here."""
    from memvault.interfaces.http.auth import TokenAuthenticator
    from memvault.interfaces.http.keys import KeyAuthenticator
    from memvault.interfaces.http.oauth import JwtAuthenticator

    found: list[Authenticator] = []
    if options.token:
        found.append(TokenAuthenticator(options.token))
    if options.keys:
        found.append(KeyAuthenticator(runtime))
    if config.oauth.enabled:
        found.append(JwtAuthenticator(config.oauth))
    return found


def build_http_app(config: Config, options: ServeOptions, *, check: bool = False
                   ) -> Starlette:
    """The HTTP app for ``options`` (transport ``sse`` or ``http``), with its own Runtime on
    ``config``; the Memvault opens when the app's lifespan starts. ``check``: refuse first
    (:func:`~memvault.interfaces.http.auth.check_bind`) to listen off loopback without a
    credential."""
    from memvault.interfaces.http.app import http_app
    from memvault.interfaces.http.auth import TokenAuthenticator, check_bind
    from memvault.interfaces.mcp.frames import screen

    runtime = Runtime(config=config, log_level=options.log_level)
    found = authenticators(config, options, runtime)
    if check:
        others = any(not isinstance(a, TokenAuthenticator) for a in found)
        check_bind(options.host, options.token, other_credentials=others)
    return http_app(runtime, build_server(runtime), options, screen=screen,
                    authenticators=found)


async def serve(config: Config, options: ServeOptions) -> None:
    """Serve over ``options.transport`` until the client hangs up (stdio) or cancelled.

    Before anything is served, the stores' keys are checked (:func:`check_keys`): a key
    that is missing, unreadable or wrong raises its one-line error and nothing listens."""
    await check_keys(config)
    if options.transport == "stdio":
        from memvault.interfaces.mcp.stdio import serve_stdio

        await serve_stdio(config, options)
    else:
        from memvault.interfaces.http.app import serve_http

        app = build_http_app(config, options, check=True)
        await serve_http(app, options, config.user_id)
