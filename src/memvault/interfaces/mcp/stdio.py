"""Serving MCP over stdin/stdout, for a desktop client that spawns ``memvault serve``."""

from __future__ import annotations

import logging
import sys

import anyio

from memvault.config import Config
from memvault.interfaces.mcp.server import build_server
from memvault.interfaces.runtime import Runtime, ServeOptions

__all__ = ["serve_stdio"]

log = logging.getLogger("memvault.serve")


async def serve_stdio(config: Config, options: ServeOptions) -> None:
    """Serve MCP over stdin/stdout until the client closes them; only protocol messages
    reach stdout. The Memvault is opened in the background, once."""
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
