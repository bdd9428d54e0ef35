"""The lexical side of the episodic store contract: scores are the user's own, and long
memories are found by any of their passages."""

from __future__ import annotations

import itertools

import pytest

from memvault.models import Candidate, MemoryFilter
from memvault.stores.base import EpisodicStore
from tests.contract.builders import memory

pytestmark = pytest.mark.anyio

ALICE = MemoryFilter(user_id="alice")


def _ranking(found: list[Candidate]) -> list[tuple[str, float]]:
    return [(c.memory_id, c.score) for c in found]


async def test_other_users_memories_never_change_lexical_scores(
    episodic: EpisodicStore,
) -> None:
    await episodic.add([
        memory("We flew to Boston for the marathon", minutes=0),
        memory("The marathon in Boston was cold and the park was full", minutes=1),
        memory("Boston, Boston, Boston: she would not stop talking about it", minutes=2),
        memory("A quiet weekend at home with the cat", minutes=3),
        memory("The park near the office has a pond", minutes=4),
        # A word of two index tokens: FTS5 counts the phrase, not its tokens apart.
        memory("O'Brien ran the Boston marathon; o and brien, brien and o", minutes=5),
    ])
    query = ["boston", "marathon", "park", "o'brien"]
    before = await episodic.lexical_search(ALICE, query, limit=10)
    assert len(before) == 5
    # Bob's corpus makes "boston" common and "park" rare file-wide, with long texts.
    await episodic.add([
        memory(f"Boston again, day {i}: " + "lorem ipsum dolor " * (i % 7), user="bob",
               session=f"b{i % 5}", minutes=i)
        for i in range(120)
    ])
    await episodic.add([memory("park park park marathon", user="bob", session="b9")])
    after = await episodic.lexical_search(ALICE, query, limit=10)
    assert [c.memory_id for c in after] == [c.memory_id for c in before]
    for old, new in zip(_ranking(before), _ranking(after), strict=True):
        assert new[1] == pytest.approx(old[1], rel=1e-6), (old, new)


async def test_a_word_rare_for_the_user_and_common_in_the_file_still_counts(
    episodic: EpisodicStore,
) -> None:
    await episodic.add([memory(f"team meeting {i} about the roadmap", minutes=i)
                        for i in range(60)])
    invoice = memory("the invoice from the plumber is overdue, see the meeting notes",
                     minutes=61)
    await episodic.add([invoice])
    query = ["meeting", "invoice"]
    before = await episodic.lexical_search(ALICE, query, limit=5)
    assert before[0].memory_id == invoice.id
    await episodic.add([memory(f"invoice {i} sent to a client", user="bob", minutes=i)
                        for i in range(1500)])
    after = await episodic.lexical_search(ALICE, query, limit=5)
    assert [c.memory_id for c in after] == [c.memory_id for c in before]


async def test_a_long_memory_is_found_by_a_late_passage(episodic: EpisodicStore) -> None:
    filler = " ".join(
        f"Sentence {i} talks about the weather, the garden and the neighbours."
        for i in range(60)
    )
    long = memory(filler + " At the very end we adopted a greyhound named Pixel.")
    other = memory("Nothing about dogs here", minutes=1)
    await episodic.add([long, other])
    [found] = await episodic.lexical_search(ALICE, ["greyhound"], limit=5)
    assert found.memory_id == long.id
    if found.span is not None:  # a store that scores passages says which one matched
        assert "greyhound" in long.content[found.span.start:found.span.end]
        assert found.span.end - found.span.start < len(long.content)


async def test_a_focused_passage_outranks_a_passing_mention(episodic: EpisodicStore) -> None:
    filler = " ".join(f"Item {i} of the list is a chair or a table." for i in range(80))
    long = memory(filler + " Also a lamp.")
    short = memory("The lamp in the hall flickers", minutes=1)
    await episodic.add([long, short])
    found = await episodic.lexical_search(ALICE, ["lamp"], limit=5)
    assert [c.memory_id for c in found] == [short.id, long.id]
    assert all(a.score >= b.score for a, b in itertools.pairwise(found))


async def test_deleted_memories_leave_the_lexical_index(episodic: EpisodicStore) -> None:
    gone = memory("The violin lesson is on Tuesday")
    kept = memory("A violin and a viola", minutes=1)
    await episodic.add([gone, kept, memory("violin", user="bob")])
    assert await episodic.delete("alice", gone.id)
    found = await episodic.lexical_search(ALICE, ["violin", "tuesday"], limit=5)
    assert [c.memory_id for c in found] == [kept.id]
    assert await episodic.delete_all(ALICE) == 1
    assert await episodic.lexical_search(ALICE, ["violin"], limit=5) == []
    assert len(await episodic.lexical_search(MemoryFilter(user_id="bob"), ["violin"],
                                             limit=5)) == 1


async def test_chinese_mixed_script_and_indicators_are_found_by_their_words(
    episodic: EpisodicStore,
) -> None:
    finance = memory("用户咨询2025年低风险理财方案")
    analyst = memory("分析员Alice经常处理Cobalt Strike入侵事件，关注服务器10.120.8.21的可疑行为",
                     minutes=1)
    friend = memory("我的朋友彼得是蜘蛛侠", minutes=2)
    english = memory("We went hiking in the mountains", minutes=3)
    await episodic.add([finance, analyst, friend, english])
    # the terms a query asks for are analysed tokens (memvault.core.text.terms)
    for words, wanted in (
        (["理财"], finance), (["低"], finance), (["低风", "风险", "险理", "理财"], finance),
        (["cobalt", "strike"], analyst),
        (["alice"], analyst),
        (["10.120.8.21"], analyst),
        (["蜘蛛", "蛛侠"], friend),
        (["hike"], english),
    ):
        found = await episodic.lexical_search(ALICE, words, limit=5)
        assert [c.memory_id for c in found][:1] == [wanted.id], words
