"""Real services for tests: skip with the reason on a developer's machine, fail under CI=true.

Every external service a test needs goes through :func:`unavailable`, so that a missing
PostgreSQL or Redis never turns into a silent skip in CI.
"""

from __future__ import annotations

import os
import socket

import pytest

__all__ = ["in_ci", "port_open", "unavailable"]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(service: str, reason: str, *, may_skip_in_ci: bool = False) -> None:
    """Skip (or, under CI, fail) the current test because ``service`` is missing."""
    message = f"{service} unavailable: {reason}"
    if in_ci() and not may_skip_in_ci:
        pytest.fail(f"{message} (CI=true: a missing service is a failure)", pytrace=False)
    pytest.skip(message)


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
