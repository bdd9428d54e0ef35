"""One SQLite connection per store, used from worker threads.

WAL mode lets several processes (each MCP host starts its own server) read and write one
file. Writes take the write lock up front (``BEGIN IMMEDIATE``) so a transaction never has to
upgrade a read lock, which is what makes SQLite report "database is locked" in WAL mode; a
busy file is retried with backoff well past any realistic write, and only then reported as
:class:`StoreUnavailable`.

A file holding another application's tables (no memvault migration record) is refused when
opened, before anything (WAL mode included) is written to it
(:mod:`memvault.stores.sqlite.ownership`).

With :class:`~memvault.stores.crypto.KeySet` keys the file is encrypted as a whole
(:mod:`memvault.stores.sqlite.cipher`); the connection then comes from SQLCipher, whose
DB-API module behaves as ``sqlite3`` does, and its exceptions are caught instead.

Within one process the stores of one file (episodic, profile, working) have a connection each
and share one write gate (:func:`_write_gate`): a write waits on it for the other's
transaction to end instead of finding the file locked and backing off in SQLite's busy
handler, whose sleeps (1, 2, 5 ms, ...) used to add milliseconds to an add whenever a
background writer (vectors, extraction, upkeep) held the file.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, TypeVar
from urllib.parse import unquote, urlparse

import anyio.to_thread

from memvault.config import default_database_path
from memvault.errors import ConfigError, MemvaultError, StoreUnavailable
from memvault.models import StoreStatus
from memvault.stores.codec import decode_text
from memvault.stores.crypto import KeySet
from memvault.stores.migrations import Migration, pending
from memvault.stores.registry import is_path
from memvault.stores.sqlite import cipher, ownership

__all__ = ["SqliteDatabase", "path_from_url"]

T = TypeVar("T")

_BUSY_TIMEOUT_MS = 5_000
#: The release that fixed the WAL-reset bug (https://sqlite.org/wal.html#walresetbug).
_WAL_RESET_FIXED = (3, 51, 3)
_OPEN_ATTEMPTS = 5
_RETRY_FOR_SECONDS = 60.0

_gates: weakref.WeakValueDictionary[str, _Gate] = weakref.WeakValueDictionary()
_gates_lock = threading.Lock()


class _Gate:
    """A lock that can be weakly referenced (``threading.Lock`` cannot)."""

    __slots__ = ("__weakref__", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()


def _write_gate(path: Path) -> _Gate:
    """The process's write gate of the file at ``path``, shared while anyone holds it."""
    key = str(path.expanduser().resolve())
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = _Gate()
        return gate


def path_from_url(url: str) -> Path:
    """``sqlite:///relative.db``, ``sqlite:////abs/path.db`` or a plain path → a Path."""
    if is_path(url):
        return Path(url).expanduser()
    parsed = urlparse(url)
    if parsed.scheme != "sqlite":
        raise ConfigError(f"not a SQLite URL: {url!r} (expected sqlite:///path/to/file.db)")
    if parsed.netloc not in ("", "localhost"):
        raise ConfigError(f"a SQLite URL names no host: {url!r} (use sqlite:///path)")
    raw = unquote(parsed.path)
    # sqlite:///x.db → path "/x.db" is relative "x.db"; sqlite:////abs → "//abs" is "/abs".
    path = raw[1:] if raw.startswith("/") else raw
    if not path:
        raise ConfigError(f"the SQLite URL names no file: {url!r}")
    return Path(path).expanduser()


def _is_default_directory(directory: Path) -> bool:
    """Whether ``directory`` is the default data directory, the only one made when missing."""
    return directory.resolve() == default_database_path().parent.resolve()


def _is_busy(exc: Exception) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class SqliteDatabase:
    """A connection to one SQLite file with numbered migrations per component.

    All access goes through :meth:`read` and :meth:`write`, which run the given function in a
    worker thread holding this object's lock, and :meth:`read_aside`, which reads on a second
    connection with a lock of its own.
    """

    def __init__(self, path: Path, role: str, keys: KeySet | None = None) -> None:
        self.path = path
        self.role = role
        self.keys = keys
        self._lock = threading.Lock()
        self._gate = _write_gate(path)
        self._conn: sqlite3.Connection | None = None
        self._driver: ModuleType = sqlite3
        self._aside_lock = threading.Lock()
        self._aside: sqlite3.Connection | None = None

    def _connect(self, *, wal: bool = True) -> sqlite3.Connection:
        """A new connection; ``wal`` also puts the file in WAL mode (a second connection
        finds it so: the mode is kept in the file)."""
        self._make_directory()
        attempt = 0
        while True:
            try:
                return self._connect_once(wal=wal)
            except self._errors("OperationalError") as exc:
                # Opening while another process closes the file's last connection (and
                # removes its WAL files) can fail with an I/O error: open it again.
                if "disk i/o" not in str(exc).lower() or attempt >= _OPEN_ATTEMPTS:
                    raise
                attempt += 1
                time.sleep(0.01 * attempt * (1 + random.random()))

    def _connect_once(self, *, wal: bool) -> sqlite3.Connection:
        try:
            raw, self._driver = cipher.connect(self.path, self.keys, self.role,
                                               _BUSY_TIMEOUT_MS / 1000)
        except MemvaultError:
            raise
        except Exception as exc:  # sqlite3's or SQLCipher's error, or an OSError
            raise StoreUnavailable(self.role, f"cannot open {self.path}: {exc}") from exc
        conn: sqlite3.Connection = raw
        conn.row_factory = self._driver.Row
        conn.text_factory = decode_text  # stored text that is not UTF-8 still reads
        try:
            conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            if wal:  # another application's database is refused before WAL mode is set
                self._retry(lambda: ownership.refuse_foreign(conn, self.path))
                self._retry(lambda: conn.execute("PRAGMA journal_mode=WAL"))
            else:  # read once, so that opening the WAL files fails here if it fails
                self._retry(lambda: conn.execute("SELECT 1 FROM sqlite_master LIMIT 1"))
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            # Searches tokenize query words in a temporary table: keep it off the disk.
            conn.execute("PRAGMA temp_store=MEMORY")
        except BaseException:
            cipher.close(conn)
            raise
        return conn

    def _make_directory(self) -> None:
        """Create the default data directory; any other missing directory is a mistyped
        path, refused instead of created."""
        parent = self.path.parent
        if parent.exists():
            return
        if not _is_default_directory(parent):
            raise ConfigError(
                f"the directory {parent} does not exist (the {self.role} store's database is "
                f"{self.path}): create it, or fix the path"
            )
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(self.role, f"cannot create {parent}: {exc}") from exc

    def missing(self, role: Literal["episodic", "profile", "working"]) -> StoreStatus | None:
        """``role``'s status while the file does not exist or is empty (0 bytes), which
        :meth:`open` would make a store of; ``None`` otherwise: an in-memory database, and a
        file in a missing directory other than the default one, which :meth:`open` refuses.
        Only stats: nothing is created, not even the directory."""
        if str(self.path) == ":memory:":
            return None
        parent = self.path.parent
        if not parent.exists() and not _is_default_directory(parent):
            return None
        try:
            if self.path.stat().st_size > 0:
                return None
            what = "is empty"
        except FileNotFoundError:
            what = "does not exist yet"
        except OSError:  # not a directory on the way, no permission: opening says so
            return None
        return StoreStatus(role=role, backend="sqlite", location=str(self.path), ok=True,
                           detail=f"the file {what}: the store is created on first use")

    async def open(self, component: str, migrations: Sequence[Migration]) -> None:
        """Connect (on the first call) and apply ``component``'s pending ``migrations``,
        each recorded in ``schema_migrations`` in the transaction that applies it.

        Raises :class:`ConfigError` before anything is written to the file when it holds
        another application's schema (:mod:`~memvault.stores.sqlite.ownership`; an empty
        file becomes a store) or was migrated by a newer memvault."""

        def _open() -> None:
            fresh = self._conn is None
            if self._conn is None:
                self._conn = self._connect()
            try:
                self._transaction(lambda conn: self._migrate(conn, component, migrations))
            except BaseException:
                if fresh and self._conn is not None:  # not left open for nobody to close
                    cipher.close(self._conn)
                    self._conn = None
                raise

        await anyio.to_thread.run_sync(self._locked, _open)

    async def close(self) -> None:
        def _close() -> None:
            if self._conn is not None:
                cipher.close(self._conn)
                self._conn = None

        def _close_aside() -> None:
            with self._aside_lock:
                if self._aside is not None:
                    cipher.close(self._aside)
                    self._aside = None

        await anyio.to_thread.run_sync(self._locked, _close)
        await anyio.to_thread.run_sync(_close_aside)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await anyio.to_thread.run_sync(self._locked, lambda: self._retry(
            lambda: fn(self._connection())))

    async def read_aside(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """:meth:`read` on a second connection (opened on first use), so that it runs beside
        the first connection's reads and writes instead of after them: a search's vector
        stage while its lexical stage runs. Every call of one kind should take the same
        door, since each door serialises only its own calls. An in-memory database has one
        connection only (a second would be another database): there it is :meth:`read`."""
        if str(self.path) == ":memory:":
            return await self.read(fn)

        def aside() -> T:
            with self._aside_lock:
                if self._conn is None:
                    raise StoreUnavailable(self.role, "the store is not open")
                if self._aside is None:
                    self._aside = self._connect(wal=False)
                conn = self._aside
                return self._retry(lambda: fn(conn))

        return await anyio.to_thread.run_sync(self._mapped, aside)

    def library_note(self) -> str | None:
        """A warning about the SQLite library the connections use, or ``None``."""
        version = tuple(self._driver.sqlite_version_info)
        if version >= _WAL_RESET_FIXED:
            return None
        return (f"SQLite {self._driver.sqlite_version} predates 3.51.3, which fixed a rare "
                "corruption of WAL files written by several connections at once")

    def open_reader(self) -> sqlite3.Connection:
        """A connection of the caller's own, for long background reads in short read
        transactions (blocking: call it from a worker thread); close it with
        :meth:`close_reader`."""
        return self._mapped(lambda: self._connect(wal=False))

    @staticmethod
    def close_reader(conn: sqlite3.Connection) -> None:
        cipher.close(conn)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await anyio.to_thread.run_sync(self._locked, lambda: self._transaction(fn))

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailable(self.role, "the store is not open")
        return self._conn

    def _errors(self, name: str) -> tuple[type[Exception], ...]:
        """The exception class ``name`` of ``sqlite3`` and of the driver in use."""
        found: Any = getattr(self._driver, name)
        return (getattr(sqlite3, name), found)

    def _locked(self, fn: Callable[[], T]) -> T:
        with self._lock:
            return self._mapped(fn)

    def _mapped(self, fn: Callable[[], T]) -> T:
        """``fn()``, the driver's database errors raised as :class:`StoreUnavailable`."""
        try:
            return fn()
        except self._errors("DatabaseError") as exc:
            raise StoreUnavailable(self.role, f"{self.path}: {exc}") from exc

    def _transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def attempt() -> T:
            conn = self._connection()
            with self._gate.lock:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                return result

        return self._retry(attempt)

    def _migrate(
        self, conn: sqlite3.Connection, component: str, migrations: Sequence[Migration]
    ) -> None:
        ownership.refuse_foreign(conn, self.path)  # again, under the write lock
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL, PRIMARY KEY (component, version))"
        )
        applied = [row[0] for row in conn.execute(
            "SELECT version FROM schema_migrations WHERE component = ?", (component,))]
        for migration in pending(component, migrations, applied, location=str(self.path)):
            for statement in _statements(migration.sql):
                conn.execute(statement)
            if migration.run is not None:
                migration.run(conn)
            conn.execute(
                "INSERT INTO schema_migrations (component, version, name, applied_at)"
                " VALUES (?, ?, ?, ?)",
                (component, migration.version, migration.name, datetime.now(UTC).isoformat()),
            )

    def _retry(self, fn: Callable[[], T]) -> T:
        deadline = time.monotonic() + _RETRY_FOR_SECONDS
        delay = 0.005
        while True:
            try:
                return fn()
            except self._errors("OperationalError") as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.25)


def _statements(script: str) -> list[str]:
    """Split a migration on lines holding only ``;;`` (trigger bodies contain ``;``)."""
    return [part.strip() for part in script.split("\n;;\n") if part.strip()]

