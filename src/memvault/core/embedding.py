"""Vectors without delaying anyone: the embedder loads in the background, search is lexical
until it is ready, and memories added meanwhile are embedded afterwards.

Queries are embedded as given (:meth:`EmbeddingService.embed`), on the caller's time and
ahead of the backlog (an embedder's :meth:`~memvault.embedders.base.QueryEmbedder.embed_query`
lane). Memories are queued (:meth:`EmbeddingService.enqueue`) and embedded behind the add,
in small batches stored one by one: an add never waits for the model, a search never waits
for the backlog, and it finds what is embedded so far by meaning and the rest by its words
(:meth:`EmbeddingService.pending` counts those). What is embedded is the content without
its speaker label, with passage vectors where the embedder can give them.

States: ``disabled`` (no embedder), ``loading``, ``ready``, ``failed`` (the reason is kept and
logged; search stays lexical).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, TypeVar

import anyio

from memvault.core.text.speakers import body_text
from memvault.embedders.base import Embedder, Matrix, Passages, QueryEmbedder
from memvault.embedders.windows import embed_windows
from memvault.embedders.worker import ThreadStopped
from memvault.errors import EmbedderMismatch, MemvaultError
from memvault.models import EmbeddingInfo
from memvault.stores.base import EpisodicStore

__all__ = ["EmbeddingService", "EmbeddingState"]

log = logging.getLogger("memvault.embedding")
T = TypeVar("T")

EmbeddingState = Literal["disabled", "loading", "ready", "failed"]

_BACKFILL_BATCH = 256
#: Memories per call of the model in the background, stored as each call returns: small, so
#: a search finds the vectors as they come and a sweep or a queue is stopped between calls.
_EMBED_BATCH = 16
#: After a failed batch, the pause before looking again (doubling up to the second figure).
_RETRY_SECONDS = (0.5, 30.0)


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
        self._failed = False  # a batch failed: memories lack vectors until the next sweep
        self._queue: list[tuple[str, str, str]] = []  # (id, content, user) waiting
        self._waiting: Counter[str] = Counter()  # queued or being embedded, per user
        self._latest: dict[str, str] = {}  # updated memory -> its content to embed
        self._sweeping = 0  # found by the sweep and not yet stored
        self._idle = anyio.Event()  # set when nothing is queued or being embedded
        self._serving = False  # run() is running: the owner has not closed it
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
        self._serving = True
        try:
            await self._run()
        finally:
            self._serving = False

    async def _reopened(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``; when the embedder's model thread was stopped by another owner (one
        embedder shared by two open instances, one of them closed), the embedder is loaded
        again and ``call()`` retried once, while this service still runs. A call made after
        this service stopped is refused: it must not start a thread nothing waits for."""
        try:
            return await call()
        except ThreadStopped:
            if not self._serving or self.embedder is None:
                raise
            log.info("the embedder was closed by another owner; loading it again")
            await self.embedder.load()
            return await call()

    async def _run(self) -> None:
        assert self.embedder is not None
        embedder = self.embedder
        try:
            await self._reopened(embedder.load)
            probe = await self._reopened(lambda: embedder.embed(["memvault"]))
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
        except Exception as exc:  # a model's library may raise anything: stay lexical
            self.state, self.error = "failed", str(exc) or type(exc).__name__
            log.warning("embedder %s failed, search stays lexical: %s",
                        self.embedder.name, exc)
            self._queue.clear()  # stored without vectors; `memvault reembed` can add them
            self._waiting.clear()
            self._idle.set()
            self._settled.set()
            return
        self.state = "ready"
        self._ready.set()
        self._settled.set()
        log.info("embedder %s ready (%d dimensions)", self.embedder.name, dimensions)
        pause = _RETRY_SECONDS[0]
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
                self._waiting.clear()
                self._sweeping = 0
                self._sweep = self._failed = True
            if self._failed:
                # Not idle: memories still lack vectors. Look again after a pause (an add
                # ends it sooner), so that wait_idle never reports vectors that are missing.
                self._failed = False
                self._wake = anyio.Event()
                with anyio.move_on_after(pause):
                    await self._wake.wait()
                self._wake = anyio.Event()
                pause = min(pause * 2, _RETRY_SECONDS[1])
                continue
            pause = _RETRY_SECONDS[0]
            if not self._queue:
                self._idle.set()
                await self._wake.wait()
                self._wake = anyio.Event()

    async def _drain(self) -> None:
        """Embed and store what :meth:`enqueue` queued, oldest first, in small batches."""
        while self._queue and self.embedder is not None:
            batch = self._queue[:_EMBED_BATCH]
            await self._embed_and_store([(memory_id, content) for memory_id, content, _ in batch])
            del self._queue[: len(batch)]
            self._waiting.subtract(user for _, _, user in batch)
            self._waiting += Counter()  # drop the users left with none

    async def _embed_and_store(self, batch: Sequence[tuple[str, str]]) -> None:
        embedder = self.embedder
        assert embedder is not None
        contents = [content for _, content in batch]
        vectors = await self._reopened(lambda: _embed_contents(embedder, contents, **self._how))
        kept = [i for i, (memory_id, content) in enumerate(batch)
                if self._latest.get(memory_id, content) == content]
        for i in kept:
            self._latest.pop(batch[i][0], None)
        await self._store.set_embeddings(
            [(batch[i][0], vectors[i].vectors) for i in kept],
            spans=[vectors[i].spans for i in kept],
        )

    def revise(self, memory_id: str, content: str, *, user_id: str = "") -> None:
        """Embed an updated memory's new ``content`` in the background: a vector of its
        earlier content still queued or being embedded here is not stored."""
        if self.embedder is None or self.state == "failed":
            return
        self._latest[memory_id] = content
        self.enqueue([(memory_id, content)], user_id=user_id)

    def enqueue(self, memories: Sequence[tuple[str, str]], *, user_id: str = "") -> None:
        """Embed these ``(id, content)`` memories of ``user_id`` in the background, in order.

        Adds do not wait for the model: a memory is searchable by its words at once and by
        meaning once its vector is stored (:meth:`wait_idle`); until then :meth:`pending`
        counts it.
        """
        if self.embedder is None or self.state == "failed" or not memories:
            return
        self._queue.extend((memory_id, content, user_id) for memory_id, content in memories)
        self._waiting[user_id] += len(memories)
        if self._idle.is_set():
            self._idle = anyio.Event()
        self._wake.set()

    def pending(self, user_id: str) -> int:
        """How many of ``user_id``'s memories queued here have no vector stored yet."""
        return self._waiting[user_id]

    def backlog(self) -> int:
        """How many memories, of any user, wait for their vectors here: queued, or found by
        the sweep and not yet stored."""
        return len(self._queue) + self._sweeping

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
        try:
            while True:
                found = await self._store.missing_embeddings(limit=_BACKFILL_BATCH)
                if not found:
                    return done
                self._sweeping = len(found)
                for start in range(0, len(found), _EMBED_BATCH):
                    batch = found[start:start + _EMBED_BATCH]
                    try:
                        await self._embed_and_store(batch)
                    except MemvaultError as exc:
                        log.warning("embedding failed, will retry: %s", exc)
                        self._sweep = self._failed = True
                        return done
                    self._sweeping -= len(batch)
                    done += len(batch)
                    if progress is not None:
                        progress(len(batch))
        finally:
            self._sweeping = 0


    async def embed(self, texts: Sequence[str]) -> Matrix | None:
        """Vectors for ``texts`` when the embedder is ready, else ``None``; ahead of the
        memories waiting for theirs when the embedder has a query lane."""
        if self.embedder is None or not self.ready:
            return None
        try:
            embedder = self.embedder
            if isinstance(embedder, QueryEmbedder):
                return await self._reopened(lambda: embedder.embed_query(texts))
            return await self._reopened(lambda: embedder.embed(texts))
        except MemvaultError as exc:
            log.warning("embedding failed; the search or add goes on lexically: %s", exc)
            return None
