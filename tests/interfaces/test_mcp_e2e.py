"""End to end: the real ``memvault serve`` over stdio, SSE and streamable HTTP, driven by the
official mcp ClientSession. Each test starts its own server on its own database."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession

from tests.interfaces.mcp_harness import (
    TOOLS,
    Snapshot,
    Transport,
    call_error,
    call_ok,
    connect_http,
    open_session,
    running_server,
    snapshot,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

TRANSPORTS: list[Transport] = ["stdio", "sse", "http"]
EMPTY = Snapshot(memories=[], profile={"facts": [], "history": []})


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def ids(memories: list[dict[str, Any]]) -> list[str]:
    return [m["id"] for m in memories]


def hit_ids(hits: list[dict[str, Any]]) -> list[str]:
    return [h["memory"]["id"] for h in hits]


# -- the happy path, every tool -----------------------------------------------------------


async def check_tools(session: ClientSession) -> None:
    init = session.initialize_result
    assert init is not None
    assert init.server_info.name == "memvault"
    assert init.instructions
    assert "search_memory" in init.instructions

    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert len(tool.description or "") > 20, tool.name
        schema = tool.input_schema
        assert schema["type"] == "object", tool.name
        assert "ctx" not in schema.get("properties", {}), tool.name
        for name, prop in schema.get("properties", {}).items():
            assert prop.get("description"), f"{tool.name}.{name} has no description"

    def props(name: str) -> dict[str, Any]:
        return tools[name].input_schema["properties"]

    assert tools["add_memory"].input_schema["required"] == ["content"]
    assert {"content", "metadata", "occurred_at", "session_id", "profile"} <= set(
        props("add_memory"))
    assert tools["search_memory"].input_schema["required"] == ["query"]
    assert {"query", "limit", "session_id", "since", "until", "filters", "context"} <= set(
        props("search_memory"))
    assert {"limit", "cursor", "session_id", "memory_type"} <= set(props("list_memories"))
    assert props("list_memories")["memory_type"]["enum"] == ["episodic", "working"]
    assert tools["delete_memory"].input_schema["required"] == ["memory_id"]
    assert props("delete_all_memories")["confirm"]["type"] == "boolean"
    assert props("delete_all_memories")["confirm"]["default"] is False
    assert set(props("get_profile")) == {"include_history"}
    assert tools["delete_memory"].annotations is not None
    assert tools["delete_memory"].annotations.destructive_hint is True
    assert tools["search_memory"].annotations is not None
    assert tools["search_memory"].annotations.read_only_hint is True


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_every_tool_end_to_end(transport: Transport, tmp_path: Path) -> None:
    async with open_session(transport, tmp_path) as conn:
        s = conn.session
        await check_tools(s)

        # add → searchable at once, with everything that was given
        added = await call_ok(
            s, "add_memory", content="Booked a window seat on the flight to Lisbon",
            metadata={"topic": "travel", "priority": 2, "tags": ["q3", "offsite"]},
            occurred_at="2024-05-08T13:56:00+02:00", session_id="chat-1",
            profile={"seat_preference": "window"},
        )
        first = added["id"]
        assert isinstance(first, str)
        assert first
        assert when(added["occurred_at"]) == datetime(2024, 5, 8, 11, 56, tzinfo=UTC)
        assert added["session_id"] == "chat-1"
        assert added["profile_keys"] == ["seat_preference"]

        found = await call_ok(s, "search_memory", query="Lisbon flight seat")
        assert found["truncated"] is False
        [hit] = found["hits"]
        assert set(hit) == {"memory", "score", "memory_type", "context", "shortened",
                            "full_length", "context_shortened", "explanation"}
        memory = hit["memory"]
        assert memory["id"] == first
        assert memory["content"] == "Booked a window seat on the flight to Lisbon"
        assert isinstance(hit["score"], float)
        assert hit["score"] > 0
        assert when(memory["occurred_at"]) == datetime(2024, 5, 8, 11, 56, tzinfo=UTC)
        assert memory["session_id"] == "chat-1"
        assert memory["metadata"] == {"topic": "travel", "priority": 2, "tags": ["q3", "offsite"]}
        assert hit["memory_type"] == "episodic"

        # with the session, its recent turns (working memory) come first
        found = await call_ok(s, "search_memory", query="Lisbon", session_id="chat-1")
        assert [(h["memory"]["id"], h["memory_type"])
                for h in found["hits"]] == [(first, "working")]
        # filters and the time range narrow the search
        for narrowing, expected in [
            ({"filters": {"metadata": {"topic": "travel"}}}, [first]),
            ({"filters": {"metadata": {"topic": "food"}}}, []),
            ({"filters": {"session_id": "chat-2"}}, []),
            ({"since": "2024-05-01", "until": "2024-06-01"}, [first]),
            ({"since": "2024-05-09"}, []),
        ]:
            found = await call_ok(s, "search_memory", query="Lisbon", **narrowing)
            assert hit_ids(found["hits"]) == expected, narrowing

        # context: the neighbouring turns of the same conversation come with a hit
        turn = await call_ok(s, "add_memory", content="Seat 14A is next to the emergency exit",
                             occurred_at="2024-05-08T14:00:00+02:00", session_id="chat-1")
        found = await call_ok(s, "search_memory", query="emergency exit", context=1)
        hit = found["hits"][0]
        assert hit["memory"]["id"] == turn["id"]
        # The earlier turn is also a hit of its own, ranked lower, reached through the timeline
        assert hit_ids(found["hits"]) == [turn["id"], first]
        assert ids(hit["context"]) == [first]
        assert hit["context"][0]["content"].startswith("Booked a window seat")
        await call_ok(s, "delete_memory", memory_id=turn["id"])
        found = await call_ok(s, "search_memory", query="emergency exit", session_id="chat-1")
        assert found["hits"] == []

        # list: newest first, paginated by cursor; three memories share one timestamp
        same_time = "2024-06-01T09:00:00Z"
        others = [
            (await call_ok(s, "add_memory", content=f"Packing list item {n}",
                           occurred_at=same_time, session_id=session))["id"]
            for n, session in [(1, "chat-2"), (2, None), (3, None)]
        ]
        expected_order = [*sorted(others, reverse=True), first]
        page1 = await call_ok(s, "list_memories", limit=2)
        assert len(page1["items"]) == 2
        assert page1["next_cursor"]
        page2 = await call_ok(s, "list_memories", limit=2, cursor=page1["next_cursor"])
        assert len(page2["items"]) == 2
        assert page2["next_cursor"] is None
        assert ids(page1["items"]) + ids(page2["items"]) == expected_order
        last = page2["items"][-1]
        assert last["content"] == "Booked a window seat on the flight to Lisbon"
        assert last["metadata"]["topic"] == "travel"
        page = await call_ok(s, "list_memories", limit=1, cursor=page1["next_cursor"])
        assert ids(page["items"]) == expected_order[2:3]
        page = await call_ok(s, "list_memories", limit=5, cursor=page["next_cursor"])
        assert ids(page["items"]) == [first]
        assert page["next_cursor"] is None
        assert ids((await call_ok(s, "list_memories", session_id="chat-1"))["items"]) == [
            first]
        working = await call_ok(s, "list_memories", memory_type="working", session_id="chat-2")
        assert ids(working["items"]) == [others[0]]

        # profile: the fact and where it came from; setting it again supersedes it
        profile = await call_ok(s, "get_profile")
        [fact] = profile["facts"]
        assert (fact["key"], fact["value"], fact["category"]) == (
            "seat_preference", "window", "general")
        assert fact["source_memory_ids"] == [first]
        assert fact["valid_to"] is None
        assert profile["history"] == []

        changed = await call_ok(
            s, "add_memory", content="From now on I want aisle seats",
            profile={"seat_preference": {"value": "aisle", "category": "preference"}},
        )
        profile = await call_ok(s, "get_profile")
        [fact] = profile["facts"]
        assert (fact["value"], fact["category"]) == ("aisle", "preference")
        assert fact["source_memory_ids"] == [changed["id"]]
        assert profile["history"] == []
        profile = await call_ok(s, "get_profile", include_history=True)
        assert [f["value"] for f in profile["facts"]] == ["aisle"]
        [old] = profile["history"]
        assert old["value"] == "window"
        assert old["source_memory_ids"] == [first]
        assert old["valid_to"] is not None
        assert when(old["valid_to"]) == when(changed["occurred_at"])
        assert when(old["valid_from"]) < when(old["valid_to"])

        # delete one: gone from search, list and working memory; a second delete fails
        assert await call_ok(s, "delete_memory", memory_id=first) == {"deleted": first}
        found = await call_ok(s, "search_memory", query="Lisbon flight seat")
        assert first not in hit_ids(found["hits"])
        found = await call_ok(s, "search_memory", query="Lisbon", session_id="chat-1")
        assert found["hits"] == []
        assert first not in ids((await snapshot(s)).memories)
        message = await call_error(s, "delete_memory", memory_id=first)
        assert "no memory with id" in message
        assert first in message

        # delete all: refused without confirm, nothing deleted; then everything goes
        before = await snapshot(s)
        assert len(before.memories) == 4
        for refused in ({}, {"confirm": False}, {"confirm": False, "session_id": "chat-2"}):
            message = await call_error(s, "delete_all_memories", **refused)
            assert "confirm=true" in message
            assert await snapshot(s) == before
        report = await call_ok(s, "delete_all_memories", confirm=True)
        assert report == {"memories": 4, "working": 1, "profile_facts": 2}
        after = await snapshot(s)
        assert after == EMPTY
        assert (await call_ok(s, "search_memory", query="packing list"))["hits"] == []
        assert conn.transport_errors == []


async def test_search_limit_holds_when_the_session_has_many_matching_turns(
    tmp_path: Path,
) -> None:
    async with open_session("stdio", tmp_path) as conn:
        s = conn.session
        for n in range(3):
            await call_ok(s, "add_memory", content=f"green tea note {n}", session_id="s1")
        found = await call_ok(s, "search_memory", query="green tea", limit=1)
        assert len(found["hits"]) == 1
        found = await call_ok(s, "search_memory", query="green tea", session_id="s1", limit=1)
        assert len(found["hits"]) == 1, [h["memory"]["content"] for h in found["hits"]]


# -- bad input: an error that names the problem, and nothing stored changes ----------------


def _cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


WRITERS = {"add_memory", "delete_memory", "delete_all_memories", "no_such_tool"}
BAD_CALLS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("add_memory", {"content": ""}, ["content is empty"]),
    ("add_memory", {"content": "   \n\t"}, ["content is empty"]),
    ("add_memory", {"content": "", "profile": {"drink": "coffee"}}, ["content is empty"]),
    ("add_memory", {"content": "x" * 2000}, ["2000 bytes", "limit of 1000"]),
    ("add_memory", {"content": "é" * 600}, ["1200 bytes", "limit of 1000"]),
    ("add_memory", {"content": "x" * 2000, "profile": {"drink": "coffee"}}, ["limit of 1000"]),
    ("add_memory", {"content": "tea\x00time"}, ["NUL character"]),
    ("add_memory", {"content": "ok", "occurred_at": "yesterday-ish"},
     ["occurred_at", "ISO 8601", "yesterday-ish"]),
    ("add_memory", {"content": "ok", "occurred_at": "2024-13-45"}, ["occurred_at", "ISO 8601"]),
    ("add_memory", {"content": 42}, ["content", "valid string"]),
    ("add_memory", {"content": "ok", "metadata": "not an object"},
     ["metadata", "valid dictionary"]),
    ("add_memory", {"content": "ok", "metadata": ["a", "list"]}, ["metadata", "dictionary"]),
    ("add_memory", {"content": "ok", "profile": {"bad key!": "x"}}, ["profile key 'bad key!'"]),
    ("add_memory", {"content": "ok", "profile": {"drink": {"nested": 1}}}, ["profile['drink']"]),
    ("add_memory", {"content": "ok", "session_id": "  "}, ["session_id is empty"]),
    ("add_memory", {}, ["content is missing"]),
    ("delete_memory", {"memory_id": "01NOSUCHMEMORY0000000000000"},
     ["no memory with id", "01NOSUCHMEMORY0000000000000"]),
    ("delete_memory", {"memory_id": ""}, ["memory_id is empty"]),
    ("search_memory", {"query": ""}, ["query is empty"]),
    ("search_memory", {"query": "tea " * 2501}, ["query is over 10000 characters"]),
    ("search_memory", {"query": "tea", "filters": {"colour": "green"}},
     ["unknown filter 'colour'", "allowed"]),
    ("search_memory", {"query": "tea", "filters": {"metadata": "travel"}},
     ["filters.metadata must be an object"]),
    ("search_memory", {"query": "tea", "since": "2024-06-01", "until": "2024-05-01"},
     ["since must be earlier than until"]),
    ("search_memory", {"query": "tea", "since": "2024-06-01", "until": "2024-06-01"},
     ["since must be earlier than until"]),
    ("search_memory", {"query": "tea", "since": "last week"}, ["since", "ISO 8601"]),
    ("search_memory", {"query": "tea", "limit": 0}, ["limit must be between 1 and 100", "0"]),
    ("search_memory", {"query": "tea", "limit": 101}, ["limit must be between 1 and 100"]),
    ("search_memory", {"query": "tea", "limit": "many"}, ["limit", "valid integer"]),
    ("search_memory", {"query": "tea", "context": 6}, ["context must be an integer from 0 to 5"]),
    ("list_memories", {"limit": 0}, ["limit must be between 1 and 100"]),
    ("list_memories", {"limit": 1000}, ["limit must be between 1 and 100", "1000"]),
    ("list_memories", {"memory_type": "working"}, ["memory_type 'working' needs a session_id"]),
    ("list_memories", {"memory_type": "semantic"}, ["memory_type", "'episodic' or 'working'"]),
    ("list_memories", {"cursor": "garbage"}, ["cursor is not one returned by list_memories"]),
    ("list_memories", {"cursor": "!!!***"}, ["cursor is not one returned by list_memories"]),
    ("list_memories", {"cursor": "é"}, ["cursor is not one returned by list_memories"]),
    ("list_memories", {"cursor": _cursor({"a": 1, "b": 2})}, ["cursor is not one returned"]),
    ("list_memories", {"cursor": _cursor([1, 2])}, ["cursor is not one returned"]),
    ("list_memories", {"cursor": _cursor(["yesterday", "x"])}, ["cursor is not one returned"]),
    ("list_memories", {"cursor": _cursor(None)}, ["cursor is not one returned"]),
    ("delete_all_memories", {}, ["refused", "confirm=true"]),
    ("no_such_tool", {}, ["Unknown tool", "no_such_tool"]),
]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_bad_input_is_refused_and_changes_nothing(
    transport: Transport, tmp_path: Path
) -> None:
    env = {"MEMVAULT_MAX_CONTENT_BYTES": "1000"}
    async with open_session(transport, tmp_path, env=env) as conn:
        s = conn.session
        await call_ok(s, "add_memory", content="I drink green tea every morning",
                      session_id="s1", metadata={"topic": "habits"}, profile={"drink": "tea"})
        before = await snapshot(s)
        assert len(before.memories) == 1

        failures = []
        for tool, arguments, expected in BAD_CALLS:
            result = await s.call_tool(tool, arguments)
            message = "\n".join(c.text for c in result.content if c.type == "text")
            missing = [part for part in expected if part not in message]
            if not result.is_error or missing:
                failures.append(f"{tool}({str(arguments)[:80]}): is_error={result.is_error}, "
                                f"missing {missing} in {message[:300]!r}")
            # Read-only tools cannot change anything; the final check covers them too.
            if tool in WRITERS and await snapshot(s) != before:
                failures.append(f"{tool}({str(arguments)[:80]}) changed the stored data")
        assert not failures, "\n".join(failures)
        assert await snapshot(s) == before

        # the limit itself is allowed, and content is stored verbatim
        exact = "ü" * 500  # 1000 bytes in UTF-8
        added = await call_ok(s, "add_memory", content=exact)
        listed = (await call_ok(s, "list_memories", limit=1))["items"]
        assert [(m["id"], m["content"]) for m in listed] == [(added["id"], exact)]
        assert conn.transport_errors == []


# -- isolation between users over HTTP ------------------------------------------------------


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_users_are_isolated_by_header(transport: Transport, tmp_path: Path) -> None:
    async with running_server(tmp_path, transport, user="server-default") as server, \
            connect_http(server, {"X-User-ID": "alice", "X-Agent-ID": "agent-a",
                                  "X-Session-ID": "alice-chat"}) as alice, \
            connect_http(server, {"X-User-ID": "bob"}) as bob, \
            connect_http(server, None) as nobody:
        a, b = alice.session, bob.session
        secret = await call_ok(a, "add_memory", content="The vault code is 4711",
                               profile={"pin_hint": "birthday"})
        assert secret["session_id"] == "alice-chat"  # from X-Session-ID
        mine = await call_ok(a, "add_memory", content="Vault inspection on Tuesday",
                             session_id="explicit-chat")
        assert mine["session_id"] == "explicit-chat"  # the argument beats the header
        alice_before = await snapshot(a)
        assert {m["agent_id"] for m in alice_before.memories} == {"agent-a"}
        assert len(alice_before.memories) == 2

        for other in (b, nobody.session):
            assert (await call_ok(other, "search_memory", query="vault code 4711"))[
                "hits"] == []
            assert (await call_ok(other, "search_memory", query="vault",
                                  session_id="alice-chat"))["hits"] == []
            assert await snapshot(other) == EMPTY
            message = await call_error(other, "delete_memory", memory_id=secret["id"])
            assert "no memory with id" in message
        assert await snapshot(a) == alice_before

        bobs = await call_ok(b, "add_memory", content="My vault code is 1234",
                             profile={"pin_hint": "street number"})
        found = await call_ok(a, "search_memory", query="vault code")
        assert bobs["id"] not in hit_ids(found["hits"])
        assert secret["id"] in hit_ids(found["hits"])
        report = await call_ok(b, "delete_all_memories", confirm=True)
        assert report == {"memories": 1, "working": 0, "profile_facts": 1}
        assert await snapshot(a) == alice_before
        assert (await snapshot(b)).memories == []

        # a user id the stores cannot take is an error, not a fallback to another user
        async with connect_http(server, {"X-User-ID": "u" * 300}) as odd:
            message = await call_error(odd.session, "add_memory", content="The vault code")
            assert "user_id must be at most 256" in message
            message = await call_error(odd.session, "search_memory", query="vault code")
            assert "user_id" in message

        # narrowed to one session: only that session's memories go, the profile stays
        report = await call_ok(a, "delete_all_memories", confirm=True,
                               session_id="explicit-chat")
        assert report == {"memories": 1, "working": 1, "profile_facts": 0}
        left = await snapshot(a)
        assert ids(left.memories) == [secret["id"]]
        assert left.profile == alice_before.profile
        assert alice.transport_errors == bob.transport_errors == []
