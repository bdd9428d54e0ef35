"""Roles are not people, and the newest statement first: the rules and how they rank."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from memvault import Memvault
from memvault.core.search.diversity import diversify
from memvault.core.search.feedback import expansion_terms
from memvault.core.search.recency import ORDER_SHARE, PERIOD_SHARE, adjust, time_scope
from memvault.core.search.retrieve import ROLE_BOOST
from memvault.core.search.sessions import SESSION_SHARE, session_prior
from memvault.core.text.roles import role_of, roles_addressed
from memvault.core.text.speakers import speaker_of, speakers_named
from memvault.embedders.local import local_available
from memvault.models import Memory, SearchHit
from tests.core.fakes import HashEmbedder

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("query", "roles"),
    [
        ("what did I say about my budget?", ["user"]),
        ("which framework did you recommend?", ["assistant"]),
        ("which framework did you recommend to me?", ["assistant", "user"]),
        ("What did I tell you about my sister?", ["user", "assistant"]),
        ("where does the user live now?", ["user"]),
        ("what did the assistant suggest for my trip", ["assistant", "user"]),
        ("Can you remind me what I ordered?", ["user"]),
        ("Do you remember what you recommended for Lisbon?", ["assistant"]),
        ("What did Caroline research?", []),
    ],
)
def test_roles_a_question_addresses(query: str, roles: list[str]) -> None:
    assert roles_addressed(query) == roles


@pytest.mark.parametrize(
    ("content", "role"),
    [("user: hi", "user"), ("Assistant: hello", "assistant"), ("system: be brief", "system"),
     ("tool: {}", "tool"), ("Human: hi", "user"), ("Caroline: hi", None), ("hi", None)],
)
def test_role_labels_are_roles_not_names(content: str, role: str | None) -> None:
    assert role_of(speaker_of(content)) == role
    label = speaker_of(content)
    if label is not None:  # a role is never a speaker a query names, whatever its case
        named = speakers_named(f"what did {content.split(':')[0]} say?", {label})
        assert named == ([] if role else [label])


@pytest.mark.parametrize(
    ("query", "order", "periods"),
    [
        ("where does the user live now?", "newest", 0),
        ("where do I live?", "newest", 0),
        ("what is my current job?", "newest", 0),
        ("where did I live in 2023?", None, 1),
        ("What did Melanie show Caroline on October 13, 2023?", None, 1),
        ("What did she buy on 1 February, 2023 and in March 2023?", None, 2),
        ("where did I live before?", "oldest", 0),
        ("what did I use to drink in the morning?", "oldest", 0),
        ("What did Caroline research?", None, 0),
    ],
)
def test_time_scope_of_a_question(query: str, order: str | None, periods: int) -> None:
    scope = time_scope(query)
    assert scope.order == order
    assert len(scope.periods) == periods


def _memory(memory_id: str, when: datetime) -> Memory:
    return Memory(id=memory_id, user_id="u", content=memory_id, occurred_at=when,
                  created_at=when)


def test_adjust_orders_contenders_and_prefers_the_named_time() -> None:
    old, new = datetime(2023, 1, 5, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)
    ranked = [(_memory("porto", old), 2.0), (_memory("lisbon", new), 1.6),
              (_memory("weak", new), 0.5)]
    assert adjust(time_scope("where do I live now?"), ranked) == {
        "lisbon": pytest.approx(ORDER_SHARE * 2.0)}  # "weak" is no contender
    assert adjust(time_scope("where did I live at first?"), ranked) == {
        "porto": pytest.approx(ORDER_SHARE * 2.0)}
    assert adjust(time_scope("where did I live in 2024?"), ranked) == {
        "lisbon": pytest.approx(PERIOD_SHARE * 2.0), "weak": pytest.approx(PERIOD_SHARE * 2.0)}
    assert adjust(time_scope("What did Caroline research?"), ranked) == {}
    # Contenders stated at one moment are left as they are.
    same = [(_memory("a", old), 2.0), (_memory("b", old), 1.9)]
    assert adjust(time_scope("where do I live now?"), same) == {}


_MOVES: list[tuple[str, str, str]] = [
    ("2023-01-10T09:00:00Z", "s1", "user: I live in Porto with my partner, near the river."),
    ("2023-01-10T09:01:00Z", "s1", "assistant: Porto is lovely in winter. Any plans?"),
    ("2023-03-02T18:00:00Z", "s2", "user: My budget for the trip is 2000 euros."),
    ("2023-03-02T18:01:00Z", "s2",
     "assistant: With a budget of 2000 euros I would suggest Seville for four days."),
    ("2023-08-20T12:00:00Z", "s3", "user: The kids love the beach at Foz do Douro."),
    ("2024-05-15T08:00:00Z", "s4",
     "user: Big news: we moved to Lisbon last month, we live in Alfama now."),
    ("2024-05-15T08:01:00Z", "s4", "assistant: Congratulations on the move!"),
]


async def _ingest(mv: Memvault) -> dict[str, str]:
    ids = {}
    for when, session, content in _MOVES:
        memory = await mv.add(content, session_id=session, occurred_at=when)
        ids[content.split(":", 1)[1].split()[-1].strip(".!?")] = memory.id
    await mv.wait_for_vectors(timeout=60)
    return ids


async def _first(mv: Memvault, query: str) -> str:
    return (await mv.search(query, limit=5)).hits[0].memory.content


_LOCAL = pytest.mark.skipif(not local_available(), reason="local embedder not installed")


@pytest.mark.parametrize("embedder", ["none", "hash", pytest.param("local", marks=_LOCAL)])
async def test_the_newest_statement_comes_first(tmp_path: Path, embedder: str) -> None:
    config = Memvault.open(tmp_path / "m.db", embedder="none" if embedder == "hash"
                           else embedder).config
    mv = Memvault(config, embedder=HashEmbedder()) if embedder == "hash" else Memvault(config)
    async with mv:
        await mv.wait_until_ready(120)
        await _ingest(mv)
        for query in ("where does the user live now?", "where do I live?",
                      "Where do we live currently?"):
            assert "Lisbon" in await _first(mv, query), query
        assert "Porto" in await _first(mv, "where did I live in 2023?")
        assert "Porto" in await _first(mv, "where did I live before?")


async def test_recency_and_roles_switch_off(tmp_path: Path) -> None:
    async with Memvault.open(tmp_path / "m.db", embedder="none") as mv:
        await _ingest(mv)
    async with Memvault.open(tmp_path / "m.db", embedder="none",
                             **{"search.recency": False}) as mv:
        # BM25 alone prefers the short Porto turn.
        assert "Porto" in await _first(mv, "where do I live?")
    async with Memvault.open(tmp_path / "m.db", embedder="none",
                             **{"search.timeline": False, "search.session_prior": False}) as mv:
        user = (await mv.search("what was my budget?", limit=2)).hits
        assistant = (await mv.search("which city did you suggest for my budget?",
                                     limit=2)).hits
    assert user[0].memory.content.startswith("user:")
    assert assistant[0].memory.content.startswith("assistant:")
    async with Memvault.open(tmp_path / "m.db", embedder="none",
                             **{"search.timeline": False, "search.roles": False,
                                "search.session_prior": False}) as mv:
        plain = {h.memory.id: _rank(h)
                 for h in (await mv.search("what was my budget?", limit=2)).hits}
    assert {h.memory.id: _rank(h) for h in user} == {
        memory_id: pytest.approx(score + (ROLE_BOOST if memory_id == user[0].memory.id
                                          else 0.0))
        for memory_id, score in plain.items()
    }


def _rank(hit: SearchHit) -> float:
    """The fused score a hit is ranked by (its ``score`` is the absolute one)."""
    assert hit.explanation is not None
    return hit.explanation.rank_score


def test_feedback_terms_are_shared_by_the_first_hits() -> None:
    when = datetime(2023, 1, 5, tzinfo=UTC)
    top = [
        Memory(id=str(n), user_id="u", content=text, occurred_at=when, created_at=when)
        for n, text in enumerate([
            "John: I'm doing kickboxing, it gives me energy.",
            "Maria: John, kickboxing sounds like great energy!",
            "John: off to my taekwondo class, John style.",
        ])
    ]
    assert expansion_terms(["martial", "arts", "john"], top, skip=["john", "maria"]) == [
        "kickboxing", "energy"]


def test_session_diversity_decays_a_sessions_later_turns() -> None:
    when = datetime(2023, 1, 5, tzinfo=UTC)

    def memory(memory_id: str, session: str) -> Memory:
        return Memory(id=memory_id, user_id="u", content=memory_id, session_id=session,
                      occurred_at=when, created_at=when)

    ranked = [(memory("a1", "a"), 1.0), (memory("a2", "a"), 0.9), (memory("b1", "b"), 0.8)]
    chosen, lost = diversify(ranked, 3, decay=0.8)
    assert [(m.id, round(s, 3)) for m, s in chosen] == [("a1", 1.0), ("b1", 0.8), ("a2", 0.72)]
    assert lost == {"a2": pytest.approx(0.18)}


def test_session_prior_lifts_the_turns_of_strong_sessions() -> None:
    when = datetime(2023, 1, 5, tzinfo=UTC)

    def memory(memory_id: str, session: str | None) -> Memory:
        return Memory(id=memory_id, user_id="u", content=memory_id, session_id=session,
                      occurred_at=when, created_at=when)

    ranked = [(memory("a1", "a"), 1.0), (memory("b1", "b"), 0.5), (memory("a2", "a"), 0.5),
              (memory("loose", None), 0.4)]
    assert session_prior(ranked) == {"a1": pytest.approx(SESSION_SHARE),
                                     "a2": pytest.approx(SESSION_SHARE),
                                     "b1": pytest.approx(SESSION_SHARE * 0.5)}
