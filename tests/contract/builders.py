"""Builders of store-level test data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from memvault.core.ids import new_id
from memvault.models import Memory, ProfileFact
from memvault.stores.base import NewMemory

T0 = datetime(2024, 5, 8, 13, 56, tzinfo=UTC)


def memory(
    content: str,
    *,
    user: str = "alice",
    session: str | None = "s1",
    minutes: int = 0,
    **fields: Any,
) -> Memory:
    moment = T0 + timedelta(minutes=minutes)
    values: dict[str, Any] = {
        "id": new_id(), "user_id": user, "session_id": session, "content": content,
        "occurred_at": moment, "created_at": moment,
    }
    values.update(fields)
    return Memory(**values)


def new_memory(content: str, **fields: Any) -> NewMemory:
    """A memory as an add hands it to the store (idempotency key, pending facts)."""
    plain = {k: fields.pop(k) for k in list(fields) if k in ("user", "session", "minutes")}
    return NewMemory(**memory(content, **plain).model_dump(), **fields)


def fact(key: str, value: Any, *, user: str = "alice", minutes: int = 0, **fields: Any
         ) -> ProfileFact:
    values: dict[str, Any] = {
        "id": new_id(), "user_id": user, "key": key, "value": value,
        "valid_from": T0 + timedelta(minutes=minutes),
    }
    values.update(fields)
    return ProfileFact(**values)


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)
