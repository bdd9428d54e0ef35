"""The query's embedding started before the lexical stage (memvault.core.search.early): the
guess at the speakers named never changes a search's result, errors keep their type."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from memvault import Memvault
from memvault.core.search.early import KnownSpeakers, background
from memvault.embedders.base import Matrix
from memvault.errors import InvalidInput
from tests.core.fakes import HashEmbedder

pytestmark = pytest.mark.anyio


class RecordingEmbedder(HashEmbedder):
    """Remembers each text embedded."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    async def embed(self, texts: Sequence[str]) -> Matrix:
        self.texts.extend(texts)
        return self.vectors(texts)


def test_known_speakers_are_bounded_per_user_and_by_users() -> None:
    known = KnownSpeakers()
    known.learn("u", ["caroline", "mel"])
    known.learn("u", ["caroline"])
    assert known.of("u") == {"caroline", "mel"}
    assert known.of("someone else") == frozenset()
    known.learn("big", (f"name{i}" for i in range(10_000)))
    assert len(known.of("big")) == 512
    for i in range(300):
        known.learn(f"user{i}", ["x"])
    assert known.of("u") == frozenset()  # the least recent users are forgotten
    assert known.of("user299") == {"x"}


async def test_background_keeps_the_calls_value_and_error() -> None:
    async def seven() -> int:
        await anyio.lowlevel.checkpoint()
        return 7

    async with background(seven) as early:
        pass
    assert early.value() == 7

    async def fails() -> int:
        raise InvalidInput("no")

    async with background(fails) as failed:
        pass
    with pytest.raises(InvalidInput):
        failed.value()


async def test_an_error_in_the_block_cancels_the_call_and_is_itself() -> None:
    started, cancelled = anyio.Event(), anyio.Event()

    async def slow() -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()

    async def fail_meanwhile() -> None:
        async with background(slow):
            await started.wait()
            raise KeyError("x")

    with pytest.raises(KeyError):
        await fail_meanwhile()
    assert cancelled.is_set()


async def test_the_guess_never_changes_what_is_embedded(tmp_path: Path) -> None:
    embedder = RecordingEmbedder()
    async with Memvault(Memvault.open(tmp_path / "m.db").config, embedder=embedder) as mv:
        await mv.wait_until_ready(5)
        await mv.add_many([{"content": "Caroline: I went to a pottery class."},
                           {"content": "Melanie: I painted a sunrise."},
                           {"content": "Caroline: the class was fun."}])
        assert await mv.wait_for_vectors(timeout=10)
        queries = ["What did Caroline make at the class?",  # nothing known yet: a miss
                   "What did Caroline make at the class?",  # learnt: the guess is right
                   "What did Melanie paint?",
                   "Did Paris come up?"]
        results = []
        for query in queries:
            embedder.texts.clear()
            results.append(await mv.search(query, limit=3))
            # the text a search uses is embedded last; a wrong guess costs one more
            assert embedder.texts[-1] == query.replace("Caroline", "they").replace(
                "Melanie", "they")
        assert len(embedder.texts) == 1
        assert [h.memory.id for h in results[0].hits] == [h.memory.id for h in results[1].hits]
        assert results[0].hits[0].memory.content.startswith("Caroline:")
