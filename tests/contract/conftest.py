"""One contract suite, run against every store implementation.

Each backend is a factory that yields an opened store for a fresh, empty namespace. A backend
whose service is missing is skipped with the reason on a developer's machine and fails under
``CI=true``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from memvault.stores.base import EpisodicStore, ProfileStore, WorkingStore
from memvault.stores.registry import open_episodic, open_profile, open_working

Factory = Callable[[Path], AbstractAsyncContextManager[Any]]


def _sqlite(opener: Callable[[str], Any]) -> Factory:
    @asynccontextmanager
    async def factory(tmp_path: Path) -> AsyncIterator[Any]:
        store = opener(f"sqlite:///{tmp_path / 'contract.db'}")
        await store.open()
        try:
            yield store
        finally:
            await store.close()

    return factory


EPISODIC: dict[str, Factory] = {"sqlite": _sqlite(open_episodic)}
PROFILE: dict[str, Factory] = {"sqlite": _sqlite(open_profile)}
WORKING: dict[str, Factory] = {"sqlite": _sqlite(open_working)}


@pytest.fixture(params=sorted(EPISODIC))
async def episodic(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EpisodicStore]:
    async with EPISODIC[request.param](tmp_path) as store:
        yield store


@pytest.fixture(params=sorted(PROFILE))
async def profile(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ProfileStore]:
    async with PROFILE[request.param](tmp_path) as store:
        yield store


@pytest.fixture(params=sorted(WORKING))
async def working(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[WorkingStore]:
    async with WORKING[request.param](tmp_path) as store:
        yield store
