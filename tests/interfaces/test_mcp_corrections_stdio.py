"""A stdio session with the official client: add, correct and read back a memory in full;
set and forget a profile fact and see both in the history; read the profile and a memory
resource; get each prompt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.interfaces.mcp_harness import call_error, call_ok, stdio_session

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


def _resource_json(result: object) -> dict[str, object]:
    [content] = result.contents  # type: ignore[attr-defined]
    assert content.mime_type == "application/json"
    loaded: dict[str, object] = json.loads(content.text)
    return loaded


async def test_correct_forget_and_read_back_over_stdio(tmp_path: Path) -> None:
    async with stdio_session(tmp_path) as conn:
        s = conn.session
        tools = {t.name: t for t in (await s.list_tools()).tools}
        for name in ("update_memory", "set_profile"):
            hints = tools[name].annotations
            assert hints is not None
            assert (hints.read_only_hint, hints.open_world_hint) == (False, False)
            assert tools[name].output_schema is not None

        added = await call_ok(s, "add_memory", content="Anna moved to Paris in May",
                              session_id="chat-1", metadata={"topic": "moving"})
        fixed = await call_ok(s, "update_memory", memory_id=added["id"],
                              content="Anna moved to Lisbon in May")
        assert (fixed["id"], fixed["content"], fixed["metadata"]) == (
            added["id"], "Anna moved to Lisbon in May", {"topic": "moving"})
        read = await call_ok(s, "get_memory", memory_id=added["id"])
        assert read == fixed
        assert [(v["version"], v["content"]) for v in read["history"]] == [
            (1, "Anna moved to Paris in May")]
        found = await call_ok(s, "search_memory", query="Lisbon")
        assert [h["memory"]["id"] for h in found["hits"]] == [added["id"]]
        assert "nothing to update" in await call_error(s, "update_memory",
                                                       memory_id=added["id"])
        assert await call_ok(s, "get_memory", memory_id=added["id"]) == read

        set_ = await call_ok(s, "set_profile", facts={"diet": "vegan", "city": "Lisbon"})
        assert sorted(f["key"] for f in set_["facts"]) == ["city", "diet"]
        forgot = await call_ok(s, "set_profile", facts={"diet": None})
        assert [(f["key"], f["retired_reason"]) for f in forgot["facts"]] == [
            ("diet", "forgotten")]
        profile = await call_ok(s, "get_profile", include_history=True)
        assert [(f["key"], f["value"]) for f in profile["facts"]] == [("city", "Lisbon")]
        assert [(f["key"], f["value"], f["retired_reason"]) for f in profile["history"]] == [
            ("diet", "vegan", "forgotten")]

        resource = _resource_json(await s.read_resource("memvault://profile"))
        assert [f["key"] for f in resource["facts"]] == ["city"]  # type: ignore[index]
        memory = _resource_json(await s.read_resource(f"memvault://memories/{added['id']}"))
        assert memory["content"] == "Anna moved to Lisbon in May"
        assert len(memory["history"]) == 1  # type: ignore[arg-type]

        prompts = {p.name: p for p in (await s.list_prompts()).prompts}
        assert set(prompts) == {"recall", "save_facts"}
        recall = await s.get_prompt("recall", {"topic": "where Anna lives"})
        text = recall.messages[0].content.text  # type: ignore[union-attr]
        assert "Anna moved to Lisbon in May" in text
        assert "city" in text
        saving = await s.get_prompt("save_facts", {"focus": "travel"})
        text = saving.messages[0].content.text  # type: ignore[union-attr]
        assert "add_memory" in text
        assert "update_memory" in text
        assert "travel" in text
