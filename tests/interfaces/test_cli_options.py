"""Global options (``--database``, ``--user``, ``--embedder``…) before or after the command."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from memvault.interfaces.cli.main import cli
from tests.interfaces.mcp_harness import MEMVAULT, STARTUP_TIMEOUT, LineReader, clean_env

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("MEMVAULT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def after(command: list[str], db: Path, user: str = "alice") -> Result:
    """``memvault COMMAND… --database DB --embedder none --user USER``."""
    result = CliRunner().invoke(cli, [*command, "--database", str(db), "--embedder=none",
                                      "-u", user])
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def test_every_command_takes_the_global_options_after_it(tmp_path: Path) -> None:
    db = tmp_path / "after.db"
    export = tmp_path / "out.jsonl"
    memory_id = after(["add", "Lisbon in May", "--profile", '{"city": "Lisbon"}',
                       "-s", "s1"], db).stdout.strip()
    assert after(["add", "bob's", "-s", "s1"], db, user="bob").stdout.strip()
    assert memory_id in after(["search", "Lisbon", "--json"], db).stdout
    page = json.loads(after(["list", "--json"], db).stdout)
    assert [m["id"] for m in page["items"]] == [memory_id]
    # list's own --working flag stays list's, and the global --working would take a URL
    assert memory_id in after(["list", "--working", "-s", "s1"], db).stdout
    assert "city = \"Lisbon\"" in after(["profile"], db).stdout
    assert "user:       alice" in after(["doctor"], db).stdout
    after(["export", str(export)], db)
    fresh = tmp_path / "fresh.db"
    assert "imported 1 memories" in after(["import", str(export)], fresh).stdout
    assert "deleted 1 memories" in after(["delete-all", "--yes"], fresh).stdout
    result = CliRunner().invoke(cli, ["reembed", "--yes", "--database", str(db),
                                      "--embedder", "none"])
    assert "Error: no embedder is configured" in result.stderr  # the option was read


def test_options_before_and_after_the_command_mix(tmp_path: Path) -> None:
    db = tmp_path / "mixed.db"
    first = CliRunner().invoke(cli, ["--database", str(db), "add", "tea", "--user=zed",
                                     "--embedder", "none"])
    assert first.exit_code == 0, first.stderr
    listed = CliRunner().invoke(cli, ["-uzed", "list", "--json", f"--database={db}",
                                      "--embedder", "none"])
    assert json.loads(listed.stdout)["items"][0]["content"] == "tea"


def test_serve_takes_the_global_options_after_it(tmp_path: Path) -> None:
    """A desktop client's ``"args": ["serve", "--database", "…"]``."""
    db = tmp_path / "served.db"
    frames = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "add_memory", "arguments": {"content": "served memory"}}},
    ]
    process = subprocess.Popen(
        [str(MEMVAULT), "serve", "--database", str(db), "--user", "alice",
         "--embedder", "none"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        encoding="utf-8", env=clean_env(), cwd=tmp_path,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    assert process.stderr is not None
    stdout, stderr = LineReader(process.stdout), LineReader(process.stderr)
    try:
        process.stdin.write("".join(json.dumps(f) + "\n" for f in frames))
        process.stdin.flush()
        reply = stdout.wait_for(r'"id": ?2\b', STARTUP_TIMEOUT)
        assert reply is not None, stderr.text()
        assert '"error"' not in stdout.text(), stdout.text()
        process.stdin.close()
        assert process.wait(timeout=STARTUP_TIMEOUT) == 0, stderr.text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        stdout.join()
        stderr.join()
    assert "No such option" not in stderr.text()
    listed = CliRunner().invoke(cli, ["list", "--database", str(db), "--user", "alice",
                                      "--embedder", "none"])
    assert "served memory" in listed.stdout
