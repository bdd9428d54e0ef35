"""Hostile input and hostile stored data over the REST API of the real ``memvault serve
--transport http`` (a subprocess, driven with httpx).

Contracts pinned here:

* Refusals. A lone surrogate in any string of a body (content, metadata keys and values at
  any depth, profile keys and values, session ids, queries, filters, the facts of ``PUT
  /v1/profile``), a date that leaves Python's range once converted to UTC
  (``0001-01-01T00:00:00+01:00``, ``9999-12-31T23:59:59-01:00``) in ``occurred_at``,
  ``since``, ``until``, a list cursor or a batch item, and metadata nested 990 levels deep each
  answer 400 with exactly ``{"error": {"type": "InvalidInput", "message": ...}}``, the message
  naming the field (``metadata.a``, ``profile.city``, ``session_id``, ``occurred_at``,
  ``cursor``...; a batch item also by its index), never a 500; nothing is stored (the export
  is the same before and after).
* Profile limits. A profile value over 65,536 bytes serialized (a 20 MB value on a 5-byte
  memory included) and ``PUT /v1/profile`` with 200,000 keys answer 400 naming the limit;
  the latter within a few seconds, storing nothing.
* Reads. With hostile values written straight into each store (:mod:`tests.hostile_data`),
  ``GET /v1/memories`` (episodic and working), ``GET /v1/memories/{id}``, ``POST
  /v1/memories/search`` (with and without a session), ``GET /v1/profile`` and ``GET
  /v1/export`` answer 200 with strict UTF-8 JSON (no NaN), bad characters replaced by U+FFFD.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.hostile_data import (
    BACKENDS,
    SESSION,
    TOO_EARLY,
    TOO_LATE,
    Backend,
    assert_clean,
    forged_cursor,
    hostile_stores,
    plant,
    strict_json,
)
from tests.interfaces.mcp_harness import HttpServer, running_server

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

S = "\ud800"
ALICE = {"X-User-ID": "alice"}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HttpServer]:
    """One server for the refusal cases; each test acts as a user of its own."""
    async with running_server(tmp_path_factory.mktemp("rest"), "http") as running:
        yield running


@pytest.fixture
async def api(server: HttpServer, request: pytest.FixtureRequest
              ) -> AsyncIterator[httpx.AsyncClient]:
    """A client acting as this test's own user, who has two memories and a profile fact."""
    user = "u" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:12]
    async with httpx.AsyncClient(base_url=server.base, timeout=60,
                                 headers={"X-User-ID": user}) as client:
        for content in ("Anna likes tea", "Anna moved to Lisbon"):
            response = await client.post("/v1/memories", json={
                "content": content, "session_id": "chat", "profile": {"drink": "tea"}})
            assert response.status_code == 201, response.text
        yield client


async def _snapshot(api: httpx.AsyncClient) -> list[str]:
    response = await api.get("/v1/export")
    assert response.status_code == 200, response.text
    lines = response.text.splitlines()
    return sorted(line for line in lines if json.loads(line)["type"] != "header")


def _text(body: object) -> str:
    """JSON text with every non-ASCII character escaped, so a lone surrogate travels."""
    return json.dumps(body, ensure_ascii=True)


async def _send(api: httpx.AsyncClient, method: str, path: str, body: str | None = None,
                params: dict[str, str] | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    return await api.request(method, path, content=body, params=params, headers=headers)


async def _refused(api: httpx.AsyncClient, send: Callable[[], Awaitable[httpx.Response]],
                   *fields: str) -> str:
    before = await _snapshot(api)
    response = await send()
    assert response.status_code == 400, (response.status_code, response.text[:500])
    body = strict_json(response.content.decode())
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"type", "message"}, body
    assert body["error"]["type"] == "InvalidInput", body
    message: str = body["error"]["message"]
    for name in fields:
        assert name in message, f"the message does not name {name!r}: {message!r}"
    assert await _snapshot(api) == before, "a refused request changed what is stored"
    return message


def _deep_metadata_text(levels: int) -> str:
    return '{"content": "deep", "metadata": ' + '{"a": ' * (levels - 1) + '{"leaf": 1}' \
        + "}" * (levels - 1) + "}"


# -- refusals ----------------------------------------------------------------------------------

BODY_CASES: dict[str, tuple[str, str, object, str]] = {
    "content": ("POST", "/v1/memories", {"content": f"Anna {S} tea"}, "content"),
    "metadata value": ("POST", "/v1/memories",
                       {"content": "Anna likes tea", "metadata": {"a": S}}, "metadata.a"),
    "nested metadata value": ("POST", "/v1/memories",
                              {"content": "x", "metadata": {"a": {"b": ["ok", S]}}},
                              "metadata.a.b[1]"),
    "metadata key": ("POST", "/v1/memories", {"content": "x", "metadata": {S: 1}}, "metadata"),
    "profile value": ("POST", "/v1/memories", {"content": "x", "profile": {"city": S}},
                      "profile.city"),
    "profile list item": ("POST", "/v1/memories",
                          {"content": "x", "profile": {"likes": ["tea", S]}}, "profile.likes"),
    "session_id": ("POST", "/v1/memories", {"content": "x", "session_id": f"s{S}"},
                   "session_id"),
    "batch content": ("POST", "/v1/memories/batch",
                      {"items": [{"content": "fine"}, {"content": f"x{S}"}]}, "content"),
    "batch metadata": ("POST", "/v1/memories/batch",
                       {"items": [{"content": "fine"}, {"content": "x", "metadata": {"a": S}}]},
                       "metadata.a"),
    "query": ("POST", "/v1/memories/search", {"query": f"tea {S}"}, "query"),
    "search session_id": ("POST", "/v1/memories/search",
                          {"query": "tea", "session_id": f"s{S}"}, "session_id"),
    "search filter": ("POST", "/v1/memories/search",
                      {"query": "tea", "filters": {"session_id": f"s{S}"}},
                      "filters.session_id"),
    "search metadata filter": ("POST", "/v1/memories/search",
                               {"query": "tea", "filters": {"metadata": {"a": S}}},
                               "filters.metadata.a"),
    "set_profile value": ("PUT", "/v1/profile", {"facts": {"city": S}}, "profile.city"),
    "delete-all session_id": ("POST", "/v1/memories/delete-all",
                              {"confirm": True, "session_id": f"s{S}"}, "session_id"),
    **{f"occurred_at {m}": ("POST", "/v1/memories", {"content": "x", "occurred_at": m},
                            "occurred_at") for m in (TOO_EARLY, TOO_LATE)},
    **{f"batch occurred_at {m}": ("POST", "/v1/memories/batch", {"items": [
        {"content": "fine"}, {"content": "x", "occurred_at": m}]}, "occurred_at")
       for m in (TOO_EARLY, TOO_LATE)},
    **{f"{bound} {m}": ("POST", "/v1/memories/search", {"query": "tea", bound: m}, bound)
       for m in (TOO_EARLY, TOO_LATE) for bound in ("since", "until")},
}


@pytest.mark.parametrize("case", sorted(BODY_CASES))
async def test_a_bad_body_is_a_400_naming_the_field(api: httpx.AsyncClient, case: str) -> None:
    method, path, body, field = BODY_CASES[case]
    message = await _refused(api, lambda: _send(api, method, path, _text(body)), field)
    if path.endswith("/batch"):
        assert re.search(r"\bitems?\W{0,2}1\b", message), message


@pytest.mark.parametrize("moment", [TOO_EARLY, TOO_LATE])
async def test_a_cursor_out_of_range_is_a_400(api: httpx.AsyncClient, moment: str) -> None:
    page = await api.get("/v1/memories", params={"limit": 1})
    assert page.status_code == 200, page.text
    cursor = forged_cursor(page.json()["next_cursor"], moment)
    await _refused(api, lambda: _send(api, "GET", "/v1/memories",
                                      params={"limit": "1", "cursor": cursor}), "cursor")


async def test_a_cursor_naming_no_text_is_a_400(api: httpx.AsyncClient) -> None:
    page = await api.get("/v1/memories", params={"limit": 1})
    cursor = forged_cursor(page.json()["next_cursor"], memory_id="\ud800")
    await _refused(api, lambda: _send(api, "GET", "/v1/memories",
                                      params={"limit": "1", "cursor": cursor}), "cursor")


async def test_metadata_nested_990_levels_is_a_400(api: httpx.AsyncClient) -> None:
    text = _deep_metadata_text(990)
    await _refused(api, lambda: _send(api, "POST", "/v1/memories", text), "metadata")
    batch = '{"items": [' + text + "]}"
    await _refused(api, lambda: _send(api, "POST", "/v1/memories/batch", batch), "metadata")


# -- profile limits ----------------------------------------------------------------------------

VALUE_LIMIT = re.compile(r"65[,_ ]?536|64 ?KiB")


async def test_a_profile_value_over_64_kib_is_a_400(api: httpx.AsyncClient) -> None:
    await _refused(api, lambda: _send(api, "PUT", "/v1/profile", _text(
        {"facts": {"bio": "x" * 65_535}})), "profile.bio")
    message = await _refused(api, lambda: _send(api, "POST", "/v1/memories", _text(
        {"content": "5 byt", "profile": {"essay": "x" * 20_000_000}})), "profile.essay")
    assert VALUE_LIMIT.search(message), message


async def test_a_profile_of_200000_keys_is_refused_quickly(api: httpx.AsyncClient) -> None:
    body = _text({"facts": {f"k{i:06}": i for i in range(200_000)}})
    took: list[float] = []

    async def put() -> httpx.Response:
        started = time.monotonic()
        response = await _send(api, "PUT", "/v1/profile", body)
        took.append(time.monotonic() - started)
        return response

    message = await _refused(api, put)
    assert re.search(r"\b1[,_ ]?000\b", message), message
    # Storing them took 7 s and stalled other users' requests meanwhile.
    assert took[0] < 5.0, f"refusing 200,000 keys took {took[0]:.1f} s"


# -- reads of hostile stored data --------------------------------------------------------------

async def _get_json(api: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
    response = await api.request(method, path, **kwargs)
    assert response.status_code == 200, (response.status_code, response.text[:300])
    return strict_json(response.content.decode("utf-8"))


@pytest.mark.parametrize("backend", BACKENDS)
async def test_rest_reads_hostile_stored_data(backend: Backend, tmp_path: Path) -> None:
    async with hostile_stores(backend, tmp_path) as stores:
        hostile = await plant(stores, backend)
        problems: list[str] = []
        async with running_server(tmp_path, "http", env=stores.env()) as running, \
                httpx.AsyncClient(base_url=running.base, timeout=60, headers=ALICE) as api:

            async def listed() -> None:
                page = await _get_json(api, "GET", "/v1/memories", params={"limit": 100})
                hostile.check_memories(page["items"], complete=True)

            async def got() -> None:
                for memory_id in hostile.memories:
                    memory = await _get_json(api, "GET", f"/v1/memories/{memory_id}")
                    hostile.check_memories([memory], complete=False)

            async def searched() -> None:
                result = await _get_json(api, "POST", "/v1/memories/search",
                                         json={"query": "tea", "limit": 100})
                # a shortened hit holds an excerpt; GET /v1/memories/{id} above reads it whole
                assert_clean(result, "search")
                hostile.check_memories([h["memory"] for h in result["hits"]
                                        if not h["shortened"]], complete=False)

            async def searched_in_session() -> None:
                result = await _get_json(api, "POST", "/v1/memories/search", json={
                    "query": "turn tea", "limit": 100, "session_id": SESSION, "context": 2})
                assert_clean(result, "search")
                hostile.check_working([h["memory"] for h in result["hits"]
                                       if h["memory_type"] == "working"
                                       and not h["shortened"]], complete=False)

            async def working() -> None:
                page = await _get_json(api, "GET", "/v1/memories", params={
                    "limit": 100, "memory_type": "working", "session_id": SESSION})
                hostile.check_working(page["items"])

            async def profile() -> None:
                found = await _get_json(api, "GET", "/v1/profile",
                                        params={"include_history": "true"})
                hostile.check_profile([*found["facts"], *found["history"]])

            async def exported() -> None:
                response = await api.get("/v1/export")
                assert response.status_code == 200, response.text[:300]
                records = [strict_json(line)
                           for line in response.content.decode("utf-8").splitlines()]
                assert_clean(records, "export")
                hostile.check_memories([r for r in records if r["type"] == "memory"],
                                       complete=True)
                hostile.check_profile([r for r in records if r["type"] == "profile_fact"])

            for name, action in [("GET /v1/memories", listed),
                                 ("GET /v1/memories/{id}", got),
                                 ("POST /v1/memories/search", searched),
                                 ("search in session", searched_in_session),
                                 ("GET /v1/memories working", working),
                                 ("GET /v1/profile", profile), ("GET /v1/export", exported)]:
                try:
                    await action()
                except Exception as exc:
                    problems.append(f"{name}: {type(exc).__name__}: {str(exc)[:300]}")
        if problems:
            pytest.fail(f"REST reads failed on hostile data in {backend}:\n"
                        + "\n".join(problems), pytrace=False)
