"""Pieces of the search pipeline: the filter re-check, the timeline's neighbour map, the
shared stop words."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from memvault.core.search.timeline import neighbours
from memvault.core.text.entities import entity_key, extract_entities
from memvault.core.text.stopwords import STOP_WORDS
from memvault.core.text.terms import terms
from memvault.models import Memory, MemoryFilter

_WHEN = datetime(2024, 5, 1, 12, tzinfo=UTC)


def _memory(**fields: Any) -> Memory:
    base: dict[str, Any] = {
        "id": "m1", "user_id": "u", "agent_id": "a", "session_id": "s", "content": "x",
        "occurred_at": _WHEN, "created_at": _WHEN, "metadata": {"tag": "t", "n": 1},
        "source": "cli", "entities": ["caroline"],
    }
    return Memory(**{**base, **fields})


def test_filter_admits_what_every_field_allows() -> None:
    memory = _memory()
    assert MemoryFilter(user_id="u").admits(memory)
    assert MemoryFilter(
        user_id="u", agent_id="a", session_id="s", source="cli", entity="caroline",
        metadata={"tag": "t"}, since=_WHEN, until=datetime(2024, 5, 2, tzinfo=UTC),
    ).admits(memory)
    refused = [
        MemoryFilter(user_id="other"),
        MemoryFilter(user_id="u", agent_id="b"),
        MemoryFilter(user_id="u", session_id="s2"),
        MemoryFilter(user_id="u", source="rest"),
        MemoryFilter(user_id="u", entity="melanie"),
        MemoryFilter(user_id="u", metadata={"tag": "other"}),
        MemoryFilter(user_id="u", metadata={"missing": 1}),
        MemoryFilter(user_id="u", since=datetime(2024, 5, 2, tzinfo=UTC)),
        MemoryFilter(user_id="u", until=_WHEN),  # until is exclusive
    ]
    assert [f.admits(memory) for f in refused] == [False] * len(refused)


class _Links:
    """An episodic store's ``adjacent`` over one session: a → b → c → d → e."""

    order = ("a", "b", "c", "d", "e")

    async def adjacent(
        self, user_id: str, memory_ids: Sequence[str]
    ) -> dict[str, tuple[str | None, str | None]]:
        links: dict[str, tuple[str | None, str | None]] = {}
        for memory_id in memory_ids:
            i = self.order.index(memory_id)
            links[memory_id] = (self.order[i - 1] if i else None,
                                self.order[i + 1] if i + 1 < len(self.order) else None)
        return links


@pytest.mark.anyio
async def test_neighbours_cover_candidates_and_their_links_back() -> None:
    adjacent = await neighbours(_Links(), "u", ["b", "c"])  # type: ignore[arg-type]
    assert adjacent == {
        "b": ("a", "c"), "c": ("b", "d"),
        "a": (None, "b"),  # a's own previous turn is not a candidate: left out
        "d": ("c", None),
    }


def test_one_stop_word_list_for_terms_and_entities() -> None:
    assert {"what", "would", "here"} <= STOP_WORDS
    assert terms("What would Caroline bring here?") == ["caroline", "bring"]
    # A capitalised stop word opening a sentence is not taken for (part of) a name.
    assert extract_entities("What's up? Would Caroline come? Here's Toby.") == [
        "caroline", "toby"]
    assert entity_key("Caroline's") == "caroline"
    assert entity_key("  the  ") == "the"
    assert entity_key(None) is None
