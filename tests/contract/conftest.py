"""One contract suite, run against every store implementation.

Each module in ``tests/contract/backends`` maps backend names to factories: a factory takes
the test's ``tmp_path`` and is an async context manager yielding an opened store on a fresh,
empty namespace derived from that path (two factories called with the same path share the
namespace, like two server processes). A backend whose service is missing skips with the
reason on a developer's machine and fails under ``CI=true`` (see ``tests/services.py``).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

import tests.contract.backends as backends
from memvault.stores.base import EpisodicStore, ProfileStore, WorkingStore

Factory = Callable[[Path], AbstractAsyncContextManager[Any]]

EPISODIC: dict[str, Factory] = {}
PROFILE: dict[str, Factory] = {}
WORKING: dict[str, Factory] = {}

for _info in pkgutil.iter_modules(backends.__path__):
    _module = importlib.import_module(f"{backends.__name__}.{_info.name}")
    EPISODIC.update(getattr(_module, "EPISODIC", {}))
    PROFILE.update(getattr(_module, "PROFILE", {}))
    WORKING.update(getattr(_module, "WORKING", {}))


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


@pytest.fixture(params=sorted(EPISODIC))
def episodic_factory(request: pytest.FixtureRequest) -> Factory:
    """For tests that open two handles on one namespace."""
    return EPISODIC[request.param]


@pytest.fixture(params=sorted(PROFILE))
def profile_factory(request: pytest.FixtureRequest) -> Factory:
    """For tests that open two handles on one profile namespace."""
    return PROFILE[request.param]
