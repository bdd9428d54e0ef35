"""The engine's periodic background work: looking for memories without vectors that other
processes stored, and repairing adds a crash interrupted (see
:class:`memvault.stores.base.AddWriter`)."""

from __future__ import annotations

import logging
from datetime import timedelta

import anyio

from memvault.core.embedding import EmbeddingService
from memvault.core.timeutil import utc_now
from memvault.errors import MemvaultError
from memvault.stores.base import AddWriter

__all__ = ["heal", "heal_now_and_then", "sweep"]

log = logging.getLogger("memvault")

SWEEP_SECONDS = 30.0
#: The periodic repair leaves alone the adds younger than this: they are still under way.
HEAL_AFTER = timedelta(minutes=5)


async def sweep(embedding: EmbeddingService) -> None:
    """Other processes may store memories without vectors: look for them now and then."""
    while True:
        await anyio.sleep(SWEEP_SECONDS)
        if embedding.ready:
            embedding.notify()


async def heal(writer: AddWriter, older_than: timedelta | None = None) -> None:
    """Finish or undo the adds a crash interrupted (all of them at open, so a store opened
    after a crash is whole at once; only the old ones later, while other processes may be
    adding). A failure is logged: the next pass tries again."""
    before = None if older_than is None else utc_now() - older_than
    try:
        await writer.heal(before=before)
    except MemvaultError as exc:
        log.warning("could not repair interrupted adds yet: %s", exc)


async def heal_now_and_then(writer: AddWriter) -> None:
    while True:
        await anyio.sleep(SWEEP_SECONDS)
        await heal(writer, HEAL_AFTER)
