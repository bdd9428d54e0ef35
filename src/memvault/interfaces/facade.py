"""``MemoryLayer``: the shape of MemMachine's SDK, as a thin layer over :class:`Memvault`.

::

    from memvault import MemoryLayer

    with MemoryLayer(episodic_db="sqlite:///memory.db", profile_db="sqlite:///memory.db",
                     session_id="S001") as memory:
        memory.store_profile("alice", {"allergy": "penicillin"})
        memory.store_episodic("alice", "Booked the follow-up for 3 May", {"dept": "cardiology"})
        print(memory.retrieve_profile("alice"))            # {'allergy': 'penicillin'}
        print(memory.retrieve_episodic("alice", "follow-up")[0].content)

``episodic_db`` is any episodic store URL (``sqlite:///…``, ``falkordb://…``,
``neo4j://…``), ``profile_db`` any profile store URL (``sqlite:///…``,
``postgresql://…``; default: the episodic database when it is SQLite). Working memory is
kept with the episodic SQLite file, or in the process for a server store (``working_db``
names another). ``session_id`` is the session every episodic memory is stored in.
``settings`` are further :class:`~memvault.config.Config` fields (``embedder="none"``...).
:class:`AsyncMemoryLayer` is the async twin; each method maps to one Memvault call, and
``memvault`` gives the Memvault itself for anything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

from pydantic import JsonValue

from memvault.config import Config
from memvault.core.memvault import Memvault
from memvault.errors import InvalidInput
from memvault.interfaces.sdk import SyncMemvault
from memvault.models import Memory, ProfileFact

__all__ = ["AsyncMemoryLayer", "MemoryLayer"]


def _config(episodic_db: str, profile_db: str | None, working_db: str | None,
            settings: Mapping[str, Any]) -> Config:
    local = episodic_db.startswith("sqlite:") or "://" not in episodic_db
    if profile_db is None and not local:
        raise InvalidInput("profile_db is required when episodic_db is not SQLite")
    return Config.from_flat({
        **settings, "episodic_url": episodic_db, "profile_url": profile_db or episodic_db,
        "working_url": working_db or (episodic_db if local else "memory://"),
    })


def _facts(facts: list[ProfileFact]) -> dict[str, JsonValue]:
    return {fact.key: fact.value for fact in facts}


class AsyncMemoryLayer:
    """The async MemoryLayer; use it with ``async with``."""

    def __init__(self, episodic_db: str, profile_db: str | None = None,
                 session_id: str | None = None, *, working_db: str | None = None,
                 **settings: Any) -> None:
        self.memvault = Memvault(_config(episodic_db, profile_db, working_db, settings))
        self.session_id = session_id

    async def __aenter__(self) -> Self:
        await self.memvault.__aenter__()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.memvault.__aexit__(exc_type, exc, tb)

    async def store_profile(self, user_id: str, data: Mapping[str, Any]
                            ) -> list[ProfileFact]:
        """Set the user's profile facts (a key set again supersedes its value)."""
        return await self.memvault.set_profile(data, user_id=user_id)

    async def store_episodic(self, user_id: str, data: str,
                             metadata: Mapping[str, Any] | None = None) -> Memory:
        """Store ``data`` verbatim as a memory of the user, in this layer's session."""
        return await self.memvault.add(data, user_id=user_id, session_id=self.session_id,
                                       metadata=metadata)

    async def retrieve_profile(self, user_id: str) -> dict[str, JsonValue]:
        """The user's current profile facts, key → value."""
        return _facts((await self.memvault.get_profile(user_id=user_id)).facts)

    async def retrieve_episodic(self, user_id: str, keyword: str, limit: int = 10
                                ) -> list[Memory]:
        """The user's memories that best match ``keyword`` (hybrid search), best first."""
        result = await self.memvault.search(keyword, user_id=user_id, limit=limit)
        return [hit.memory for hit in result.hits]


class MemoryLayer:
    """The blocking MemoryLayer; use it with ``with``. See the module's example."""

    def __init__(self, episodic_db: str, profile_db: str | None = None,
                 session_id: str | None = None, *, working_db: str | None = None,
                 **settings: Any) -> None:
        self.memvault = SyncMemvault(_config(episodic_db, profile_db, working_db, settings))
        self.session_id = session_id

    def __enter__(self) -> Self:
        self.memvault.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.memvault.__exit__(exc_type, exc, tb)

    def store_profile(self, user_id: str, data: Mapping[str, Any]) -> list[ProfileFact]:
        return self.memvault.set_profile(data, user_id=user_id)

    def store_episodic(self, user_id: str, data: str,
                       metadata: Mapping[str, Any] | None = None) -> Memory:
        return self.memvault.add(data, user_id=user_id, session_id=self.session_id,
                                 metadata=metadata)

    def retrieve_profile(self, user_id: str) -> dict[str, JsonValue]:
        return _facts(self.memvault.get_profile(user_id=user_id).facts)

    def retrieve_episodic(self, user_id: str, keyword: str, limit: int = 10) -> list[Memory]:
        return [hit.memory for hit in self.memvault.search(keyword, user_id=user_id,
                                                           limit=limit).hits]
