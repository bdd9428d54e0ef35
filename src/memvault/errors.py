"""Errors raised by memvault.

Every error memvault raises on purpose derives from :class:`MemvaultError`, so a caller can
catch one class. Lower-library exceptions (``sqlite3``, database drivers, HTTP clients) are
mapped at the store or embedder boundary and chained with ``raise ... from exc``::

    MemvaultError
    ├── InvalidInput        the caller's input is wrong; nothing was stored or changed
    │   ├── NotFound        an id that does not exist in the caller's scope
    │   └── IdempotencyConflict   an idempotency key already used for another request
    ├── Forbidden           the caller's credential does not allow this (another user, a
    │                       write with a read key); nothing was stored or changed
    ├── ConfigError         the configuration is wrong or names something unavailable
    │   ├── EncryptionError a missing or wrong key, or a file encrypted otherwise than configured
    │   └── EmbedderMismatch    the store's vectors came from another embedder
    ├── StoreUnavailable    a store could not be reached or answered with a fault
    │   ├── ModelUnavailable    a model server (embedder, LLM) failed or could not be reached
    │   └── IndexBuilding   a user's vector index is being built: search by words meanwhile
    └── ModelReplyInvalid   a model server's reply is not what was asked for

``MemvaultError`` never shadows the builtin ``MemoryError``.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "EmbedderMismatch",
    "EncryptionError",
    "Forbidden",
    "IdempotencyConflict",
    "IndexBuilding",
    "InvalidInput",
    "MemvaultError",
    "ModelReplyInvalid",
    "ModelUnavailable",
    "NotFound",
    "StoreUnavailable",
]


class MemvaultError(Exception):
    """Base class of every error memvault raises on purpose."""


class InvalidInput(MemvaultError, ValueError):
    """The input is invalid. The message names the field and says what to fix."""


class NotFound(InvalidInput, LookupError):
    """No such object in the caller's scope (another user's ids are reported the same way)."""


class IdempotencyConflict(InvalidInput):
    """An add reused an idempotency key of the same user with a different request."""


class Forbidden(MemvaultError, PermissionError):
    """The caller's credential does not allow the call; the message says what it lacks."""


class ConfigError(MemvaultError):
    """The configuration is invalid or names something that is not installed."""


class EmbedderMismatch(ConfigError):
    """The store holds vectors from another embedder; re-embed or configure that one."""


class EncryptionError(ConfigError):
    """A store is encrypted and no key or the wrong key is configured, or a key is configured
    and the store is not encrypted with it. Nothing stored was read or changed."""


class StoreUnavailable(MemvaultError):
    """A store could not be reached, or failed while serving the request."""

    def __init__(self, store: str, message: str) -> None:
        super().__init__(f"{store} store unavailable: {message}")
        self.store = store


class ModelUnavailable(StoreUnavailable):
    """An OpenAI-compatible model server failed, timed out or could not be reached.

    ``status`` is the HTTP status of its answer (``None`` when there was none); ``retryable``
    says whether trying again later may succeed (no answer, a timeout, 408, 409, 429, 5xx).
    """

    def __init__(self, what: str, message: str, *, status: int | None = None) -> None:
        MemvaultError.__init__(self, f"{what} unavailable: {message}")
        self.store = what
        self.status = status
        self.retryable = status is None or status in (408, 409, 429) or status >= 500


class IndexBuilding(StoreUnavailable):
    """A user's vector index is being built in the background; vector search answers again
    once it is. ``done`` of ``total`` rows are in it so far. Search goes on by words."""

    def __init__(self, store: str, done: int, total: int) -> None:
        super().__init__(store, f"the vector index is being built ({done:,} of {total:,} "
                                "vectors)")
        self.done = done
        self.total = total


class ModelReplyInvalid(MemvaultError):
    """A model server answered, but not with what was asked for: not JSON, not the schema,
    or longer than allowed."""
