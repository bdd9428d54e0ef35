"""The MCP server: the six tools of :mod:`.tools` over one Memvault.

The Memvault is opened by whoever runs the server (the stdio runner or the HTTP app's
lifespan) and handed over through a :class:`Runtime`, which the server gives its tools as its
lifespan context.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import mcp_types as types
from mcp.server.mcpserver import MCPServer

from memvault.interfaces.mcp.tools import TOOLS
from memvault.interfaces.runtime import Runtime

__all__ = ["INSTRUCTIONS", "build_server"]

INSTRUCTIONS = """\
memvault is the user's long-term memory, shared across chats, agents and tools.
- Before answering anything that may depend on the user's past (preferences, people, plans,
  earlier conversations), call search_memory with a short query.
- Call add_memory for information worth keeping: what the user said or decided, facts about
  them, events with their dates. Store it verbatim; one memory per fact or turn.
- State lasting facts about the user (preferences, constraints, risk tolerance, health, style)
  in add_memory's `profile` argument; read them back with get_profile.
"""


def build_server(runtime: Runtime) -> MCPServer[Runtime]:
    """An MCPServer whose tools act on ``runtime``'s Memvault."""
    from memvault.__version__ import __version__

    # Entered per connection (stdio, SSE, in process) or once (streamable HTTP); it only
    # hands the runtime over: the Memvault's life is the runner's business.
    @contextlib.asynccontextmanager
    async def lifespan(_: MCPServer[Runtime]) -> AsyncIterator[Runtime]:
        yield runtime

    server: MCPServer[Runtime] = MCPServer(
        "memvault", instructions=INSTRUCTIONS, version=__version__,
        log_level=runtime.log_level, lifespan=lifespan,
    )
    for tool, hints in TOOLS:
        server.add_tool(tool, annotations=hints)
    _register_set_level(server)
    return server


def _register_set_level(server: MCPServer[Runtime]) -> None:
    """Answer ``logging/setLevel`` by setting memvault's log level (logs go to stderr)."""
    levels = {
        "debug": logging.DEBUG, "info": logging.INFO, "notice": logging.INFO,
        "warning": logging.WARNING, "error": logging.ERROR, "critical": logging.CRITICAL,
        "alert": logging.CRITICAL, "emergency": logging.CRITICAL,
    }

    async def set_level(ctx: Any, params: types.SetLevelRequestParams) -> types.EmptyResult:
        logging.getLogger("memvault").setLevel(levels.get(params.level, logging.INFO))
        return types.EmptyResult()

    # MCPServer has no public hook for this request; the low-level server does.
    server._lowlevel_server.add_request_handler(
        "logging/setLevel", types.SetLevelRequestParams, set_level
    )
