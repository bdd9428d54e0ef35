"""Real services for tests: skip with the reason on a developer's machine, fail under CI=true.

Every external service a test needs goes through :func:`unavailable`, so that a missing
PostgreSQL or Redis never turns into a silent skip in CI. :class:`ServerProcess` runs a
private server as a child process on a free loopback port (``redis-server``, FalkorDB).
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import pytest

__all__ = ["ServerProcess", "free_port", "in_ci", "port_open", "running", "unavailable"]

S = TypeVar("S", bound="ServerProcess")


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


def free_port() -> int:
    """A loopback port nothing listens on right now (another process may take it first)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A server child process on a fixed free loopback port, which can be killed and started
    again on that port.

    A subclass names the server (:attr:`name`) and gives its command line (:meth:`command`).
    The server counts as up once its output has a line holding :attr:`ready_line`; nothing
    sleeps for a fixed time, and every wait is bounded by :attr:`deadline`.
    """

    name = "server"
    ready_line = "Ready to accept connections"
    deadline = 30.0

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self._pump: threading.Thread | None = None

    def command(self) -> list[str]:
        """The command line that starts the server on :attr:`host` and :attr:`port`."""
        raise NotImplementedError

    def start(self) -> None:
        """Start the server and wait until it is ready; ``RuntimeError`` with the end of its
        output if it is not within :attr:`deadline`."""
        if self.process is not None:
            raise RuntimeError(f"{self.name} is already running")
        process = subprocess.Popen(self.command(), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        ready = threading.Event()

        def pump() -> None:  # also keeps draining the log so the server never blocks on it
            assert process.stdout is not None
            for line in process.stdout:
                self.output.append(line)
                if self.ready_line in line:
                    ready.set()
            ready.set()  # the server exited

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        self.process = process
        if not ready.wait(self.deadline) or process.poll() is not None:
            self.stop()
            raise RuntimeError(
                f"{self.name} did not start on port {self.port}:\n" + "".join(self.output[-20:])
            )

    def stop(self) -> None:
        """Kill the server (no shutdown, like a crash) and wait until it is gone."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(timeout=self.deadline)
        if self._pump is not None:
            self._pump.join(timeout=self.deadline)
        self.process = None


@contextmanager
def running(server: S) -> Iterator[S]:
    """``server`` started for the block (the test fails if it will not start), then killed."""
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
