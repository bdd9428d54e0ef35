"""The embedders: OpenAI-compatible over HTTP (a local fake endpoint), and the real local model."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2 as httpx
import numpy as np
import pytest

from memvault import Config, Memvault, StoreUnavailable
from memvault.config import EmbedderConfig
from memvault.embedders import create_embedder
from memvault.embedders.e5 import e5_available
from memvault.embedders.local import LocalEmbedder, local_available
from memvault.embedders.openai import OpenAIEmbedder

pytestmark = pytest.mark.anyio


def _fake_endpoint(dimensions: int, seen: list[dict[str, object]]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/embeddings")
        body = json.loads(request.content)
        seen.append({"body": body, "auth": request.headers.get("authorization")})
        data = [
            {"index": i, "embedding": [float(len(text) + d) for d in range(dimensions)]}
            for i, text in enumerate(body["input"])
        ]
        return httpx.Response(200, json={"data": list(reversed(data))})

    return httpx.MockTransport(handler)


async def test_openai_embedder_takes_dimensions_from_the_response() -> None:
    seen: list[dict[str, object]] = []
    embedder = OpenAIEmbedder(model="nomic-embed-text", base_url="http://127.0.0.1:1/v1",
                              api_key="k", batch_size=2,
                              transport=_fake_endpoint(5, seen))
    vectors = await embedder.embed(["a", "bb", "ccc"])
    assert vectors.shape == (3, 5)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert len(seen) == 2
    assert seen[0]["auth"] == "Bearer k"
    assert embedder.name == "openai:nomic-embed-text"
    await embedder.aclose()


async def test_openai_embedder_failure_is_store_unavailable() -> None:
    failing = httpx.MockTransport(lambda request: httpx.Response(500, text="boom"))
    embedder = OpenAIEmbedder(model="m", base_url="http://127.0.0.1:1/v1", transport=failing)
    with pytest.raises(StoreUnavailable, match="openai:m"):
        await embedder.embed(["x"])
    await embedder.aclose()


async def test_openai_embedder_in_the_core(tmp_path: Path) -> None:
    seen: list[dict[str, object]] = []
    embedder = OpenAIEmbedder(model="m", base_url="http://127.0.0.1:1/v1",
                              transport=_fake_endpoint(8, seen))
    config = Config.from_flat({"database": str(tmp_path / "m.db"), "user_id": "u"})
    async with Memvault(config, embedder=embedder) as mv:
        assert await mv.wait_until_ready(timeout=10) == "ready"
        await mv.add("hello")
        assert (await mv.search("hello")).retrievers == ["lexical", "vector"]
        info = await mv.episodic.embedding_info()
        assert info is not None
        assert (info.model, info.dimensions) == ("openai:m", 8)


async def test_auto_picks_e5_then_local_for_a_new_store_and_explains() -> None:
    """With the packages really installed here (tests/core/test_auto_embedder.py fakes them
    for every case); nothing is loaded."""
    embedder, reason = create_embedder(EmbedderConfig(kind="auto"))
    if e5_available()[0]:
        assert embedder is not None
        assert embedder.name == "e5:multilingual-e5-small-q4+centred"
    elif local_available()[0]:
        assert embedder is not None
        assert embedder.name == "local:all-MiniLM-L6-v2"
    else:
        assert embedder is None
        assert "lexical" in reason
    assert "(auto: a new store" in reason
    if embedder is not None:
        await embedder.aclose()
    none, why = create_embedder(EmbedderConfig(kind="none"))
    assert none is None
    assert "configured" in why


@pytest.mark.skipif(not local_available()[0], reason="the local extra is not installed")
async def test_local_model_loads_offline_and_embeds() -> None:
    embedder = LocalEmbedder()
    await embedder.load()
    vectors = await embedder.embed(["I adopted a puppy", "We got a new dog", "Tax returns"])
    assert vectors.shape == (3, 384)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])
    await embedder.aclose()


@pytest.mark.skipif(not local_available()[0], reason="the local extra is not installed")
@pytest.mark.parametrize("threads", [1, 2, None])
async def test_a_query_runs_on_query_threads_and_memories_on_torch_s_own(
    threads: int | None,
) -> None:
    import torch

    embedder = LocalEmbedder(query_threads=threads, engine="torch")
    await embedder.load()
    seen: list[int] = []
    encode = embedder._encode

    def recording(texts: list[str]) -> object:
        seen.append(torch.get_num_threads())
        return encode(texts)

    embedder._encode = recording  # type: ignore[method-assign]
    own = await embedder._thread.run(torch.get_num_threads)
    try:
        query = await embedder.embed_query(["where do I live?"])
        memories = await embedder.embed(["I live in Lisbon"])
        assert seen == [own if threads is None else threads, own]
        assert await embedder._thread.run(torch.get_num_threads) == own  # set back
        assert float(query[0] @ memories[0]) > 0.3
    finally:
        await embedder.aclose()


class _Unloadable:
    """An embedder whose model library fails with an error of its own."""

    name = "broken:model"

    async def load(self) -> None:
        raise KeyError("token_type_ids")

    async def embed(self, texts: object) -> np.ndarray:
        raise AssertionError("never loaded")

    async def aclose(self) -> None:
        return None


async def test_an_embedder_that_fails_to_load_leaves_search_lexical(tmp_path: Path) -> None:
    config = Config.from_flat({"database": str(tmp_path / "m.db"), "user_id": "u"})
    async with Memvault(config, embedder=_Unloadable()) as mv:  # type: ignore[arg-type]
        assert await mv.wait_until_ready(timeout=10) == "failed"
        assert "token_type_ids" in (mv.embedding.error or "")
        await mv.add("hello there")
        assert (await mv.search("hello")).retrievers == ["lexical"]
