"""Identifiers: time-ordered, URL-safe, 26 characters (ULID layout, Crockford base32)."""

from __future__ import annotations

import hashlib
import os
import threading
import time

__all__ = ["derived_id", "new_id", "stable_id"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last = (0, 0)


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id() -> str:
    """A new id; ids made later in one process sort after earlier ones."""
    global _last
    with _lock:
        millis = time.time_ns() // 1_000_000
        last_millis, last_random = _last
        if millis <= last_millis:
            millis, rand = last_millis, last_random + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 1
        _last = (millis, rand)
    return _encode(millis, 10) + _encode(rand, 16)


def derived_id(base: str, name: str) -> str:
    """The id of the thing called ``name`` that belongs to ``base`` (a profile fact of a
    memory): always the same for the same pair, and sorting where ``base``'s time part does."""
    digest = hashlib.blake2b(f"{base}\x00{name}".encode("utf-8", "surrogatepass"),
                             digest_size=10).digest()
    return base[:10] + _encode(int.from_bytes(digest, "big") >> 1, 16)


def stable_id(millis: int, name: str) -> str:
    """An id always the same for the same ``name``, sorting at ``millis`` (ms since the
    epoch, clamped to what the id's time part holds): for records imported again."""
    digest = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=10).digest()
    return _encode(min(max(millis, 0), 2**50 - 1), 10) + _encode(
        int.from_bytes(digest, "big") >> 1, 16)
