"""A batch the embedder fails: its memories get their vectors on a later sweep, and
``wait_for_vectors`` does not report them done before that."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest

from memvault import Config, Memvault
from memvault.embedders.base import Matrix
from memvault.errors import StoreUnavailable
from memvault.models import MemoryFilter
from tests.core.fakes import HashEmbedder

pytestmark = pytest.mark.anyio


class _FailsOnce(HashEmbedder):
    """Fails its first memory batch (as an embeddings server that times out once)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    async def embed(self, texts: Sequence[str]) -> Matrix:
        if texts != ["memvault"] and self.failures == 0:
            self.failures += 1
            raise StoreUnavailable("embedder", "the embeddings server timed out")
        return self.vectors(texts)


async def test_memories_of_a_failed_batch_get_their_vectors(tmp_path: Path) -> None:
    embedder = _FailsOnce()
    config = Config.from_flat({"database": str(tmp_path / "m.db"), "user_id": "alice"})
    async with Memvault(config, embedder=embedder) as mv:
        await mv.wait_until_ready(10)
        added = await mv.add_many([{"content": "the orchard needs pruning"},
                                 {"content": "the garden plans for May"}])
        assert await mv.wait_for_vectors(20)
        assert embedder.failures == 1
        with anyio.fail_after(10):
            for memory in added:
                [best] = await mv.episodic.vector_search(
                    MemoryFilter(user_id="alice"), embedder.vectors([memory.content])[0],
                    limit=1)
                assert best.memory_id == memory.id
