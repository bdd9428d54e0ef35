"""What ``memvault serve`` runs: the MCP server over stdio, or the one HTTP app that carries
MCP, the REST API and ``/health``.

This is where the MCP server (:mod:`memvault.interfaces.mcp`) and the HTTP app
(:mod:`memvault.interfaces.http`) meet; neither imports the other.
"""

from __future__ import annotations

from starlette.applications import Starlette

from memvault.config import Config
from memvault.interfaces.http.app import http_app, serve_http
from memvault.interfaces.http.auth import check_bind
from memvault.interfaces.mcp.frames import screen
from memvault.interfaces.mcp.server import build_server
from memvault.interfaces.mcp.stdio import serve_stdio
from memvault.interfaces.runtime import Runtime, ServeOptions

__all__ = ["build_http_app", "serve"]


def build_http_app(config: Config, options: ServeOptions) -> Starlette:
    """The HTTP app for ``options`` (transport ``sse`` or ``http``), with its own Runtime on
    ``config``; the Memvault opens when the app's lifespan starts."""
    runtime = Runtime(config=config, log_level=options.log_level)
    return http_app(runtime, build_server(runtime), options, screen=screen)


async def serve(config: Config, options: ServeOptions) -> None:
    """Serve over ``options.transport`` until the client hangs up (stdio) or cancelled."""
    if options.transport == "stdio":
        await serve_stdio(config, options)
    else:
        check_bind(options.host, options.token)
        await serve_http(build_http_app(config, options), options, config.user_id)
