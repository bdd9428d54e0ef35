"""Per-user API keys: made, checked and revoked here, kept by the profile store as a hash.

A key reads ``mvk_<id>_<secret>``: ``<id>`` is a 26-character time-ordered id (the key's id is
``key_<id>``, shown by ``memvault keys list`` and in the audit trail; it is no secret), and
``<secret>`` is :func:`secrets.token_urlsafe` of 32 bytes (256 random bits). The store keeps
``sha256$<salt>$<digest>``: SHA-256 over a random 16-byte salt and the secret, compared in
constant time. A salted fast hash, not a slow KDF (scrypt, argon2), because the secret is
random and high-entropy: nothing can be guessed from a digest, so stretching would buy no
safety and would cost every request CPU time (each request checks its key). The salt keeps
equal digests from ever showing equal keys.

Validity is judged on every check, from the store (no cache): a revoked or expired key is
refused at once in every process sharing the store. ``last_used_at`` is written at most once
a minute per key and process (:data:`TOUCH_EVERY`), so checks stay reads.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from memvault.config import Config
from memvault.core.audit import AuditLog
from memvault.core.ids import new_id
from memvault.core.timeutil import parse_datetime, utc_now
from memvault.core.validate import check_identifier
from memvault.errors import ConfigError, InvalidInput, MemvaultError, NotFound
from memvault.models import ApiKey, KeyScope
from memvault.stores.base import KeyStore
from memvault.stores.registry import KeySet, open_profile

__all__ = [
    "KEY_PREFIX", "SCOPES", "TOUCH_EVERY", "KeyService", "key_store", "open_keys",
    "parse_expiry",
]

log = logging.getLogger("memvault.keys")

KEY_PREFIX = "mvk_"
SCOPES: tuple[KeyScope, ...] = ("read", "write", "admin")
TOUCH_EVERY = timedelta(minutes=1)
_ID_LENGTH = 26
_KEY = re.compile(rf"{KEY_PREFIX}([0-9A-Z]{{{_ID_LENGTH}}})_([A-Za-z0-9_-]{{20,}})")
_SPAN = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _digest(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode()).digest()


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    return f"sha256${salt.hex()}${_digest(salt, secret).hex()}"


def _matches(stored: str, secret: str) -> bool:
    kind, _, rest = stored.partition("$")
    salt, _, digest = rest.partition("$")
    if kind != "sha256":
        return False
    try:
        return hmac.compare_digest(_digest(bytes.fromhex(salt), secret), bytes.fromhex(digest))
    except ValueError:
        return False


def parse_expiry(text: str, now: datetime) -> datetime:
    """``30d``, ``12h``, ``2w``, ``90m``, ``3600s`` from ``now``, or an ISO 8601 date or
    time (naive: UTC), which must lie in the future."""
    span = _SPAN.fullmatch(text.strip().lower())
    if span:
        amount = int(span.group(1))
        if amount <= 0:
            raise InvalidInput(f"expires must be a positive duration, got {text!r}")
        try:
            return now + timedelta(**{_UNITS[span.group(2)]: amount})
        except OverflowError:
            raise InvalidInput(f"expires is too far ahead: {text!r}") from None
    moment = parse_datetime(text, "expires")
    if moment <= now:
        raise InvalidInput(f"expires is in the past: {text!r}")
    return moment


def key_store(store: object) -> KeyStore:
    """``store`` as a :class:`KeyStore`; :class:`ConfigError` if it keeps no keys."""
    if not isinstance(store, KeyStore):
        raise ConfigError(f"the profile store {type(store).__name__} keeps no API keys: use "
                          "the SQLite or PostgreSQL profile store")
    return store


class KeyService:
    """Create, list, revoke and check the keys kept by ``store``."""

    def __init__(self, store: KeyStore) -> None:
        self._store = store
        self._audit = AuditLog(store)
        self._touched: dict[str, datetime] = {}

    async def create(
        self, *, user_id: str, scope: str = "write", agent_id: str | None = None,
        expires: str | datetime | None = None, name: str | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key and its text, which is shown once and never stored."""
        if scope not in SCOPES:
            raise InvalidInput(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        now = utc_now()
        if isinstance(expires, str):
            expires = parse_expiry(expires, now)
        ident = new_id()
        secret = secrets.token_urlsafe(32)
        key = ApiKey(
            id=f"key_{ident}", name=None if name is None else check_identifier(name, "name"),
            user_id=check_identifier(user_id, "user"), scope=scope,
            agent_id=None if agent_id is None else check_identifier(agent_id, "agent"),
            created_at=now, expires_at=expires,
        )
        await self._store.add_key(key, hash_secret(secret))
        await self._audit.record("key_create", key.user_id, detail={
            "key_id": key.id, "scope": key.scope, "agent_id": key.agent_id})
        return key, f"{KEY_PREFIX}{ident}_{secret}"

    async def list(self, user_id: str | None = None) -> list[ApiKey]:
        return await self._store.list_keys(user_id)

    async def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key for good (:class:`NotFound` if there is none with that id)."""
        key = await self._store.revoke_key(check_identifier(key_id, "key id"), utc_now())
        if key is None:
            raise NotFound(f"no key with id {key_id!r} (`memvault keys list` shows them)")
        await self._audit.record("key_revoke", key.user_id, detail={"key_id": key.id})
        return key

    async def check(self, text: str) -> ApiKey | None:
        """The key ``text`` is, if it is one and valid now (not revoked, not expired), else
        ``None``. Reads the store every time; raises only when the store fails."""
        parsed = _KEY.fullmatch(text.strip())
        if parsed is None:
            return None
        found = await self._store.find_key(f"key_{parsed.group(1)}")
        if found is None:
            return None
        key, stored = found
        now = utc_now()
        if not _matches(stored, parsed.group(2)) or key.revoked_at is not None:
            return None
        if key.expires_at is not None and key.expires_at <= now:
            return None
        await self._touch(key.id, now)
        return key

    async def _touch(self, key_id: str, now: datetime) -> None:
        last = self._touched.get(key_id)
        if last is not None and now - last < TOUCH_EVERY:
            return
        self._touched[key_id] = now
        try:
            await self._store.touch_key(key_id, now)
        except MemvaultError as exc:  # the key is valid; its last use is a detail
            log.warning("could not record the use of %s: %s", key_id, exc)


@contextlib.asynccontextmanager
async def open_keys(config: Config) -> AsyncIterator[KeyService]:
    """The keys of ``config``'s profile store, opened for the CLI (the store alone: no
    embedder, no other store)."""
    store = open_profile(config.profile_url,
                         keys=KeySet.from_config(config.encryption))
    await store.open()
    try:
        yield KeyService(key_store(store))
    finally:
        await store.close()
