"""install.sh, run for real against a temporary HOME.

Most tests only configure the clients (``--no-install --configure --yes`` with ``MEMVAULT_BIN``
pointing at a stub), so nothing is downloaded. One test installs this checkout into a
virtualenv the way a user without pipx or uv would get it.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "install.sh"
BASH = shutil.which("bash")
PYTHON3 = shutil.which("python3")

pytestmark = [
    pytest.mark.skipif(os.name == "nt", reason="install.sh is for Linux and macOS"),
    pytest.mark.skipif(BASH is None, reason="bash is not installed"),
    pytest.mark.skipif(PYTHON3 is None, reason="python3 is not on PATH"),
]


def claude_config(home: Path) -> Path:
    if platform.system() == "Darwin":
        return home / "Library/Application Support/Claude/claude_desktop_config.json"
    return home / ".config/Claude/claude_desktop_config.json"


def cursor_config(home: Path) -> Path:
    return home / ".cursor/mcp.json"


def backups(config: Path) -> list[Path]:
    return sorted(config.parent.glob(config.name + ".bak-*"))


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("XDG_", "MEMVAULT_"))
    }
    env["HOME"] = str(home)
    env.update(extra)
    return env


def run_install(
    home: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    script: Path = SCRIPT,
) -> subprocess.CompletedProcess[str]:
    assert BASH is not None
    return subprocess.run(
        [BASH, str(script), *args],
        env=env if env is not None else clean_env(home),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def fake_bin(home: Path) -> Path:
    """A stand-in for an installed memvault executable."""
    path = home / "opt/memvault/bin/memvault"
    path.parent.mkdir(parents=True)
    path.write_text("#!/bin/sh\necho 'memvault (fake)'\n")
    path.chmod(0o755)
    return path


def configure(home: Path, fake_bin: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(home, MEMVAULT_BIN=str(fake_bin))
    return run_install(home, "--no-install", "--configure", "--yes", *args, env=env)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_creates_both_configs_when_missing(home: Path, fake_bin: Path) -> None:
    result = configure(home, fake_bin)

    assert result.returncode == 0, result.stderr
    for path, agent in ((claude_config(home), "claude-desktop"), (cursor_config(home), "cursor")):
        assert read_json(path) == {
            "mcpServers": {
                "memvault": {
                    "command": str(fake_bin),
                    "args": ["serve"],
                    "env": {"MEMVAULT_AGENT_ID": agent},
                }
            }
        }
        assert backups(path) == []
        assert str(path) in result.stdout


def test_merges_into_existing_config_and_keeps_a_backup(home: Path, fake_bin: Path) -> None:
    path = claude_config(home)
    path.parent.mkdir(parents=True)
    old = {
        "globalShortcut": "Ctrl+Space",
        "mcpServers": {
            "filesystem": {
                "command": "npx",
                "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
            },
        },
        "preferences": {"theme": "dark"},
    }
    old_text = json.dumps(old, indent=4) + "\n"
    path.write_text(old_text, encoding="utf-8")

    result = configure(home, fake_bin)

    assert result.returncode == 0, result.stderr
    merged = read_json(path)
    assert merged["globalShortcut"] == "Ctrl+Space"
    assert merged["preferences"] == {"theme": "dark"}
    assert merged["mcpServers"]["filesystem"] == old["mcpServers"]["filesystem"]
    assert merged["mcpServers"]["memvault"]["command"] == str(fake_bin)
    assert merged["mcpServers"]["memvault"]["args"] == ["serve"]
    assert list(merged["mcpServers"]) == ["filesystem", "memvault"]
    [backup] = backups(path)
    assert backup.read_text(encoding="utf-8") == old_text
    assert str(backup) in result.stdout


def test_replaces_an_old_memvault_entry_but_keeps_its_env(home: Path, fake_bin: Path) -> None:
    path = cursor_config(home)
    path.parent.mkdir(parents=True)
    old = {
        "mcpServers": {
            "memvault": {
                "command": "memvault",
                "args": ["serve"],
                "env": {"MEMVAULT_DB": "/data/mv.db"},
            }
        }
    }
    path.write_text(json.dumps(old), encoding="utf-8")

    result = configure(home, fake_bin)

    assert result.returncode == 0, result.stderr
    assert read_json(path)["mcpServers"]["memvault"] == {
        "command": str(fake_bin),
        "args": ["serve"],
        "env": {"MEMVAULT_AGENT_ID": "cursor", "MEMVAULT_DB": "/data/mv.db"},
    }
    assert len(backups(path)) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"mcpServers": {"other": {"command": "x"},}\n', "not valid JSON"),
        ('["not", "an", "object"]\n', "not a JSON object"),
        ('{"mcpServers": ["x"]}\n', '"mcpServers" is not a JSON object'),
    ],
)
def test_refuses_a_config_it_cannot_merge(
    home: Path, fake_bin: Path, content: str, message: str
) -> None:
    path = claude_config(home)
    path.parent.mkdir(parents=True)
    path.write_text(content, encoding="utf-8")
    before = path.stat()

    result = configure(home, fake_bin)

    assert result.returncode != 0
    assert message in result.stderr
    assert str(path) in result.stderr
    assert path.read_text(encoding="utf-8") == content
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    assert backups(path) == []
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left
    # The other client is still configured.
    assert read_json(cursor_config(home))["mcpServers"]["memvault"]["command"] == str(fake_bin)


def test_running_twice_is_idempotent(home: Path, fake_bin: Path) -> None:
    path = claude_config(home)
    path.parent.mkdir(parents=True)
    path.write_text('{"mcpServers": {"other": {"command": "x"}}}', encoding="utf-8")

    first = configure(home, fake_bin)
    after_first = {p: p.read_bytes() for p in (path, cursor_config(home))}
    second = configure(home, fake_bin)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert {p: p.read_bytes() for p in after_first} == after_first
    for config in after_first:
        assert config.read_text(encoding="utf-8").count('"memvault"') == 1
        assert list(read_json(config)["mcpServers"]).count("memvault") == 1
    assert len(backups(path)) == 1  # from the first run only
    assert backups(cursor_config(home)) == []
    assert "unchanged" in second.stdout


def test_without_a_terminal_it_leaves_configs_alone_unless_asked(
    home: Path, fake_bin: Path
) -> None:
    env = clean_env(home, MEMVAULT_BIN=str(fake_bin))

    result = run_install(home, "--no-install", env=env)

    assert result.returncode == 0, result.stderr
    assert not claude_config(home).exists()
    assert not cursor_config(home).exists()
    assert "--configure" in result.stdout


def test_honours_xdg_config_home_on_linux(home: Path, fake_bin: Path) -> None:
    if platform.system() == "Darwin":
        pytest.skip("macOS keeps Claude's config under ~/Library")
    xdg = home / "xdg-config"
    env = clean_env(home, MEMVAULT_BIN=str(fake_bin), XDG_CONFIG_HOME=str(xdg))

    result = run_install(home, "--no-install", "--configure", "--yes", env=env)

    assert result.returncode == 0, result.stderr
    assert (xdg / "Claude/claude_desktop_config.json").is_file()


def test_no_install_needs_an_existing_memvault(home: Path) -> None:
    env = clean_env(home, MEMVAULT_BIN=str(home / "missing/memvault"))

    result = run_install(home, "--no-install", "--configure", "--yes", env=env)

    assert result.returncode != 0
    assert "not an executable file" in result.stderr
    assert not claude_config(home).exists()


def test_rejects_unknown_options(home: Path) -> None:
    result = run_install(home, "--frobnicate")

    assert result.returncode != 0
    assert "unknown option" in result.stderr


def test_help(home: Path) -> None:
    result = run_install(home, "--help")

    assert result.returncode == 0
    assert "--no-install" in result.stdout


# Tools install.sh may call; the real install runs with only these (and python3) on PATH, so
# neither pipx nor uv can be found and the virtualenv branch is taken.
_TOOLS = ("bash", "sh", "env", "uname", "mkdir", "ln", "dirname", "cat", "grep", "tr", "rm")


def _user_pip_config() -> str | None:
    """This machine's pip configuration file (mirrors, certificates), which a fake HOME hides."""
    if os.environ.get("PIP_CONFIG_FILE"):
        return os.environ["PIP_CONFIG_FILE"]
    real_home = Path.home()
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or real_home / ".config")
    for candidate in (xdg / "pip/pip.conf", real_home / ".pip/pip.conf"):
        if candidate.is_file():
            return str(candidate)
    return None


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_installs_the_checkout_into_a_virtualenv(tmp_path: Path, home: Path) -> None:
    bin_dir = tmp_path / "path-bin"
    bin_dir.mkdir()
    for tool in _TOOLS:
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    # A real interpreter (not a venv's, not a pyenv shim), at least 3.11 like this one.
    (bin_dir / "python3").symlink_to(Path(sys.executable).resolve())
    # A copy of the checkout, so that pip's in-tree build leaves nothing in the real one.
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("install.sh", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, checkout / name)
    shutil.copytree(
        ROOT / "src",
        checkout / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"),
    )
    env = clean_env(home, PATH=str(bin_dir))
    pip_config = _user_pip_config()
    if pip_config:
        env["PIP_CONFIG_FILE"] = pip_config
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)

    started = time.monotonic()
    result = run_install(
        home, "--yes", "--extras", "", env=env, timeout=240, script=checkout / "install.sh"
    )
    elapsed = time.monotonic() - started

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    link = home / ".local/bin/memvault"
    venv = home / ".local/share/memvault/venv"
    assert link.is_symlink()
    assert link.resolve() == (venv / "bin/memvault").resolve()
    assert "virtualenv" in result.stdout
    assert str(checkout) in result.stdout
    assert not claude_config(home).exists()  # no questions, no --configure: configs untouched
    help_run = subprocess.run(
        [str(link), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=clean_env(home),
    )
    assert help_run.returncode == 0, help_run.stderr
    assert "serve" in help_run.stdout
    print(f"install took {elapsed:.1f} s")
