"""Correcting over REST: PATCH a memory, set profile facts with null, DELETE one fact."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.interfaces.test_rest import BOB, _add, _config, _error, _serve

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with _serve(_config(tmp_path)) as client:
        yield client


async def test_patch_corrects_a_memory_and_get_shows_its_history(
    api: httpx.AsyncClient,
) -> None:
    memory = await _add(api, "I live in Paris", metadata={"topic": "home"})
    patched = await api.patch(f"/v1/memories/{memory['id']}",
                              json={"content": "I live in Lisbon"})
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["id"], body["content"], body["metadata"]) == (
        memory["id"], "I live in Lisbon", {"topic": "home"})
    assert [(v["version"], v["content"]) for v in body["history"]] == [(1, "I live in Paris")]
    got = (await api.get(f"/v1/memories/{memory['id']}")).json()
    assert got == body
    found = (await api.post("/v1/memories/search", json={"query": "Lisbon"})).json()
    assert [h["memory"]["id"] for h in found["hits"]] == [memory["id"]]


async def test_patch_refuses_bad_input_and_changes_nothing(api: httpx.AsyncClient) -> None:
    memory = await _add(api, "keep me")
    path = f"/v1/memories/{memory['id']}"
    assert "nothing to update" in _error(await api.patch(path, json={}), 400, "InvalidInput")
    assert "content" in _error(await api.patch(path, json={"content": " "}), 400,
                               "InvalidInput")
    assert "occurred_at" in _error(await api.patch(path, json={"occurred_at": "soon"}), 400,
                                   "InvalidInput")
    _error(await api.patch(path, json={"content": "bob's now"}, headers=BOB), 404, "NotFound")
    assert (await api.get(path)).json() == {**memory, "history": []}


async def test_set_with_null_and_delete_forget_profile_facts(api: httpx.AsyncClient) -> None:
    put = await api.put("/v1/profile", json={"facts": {"diet": "vegan", "city": "Berlin"}})
    assert put.status_code == 200, put.text
    put = await api.put("/v1/profile", json={"facts": {"diet": None}})
    assert [(f["key"], f["retired_reason"]) for f in put.json()["facts"]] == [
        ("diet", "forgotten")]
    deleted = await api.delete("/v1/profile/city")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["forgotten"]["value"] == "Berlin"
    assert "no current value" in _error(await api.delete("/v1/profile/city"), 404, "NotFound")
    profile = (await api.get("/v1/profile", params={"include_history": "true"})).json()
    assert profile["facts"] == []
    assert sorted(f["key"] for f in profile["history"]) == ["city", "diet"]
    assert {f["retired_reason"] for f in profile["history"]} == {"forgotten"}
