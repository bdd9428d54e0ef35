"""CI only, never shipped: ``memvault serve`` with the conformance suite's reference fixtures.

Some scenarios of ``@modelcontextprotocol/conformance`` read fixtures of the suite's reference
server by fixed name, and the suite offers no way for a server to name its own:

* resources-read-text reads ``test://static-text``;
* resources-templates-read reads ``test://template/123/data`` (template
  ``test://template/{id}/data``) and looks for ``123`` in the text;
* prompts-get-simple gets ``test_simple_prompt``; prompts-get-with-args gets
  ``test_prompt_with_arguments`` with ``arg1`` and ``arg2`` and looks for both values;
* server-stateless calls ``test_missing_capability`` (must be refused with -32021 and HTTP 400
  when the client did not declare ``sampling``), and ``test_trigger_tool_change`` /
  ``test_trigger_prompt_change`` while a ``subscriptions/listen`` stream is open (must bring
  ``notifications/tools/list_changed`` / ``prompts/list_changed`` on it).

This script runs the real ``memvault serve`` command line (the same config, HTTP app,
Host/Origin guard, authentication and stateless handling) with one change: the MCP server it
builds gets those fixtures added next to memvault's own tools, resources and prompts. It
replaces :func:`memvault.interfaces.serve.build_server` for this process only, so nothing of
it reaches the package. Usage is that of ``memvault``:
``python .ci/conformance_server.py --database x.db --embedder none serve --transport http``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import mcp_types as types
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.resolve import Resolve, Sample

from memvault.interfaces import serve as serve_module
from memvault.interfaces.cli.main import main
from memvault.interfaces.mcp.server import build_server
from memvault.interfaces.runtime import Runtime

STATIC_TEXT = "This is the content of the static text resource."


def _ask_model() -> Sample:
    """What test_missing_capability needs from the client: one sampled message, so the
    client's ``sampling`` capability (the SDK refuses the call with -32021 without it)."""
    return Sample([types.SamplingMessage(
        role="user", content=types.TextContent(type="text", text="Say hello."))],
        max_tokens=16)


def add_fixtures(server: MCPServer[Any]) -> None:
    """Add the suite's reference fixtures (the module docstring lists them) to ``server``."""

    @server.resource("test://static-text", name="static_text", mime_type="text/plain",
                     description="A static text resource (conformance fixture).")
    def static_text() -> str:
        return STATIC_TEXT

    @server.resource("test://template/{id}/data", name="template_data",
                     mime_type="application/json",
                     description="A templated resource (conformance fixture).")
    def template_data(id: str) -> str:
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})

    @server.prompt(name="test_simple_prompt", description="A prompt without arguments "
                   "(conformance fixture).")
    def simple_prompt() -> str:
        return "This is a simple prompt for testing."

    @server.prompt(name="test_prompt_with_arguments", description="A prompt with two "
                   "arguments (conformance fixture).")
    def prompt_with_arguments(arg1: str, arg2: str) -> str:
        return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"

    @server.tool(name="test_missing_capability", description="Samples the client's model, "
                 "so needs its sampling capability (conformance fixture).")
    def missing_capability(
        sampled: Annotated[types.CreateMessageResult, Resolve(_ask_model)],
    ) -> str:
        content = sampled.content
        return content.text if isinstance(content, types.TextContent) else "sampled"

    changed = {"tool": False, "prompt": False}

    def extra_tool() -> str:
        return "A tool that comes and goes."

    def extra_prompt() -> str:
        return "A prompt that comes and goes."

    @server.tool(name="test_trigger_tool_change", description="Adds or removes a tool and "
                 "tells subscribers the tool list changed (conformance fixture).")
    async def trigger_tool_change(ctx: Context[Runtime, Any]) -> str:
        if changed["tool"]:
            server.remove_tool("test_dynamic_tool")
        else:
            server.add_tool(extra_tool, name="test_dynamic_tool",
                            description="A tool that comes and goes.")
        changed["tool"] = not changed["tool"]
        await ctx.notify_tools_changed()
        return "tool list changed"

    @server.tool(name="test_trigger_prompt_change", description="Adds or removes a prompt "
                 "and tells subscribers the prompt list changed (conformance fixture).")
    async def trigger_prompt_change(ctx: Context[Runtime, Any]) -> str:
        if changed["prompt"]:
            server.remove_prompt("test_dynamic_prompt")
        else:
            server.prompt(name="test_dynamic_prompt",
                          description="A prompt that comes and goes.")(extra_prompt)
        changed["prompt"] = not changed["prompt"]
        await ctx.notify_prompts_changed()
        return "prompt list changed"


def build_server_with_fixtures(runtime: Runtime) -> MCPServer[Runtime]:
    """memvault's MCP server for ``runtime``, with the fixtures added."""
    server = build_server(runtime)
    add_fixtures(server)
    return server


if __name__ == "__main__":
    # What `memvault serve` builds its MCP server with, in this process only.
    serve_module.build_server = build_server_with_fixtures  # type: ignore[attr-defined]
    main()
