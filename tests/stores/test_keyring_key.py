"""The encryption key from the OS keyring (``encryption.keyring``), through a keyring
backend the test sets (a JSON file, never the machine's keyring): it opens the store as the
same key given directly does; a missing entry, no backend at all, or two key settings are
one-line errors naming the setting; ``memvault serve`` takes it and refuses without it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio.to_thread
import pytest

from memvault.config import Config
from memvault.core.encryption import check_keys
from memvault.core.memvault import Memvault
from memvault.errors import ConfigError, EncryptionError
from memvault.stores.crypto import KeySet
from tests.interfaces.mcp_harness import (
    MEMVAULT,
    STARTUP_TIMEOUT,
    call_ok,
    clean_env,
    memvault_args,
    stdio_session,
)

keyring = pytest.importorskip("keyring", reason="the keyring extra is not installed")
pytest.importorskip("sqlcipher3", reason="the encryption extra (sqlcipher3) is not installed")

from keyring.backends.fail import Keyring as NoKeyring  # noqa: E402

from tests.keyring_backend import FileKeyring  # noqa: E402

pytestmark = pytest.mark.anyio

KEY = "first-secret-passphrase-01"
ENTRY = "memvault/default"
SETTING = "MEMVAULT_ENCRYPTION_KEYRING"


@pytest.fixture
def ring(tmp_path: Path) -> Iterator[FileKeyring]:
    before = keyring.get_keyring()
    backend = FileKeyring(tmp_path / "keyring.json")
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(before)


def _config(db: Path, **encryption: object) -> Config:
    flat: dict[str, object] = {"database": str(db), "user_id": "alice", "embedder": "none"}
    flat.update({f"encryption.{k}": v for k, v in encryption.items()})
    return Config.from_flat(flat)


async def test_the_keyring_entry_is_the_key(tmp_path: Path, ring: FileKeyring) -> None:
    ring.set_password("memvault", "default", KEY)
    db = tmp_path / "m.db"
    async with Memvault(_config(db, keyring=ENTRY)) as mv:
        await mv.add("the vault holds Quetzalcoatlus")
    assert b"Quetzalcoatlus" not in db.read_bytes()
    # the same key given directly opens it: the keyring only holds the passphrase
    async with Memvault(_config(db, key=KEY)) as mv:
        assert await mv.count() == 1
    keys = KeySet.from_config(_config(db, keyring=ENTRY).encryption)
    assert keys is not None
    assert keys.current.source == f"keyring {ENTRY}"


async def test_keyring_errors_are_one_line_naming_the_setting(
        tmp_path: Path, ring: FileKeyring) -> None:
    db = tmp_path / "m.db"
    with pytest.raises(EncryptionError, match="holds no encryption key memvault/default") as no:
        await check_keys(_config(db, keyring=ENTRY))
    assert "keyring set memvault default" in str(no.value)
    ring.set_password("memvault", "default", "short")
    with pytest.raises(ConfigError, match="at least 16 characters"):
        await check_keys(_config(db, keyring=ENTRY))
    keyring.set_keyring(NoKeyring())
    with pytest.raises(EncryptionError, match="no OS keyring is available") as none:
        await check_keys(_config(db, keyring=ENTRY))
    for exc in (no, none):
        assert SETTING in str(exc.value)
        assert "\n" not in str(exc.value)
    assert not db.exists()


def test_the_keyring_setting_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"encryption\.keyring: .*not <service>/<name>"):
        Config.from_flat({"encryption.keyring": "memvault"})
    with pytest.raises(ConfigError, match="not several"):
        Config.from_flat({"encryption.keyring": ENTRY, "encryption.key": KEY})
    assert Config.load({}, env={SETTING: "team/vault/prod"}).encryption.keyring_entry == (
        "team/vault", "prod")


async def test_serve_takes_the_key_from_the_keyring(tmp_path: Path) -> None:
    """A real ``memvault serve`` over stdio with the test backend as its keyring."""
    store = tmp_path / "keyring.json"
    FileKeyring(store).set_password("memvault", "default", KEY)
    env = {SETTING: ENTRY, "MEMVAULT_TEST_KEYRING": str(store),
           "PYTHON_KEYRING_BACKEND": "tests.keyring_backend.FileKeyring",
           # the spawned server imports the backend from this checkout's tests package
           "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[2]),
                                                       os.environ.get("PYTHONPATH")]))}
    async with stdio_session(tmp_path, env=env) as conn:
        await call_ok(conn.session, "add_memory", content="the vault holds Quetzalcoatlus")
    assert b"Quetzalcoatlus" not in (tmp_path / "m.db").read_bytes()
    async with Memvault(_config(tmp_path / "m.db", key=KEY)) as mv:
        assert await mv.count() == 1

    FileKeyring(store).delete_password("memvault", "default")
    done = await anyio.to_thread.run_sync(lambda: subprocess.run(
        [str(MEMVAULT), *memvault_args(tmp_path / "m.db", user="alice",
                                       serve=["--transport", "http", "--port", "0"])],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=clean_env(env),
        cwd=tmp_path, timeout=STARTUP_TIMEOUT * 2, check=False))
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "holds no encryption key memvault/default" in lines[0]
    assert SETTING in lines[0]
