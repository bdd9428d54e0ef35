"""One-shot commands stop their background work before the process exits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from memvault import SyncMemvault
from tests.interfaces.mcp_harness import MEMVAULT, clean_env

pytest.importorskip("sentence_transformers")

#: Enough memories without a vector that embedding them is still running when the search is
#: done (the background backfill embeds 256 at a time).
MEMORIES = 1_500


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_search_exits_cleanly_while_memories_wait_for_vectors(tmp_path: Path) -> None:
    db = tmp_path / "lexical.db"
    with SyncMemvault.open(db, user_id="alice", embedder="none") as mv:
        mv.add_many([{"content": f"note {i}: the meeting about topic {i % 97} went well"}
                     for i in range(MEMORIES)])
    result = subprocess.run(
        [str(MEMVAULT), "--database", str(db), "--user", "alice", "--embedder", "local",
         "search", "meeting"],
        capture_output=True, text=True, timeout=150, cwd=tmp_path, env=clean_env(),
    )
    assert "terminate called" not in result.stderr
    assert result.returncode == 0, result.stderr[-2000:]
    assert "meeting about topic" in result.stdout


def test_python_dash_m_memvault_is_the_command(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    run = [sys.executable, "-m", "memvault", "--database", str(db), "--user", "alice",
           "--embedder", "none"]
    added = subprocess.run([*run, "add", "through python -m"], capture_output=True, text=True,
                           timeout=60, cwd=tmp_path, env=clean_env())
    assert added.returncode == 0, added.stderr
    listed = subprocess.run([*run, "list"], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path, env=clean_env())
    assert "through python -m" in listed.stdout
