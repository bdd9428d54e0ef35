"""The in-process working store. Namespaces are per instance, so two handles on one path
share one instance."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from memvault.stores.memory.working import InMemoryWorkingStore

_instances: dict[Path, InMemoryWorkingStore] = {}


@asynccontextmanager
async def _memory(tmp_path: Path) -> AsyncIterator[InMemoryWorkingStore]:
    store = _instances.setdefault(tmp_path, InMemoryWorkingStore())
    await store.open()
    yield store


WORKING = {"memory": _memory}
