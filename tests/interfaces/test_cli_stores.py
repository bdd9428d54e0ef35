"""What the ``memvault`` console script refuses about its stores: another embedder's vectors,
a database path whose directory does not exist, another application's SQLite file (left
unchanged), a file that is not SQLite; and ``doctor`` creating no store that does not exist."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest

from memvault import SyncMemvault
from memvault.config import Config
from tests.core.fakes import HashEmbedder
from tests.interfaces.mcp_harness import MEMVAULT, clean_env

pytestmark = pytest.mark.timeout(60)


def memvault(tmp_path: Path, *args: str, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MEMVAULT), *args], capture_output=True, text=True, timeout=30, cwd=tmp_path,
        env=clean_env({"XDG_DATA_HOME": str(tmp_path / "xdg"), **(env or {})}),
        stdin=subprocess.DEVNULL,
    )


def test_add_refuses_a_store_made_by_another_embedder(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    config = Config.from_flat({"database": str(db), "user_id": "alice"})
    with SyncMemvault(config, embedder=HashEmbedder("other")) as mv:
        mv.add("embedded elsewhere")
        assert mv.wait_for_vectors(20)
    result = memvault(tmp_path, "--database", str(db), "--user", "alice",
                      "--embedder", "local", "add", "a new memory")
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    assert "this store's vectors come from test:other" in result.stderr, result.stderr
    assert "memvault reembed" in result.stderr
    with SyncMemvault(config, embedder=None) as mv:
        assert [m.content for m in mv.list().items] == ["embedded elsewhere"]
    # Without an embedder the add is lexical-only, as a server with none would do.
    assert memvault(tmp_path, "--database", str(db), "--user", "alice", "--embedder",
                    "none", "add", "lexical").returncode == 0


@pytest.mark.parametrize("command", [["add", "x"], ["list"], ["doctor"]])
def test_a_database_in_a_missing_directory_is_an_error(
    tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    result = memvault(tmp_path, "--database", str(missing / "x.db"), "--embedder", "none",
                      "--user", "alice", *command)
    assert result.returncode == 1, result.stdout
    output = result.stdout if command == ["doctor"] else result.stderr
    assert f"the directory {missing} does not exist" in output, output
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "no").exists()


def test_the_default_data_directory_is_created(tmp_path: Path) -> None:
    result = memvault(tmp_path, "--embedder", "none", "--user", "alice", "add", "first")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "xdg" / "memvault" / "memvault.db").exists()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("command", [["add", "x"], ["doctor"], ["serve"]])
def test_another_applications_sqlite_file_is_refused_and_left_unchanged(
    tmp_path: Path, command: list[str]
) -> None:
    app = tmp_path / "app.db"
    with sqlite3.connect(app) as conn:
        conn.execute("CREATE TABLE memories (x)")
        conn.execute("INSERT INTO memories VALUES ('kept by the application')")
    conn.close()
    digest = _digest(app)
    result = memvault(tmp_path, "--database", str(app), "--embedder", "none", "--user", "alice",
                      *command)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    refusal = f"{app} is not a memvault store: it holds another application's tables"
    if command == ["doctor"]:
        for role in ("episodic", "profile", "working"):
            assert re.search(rf"^\[DOWN\] {role}\s+{re.escape(refusal)}", result.stdout,
                             re.MULTILINE), result.stdout
    else:
        assert result.stdout == ""  # nothing stored, nothing served
        [line] = result.stderr.splitlines()
        assert line.startswith(f"Error: {refusal}"), line
    assert _digest(app) == digest
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("app.db")) == [
        "app.db"]


def test_doctor_creates_no_store_that_does_not_exist(tmp_path: Path) -> None:
    typo = tmp_path / "mem-vault.db"
    result = memvault(tmp_path, "--database", str(typo), "--embedder", "none", "--user",
                      "alice", "doctor")
    assert result.returncode == 0, (result.stdout, result.stderr)
    for role in ("episodic", "profile", "working"):
        assert re.search(rf"^\[none\] {role}\s+sqlite\s+{re.escape(str(typo))}\s+the file does "
                         r"not exist yet: the store is created on first use$", result.stdout,
                         re.MULTILINE), result.stdout
    assert "vectors:    0 of 0 memories" in result.stdout
    assert not typo.exists()
    # The default data directory is not made either, until a first use.
    result = memvault(tmp_path, "--embedder", "none", "--user", "alice", "doctor")
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "[none] episodic" in result.stdout
    assert not (tmp_path / "xdg").exists()
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_is_not_sqlite_is_said_to_be_encrypted_or_no_database(
    tmp_path: Path,
) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("hello, not a database\n")
    result = memvault(tmp_path, "--database", str(notes), "--embedder", "none", "doctor")
    assert result.returncode == 1
    assert (f"[DOWN] episodic  the episodic store {notes} is not a SQLite database, plain or "
            "encrypted (22 bytes, shorter than a page): fix the path") in result.stdout
    noise = tmp_path / "noise.db"
    noise.write_bytes(os.urandom(8192))
    result = memvault(tmp_path, "--database", str(noise), "--embedder", "none", "add", "x")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: the episodic store {noise} is encrypted, or is not a "
                           "database, and no encryption key is configured"), line
    assert line.endswith("if it is encrypted, or fix the path"), line
    pytest.importorskip("sqlcipher3", reason="the encryption extra is not installed")
    result = memvault(tmp_path, "--database", str(noise), "encrypt",
                      env={"MEMVAULT_ENCRYPTION_KEY": "a passphrase of the test, long"})
    assert result.returncode == 1
    assert result.stderr == (f"Error: {noise} is encrypted under none of the configured keys "
                             "(MEMVAULT_ENCRYPTION_KEY), or is not a database\n")
