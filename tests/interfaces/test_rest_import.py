"""``POST /v1/import``: the file as the body, its format as a query parameter."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from memvault.interfaces.http import operations
from tests.interfaces.test_rest import _config, _error, _serve

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

FIXTURES = Path(__file__).parent.parent / "fixtures" / "import"


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with _serve(_config(tmp_path)) as client:
        yield client


async def test_import_a_chatgpt_export_twice(api: httpx.AsyncClient) -> None:
    body = (FIXTURES / "chatgpt" / "conversations.json").read_bytes()
    first = await api.post("/v1/import", params={"format": "chatgpt"}, content=body,
                           headers={"Content-Type": "application/json", "X-User-ID": "bob"})
    assert first.status_code == 200, first.text
    assert first.json()["memories"] == 7
    again = await api.post("/v1/import", params={"format": "chatgpt"}, content=body,
                           headers={"X-User-ID": "bob"})
    assert (again.json()["memories"], again.json()["skipped"]) == (0, 7)
    listed = await api.get("/v1/memories", params={"limit": 100}, headers={"X-User-ID": "bob"})
    assert len(listed.json()["items"]) == 7
    mine = await api.get("/v1/memories")
    assert mine.json()["items"] == []


async def test_a_csv_with_a_mapping(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/import", params={"format": "csv", "map": "content=text,session_id=conv,"
                              "occurred_at=ts"},
        content=(FIXTURES / "table" / "notes.csv").read_bytes(),
        headers={"Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.json()["memories"] == 3


async def test_bad_records_are_named_by_position(api: httpx.AsyncClient) -> None:
    data = json.loads((FIXTURES / "mem0" / "memories.json").read_text())
    data["results"][0]["memory"] = 5
    body = json.dumps(data).encode()
    message = _error(await api.post("/v1/import", params={"format": "mem0"}, content=body),
                     400, "InvalidInput")
    assert "memories.json: memory 1: memory: missing" in message
    assert (await api.get("/v1/memories")).json()["items"] == []
    skipped = await api.post("/v1/import", params={"format": "mem0", "skip_invalid": "true"},
                             content=body)
    assert skipped.json()["memories"] == 2
    assert skipped.json()["invalid"][0]["message"].startswith("memories.json: memory 1:")


async def test_bad_requests(api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    _error(await api.post("/v1/import", params={"format": "word"}, content=b"x"),
           400, "InvalidInput")
    empty = await api.post("/v1/import", params={"format": "chatgpt"}, content=b"")
    assert empty.json()["memories"] == 0
    assert "not JSON" in _error(await api.post("/v1/import", params={"format": "claude"},
                                               content=b"{nope"), 400, "InvalidInput")
    monkeypatch.setattr(operations, "MAX_IMPORT_BYTES", 10)
    from memvault.interfaces.http import rest
    monkeypatch.setattr(rest, "MAX_IMPORT_BYTES", 10)
    _error(await api.post("/v1/import", params={"format": "csv"}, content=b"x" * 11),
           413, "PayloadTooLarge")
