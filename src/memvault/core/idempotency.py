"""Idempotency keys of adds: a retry with the same key and request stores nothing.

A key is the caller's, per user. It is stored with the memory its first add stored, in the
episodic store, with a hash of the request (:func:`request_hash`), so it survives restarts and
holds across processes. An add with a known key is a replay when its request hashes the same
(the first memory is returned) and refused with :class:`IdempotencyConflict` otherwise.
Concurrent adds with one key store one memory: the store keeps one memory per
``(user_id, idempotency_key)`` and skips the others, which then read back the winner.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime

from pydantic import JsonValue

from memvault.errors import IdempotencyConflict
from memvault.models import AddOutcome, Memory
from memvault.stores.base import AddWriter, EpisodicStore, NewMemory

__all__ = ["check_batch", "replays", "request_hash", "store_once"]


def request_hash(
    *, content: str, session_id: str | None, agent_id: str | None,
    metadata: dict[str, JsonValue], occurred_at: datetime | None, source: str | None,
    profile: Sequence[tuple[str, JsonValue, str]], type: str | None = None,
    data: dict[str, JsonValue] | None = None,
) -> str:
    """A digest of an add's request as the caller gave it (after validation, before
    defaults: an omitted ``occurred_at`` is the same request at any time). An untyped
    request hashes as it did before memory types existed."""
    body = {
        "content": content, "session_id": session_id, "agent_id": agent_id,
        "metadata": metadata, "source": source,
        "occurred_at": None if occurred_at is None else occurred_at.isoformat(),
        "profile": [list(fact) for fact in profile],
    }
    if type is not None:
        body.update(type=type, data=data)
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _conflict(key: str) -> IdempotencyConflict:
    return IdempotencyConflict(
        f"idempotency_key {key!r} was already used for a different request: send the same"
        " request to retry it, or use a new key"
    )


def check_batch(memories: Sequence[NewMemory]) -> dict[str, NewMemory]:
    """The first item of each key in one batch; an item repeating a key with another
    request raises :class:`IdempotencyConflict` (a repeat with the same request is a replay
    of the first)."""
    first: dict[str, NewMemory] = {}
    for index, memory in enumerate(memories):
        key = memory.idempotency_key
        if key is None:
            continue
        earlier = first.setdefault(key, memory)
        if earlier.request_hash != memory.request_hash:
            raise IdempotencyConflict(f"item {index}: {_conflict(key)}")
    return first


async def replays(
    episodic: EpisodicStore, user: str, memories: Sequence[NewMemory]
) -> dict[str, Memory]:
    """``key -> stored memory`` for the keyed items already stored; raises
    :class:`IdempotencyConflict` for a key stored with another request."""
    wanted = {m.idempotency_key: m for m in memories if m.idempotency_key is not None}
    if not wanted:
        return {}
    found: dict[str, Memory] = {}
    for key, (memory, digest) in (await episodic.keyed(user, list(wanted))).items():
        if digest != wanted[key].request_hash:
            raise _conflict(key)
        found[key] = memory
    return found


async def store_once(
    episodic: EpisodicStore, writer: AddWriter, user: str, built: Sequence[NewMemory]
) -> tuple[list[AddOutcome], list[NewMemory]]:
    """Write ``built`` (one user's validated items) through ``writer``, each keyed item once:
    the outcome of each item, in order, and the memories this call inserted."""
    first = check_batch(built)
    stored = await replays(episodic, user, built)
    fresh = [m for m in built if m.idempotency_key is None
             or (m.idempotency_key not in stored and first[m.idempotency_key] is m)]
    done = set(await writer.write(fresh)) if fresh else set()
    # A concurrent add with the same key may have stored it first: read back the winner.
    stored.update(await replays(episodic, user, [
        m for m in fresh if m.idempotency_key is not None and m.id not in done]))
    outcomes: list[AddOutcome] = []
    for memory in built:
        key = memory.idempotency_key
        if key is not None and key in stored:
            outcomes.append(AddOutcome(memory=stored[key], replayed=True))
        else:
            own = memory if key is None else first[key]
            outcomes.append(AddOutcome(memory=own.as_memory(), replayed=own is not memory))
    return outcomes, [m for m in fresh if m.id in done]
