"""Adds across stores that share no transaction: ordered writes through an outbox, undone
when they fail, finished or undone after a crash.

Order of an add (:meth:`OutboxWriter.write`):

1. the memories, each with its pending record (the facts its add states), in one episodic
   transaction;
2. the facts of the memories inserted, in one profile transaction;
3. the working-memory copy of each memory with a session;
4. the pending records are cleared.

A failure or a cancellation in 1 or 2 takes the add back, shielded from cancellation: the
memories are deleted (their records stay), the facts undone, then the records cleared. What a
crash leaves is a record: :meth:`OutboxWriter.heal` finishes the add when its memory is
stored (facts written unless some fact already cites the memory, the working copy pushed
unless there or expired) and undoes it when the memory is gone (its facts undone, its working
copy deleted). Fact ids are derived from the memory id and the key, so undoing is exact, and
a heal running while the add itself is still under way converges with it: the heal looks for
the memory again after writing its facts, and the add deletes its memory before undoing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

import anyio

from memvault.errors import MemvaultError
from memvault.models import Memory
from memvault.stores.base import (
    EpisodicStore,
    NewMemory,
    Pending,
    ProfileStore,
    WorkingStore,
)

__all__ = ["OutboxWriter"]

log = logging.getLogger("memvault")

#: Pending records read per round of a heal.
_PAGE = 200


class OutboxWriter:
    """The :class:`~memvault.stores.base.AddWriter` for any three stores."""

    def __init__(
        self, episodic: EpisodicStore, profile: ProfileStore, working: WorkingStore, *,
        max_turns: int, ttl_seconds: float,
    ) -> None:
        self.episodic = episodic
        self.profile = profile
        self.working = working
        self.max_turns = max_turns
        self.ttl_seconds = ttl_seconds

    # -- writing ---------------------------------------------------------------------------

    async def write(self, memories: Sequence[NewMemory]) -> list[str]:
        # A memory with neither facts nor a session leaves nothing to finish elsewhere.
        batch = [m.model_copy(update={"pending": bool(m.facts or m.session_id)})
                 for m in memories]
        attempted: list[str] | None = None
        try:
            inserted = await self.episodic.add(batch)
            attempted = inserted
            facts = [fact for m in _among(batch, inserted) for fact in m.facts]
            if facts:
                await self.profile.set_facts(facts)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._take_back(batch, attempted)
            raise
        fresh = _among(batch, inserted)
        with anyio.CancelScope(shield=True):  # the add is stored: finish it
            await self._push([m.as_memory() for m in fresh], check=False)
            await self._clear(m for m in fresh if m.pending)
        return inserted

    async def _take_back(self, batch: Sequence[NewMemory], inserted: list[str] | None) -> None:
        """Delete what a failed add stored. When the episodic write itself failed it may still
        have committed (a lost reply): a memory stored under one of the batch's ids is this
        add's own when it is exactly the memory the add wrote. What cannot be undone now
        stays pending for :meth:`heal`."""
        try:
            ours = await self._own(batch) if inserted is None else _among(batch, inserted)
            for memory in ours:
                await self.episodic.delete(memory.user_id, memory.id)
            facts = [fact for m in ours for fact in m.facts]
            if facts:
                await self.profile.undo_facts(facts)
            await self._clear(ours)
        except MemvaultError as exc:
            log.warning("could not take back a failed add; it is undone at the next heal: %s",
                        exc)

    async def _own(self, batch: Sequence[NewMemory]) -> list[NewMemory]:
        ours: list[NewMemory] = []
        for user in dict.fromkeys(m.user_id for m in batch):
            mine = [m for m in batch if m.user_id == user]
            stored = {m.id: m for m in await self.episodic.get(user, [m.id for m in mine])}
            ours += [m for m in mine if stored.get(m.id) == m.as_memory()]
        return ours

    async def _clear(self, memories: Iterable[Memory]) -> None:
        by_user: dict[str, list[str]] = {}
        for memory in memories:
            by_user.setdefault(memory.user_id, []).append(memory.id)
        for user, ids in by_user.items():
            try:
                await self.episodic.clear_pending(user, ids)
            except MemvaultError as exc:
                log.warning("an add is stored but still marked pending (healed later): %s",
                            exc)

    async def _push(self, memories: Sequence[Memory], *, check: bool) -> None:
        """Working-memory copies of ``memories``; with ``check``, only of those not already
        there. A failing working store is logged: working memory is derived data."""
        for memory in memories:
            if memory.session_id is None:
                continue
            try:
                if check:
                    recent = await self.working.recent(memory.user_id, memory.session_id,
                                                       limit=self.max_turns)
                    if any(turn.id == memory.id for turn in recent):
                        continue
                await self.working.push(memory, max_turns=self.max_turns,
                                        ttl_seconds=self.ttl_seconds)
            except MemvaultError as exc:
                log.warning("working memory unavailable; the memory is stored: %s", exc)

    # -- healing ---------------------------------------------------------------------------

    async def heal(self, *, before: datetime | None = None) -> int:
        healed = 0
        last: list[str] = []
        while True:
            records = await self.episodic.pending(limit=_PAGE, before=before)
            if [r.memory_id for r in records] == last:
                break  # nothing cleared since the last round: leave the rest for later
            last = [r.memory_id for r in records]
            by_user: dict[str, list[Pending]] = {}
            for record in records:
                by_user.setdefault(record.user_id, []).append(record)
            for user, mine in by_user.items():
                await self._heal_user(user, mine)
            healed += len(records)
            if len(records) < _PAGE:
                break
        if healed:
            log.info("finished or undid %d interrupted add(s)", healed)
        return healed

    async def _heal_user(self, user: str, records: Sequence[Pending]) -> None:
        ids = [r.memory_id for r in records]
        stored = {m.id: m for m in await self.episodic.get(user, ids)}
        present = [r for r in records if r.memory_id in stored]
        if present:
            cited = await self.profile.cited(user, [r.memory_id for r in present])
            facts = [f for r in present if r.memory_id not in cited for f in r.facts]
            if facts:
                await self.profile.set_facts(facts)
            await self._push(
                [m for r in present if _live(m := stored[r.memory_id], self.ttl_seconds)],
                check=True,
            )
            # The add itself may have been taken back meanwhile: look again.
            still = {m.id for m in await self.episodic.get(user, [r.memory_id for r in present])}
        else:
            still = set()
        gone = [r for r in records if r.memory_id not in still]
        facts = [f for r in gone for f in r.facts]
        if facts:
            await self.profile.undo_facts(facts)
        for record in gone:
            await self.working.delete(user, record.memory_id)
        await self.episodic.clear_pending(user, ids)


def _among(batch: Sequence[NewMemory], ids: Iterable[str]) -> list[NewMemory]:
    wanted = set(ids)
    return [m for m in batch if m.id in wanted]


def _live(memory: Memory, ttl_seconds: float) -> bool:
    """Whether the memory's session could still be live: a turn is not revived past its TTL."""
    return memory.created_at + timedelta(seconds=ttl_seconds) > datetime.now(UTC)
