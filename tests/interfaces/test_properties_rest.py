"""Properties of every REST route under hostile requests (hypothesis), in process.

For each route of :data:`~memvault.interfaces.http.operations.OPERATIONS` (and ``/health``),
requests are generated whose body fields, query parameters, path parameter and identity
headers are each left out, valid, or hostile (wrong types, huge and negative numbers, NaN,
lone surrogates, NUL, deep nesting, odd dates, unknown fields, bodies that are not JSON
objects or not JSON, wrong content types). Whatever comes in:

* the server answers, and never with a 5xx;
* never silently: a refusal is an error body whose message names what was wrong (one of
  the fields made hostile), a success has a result;
* a refusal changes nothing: the stored data (each user's export) is the same after it.

Bounded: a fixed number of derandomized examples per route.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from memvault import Config
from memvault.interfaces.http.operations import OPERATIONS, Operation
from memvault.interfaces.runtime import ServeOptions
from memvault.interfaces.serve import build_http_app
from tests.interfaces.hostile_values import (
    ODD_DATES,
    Deep,
    dump,
    hostile,
    hostile_text,
    nested,
    unknown_fields,
)

pytestmark = pytest.mark.timeout(120)

EXAMPLES = 25
USERS = ("alice", "bob")
# No explain phase: it traces every line, which takes minutes on Python 3.11.
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])

#: A valid value for each body field and query parameter, by name.
VALID: dict[str, st.SearchStrategy[Any]] = {
    "content": st.sampled_from(["Anna likes tea", "I moved to Lisbon in May"]),
    "metadata": st.sampled_from([{"topic": "travel"}, {}, None]),
    "occurred_at": st.sampled_from(["2024-05-08T13:56:00+02:00", "2024-05-08", None]),
    "session_id": st.sampled_from(["s1", "s2", None]),
    "profile": st.sampled_from([{"city": "Lisbon"}, {"diet": {"value": "vegan",
                                                              "category": "preference"}}]),
    "query": st.sampled_from(["tea", "where does Anna live"]),
    "limit": st.integers(1, 100),
    "since": st.sampled_from(["2020-01-01", None]),
    "until": st.sampled_from(["2030-01-01T00:00:00Z", None]),
    "filters": st.sampled_from([{"session_id": "s1"}, {"metadata": {"topic": "travel"}},
                                None]),
    "context": st.integers(0, 5),
    "min_score": st.sampled_from([0.0, 0.25, 1.0]),
    # delete-all is valid with confirm true; mostly narrowed to a session, so that the
    # stores are not emptied at every other example
    "confirm": st.just(True),
    "facts": st.sampled_from([{"city": "Porto"}, {"tz": "Europe/Lisbon", "n": 3}]),
    "memory_type": st.sampled_from(["episodic", "working"]),
    "include_history": st.sampled_from(["true", "false", "1", "0"]),
    "cursor": st.none(),
}

HEADERS = {"X-User-ID": "x-user-id", "X-Agent-ID": "x-agent-id",
           "X-Session-ID": "x-session-id"}
HOSTILE_HEADER_VALUES = [
    b"", b" ", "café".encode(), "café".encode("latin-1"), b"\xed\xa0\x80", b"\x7f",
    b"a" * 5_000, b"%C3%A9", b"UTF-8''caf%C3%A9", b"=?utf-8?q?caf=C3=A9?=", b"\x01",
]
BAD_BODIES = [
    b"", b"   ", b"[]", b'"text"', b"42", b"null", b"{", b'{"content": "x",}', b"NaN",
    b'{"content": NaN}', b'{"content": "\xff\xfe"}', b"\xef\xbb\xbf{}",
    Deep(3_000).text().encode(), b'{"content": "a", "content": 1}',
]


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, bytes] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str | None = "application/json"
    #: Names a refusal may cite: the fields, parameters and headers made hostile.
    suspects: set[str] = field(default_factory=set)


@dataclass
class Api:
    client: TestClient
    ids: dict[str, list[str]]

    def snapshot(self) -> dict[str, list[str]]:
        """Each user's export without its header (which holds the time of the export)."""
        out = {}
        for user in USERS:
            response = self.client.get("/v1/export", headers={"X-User-ID": user})
            assert response.status_code == 200, response.text
            out[user] = response.text.splitlines()[1:]
        return out

    def seed(self) -> None:
        for user in USERS:
            for n, session in enumerate(("s1", "s2", None)):
                response = self.client.post("/v1/memories", headers={"X-User-ID": user}, json={
                    "content": f"{user} seed {n}: Anna likes tea", "session_id": session,
                    "profile": {"city": "Lisbon"} if n == 0 else None,
                })
                assert response.status_code == 201, response.text
                self.ids.setdefault(user, []).append(response.json()["id"])


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    database = tmp_path_factory.mktemp("props-rest") / "m.db"
    config = Config.from_flat({"database": str(database), "user_id": "alice",
                               "embedder": "none"})
    app = build_http_app(config, ServeOptions(transport="http"))
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=True) as client:
        api = Api(client=client, ids={})
        api.seed()
        yield api


# -- strategies --------------------------------------------------------------------------------

def _quote(text: str) -> str:
    """Percent-encoded as a client would send it; a lone surrogate becomes the bytes ED A0 80,
    which are not UTF-8."""
    return urllib.parse.quote(text.encode("utf-8", "surrogatepass"), safe="")


@st.composite
def _fields(draw: st.DrawFn, names: list[str], required: set[str]
            ) -> tuple[dict[str, Any], set[str]]:
    """Each field left out, valid or hostile; the names of the hostile ones (and of required
    fields left out)."""
    out: dict[str, Any] = {}
    suspects: set[str] = set()
    for name in names:
        choice = draw(st.sampled_from(["omit", "valid", "valid", "hostile"]))
        if choice == "omit":
            if name in required:
                suspects.add(name)
            continue
        if choice == "valid":
            # a field added since this table was written is sent as null when "valid"
            out[name] = draw(VALID.get(name, st.none())) if name != "items" else [
                draw(_item()) for _ in range(draw(st.integers(1, 2)))]
        else:
            out[name] = draw(_hostile_for(name))
            suspects.add("item" if name == "items" else name)
    extra = draw(unknown_fields())
    out.update(extra)
    suspects |= set(extra)
    return out, suspects


def _hostile_for(name: str) -> st.SearchStrategy[Any]:
    if name in ("occurred_at", "since", "until"):
        return st.one_of(st.sampled_from(ODD_DATES), hostile())
    if name == "items":
        return st.one_of(hostile(), st.lists(_hostile_item(), min_size=1, max_size=2),
                         st.just([]), st.just([{"content": "x"}] * 1_001))
    if name in ("metadata", "profile", "facts", "filters"):
        return st.one_of(st.dictionaries(st.text(max_size=4), nested(), max_size=3), hostile())
    return hostile()


def _item() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"content": VALID["content"]},
                                 optional={"session_id": VALID["session_id"]})


@st.composite
def _hostile_item(draw: st.DrawFn) -> Any:
    item, _ = draw(_fields(["content", "metadata", "occurred_at", "session_id", "profile"],
                           {"content"}))
    return item


@st.composite
def _headers(draw: st.DrawFn) -> tuple[dict[str, bytes], set[str]]:
    headers: dict[str, bytes] = {}
    suspects: set[str] = set()
    for header, lowered in HEADERS.items():
        choice = draw(st.sampled_from(["omit", "omit", "valid", "hostile"]))
        if choice == "valid":
            headers[header] = draw(st.sampled_from(
                [b"bob", b"alice"] if header == "X-User-ID" else [b"agent-1", b"s1"]))
        elif choice == "hostile":
            headers[header] = draw(st.sampled_from(HOSTILE_HEADER_VALUES))
            suspects |= {lowered, lowered.removeprefix("x-").removesuffix("-id")}
    return headers, suspects


@st.composite
def _query(draw: st.DrawFn, op: Operation) -> tuple[str, set[str]]:
    names = list(op.query.model_fields) if op.query is not None else []
    pairs: list[tuple[str, str]] = []
    suspects: set[str] = set()
    for name in names:
        choice = draw(st.sampled_from(["omit", "valid", "hostile"]))
        if choice == "valid":
            value = draw(VALID.get(name, st.none()))
            if value is not None:
                pairs.append((name, str(value)))
        elif choice == "hostile":
            value = draw(st.one_of(hostile_text(), st.sampled_from(["-1", "0", "101", "1e3",
                                                                     "true", "nan", "99" * 20])))
            pairs.append((name, value))
            suspects.add(name)
            if draw(st.booleans()):
                pairs.append((name, value))  # given twice
    if draw(st.integers(0, 5)) == 0:
        pairs.append(("unknown", "1"))
        suspects.add("unknown")
    query = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in pairs)
    return query, suspects


@st.composite
def requests(draw: st.DrawFn, op: Operation, api: Api) -> Request:
    path = "/v1" + op.path
    suspects: set[str] = set()
    if "{memory_id}" in path:
        known = [i for ids in api.ids.values() for i in ids]
        memory_id = draw(st.one_of(st.sampled_from(known) if known else st.nothing(),
                                   hostile_text().filter(bool)))
        path = path.replace("{memory_id}", _quote(memory_id))
        suspects |= {"memory", "route"}
    if "{key}" in path:
        key = draw(st.one_of(st.sampled_from(["city", "diet"]), hostile_text().filter(bool)))
        path = path.replace("{key}", _quote(key))
        suspects |= {"key", "route"}
    query, query_suspects = draw(_query(op))
    if op.name == "list_memories" and "memory_type=working" in query:
        query_suspects.add("session_id")  # working memory is a session's
    suspects |= query_suspects
    headers, header_suspects = draw(_headers())
    suspects |= header_suspects
    request = Request(op.method, path + (f"?{query}" if query else ""), headers)
    if op.body is not None:
        model = op.body
        required = {n for n, f in model.model_fields.items() if f.is_required()}
        # "content or type": no valid type is drawn, so a valid body needs its content
        for option in model.model_json_schema().get("anyOf", []):
            required |= set(option.get("required", [])) - {"type"}
        body_kind = draw(st.sampled_from(["fields"] * 6 + ["bad", "type"]))
        if op.name == "delete_all_memories":
            required.add("confirm")  # nothing is deleted without it
        if body_kind == "bad":
            request.body = draw(st.sampled_from(BAD_BODIES))
            suspects |= {"body", "json"} | required  # a lenient parser may read some
        else:
            body, field_suspects = draw(_fields(list(model.model_fields), required))
            text = dump(body)
            request.body = text.encode("utf-8", "surrogatepass")
            suspects |= field_suspects
            if any(word in text for word in ("NaN", "Infinity")):
                suspects.add("json")  # the body is not JSON at all
            if body_kind == "type":
                request.content_type = draw(st.sampled_from(
                    [None, "text/plain", "application/x-www-form-urlencoded", "json"]))
                suspects.add("application/json")
    request.suspects = suspects
    return request


# -- the property ------------------------------------------------------------------------------

def _send(api: Api, request: Request) -> Any:
    headers: dict[str, Any] = dict(request.headers)
    if request.body is not None and request.content_type is not None:
        headers["Content-Type"] = request.content_type
    return api.client.request(request.method, request.url, headers=headers,
                              content=request.body)


def _check(api: Api, op: Operation, request: Request) -> None:
    before = api.snapshot()
    response = _send(api, request)
    where = f"{request.method} {request.url[:200]} headers={request.headers!r} " \
            f"body={(request.body or b'')[:300]!r}"
    assert response.status_code < 500, f"{where} -> {response.status_code} {response.text[:500]}"
    if response.status_code >= 400:
        body = response.json()
        message = body["error"]["message"]
        assert message.strip(), f"{where}: refused without a message"
        assert "\n" not in message.strip(), f"{where}: not one line: {message!r}"
        assert "pydantic.dev" not in message, f"{where}: {message!r}"
        assert body["error"]["type"], where
        if response.status_code == 400:
            lowered = message.lower()
            assert request.suspects, f"{where}: a valid request was refused: {message}"
            named = {s.lower() for s in request.suspects}
            named |= {s[:-1] for s in named if s.endswith("s")}
            named |= {ascii(s)[1:-1] for s in named}
            assert any(s in lowered for s in named), (
                f"{where}: the refusal {message!r} names none of {sorted(request.suspects)}")
        after = api.snapshot()
        assert after == before, f"{where}: refused ({message}) but the stored data changed"
        return
    if op.name == "export":
        lines = response.text.splitlines()
        assert lines, where
        assert json.loads(lines[0])["type"] == "header", where
    else:
        result = response.json()
        assert isinstance(result, dict), where
        assert result, f"{where}: success without a result"
    if op.name == "delete_all_memories":
        api.ids.clear()
        if not any(api.snapshot().values()):
            api.seed()


@pytest.mark.parametrize("op", OPERATIONS, ids=[op.name for op in OPERATIONS])
def test_no_5xx_no_silence_and_refusals_change_nothing(api: Api, op: Operation) -> None:
    @given(data=st.data())
    @SETTINGS
    def run(data: st.DataObject) -> None:
        _check(api, op, data.draw(requests(op, api)))

    run()


def test_health_answers_hostile_headers(api: Api) -> None:
    @given(headers=_headers())
    @SETTINGS
    def run(headers: tuple[dict[str, bytes], set[str]]) -> None:
        response = api.client.get("/health", headers=headers[0])
        assert response.status_code in (200, 400), response.text
        assert response.json(), response.text

    run()


def test_a_field_name_with_a_lone_surrogate_is_refused_by_name(api: Api) -> None:
    response = api.client.post("/v1/memories/batch", content=b'{"\\ud800": null}',
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "unknown field '\\ud800' (it holds a lone surrogate)")
