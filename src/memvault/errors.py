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
    ├── EmbedderMismatch    the store's vectors came from another embedder
    └── StoreUnavailable    a store could not be reached or answered with a fault

``MemvaultError`` never shadows the builtin ``MemoryError``.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "EmbedderMismatch",
    "Forbidden",
    "IdempotencyConflict",
    "InvalidInput",
    "MemvaultError",
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


class StoreUnavailable(MemvaultError):
    """A store could not be reached, or failed while serving the request."""

    def __init__(self, store: str, message: str) -> None:
        super().__init__(f"{store} store unavailable: {message}")
        self.store = store
