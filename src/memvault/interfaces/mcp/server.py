"""The MCP server: the tools of :mod:`.tools`, the resources and prompts of
:mod:`.resources`, over one Memvault.

The Memvault is opened by whoever runs the server (the stdio runner or the HTTP app's
lifespan) and handed over through a :class:`Runtime`, which the server gives its tools as its
lifespan context.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

import mcp_types as types
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase
from pydantic import AnyUrl, ConfigDict, ValidationError

from memvault.interfaces.mcp import resources
from memvault.interfaces.mcp.memory_types import (
    TYPED_TOOLS,
    add_memory_note,
    register_types,
    require_content,
    restrict_type_argument,
)
from memvault.interfaces.mcp.tools import TOOLS, authorized
from memvault.interfaces.runtime import Runtime
from memvault.interfaces.schemas import describe_invalid

__all__ = ["INSTRUCTIONS", "build_server", "clean_text"]

INSTRUCTIONS = """\
memvault is the user's long-term memory, shared across chats, agents and tools.
- Before answering anything that may depend on the user's past (preferences, people, plans,
  earlier conversations), call search_memory with a short query. Long memories come back as
  excerpts around what matched (shortened: true); get_memory returns one in full.
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

    server: MCPServer[Runtime] = _StrictServer(
        "memvault", instructions=INSTRUCTIONS, version=__version__,
        log_level=runtime.log_level, lifespan=lifespan,
    )
    for tool, hints in TOOLS:
        description = clean_text(tool.__doc__ or "")
        if tool.__name__ == "add_memory":
            description += add_memory_note(runtime.config)
        server.add_tool(tool, title=hints.title, description=description, annotations=hints)
        registered = server._tool_manager.get_tool(tool.__name__)
        _make_strict(registered)
        if registered is not None and tool.__name__ in TYPED_TOOLS:
            restrict_type_argument(registered.parameters, runtime.config)
        if registered is not None and tool.__name__ == "add_memory":
            require_content(registered.parameters, runtime.config)
    resources.register(server)
    register_types(server, runtime.config)
    _register_set_level(server)
    return server


def clean_text(doc: str) -> str:
    """A docstring as a model should read it: paragraphs kept, each on one line."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def _make_strict(tool: Tool | None) -> None:
    """Tool arguments follow the rule REST bodies do: unknown ones refused, no coercion
    (``"5"`` and ``true`` are not numbers); the advertised schema says so
    (``additionalProperties: false``)."""
    assert tool is not None
    loose = tool.fn_metadata.arg_model
    strict: type[ArgModelBase] = type(loose.__name__, (loose,), {"model_config": ConfigDict(
        arbitrary_types_allowed=True, extra="forbid", strict=True)})
    tool.fn_metadata.arg_model = strict
    tool.parameters = strict.model_json_schema(by_alias=True)


class _StrictServer(MCPServer[Runtime]):
    """Refuses invalid tool arguments with one line naming them (the SDK's message spans
    several lines and links to pydantic's docs), then what the caller's credential does not
    allow (:func:`~memvault.interfaces.mcp.tools.authorized`)."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Runtime, Any] | None = None
    ) -> types.CallToolResult | types.InputRequiredResult:
        tool = self._tool_manager.get_tool(name)
        if tool is not None:
            try:
                tool.fn_metadata.validate_arguments(arguments)
            except ValidationError as exc:
                message = describe_invalid(exc, tool.fn_metadata.arg_model)
                raise ToolError(f"invalid arguments for {name}: {message}") from None
            if context is not None:
                with authorized(context, name):
                    return await super().call_tool(name, arguments, context)
        return await super().call_tool(name, arguments, context)

    async def read_resource(
        self, uri: AnyUrl | str, context: Context[Runtime, Any] | None = None
    ) -> Iterable[ReadResourceContents] | types.InputRequiredResult:
        found = self._resource_manager._resources.get(str(uri))
        if found is not None and context is not None:
            text = await resources.read_caller_resource(found, context)
            if text is not None:
                return [ReadResourceContents(content=text, mime_type=found.mime_type)]
        return await super().read_resource(uri, context)


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
