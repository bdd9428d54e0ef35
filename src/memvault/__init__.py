"""memvault: a local-first memory layer for AI agents, served over MCP.

The public surface is listed in ``__all__``; everything else may change. Its names are
imported on first use, so importing a submodule (``memvault serve`` imports the CLI) does
not load the whole core.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from memvault.__version__ import __version__

if TYPE_CHECKING:
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

_HOMES = {
    "memvault.config": ("Config", "EmbedderConfig"),
    "memvault.core.memvault": ("Memvault",),
    "memvault.errors": ("ConfigError", "EmbedderMismatch", "IdempotencyConflict",
                        "InvalidInput", "MemvaultError", "NotFound", "StoreUnavailable"),
    "memvault.interfaces.facade": ("AsyncMemoryLayer", "MemoryLayer"),
    "memvault.interfaces.sdk": ("SyncMemvault",),
    "memvault.models": ("AddOutcome", "DeleteReport", "Memory", "MemoryInput", "MemoryPage",
                        "MemoryVersion", "Profile", "ProfileFact", "SearchHit", "SearchResult"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use; or a subpackage (``core``),
    as when the names were imported eagerly."""
    module = _HOME_OF.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}"):
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
