"""Test doubles: a deterministic bag-of-words embedder whose loading a test controls, and
``auto``'s view of what is installed."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence

import anyio
import numpy as np
import pytest

from memvault.config import EmbedderConfig
from memvault.core.text.terms import terms
from memvault.embedders.base import Matrix, normalise
from memvault.embedders.worker import ModelThread


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
        return self.vectors(texts)

    def vectors(self, texts: Sequence[str]) -> Matrix:
        self.calls += 1
        rows = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in terms(text) or ["empty"]:
                slot = int(hashlib.sha1(word[:4].encode()).hexdigest(), 16) % self.dimensions
                rows[i, slot] += 1.0
        return normalise(rows)

    async def aclose(self) -> None:
        pass


class LaneEmbedder(HashEmbedder):
    """:class:`HashEmbedder` on a model thread with a query lane, as the local embedder is.

    While ``hold`` is set, a backlog call (memories) blocks until ``release`` is set,
    letting queries in at its checkpoints as a batch of forward passes does; ``blocked`` is
    set once one is blocked.
    """

    def __init__(self) -> None:
        super().__init__("lane")
        self.thread = ModelThread("memvault-test-lane")
        self.hold, self.release, self.blocked = (threading.Event() for _ in range(3))

    async def load(self) -> None:
        self.thread.reopen()  # as the model embedders do: loading again after aclose
        await super().load()

    def _backlog(self, texts: list[str]) -> Matrix:
        if self.hold.is_set():
            self.blocked.set()
            while not self.release.wait(0.01):
                self.thread.checkpoint()
        return self.vectors(texts)

    async def embed(self, texts: Sequence[str]) -> Matrix:
        batch = list(texts)
        return await self.thread.run(lambda: self._backlog(batch))

    async def embed_query(self, texts: Sequence[str]) -> Matrix:
        batch = list(texts)
        return await self.thread.run(lambda: self.vectors(batch), urgent=True)

    async def aclose(self) -> None:
        self.release.set()
        await self.thread.stop()


class NamedEmbedder(HashEmbedder):
    """:class:`HashEmbedder` under a real embedder's name (``local:all-MiniLM-L6-v2``)."""

    def __init__(self, full_name: str) -> None:
        super().__init__()
        self.full_name = full_name

    @property
    def name(self) -> str:
        return self.full_name


E5_NAME = "e5:multilingual-e5-small-q4+centred"


def fake_auto(monkeypatch: pytest.MonkeyPatch, *kinds: str) -> list[str]:
    """Make ``auto`` see only ``kinds`` (``"e5"``, ``"local"``) as installed, and every
    embedder :func:`memvault.embedders.create_embedder` builds a :class:`NamedEmbedder`
    under the real name, so no model loads. Returns the names built, in order (appended to
    as they are)."""
    built: list[str] = []

    def installed(kind: str) -> tuple[bool, str]:
        return (True, "installed") if kind in kinds else (False, f"not installed: {kind}")

    def build(kind: str, config: EmbedderConfig, *, model: str | None = None,
              centred: bool = True) -> NamedEmbedder:
        name = (f"local:{model or config.model or 'all-MiniLM-L6-v2'}" if kind == "local"
                else E5_NAME if centred else E5_NAME.removesuffix("+centred"))
        built.append(name)
        return NamedEmbedder(name)

    monkeypatch.setattr("memvault.embedders.auto.installed", installed)
    monkeypatch.setattr("memvault.embedders.build", build)
    return built
