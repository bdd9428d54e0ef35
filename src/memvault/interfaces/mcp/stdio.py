"""Serving MCP over stdin/stdout, for a desktop client that spawns ``memvault serve``.

Every line is read by memvault first (:func:`memvault.interfaces.mcp.frames.screen`): the
MCP SDK's stdio transport drops a frame it cannot parse without a reply, so a frame that is
not JSON, nests too deep or holds a lone surrogate is answered here with a JSON-RPC error and
never reaches the SDK; the server keeps serving.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Callable
from functools import partial
from io import TextIOWrapper
from typing import Any

import anyio
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage

from memvault.config import Config
from memvault.interfaces.mcp.frames import screen
from memvault.interfaces.mcp.server import build_server
from memvault.interfaces.runtime import Runtime, ServeOptions

__all__ = ["serve_stdio"]

log = logging.getLogger("memvault.serve")


class _ScreenedStdin:
    """stdin's lines for the SDK, without the ones :func:`screen` answers itself;
    ``on_second`` is called when the second message comes."""

    def __init__(self, on_second: Callable[[], None]) -> None:
        stream = TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
        self._lines = anyio.wrap_file(stream)
        self._on_second = on_second
        self._seen = 0
        self.replies: Any = None  # the SDK's write stream, once it exists

    async def __aiter__(self) -> AsyncIterator[str]:
        async for line in self._lines:
            if not line.strip():
                continue
            self._seen += 1
            if self._seen == 2:
                self._on_second()
            error = screen(line)
            if error is None:
                yield line
            elif self.replies is not None:
                await self.replies.send(SessionMessage(error))


async def serve_stdio(config: Config, options: ServeOptions) -> None:
    """Serve MCP over stdin/stdout until the client closes them; only protocol messages
    reach stdout. The Memvault is opened in the background, once: when the client's second
    message comes (a client sends it once it has the answer to its first, ``initialize``)
    or a call needs it, so that opening it does not delay the handshake."""
    # The SDK diverts fd 1 to stderr while serving; line buffering makes a stray print() from
    # a library land there at once instead of on the wire at exit.
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    runtime = Runtime(config=config, log_level=options.log_level)
    server = build_server(runtime)
    lowlevel = server._lowlevel_server
    stdin = _ScreenedStdin(on_second=runtime.want_open)
    async with anyio.create_task_group() as group:
        group.start_soon(partial(runtime.keep_open, on_demand=True))
        log.info("memvault: serving MCP over stdio for user %s", config.user_id)
        async with stdio_server(stdin=stdin) as (read_stream, write_stream):  # type: ignore[arg-type]
            stdin.replies = write_stream
            await lowlevel.run(read_stream, write_stream,
                               lowlevel.create_initialization_options())
        group.cancel_scope.cancel()
