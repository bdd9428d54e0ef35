"""memvault: a local-first memory layer for AI agents, served over MCP.

The public surface is listed in ``__all__``; everything else may change.
"""

from __future__ import annotations

from memvault.__version__ import __version__
from memvault.config import Config, EmbedderConfig
from memvault.core.memvault import Memvault
from memvault.errors import (
    ConfigError,
    EmbedderMismatch,
    IdempotencyConflict,
    InvalidInput,
    MemvaultError,
    NotFound,
    StoreUnavailable,
)
from memvault.interfaces.facade import AsyncMemoryLayer, MemoryLayer
from memvault.interfaces.sdk import SyncMemvault
from memvault.models import (
    AddOutcome,
    DeleteReport,
    Memory,
    MemoryInput,
    MemoryPage,
    MemoryVersion,
    Profile,
    ProfileFact,
    SearchHit,
    SearchResult,
)

__all__ = [
    "AddOutcome",
    "AsyncMemoryLayer",
    "Config",
    "ConfigError",
    "DeleteReport",
    "EmbedderConfig",
    "EmbedderMismatch",
    "IdempotencyConflict",
    "InvalidInput",
    "Memory",
    "MemoryInput",
    "MemoryLayer",
    "MemoryPage",
    "MemoryVersion",
    "Memvault",
    "MemvaultError",
    "NotFound",
    "Profile",
    "ProfileFact",
    "SearchHit",
    "SearchResult",
    "StoreUnavailable",
    "SyncMemvault",
    "__version__",
]
