"""The dashboard's view helpers, without a browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from memvault.errors import InvalidInput
from memvault.interfaces.dashboard import views
from memvault.models import Memory

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _memory(i: int, session: str | None, entities: list[str]) -> Memory:
    return Memory(id=f"m{i}", user_id="u", session_id=session, content=f"turn {i}",
                  occurred_at=NOW - timedelta(minutes=i), created_at=NOW, entities=entities)


def test_highlight_marks_words_of_the_same_stem_and_other_scripts() -> None:
    segments = views.highlight("Noted: a peanut allergy, 低风险理财方案.", ["peanuts", "理财"])
    marked = [s.text for s in segments if s.marked]
    assert marked == ["peanut", "理财"]
    assert "".join(s.text for s in segments) == "Noted: a peanut allergy, 低风险理财方案."


def test_highlight_marks_words_as_the_index_normalises_them() -> None:
    text = "Ｃｏｂａｌｔ ﬁnance at the cafe\u0301, 低风险理财."
    segments = views.highlight(text, ["cobalt", "finance", "café", "理财"])
    assert [s.text for s in segments if s.marked] == [
        "Ｃｏｂａｌｔ", "ﬁnance", "cafe\u0301", "理财"]
    assert "".join(s.text for s in segments) == text


def test_highlight_without_terms_is_the_text() -> None:
    assert views.highlight("plain", []) == [views.Segment("plain")]


def test_values_typed_in_the_form() -> None:
    assert views.parse_fact_value("42") == 42
    assert views.parse_fact_value("true") is True
    assert views.parse_fact_value('["tea", "coffee"]') == ["tea", "coffee"]
    assert views.parse_fact_value("  Lisbon ") == "Lisbon"
    assert views.parse_fact_value("-not json") == "-not json"
    assert views.parse_fact_value('{"a": 1}') == '{"a": 1}'


def test_a_list_too_deep_to_parse_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^value: a list nested too deep to read"):
        views.parse_fact_value("[" * 1000 + "]" * 1000)


def test_timeline_groups_consecutive_turns_of_a_session() -> None:
    groups = views.group_by_session([_memory(0, "a", []), _memory(1, "a", []),
                                     _memory(2, "b", []), _memory(3, "a", [])])
    assert [(g.session_id, len(g.memories)) for g in groups] == [("a", 2), ("b", 1), ("a", 1)]


def test_entity_graph_counts_co_mentions_and_keeps_the_focus() -> None:
    memories = [_memory(0, "s", ["bob", "lisbon"]), _memory(1, "s", ["bob", "lisbon", "acme"]),
                _memory(2, "s", ["carla"])]
    graph = views.entity_graph(memories, focus="carla", max_nodes=2)
    nodes = {n["id"]: n for n in graph["nodes"]}  # type: ignore[attr-defined]
    assert set(nodes) == {"bob", "carla"}
    assert nodes["carla"]["focus"]
    full = views.entity_graph(memories)
    links = {(link["source"], link["target"]): link["weight"]
             for link in full["links"]}  # type: ignore[attr-defined]
    assert links[("bob", "lisbon")] == 2
    assert links[("acme", "bob")] == 1


def test_day_bounds_cover_whole_days_and_name_a_bad_field() -> None:
    assert views.day_bounds("2026-05-01", "2026-05-03") == ("2026-05-01", "2026-05-04")
    assert views.day_bounds("", "") == (None, None)
    assert views.day_bounds("", "9999-12-31") == (None, None)
    with pytest.raises(InvalidInput, match=r"^until: "):
        views.day_bounds("", "yesterday")
