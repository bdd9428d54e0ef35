"""Vectors without delaying anyone: the embedder loads in the background, search is lexical
until it is ready, and memories added meanwhile are embedded afterwards.

Queries are embedded as given (:meth:`EmbeddingService.embed`), on the caller's time.
Memories are queued (:meth:`EmbeddingService.enqueue`) and embedded behind the add, in
batches: an add never waits for the model. What is embedded is the content without its
speaker label, with passage vectors where the embedder can give them.

States: ``disabled`` (no embedder), ``loading``, ``ready``, ``failed`` (the reason is kept and
logged; search stays lexical).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Literal

import anyio

from memvault.core.text.speakers import body_text
from memvault.embedders.base import Embedder, Matrix, Passages
from memvault.embedders.windows import embed_windows
from memvault.errors import EmbedderMismatch, MemvaultError
from memvault.models import EmbeddingInfo
from memvault.stores.base import EpisodicStore

__all__ = ["EmbeddingService", "EmbeddingState"]

log = logging.getLogger("memvault.embedding")

EmbeddingState = Literal["disabled", "loading", "ready", "failed"]

_BACKFILL_BATCH = 256


def check_compatible(embedder: Embedder, info: EmbeddingInfo | None) -> None:
    if info is not None and info.model != embedder.name:
        raise EmbedderMismatch(
            f"this store's vectors come from {info.model}, but the configured embedder is "
            f"{embedder.name}. Run `memvault reembed` to re-embed every memory with "
            f"{embedder.name}, or configure the embedder {info.model}."
        )


async def _embed_contents(
    embedder: Embedder, contents: Sequence[str], *, speakers: bool, passages: bool,
    windows: bool,
) -> list[Passages]:
    """Each content's vectors (:func:`~memvault.embedders.windows.embed_windows`), with spans
    in the content itself (the speaker label, when left out, shifts them)."""
    bodies = [body_text(content) for content in contents] if speakers else list(contents)
    embedded = await embed_windows(embedder, bodies, sentences=passages, windows=windows)
    return [
        Passages(p.vectors, [(a + len(c) - len(b), e + len(c) - len(b)) for a, e in p.spans])
        if len(c) != len(b) else p
        for c, b, p in zip(contents, bodies, embedded, strict=True)
    ]


class EmbeddingService:
    def __init__(
        self, embedder: Embedder | None, store: EpisodicStore, reason: str, *,
        speakers: bool = True, passages: bool = True, windows: bool = True,
    ) -> None:
        self.embedder = embedder
        self._how = {"speakers": speakers, "passages": passages, "windows": windows}
        self.reason = reason
        self._store = store
        self.state: EmbeddingState = "disabled" if embedder is None else "loading"
        self.error: str | None = None
        self._ready = anyio.Event()
        self._wake = anyio.Event()
        self._settled = anyio.Event()
        self._sweep = True  # look for memories without a vector on the next wake-up
        self._queue: list[tuple[str, str]] = []  # (id, content) waiting for a vector
        self._idle = anyio.Event()  # set when nothing is queued or being embedded
        self._idle.set()
        if embedder is None:
            self._settled.set()

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    async def check(self) -> None:
        """Refuse a store whose vectors came from another embedder (called on open)."""
        if self.embedder is not None:
            check_compatible(self.embedder, await self._store.embedding_info())

    async def wait_settled(self, timeout: float | None = None) -> EmbeddingState:
        """Wait until the embedder is ready or has failed; returns the state."""
        with anyio.move_on_after(timeout):
            await self._settled.wait()
        return self.state

    async def run(self) -> None:
        """Load the embedder, then embed whatever lacks a vector, for as long as it runs."""
        if self.embedder is None:
            return
        try:
            await self.embedder.load()
            probe = await self.embedder.embed(["memvault"])
            dimensions = int(probe.shape[1])
            info = await self._store.embedding_info()
            check_compatible(self.embedder, info)
            if info is None:
                await self._store.reset_embeddings(
                    EmbeddingInfo(model=self.embedder.name, dimensions=dimensions)
                )
            elif info.dimensions != dimensions:
                raise EmbedderMismatch(
                    f"{self.embedder.name} now gives {dimensions}-dimensional vectors but the "
                    f"store holds {info.dimensions}; run `memvault reembed`"
                )
        except (MemvaultError, OSError, RuntimeError, ValueError) as exc:
            self.state, self.error = "failed", str(exc)
            log.warning("embedder %s failed, search stays lexical: %s",
                        self.embedder.name, exc)
            self._queue.clear()  # stored without vectors; `memvault reembed` can add them
            self._idle.set()
            self._settled.set()
            return
        self.state = "ready"
        self._ready.set()
        self._settled.set()
        log.info("embedder %s ready (%d dimensions)", self.embedder.name, dimensions)
        while True:
            try:
                await self._drain()
                if self._sweep:
                    self._sweep = False
                    await self.backfill()
            except Exception as exc:  # a worker must outlive a bad batch
                # The memories are stored; the next sweep finds those still without a vector.
                log.warning("background embedding paused: %s", exc)
                self._queue.clear()
                self._sweep = True
            if not self._queue:
                self._idle.set()
                await self._wake.wait()
                self._wake = anyio.Event()

    async def _drain(self) -> None:
        """Embed and store what :meth:`enqueue` queued, oldest first, in batches."""
        while self._queue and self.embedder is not None:
            batch = self._queue[:_BACKFILL_BATCH]
            vectors = await _embed_contents(
                self.embedder, [content for _, content in batch], **self._how
            )
            await self._store.set_embeddings(
                [(memory_id, vectors[i].vectors) for i, (memory_id, _) in enumerate(batch)],
                spans=[v.spans for v in vectors],
            )
            del self._queue[: len(batch)]

    def enqueue(self, memories: Sequence[tuple[str, str]]) -> None:
        """Embed these ``(id, content)`` memories in the background, in order.

        Adds do not wait for the model: a memory is searchable by its words at once and by
        meaning once its vector is stored (:meth:`wait_idle`).
        """
        if self.embedder is None or self.state == "failed" or not memories:
            return
        self._queue.extend(memories)
        if self._idle.is_set():
            self._idle = anyio.Event()
        self._wake.set()

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every queued memory has its vector (or the embedder failed); returns
        whether that happened within ``timeout``. While the model loads, that can take as
        long as the load."""
        with anyio.move_on_after(timeout):
            await self._idle.wait()
            return True
        return False

    def notify(self) -> None:
        """Some memories may lack a vector (another process, a failure): look for them;
        :meth:`wait_idle` waits for that search and the vectors it computes."""
        self._sweep = True
        if self.embedder is not None and self.state != "failed" and self._idle.is_set():
            self._idle = anyio.Event()
        self._wake.set()

    async def backfill(self, progress: Callable[[int], None] | None = None) -> int:
        """Embed every memory that has no vector; returns how many were embedded."""
        done = 0
        if self.embedder is None:
            return 0
        while True:
            batch = await self._store.missing_embeddings(limit=_BACKFILL_BATCH)
            if not batch:
                return done
            try:
                vectors = await _embed_contents(
                    self.embedder, [content for _, content in batch], **self._how
                )
            except MemvaultError as exc:
                log.warning("embedding failed, will retry on the next add: %s", exc)
                return done
            await self._store.set_embeddings(
                [(memory_id, vectors[i].vectors) for i, (memory_id, _) in enumerate(batch)],
                spans=[v.spans for v in vectors],
            )
            done += len(batch)
            if progress is not None:
                progress(len(batch))



    async def embed(self, texts: Sequence[str]) -> Matrix | None:
        """Vectors for ``texts`` when the embedder is ready, else ``None``."""
        if self.embedder is None or not self.ready:
            return None
        try:
            return await self.embedder.embed(texts)
        except MemvaultError as exc:
            log.warning("embedding failed; the search or add goes on lexically: %s", exc)
            return None
