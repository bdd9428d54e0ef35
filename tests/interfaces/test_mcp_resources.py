"""Resources and prompts through a real MCP client, in process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from tests.interfaces.mcp_harness import inprocess_client

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with inprocess_client(tmp_path / "m.db") as connected:
        yield connected


def _text(result: object) -> str:
    contents = result.contents  # type: ignore[attr-defined]
    assert len(contents) == 1
    assert contents[0].mime_type == "application/json"
    return str(contents[0].text)


async def test_resources_and_templates_are_listed_with_types(client: Client) -> None:
    listed = await client.list_resources()
    assert [(r.uri, r.mime_type) for r in listed.resources] == [
        ("memvault://profile", "application/json")]
    assert all(r.description for r in listed.resources)
    templates = await client.list_resource_templates()
    assert sorted(t.uri_template for t in templates.resource_templates) == [
        "memvault://memories/{memory_id}", "memvault://sessions/{session_id}/recent"]


async def test_profile_memory_and_recent_turns_read_back(client: Client) -> None:
    added = await client.call_tool("add_memory", {
        "content": "I moved to Lisbon in May", "session_id": "s1",
        "profile": {"city": "Lisbon"}})
    assert added.structured_content is not None
    memory_id = added.structured_content["id"]

    profile = json.loads(_text(await client.read_resource("memvault://profile")))
    assert [(f["key"], f["value"]) for f in profile["facts"]] == [("city", "Lisbon")]
    assert profile["facts"][0]["source_memory_ids"] == [memory_id]

    memory = json.loads(_text(await client.read_resource(f"memvault://memories/{memory_id}")))
    assert memory["content"] == "I moved to Lisbon in May"

    recent = json.loads(_text(await client.read_resource("memvault://sessions/s1/recent")))
    assert [t["content"] for t in recent["turns"]] == ["I moved to Lisbon in May"]


async def test_an_unknown_memory_is_not_found(client: Client) -> None:
    with pytest.raises(MCPError, match="no memory"):
        await client.read_resource("memvault://memories/nope")
    with pytest.raises(MCPError):
        await client.read_resource("memvault://nothing-here")


async def test_prompts_are_listed_with_their_arguments(client: Client) -> None:
    prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    assert set(prompts) == {"recall", "save_facts"}
    assert [(a.name, a.required) for a in prompts["recall"].arguments or []] == [
        ("topic", True)]
    assert [(a.name, a.required) for a in prompts["save_facts"].arguments or []] == [
        ("focus", False)]


async def test_recall_fills_in_memories_and_profile(client: Client) -> None:
    await client.call_tool("add_memory", {"content": "I booked a flight to Lisbon",
                                          "profile": {"diet": "vegan"}})
    got = await client.get_prompt("recall", {"topic": "Lisbon flight"})
    text = got.messages[0].content.text  # type: ignore[union-attr]
    assert "I booked a flight to Lisbon" in text
    assert 'diet: "vegan"' in text
    empty = await client.get_prompt("recall", {"topic": "zebras"})
    assert "(none found)" in empty.messages[0].content.text  # type: ignore[union-attr]
    with pytest.raises(MCPError, match="query is empty"):
        await client.get_prompt("recall", {"topic": " "})


async def test_save_facts_explains_add_memory_and_profile(client: Client) -> None:
    got = await client.get_prompt("save_facts", {"focus": "travel"})
    text = got.messages[0].content.text  # type: ignore[union-attr]
    for word in ("add_memory", "profile", "travel"):
        assert word in text
    with pytest.raises(MCPError):
        await client.get_prompt("recall", {})
