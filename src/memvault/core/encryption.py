"""Encrypting the stores that exist: what ``memvault encrypt`` and ``memvault rekey`` do.

Whole-file encryption (the SQLite store) is converted file by file, crash-safe, with every
store closed (:func:`memvault.stores.registry.reencrypt_file`). Field encryption (server
stores) is re-encrypted by each store that has fields to (:class:`FieldRekeying`), in
batches, while servers keep serving: each value is read under whichever configured key sealed
it, so old and new values are readable throughout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Literal, Protocol, cast, runtime_checkable

import anyio.to_thread

from memvault.config import Config
from memvault.errors import ConfigError, StoreUnavailable
from memvault.stores.registry import (
    KeySet,
    check_file_keys,
    is_file_store,
    open_episodic,
    open_profile,
    reencrypt_file,
    store_files,
)

if TYPE_CHECKING:
    from memvault.stores.base import EpisodicStore, ProfileStore

__all__ = ["FieldRekeying", "KeyChecking", "check_keys", "keys_of", "reencrypt_files",
           "rekey_fields"]

log = logging.getLogger("memvault.serve")


@runtime_checkable
class KeyChecking(Protocol):
    """A store that can tell, before serving, whether the configured keys open what it holds
    sealed (:func:`check_keys`)."""

    async def check_keys(self) -> None:
        """Raise :class:`~memvault.errors.EncryptionError` (one line) if they do not."""
        ...


@runtime_checkable
class FieldRekeying(Protocol):
    """A store whose values are sealed one by one (:class:`memvault.stores.crypto.FieldCipher`)."""

    async def fields_to_rekey(self) -> int:
        """How many stored values are not yet sealed under the current key."""
        ...

    async def rekey_fields(self, *, batch: int, progress: Callable[[int], None]) -> int:
        """Seal every value under the current key, ``batch`` values per transaction, calling
        ``progress`` with each batch's size; the number re-sealed."""
        ...


def keys_of(config: Config) -> KeySet:
    keys = KeySet.from_config(config.encryption)
    if keys is None:
        raise ConfigError("no encryption key is configured: give MEMVAULT_ENCRYPTION_KEY, "
                          "MEMVAULT_ENCRYPTION_KEY_FILE, --encryption-key-file or "
                          "MEMVAULT_ENCRYPTION_KEYRING")
    return keys


def _urls(config: Config) -> list[str]:
    return [config.episodic_url, config.profile_url, config.working_url]


async def check_keys(config: Config, *, timeout: float = 10.0) -> None:
    """Refuse, before a server takes its first request, a configuration whose stores its
    keys cannot read: a key file that cannot be read, a key too short, a SQLite file
    encrypted without a key configured, or under another key, or plain with one
    (:class:`~memvault.errors.EncryptionError` or :class:`ConfigError`, one line naming the
    key setting); and server stores whose sealed values are under a key not configured (or
    sealed while no key is), from a sample (:class:`KeyChecking`). A server store that does
    not answer within ``timeout`` seconds is not waited for: the server then retries it."""
    keys = KeySet.from_config(config.encryption)
    await anyio.to_thread.run_sync(check_file_keys, _urls(config), keys)
    # A SQLite file is checked above; its store, not built, leaves its backend unimported
    # until the server opens it (after it has answered the MCP handshake).
    stores: list[EpisodicStore | ProfileStore] = []
    if not is_file_store(config.episodic_url):
        stores.append(open_episodic(config.episodic_url, search=config.search, keys=keys,
                                    encrypt_content=config.encryption.encrypt_content))
    if not is_file_store(config.profile_url):
        stores.append(open_profile(config.profile_url, keys=keys))
    for store in stores:
        if not isinstance(store, KeyChecking):
            continue
        try:
            with anyio.fail_after(timeout):
                await store.open()
                try:
                    await cast(KeyChecking, store).check_keys()
                finally:
                    with anyio.CancelScope(shield=True):
                        await store.close()
        except (StoreUnavailable, TimeoutError) as exc:
            log.warning("could not check the encryption keys against a store now: %s", exc)


def reencrypt_files(config: Config, mode: Literal["encrypt", "rekey"],
                    pause: Callable[[str], None] = lambda step: None) -> list[str]:
    """Encrypt (or re-encrypt under the current key) every SQLite file of the configuration;
    one line per file saying what was done. Servers using the files must be stopped."""
    keys = keys_of(config)
    return [reencrypt_file(path, keys, mode, pause) for path in store_files(_urls(config))]


async def rekey_fields(config: Config, *, batch: int = 500,
                       start: Callable[[int], None] = lambda total: None,
                       progress: Callable[[int], None] = lambda done: None) -> int:
    """Re-seal under the current key every field of the server stores that seal fields;
    ``start`` is told how many values there are to do before the first batch."""
    keys = keys_of(config)
    stores: list[EpisodicStore | ProfileStore] = [
        open_episodic(config.episodic_url, search=config.search, keys=keys,
                      encrypt_content=config.encryption.encrypt_content),
        open_profile(config.profile_url, keys=keys),
    ]
    rekeying = [cast(FieldRekeying, s) for s in stores if isinstance(s, FieldRekeying)]
    done = 0
    async with AsyncExitStack() as stack:
        for store in stores:
            if isinstance(store, FieldRekeying):
                await cast("EpisodicStore | ProfileStore", store).open()
                stack.push_async_callback(cast("EpisodicStore | ProfileStore", store).close)
        start(sum([await store.fields_to_rekey() for store in rekeying]))
        for one in rekeying:
            done += await one.rekey_fields(batch=batch, progress=progress)
    return done
