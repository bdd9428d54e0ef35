"""``memvault import`` validates like an add, imports into the user it is told to, and fills
the vectors a previous run left out. Driven through the ``memvault`` console script.

Contracts pinned here:

* Every line of the file goes through the same validation as an add: a memory line with an
  empty ``user_id`` or ``content``, a NUL in the content, a newline in ``session_id``, NaN in
  its metadata or a lone surrogate (as a JSON escape, or as bytes that are not UTF-8), and a
  profile fact line with a lone surrogate, are each reported on stderr as ``line N`` with
  the field at fault, never as a traceback.
* All or nothing per file: when any line is bad, nothing is imported and the exit status is
  non-zero. With ``import --skip-invalid`` the good lines are imported, the bad ones reported
  the same way, and the exit status is zero.
* ``memvault --user zed import FILE`` imports the file's memories and profile facts as zed's,
  whoever exported them.
* Importing again after the vectors were not computed (the first run had ``--embedder none``)
  computes the missing ones: afterwards every memory has its vector (counted with the
  episodic store's ``count``/``count_embeddings``).
* Through the SDK, ``import_lines`` refuses a line with a lone surrogate with
  :class:`~memvault.InvalidInput` naming the line and the field, importing nothing.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest

from memvault import InvalidInput, SyncMemvault
from memvault.stores.registry import open_episodic
from tests.interfaces.mcp_harness import MEMVAULT, clean_env

pytestmark = pytest.mark.timeout(300)

GOOD = ("Anna likes tea", "Anna moved to Lisbon", "Anna works at the harbour")


def memvault(tmp_path: Path, database: Path, *args: str, user: str = "alice",
             embedder: str = "none") -> subprocess.CompletedProcess[str]:
    command = [str(MEMVAULT), "--database", str(database), "--user", user,
               "--embedder", embedder, *args]
    return subprocess.run(
        command, capture_output=True, text=True, encoding="utf-8", errors="replace",
        env=clean_env({"XDG_DATA_HOME": str(tmp_path / "xdg")}), cwd=tmp_path, timeout=240,
        check=False,
    )


def listed(tmp_path: Path, database: Path, user: str) -> list[dict[str, Any]]:
    result = memvault(tmp_path, database, "list", "--json", "-n", "100", user=user)
    assert result.returncode == 0, result.stderr
    items: list[dict[str, Any]] = json.loads(result.stdout)["items"]
    return items


def profile_of(tmp_path: Path, database: Path, user: str) -> list[dict[str, Any]]:
    result = memvault(tmp_path, database, "profile", "--json", user=user)
    assert result.returncode == 0, result.stderr
    facts: list[dict[str, Any]] = json.loads(result.stdout)["facts"]
    return facts


def export_lines(tmp_path: Path, contents: tuple[str, ...] = GOOD) -> list[str]:
    """An export of alice's memories (one profile fact each) from a database of its own."""
    with SyncMemvault.open(tmp_path / "source.db", user_id="alice", embedder="none") as mv:
        for index, content in enumerate(contents):
            mv.add(content, session_id="chat", profile={f"fact{index}": content})
        return mv.export()


def _memory_line(template: str, memory_id: str, **changes: Any) -> str:
    record = {**json.loads(template), "id": memory_id, **changes}
    return json.dumps(record)  # NaN stays NaN; lone surrogates become \\ud800 escapes


def _file_with_bad_lines(tmp_path: Path, *, surrogates: bool = True
                         ) -> tuple[Path, dict[int, str], int]:
    """An export with bad lines among the good ones (those with lone surrogates only if
    ``surrogates``): the file, {line number: field at fault} and how many memory lines are
    good."""
    lines = export_lines(tmp_path)
    memories = [line for line in lines if json.loads(line)["type"] == "memory"]
    facts = [line for line in lines if json.loads(line)["type"] == "profile_fact"]
    template = memories[0]
    bad: list[tuple[bytes, str]] = [
        (_memory_line(template, "bad-user", user_id="").encode(), "user_id"),
        (_memory_line(template, "bad-empty", content="").encode(), "content"),
        (_memory_line(template, "bad-nul", content="Anna \x00 likes tea").encode(), "content"),
        (_memory_line(template, "bad-session", session_id="chat\nother").encode(),
         "session_id"),
        (_memory_line(template, "bad-nan", metadata={"score": float("nan")}).encode(),
         "metadata"),
        (_memory_line(template, "bad-surrogate", content="Anna \ud800 tea").encode(),
         "content"),
        (_memory_line(template, "bad-bytes", content="Anna @@ tea").encode()
         .replace(b"@@", b"\xed\xa0\x80"), "line"),
        (json.dumps({**json.loads(facts[0]), "id": "bad-fact", "key": "city",
                     "value": "\ud800"}).encode(), "value"),
    ]
    if not surrogates:
        bad = bad[:5]
    goods = [line.encode() for line in [*memories[1:], *facts]]
    body: list[bytes] = [lines[0].encode(), memories[0].encode()]
    expected: dict[int, str] = {}
    for line, field in bad:  # each bad line followed by a good one while there are some
        body.append(line)
        expected[len(body)] = field
        if goods:
            body.append(goods.pop(0))
    body += goods
    path = tmp_path / "with-bad-lines.jsonl"
    path.write_bytes(b"\n".join(body) + b"\n")
    return path, expected, len(memories)


def _assert_reported(stderr: str, expected: dict[int, str]) -> None:
    assert "Traceback" not in stderr, stderr
    for number, field in expected.items():
        lines = [line for line in stderr.splitlines() if re.search(rf"\bline {number}\b", line)]
        assert lines, f"line {number} is not reported:\n{stderr}"
        assert any(field in line for line in lines), (
            f"line {number} is reported without naming {field!r}:\n{stderr}")


@pytest.mark.parametrize("surrogates", [False, True], ids=["valid-unicode", "surrogates"])
def test_a_file_with_bad_lines_imports_nothing(tmp_path: Path, surrogates: bool) -> None:
    path, expected, _ = _file_with_bad_lines(tmp_path, surrogates=surrogates)
    target = tmp_path / "target.db"
    result = memvault(tmp_path, target, "import", str(path))
    assert result.returncode != 0, (result.stdout, result.stderr)
    _assert_reported(result.stderr, expected)
    assert listed(tmp_path, target, "alice") == []
    assert profile_of(tmp_path, target, "alice") == []
    everything = memvault(tmp_path, target, "export", "--all-users")
    assert everything.returncode == 0, everything.stderr
    assert [json.loads(line)["type"] for line in everything.stdout.splitlines()] == [
        "header", "end"]


def test_skip_invalid_imports_the_good_lines(tmp_path: Path) -> None:
    path, expected, good = _file_with_bad_lines(tmp_path)
    target = tmp_path / "target.db"
    result = memvault(tmp_path, target, "import", "--skip-invalid", str(path))
    assert result.returncode == 0, (result.stdout, result.stderr)
    _assert_reported(result.stderr, expected)
    memories = listed(tmp_path, target, "alice")
    assert sorted(m["content"] for m in memories) == sorted(GOOD)
    assert len(memories) == good
    assert all(not m["id"].startswith("bad-") for m in memories)
    facts = profile_of(tmp_path, target, "alice")
    assert sorted(f["key"] for f in facts) == [f"fact{i}" for i in range(len(GOOD))]


def test_user_option_imports_into_that_user(tmp_path: Path) -> None:
    path = tmp_path / "alice.jsonl"
    path.write_text("\n".join(export_lines(tmp_path)) + "\n", encoding="utf-8")
    target = tmp_path / "target.db"
    result = memvault(tmp_path, target, "import", str(path), user="zed")
    assert result.returncode == 0, result.stderr
    assert sorted(m["content"] for m in listed(tmp_path, target, "zed")) == sorted(GOOD)
    assert {m["user_id"] for m in listed(tmp_path, target, "zed")} == {"zed"}
    assert sorted(f["key"] for f in profile_of(tmp_path, target, "zed")) == [
        f"fact{i}" for i in range(len(GOOD))]
    assert listed(tmp_path, target, "alice") == []
    assert profile_of(tmp_path, target, "alice") == []


async def _vector_counts(database: Path) -> tuple[int, int]:
    store = open_episodic(f"sqlite:///{database}")
    await store.open()
    try:
        return await store.count(), await store.count_embeddings()
    finally:
        await store.close()


@pytest.mark.skipif(importlib.util.find_spec("sentence_transformers") is None,
                    reason="the local extra is not installed")
def test_importing_again_fills_the_missing_vectors(tmp_path: Path) -> None:
    contents = tuple(f"Memory number {i} about the harbour" for i in range(40))
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(export_lines(tmp_path, contents)) + "\n", encoding="utf-8")
    target = tmp_path / "target.db"

    first = memvault(tmp_path, target, "import", str(path), embedder="none")
    assert first.returncode == 0, first.stderr
    assert anyio.run(_vector_counts, target) == (40, 0)

    again = memvault(tmp_path, target, "import", str(path), embedder="local")
    assert anyio.run(_vector_counts, target) == (40, 40), (
        f"the second import left vectors missing; it said: {again.stdout}{again.stderr}")
    assert again.returncode == 0, again.stderr


def test_sdk_import_refuses_a_lone_surrogate_naming_line_and_field(tmp_path: Path) -> None:
    lines = export_lines(tmp_path)
    bad = _memory_line(lines[1], "bad-surrogate", content="Anna \ud800 tea")
    with SyncMemvault.open(tmp_path / "target.db", user_id="alice", embedder="none") as mv:
        with pytest.raises(InvalidInput) as caught:
            mv.import_lines([lines[0], lines[1], bad])
        message = str(caught.value)
        assert re.search(r"\bline 3\b", message), message
        assert "content" in message, message
        assert mv.list(limit=10).items == []
