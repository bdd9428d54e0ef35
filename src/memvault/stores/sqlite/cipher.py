"""Opening a SQLite file encrypted as a whole, with SQLCipher.

Why SQLCipher through ``sqlcipher3``: it is a DB-API 2.0 module built from the same source as
the standard ``sqlite3`` (rows, ``text_factory``, exceptions and ``isolation_level`` behave
alike), so the stores' SQL and row handling stay as they are; its manylinux wheels bundle
SQLCipher 4 on a current SQLite with FTS5. ``apsw-sqlite3mc`` (SQLite3 Multiple Ciphers) would
do too, but APSW's API differs from ``sqlite3`` (cursors, rows, transactions, exceptions) and
every store module would change. SQLCipher encrypts every page of the database, its WAL and
its rollback journal with AES-256 (an HMAC per page), and derives the page key from the
passphrase with PBKDF2-HMAC-SHA512 (256,000 iterations, a random salt in the file's first 16
bytes): about 0.1 s. A store opens several connections to its file, so :func:`connect` derives
the page key from the passphrase and the file's salt once per process, exactly as SQLCipher
does, and hands it to SQLCipher as a raw key with that salt (``x'<key><salt>'``), which skips
SQLCipher's own derivation: the file and its format are the same either way.

A plain file (the header ``SQLite format 3``) is refused when a key is configured, an
encrypted one when none is, and a wrong key is told apart from a damaged file by trying the
old keys: each case is an :class:`~memvault.errors.EncryptionError` naming what to do, raised
before anything is read or written. A file without the plain header is encrypted or is no
database at all, which cannot be told apart (an encrypted file begins with its random salt):
the messages say both, except for a file shorter than SQLite's smallest page (512 bytes),
which no database is, refused as such (:func:`refuse_no_database`).

Reading the header (and the salt) is done through a file descriptor of our own, and closing
any descriptor of a file drops every POSIX lock the process holds on it, SQLite's included
(https://www.sqlite.org/howtocorrupt.html, section 2.2). A process whose connection had lost
its shared lock let another process, closing its last connection, checkpoint and delete the
WAL under it: later commits went to a deleted file, and acknowledged writes were lost. So the
header is only read while this process holds no connection to the file; :func:`connect`
records what it found (and what it created) per file for as long as connections opened by it
are open, and :func:`close` closes them.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from memvault.errors import ConfigError, EncryptionError
from memvault.stores.crypto import Key, KeySet
from memvault.stores.sqlite import ownership

__all__ = ["HEADER", "check", "close", "connect", "driver", "holds", "is_encrypted",
           "key_pragma", "names_file", "refuse_no_database", "unlock"]

HEADER = b"SQLite format 3\x00"
_KEY_HELP = ("MEMVAULT_ENCRYPTION_KEY, MEMVAULT_ENCRYPTION_KEY_FILE, --encryption-key-file or "
             "MEMVAULT_ENCRYPTION_KEYRING")
# SQLCipher 4's defaults (cipher_default_kdf_iter, kdf_algorithm, the salt's size).
_KDF_ITERATIONS, _SALT = 256_000, 16
#: SQLite's smallest page: a database file, plain or encrypted, is empty or whole pages.
_MIN_PAGE = 512


def driver() -> ModuleType:
    """``sqlcipher3.dbapi2``, or a :class:`ConfigError` naming the extra to install."""
    try:
        from sqlcipher3 import dbapi2
    except ImportError as exc:
        raise ConfigError("an encrypted SQLite store needs SQLCipher: "
                          f"pip install 'memvault[encryption]' ({exc})") from exc
    return cast(ModuleType, dbapi2)


def is_encrypted(path: Path) -> bool | None:
    """Whether the file is encrypted (``None``: missing or empty, so it is neither yet)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(HEADER))
    except FileNotFoundError:
        return None
    return None if not head else head != HEADER


def refuse_no_database(path: Path, what: str) -> None:
    """Raise :class:`ConfigError` naming ``what`` and ``path`` when the file is not empty but
    shorter than a page, so no SQLite database, plain or encrypted (a stat: no descriptor
    is opened). Call it on a file without the plain header; a missing file passes."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return
    if 0 < size < _MIN_PAGE:
        raise ConfigError(f"{what} {path} is not a SQLite database, plain or encrypted "
                          f"({size} bytes, shorter than a page): fix the path")


def key_pragma(key: Key) -> str:
    """The ``PRAGMA key`` statement for ``key`` (a pragma takes no bound parameters)."""
    return "PRAGMA key = '" + key.secret.replace("'", "''") + "'"


@functools.lru_cache(maxsize=32)
def _raw_key_pragma(secret: str, salt: bytes) -> str:
    derived = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, _KDF_ITERATIONS, 32)
    return f"PRAGMA key = \"x'{derived.hex()}{salt.hex()}'\""


def _salt(path: Path) -> bytes | None:
    try:
        with path.open("rb") as handle:
            salt = handle.read(_SALT)
    except OSError:
        return None
    return salt if len(salt) == _SALT else None


def unlock(conn: Any, key: Key | None, salt: bytes | None = None) -> bool:
    """Give a SQLCipher connection its key and check it reads the file; ``False`` if not.
    With the file's ``salt``, the key is given as the raw key derived once per process."""
    conn.execute("PRAGMA cipher_log_level = NONE")  # SQLCipher logs to stderr otherwise
    if key is not None:  # no key: a plain file
        conn.execute(key_pragma(key) if salt is None else _raw_key_pragma(key.secret, salt))
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except conn.OperationalError:
        raise  # busy, an I/O error: not a wrong key
    except conn.DatabaseError:  # "file is not a database": another key
        return False
    return True


@dataclass
class _Held:
    """What :func:`connect` knows of one file (by device and inode) while it holds
    connections to it: whether it is encrypted, its salt once known, and how many."""

    encrypted: bool
    salt: bytes | None
    count: int = 0


_held: dict[tuple[int, int], _Held] = {}
_owners: dict[Any, tuple[int, int]] = {}  # connection → its file in _held
_held_lock = threading.Lock()


def _identity(path: Path) -> tuple[int, int] | None:
    if str(path) == ":memory:":
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def connect(path: Path, keys: KeySet | None, role: str, timeout: float) -> tuple[Any, ModuleType]:
    """A connection to ``path`` and the DB-API module it came from; close it with
    :func:`close`.

    Without ``keys``, the standard ``sqlite3`` (an encrypted file is refused); with them,
    SQLCipher under the current key (a plain file, or one under another key, is refused)."""
    with _held_lock:
        identity = _identity(path)
        held = _held.get(identity) if identity is not None else None
        if held is None:  # no connection of ours holds the file: its header may be read
            state = is_encrypted(path)
            salt = _salt(path) if state else None
        else:
            state, salt = held.encrypted, held.salt
        conn, module = _connect(path, keys, role, timeout, state, salt)
        identity = _identity(path)
        if identity is None:  # not a file (":memory:")
            return conn, module
        held = _held.setdefault(identity, _Held(keys is not None, salt))
        if held.encrypted and held.salt is None:
            held.salt = _read_salt(conn)
        held.count += 1
        _owners[conn] = identity
        return conn, module


def names_file(path: Path, database: Path) -> bool:
    """Whether ``path`` is ``database`` or a file SQLite keeps beside it (WAL, shared memory,
    journal), by device and inode, so a link counts too; nothing is opened."""
    target = _identity(path)
    return target is not None and any(
        _identity(database.with_name(database.name + suffix)) == target
        for suffix in ("", "-wal", "-shm", "-journal"))


def holds(path: Path) -> bool:
    """Whether this process holds a connection opened by :func:`connect` to ``path``."""
    with _held_lock:
        identity = _identity(path)
        return identity is not None and identity in _held


def close(conn: Any) -> None:
    """Close a connection :func:`connect` opened, and forget its file's header once the
    process holds no connection to it."""
    try:
        conn.close()  # first: until the count drops, no one reads the header
    finally:
        with _held_lock:
            identity = _owners.pop(conn, None)
            held = _held.get(identity) if identity is not None else None
            if identity is not None and held is not None:
                held.count -= 1
                if held.count <= 0:
                    del _held[identity]


def _read_salt(conn: Any) -> bytes | None:
    """The salt of an encrypted file as SQLCipher read it (``None`` while it is empty)."""
    if not conn.execute("PRAGMA page_count").fetchone()[0]:
        return None
    value = conn.execute("PRAGMA cipher_salt").fetchone()
    return bytes.fromhex(value[0]) if value and value[0] else None


def _connect(path: Path, keys: KeySet | None, role: str, timeout: float, state: bool | None,
             salt: bytes | None) -> tuple[Any, ModuleType]:
    if state:
        refuse_no_database(path, f"the {role} store")
    if keys is None:
        if state:
            raise EncryptionError(f"the {role} store {path} is encrypted, or is not a database, "
                                  "and no encryption key is configured: give its key "
                                  f"({_KEY_HELP}) if it is encrypted, or fix the path")
        return sqlite3.connect(path, timeout=timeout, isolation_level=None,
                               check_same_thread=False), sqlite3
    if state is False:
        raise EncryptionError(f"the {role} store {path} is not encrypted, but an encryption key "
                              "is configured: run `memvault encrypt` to encrypt it, or "
                              "configure no key")
    module = driver()
    conn = module.connect(str(path), timeout=timeout, isolation_level=None,
                          check_same_thread=False)
    try:
        unlocked = unlock(conn, keys.current, salt)
    except BaseException:
        conn.close()
        raise
    if unlocked:
        return conn, module
    conn.close()
    for old in keys.old:
        probe = module.connect(str(path), timeout=timeout, check_same_thread=False)
        try:
            if unlock(probe, old):
                raise EncryptionError(
                    f"the {role} store {path} is encrypted under an old key ({old.source}): "
                    "run `memvault rekey` to re-encrypt it under the current key")
        finally:
            probe.close()
    raise EncryptionError(f"the encryption key ({keys.current.source}) does not open the "
                          f"{role} store {path}: it is encrypted under another key, or is not "
                          f"a database; give its key ({_KEY_HELP})")


def check(path: Path, keys: KeySet | None) -> None:
    """Refuse (:class:`EncryptionError`) a file ``keys`` do not open: an encrypted file
    without a key, a plain one with a key, one under another key; and (:class:`ConfigError`)
    one that is no database, or another application's
    (:func:`~memvault.stores.sqlite.ownership.refuse_foreign`). A missing or empty file
    passes: it is created under the key configured. Reads only."""
    try:
        if os.stat(path).st_size == 0:  # a stat opens no descriptor
            return
    except FileNotFoundError:
        return
    conn, _ = connect(path, keys, "SQLite", 5.0)
    try:
        ownership.refuse_foreign(conn, path)
    finally:
        close(conn)
