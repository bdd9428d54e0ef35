"""Search keeps its limit: long memories are shortened to query-focused excerpts, never
dropped; every hit is explained and scored on a scale shared by all queries."""

from __future__ import annotations

from pathlib import Path

import pytest

from memvault import InvalidInput, Memvault
from memvault.core.search.budget import MIN_EXCERPT, apply_budget, shares
from memvault.core.search.excerpt import ELLIPSIS, excerpt
from memvault.core.search.explain import (
    absolute_score,
    lexical_match,
    stem,
    term_offsets,
    term_spans,
)
from memvault.core.text.terms import terms
from memvault.models import Memory, PassageSpan, SearchHit

pytestmark = pytest.mark.anyio

_FILLER = ("We compared the spreadsheets line by line and kept the older totals. "
           "The meeting ran long because the projector would not start. ")


def _long(topic_sentence: str, at: int = 30, total: int = 60) -> str:
    """About ``total`` filler sentences (~4 KB) with ``topic_sentence`` in the middle."""
    parts = [_FILLER] * (total // 2)
    parts.insert(at // 2, topic_sentence + " ")
    return "assistant: " + "".join(parts).strip()


def test_excerpt_keeps_the_matching_sentence_and_marks_gaps() -> None:
    text = _long("Your sister is allergic to peanuts, so skip the satay.")
    short = excerpt(text, terms("which allergy does my sister have? peanuts"), 400)
    assert len(short) <= 400
    assert "Your sister is allergic to peanuts, so skip the satay." in short
    assert ELLIPSIS in short
    assert excerpt("short text", ["x"], 400) == "short text"


def test_excerpt_prefers_the_named_passage_when_no_term_matches() -> None:
    text = _long("The lighthouse keeper retired to a small island.")
    start = text.index("The lighthouse")
    span = PassageSpan(start=start, end=start + 48)
    short = excerpt(text, ["unrelated"], 200, prefer=span)
    assert "lighthouse keeper" in short
    assert len(short) <= 200


def test_excerpt_of_one_huge_word_is_cut_within_room() -> None:
    cut = excerpt("x" * 5000, ["peanuts"], 150)
    assert len(cut) <= 150
    assert cut.endswith(ELLIPSIS)


def test_shares_favour_the_best_and_give_back_unused_room() -> None:
    rooms = shares([4000] * 10, 8000)
    assert sum(rooms) <= 8000
    assert rooms == sorted(rooms, reverse=True)
    assert rooms[0] > rooms[-1] * 1.5
    mixed = shares([100, 4000, 4000], 3000)
    assert mixed[0] == 100  # a short hit takes only what it needs
    assert sum(mixed) <= 3000
    assert shares([4000] * 100, 1000) == [MIN_EXCERPT] * 100  # never below the minimum


def test_budget_keeps_every_hit_and_leaves_fitting_ones_alone() -> None:
    now = Memory(id="x", user_id="u", content="", occurred_at="2024-01-01T00:00:00Z",
                 created_at="2024-01-01T00:00:00Z")
    hits = [SearchHit(memory=now.model_copy(update={"id": f"m{i}", "content": _long(
        f"Fact {i}: the peanut sauce recipe.")}), score=1.0) for i in range(10)]
    hits.append(SearchHit(memory=now.model_copy(update={"id": "tiny", "content": "peanuts"}),
                          score=0.5))
    kept, shortened = apply_budget(hits, 8000, ["peanut"])
    assert shortened
    assert [h.memory.id for h in kept] == [h.memory.id for h in hits]
    assert sum(len(h.memory.content) for h in kept) <= 8000
    for hit, original in zip(kept[:10], hits[:10], strict=True):
        assert hit.shortened
        assert hit.full_length == len(original.memory.content)
        assert "peanut sauce" in hit.memory.content
    assert kept[10].shortened is False
    assert kept[10].memory.content == "peanuts"
    assert kept[10].full_length == 7
    small, cut = apply_budget(hits[-1:], 8000)
    assert not cut
    assert small[0].full_length == 7
    assert small[0].memory == hits[-1].memory


async def test_search_returns_the_limit_with_long_memories_and_the_default_budget(
    tmp_path: Path,
) -> None:
    async with Memvault.open(tmp_path / "m.db", embedder="none") as mv:
        assert mv.config.max_result_chars == 8000
        added = [await mv.add(_long(f"Trip {i}: we hiked to the glacier lake on day {i}."),
                              session_id=f"s{i}") for i in range(12)]
        assert all(len(m.content) > 3000 for m in added)
        result = await mv.search("glacier lake hike", limit=10)
        assert len(result.hits) == 10
        assert result.truncated
        assert sum(len(h.memory.content) for h in result.hits) <= 8000
        for hit in result.hits:
            assert hit.shortened
            assert hit.full_length == len(next(m for m in added if m.id == hit.memory.id).content)
            assert "glacier lake" in hit.memory.content
            assert (await mv.get_memory(hit.memory.id)).content != hit.memory.content
        whole = await mv.search("glacier lake hike", limit=1, max_chars=100_000)
        assert not whole.hits[0].shortened
        assert not whole.truncated


async def test_many_hits_under_a_small_budget_keep_minimal_excerpts(tmp_path: Path) -> None:
    async with Memvault.open(tmp_path / "m.db", embedder="none") as mv:
        for i in range(30):
            await mv.add(_long(f"Note {i} about the glacier."), session_id=f"s{i}")
        result = await mv.search("glacier", limit=30, max_chars=500)
        assert len(result.hits) == 30
        for hit in result.hits:
            assert hit.shortened
            assert len(hit.memory.content) <= MIN_EXCERPT
            assert "glacier" in hit.memory.content


async def test_context_turns_share_the_hit_room(tmp_path: Path) -> None:
    async with Memvault.open(tmp_path / "m.db", embedder="none") as mv:
        for i in range(5):
            await mv.add(_long(f"Turn {i} mentions the glacier."), session_id="s")
        result = await mv.search("glacier", limit=5, context=1, max_chars=4000)
        assert len(result.hits) == 5
        total = sum(len(h.memory.content) + sum(len(c.content) for c in h.context)
                    for h in result.hits)
        assert total <= 4000 + 5 * 3 * MIN_EXCERPT
        assert any(h.context_shortened for h in result.hits)


def test_lexical_match_and_absolute_score() -> None:
    assert stem("peanuts") == stem("peanut")
    assert stem("moving") == stem("moved")
    match = lexical_match("I am allergic to peanuts", ["peanut", "allergy", "sister"])
    assert match is not None
    assert match.matched == ["peanut"]
    assert match.missing == ["allergy", "sister"]
    assert match.coverage == pytest.approx(1 / 3)
    assert lexical_match("anything", []) is None
    assert absolute_score(match, None) == pytest.approx(1 / 3)
    assert absolute_score(None, 0.6) == pytest.approx(0.6)
    assert absolute_score(match, 0.6) == pytest.approx(1 - (2 / 3) * 0.4)
    assert absolute_score(None, -0.2) == 0.0


_FOLDED = [  # (content, query): the index finds each, so the explanation matches each
    ("Project Ｃｏｂａｌｔ launched", "cobalt"),
    ("the ﬁnance review", "finance"),
    ("met at the cafe\u0301 downstairs", "café"),
    ("met at the café downstairs", "cafe"),
    ("met at the cafe downstairs", "café"),
    ("ＣＯＢＡＬＴ ﬁgures", "cobalt figure"),
]


@pytest.mark.parametrize(("content", "query"), _FOLDED)
def test_terms_are_matched_as_the_index_normalises_them(content: str, query: str) -> None:
    asked = terms(query)
    match = lexical_match(content, asked)
    assert match is not None
    assert match.matched == asked
    assert match.coverage == 1.0
    words = [content[start:end] for start, end, _ in term_spans(content, asked)]
    assert words
    assert all(w in content.split() for w in words)  # the text's own words
    assert [offset for offset, _ in term_offsets(content, asked)] == [
        content.index(w) for w in words]


@pytest.mark.parametrize(("content", "query"), _FOLDED)
async def test_a_hit_the_index_finds_is_scored_by_its_terms(
        tmp_path: Path, content: str, query: str) -> None:
    async with Memvault.open(tmp_path / "m.db", embedder="none") as mv:
        added = await mv.add(content)
        result = await mv.search(query, min_score=0.1)
        assert [h.memory.id for h in result.hits] == [added.id]
        hit = result.hits[0]
        assert hit.score == 1.0
        assert hit.explanation.lexical is not None
        assert hit.explanation.lexical.matched == terms(query)
        assert hit.memory.content == content  # shown as stored


def test_excerpt_keeps_the_sentence_of_a_normalised_match() -> None:
    text = _long("The Ｃｏｂａｌｔ ﬁnance review moved to Friday.")
    short = excerpt(text, terms("cobalt finance"), 300)
    assert "The Ｃｏｂａｌｔ ﬁnance review moved to Friday." in short
    decomposed = _long("We met at the cafe\u0301 near the station.", at=50)
    assert "cafe\u0301 near the station" in excerpt(decomposed, terms("café"), 300)


async def test_a_neighbour_of_a_match_scores_by_itself(tmp_path: Path) -> None:
    async with Memvault.open(tmp_path / "m.db", embedder="none") as mv:
        match = await mv.add("user: I am allergic to peanuts", session_id="s")
        porto = await mv.add("user: I live in Porto, near the river", session_id="s")
        result = await mv.search("peanuts")
        by_id = {h.memory.id: h for h in result.hits}
        assert [h.memory.id for h in result.hits] == [match.id, porto.id]  # order unchanged
        found = by_id[match.id]
        assert found.score == 1.0
        assert found.explanation.lexical is not None
        assert found.explanation.lexical.matched == ["peanuts"]
        assert found.explanation.neighbour_of is None
        assert found.explanation.semantic is None  # no vector retriever ran
        neighbour = by_id[porto.id]
        assert neighbour.score == 0.0
        assert neighbour.explanation.neighbour_of == match.id
        assert neighbour.explanation.lexical is not None
        assert neighbour.explanation.lexical.matched == []
        assert neighbour.explanation.rank_score > 0  # the timeline still ranks it
        dumped = result.model_dump(mode="json")  # JSON-friendly throughout
        assert dumped["hits"][1]["explanation"]["neighbour_of"] == match.id

        floored = await mv.search("peanuts", min_score=0.5)
        assert [h.memory.id for h in floored.hits] == [match.id]
        assert len((await mv.search("peanuts", min_score=0)).hits) == 2
        for bad in (-0.1, 1.5, "0.5", True):
            with pytest.raises(InvalidInput, match="min_score"):
                await mv.search("peanuts", min_score=bad)  # type: ignore[arg-type]


async def test_min_score_keeps_the_limit_from_further_down(tmp_path: Path) -> None:
    async with Memvault.open(tmp_path / "m.db", embedder="none") as mv:
        for i in range(6):  # each match is followed by a turn that does not match
            await mv.add(f"the glacier walk, day {i}", session_id=f"s{i}")
            await mv.add(f"unrelated chatter {i}", session_id=f"s{i}")
        result = await mv.search("glacier walk", limit=6, min_score=0.5)
        assert len(result.hits) == 6
        assert all("glacier" in h.memory.content for h in result.hits)


async def test_working_hits_are_explained(tmp_path: Path) -> None:
    async with Memvault.open(tmp_path / "m.db", embedder="none") as mv:
        await mv.add("we booked the glacier tour", session_id="now")
        result = await mv.search("glacier tour", session_id="now")
        assert result.hits[0].memory_type == "working"
        assert result.hits[0].explanation.working
        assert result.hits[0].score == 1.0


async def test_get_memory_returns_it_whole_and_only_for_its_user(tmp_path: Path) -> None:
    async with Memvault.open(tmp_path / "m.db", embedder="none") as mv:
        memory = await mv.add(_long("The glacier."), user_id="alice")
        assert await mv.get_memory(memory.id, user_id="alice") == memory
        from memvault.errors import NotFound
        with pytest.raises(NotFound, match="no memory"):
            await mv.get_memory(memory.id, user_id="bob")
        with pytest.raises(NotFound, match="no memory"):
            await mv.get_memory("01J0000000000000000000000Z", user_id="alice")
