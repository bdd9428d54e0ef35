"""Long memories get a vector for every passage, not only for what the model reads first."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from memvault import Memvault
from memvault.config import Config
from memvault.embedders.base import Matrix
from memvault.embedders.local import LocalEmbedder, local_available
from memvault.embedders.windows import embed_windows
from memvault.models import MemoryFilter
from memvault.passages import split
from tests.core.fakes import HashEmbedder

pytestmark = pytest.mark.anyio

FILLER = " ".join(f"Sentence {n} is about the weather and nothing else at all." for n in range(40))
FACT = "My sister Marguerite keeps three tortoises in Lisbon."


class Truncating(HashEmbedder):
    """Reads only the first 60 words of a text, as a model reads only its window."""

    passage_tokens = 70.0

    async def embed(self, texts: Sequence[str]) -> Matrix:
        return await super().embed([" ".join(t.split()[:60]) for t in texts])


async def test_every_window_gets_a_row_with_its_span() -> None:
    text = f"{FILLER} {FACT}"
    windows = split(text, max_tokens=Truncating.passage_tokens)
    assert len(windows) > 3
    (passages,) = await embed_windows(Truncating(), [text])
    assert passages.vectors.shape[0] == 1 + len(windows)
    assert passages.spans == [(windows[0][0], windows[-1][1]), *windows]
    assert np.allclose(np.linalg.norm(passages.vectors, axis=1), 1.0, atol=1e-5)
    last = text[passages.spans[-1][0]:passages.spans[-1][1]]
    assert FACT in last
    # A short text is one window, embedded as it always was.
    (short,) = await embed_windows(Truncating(), ["Hello there."])
    assert short.spans == [(0, 12)]
    assert np.allclose(short.vectors, await Truncating().embed(["Hello there."]))


@pytest.mark.parametrize("windows", [True, False])
async def test_a_fact_past_the_first_window_is_found_by_meaning(
    tmp_path: Path, windows: bool
) -> None:
    config = Config.from_flat({"database": str(tmp_path / "m.db"), "user_id": "ann",
                               "search.windows": windows})
    async with Memvault(config, embedder=Truncating()) as mv:
        await mv.wait_until_ready()
        content = f"Ann: {FILLER} {FACT}"
        long = await mv.add(content)
        await mv.add("Bo: We flew to Lisbon last spring.")
        await mv.wait_for_vectors()
        query = await mv.embedding.embed(["Marguerite tortoises Lisbon sister"])
        assert query is not None
        where = MemoryFilter(user_id=mv.config.user_id)
        found = await mv.episodic.vector_search(where, query[0], limit=2)
        by_id = {c.memory_id: c for c in found}
        if not windows:
            assert found[0].memory_id != long.id
            return
        assert found[0].memory_id == long.id
        span = by_id[long.id].span
        assert span is not None
        assert FACT in content[span.start:span.end]



@pytest.mark.skipif(not local_available()[0], reason="the local extra is not installed")
async def test_local_windows_carry_their_sentences() -> None:
    embedder = LocalEmbedder()
    await embedder.load()
    try:
        text = f"{FILLER} {FACT}"
        (passages,) = await embed_windows(embedder, [text])
        windows = split(text, max_tokens=embedder.passage_tokens)
        assert len(windows) > 1
        # The whole text, then per window its vector and those of its sentences.
        assert passages.spans[0] == (windows[0][0], windows[-1][1])
        assert set(windows) <= set(passages.spans)
        assert len(passages.spans) == passages.vectors.shape[0] > 1 + len(windows)
        for start, end in passages.spans:
            assert 0 <= start < end <= len(text)
        query = (await embedder.embed(["How many tortoises does Marguerite keep?"]))[0]
        best = int(np.argmax(passages.vectors @ query))
        assert FACT in text[passages.spans[best][0]:passages.spans[best][1]] or (
            text[passages.spans[best][0]:passages.spans[best][1]] in FACT)
    finally:
        await embedder.aclose()
