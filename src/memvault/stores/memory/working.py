"""Working memory in this process only (``memory://``): lost on restart, not shared between
processes. The turns live in a :class:`~memvault.stores.cache.TurnCache`, the same cache the
Redis store falls back to when Redis is unreachable."""

from __future__ import annotations

from memvault.models import Memory, StoreStatus
from memvault.stores.cache import TurnCache

__all__ = ["InMemoryWorkingStore"]


class InMemoryWorkingStore:
    """See :class:`memvault.stores.base.WorkingStore`."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._cache = TurnCache()

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def status(self) -> StoreStatus:
        return StoreStatus(role="working", backend="memory", location="this process", ok=True,
                           detail=f"{self._cache.count()} recent turns")

    async def push(self, memory: Memory, *, max_turns: int, ttl_seconds: float) -> None:
        self._cache.push(memory, max_turns=max_turns, ttl_seconds=ttl_seconds)

    async def recent(self, user_id: str, session_id: str, *, limit: int) -> list[Memory]:
        return self._cache.recent(user_id, session_id, limit=limit)

    async def delete(self, user_id: str, memory_id: str) -> None:
        self._cache.delete(user_id, memory_id)

    async def clear(
        self, user_id: str, *, session_id: str | None = None, agent_id: str | None = None
    ) -> int:
        return self._cache.clear(user_id, session_id=session_id, agent_id=agent_id)
