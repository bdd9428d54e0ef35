"""The configured memory types as the model sees them: the ``memvault://types`` resource
(each type's name, description and JSON Schema) and, in the tools' input schemas, ``type``
arguments restricted to the configured names."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver.resources import TextResource

from memvault.config import Config
from memvault.interfaces.schemas import TYPES_URI

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from memvault.interfaces.runtime import Runtime

__all__ = [
    "TYPED_TOOLS", "add_memory_note", "describe_types", "register_types", "require_content",
    "restrict_type_argument",
]

#: The tools whose ``type`` argument names a memory type.
TYPED_TOOLS = ("add_memory", "search_memory", "list_memories")


def describe_types(config: Config) -> dict[str, Any]:
    """``{"types": [{"name", "description", "schema"}, ...]}``, by name (as ``GET
    /v1/types`` answers)."""
    from memvault.core.typed import TypeRegistry  # with its checks: only when types are used

    return {"types": TypeRegistry(config.types).describe()}


def add_memory_note(config: Config) -> str:
    """What the add_memory description says of memory types, when some are configured."""
    if not config.types:
        return ""
    return (f"\n\nFor a memory of a configured type ({', '.join(sorted(config.types))}; "
            f"their fields are described in the resource {TYPES_URI}), give type and data "
            "instead of content.")


def restrict_type_argument(parameters: dict[str, Any], config: Config) -> None:
    """Make a tool's ``type`` argument (a string or null) an enum of the configured names;
    with none configured it stays a plain string (any value is refused by the core)."""
    prop = parameters.get("properties", {}).get("type")
    if prop is None or not config.types:
        return
    names = sorted(config.types)
    branches = prop.get("anyOf")
    if isinstance(branches, list):
        for branch in branches:
            if branch.get("type") == "string":
                branch["enum"] = names
    else:
        prop["enum"] = names


def require_content(parameters: dict[str, Any], config: Config) -> None:
    """With no memory type configured, ``content`` is required by add_memory's schema (with
    types, a typed memory may leave it out; clients take no "content or type" alternative
    at the top of a tool's schema, so the description says so)."""
    if config.types:
        return
    required = parameters.setdefault("required", [])
    if "content" not in required:
        required.insert(0, "content")


def register_types(server: MCPServer[Runtime], config: Config) -> None:
    """Add the ``memvault://types`` resource (the same for every caller) when memory types
    are configured."""
    if not config.types:
        return
    server.add_resource(TextResource(
        uri=TYPES_URI, name="memory_types", title="Memory types",
        mime_type="application/json",
        description="The memory types configured for this memory: for each, its name, what "
        "it is for and the JSON Schema its data follows (add_memory's type and data).",
        text=json.dumps(describe_types(config), indent=2, ensure_ascii=False),
    ))
