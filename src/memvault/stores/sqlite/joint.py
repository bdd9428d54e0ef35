"""A whole add in one SQLite transaction, when the three roles are one file.

The memory, its profile facts and its working-memory copy are written on one connection in
one ``BEGIN IMMEDIATE`` transaction, by the same statements each store runs on its own
(:meth:`SqliteEpisodicStore.adding`, :meth:`SqliteProfileStore.facts_writer`,
:meth:`SqliteWorkingStore.pusher`): a crash or a failure at any point leaves all of it or
none. Only the stores themselves qualify, never an object standing in for one (a wrapper is
written through its own methods, by :class:`~memvault.stores.outbox.OutboxWriter`), and only
on one file. Pending records left by such writes are healed by the outbox writer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

from memvault.stores.base import NewMemory
from memvault.stores.outbox import OutboxWriter
from memvault.stores.sqlite.profile import SqliteProfileStore
from memvault.stores.sqlite.working import SqliteWorkingStore

if TYPE_CHECKING:
    from memvault.stores.sqlite.episodic import SqliteEpisodicStore

__all__ = ["SqliteJointWriter", "joint_writer"]


class SqliteJointWriter(OutboxWriter):
    """The :class:`~memvault.stores.base.AddWriter` for the three SQLite stores of one file:
    an outbox writer whose writes are one transaction (its heal repairs what other writers
    left)."""

    def __init__(
        self, episodic: SqliteEpisodicStore, profile: SqliteProfileStore,
        working: SqliteWorkingStore, *, max_turns: int, ttl_seconds: float,
    ) -> None:
        super().__init__(episodic, profile, working, max_turns=max_turns,
                         ttl_seconds=ttl_seconds)
        self._sqlite = (episodic, profile, working)

    async def write(self, memories: Sequence[NewMemory]) -> list[str]:
        episodic, profile, working = self._sqlite
        add = episodic.adding(memories, pending=False)

        def _write(conn: sqlite3.Connection) -> list[str]:
            inserted = add(conn)
            done = set(inserted)
            fresh = [m for m in memories if m.id in done]
            facts = [fact for m in fresh for fact in m.facts]
            if facts:
                profile.facts_writer(facts)(conn)
            for memory in fresh:
                if memory.session_id is not None:
                    working.pusher(memory.as_memory(), max_turns=self.max_turns,
                                   ttl_seconds=self.ttl_seconds)(conn)
            return inserted

        return await episodic.database.write(_write)


def joint_writer(
    episodic: SqliteEpisodicStore, profile: object, working: object, *, max_turns: int,
    ttl_seconds: float,
) -> SqliteJointWriter | None:
    """A joint writer when ``profile`` and ``working`` are SQLite stores (instances of the
    classes, not look-alikes) on ``episodic``'s file; ``None`` otherwise."""
    if not isinstance(profile, SqliteProfileStore) or not isinstance(working, SqliteWorkingStore):
        return None
    path = episodic.database.path.resolve()
    if profile.database.path.resolve() != path or working.database.path.resolve() != path:
        return None
    return SqliteJointWriter(episodic, profile, working, max_turns=max_turns,
                             ttl_seconds=ttl_seconds)
