"""A query's embedding started before the lexical stage, and the guess that allows it.

The text a search embeds is the query with the speakers it names masked
(:func:`memvault.core.text.speakers.mask_speakers`), and which labels are speakers is known
only once the lexical candidates are read. Waiting for them puts the model's forward pass
(the largest share of a search's time) after the lexical stage; on two cores the two can
run at once instead: the model has its own thread, SQLite runs in worker threads.

So the embedding starts at once on a guess: the query masked with the speakers it names
among the labels :class:`KnownSpeakers` has seen in the user's earlier searches. The search
uses that vector only when the guess turns out to be the very text it would have embedded;
otherwise it embeds that text afterwards. The result never depends on the guess, only the
time does.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

import anyio

__all__ = ["Background", "KnownSpeakers", "background"]

T = TypeVar("T")

#: Users whose labels are kept, most recent first; labels kept per user.
_USERS = 256
_LABELS = 512


class KnownSpeakers:
    """The speaker labels seen in each user's search candidates (bounded: the most recent
    users, and at most :data:`_LABELS` labels each). Safe to share between searches of one
    event loop."""

    def __init__(self) -> None:
        self._labels: OrderedDict[str, set[str]] = OrderedDict()

    def of(self, user_id: str) -> frozenset[str]:
        """The labels seen for ``user_id`` so far."""
        return frozenset(self._labels.get(user_id, ()))

    def learn(self, user_id: str, labels: Iterable[str]) -> None:
        """Remember ``labels`` for ``user_id``."""
        known = self._labels.setdefault(user_id, set())
        self._labels.move_to_end(user_id)
        for label in labels:
            if len(known) >= _LABELS:
                break
            known.add(label)
        while len(self._labels) > _USERS:
            self._labels.popitem(last=False)


class Background(Generic[T]):
    """The outcome of a call run by :func:`background`, once it has returned."""

    def __init__(self) -> None:
        self._value: T | None = None
        self._error: Exception | None = None
        self._done = False

    async def capture(self, call: Callable[[], Awaitable[T]]) -> None:
        try:
            self._value = await call()
        except Exception as exc:  # raised to whoever asks for the value
            self._error = exc
        self._done = True

    def value(self) -> T:
        """What the call returned (it raises what the call raised); only after the
        :func:`background` block has ended."""
        if not self._done:
            raise RuntimeError("the background call has not finished")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


@asynccontextmanager
async def background(call: Callable[[], Awaitable[T]]) -> AsyncIterator[Background[T]]:
    """Run ``call`` while the block runs; the block's end waits for it. An error in the block
    cancels the call and reaches the caller as itself (not in an exception group); the
    call's own error is kept for :meth:`Background.value`."""
    outcome: Background[T] = Background()
    group = anyio.create_task_group()
    await group.__aenter__()
    group.start_soon(outcome.capture, call)
    try:
        yield outcome
    except BaseException:
        group.cancel_scope.cancel()
        await group.__aexit__(None, None, None)
        raise
    await group.__aexit__(None, None, None)
