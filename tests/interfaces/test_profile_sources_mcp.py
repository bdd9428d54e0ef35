"""Deleting a memory forgets what it said, over MCP (stdio, the real ``memvault serve``).

Contract (the same as the SDK's, see ``tests/core/test_profile_sources.py``): after
``delete_memory`` or ``delete_all_memories`` with a ``session_id``, ``get_profile`` no longer
returns a fact whose only source was deleted; with ``include_history`` it lists it with
``valid_to`` at the deletion and ``retired_reason: "source_deleted"``. A fact with other
sources stays current and drops the deleted id from ``source_memory_ids``. Every fact
``get_profile`` returns carries ``retired_reason`` (``null`` while current).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.interfaces.mcp_harness import call_ok, stdio_session

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


def _now() -> datetime:
    return datetime.now(UTC)


def _of(facts: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [f for f in facts if f["key"] == key]


def _assert_retired(fact: dict[str, Any], before: datetime, after: datetime) -> None:
    assert fact["valid_to"] is not None, f"{fact['key']} is still current"
    ended = datetime.fromisoformat(fact["valid_to"])
    assert before <= ended <= after, f"retired at {ended}, not at its deletion"
    assert fact["retired_reason"] == "source_deleted"


async def test_delete_memory_retires_or_drops_its_facts(tmp_path: Path) -> None:
    async with stdio_session(tmp_path) as conn:
        session = conn.session
        allergy = await call_ok(session, "add_memory", content="I'm allergic to shellfish",
                                profile={"allergy": "shellfish"})
        first = await call_ok(session, "add_memory", content="I'm vegetarian",
                              profile={"diet": "vegetarian"})
        second = await call_ok(session, "add_memory", content="Still no meat for me",
                               profile={"diet": "vegetarian"})
        before = _now()
        await call_ok(session, "delete_memory", memory_id=allergy["id"])
        await call_ok(session, "delete_memory", memory_id=first["id"])
        after = _now()
        current = await call_ok(session, "get_profile")
        profile = await call_ok(session, "get_profile", include_history=True)

    assert [f["key"] for f in current["facts"]] == ["diet"]
    [diet] = _of(profile["facts"], "diet")
    assert diet["source_memory_ids"] == [second["id"]]
    assert diet["retired_reason"] is None
    # As over the SDK: each statement is kept on its own, so the withdrawn one stays in the
    # history as withdrawn and the fact now starts at the statement that still stands.
    assert diet["valid_from"] == second["occurred_at"]
    [withdrawn] = _of(profile["history"], "diet")
    _assert_retired(withdrawn, before, after)
    [retired] = _of(profile["history"], "allergy")
    assert retired["value"] == "shellfish"
    _assert_retired(retired, before, after)


async def test_delete_all_memories_of_a_session_retires_or_drops_its_facts(
    tmp_path: Path,
) -> None:
    async with stdio_session(tmp_path) as conn:
        session = conn.session
        await call_ok(session, "add_memory", content="I'm allergic to shellfish",
                      session_id="s1", profile={"allergy": "shellfish"})
        await call_ok(session, "add_memory", content="I'm vegetarian", session_id="s1",
                      profile={"diet": "vegetarian"})
        kept = await call_ok(session, "add_memory", content="Vegetarian, as I said",
                             session_id="s2", profile={"diet": "vegetarian"})
        before = _now()
        report = await call_ok(session, "delete_all_memories", confirm=True, session_id="s1")
        after = _now()
        profile = await call_ok(session, "get_profile", include_history=True)

    assert report["memories"] == 2
    assert [(f["key"], f["source_memory_ids"]) for f in profile["facts"]] == [
        ("diet", [kept["id"]])]
    [retired] = _of(profile["history"], "allergy")
    _assert_retired(retired, before, after)
