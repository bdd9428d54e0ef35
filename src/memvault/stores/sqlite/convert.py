"""Encrypting and re-keying a SQLite store file in place, so that a crash leaves it readable.

:func:`convert` copies the file under its current key (none for a plain file) into
``<file>.memvault-new`` under the target key, and swaps it in:

``lock``    the source is opened (another application's database is refused, see
            :mod:`~memvault.stores.sqlite.ownership`) in exclusive locking mode and
            write-locked: it fails at once while another process has the file open (stop the
            servers first), and nothing can change it while it is copied;
``copy``    ``sqlcipher_export`` writes every table, index, trigger and FTS5 index to the new
            file; the source leaves WAL mode (its WAL checkpointed and removed), so no WAL of
            the old file is left to be replayed onto the new one;
``verify``  the new file is opened afresh under the target key: ``quick_check`` passes and
            every table has as many rows as in the source;
``sync``    the new file is fsynced;
``backup``  the old file is hard-linked as ``<file>.memvault-backup`` (and the directory
            fsynced);
``swap``    ``os.replace`` renames the new file over the old one, atomically, and the
            directory is fsynced;
``cleanup`` the backup is removed.

Killed before ``swap``, the file is the old one (under the old key) and a leftover new file
is removed by the next run; killed after it, the file is the new one (under the new key). A
backup left behind is removed by the next run (the file beside it is whole either way), or
renamed back if the file itself is missing. ``pause`` is called with each step's name before
it runs (the crash tests stop a real process there).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memvault.errors import EncryptionError, StoreUnavailable
from memvault.stores.crypto import Key, KeySet
from memvault.stores.sqlite import cipher, ownership

__all__ = ["Converted", "convert", "key_of", "recover", "reencrypt"]

_NEW = ".memvault-new"
_BACKUP = ".memvault-backup"


@dataclass(frozen=True)
class Converted:
    path: Path
    tables: int
    rows: int


def _beside(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def recover(path: Path) -> None:
    """Finish or undo what a killed conversion of ``path`` left (see the module docstring)."""
    new, backup = _beside(path, _NEW), _beside(path, _BACKUP)
    for leftover in (new, _beside(new, "-journal"), _beside(new, "-wal"), _beside(new, "-shm")):
        leftover.unlink(missing_ok=True)
    if backup.exists():
        if path.exists():
            backup.unlink()
        else:
            os.replace(backup, path)
        _fsync_dir(path.parent)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _counts(conn: Any, schema: str = "main") -> dict[str, int]:
    tables = [row[0] for row in conn.execute(
        f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table'"
        " AND name NOT LIKE 'sqlite_%'")]
    return {name: int(conn.execute(f"SELECT count(*) FROM {schema}.{_quote(name)}").fetchone()[0])
            for name in tables}


def _open(path: Path, key: Key | None, what: str) -> Any:
    conn = cipher.driver().connect(str(path), timeout=0.1, isolation_level=None,
                                   check_same_thread=False)
    try:
        unlocked = cipher.unlock(conn, key)
    except BaseException:
        conn.close()
        raise
    if not unlocked:
        conn.close()
        raise EncryptionError(f"{what} does not open {path}")
    return conn


def convert(path: Path, source: Key | None, target: Key | None,
            pause: Callable[[str], None] = lambda step: None) -> Converted:
    """Rewrite the store file ``path`` from under ``source`` to under ``target`` (``None``:
    plain), crash-safe (see the module docstring)."""
    _not_held(path)
    recover(path)
    if not path.exists():
        raise EncryptionError(f"there is no store file at {path}")
    new = _beside(path, _NEW)
    pause("lock")
    conn = _open(path, source, "the current key" if source else "no key")
    try:
        ownership.refuse_foreign(conn, path)
        driver = cipher.driver()
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        try:
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("COMMIT")
        except driver.OperationalError:
            raise StoreUnavailable("sqlite", f"{path} is in use by another process: stop the "
                                   "memvault servers using it, then run this again") from None
        pause("copy")
        conn.execute("ATTACH DATABASE ? AS target KEY ?",
                     (str(new), "" if target is None else target.secret))
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("SELECT sqlcipher_export('target')")
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE target")
        before = _counts(conn)
        conn.execute("PRAGMA journal_mode = DELETE")  # checkpoints and removes the WAL
        pause("verify")
        check = _open(new, target, "the new key")
        try:
            result = check.execute("PRAGMA quick_check").fetchone()[0]
            after = _counts(check)
        finally:
            check.close()
        if result != "ok" or after != before:
            new.unlink(missing_ok=True)
            raise StoreUnavailable("sqlite", f"the re-encrypted copy of {path} does not match "
                                   f"it ({result}); the store is unchanged")
        pause("sync")
        with new.open("rb+") as handle:
            os.fsync(handle.fileno())
        pause("backup")
        backup = _beside(path, _BACKUP)
        os.link(path, backup)
        _fsync_dir(path.parent)
        pause("swap")
        os.replace(new, path)
        _fsync_dir(path.parent)
    finally:
        with contextlib.suppress(Exception):
            conn.close()
    pause("cleanup")
    backup.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return Converted(path, len(after), sum(after.values()))


def _not_held(path: Path) -> None:
    """Refuse a file this process has stores open on: the exclusive lock that keeps other
    processes out does not keep out the process's own connections, and reading the file
    here would drop their locks."""
    if cipher.holds(path):
        raise StoreUnavailable("sqlite", f"{path} is open in this process: close its stores "
                               "first")


def key_of(path: Path, keys: tuple[Key, ...]) -> Key | None:
    """Which of ``keys`` opens the file (``None``: it is plain); :class:`EncryptionError`
    when it is encrypted and none does (or it is no database), and
    :class:`~memvault.errors.ConfigError` when it is too short to be a database."""
    if not cipher.is_encrypted(path):
        return None
    cipher.refuse_no_database(path, "the store file")
    for key in keys:
        with contextlib.suppress(EncryptionError):
            _open(path, key, "").close()
            return key
    raise EncryptionError(f"{path} is encrypted under none of the configured keys "
                          f"({', '.join(key.source for key in keys)}), or is not a database")


def reencrypt(path: Path, keys: KeySet, mode: str,
              pause: Callable[[str], None] = lambda step: None) -> str:
    """``mode`` ``"encrypt"``: a plain file → the current key; ``"rekey"``: a file under an
    old key → the current key. Says what was done; a file already under the current key is
    left alone (so a run killed after its swap can be run again)."""
    _not_held(path)
    recover(path)
    if not path.exists():
        return f"{path}: no such file, nothing to do"
    current = key_of(path, keys.all)
    if current is not None and current.kid == keys.current.kid:
        return f"{path}: already encrypted under the current key ({keys.current.kid})"
    if mode == "encrypt" and current is not None:
        raise EncryptionError(f"{path} is encrypted under an old key ({current.source}): "
                              "run `memvault rekey`")
    if mode == "rekey" and current is None:
        raise EncryptionError(f"{path} is not encrypted: run `memvault encrypt`")
    done = convert(path, current, keys.current, pause)
    return (f"{path}: {'encrypted' if mode == 'encrypt' else 're-encrypted'} under key "
            f"{keys.current.kid} ({done.tables} tables, {done.rows} rows verified)")
