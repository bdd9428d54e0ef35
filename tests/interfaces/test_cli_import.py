"""`memvault import --from ...` and `memvault export --to markdown` from the shell,
including an import killed midway (kill -9) and run again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from memvault import SyncMemvault
from memvault.interfaces.cli.main import cli
from memvault.interfaces.cli.transfer import PAUSE_ENV
from tests.interfaces.mcp_harness import MEMVAULT, clean_env

FIXTURES = Path(__file__).parent.parent / "fixtures" / "import"


def run(db: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--database", str(db), "--user", "alice",
                                      "--embedder", "none", *args])
    return result.exit_code, result.stdout, result.stderr


def count(db: Path) -> int:
    with SyncMemvault.open(db, user_id="alice", embedder="none") as mv:
        return mv.count()


def test_import_from_each_format_then_again(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    code, out, err = run(db, "import", "--from", "chatgpt", str(FIXTURES / "chatgpt"))
    assert code == 0, err
    assert "imported 7 memories and 0 profile facts (0 already present)" in out
    code, out, _ = run(db, "import", "--from", "chatgpt", str(FIXTURES / "chatgpt"))
    assert "imported 0 memories and 0 profile facts (7 already present)" in out
    code, out, err = run(db, "import", "--from", "csv", "--map",
                         "content=text,occurred_at=ts,session_id=conv",
                         str(FIXTURES / "table" / "notes.csv"))
    assert code == 0, err
    assert "imported 3 memories" in out
    assert count(db) == 10


def test_a_bad_record_is_named_and_nothing_imported(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    bad = tmp_path / "conversations.json"
    data = json.loads((FIXTURES / "claude" / "conversations.json").read_text())
    data[1]["chat_messages"][0]["created_at"] = "soon"
    bad.write_text(json.dumps(data))
    code, _, err = run(db, "import", "--from", "claude", str(bad))
    assert code == 1
    assert "conversations.json: conversation 2, message 1: created_at is not a timestamp" in err
    assert count(db) == 0
    code, out, err = run(db, "import", "--from", "claude", "--skip-invalid", str(bad))
    assert code == 0
    assert "skipped conversations.json: conversation 2, message 1" in err
    assert "1 invalid records skipped" in out


def test_a_bad_mapping_is_a_one_line_error(tmp_path: Path) -> None:
    code, _, err = run(tmp_path / "m.db", "import", "--from", "csv", "--map", "body",
                       str(FIXTURES / "table" / "notes.csv"))
    assert code == 1
    assert "map: 'body' is not FIELD=COLUMN" in err


#: Deeper than Python's JSON parser reads (it raises RecursionError).
TOO_DEEP = '{"a": ' * 1000 + "1" + "}" * 1000


@pytest.mark.parametrize(
    ("source", "name", "text", "said"),
    [
        ("csv", "notes.csv", 'content,metadata\nx,"' + TOO_DEEP.replace('"', '""') + '"\n',
         "notes.csv: line 2: metadata is nested too deep: at most 64 levels"),
        ("jsonl", "rows.jsonl", '{"content": "x", "metadata": ' + TOO_DEEP + "}\n",
         "rows.jsonl: line 1: metadata is nested too deep: at most 64 levels"),
        ("markdown", "note.md", '# x\n<!-- memvault {"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", '
         '"metadata": ' + TOO_DEEP + "} -->\nbody\n",
         "note.md: section 1: the memvault marker's metadata is nested too deep: at most 64 "
         "levels"),
        ("mem0", "mem0.json", '{"results": ' + TOO_DEEP + "}",
         "mem0.json: results is nested too deep: at most 64 levels"),
        ("chatgpt", "conversations.json", "[" * 1000 + "]" * 1000,
         "conversations.json: nested too deep: at most 64 levels"),
    ],
    ids=["csv", "jsonl-map", "markdown", "mem0", "chatgpt"],
)
def test_json_too_deep_to_parse_is_named(tmp_path: Path, source: str, name: str, text: str,
                                         said: str) -> None:
    db = tmp_path / "m.db"
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    mapping = ["--map", "content=content"] if source == "jsonl" else []
    code, _, err = run(db, "import", "--from", source, *mapping, str(path))
    assert code == 1
    assert err.splitlines()[0] == f"Error: {said}"
    assert "Traceback" not in err
    assert count(db) == 0


def test_export_to_markdown_and_back(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    run(db, "import", "--from", "claude", str(FIXTURES / "claude"))
    code, _, err = run(db, "export", "--to", "markdown", str(tmp_path / "notes"))
    assert code == 0, err
    assert "wrote 3 notes" in err
    code, out, _ = run(db, "import", "--from", "markdown", str(tmp_path / "notes"))
    assert "imported 0 memories and 0 profile facts (5 already present)" in out


def _conversations(path: Path, messages: int) -> None:
    mapping: dict[str, object] = {"root": {"id": "root", "message": None, "parent": None,
                                           "children": ["m0"]}}
    for i in range(messages):
        mapping[f"m{i}"] = {
            "id": f"m{i}", "parent": "root" if i == 0 else f"m{i - 1}",
            "children": [f"m{i + 1}"] if i + 1 < messages else [],
            "message": {"id": f"m{i}", "author": {"role": "user" if i % 2 == 0 else
                                                  "assistant"},
                        "create_time": 1714550400.0 + i,
                        "content": {"content_type": "text",
                                    "parts": [f"turn {i} about topic {i % 7}"]}},
        }
    path.write_text(json.dumps([{"id": "conv-1", "title": "Long chat", "mapping": mapping,
                                 "current_node": f"m{messages - 1}",
                                 "create_time": 1714550400.0}]))


@pytest.mark.timeout(180)
def test_an_import_killed_midway_is_finished_by_running_it_again(tmp_path: Path) -> None:
    db, source, flag = tmp_path / "m.db", tmp_path / "conversations.json", tmp_path / "flag"
    _conversations(source, 40)
    os.mkfifo(flag)
    args = [str(MEMVAULT), "--database", str(db), "--user", "alice", "--embedder", "none",
            "import", "--from", "chatgpt", "--batch-size", "5", str(source)]
    proc = subprocess.Popen(args, env=clean_env({PAUSE_ENV: f"2:{flag}"}), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    said: list[str] = []
    reader = threading.Thread(target=lambda: said.append(flag.read_text()), daemon=True)
    reader.start()
    reader.join(timeout=120)  # the import opens the fifo once its 2nd batch is stored
    try:
        assert said == ["10"], proc.stderr.read().decode() if proc.poll() is not None else ""
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert count(db) == 10
    again = subprocess.run(args, env=clean_env(), cwd=tmp_path, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "imported 30 memories and 0 profile facts (10 already present)" in again.stdout
    assert count(db) == 40
    once_more = subprocess.run(args, env=clean_env(), cwd=tmp_path, capture_output=True,
                               text=True, timeout=120)
    assert "imported 0 memories and 0 profile facts (40 already present)" in once_more.stdout
