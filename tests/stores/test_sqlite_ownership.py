"""The embedded store writes only into its own files: a SQLite file holding another
application's tables is refused at open, by every role, with one line naming it, and is left
byte for byte as it was (no WAL mode, no WAL files); a new or empty file becomes a store
whichever role opens it first; a file that is not SQLite is said to be encrypted or not a
database (a file too short for a page is surely the latter)."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from pathlib import Path

import pytest

from memvault import Memvault
from memvault.errors import ConfigError, EncryptionError
from memvault.stores.crypto import Key, KeySet
from memvault.stores.registry import check_file_keys
from memvault.stores.sqlite.episodic import SqliteEpisodicStore
from memvault.stores.sqlite.profile import SqliteProfileStore
from memvault.stores.sqlite.working import SqliteWorkingStore

pytestmark = pytest.mark.anyio

KEY = "a passphrase for the ownership tests"
ROLES = {"episodic": SqliteEpisodicStore, "profile": SqliteProfileStore,
         "working": SqliteWorkingStore}


def _foreign(path: Path, *schema: str) -> str:
    """A SQLite file with ``schema`` (another application's); the digest of its bytes."""
    with sqlite3.connect(path) as conn:
        for statement in schema:
            conn.execute(statement)
    conn.close()
    return _digest(path)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name))


FOREIGN_SCHEMAS = {
    "a memories table": ["CREATE TABLE memories (x)"],
    "unrelated tables": ["CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT)",
                         "CREATE INDEX things_name ON things (name)",
                         "INSERT INTO things (name) VALUES ('kept')"],
    "another tool's schema_migrations": [
        "CREATE TABLE schema_migrations (version TEXT PRIMARY KEY)",
        "INSERT INTO schema_migrations VALUES ('20240101000000')"],
    "an empty record table": [
        "CREATE TABLE schema_migrations (component TEXT, version INTEGER, name TEXT,"
        " applied_at TEXT)", "CREATE TABLE users (id)"],
    "only a view": ["CREATE VIEW answer AS SELECT 42"],
}


@pytest.mark.parametrize("schema", FOREIGN_SCHEMAS.values(), ids=FOREIGN_SCHEMAS.keys())
@pytest.mark.parametrize("role", ROLES)
async def test_another_applications_file_is_refused_by_every_role_and_left_unchanged(
    tmp_path: Path, role: str, schema: list[str]
) -> None:
    path = tmp_path / "app.db"
    digest = _foreign(path, *schema)
    store = ROLES[role](f"sqlite:///{path}")
    with pytest.raises(ConfigError) as refused:
        await store.open()
    await store.close()
    message = str(refused.value)
    assert message.startswith(f"{path} is not a memvault store: "), message
    assert "\n" not in message
    assert _digest(path) == digest
    assert _siblings(path) == ["app.db"]  # no WAL, no shared memory, no journal


async def test_memvault_open_refuses_a_foreign_file_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    digest = _foreign(path, *FOREIGN_SCHEMAS["unrelated tables"])
    with pytest.raises(ConfigError, match="is not a memvault store"):
        async with Memvault.open(path, embedder="none", user_id="alice") as mv:
            await mv.add("never stored")
    assert _digest(path) == digest
    assert _siblings(path) == ["app.db"]


def test_the_file_check_before_serving_refuses_a_foreign_file(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    digest = _foreign(path, *FOREIGN_SCHEMAS["a memories table"])
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))} is not a memvault store"):
        check_file_keys([f"sqlite:///{path}"], None)
    assert _digest(path) == digest


@pytest.mark.parametrize("order", [("episodic", "profile", "working"),
                                   ("working", "profile", "episodic"),
                                   ("profile", "working", "episodic")],
                         ids=lambda order: order[0] + "-first")
@pytest.mark.parametrize("start", ["missing", "empty", "no tables"])
async def test_a_new_file_becomes_a_store_whichever_role_opens_it_first(
    tmp_path: Path, order: tuple[str, ...], start: str
) -> None:
    path = tmp_path / "new.db"
    if start == "empty":
        path.touch()
    elif start == "no tables":  # a SQLite header, no schema object
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA user_version = 7")
        conn.close()
    stores = [ROLES[role](f"sqlite:///{path}") for role in order]
    try:
        for store in stores:
            await store.open()
        for store in stores:
            assert (await store.status()).ok
    finally:
        for store in stores:
            await store.close()
    with sqlite3.connect(path) as conn:
        components = {r[0] for r in conn.execute("SELECT component FROM schema_migrations")}
    conn.close()
    assert components == set(ROLES)
    again = SqliteEpisodicStore(f"sqlite:///{path}")  # reopened: its own store, not foreign
    await again.open()
    await again.close()


async def test_a_file_holding_one_roles_tables_is_a_store_to_the_other_roles(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.db"
    first = SqliteProfileStore(f"sqlite:///{path}")
    await first.open()
    await first.close()
    second = SqliteEpisodicStore(f"sqlite:///{path}")
    await second.open()
    try:
        assert await second.count(None) == 0
    finally:
        await second.close()


async def test_a_text_file_is_said_to_be_no_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("hello, not a database\n")
    for role, cls in ROLES.items():
        store = cls(f"sqlite:///{path}")
        with pytest.raises(ConfigError) as refused:
            await store.open()
        await store.close()
        assert not isinstance(refused.value, EncryptionError)
        assert str(refused.value) == (
            f"the {role} store {path} is not a SQLite database, plain or encrypted "
            "(22 bytes, shorter than a page): fix the path")
    assert path.read_text() == "hello, not a database\n"


async def test_random_bytes_are_said_to_be_encrypted_or_no_database(tmp_path: Path) -> None:
    path = tmp_path / "noise.db"
    noise = os.urandom(4096)
    path.write_bytes(noise)
    store = SqliteEpisodicStore(f"sqlite:///{path}")
    with pytest.raises(EncryptionError) as refused:
        await store.open()
    await store.close()
    message = str(refused.value)
    assert message.startswith(f"the episodic store {path} is encrypted, or is not a database, "
                              "and no encryption key is configured: give its key ("), message
    assert message.endswith(") if it is encrypted, or fix the path")
    assert path.read_bytes() == noise


# -- with SQLCipher ----------------------------------------------------------------------------


def _sqlcipher() -> None:
    pytest.importorskip("sqlcipher3", reason="the encryption extra (sqlcipher3) is not installed")


async def test_random_bytes_with_a_key_are_said_to_be_under_another_key_or_no_database(
    tmp_path: Path,
) -> None:
    _sqlcipher()
    from memvault.stores.sqlite.convert import key_of

    path = tmp_path / "noise.db"
    path.write_bytes(os.urandom(4096))
    keys = KeySet(Key(KEY, "test key"))
    store = SqliteEpisodicStore(f"sqlite:///{path}", keys=keys)
    with pytest.raises(EncryptionError, match="encrypted under another key, or is not a database"):
        await store.open()
    await store.close()
    with pytest.raises(EncryptionError, match=r"encrypted under none of the configured keys "
                                              r"\(test key\), or is not a database$"):
        key_of(path, keys.all)
    short = tmp_path / "notes.db"
    short.write_text("hello, not a database\n")
    with pytest.raises(ConfigError, match="is not a SQLite database, plain or encrypted"):
        key_of(short, keys.all)


async def test_an_encrypted_foreign_file_is_refused_and_an_encrypted_store_opens(
    tmp_path: Path,
) -> None:
    _sqlcipher()
    from memvault.stores.sqlite import cipher

    keys = KeySet(Key(KEY, "test key"))
    foreign = tmp_path / "app.db"
    conn = cipher.driver().connect(str(foreign))
    conn.execute(cipher.key_pragma(keys.current))
    conn.execute("CREATE TABLE things (x)")
    conn.commit()
    conn.close()
    digest = _digest(foreign)
    store = SqliteWorkingStore(f"sqlite:///{foreign}", keys=keys)
    with pytest.raises(ConfigError, match="is not a memvault store"):
        await store.open()
    await store.close()
    with pytest.raises(ConfigError, match="is not a memvault store"):
        check_file_keys([f"sqlite:///{foreign}"], keys)
    assert _digest(foreign) == digest

    path = tmp_path / "vault.db"
    stores = [cls(f"sqlite:///{path}", keys=keys) for cls in ROLES.values()]
    try:
        for one in stores:
            await one.open()
    finally:
        for one in stores:
            await one.close()
    check_file_keys([f"sqlite:///{path}"], keys)
    assert cipher.is_encrypted(path)


def test_encrypt_refuses_a_foreign_file_and_leaves_it_unchanged(tmp_path: Path) -> None:
    _sqlcipher()
    from memvault.stores.sqlite.convert import reencrypt

    path = tmp_path / "app.db"
    digest = _foreign(path, *FOREIGN_SCHEMAS["unrelated tables"])
    with pytest.raises(ConfigError, match="is not a memvault store"):
        reencrypt(path, KeySet(Key(KEY, "test key")), "encrypt")
    assert _digest(path) == digest
    assert _siblings(path) == ["app.db"]
