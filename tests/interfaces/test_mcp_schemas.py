"""What tools/list advertises: every tool has an output schema and answers with structured
content; every bound the shared argument table defines is in the JSON Schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from memvault.interfaces import schemas
from tests.interfaces.mcp_harness import inprocess_client

pytestmark = pytest.mark.anyio

#: Arguments bounded by a range of interfaces/schemas.py, by name.
RANGES = {"limit": schemas.LIMIT_RANGE, "context": schemas.CONTEXT_RANGE}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with inprocess_client(tmp_path / "m.db") as connected:
        yield connected


def _types(prop: dict[str, Any]) -> set[str]:
    found = {prop["type"]} if isinstance(prop.get("type"), str) else set()
    for option in prop.get("anyOf", []):
        found |= _types(option)
    return found


async def test_every_bound_is_in_the_schema_and_every_tool_has_an_output(
    client: Client,
) -> None:
    tools = (await client.list_tools()).tools
    assert tools
    for tool in tools:
        assert tool.output_schema is not None, tool.name
        assert tool.output_schema.get("type") == "object", tool.name
        assert tool.annotations is not None, tool.name
        assert tool.annotations.title, tool.name
        assert tool.annotations.open_world_hint is False, tool.name
        for name, prop in tool.input_schema["properties"].items():
            kinds = _types(prop)
            if "integer" in kinds:
                bounds = RANGES[name]  # every integer argument has a declared range
                assert (prop.get("minimum"), prop.get("maximum")) == (bounds.low, bounds.high), (
                    tool.name, name)
            if "number" in kinds:
                assert "minimum" in prop, (tool.name, name)
                assert "maximum" in prop, (tool.name, name)
            if name in ("content", "query", "memory_id") and tool.name != "delete_memory":
                assert prop.get("minLength") == 1, (tool.name, name)


async def test_every_tool_answers_with_structured_content(client: Client) -> None:
    added = await client.call_tool("add_memory", {"content": "Anna likes tea"})
    memory_id = (added.structured_content or {})["id"]
    calls: dict[str, dict[str, Any]] = {
        "search_memory": {"query": "tea"},
        "get_memory": {"memory_id": memory_id},
        "update_memory": {"memory_id": memory_id, "content": "Anna likes green tea"},
        "list_memories": {},
        "get_profile": {},
        "set_profile": {"facts": {"drink": "tea"}},
        "delete_memory": {"memory_id": memory_id},
        "delete_all_memories": {"confirm": True},
    }
    listed = {tool.name for tool in (await client.list_tools()).tools}
    assert listed == {"add_memory", *calls}
    for name, arguments in calls.items():
        result = await client.call_tool(name, arguments)
        assert not result.is_error, (name, result.content)
        assert isinstance(result.structured_content, dict), name
