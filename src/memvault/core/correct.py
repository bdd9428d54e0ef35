"""Corrections: updating a stored memory, setting and forgetting profile facts, and the
profile's limits that every write of facts checks.

Used by :class:`~memvault.core.memvault.Memvault` (``update``, ``history``, ``set_profile``,
``forget_profile``; an add checks its facts here too). An update keeps the memory's id,
session links and ``created_at``; the version it replaces goes into the memory's history
with when it was replaced. New content is searchable by its words when the update returns
and has its entities recomputed; its vectors are computed behind it, as an add's are (the
update never waits for the model), and its working-memory copy is dropped (it would show the
old version). Profile facts the memory stated keep their times. Forgetting a profile key
moves its current value to the history, ended now (``retired_reason="forgotten"``); the value
before it does not come back. Every argument is checked before anything is written: bad input
raises :class:`~memvault.errors.InvalidInput` naming the field, with nothing changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from memvault.core.ids import new_id
from memvault.core.text.entities import extract_entities
from memvault.core.timeutil import parse_datetime, utc_now
from memvault.core.validate import (
    check_content,
    check_identifier,
    check_metadata,
    check_profile,
    check_profile_key,
    check_profile_keys,
)
from memvault.errors import InvalidInput, MemvaultError, NotFound
from memvault.models import Memory, MemoryVersion, ProfileFact
from memvault.stores.base import Revision

if TYPE_CHECKING:
    from memvault.core.memvault import Memvault

__all__ = ["Corrections", "split_forgotten"]


def split_forgotten(facts: object) -> tuple[object, list[object]]:
    """A ``set_profile`` argument → (the facts to set, the keys to forget: those whose value
    is ``null``). Anything but an object is returned as given, for the profile check to
    refuse."""
    if not isinstance(facts, Mapping):
        return facts, []
    kept = {key: value for key, value in facts.items() if value is not None}
    return kept, [key for key, value in facts.items() if value is None]


class Corrections:
    """Updates, forgetting and the profile's limits over one Memvault's stores."""

    def __init__(self, owner: Memvault) -> None:
        self._mv = owner

    # -- profile -----------------------------------------------------------------------------

    def check_profile(self, profile: object) -> list[tuple[str, Any, str]]:
        config = self._mv.config
        return check_profile(profile, max_value_bytes=config.max_profile_value_bytes,
                             max_keys=config.max_profile_keys)

    async def room(self, user: str, facts: Sequence[ProfileFact]) -> None:
        """Refuse facts that would give the user more current keys than the limit (checked
        before the write: concurrent writers can pass it together by their new keys)."""
        if not facts:
            return
        keys = {fact.key for fact in facts}
        limit = self._mv.config.max_profile_keys
        check_profile_keys(len(keys), limit)
        check_profile_keys(len(keys.union(await self._mv.profile.current_keys(user))), limit)

    async def set_profile(
        self, user: str, agent: str | None, facts: Mapping[str, Any],
        source_memory_ids: Sequence[str],
    ) -> list[ProfileFact]:
        """Set the facts given and forget the keys given ``None``; returns the facts set,
        then those forgotten."""
        setting, forgetting = split_forgotten(facts)
        if isinstance(facts, Mapping):
            check_profile_keys(len(facts), self._mv.config.max_profile_keys)
        stated = self.check_profile(setting)
        keys = [check_profile_key(key, f"profile.{key}") for key in forgetting]
        now = utc_now()
        built = [
            ProfileFact(id=new_id(), user_id=user, key=key, value=value, category=category,
                        source_memory_ids=list(source_memory_ids), agent_id=agent,
                        valid_from=now)
            for key, value, category in stated
        ]
        if not built and not keys:
            raise InvalidInput("profile is empty: give at least one fact")
        await self.room(user, built)
        written = await self._mv.profile.set_facts(built) if built else []
        return written + await self._forget(user, keys)

    async def forget_one(self, user: str, key: object) -> ProfileFact | None:
        forgotten = await self._forget(user, [check_profile_key(key, "key")])
        return forgotten[0] if forgotten else None

    async def _forget(self, user: str, keys: Sequence[str]) -> list[ProfileFact]:
        at = utc_now()
        forgotten = [await self._mv.profile.forget_key(user, key, at) for key in keys]
        return [fact for fact in forgotten if fact is not None]

    # -- memories ----------------------------------------------------------------------------

    async def update(
        self, user: str, memory_id: object, *, content: object = None,
        metadata: object = None, occurred_at: datetime | str | None = None,
        data: object = None,
    ) -> Memory:
        """Replace the given fields of the user's memory (``None``: kept); at least one is
        needed. Giving the values already stored changes nothing (no new version). Raises
        :class:`NotFound` when the user has no memory with that id.

        ``data`` replaces a typed memory's data, checked against its type's schema; content
        that was rendered from the old data (no content given) is rendered again."""
        memory_id = check_identifier(memory_id, "memory_id")
        if content is None and metadata is None and occurred_at is None and data is None:
            raise InvalidInput(f"nothing to update in memory {memory_id!r}: give content,"
                               " metadata, occurred_at or data")
        text = None if content is None else check_content(content,
                                                          self._mv.config.max_content_bytes)
        meta = None if metadata is None else check_metadata(metadata)
        moment = None if occurred_at is None else parse_datetime(occurred_at, "occurred_at")
        current = await self._found(user, memory_id)
        fields = None
        if data is not None:
            if current.type is None:
                raise InvalidInput(f"data: memory {memory_id!r} has no memory type")
            _, fields = self._mv.types.check(current.type, data)
            rendered = self._mv.types.render(current.type, current.data or {})
            if text is None and current.content == rendered:
                text = check_content(self._mv.types.render(current.type, fields),
                                     self._mv.config.max_content_bytes)
            fields = None if fields == current.data else fields
        text = None if text == current.content else text
        meta = None if meta == current.metadata else meta
        moment = None if moment == current.occurred_at else moment
        if text is None and meta is None and moment is None and fields is None:
            return current
        revision = Revision(
            user_id=user, memory_id=memory_id, at=utc_now(), content=text,
            entities=None if text is None else tuple(extract_entities(text)),
            metadata=meta, occurred_at=moment, data=fields,
        )
        updated = await self._mv.episodic.update(revision)
        if updated is None:
            raise NotFound(f"no memory with id {memory_id!r}")
        if text is not None:
            self._mv.embedding.revise(updated.id, updated.content, user_id=user)
        # The episodic memory is updated; a working copy left by a failure expires with its
        # session.
        with contextlib.suppress(MemvaultError):
            await self._mv.working.delete(user, updated.id)
        return updated

    async def history(self, user: str, memory_id: object) -> list[MemoryVersion]:
        """The memory's earlier versions, oldest first; :class:`NotFound` for an unknown id."""
        memory_id = check_identifier(memory_id, "memory_id")
        await self._found(user, memory_id)
        return await self._mv.episodic.versions(user, memory_id)

    async def _found(self, user: str, memory_id: str) -> Memory:
        found = await self._mv.episodic.get(user, [memory_id])
        if not found:
            raise NotFound(f"no memory with id {memory_id!r}")
        return found[0]
