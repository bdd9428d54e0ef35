"""The embedded store encrypted as a whole: no plaintext on disk, search as before, clear
errors for a missing or wrong key, and conversions that survive kill -9 at every step."""

from __future__ import annotations

import hashlib
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from memvault.config import Config
from memvault.core import encryption
from memvault.core.audit import open_audit
from memvault.core.keys import open_keys
from memvault.core.memvault import Memvault
from memvault.errors import EncryptionError, StoreUnavailable
from tests.core.fakes import HashEmbedder

pytest.importorskip("sqlcipher3", reason="the encryption extra (sqlcipher3) is not installed")

pytestmark = pytest.mark.anyio

KEY = "first-secret-passphrase-01"
NEW_KEY = "second-secret-passphrase-02"
SECRETS = ["Quetzalcoatlus", "zephyrine-bank", "mango-sorbet-allergy", "ultraviolet"]
STEPS = ["lock", "copy", "verify", "sync", "backup", "swap", "cleanup"]
REPO = Path(__file__).resolve().parents[2]


def _config(db: Path, key: str | None = None, old: tuple[Path, ...] = ()) -> Config:
    flat: dict[str, object] = {"database": str(db), "user_id": "alice", "embedder": "none"}
    if key is not None:
        flat["encryption.key"] = key
    if old:
        flat["encryption.old_key_files"] = old
    return Config.from_flat(flat)


async def _fill(config: Config, embedder: HashEmbedder | None = None, n: int = 4) -> None:
    async with Memvault(config, embedder=embedder) as mv:
        for i in range(n):
            await mv.add(f"turn {i}: {SECRETS[i % len(SECRETS)]} was mentioned",
                         profile={f"fact{i}": SECRETS[(i + 1) % len(SECRETS)]})
        await mv.wait_for_vectors()


async def _count(config: Config) -> int:
    async with Memvault(config, embedder=None) as mv:
        return await mv.count(all_users=True)


def _files(db: Path) -> list[Path]:
    return sorted(p for p in db.parent.iterdir() if p.name.startswith(db.name))


def _assert_no_plaintext(db: Path) -> None:
    for path in _files(db):
        data = path.read_bytes() if path.is_file() else b""
        for secret in SECRETS:
            assert secret.encode() not in data, f"{secret} in {path.name}"


async def test_an_encrypted_store_holds_no_plaintext_and_searches_as_before(
        tmp_path: Path) -> None:
    db = tmp_path / "vault.db"
    config = _config(db, KEY)
    embedder = HashEmbedder()
    async with Memvault(config, embedder=embedder) as mv:
        for i, secret in enumerate(SECRETS):
            await mv.add(f"turn {i}: {secret} was mentioned", profile={f"f{i}": secret})
        await mv.wait_for_vectors()
        # the WAL and the journal too, while the store is open after writes
        assert (tmp_path / "vault.db-wal").exists()
        _assert_no_plaintext(db)
        found = await mv.search("Quetzalcoatlus")
        assert found.hits[0].memory.content.endswith("Quetzalcoatlus was mentioned")
        assert found.retrievers == ["lexical", "vector"]
        profile = await mv.get_profile()
        assert {f.value for f in profile.facts} == set(SECRETS)
    _assert_no_plaintext(db)
    assert not (tmp_path / "vault.db.vectors").exists()
    assert not db.read_bytes().startswith(b"SQLite format 3")


async def test_a_missing_or_wrong_key_is_one_clear_line_and_changes_nothing(
        tmp_path: Path) -> None:
    db = tmp_path / "vault.db"
    await _fill(_config(db, KEY))
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    with pytest.raises(EncryptionError, match="is encrypted, or is not a database, and no "
                                              "encryption key") as missing:
        await _count(_config(db))
    with pytest.raises(EncryptionError, match="does not open") as wrong:
        await _count(_config(db, NEW_KEY))
    for exc in (missing, wrong):
        assert "\n" not in str(exc.value)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest
    assert await _count(_config(db, KEY)) == 4

    plain = tmp_path / "plain.db"
    await _fill(_config(plain))
    with pytest.raises(EncryptionError, match="run `memvault encrypt`"):
        await _count(_config(plain, KEY))


async def test_encrypt_then_rekey_in_place(tmp_path: Path) -> None:
    db = tmp_path / "vault.db"
    await _fill(_config(db))
    [line] = encryption.reencrypt_files(_config(db, KEY), "encrypt")
    assert "encrypted under key" in line
    _assert_no_plaintext(db)
    assert await _count(_config(db, KEY)) == 4
    old = tmp_path / "old.key"
    old.write_text(KEY + "\n")
    with pytest.raises(EncryptionError, match="encrypted under an old key"):
        await _count(_config(db, NEW_KEY, (old,)))
    [line] = encryption.reencrypt_files(_config(db, NEW_KEY, (old,)), "rekey")
    assert "re-encrypted" in line
    assert await _count(_config(db, NEW_KEY)) == 4
    with pytest.raises(EncryptionError):
        await _count(_config(db, KEY))
    again = encryption.reencrypt_files(_config(db, NEW_KEY, (old,)), "rekey")
    assert "already encrypted under the current key" in again[0]


def _convert_while_held(db: Path) -> None:
    holder = subprocess.Popen(  # another process with the file open, as a server has it
        [sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
         " c.execute('SELECT count(*) FROM memories').fetchone(); print('open', flush=True);"
         " sys.stdin.read()", str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout is not None
    assert holder.stdin is not None
    try:
        assert holder.stdout.readline() == b"open\n"
        with pytest.raises(StoreUnavailable, match="in use by another process"):
            encryption.reencrypt_files(_config(db, KEY), "encrypt")
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()


async def test_a_store_in_use_is_not_converted(tmp_path: Path) -> None:
    db = tmp_path / "vault.db"
    await _fill(_config(db))
    await anyio.to_thread.run_sync(lambda: _convert_while_held(db))
    assert db.read_bytes().startswith(b"SQLite format 3")
    assert await _count(_config(db)) == 4


def _killed_at(step: str, db: Path, key_file: Path, old: Path | None, command: str) -> None:
    """Run the CLI conversion in a real process, wait (bounded) until it stops at ``step``,
    and kill -9 it there."""
    env = {**os.environ, "MEMVAULT_TEST_PAUSE_AT": step, "MEMVAULT_DB": str(db),
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    env.pop("MEMVAULT_ENCRYPTION_KEY", None)
    if old is not None:
        env["MEMVAULT_ENCRYPTION_OLD_KEY_FILES"] = str(old)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from memvault.interfaces.cli.main import main; main()",
         "--encryption-key-file", str(key_file), command],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    seen = b""
    deadline = time.monotonic() + 120
    try:
        while f"paused at {step}".encode() not in seen:
            left = deadline - time.monotonic()
            assert left > 0, f"never reached {step}: {seen!r}"
            ready, _, _ = select.select([proc.stderr], [], [], left)
            chunk = os.read(proc.stderr.fileno(), 4096) if ready else b""
            assert chunk or proc.poll() is None, f"exited before {step}: {seen!r}"
            seen += chunk
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()


async def _readable_with_one_of(db: Path, keys: list[str | None]) -> str | None:
    """The key (``None``: plain) under which the store opens whole; it opens under one only."""
    opened: list[str | None] = []
    for key in keys:
        try:
            assert await _count(_config(db, key)) == 4
        except EncryptionError:
            continue
        opened.append(key)
    assert len(opened) == 1, opened
    return opened[0]


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS)
async def test_encrypt_killed_at_any_step_leaves_a_readable_store(
        tmp_path: Path, step: str) -> None:
    db = tmp_path / "vault.db"
    await _fill(_config(db))
    key_file = tmp_path / "vault.key"
    key_file.write_text(KEY + "\n")
    await anyio.to_thread.run_sync(lambda: _killed_at(step, db, key_file, None, "encrypt"))
    state = await _readable_with_one_of(db, [None, KEY])
    assert state == (KEY if step == "cleanup" else None)
    encryption.reencrypt_files(_config(db, KEY), "encrypt")  # run again: it completes
    assert await _readable_with_one_of(db, [None, KEY]) == KEY
    assert [p.name for p in _files(db)] == ["vault.db"]
    _assert_no_plaintext(db)


@pytest.mark.slow
@pytest.mark.parametrize("step", ["copy", "backup", "swap", "cleanup"])
async def test_rekey_killed_midway_leaves_a_readable_store(tmp_path: Path, step: str) -> None:
    db = tmp_path / "vault.db"
    await _fill(_config(db, KEY))
    key_file, old = tmp_path / "new.key", tmp_path / "old.key"
    key_file.write_text(NEW_KEY + "\n")
    old.write_text(KEY + "\n")
    await anyio.to_thread.run_sync(lambda: _killed_at(step, db, key_file, old, "rekey"))
    state = await _readable_with_one_of(db, [KEY, NEW_KEY])
    assert state == (NEW_KEY if step == "cleanup" else KEY)
    encryption.reencrypt_files(_config(db, NEW_KEY, (old,)), "rekey")
    assert await _readable_with_one_of(db, [KEY, NEW_KEY]) == NEW_KEY


def test_the_page_key_is_derived_once_per_file_and_is_sqlciphers_own(tmp_path: Path) -> None:
    from memvault.config import EncryptionConfig
    from memvault.stores.crypto import KeySet
    from memvault.stores.sqlite import cipher

    keys = KeySet.from_config(EncryptionConfig(key=KEY))
    assert keys is not None
    path = tmp_path / "raw.db"
    conn, module = cipher.connect(path, keys, "test", 5.0)  # a new file: the passphrase
    conn.execute("CREATE TABLE t (a)")
    conn.execute("INSERT INTO t VALUES ('kept')")
    conn.close()
    cipher._raw_key_pragma.cache_clear()
    for _ in range(3):
        conn, _module = cipher.connect(path, keys, "test", 5.0)
        assert conn.execute("SELECT a FROM t").fetchone() == ("kept",)
        conn.close()
    assert cipher._raw_key_pragma.cache_info().misses == 1
    plain = module.connect(str(path))  # SQLCipher deriving from the passphrase reads it too
    try:
        plain.execute(cipher.key_pragma(keys.current))
        assert plain.execute("SELECT a FROM t").fetchone() == ("kept",)
    finally:
        plain.close()


async def test_keys_and_the_audit_trail_open_an_encrypted_store(tmp_path: Path) -> None:
    config = _config(tmp_path / "m.db", key="the keys and audit passphrase")
    await _fill(config)
    async with open_keys(config) as service:
        key, _ = await service.create(user_id="alice", scope="read")
        assert [k.id for k in await service.list("alice")] == [key.id]
    async with open_audit(config) as trail:
        assert "key_create" in [entry.action for entry in await trail.trail("alice", limit=10)]
    _assert_no_plaintext(tmp_path / "m.db")
