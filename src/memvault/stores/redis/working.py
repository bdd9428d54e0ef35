"""Working memory in Redis, shared by every server replica:
``redis://host:port/db?prefix=memvault`` (``rediss://`` for TLS).

Keys. ``prefix`` (default ``memvault``; 1 to 64 letters, digits or ``_ . : -``) namespaces
every key and is removed from the URL before connecting; the other query parameters go to
redis-py. Per user and session::

    <prefix>:wm:{<user>}:s:<session>   LIST of the session's turns, oldest first, each the
                                       Memory as JSON; expires ttl_seconds after the last push
    <prefix>:wm:{<user>}:sessions      ZSET of the user's session ids, each scored with its
                                       expiry (ms, Redis' clock); expires with the last session

``%``, ``:``, ``{`` and ``}`` in ids are percent-escaped, so two ids never share a key, and
the user part is a hash tag, so a user's keys share one cluster slot.

Atomicity. Every write is one Lua script. A push appends the turn (RPUSH), drops the oldest
beyond ``max_turns`` (LTRIM), restarts the session's expiry (PEXPIRE) and records the session
in the user's index (ZADD) in one step: replicas pushing to one session at once lose no turn
and never leave more than ``max_turns``. ``delete`` and ``clear`` read the user's index, then
one script removes the matching turns of those sessions (decoding each turn with cjson to
match an id or ``agent_id``) and drops the index entries of sessions that no longer exist; a
session created between the two steps is left alone, as if it came after the clear. The index
is cleaned lazily (expired entries on every push, vanished sessions on every delete and
clear); nothing scans the keyspace, and every value travels as a script argument. Needs
Redis 5 or later (scripts that read the server clock before writing).

TTL. A session's list expires ``ttl_seconds`` after its last push, by Redis' own expiry; a
push with a TTL of zero (or a ``max_turns`` of zero) deletes the session.

Outage fallback. When Redis cannot be reached (refused or lost connection, timeout, server
loading, read-only replica) the store logs one warning per outage, naming host and port, and
serves working memory from an in-process :class:`~memvault.stores.cache.TurnCache` (the cache
behind the ``memory://`` store). ``open()`` does not
fail because Redis is down, and ``status()`` reports ``ok=False``, "unreachable, using
in-process fallback". While Redis is down:

* turns pushed live only in this process: other replicas do not see them, and the turns
  Redis held before the outage are not read; ``clear`` counts only this process's turns;
* Redis is tried again on a later call once a backoff window has passed (0.5 s at first,
  doubling up to 10 s while it stays down).

When Redis answers again the store first replays against it the deletes and clears made
during the outage (so nothing forgotten comes back), then copies the outage's turns that are
still live into Redis (after the turns already there, skipping exact duplicates, with the TTL
they have left) and empties the fallback, and logs that Redis is back. If the process stops
before that, its outage turns are lost from working memory; the episodic store keeps every
memory. A wrong password or missing permission at ``open()``, and any other Redis error,
raise :class:`~memvault.errors.StoreUnavailable`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    NoPermissionError,
    ReadOnlyError,
    RedisError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from memvault.errors import ConfigError, InvalidInput, StoreUnavailable
from memvault.models import Memory, StoreStatus
from memvault.stores.cache import TurnCache
from memvault.stores.codec import decode_text, memory_from_json, session_of

__all__ = ["DEFAULT_PREFIX", "RedisWorkingStore"]

log = logging.getLogger("memvault.stores.redis")

DEFAULT_PREFIX: Final = "memvault"
FALLBACK_DETAIL: Final = "unreachable, using in-process fallback"

_PREFIX = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
# Errors meaning "Redis is not there right now": serve from the in-process fallback.
_OUTAGE: Final = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError)
# Redis is there but turns us away: a configuration problem, reported at open().
_REFUSED: Final = (AuthenticationError, AuthorizationError, NoPermissionError)

T = TypeVar("T")
Mode = Literal["all", "id", "agent_id"]

# KEYS[1] the session's list, KEYS[2] the user's index.
# ARGV[1] session id, ARGV[2] max turns, ARGV[3] TTL in ms (integers as strings),
# ARGV[4] "1" to skip turns already in the list, ARGV[5..] the turns' JSON, oldest first.
_APPEND: Final = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local max_turns = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
if ttl <= 0 or max_turns <= 0 then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
local present = {}
if ARGV[4] == '1' then
  for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do present[item] = true end
end
for i = 5, #ARGV do
  if not present[ARGV[i]] then
    redis.call('RPUSH', KEYS[1], ARGV[i])
    present[ARGV[i]] = true
  end
end
redis.call('LTRIM', KEYS[1], '-' .. ARGV[2], -1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return redis.call('LLEN', KEYS[1])
"""

# KEYS[1] the user's index, KEYS[2..] session lists; ARGV[i + 1] is the id of KEYS[i]'s session.
# ARGV[1] "all" (every turn), "id" or "agent_id" (turns whose field equals ARGV[2]).
# Returns how many turns were removed; sessions left empty leave the index.
_FORGET: Final = """
local mode, value = ARGV[1], ARGV[2]
local removed = 0
for i = 2, #KEYS do
  local key = KEYS[i]
  if mode == 'all' then
    removed = removed + redis.call('LLEN', key)
    redis.call('DEL', key)
  else
    for _, item in ipairs(redis.call('LRANGE', key, 0, -1)) do
      local ok, turn = pcall(cjson.decode, item)
      if ok and type(turn) == 'table' and turn[mode] == value then
        removed = removed + redis.call('LREM', key, 0, item)
      end
    end
  end
  if redis.call('EXISTS', key) == 0 then redis.call('ZREM', KEYS[1], ARGV[i + 1]) end
end
return removed
"""


def _one_retry() -> Retry:
    """Retry a command once, at once, on a connection error: a pooled connection can be dead
    after a Redis restart the store did not notice. Timeouts are not retried (the command may
    have run), and an outage costs one extra refused connect before the fallback takes over."""
    return Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))


class _UseFallback(Exception):
    """Redis is down: serve this call from the in-process fallback."""


@dataclass
class _OutageSession:
    """A session pushed to the fallback: how to copy it back to Redis."""

    max_turns: int
    ttl_seconds: float
    last_push: float  # time.monotonic()


@dataclass(frozen=True)
class _Forget:
    """A delete or clear made during an outage, replayed against Redis when it is back."""

    user_id: str
    mode: Mode
    value: str
    session_id: str | None


def _escape(value: str) -> str:
    return (value.replace("%", "%25").replace(":", "%3A")
            .replace("{", "%7B").replace("}", "%7D"))


def _strings(values: Iterable[object]) -> list[str]:
    """Redis replies as text (the client decodes them; bytes only if configured otherwise)."""
    return [decode_text(v) if isinstance(v, bytes) else str(v) for v in values]


def _ms(seconds: float) -> int:
    if not math.isfinite(seconds):
        raise InvalidInput(f"ttl_seconds must be finite, got {seconds}")
    return max(0, math.ceil(seconds * 1000))


def parse_url(url: str) -> tuple[str, str, str]:
    """``(prefix, url to connect to, "host:port/db")`` of a ``redis://`` or ``rediss://`` URL."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"redis", "rediss"}:
        raise ConfigError(f"not a redis:// or rediss:// URL: {parts.scheme}://")
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefixes = [value for name, value in query if name == "prefix"]
    prefix = prefixes[-1] if prefixes else DEFAULT_PREFIX
    if not _PREFIX.fullmatch(prefix):
        raise ConfigError(
            f"the Redis URL's prefix {prefix!r} must be 1 to 64 letters, digits or _ . : -"
        )
    rest = [(name, value) for name, value in query if name != "prefix"]
    connect_url = urlunsplit(parts._replace(query=urlencode(rest)))
    try:
        port = parts.port or 6379
    except ValueError as exc:
        raise ConfigError(f"the Redis URL's port is invalid: {exc}") from exc
    host = parts.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    db = parts.path.strip("/") or dict(rest).get("db", "0")
    return prefix, connect_url, f"{host}:{port}/{db}"


class RedisWorkingStore:
    """Working memory in Redis with an in-process fallback (see the module docstring and
    :class:`memvault.stores.base.WorkingStore`)."""

    def __init__(self, url: str, *, retry_min: float = 0.5, retry_max: float = 10.0) -> None:
        self.url = url
        self.prefix, connect_url, self.location = parse_url(url)
        try:
            self._client = aioredis.Redis.from_url(
                connect_url, decode_responses=True, encoding_errors="replace",
                socket_connect_timeout=2.0,
                socket_timeout=5.0, retry=_one_retry(),
            )
        except ValueError as exc:
            raise ConfigError(f"invalid Redis URL for {self.location}: {exc}") from exc
        self._append = self._client.register_script(_APPEND)
        self._forget = self._client.register_script(_FORGET)
        self._fallback = TurnCache()
        self._retry_min = retry_min
        self._retry_max = retry_max
        self._down = False
        self._backoff = retry_min
        self._retry_at = 0.0
        self._recovery = asyncio.Lock()
        self._outage_sessions: dict[tuple[str, str], _OutageSession] = {}
        self._forgets: list[_Forget] = []

    # -- keys --------------------------------------------------------------------------------

    def _user_key(self, user_id: str) -> str:
        return f"{self.prefix}:wm:{{{_escape(user_id)}}}"

    def _session_key(self, user_id: str, session_id: str) -> str:
        return f"{self._user_key(user_id)}:s:{_escape(session_id)}"

    def _index_key(self, user_id: str) -> str:
        return f"{self._user_key(user_id)}:sessions"

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        try:
            await self._client.ping()
        except _REFUSED as exc:
            raise StoreUnavailable(
                "working", f"Redis at {self.location} refused the connection: {exc}"
            ) from exc
        except _OUTAGE as exc:
            self._mark_down(exc)
        except RedisError as exc:
            raise self._unavailable(exc) from exc

    async def close(self) -> None:
        await self._client.aclose()

    async def status(self) -> StoreStatus:
        def report(ok: bool, detail: str) -> StoreStatus:
            return StoreStatus(role="working", backend="redis", location=self.location, ok=ok,
                               detail=detail)

        if await self._use_redis():
            try:
                await self._client.ping()
            except _OUTAGE as exc:
                self._mark_down(exc)
            except RedisError as exc:  # reported, not raised: this is a health check
                return report(False, str(exc))
            else:
                return report(True, f"reachable, key prefix {self.prefix!r}")
        return report(False, FALLBACK_DETAIL)

    # -- the WorkingStore operations ---------------------------------------------------------

    async def push(self, memory: Memory, *, max_turns: int, ttl_seconds: float) -> None:
        user_id, session_id = memory.user_id, session_of(memory)
        ttl_ms = _ms(ttl_seconds)
        payload = memory.model_dump_json()
        try:
            await self._redis(lambda: self._append_turns(
                user_id, session_id, [payload], max_turns=max_turns, ttl_ms=ttl_ms, dedupe=False))
        except _UseFallback:
            self._fallback.push(memory, max_turns=max_turns, ttl_seconds=ttl_seconds)
            self._outage_sessions[(user_id, session_id)] = _OutageSession(
                max_turns, ttl_seconds, time.monotonic())

    async def recent(self, user_id: str, session_id: str, *, limit: int) -> list[Memory]:
        if limit <= 0:
            return []
        key = self._session_key(user_id, session_id)

        async def read() -> list[str]:
            return _strings(await self._client.lrange(key, -limit, -1))

        try:
            items = await self._redis(read)
        except _UseFallback:
            return self._fallback.recent(user_id, session_id, limit=limit)
        turns = []
        for item in reversed(items):
            turn = memory_from_json(item)
            if turn is None:
                log.warning("skipping an unreadable turn in Redis key %s", key)
            else:
                turns.append(turn)
        return turns

    async def delete(self, user_id: str, memory_id: str) -> None:
        await self._forget_or_record(_Forget(user_id, "id", memory_id, None))

    async def clear(
        self, user_id: str, *, session_id: str | None = None, agent_id: str | None = None
    ) -> int:
        if agent_id is not None:
            return await self._forget_or_record(_Forget(user_id, "agent_id", agent_id, session_id))
        return await self._forget_or_record(_Forget(user_id, "all", "", session_id))

    # -- Redis -------------------------------------------------------------------------------

    async def _append_turns(self, user_id: str, session_id: str, payloads: Sequence[str], *,
                            max_turns: int, ttl_ms: int, dedupe: bool) -> None:
        await self._append(
            keys=[self._session_key(user_id, session_id), self._index_key(user_id)],
            args=[session_id, str(int(max_turns)), str(ttl_ms), "1" if dedupe else "0",
                  *payloads],
        )

    async def _forget_turns(self, forget: _Forget) -> int:
        index = self._index_key(forget.user_id)
        if forget.session_id is not None:
            sessions = [forget.session_id]
        else:
            sessions = _strings(await self._client.zrange(index, 0, -1))
        if not sessions:
            return 0
        keys = [index, *(self._session_key(forget.user_id, s) for s in sessions)]
        removed: Any = await self._forget(keys=keys, args=[forget.mode, forget.value, *sessions])
        return int(removed)

    async def _forget_or_record(self, forget: _Forget) -> int:
        try:
            return await self._redis(lambda: self._forget_turns(forget))
        except _UseFallback:
            if forget not in self._forgets:
                self._forgets.append(forget)
            if forget.mode == "id":
                self._fallback.delete(forget.user_id, forget.value)
                return 0
            return self._fallback.clear(
                forget.user_id, session_id=forget.session_id,
                agent_id=forget.value if forget.mode == "agent_id" else None,
            )

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable("working", f"Redis at {self.location}: {exc}")

    async def _redis(self, op: Callable[[], Awaitable[T]]) -> T:
        """Run ``op`` against Redis, or raise :class:`_UseFallback` if Redis is down."""
        if not await self._use_redis():
            raise _UseFallback
        try:
            return await op()
        except _OUTAGE as exc:
            self._mark_down(exc)
            raise _UseFallback from exc
        except RedisError as exc:
            raise self._unavailable(exc) from exc

    # -- outages -----------------------------------------------------------------------------

    async def _use_redis(self) -> bool:
        """Whether this call goes to Redis; tries to get Redis back once the backoff window is
        over. Calls that arrive while a recovery runs wait for it."""
        if not self._down:
            return True
        if time.monotonic() < self._retry_at and not self._recovery.locked():
            return False
        async with self._recovery:
            if self._down and time.monotonic() >= self._retry_at:
                await self._recover()
        return not self._down

    def _mark_down(self, exc: BaseException) -> None:
        if self._down:
            return
        self._down = True
        self._backoff = self._retry_min
        self._retry_at = time.monotonic() + self._backoff
        log.warning(
            "Redis at %s is unreachable (%s); working memory uses the in-process fallback "
            "until it is back", self.location, str(exc) or type(exc).__name__,
        )

    async def _recover(self) -> None:
        try:
            await self._client.ping()
            copied = await self._replay()
        except (RedisError, OSError) as exc:
            self._backoff = min(self._backoff * 2, self._retry_max)
            self._retry_at = time.monotonic() + self._backoff
            if isinstance(exc, _OUTAGE):
                log.debug("Redis at %s still unreachable: %s", self.location, exc)
            else:
                log.warning("Redis at %s answers but copying the outage's changes back "
                            "failed; still using the in-process fallback: %s",
                            self.location, exc)
            return
        self._down = False
        self._backoff = self._retry_min
        log.info("Redis at %s is reachable again; working memory is back in Redis "
                 "(%d turns copied from the in-process fallback)", self.location, copied)

    async def _replay(self) -> int:
        """Apply the outage's deletes and clears to Redis, then copy its live turns there;
        each step is dropped from the backlog once done, so a failure resumes where it was."""
        while self._forgets:
            await self._forget_turns(self._forgets[0])
            self._forgets.pop(0)
        copied = 0
        for key in list(self._outage_sessions):
            user_id, session_id = key
            entry = self._outage_sessions[key]
            turns = self._fallback.recent(user_id, session_id, limit=entry.max_turns)
            left = entry.ttl_seconds - (time.monotonic() - entry.last_push)
            if turns and left > 0:
                await self._append_turns(
                    user_id, session_id, [t.model_dump_json() for t in reversed(turns)],
                    max_turns=entry.max_turns, ttl_ms=_ms(left), dedupe=True,
                )
                copied += len(turns)
            self._fallback.clear(user_id, session_id=session_id)
            del self._outage_sessions[key]
        return copied
