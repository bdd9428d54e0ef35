"""Recent turns per session, held in this process: the in-memory working store
(:mod:`memvault.stores.memory.working`) and the outage fallback of the Redis working store
(:mod:`memvault.stores.redis.working`) are both this cache.

Sessions expire ``ttl_seconds`` after their last push, by the monotonic clock; an expired
session is dropped when it is next touched. Every method is thread-safe and returns at once.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from memvault.models import Memory
from memvault.stores.codec import session_of

__all__ = ["TurnCache"]


@dataclass
class _Session:
    turns: deque[Memory] = field(default_factory=deque)
    expires_at: float = 0.0


class TurnCache:
    """The semantics of :class:`memvault.stores.base.WorkingStore`, synchronously and in
    memory."""

    def __init__(self) -> None:
        self._sessions: dict[tuple[str, str], _Session] = {}
        self._lock = threading.Lock()

    def count(self) -> int:
        """How many turns are held, expired sessions included until they are touched."""
        with self._lock:
            return sum(len(s.turns) for s in self._sessions.values())

    def _live(self, key: tuple[str, str], now: float) -> _Session | None:
        session = self._sessions.get(key)
        if session is not None and session.expires_at <= now:
            del self._sessions[key]
            return None
        return session

    def push(self, memory: Memory, *, max_turns: int, ttl_seconds: float) -> None:
        key = (memory.user_id, session_of(memory))
        now = time.monotonic()
        with self._lock:
            session = self._live(key, now) or self._sessions.setdefault(key, _Session())
            session.turns.append(memory)
            while len(session.turns) > max_turns:
                session.turns.popleft()
            session.expires_at = now + ttl_seconds

    def recent(self, user_id: str, session_id: str, *, limit: int) -> list[Memory]:
        with self._lock:
            session = self._live((user_id, session_id), time.monotonic())
            return [] if session is None else list(reversed(session.turns))[:limit]

    def delete(self, user_id: str, memory_id: str) -> None:
        with self._lock:
            for (user, _), session in self._sessions.items():
                if user == user_id:
                    session.turns = deque(m for m in session.turns if m.id != memory_id)

    def clear(
        self, user_id: str, *, session_id: str | None = None, agent_id: str | None = None
    ) -> int:
        now = time.monotonic()
        removed = 0
        with self._lock:
            for key in list(self._sessions):
                user, session_key = key
                if user != user_id or (session_id is not None and session_key != session_id):
                    continue
                session = self._live(key, now)
                if session is None:
                    continue
                keep = deque(m for m in session.turns
                             if agent_id is not None and m.agent_id != agent_id)
                removed += len(session.turns) - len(keep)
                session.turns = keep
                if not keep:
                    del self._sessions[key]
        return removed
