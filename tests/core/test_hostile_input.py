"""Every string that enters is checked once, by the core, and refused naming its field.

Contract pinned here, through the SDK (``Memvault.open(path, user_id=..., embedder="none")``):

* A lone surrogate (``"\\ud800"``) in any string that enters (the content; metadata keys and
  values at any depth; profile keys, values and categories; the user, agent, session and
  memory ids; the source; search queries and filters) is refused with
  :class:`~memvault.InvalidInput` whose message names the field as a path:
  ``content``, ``metadata.a``, ``metadata.a.b[1]``, ``metadata`` (for a bad key),
  ``profile.city``, ``profile`` (for a bad key), ``session_id``, ``agent_id``, ``user_id``,
  ``source``, ``memory_id``, ``query``, ``filters.session_id``, ``filters.metadata.a``. In a
  batch the message also names the item (``item 1``). ``set_profile`` names its facts
  ``profile.<key>`` as ``add(profile=...)`` does.
* Dates that leave Python's range once converted to UTC (``0001-01-01T00:00:00+01:00``,
  ``9999-12-31T23:59:59-01:00``) in ``occurred_at``, ``since``, ``until``, a list cursor or a
  batch item, and metadata nested 990 levels deep, are refused the same way (never an
  ``OverflowError`` or ``RecursionError``).
* Nothing is stored by a refused call: the export of every user is the same before and after.

Import lines are covered in ``tests/interfaces/test_import_validation.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from memvault import InvalidInput, Memvault
from tests.hostile_data import TOO_EARLY, TOO_LATE, forged_cursor

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

S = "\ud800"

Call = Callable[[Memvault], Awaitable[Any]]


@pytest.fixture
async def mv(tmp_path: Path) -> AsyncIterator[Memvault]:
    async with Memvault.open(tmp_path / "m.db", user_id="alice", embedder="none") as opened:
        await opened.add("Anna likes tea", session_id="chat", metadata={"topic": "drinks"},
                         profile={"drink": "tea"})
        await opened.add("Anna moved to Lisbon", session_id="chat")
        yield opened


async def _snapshot(mv: Memvault) -> list[str]:
    """Every stored memory and profile fact of every user (the export without its header)."""
    lines = [line async for line in mv.export(all_users=True)]
    return sorted(line for line in lines if json.loads(line)["type"] != "header")


async def _refused(mv: Memvault, call: Call, *fields: str) -> str:
    before = await _snapshot(mv)
    with pytest.raises(InvalidInput) as caught:
        await call(mv)
    message = str(caught.value)
    for name in fields:
        assert name in message, f"the message does not name {name!r}: {message!r}"
    assert await _snapshot(mv) == before, "a refused call changed what is stored"
    return message


def _deep_metadata(levels: int) -> dict[str, Any]:
    metadata: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        metadata = {"a": metadata}
    return metadata


# -- lone surrogates ---------------------------------------------------------------------------

SURROGATE_CALLS: dict[str, tuple[Call, str]] = {
    "content": (lambda mv: mv.add(f"Anna {S} tea"), "content"),
    "metadata value": (lambda mv: mv.add("x", metadata={"a": S}), "metadata.a"),
    "nested metadata value": (
        lambda mv: mv.add("x", metadata={"a": {"b": ["ok", S]}}), "metadata.a.b[1]"),
    "metadata key": (lambda mv: mv.add("x", metadata={S: 1}), "metadata"),
    "nested metadata key": (lambda mv: mv.add("x", metadata={"a": {S: 1}}), "metadata.a"),
    "profile value": (lambda mv: mv.add("x", profile={"city": S}), "profile.city"),
    "profile value object": (
        lambda mv: mv.add("x", profile={"city": {"value": S, "category": "place"}}),
        "profile.city"),
    "profile category": (
        lambda mv: mv.add("x", profile={"city": {"value": "Lisbon", "category": S}}),
        "profile.city"),
    "profile list item": (lambda mv: mv.add("x", profile={"likes": ["tea", S]}),
                          "profile.likes"),
    "profile key": (lambda mv: mv.add("x", profile={f"c{S}": "Lisbon"}), "profile"),
    "session_id": (lambda mv: mv.add("x", session_id=f"s{S}"), "session_id"),
    "agent_id": (lambda mv: mv.add("x", agent_id=f"a{S}"), "agent_id"),
    "user_id": (lambda mv: mv.add("x", user_id=f"u{S}"), "user_id"),
    "source": (lambda mv: mv.add("x", source=f"src{S}"), "source"),
    "set_profile value": (lambda mv: mv.set_profile({"city": S}), "profile.city"),
    "set_profile key": (lambda mv: mv.set_profile({f"c{S}": "x"}), "profile"),
    "query": (lambda mv: mv.search(f"tea {S}"), "query"),
    "search session_id": (lambda mv: mv.search("tea", session_id=f"s{S}"), "session_id"),
    "search filter": (lambda mv: mv.search("tea", filters={"session_id": f"s{S}"}),
                      "filters.session_id"),
    "search metadata filter": (
        lambda mv: mv.search("tea", filters={"metadata": {"a": S}}), "filters.metadata.a"),
    "list session_id": (lambda mv: mv.list(session_id=f"s{S}"), "session_id"),
    "list filter": (lambda mv: mv.list(filters={"agent_id": f"a{S}"}), "filters.agent_id"),
    "get": (lambda mv: mv.get(f"id{S}"), "memory_id"),
    "delete": (lambda mv: mv.delete(f"id{S}"), "memory_id"),
    "delete_all session_id": (lambda mv: mv.delete_all(session_id=f"s{S}"), "session_id"),
    "get_profile user_id": (lambda mv: mv.get_profile(user_id=f"u{S}"), "user_id"),
}


@pytest.mark.parametrize("case", sorted(SURROGATE_CALLS))
async def test_a_lone_surrogate_is_refused_naming_the_field(mv: Memvault, case: str) -> None:
    call, field = SURROGATE_CALLS[case]
    await _refused(mv, call, field)


async def test_a_batch_with_one_surrogate_stores_nothing(mv: Memvault) -> None:
    items: list[dict[str, Any]] = [
        {"content": "fine"}, {"content": "also fine", "metadata": {"a": {"b": S}}}]
    message = await _refused(mv, lambda mv: mv.add_many(items), "metadata.a.b")
    assert re.search(r"\bitems?\W{0,2}1\b", message), message


async def test_the_issue_example_is_refused_and_reads_stay_whole(mv: Memvault) -> None:
    """``{"content": "Anna likes tea", "metadata": {"a": "\\ud800"}}`` used to be stored, and
    then broke every read of the user over REST and MCP."""
    await _refused(mv, lambda mv: mv.add("Anna likes tea", metadata={"a": S}), "metadata.a")
    await _refused(mv, lambda mv: mv.set_profile({"city": S}), "profile.city")
    page = await mv.list(limit=100)
    assert [m.content for m in page.items] == ["Anna moved to Lisbon", "Anna likes tea"]


# -- dates out of range, deep metadata ---------------------------------------------------------

@pytest.mark.parametrize("moment", [TOO_EARLY, TOO_LATE])
async def test_occurred_at_out_of_range_is_refused(mv: Memvault, moment: str) -> None:
    await _refused(mv, lambda mv: mv.add("x", occurred_at=moment), "occurred_at")


@pytest.mark.parametrize("moment", [TOO_EARLY, TOO_LATE])
@pytest.mark.parametrize("bound", ["since", "until"])
async def test_search_bounds_out_of_range_are_refused(
    mv: Memvault, moment: str, bound: str
) -> None:
    bounds: dict[str, Any] = {bound: moment}
    await _refused(mv, lambda mv: mv.search("tea", **bounds), bound)


@pytest.mark.parametrize("moment", [TOO_EARLY, TOO_LATE])
async def test_a_cursor_out_of_range_is_refused(mv: Memvault, moment: str) -> None:
    page = await mv.list(limit=1)
    assert page.next_cursor is not None
    cursor = forged_cursor(page.next_cursor, moment)
    await _refused(mv, lambda mv: mv.list(limit=1, cursor=cursor), "cursor")


@pytest.mark.parametrize("moment", [TOO_EARLY, TOO_LATE])
async def test_a_batch_item_out_of_range_stores_nothing(mv: Memvault, moment: str) -> None:
    items: list[dict[str, Any]] = [{"content": "fine"}, {"content": "late", "occurred_at": moment}]
    message = await _refused(mv, lambda mv: mv.add_many(items), "occurred_at")
    assert re.search(r"\bitems?\W{0,2}1\b", message), message


async def test_metadata_nested_990_levels_is_refused(mv: Memvault) -> None:
    metadata = _deep_metadata(990)
    await _refused(mv, lambda mv: mv.add("x", metadata=metadata), "metadata")
    await _refused(mv, lambda mv: mv.add_many([{"content": "x", "metadata": metadata}]),
                   "metadata")


@pytest.mark.parametrize(
    ("metadata", "field"),
    [({"n": 2**63}, "metadata.n"), ({"n": [-(2**63) - 1]}, "metadata.n[0]"),
     ({"k\x00": "v"}, "metadata"), ({"k": {"j": "v\x00"}}, "metadata.k.j")],
)
async def test_json_no_store_or_filter_can_compare_is_refused(
        mv: Memvault, metadata: dict[str, Any], field: str) -> None:
    # Integers past 64 bits and NUL are what a filter (or PostgreSQL) cannot take back:
    # refused when stored, as when filtered on.
    await _refused(mv, lambda mv: mv.add("x", metadata=metadata), field)
    await mv.add("at the edge", metadata={"n": 2**63 - 1, "m": -(2**63)})
    hits = (await mv.search("edge", filters={"metadata": {"n": 2**63 - 1}})).hits
    assert [h.memory.content for h in hits] == ["at the edge"]


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, "v\x00"])
async def test_a_filter_no_store_can_compare_is_refused(mv: Memvault, value: object) -> None:
    await _refused(mv, lambda mv: mv.search("tea", filters={"metadata": {"n": value}}),
                   "filters.metadata.n")
