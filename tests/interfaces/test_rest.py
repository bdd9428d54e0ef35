"""The REST API under ``/v1``: every route driven in process over ``build_http_app`` (its
lifespan run by hand), and one end-to-end run against the real ``memvault serve`` subprocess,
where REST and MCP clients see the same memories.

Every response the in-process client receives is checked against the schema the OpenAPI
document declares for its route and status, so the document cannot drift from the server.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx
import jsonschema  # type: ignore[import-untyped]
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from memvault import Config
from memvault.errors import ConfigError, StoreUnavailable
from memvault.interfaces.http import rest
from memvault.interfaces.http.openapi import openapi_document, render
from memvault.interfaces.http.rest import rest_routes
from memvault.interfaces.runtime import Runtime, ServeOptions
from memvault.interfaces.serve import build_http_app
from tests.interfaces.mcp_harness import call_ok, connect_http, running_server

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

DOC_FILE = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
BASE = "http://127.0.0.1"
BOB = {"X-User-ID": "bob"}


# -- harness -----------------------------------------------------------------------------------

def _config(tmp_path: Path, database: Path | None = None) -> Config:
    return Config.from_flat({"database": str(database or tmp_path / "m.db"),
                             "user_id": "alice", "embedder": "none"})


def _documented(response: httpx.Response) -> dict[str, Any] | None:
    """The JSON schema the OpenAPI document gives for this response, if it documents it."""
    doc = openapi_document()
    path, method = response.request.url.path, response.request.method.lower()
    for template, operations in doc["paths"].items():
        pattern = "^" + re.sub(r"\\{\w+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method in operations:
            declared = operations[method]["responses"].get(str(response.status_code))
            break
    else:
        return None
    if declared is None:
        raise AssertionError(f"{method.upper()} {path} answered {response.status_code}, "
                             "which the OpenAPI document does not list")
    if "$ref" in declared:
        declared = doc["components"]["responses"][declared["$ref"].rsplit("/", 1)[1]]
    schema: dict[str, Any] | None = declared["content"].get("application/json", {}).get("schema")
    return schema


async def _conforms(response: httpx.Response) -> None:
    await response.aread()
    schema = _documented(response)
    if schema is None:
        return
    validator = jsonschema.Draft202012Validator(
        {**schema, "components": openapi_document()["components"]})
    validator.validate(response.json())


@contextlib.asynccontextmanager
async def _serve(
    config: Config, *, token: str | None = None, transport: Literal["http", "sse"] = "http",
    headers: dict[str, str] | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    app = build_http_app(config, ServeOptions(transport=transport, token=token))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE, headers=headers, timeout=10,
        event_hooks={"response": [_conforms]},
    ) as client:
        yield client


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with _serve(_config(tmp_path)) as client:
        yield client


def _error(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["type"] == kind, body
    message: str = body["error"]["message"]
    assert message
    return message


async def _add(api: httpx.AsyncClient, content: str, headers: dict[str, str] | None = None,
               **fields: Any) -> dict[str, Any]:
    response = await api.post("/v1/memories", json={"content": content, **fields},
                              headers=headers)
    assert response.status_code == 201, response.text
    memory: dict[str, Any] = response.json()
    return memory


async def _ids(api: httpx.AsyncClient, headers: dict[str, str] | None = None) -> list[str]:
    response = await api.get("/v1/memories", params={"limit": 100}, headers=headers)
    assert response.status_code == 200, response.text
    return [m["id"] for m in response.json()["items"]]


# -- routes ------------------------------------------------------------------------------------

async def test_add_get_delete(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/memories", json={
        "content": "I moved to Lisbon in May", "metadata": {"topic": "home", "n": 1},
        "occurred_at": "2024-05-08T13:56:00+02:00", "session_id": "chat-1",
        "profile": {"city": "Lisbon", "diet": {"value": "vegan", "category": "preference"}},
    }, headers={"X-Agent-ID": "planner"})
    assert response.status_code == 201, response.text
    memory = response.json()
    assert response.headers["location"] == f"/v1/memories/{memory['id']}"
    assert memory["content"] == "I moved to Lisbon in May"
    assert memory["user_id"] == "alice"
    assert memory["agent_id"] == "planner"
    assert memory["session_id"] == "chat-1"
    assert memory["metadata"] == {"topic": "home", "n": 1}
    assert memory["occurred_at"] == "2024-05-08T11:56:00Z"

    got = await api.get(f"/v1/memories/{memory['id']}")
    assert got.status_code == 200
    assert got.json() == {**memory, "history": []}

    profile = (await api.get("/v1/profile")).json()
    facts = {f["key"]: f for f in profile["facts"]}
    assert facts["city"]["value"] == "Lisbon"
    assert facts["diet"]["category"] == "preference"
    assert facts["diet"]["source_memory_ids"] == [memory["id"]]

    deleted = await api.delete(f"/v1/memories/{memory['id']}")
    assert deleted.status_code == 200
    assert deleted.json() == {"deleted": memory["id"]}
    assert "no memory" in _error(await api.get(f"/v1/memories/{memory['id']}"), 404,
                                 "NotFound")
    _error(await api.delete(f"/v1/memories/{memory['id']}"), 404, "NotFound")


async def test_session_from_header_and_body(api: httpx.AsyncClient) -> None:
    from_header = await _add(api, "header turn", {"X-Session-ID": "h-1"})
    from_body = await _add(api, "body turn", {"X-Session-ID": "h-1"}, session_id="b-1")
    assert from_header["session_id"] == "h-1"
    assert from_body["session_id"] == "b-1"
    _error(await api.post("/v1/memories", json={"content": "x", "session_id": " "}), 400,
           "InvalidInput")


async def test_search(api: httpx.AsyncClient) -> None:
    old = await _add(api, "Anna works at the harbour office", occurred_at="2023-01-10",
                     metadata={"topic": "work"})
    new = await _add(api, "Anna started at the harbour museum", occurred_at="2024-03-01",
                     metadata={"topic": "work"})
    other = await _add(api, "The harbour ferry leaves at nine", occurred_at="2024-03-02",
                       metadata={"topic": "travel"}, session_id="chat-9")

    response = await api.post("/v1/memories/search", json={"query": "harbour"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert {h["memory"]["id"] for h in result["hits"]} == {old["id"], new["id"], other["id"]}
    assert result["truncated"] is False
    assert result["retrievers"] == ["lexical"]

    narrowed = (await api.post("/v1/memories/search", json={
        "query": "harbour", "limit": 5, "since": "2024-01-01", "until": "2025-01-01",
        "filters": {"metadata": {"topic": "work"}}, "context": 1,
    })).json()
    assert [h["memory"]["id"] for h in narrowed["hits"]] == [new["id"]]

    # the session's recent turns come first, from the header or the body
    for headers, body in (({"X-Session-ID": "chat-9"}, {}), ({}, {"session_id": "chat-9"})):
        hits = (await api.post("/v1/memories/search", json={"query": "harbour", **body},
                               headers=headers)).json()["hits"]
        assert hits[0]["memory"]["id"] == other["id"]
        assert hits[0]["memory_type"] == "working"

    assert "query is empty" in _error(
        await api.post("/v1/memories/search", json={"query": " "}), 400, "InvalidInput")
    assert "limit" in _error(
        await api.post("/v1/memories/search", json={"query": "x", "limit": 500}), 400,
        "InvalidInput")
    assert "unknown filter" in _error(
        await api.post("/v1/memories/search", json={"query": "x", "filters": {"colour": 1}}),
        400, "InvalidInput")
    assert "since" in _error(
        await api.post("/v1/memories/search", json={"query": "x", "since": "yesterday"}), 400,
        "InvalidInput")


async def test_list_pages_through_everything(api: httpx.AsyncClient) -> None:
    items = [{"content": f"note {n}", "occurred_at": f"2024-01-0{n + 1}"} for n in range(5)]
    added = (await api.post("/v1/memories/batch", json={"items": items})).json()["items"]
    newest_first = [m["id"] for m in reversed(added)]

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = (await api.get("/v1/memories", params=params)).json()
        seen += [m["id"] for m in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == newest_first
    assert pages == 3

    _error(await api.get("/v1/memories", params={"cursor": "not-a-cursor"}), 400,
           "InvalidInput")
    assert "limit" in _error(await api.get("/v1/memories", params={"limit": "many"}), 400,
                             "InvalidInput")
    assert "limit" in _error(await api.get("/v1/memories", params={"limit": 0}), 400,
                             "InvalidInput")
    assert "unknown query parameter(s) colour" in _error(
        await api.get("/v1/memories", params={"colour": "red"}), 400, "InvalidInput")
    assert "unknown query parameter(s) x (allowed: none)" in _error(
        await api.get("/v1/export?x=1"), 400, "InvalidInput")
    assert "more than once" in _error(await api.get("/v1/memories?limit=1&limit=2"), 400,
                                      "InvalidInput")


async def test_list_by_session_and_working_memory(api: httpx.AsyncClient) -> None:
    first = await _add(api, "first turn", session_id="s-1")
    second = await _add(api, "second turn", session_id="s-1")
    await _add(api, "elsewhere", session_id="s-2")

    episodic = (await api.get("/v1/memories", params={"session_id": "s-1"})).json()
    assert [m["id"] for m in episodic["items"]] == [second["id"], first["id"]]
    # X-Session-ID does not narrow an episodic listing
    unnarrowed = await api.get("/v1/memories", headers={"X-Session-ID": "s-1"})
    assert len(unnarrowed.json()["items"]) == 3
    working = (await api.get("/v1/memories", params={"memory_type": "working"},
                             headers={"X-Session-ID": "s-1"})).json()
    assert {m["id"] for m in working["items"]} == {first["id"], second["id"]}
    assert "needs a session_id" in _error(
        await api.get("/v1/memories", params={"memory_type": "working"}), 400, "InvalidInput")
    _error(await api.get("/v1/memories", params={"memory_type": "semantic"}), 400,
           "InvalidInput")


async def test_batch_is_all_or_nothing(api: httpx.AsyncClient) -> None:
    good = {"content": "fine"}
    assert "item 1: content is empty" in _error(
        await api.post("/v1/memories/batch", json={"items": [good, {"content": " "}, good]}),
        400, "InvalidInput")
    assert "items[1].colour" in _error(
        await api.post("/v1/memories/batch", json={"items": [good, {"content": "x",
                                                                    "colour": "red"}]}),
        400, "InvalidInput")
    assert "item 2" in _error(
        await api.post("/v1/memories/batch", json={"items": [good, good, {
            "content": "x", "profile": {"bad key!": 1}}]}), 400, "InvalidInput")
    _error(await api.post("/v1/memories/batch", json={"items": []}), 400, "InvalidInput")
    _error(await api.post("/v1/memories/batch", json={"items": [good] * 1001}), 400,
           "InvalidInput")
    assert await _ids(api) == []
    assert (await api.get("/v1/profile")).json()["facts"] == []

    response = await api.post("/v1/memories/batch", headers={"X-Session-ID": "h"}, json={
        "items": [{"content": "one", "profile": {"pet": "cat"}},
                  {"content": "two", "session_id": "own"}]})
    assert response.status_code == 201, response.text
    memories = response.json()["items"]
    assert [(m["content"], m["session_id"]) for m in memories] == [("one", "h"), ("two", "own")]
    assert sorted(await _ids(api)) == sorted(m["id"] for m in memories)
    assert [f["value"] for f in (await api.get("/v1/profile")).json()["facts"]] == ["cat"]


async def test_delete_all_needs_confirm(api: httpx.AsyncClient) -> None:
    await _add(api, "keep me", session_id="s-1")
    await _add(api, "and me", session_id="s-2", profile={"editor": "vim"})
    for body in ({}, {"confirm": False}, {"confirm": "true"}, {"confirm": 1},
                 {"session_id": "s-1"}):
        response = await api.post("/v1/memories/delete-all", json=body)
        assert response.status_code == 400, (body, response.text)
    assert "confirm" in _error(await api.post("/v1/memories/delete-all", json={}), 400,
                               "InvalidInput")
    assert len(await _ids(api)) == 2

    one = await api.post("/v1/memories/delete-all", json={"confirm": True, "session_id": "s-1"})
    assert one.status_code == 200, one.text
    assert one.json() == {"memories": 1, "working": 1, "profile_facts": 0}
    assert len((await api.get("/v1/profile")).json()["facts"]) == 1

    everything = await api.post("/v1/memories/delete-all", json={"confirm": True})
    assert everything.json() == {"memories": 1, "working": 1, "profile_facts": 1}
    assert await _ids(api) == []
    assert (await api.get("/v1/profile")).json()["facts"] == []


async def test_profile(api: httpx.AsyncClient) -> None:
    response = await api.put("/v1/profile", json={"facts": {
        "diet": "vegetarian", "city": {"value": "Lisbon", "category": "home"}}})
    assert response.status_code == 200, response.text
    assert {(f["key"], f["value"], f["category"]) for f in response.json()["facts"]} == {
        ("diet", "vegetarian", "general"), ("city", "Lisbon", "home")}
    await api.put("/v1/profile", json={"facts": {"diet": "vegan"}}, headers={"X-Agent-ID": "a"})

    current = (await api.get("/v1/profile")).json()
    assert current["user_id"] == "alice"
    assert {f["key"]: f["value"] for f in current["facts"]} == {"diet": "vegan",
                                                                "city": "Lisbon"}
    assert current["history"] == []
    full = (await api.get("/v1/profile", params={"include_history": "true"})).json()
    assert [(f["key"], f["value"]) for f in full["history"]] == [("diet", "vegetarian")]
    assert full["history"][0]["valid_to"] is not None

    _error(await api.get("/v1/profile", params={"include_history": "perhaps"}), 400,
           "InvalidInput")
    assert "profile is empty" in _error(await api.put("/v1/profile", json={"facts": {}}), 400,
                                        "InvalidInput")
    _error(await api.put("/v1/profile", json={"facts": {"diet": ""}}), 400, "InvalidInput")
    assert "facts is missing" in _error(await api.put("/v1/profile", json={}), 400,
                                        "InvalidInput")


async def test_export(api: httpx.AsyncClient) -> None:
    first = await _add(api, "first", occurred_at="2024-01-01")
    second = await _add(api, "second", occurred_at="2024-01-02", profile={"pet": "cat"})
    await _add(api, "bob's own", headers=BOB)

    response = await api.get("/v1/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.text.endswith("\n")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines[0]["type"] == "header"
    assert lines[0]["format"] == "memvault-export"
    memories = [line for line in lines if line["type"] == "memory"]
    assert [(m["id"], m["content"]) for m in memories] == [(first["id"], "first"),
                                                           (second["id"], "second")]
    # an untyped memory's line has no memory_type and data (its type and data are null)
    assert {k: v for k, v in memories[0].items() if k != "type"} == {
        k: v for k, v in first.items() if k not in ("type", "data")}
    facts = [line for line in lines if line["type"] == "profile_fact"]
    assert [(f["key"], f["value"], f["source_memory_ids"]) for f in facts] == [
        ("pet", "cat", [second["id"]])]

    bob = [json.loads(line) for line in (await api.get("/v1/export", headers=BOB)).text
           .splitlines()]
    assert [line["type"] for line in bob] == ["header", "memory", "audit", "end"]
    assert bob[1]["content"] == "bob's own"


async def test_users_are_isolated(api: httpx.AsyncClient) -> None:
    mine = await _add(api, "Alice's secret plan")
    _error(await api.get(f"/v1/memories/{mine['id']}", headers=BOB), 404, "NotFound")
    _error(await api.delete(f"/v1/memories/{mine['id']}", headers=BOB), 404, "NotFound")
    assert await _ids(api, BOB) == []
    hits = (await api.post("/v1/memories/search", json={"query": "secret plan"},
                           headers=BOB)).json()["hits"]
    assert hits == []
    wiped = await api.post("/v1/memories/delete-all", json={"confirm": True}, headers=BOB)
    assert wiped.json()["memories"] == 0
    assert await _ids(api) == [mine["id"]]
    assert (await api.get(f"/v1/memories/{mine['id']}")).status_code == 200

    theirs = await _add(api, "Bob's note", headers=BOB)
    assert theirs["user_id"] == "bob"
    assert await _ids(api) == [mine["id"]]
    assert "x-user-id header is empty" in _error(
        await api.get("/v1/memories", headers={"X-User-ID": " "}), 400, "InvalidInput")


async def test_malformed_requests(api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
                                  ) -> None:
    post = api.post
    json_type = {"Content-Type": "application/json"}
    assert "not valid JSON" in _error(
        await post("/v1/memories", content=b'{"content": "x"', headers=json_type), 400,
        "InvalidInput")
    _error(await post("/v1/memories", content=b'{"content": NaN}', headers=json_type), 400,
           "InvalidInput")
    assert "out of range" in _error(await post(
        "/v1/memories", content=b'{"content": "x", "profile": {"n": 1e400}}',
        headers=json_type), 400, "InvalidInput")
    _error(await post("/v1/memories", content=b"\xff\xfe", headers=json_type), 400,
           "InvalidInput")
    assert "empty" in _error(await post("/v1/memories", content=b"", headers=json_type), 400,
                             "InvalidInput")
    assert "JSON object" in _error(await post("/v1/memories", json=["x"]), 400,
                                   "InvalidInput")
    message = _error(await post("/v1/memories", json={"content": "x", "colour": "red",
                                                      "tags": []}), 400, "InvalidInput")
    assert "unknown field(s) colour, tags" in message
    assert "allowed: content, metadata, occurred_at, session_id, profile" in message
    assert "content is missing" in _error(await post("/v1/memories", json={}), 400,
                                          "InvalidInput")
    assert "content" in _error(await post("/v1/memories", json={"content": 5}), 400,
                               "InvalidInput")
    assert "metadata" in _error(await post("/v1/memories", json={"content": "x",
                                                                 "metadata": [1]}),
                                400, "InvalidInput")
    _error(await post("/v1/memories", json={"content": "x", "profile": {"k": {"v": 1}}}), 400,
           "InvalidInput")

    for headers in ({"Content-Type": "text/plain"}, {"Content-Type": "application/xml"}, {}):
        assert "application/json" in _error(
            await post("/v1/memories", content=b'{"content": "x"}', headers=headers), 415,
            "UnsupportedMediaType")
    charset = await post("/v1/memories", content=b'{"content": "x"}',
                         headers={"Content-Type": "application/json; charset=utf-8"})
    assert charset.status_code == 201, charset.text

    monkeypatch.setattr(rest, "MAX_BODY_BYTES", 64)
    _error(await post("/v1/memories", json={"content": "x" * 100}), 413, "PayloadTooLarge")

    assert "no route" in _error(await api.get("/v1/nowhere"), 404, "NotFound")
    _error(await api.get("/v1/"), 404, "NotFound")
    wrong = await api.patch("/v1/memories", json={})
    assert "GET, HEAD, POST" in _error(wrong, 405, "MethodNotAllowed")
    assert wrong.headers["allow"] == "GET, HEAD, POST"
    _error(await api.put("/v1/memories/x", json={}), 405, "MethodNotAllowed")
    assert await _ids(api) == [charset.json()["id"]]


async def test_token_guards_every_route_but_health(tmp_path: Path) -> None:
    async with _serve(_config(tmp_path), token="tok-51") as api:
        for method, path in (("GET", "/v1/memories"), ("POST", "/v1/memories"),
                             ("GET", "/v1/openapi.json"), ("GET", "/v1/nowhere")):
            for auth in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "tok-51"}):
                response = await api.request(method, path, headers=auth, json={"content": "x"})
                assert response.status_code == 401, (method, path, response.text)
                assert response.headers["www-authenticate"] == "Bearer"
        good = {"Authorization": "Bearer tok-51"}
        added = await _add(api, "guarded", good)
        assert await _ids(api, good) == [added["id"]]
        health = await api.get("/health")
        assert health.status_code == 200, health.text


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_store_that_cannot_open_answers_503(
    tmp_path: Path, transport: Literal["http", "sse"]
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    async with _serve(_config(tmp_path, blocked / "m.db"), transport=transport) as api:
        with anyio.fail_after(5):
            response = await api.get("/v1/memories")
            assert "episodic store unavailable" in _error(response, 503, "StoreUnavailable")
            assert response.headers["retry-after"] == "1"
            _error(await api.post("/v1/memories", json={"content": "x"}), 503,
                   "StoreUnavailable")
            # input errors are still reported as such
            _error(await api.post("/v1/memories", json={"contents": "x"}), 400,
                   "InvalidInput")
            assert (await api.get("/health")).status_code == 503
            assert (await api.get("/v1/openapi.json")).status_code == 200


async def test_sse_transport_serves_rest_too(tmp_path: Path) -> None:
    async with _serve(_config(tmp_path), transport="sse") as api:
        added = await _add(api, "over the SSE app")
        assert (await api.get(f"/v1/memories/{added['id']}")).json() == {**added, "history": []}


class _Failing:
    """Stands in for the Memvault: search raises what it is given."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def search(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error


@pytest.mark.parametrize(("error", "status", "kind"), [
    (ConfigError("embedder model missing"), 500, "ConfigError"),
    (StoreUnavailable("episodic", "connection reset"), 503, "StoreUnavailable"),
    (RuntimeError("boom"), 500, "InternalError"),
])
async def test_core_errors_map_to_statuses(
    tmp_path: Path, error: Exception, status: int, kind: str
) -> None:
    runtime = Runtime(config=_config(tmp_path))
    runtime.memvault = _Failing(error)  # type: ignore[assignment]
    app = Starlette(routes=[Mount("/v1", routes=rest_routes(runtime))])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE,
                                 event_hooks={"response": [_conforms]}) as api:
        message = _error(await api.post("/v1/memories/search", json={"query": "x"}), status,
                         kind)
    if kind != "InternalError":
        assert str(error) in message
    else:
        assert "boom" not in message


# -- the OpenAPI document ------------------------------------------------------------------------

async def test_openapi_document_is_served_and_checked_in(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/openapi.json")
    assert response.status_code == 200
    served = response.json()
    assert served["openapi"].startswith("3.1")
    assert served == json.loads(DOC_FILE.read_text(encoding="utf-8")), (
        "docs/openapi.json is stale: "
        "python -m memvault.interfaces.http.openapi > docs/openapi.json"
    )
    assert DOC_FILE.read_text(encoding="utf-8") == render(openapi_document())


def test_openapi_document_lists_every_route(tmp_path: Path) -> None:
    routes = {
        (f"/v1{route.path}", method.lower())
        for route in rest_routes(Runtime(config=_config(tmp_path)))
        if isinstance(route, Route) and route.include_in_schema
        for method in route.methods or () if method != "HEAD"
    }
    doc = openapi_document()
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops
                  if path != "/health"}
    assert routes == documented
    assert len(routes) == 15
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert op["responses"], path
            params = re.findall(r"{(\w+)}", path)
            assert [p["name"] for p in op.get("parameters", []) if p.get("in") == "path"] == params

    refs = re.findall(r'"\$ref": "#/([^"]+)"', json.dumps(doc))
    assert refs
    for ref in refs:
        node: Any = doc
        for part in ref.split("/"):
            node = node[part]
    for name, schema in doc["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema({**schema, "title": name})


# -- end to end ----------------------------------------------------------------------------------

async def test_rest_and_mcp_share_a_real_server(tmp_path: Path) -> None:
    token = "tok-e2e-9b"
    auth = {"Authorization": f"Bearer {token}"}
    async with running_server(tmp_path, "http", token=token) as server, httpx.AsyncClient(
        base_url=server.base, headers=auth, timeout=10
    ) as http:
        assert (await http.get("/v1/memories", headers={"Authorization": "Bearer no"})
                ).status_code == 401
        added = await http.post("/v1/memories", json={
            "content": "The quarterly review moved to Thursday", "session_id": "e2e"})
        assert added.status_code == 201, added.text
        memory = added.json()
        found = await http.post("/v1/memories/search", json={"query": "quarterly review"})
        assert found.status_code == 200, found.text
        assert [h["memory"]["id"] for h in found.json()["hits"]] == [memory["id"]]

        async with connect_http(server, auth) as conn:
            hits = await call_ok(conn.session, "search_memory", query="quarterly review")
            assert [h["memory"]["id"] for h in hits["hits"]] == [memory["id"]]
            via_mcp = await call_ok(conn.session, "add_memory", content="Lunch with Anna",
                                    profile={"team": "platform"})
            assert conn.transport_errors == []

        got = await http.get(f"/v1/memories/{via_mcp['id']}")
        assert got.status_code == 200, got.text
        assert got.json()["content"] == "Lunch with Anna"
        profile = (await http.get("/v1/profile")).json()
        assert [(f["key"], f["value"]) for f in profile["facts"]] == [("team", "platform")]
        assert (await http.get("/health", headers={"Authorization": ""})).status_code == 200
    assert token not in server.stderr.text()
