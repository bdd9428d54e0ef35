"""Memory types over REST: GET /v1/types, typed adds (single and batch), their validation
errors (400, one line, nothing stored), filters, PATCH of data and the OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from memvault import Config
from tests.core.test_memory_types import TYPES
from tests.interfaces.test_rest import _error, _serve

pytestmark = pytest.mark.anyio


def _typed_config(tmp_path: Path) -> Config:
    return Config.from_flat({"database": str(tmp_path / "m.db"), "user_id": "alice",
                             "embedder": "none", "types": TYPES})


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with _serve(_typed_config(tmp_path)) as client:
        yield client


async def test_types_are_listed(api: httpx.AsyncClient) -> None:
    listed = await api.get("/v1/types")
    assert listed.status_code == 200, listed.text
    types = listed.json()["types"]
    assert [t["name"] for t in types] == ["deal", "medication"]
    assert types[0]["schema"] == TYPES["deal"]["schema"]


async def test_typed_add_list_search_and_patch(api: httpx.AsyncClient) -> None:
    added = await api.post("/v1/memories", json={
        "type": "medication", "data": {"name": "Metformin", "dose": "500 mg",
                                       "since": "2025-03"}})
    assert added.status_code == 201, added.text
    memory = added.json()
    assert memory["content"] == "medication: name=Metformin; dose=500 mg; since=2025-03"
    assert (memory["type"], memory["data"]["dose"]) == ("medication", "500 mg")
    batch = await api.post("/v1/memories/batch", json={"items": [
        {"type": "deal", "data": {"account": "Acme", "stage": "won"}},
        {"content": "lunch with Acme"}]})
    assert batch.status_code == 201, batch.text
    deal = batch.json()["items"][0]
    listed = (await api.get("/v1/memories", params={"type": "deal"})).json()
    assert [m["id"] for m in listed["items"]] == [deal["id"]]
    found = (await api.post("/v1/memories/search", json={
        "query": "Acme", "type": "deal"})).json()
    assert [h["memory"]["id"] for h in found["hits"]] == [deal["id"]]
    by_field = (await api.post("/v1/memories/search", json={
        "query": "Metformin", "filters": {"data": {"dose": "500 mg"}}})).json()
    assert [h["memory"]["id"] for h in by_field["hits"]] == [memory["id"]]
    patched = await api.patch(f"/v1/memories/{memory['id']}", json={
        "data": {"name": "Metformin", "dose": "850 mg"}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["content"] == "medication: name=Metformin; dose=850 mg"
    assert patched.json()["history"][0]["data"]["dose"] == "500 mg"
    refused = await api.patch(f"/v1/memories/{memory['id']}", json={"data": {"name": "M"}})
    assert "data: 'dose' is a required property" in _error(refused, 400, "InvalidInput")


@pytest.mark.parametrize(("body", "named"), [
    ({"type": "medication", "data": {"name": "Metformin"}},
     "data: 'dose' is a required property"),
    ({"type": "deal", "data": {"account": "Acme", "stage": "won", "value": "lots"}},
     "data.value: 'lots' is not of type 'number'"),
    ({"type": "recipe", "data": {}}, "configured: deal, medication"),
    ({"data": {"a": 1}, "content": "x"}, "data needs a type"),
    ({}, "content"),
])
async def test_invalid_typed_adds_answer_400_and_store_nothing(
    api: httpx.AsyncClient, body: dict[str, object], named: str
) -> None:
    message = _error(await api.post("/v1/memories", json=body), 400, "InvalidInput")
    assert named in message
    assert "\n" not in message
    batch = await api.post("/v1/memories/batch", json={"items": [{"content": "ok"}, body]})
    assert named in _error(batch, 400, "InvalidInput")
    assert (await api.get("/v1/memories")).json()["items"] == []


async def test_no_types_configured_lists_none(tmp_path: Path) -> None:
    plain = Config.from_flat({"database": str(tmp_path / "p.db"), "user_id": "alice",
                              "embedder": "none"})
    async with _serve(plain) as client:
        assert (await client.get("/v1/types")).json() == {"types": []}


async def test_a_path_with_a_line_break_is_answered_as_json(api: httpx.AsyncClient) -> None:
    # Starlette's patterns stop at a line break; the REST mount takes such paths too
    assert "memory_id" in _error(await api.patch("/v1/memories/a%0Ab", json={"data": {}}),
                                 400, "InvalidInput")
    assert "no route" in _error(await api.get("/v1/nope%0Ax"), 404, "NotFound")
