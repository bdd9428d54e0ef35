"""A process keeps its SQLite locks while it opens more connections to the same file.

Closing any file descriptor of a file drops every POSIX lock the process holds on it. When
opening a second store on a file read its header through a descriptor of its own, the first
connection lost its shared lock; another process closing its last connection then took the
file as unused, checkpointed and deleted the WAL, and the first connection's later commits
went to a deleted file: acknowledged writes were lost. Each case here opens a second store on
the file, checks the process still holds its lock, lets another process open and close the
file, and checks that a commit made afterwards is seen by a third process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from memvault.stores.crypto import Key, KeySet
from memvault.stores.migrations import Migration
from memvault.stores.sqlite import cipher
from memvault.stores.sqlite.db import SqliteDatabase

pytestmark = pytest.mark.anyio

_TABLE = (Migration(1, "rows", "CREATE TABLE rows (n INTEGER NOT NULL)"),)

# Another process: open the file, read it, close it (its last connection), print the count.
_PEER = r'''
import sys
key = sys.argv[2] if len(sys.argv) > 2 else None
if key is None:
    import sqlite3 as driver
else:
    from sqlcipher3 import dbapi2 as driver
conn = driver.connect(sys.argv[1])
if key is not None:
    conn.execute("PRAGMA key = '" + key + "'")
print(conn.execute("SELECT count(*) FROM rows").fetchone()[0])
conn.close()
'''


def _holds_lock(path: Path) -> bool:
    """Whether this process holds a POSIX lock on ``path`` (Linux's /proc/locks)."""
    inode, pid = path.stat().st_ino, os.getpid()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "POSIX" in fields and str(pid) in fields and any(
                f.endswith(f":{inode}") for f in fields):
            return True
    return False


def _peer(path: Path, key: str | None) -> int:
    args = [sys.executable, "-c", _PEER, str(path)] + ([key] if key else [])
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    return int(done.stdout.strip())


async def _insert(db: SqliteDatabase, n: int) -> None:
    await db.write(lambda conn: conn.execute("INSERT INTO rows (n) VALUES (?)", (n,)))


@pytest.mark.parametrize("secret", [None, "a passphrase for the lock test"],
                         ids=["plain", "encrypted"])
async def test_a_second_store_on_the_file_keeps_the_first_ones_writes(
        tmp_path: Path, secret: str | None) -> None:
    if secret is not None:
        pytest.importorskip("sqlcipher3", reason="the encryption extra is not installed")
    keys = None if secret is None else KeySet(Key(secret, "test"))
    path = tmp_path / "shared.db"
    first = SqliteDatabase(path, "episodic", keys)
    await first.open("rows", _TABLE)
    await _insert(first, 1)
    second = SqliteDatabase(path, "profile", keys)
    await second.open("other", ())
    await second.read_aside(lambda conn: conn.execute("SELECT 1").fetchall())
    try:
        if sys.platform == "linux":
            assert _holds_lock(path), "the first store's lock on the file was dropped"
        assert _peer(path, secret) == 1
        if secret is None:  # an older SQLite (the system's) deletes the WAL of a file unlocked
            assert await anyio.Path(f"{path}-wal").exists(), "another process deleted the WAL"
        await _insert(first, 2)
        assert _peer(path, secret) == 2
    finally:
        await second.close()
        await first.close()


async def test_the_header_is_read_again_once_no_connection_holds_the_file(
        tmp_path: Path) -> None:
    path = tmp_path / "again.db"
    db = SqliteDatabase(path, "episodic")
    await db.open("rows", _TABLE)
    await db.read_aside(lambda conn: conn.execute("SELECT 1").fetchall())
    assert cipher._identity(path) in cipher._held
    await db.close()
    assert cipher._identity(path) not in cipher._held


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/locks")
async def test_checking_the_keys_of_an_open_file_keeps_its_locks(tmp_path: Path) -> None:
    path = tmp_path / "checked.db"
    db = SqliteDatabase(path, "episodic")
    await db.open("rows", _TABLE)
    await _insert(db, 1)
    try:
        cipher.check(path, None)
        assert _holds_lock(path)
    finally:
        await db.close()


async def test_a_file_open_in_this_process_is_not_converted(tmp_path: Path) -> None:
    pytest.importorskip("sqlcipher3", reason="the encryption extra is not installed")
    from memvault.errors import StoreUnavailable
    from memvault.stores.sqlite.convert import reencrypt

    path = tmp_path / "open.db"
    db = SqliteDatabase(path, "episodic")
    await db.open("rows", _TABLE)
    try:
        with pytest.raises(StoreUnavailable, match="open in this process"):
            reencrypt(path, KeySet(Key("a passphrase", "test")), "encrypt")
    finally:
        await db.close()
    assert cipher.is_encrypted(path) is False
