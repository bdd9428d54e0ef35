"""The stages of hybrid search: speaker labels, passage vectors, and how they rank."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memvault import Config, Memvault
from memvault.core.search.retrieve import SPEAKER_BOOST
from memvault.core.text.speakers import (
    body_text,
    mask_speakers,
    speaker_of,
    speakers_in,
    speakers_named,
)
from memvault.embedders.local import LocalEmbedder, local_available
from memvault.embedders.passages import passage_vectors, sentence_spans
from memvault.models import MemoryFilter
from tests.core.fakes import HashEmbedder

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("content", "speaker", "body"),
    [
        ("Caroline: I went to a support group.", "caroline", "I went to a support group."),
        ("Mary Ann Lee: hi there", "mary ann lee", "hi there"),
        ("user: book a window seat", "user", "book a window seat"),
        ("Assistant: done", "assistant", "done"),
        ("Note: the meeting moved", None, "Note: the meeting moved"),
        ("see https://example.com: it is down", None, "see https://example.com: it is down"),
        ("at 10:30 we met", None, "at 10:30 we met"),
        ("lunch: sushi again", None, "lunch: sushi again"),
        ("Caroline:no space", None, "Caroline:no space"),
        ("", None, ""),
    ],
)
def test_speaker_labels(content: str, speaker: str | None, body: str) -> None:
    assert speaker_of(content) == speaker
    assert body_text(content) == body


@pytest.mark.parametrize(
    ("content", "speakers"),
    [
        ("Caroline: I went to a support group.", {"caroline"}),
        ("Caroline: hi\nMelanie: hello\n\nCaroline: bye", {"caroline", "melanie"}),
        ("user: plan my trip\nassistant: Lisbon first, then Porto.", {"user", "assistant"}),
        ("Evan:\nThe painting I finished", {"evan"}),
        ("Dear diary,\nNote: nothing\n10:30: coffee", set()),
        ("Bought a laptop\nModel: ThinkPad X1\nPrice: 1200", set()),  # a note, no transcript
        ("Caroline: the recipe\nIngredients:\nflour", {"caroline"}),
        ("", set()),
    ],
)
def test_every_speaker_of_a_transcript(content: str, speakers: set[str]) -> None:
    assert speakers_in(content) == speakers


def test_finding_the_speakers_of_a_long_memory_takes_linear_time() -> None:
    # Every line is read once: a regex over the whole text backtracked at each line break.
    lines = "Caroline: a lake\n" + "\n" * 200_000 + "Melanie: the end"
    start = time.perf_counter()
    assert speakers_in(lines) == {"caroline", "melanie"}
    assert time.perf_counter() - start < 1.0


def test_speakers_named_in_a_query_and_masked() -> None:
    speakers = {"caroline", "melanie", "user"}
    query = "What did Melanie's kids and CAROLINE like? (not Carolines)"
    assert speakers_named(query, speakers) == ["melanie", "caroline"]
    assert speakers_named("what does the user like?", speakers) == []
    assert mask_speakers(query, ["melanie", "caroline"]) == (
        "What did they kids and they like? (not Carolines)")


def test_sentence_spans_skip_short_and_single_sentences() -> None:
    text = "Wow! I've done weight training so far. It was hard but peaceful, like yoga."
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        " I've done weight training so far.", " It was hard but peaceful, like yoga."]
    assert sentence_spans("Only one sentence here.") == []
    assert sentence_spans("Hi! Thanks.") == []


def test_passage_vectors_pool_each_sentence_span() -> None:
    text = "one two three. four five six."
    # tokens: [CLS] one two three . four five six . [SEP] [PAD]
    offsets = np.array([(0, 0), (0, 3), (4, 7), (8, 13), (13, 14), (15, 19), (20, 24),
                        (25, 28), (28, 29), (0, 0), (0, 0)])
    mask = np.array([1] * 10 + [0])
    hidden = np.zeros((11, 3), dtype=np.float32)
    hidden[1:5, 0] = 1.0     # first sentence points along x
    hidden[5:9, 1] = 1.0     # second along y
    hidden[0, 2] = hidden[9, 2] = 1.0  # special tokens along z
    hidden[10] = 100.0       # padding must not count
    rows = passage_vectors(text, hidden, offsets, mask)
    assert rows.shape == (3, 3)
    assert np.allclose(rows[1], [1, 0, 0])
    assert np.allclose(rows[2], [0, 1, 0])
    assert np.allclose(rows[0], np.array([4, 4, 2]) / np.linalg.norm([4, 4, 2]))


@pytest.mark.skipif(not local_available()[0], reason="the local extra is not installed")
async def test_local_passages_start_with_the_plain_vector() -> None:
    embedder = LocalEmbedder()
    await embedder.load()
    texts = ["Short one.",
             "I filed my tax return on Monday. My dog Biscuit loves running on the beach."]
    plain = await embedder.embed(texts)
    passages = await embedder.embed_passages(texts)
    assert [p.vectors.shape for p in passages] == [(1, 384), (3, 384)]
    for whole, (rows, _) in zip(plain, passages, strict=True):
        assert float(whole @ rows[0]) == pytest.approx(1.0, abs=1e-4)
    # The sentence about the dog answers a question about it better than the whole text does.
    dog = (await embedder.embed(["Where does the dog like to run?"]))[0]
    rows = passages[1].vectors
    assert float(rows[2] @ dog) > float(rows[0] @ dog) > float(rows[1] @ dog)


async def test_a_named_speakers_own_turns_come_first(tmp_path: Path) -> None:
    async with Memvault.open(tmp_path / "m.db", embedder="none") as mv:
        await mv.add("Melanie: Caroline, your painting is lovely", session_id="s1")
        own = await mv.add("Caroline: I painted a sunrise last week", session_id="s2")
        result = await mv.search("What did Caroline paint?")
        assert result.hits[0].memory.id == own.id


async def test_a_named_speaker_is_preferred_wherever_they_speak_in_a_memory(
        tmp_path: Path) -> None:
    # A stretch of a transcript stored as one memory is spoken by everyone in it: the one
    # opening it must not outrank a better match where the named speaker speaks second.
    async with Memvault.open(tmp_path / "m.db", embedder="none") as mv:
        await mv.add("Caroline: I love painting sunsets\nMelanie: nice colours", session_id="s1")
        answer = await mv.add("Melanie: we went camping\nCaroline: I painted the lake at "
                              "sunset, my best painting", session_id="s2")
        result = await mv.search("What painting did Caroline do at the lake?")
        assert result.hits[0].memory.id == answer.id
        assert result.hits[0].explanation.speaker == "caroline"


async def test_a_later_lines_heading_is_no_speaker_a_query_names(tmp_path: Path) -> None:
    embedder = HashEmbedder()
    embedded: list[str] = []
    real = embedder.embed

    async def recording(texts: list[str]) -> Any:
        embedded.extend(texts)
        return await real(texts)

    embedder.embed = recording  # type: ignore[method-assign]
    async with Memvault(Config.from_flat({"database": str(tmp_path / "m.db"),
                                          "user_id": "alice"}), embedder=embedder) as mv:
        await mv.wait_until_ready()
        await mv.add("assistant: Here is your week\nMonday: gym\nTuesday: rest")
        await mv.add("user: what should I do on Monday?")
        await mv.wait_for_vectors()
        embedded.clear()
        result = await mv.search("What do I do on Monday?")
        assert all("Monday" in text for text in embedded), embedded
        assert {h.explanation.speaker for h in result.hits} <= {"user", "assistant", None}


async def test_the_turn_after_a_matching_question_is_found(tmp_path: Path) -> None:
    async with Memvault.open(tmp_path / "m.db", embedder="none") as mv:
        await mv.add("Ann: What did you research for the adoption?", session_id="s")
        answer = await mv.add("Bo: Agencies that support LGBTQ families.", session_id="s")
        await mv.add("Bo: Unrelated chatter about the weather.", session_id="other")
        result = await mv.search("adoption research")
        assert answer.id in [h.memory.id for h in result.hits[:2]]


async def test_timeline_neighbours_obey_the_filters(tmp_path: Path) -> None:
    async with Memvault.open(tmp_path / "m.db", embedder="none") as mv:
        first = await mv.add("we met at the harbour", session_id="s",
                             occurred_at="2024-03-01T10:00:00Z", metadata={"tag": "x"})
        await mv.add("then we ate sardines", session_id="s",
                     occurred_at="2024-03-02T10:00:00Z", metadata={"tag": "y"})
        hits = (await mv.search("harbour")).hits
        assert len(hits) == 2
        for narrowed in (await mv.search("harbour", until="2024-03-02"),
                         await mv.search("harbour", filters={"metadata": {"tag": "x"}})):
            assert [h.memory.id for h in narrowed.hits] == [first.id]


async def test_memories_are_embedded_without_their_speaker_label(tmp_path: Path) -> None:
    embedder = HashEmbedder()
    async with Memvault(Memvault.open(tmp_path / "m.db").config, embedder=embedder) as mv:
        await mv.wait_until_ready(5)
        memory = await mv.add("Caroline: pottery class")
        assert await mv.wait_for_vectors(timeout=10)
        found = await mv.episodic.vector_search(
            MemoryFilter(user_id=memory.user_id), (await embedder.embed(["pottery class"]))[0],
            limit=1,
        )
        assert [c.memory_id for c in found] == [memory.id]
        assert found[0].score == pytest.approx(1.0, abs=1e-5)


async def test_search_settings_switch_stages_off(tmp_path: Path) -> None:
    async with Memvault.open(tmp_path / "m.db", embedder="none",
                             **{"search.timeline": False, "search.speakers": False,
                                "search.session_prior": False}) as mv:
        await mv.add("Melanie: Caroline, your painting is lovely", session_id="s1")
        await mv.add("Melanie: thanks for asking", session_id="s1")
        own = await mv.add("Caroline: I painted a sunrise last week", session_id="s2")
        hits = (await mv.search("What did Caroline paint?")).hits
        # No neighbour joins, and the speaker is not preferred: BM25 alone decides.
        assert len(hits) == 2
        assert own.id in [h.memory.id for h in hits]
        plain = {h.memory.id: h.explanation.rank_score for h in hits}
    async with Memvault.open(tmp_path / "m.db", embedder="none",
                             **{"search.timeline": False, "search.session_prior": False}) as mv:
        hits = (await mv.search("What did Caroline paint?")).hits
        # The same ranking with speakers on: only Caroline's own turn gains the preference.
        assert hits[0].memory.id == own.id
        assert {h.memory.id: h.explanation.rank_score for h in hits} == {
            memory_id: pytest.approx(score + (SPEAKER_BOOST if memory_id == own.id else 0.0))
            for memory_id, score in plain.items()
        }
    async with Memvault.open(tmp_path / "m.db", embedder="none",
                             **{"search.fusion": "rank", "search.session_prior": False}) as mv:
        hits = (await mv.search("What did Caroline paint?")).hits
        assert hits[0].memory.id == own.id
        # Second by BM25: 1 / (60 + 2) from reciprocal rank fusion, plus the preference.
        assert hits[0].explanation.rank_score == pytest.approx(1 / 62 + 1.0)
