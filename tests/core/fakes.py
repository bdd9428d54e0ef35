"""Test doubles: a deterministic bag-of-words embedder whose loading a test controls."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import anyio
import numpy as np

from memvault.core.text.terms import terms
from memvault.embedders.base import Matrix, normalise


class HashEmbedder:
    """Each content word sets one of ``dimensions`` slots; similar words → similar vectors.

    ``gate``, when given, holds ``load`` until the test sets it.
    """

    def __init__(self, name: str = "hash", dimensions: int = 64,
                 gate: anyio.Event | None = None) -> None:
        self._name = name
        self.dimensions = dimensions
        self.gate = gate
        self.loaded = False
        self.calls = 0

    @property
    def name(self) -> str:
        return f"test:{self._name}"

    async def load(self) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.loaded = True

    async def embed(self, texts: Sequence[str]) -> Matrix:
        self.calls += 1
        rows = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in terms(text) or ["empty"]:
                slot = int(hashlib.sha1(word[:4].encode()).hexdigest(), 16) % self.dimensions
                rows[i, slot] += 1.0
        return normalise(rows)

    async def aclose(self) -> None:
        pass
