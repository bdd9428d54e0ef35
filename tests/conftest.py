"""Shared fixtures: the anyio backend and small builders of test data."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
