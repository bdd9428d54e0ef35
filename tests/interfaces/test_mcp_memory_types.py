"""Memory types over MCP, in process: the memvault://types resource, the type argument's
enum and the add_memory description, typed adds, validation errors, filters and updates."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client

from tests.core.test_memory_types import TYPES
from tests.interfaces.mcp_harness import inprocess_client

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with inprocess_client(tmp_path / "m.db", types=TYPES) as connected:
        yield connected


async def test_types_resource_lists_names_descriptions_and_schemas(client: Client) -> None:
    listed = {r.uri: r for r in (await client.list_resources()).resources}
    assert "memvault://types" in listed
    read = await client.read_resource("memvault://types")
    body = json.loads(read.contents[0].text)  # type: ignore[union-attr]
    assert [t["name"] for t in body["types"]] == ["deal", "medication"]
    assert body["types"][1]["description"] == "A medication the user takes"
    assert body["types"][1]["schema"] == TYPES["medication"]["schema"]


async def test_type_arguments_are_an_enum_of_the_configured_types(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    for name in ("add_memory", "search_memory", "list_memories"):
        prop = tools[name].input_schema["properties"]["type"]
        strings = [b for b in prop["anyOf"] if b.get("type") == "string"]
        assert strings == [{"type": "string", "enum": ["deal", "medication"]}], name
    add = tools["add_memory"]
    assert "memvault://types" in (add.description or "")
    assert "content" not in add.input_schema.get("required", [])
    assert "data" in add.input_schema["properties"]
    assert "data" in tools["update_memory"].input_schema["properties"]


async def test_without_types_nothing_is_advertised(tmp_path: Path) -> None:
    async with inprocess_client(tmp_path / "plain.db") as plain:
        uris = [r.uri for r in (await plain.list_resources()).resources]
        assert "memvault://types" not in uris
        tools = {t.name: t for t in (await plain.list_tools()).tools}
        prop = tools["add_memory"].input_schema["properties"]["type"]
        assert all("enum" not in b for b in prop["anyOf"])
        assert "content" in tools["add_memory"].input_schema["required"]
        assert "memvault://types" not in (tools["add_memory"].description or "")
        failed = await plain.call_tool("add_memory", {"type": "deal", "data": {}})
        assert failed.is_error
        assert "none are configured" in failed.content[0].text  # type: ignore[union-attr]


async def test_typed_add_list_search_get_and_update(client: Client) -> None:
    added = await client.call_tool("add_memory", {
        "type": "deal", "data": {"account": "Acme", "stage": "negotiation", "value": 5000}})
    assert not added.is_error, added
    assert added.structured_content is not None
    memory_id = added.structured_content["id"]
    await client.call_tool("add_memory", {"content": "Acme's office moved"})
    listed = await client.call_tool("list_memories", {"type": "deal"})
    assert listed.structured_content is not None
    [item] = listed.structured_content["items"]
    assert (item["id"], item["type"], item["data"]["stage"]) == (
        memory_id, "deal", "negotiation")
    assert item["content"] == "deal: account=Acme; stage=negotiation; value=5000"
    found = await client.call_tool("search_memory", {
        "query": "Acme", "filters": {"data": {"stage": "negotiation"}}})
    assert found.structured_content is not None
    assert [h["memory"]["id"] for h in found.structured_content["hits"]] == [memory_id]
    updated = await client.call_tool("update_memory", {
        "memory_id": memory_id, "data": {"account": "Acme", "stage": "won", "value": 5000}})
    assert updated.structured_content is not None
    assert updated.structured_content["data"]["stage"] == "won"
    assert updated.structured_content["history"][0]["data"]["stage"] == "negotiation"


@pytest.mark.parametrize(("arguments", "named"), [
    ({"type": "medication", "data": {"name": "Metformin"}},
     "data: 'dose' is a required property"),
    ({"type": "medication", "data": {"name": "M", "dose": 5}}, "data.dose: 5 is not of type"),
    ({"type": "recipe", "data": {}}, "configured: deal, medication"),
])
async def test_invalid_typed_adds_are_one_line_and_store_nothing(
    client: Client, arguments: dict[str, object], named: str
) -> None:
    failed = await client.call_tool("add_memory", arguments)
    assert failed.is_error
    text = failed.content[0].text  # type: ignore[union-attr]
    assert named in text
    assert "\n" not in text
    listed = await client.call_tool("list_memories", {})
    assert listed.structured_content is not None
    assert listed.structured_content["items"] == []
