"""The embedded SQLite stores: every role in one file per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from memvault.stores.registry import open_episodic, open_profile, open_working


def _factory(opener: Callable[[str], Any]) -> Callable[[Path], Any]:
    @asynccontextmanager
    async def factory(tmp_path: Path) -> AsyncIterator[Any]:
        store = opener(f"sqlite:///{tmp_path / 'contract.db'}")
        await store.open()
        try:
            yield store
        finally:
            await store.close()

    return factory


EPISODIC = {"sqlite": _factory(open_episodic)}
PROFILE = {"sqlite": _factory(open_profile)}
WORKING = {"sqlite": _factory(open_working)}
