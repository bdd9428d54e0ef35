"""The audit trail: who wrote or deleted what, kept by the profile store
(:class:`~memvault.stores.base.AuditStore`).

Who is calling is a context variable, :func:`current_actor`: the interfaces set it for the
call they serve (:func:`acting_as`, or :func:`set_actor` where the call's own task ends with
it), from the request's credential; everywhere else (stdio, the CLI, the SDK) it is
:data:`LOCAL`. A context variable rather than an ``actor`` argument on every write method:
the writes keep one signature for every caller, a caller that knows nothing of credentials
(the SDK, tests, the CLI) is recorded as ``local`` without saying so, and anyio copies the
context into the tasks a call starts, so no layer in between has to pass it on.

Each write and delete of :class:`~memvault.core.memvault.Memvault` records one
:class:`~memvault.models.AuditEntry` after it succeeded (an add that stored nothing, a
replay, records nothing): memory ids and profile keys, never content. Recording is
best-effort: the write has happened, so a failure to record it is logged as an error and
not raised (raising would tell the caller a stored write failed).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass

from memvault.config import Config
from memvault.core.ids import new_id
from memvault.core.timeutil import utc_now
from memvault.errors import MemvaultError
from memvault.models import AuditEntry, DeleteReport, JsonValue, Memory
from memvault.stores.base import AuditStore
from memvault.stores.registry import KeySet, open_profile

__all__ = [
    "LOCAL", "Actor", "AuditLog", "acting_as", "current_actor", "open_audit", "reset_actor",
    "set_actor",
]

log = logging.getLogger("memvault.audit")

_PAGE = 1_000


@dataclass(frozen=True)
class Actor:
    """Who is calling: a credential's subject (a key id, a token's subject) or ``local``,
    and the agent it acts through."""

    subject: str
    agent_id: str | None = None


LOCAL = Actor("local")
_ACTOR: ContextVar[Actor] = ContextVar("memvault_actor", default=LOCAL)


def current_actor() -> Actor:
    return _ACTOR.get()


def set_actor(subject: str, agent_id: str | None = None) -> Token[Actor]:
    """Make ``subject`` the actor of the current context, until :func:`reset_actor`."""
    return _ACTOR.set(Actor(subject, agent_id))


def reset_actor(token: Token[Actor]) -> None:
    _ACTOR.reset(token)


@contextlib.contextmanager
def acting_as(subject: str, agent_id: str | None = None) -> Iterator[Actor]:
    """The calls made inside are recorded as ``subject``'s."""
    token = set_actor(subject, agent_id)
    try:
        yield _ACTOR.get()
    finally:
        reset_actor(token)


class AuditLog:
    """Records to, and reads from, ``store``'s trail; does nothing on a store that keeps
    none (a profile store of the SDK caller's own making)."""

    def __init__(self, store: object) -> None:
        self._store = store if isinstance(store, AuditStore) else None

    async def record(
        self, action: str, user_id: str, *, memory_ids: Sequence[str] = (),
        keys: Sequence[str] = (), detail: Mapping[str, JsonValue] | None = None,
        agent_id: str | None = None,
    ) -> None:
        """One entry for the current actor; ``agent_id`` stands in when the actor names
        no agent (e.g. the agent a local add was made with)."""
        if self._store is None:
            return
        actor = current_actor()
        entry = AuditEntry(
            id=new_id(), at=utc_now(), user_id=user_id, subject=actor.subject,
            agent_id=actor.agent_id or agent_id, action=action, memory_ids=list(memory_ids),
            keys=list(dict.fromkeys(keys)), detail=dict(detail or {}),
        )
        try:
            await self._store.record([entry])
        except MemvaultError as exc:
            log.error("audit trail: could not record %s by %s for user %s (%s): %s", action,
                      actor.subject, user_id, ",".join(memory_ids[:10]), exc)

    async def added(self, user_id: str, memories: Sequence[Memory]) -> None:
        if memories:
            await self.record(
                "add", user_id, memory_ids=[m.id for m in memories],
                keys=[f.key for m in memories for f in getattr(m, "facts", ())],
                agent_id=memories[0].agent_id)

    async def deleted_all(self, user_id: str, report: DeleteReport, *,
                          agent_id: str | None, session_id: str | None) -> None:
        detail: dict[str, JsonValue] = dict(report.model_dump())
        detail.update({k: v for k, v in (("agent_id", agent_id), ("session_id", session_id))
                       if v is not None})
        await self.record("delete_all", user_id, detail=detail)

    async def trail(self, user_id: str, *, limit: int) -> list[AuditEntry]:
        """The user's latest ``limit`` entries, newest first."""
        if self._store is None:
            return []
        return await self._store.audit_trail(user_id, limit=limit)

    async def entries(self, user_id: str) -> AsyncIterator[AuditEntry]:
        """Every entry of the user, oldest first, a page at a time (for export)."""
        if self._store is None:
            return
        beyond: str | None = None
        while True:
            page = await self._store.audit_trail(user_id, limit=_PAGE, newest_first=False,
                                                 beyond=beyond)
            for entry in page:
                yield entry
            if len(page) < _PAGE:
                return
            beyond = page[-1].id


@contextlib.asynccontextmanager
async def open_audit(config: Config) -> AsyncIterator[AuditLog]:
    """The audit trail of ``config``'s profile store, opened for the CLI (that store alone)."""
    store = open_profile(config.profile_url,
                         keys=KeySet.from_config(config.encryption))
    await store.open()
    try:
        yield AuditLog(store)
    finally:
        await store.close()
