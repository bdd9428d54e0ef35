#!/usr/bin/env bash
# Install memvault for the current user and register it with Claude Desktop and Cursor.
#
#   ./install.sh                  from a checkout: installs that checkout (embedder: e5, no torch)
#   bash install.sh --spec SPEC   elsewhere: installs SPEC (or $MEMVAULT_SPEC); memvault is not
#                                 on the package index yet, so without one it refuses
#
# Installs with pipx when present, else `uv tool`, else into a virtualenv at
# ${XDG_DATA_HOME:-~/.local/share}/memvault/venv linked from ~/.local/bin/memvault. The default
# install needs no PyTorch; with `--extras local` (all-MiniLM-L6-v2), Linux without an NVIDIA
# GPU gets PyTorch's CPU build.
# Run with --help for the options.
set -euo pipefail

PROG=install.sh

usage() {
    cat <<'EOF'
Usage: install.sh [options]

Installs memvault for the current user (with pipx if present, else `uv tool`, else a
virtualenv in ${XDG_DATA_HOME:-~/.local/share}/memvault/venv linked from ~/.local/bin), then
offers to add it to Claude Desktop's and Cursor's MCP configuration.

Source: the checkout this script sits in (pyproject.toml beside it), else --spec or
$MEMVAULT_SPEC. memvault is not published on the package index yet: without a checkout, give
a spec (a wheel, a git URL), or clone the repository and run ./install.sh from it.

Options:
  -y, --yes          ask no questions. Without a terminal on stdin this is implied. Without
                     questions, client configs are changed only with --configure.
  --configure        add memvault to Claude Desktop's and Cursor's configs without asking
  --no-configure     leave the client configs alone
  --extras LIST      extras to install, comma-separated (default: none; the embedder e5
                     comes with memvault itself; "local" adds all-MiniLM-L6-v2 and PyTorch).
                     Applies to the checkout (a spec names its own).
  --spec SPEC        install this pip requirement instead (e.g. "memvault[local] @
                     git+https://github.com/memvault/memvault"); taken as is, extras included
  --torch WHICH      the PyTorch build that the `local` extra gets: auto (default: the CPU
                     build on Linux without nvidia-smi, else the package index's), cpu, or
                     index (the package index's: CUDA on Linux)
  --no-install       install nothing; only configure the clients for an existing memvault
                     ($MEMVAULT_BIN, else `memvault` on PATH)
  -h, --help         show this help

Environment:
  MEMVAULT_SPEC      the requirement to install when not run from a checkout
  MEMVAULT_TORCH_INDEX
                     the index of PyTorch's CPU builds (default
                     https://download.pytorch.org/whl/cpu)
  MEMVAULT_BIN       the memvault executable to configure with --no-install
  MEMVAULT_PYTHON    the Python (3.11+) for the virtualenv install
EOF
}

say() { printf '%s\n' "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

# -- options --------------------------------------------------------------------------------

ASSUME_YES=0
CONFIGURE=ask      # ask | yes | no
EXTRAS=
EXTRAS_GIVEN=0
SPEC=""
DO_INSTALL=1
TORCH=auto         # auto | cpu | index

while [ $# -gt 0 ]; do
    case "$1" in
        -y | --yes) ASSUME_YES=1 ;;
        --configure) CONFIGURE=yes ;;
        --no-configure) CONFIGURE=no ;;
        --extras)
            [ $# -ge 2 ] || die "--extras needs a value (\"\" for none)"
            EXTRAS=$2
            EXTRAS_GIVEN=1
            shift
            ;;
        --extras=*)
            EXTRAS=${1#--extras=}
            EXTRAS_GIVEN=1
            ;;
        --spec)
            if [ $# -lt 2 ] || [ -z "$2" ]; then die "--spec needs a value"; fi
            SPEC=$2
            shift
            ;;
        --spec=*) SPEC=${1#--spec=} ;;
        --torch)
            [ $# -ge 2 ] || die "--torch needs a value: auto, cpu or index"
            TORCH=$2
            shift
            ;;
        --torch=*) TORCH=${1#--torch=} ;;
        --no-install) DO_INSTALL=0 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
    shift
done

case "$TORCH" in
    auto | cpu | index) ;;
    *) die "--torch takes auto, cpu or index, got: $TORCH" ;;
esac

# The CPU build for the virtualenv install: the version CI tests (README.md and .ci/run
# install the same), alone (--no-deps), from PyTorch's index; its dependencies then come
# from the package index with memvault's.
TORCH_CPU_SPEC="torch==2.13.0"
TORCH_CPU_INDEX=${MEMVAULT_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}
case "$TORCH_CPU_INDEX" in
    *[[:space:]\'\"]*) die "MEMVAULT_TORCH_INDEX must be a URL without spaces or quotes" ;;
esac

EXTRAS=$(printf '%s' "$EXTRAS" | tr -d '[:space:]')
case "$EXTRAS" in
    *[!A-Za-z0-9_.,-]*) die "--extras takes a comma-separated list of names, got: $EXTRAS" ;;
esac

INTERACTIVE=1
if [ "$ASSUME_YES" = 1 ] || [ ! -t 0 ]; then
    INTERACTIVE=0
fi

# -- helpers --------------------------------------------------------------------------------

HOME_DIR=${HOME:?HOME is not set}
DATA_HOME=${XDG_DATA_HOME:-$HOME_DIR/.local/share}
LOCAL_BIN=$HOME_DIR/.local/bin

# yes/no question; the default answer is yes.
confirm() {
    local answer
    printf '%s [Y/n] ' "$1"
    if ! read -r answer; then
        say ""
        return 1
    fi
    case "$answer" in
        "" | [Yy] | [Yy][Ee][Ss]) return 0 ;;
        *) return 1 ;;
    esac
}

# A Python 3.11+ for the virtualenv: $MEMVAULT_PYTHON, else the first suitable on PATH.
find_python() {
    local candidate
    for candidate in "${MEMVAULT_PYTHON:-}" python3 python3.13 python3.12 python3.11 python; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

# Absolute path of $1 (which need not exist), without resolving symlinks.
absolute() {
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$(pwd)" "$1" ;;
    esac
}

case ":$PATH:" in
    *":$LOCAL_BIN:"*) ON_PATH=1 ;;
    *) ON_PATH=0 ;;
esac

# -- what to install ------------------------------------------------------------------------

SCRIPT_DIR=""
if [ -n "${BASH_SOURCE[0]:-}" ] && [ -f "${BASH_SOURCE[0]}" ]; then
    SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fi

CHECKOUT=""
if [ -n "$SCRIPT_DIR" ] && [ -f "$SCRIPT_DIR/pyproject.toml" ] \
    && grep -Eq '^name *= *"memvault"' "$SCRIPT_DIR/pyproject.toml"; then
    CHECKOUT=$SCRIPT_DIR
fi

EXTRAS_SUFFIX=""
[ -z "$EXTRAS" ] || EXTRAS_SUFFIX="[$EXTRAS]"

TARGET=""          # what pip, pipx or uv installs
SOURCE_DESC=""
if [ -n "$SPEC" ] || { [ -z "$CHECKOUT" ] && [ -n "${MEMVAULT_SPEC:-}" ]; }; then
    [ "$EXTRAS_GIVEN" = 0 ] || die "--extras cannot be combined with a spec (--spec or \
MEMVAULT_SPEC): put the extras in the spec, e.g. \"memvault[local]\""
    TARGET=${SPEC:-$MEMVAULT_SPEC}
    SOURCE_DESC="$TARGET"
elif [ -n "$CHECKOUT" ]; then
    SOURCE_DESC="the checkout at $CHECKOUT${EXTRAS_SUFFIX:+ with extras $EXTRAS_SUFFIX}"
elif [ "$DO_INSTALL" = 1 ]; then
    die "not run from a checkout, and memvault is not on the package index yet: clone the \
repository and run ./install.sh there, or give --spec (a wheel, or e.g. \
\"memvault[local] @ git+https://github.com/memvault/memvault\")"
fi

# The extras that will be installed, comma-separated: from the spec's [...], or --extras.
if [ -n "$TARGET" ]; then
    case "$TARGET" in
        *\[*\]*)
            INSTALLED_EXTRAS=${TARGET#*\[}
            INSTALLED_EXTRAS=${INSTALLED_EXTRAS%%\]*}
            ;;
        *) INSTALLED_EXTRAS="" ;;
    esac
else
    INSTALLED_EXTRAS=$EXTRAS
fi
INSTALLED_EXTRAS=$(printf '%s' "$INSTALLED_EXTRAS" | tr -d '[:space:]')

# The `local` extra brings PyTorch. The package index's Linux build bundles CUDA (about 3 GB
# with its libraries), of use only with an NVIDIA GPU: elsewhere take the CPU build.
CPU_TORCH=0
case ",$INSTALLED_EXTRAS," in
    *,local,*)
        case "$TORCH" in
            cpu) CPU_TORCH=1 ;;
            auto)
                if [ "$(uname -s)" = Linux ] && ! command -v nvidia-smi >/dev/null 2>&1; then
                    CPU_TORCH=1
                fi
                ;;
        esac
        ;;
esac

# A PEP 508 requirement for the checkout (name[extras] @ file:///path), which pip, pipx and
# uv all accept, with the path percent-encoded.
checkout_requirement() {
    local url
    url=$("$1" -c 'import pathlib, sys; print(pathlib.Path(sys.argv[1]).resolve().as_uri())' \
        "$CHECKOUT") || die "could not turn $CHECKOUT into a file URL"
    printf 'memvault%s @ %s\n' "$EXTRAS_SUFFIX" "$url"
}

# -- install --------------------------------------------------------------------------------

MEMVAULT_EXE=""
METHOD=""

install_pipx() {
    local requirement=$1 bin_dir
    local -a options=(--force)
    say "Installing $SOURCE_DESC with pipx..."
    [ -z "$PYTHON" ] || options+=(--python "$PYTHON")
    if [ "$CPU_TORCH" = 1 ]; then
        # pip prefers the index's torch X+cpu to PyPI's X. pipx keeps these pip arguments for
        # `pipx upgrade`, so no version is pinned here.
        say "PyTorch: the CPU build, from $TORCH_CPU_INDEX"
        options+=("--pip-args=--extra-index-url $TORCH_CPU_INDEX")
    fi
    pipx install "${options[@]}" "$requirement"
    bin_dir=$(pipx environment --value PIPX_BIN_DIR 2>/dev/null || true)
    MEMVAULT_EXE=${bin_dir:-$LOCAL_BIN}/memvault
    METHOD=pipx
}

install_uv() {
    local requirement=$1 bin_dir help
    local -a options=(--force --reinstall-package memvault)
    say "Installing $SOURCE_DESC with uv tool..."
    # Without a suitable Python on PATH, uv finds (or fetches) one itself.
    [ -z "$PYTHON" ] || options+=(--python "$PYTHON")
    if [ "$CPU_TORCH" = 1 ]; then
        say "PyTorch: the CPU build, from $TORCH_CPU_INDEX"
        # Read whole: `grep -q` would close the pipe early, and pipefail take uv's EPIPE.
        help=$(uv tool install --help 2>/dev/null || true)
        if [ -z "${MEMVAULT_TORCH_INDEX:-}" ] && [[ $help == *--torch-backend* ]]; then
            # uv takes only PyTorch's own packages from PyTorch's index.
            options+=(--torch-backend cpu)
        else
            # Older uv: like pip, the best version from either index, so torch X+cpu.
            options+=(--extra-index-url "$TORCH_CPU_INDEX" --index-strategy unsafe-best-match)
        fi
    fi
    uv tool install "${options[@]}" "$requirement"
    bin_dir=$(uv tool dir --bin 2>/dev/null || true)
    MEMVAULT_EXE=${bin_dir:-$LOCAL_BIN}/memvault
    METHOD="uv tool"
}

install_venv() {
    local requirement=$1 python=$2 venv=$DATA_HOME/memvault/venv
    say "Installing $SOURCE_DESC into the virtualenv $venv..."
    mkdir -p "$(dirname "$venv")"
    if [ -e "$venv" ] && ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
        warn "the virtualenv at $venv is broken; recreating it"
        "$python" -m venv --clear "$venv" \
            || die "could not create a virtualenv with $python (on Debian/Ubuntu: apt install python3-venv)"
    elif [ ! -e "$venv" ]; then
        "$python" -m venv "$venv" \
            || die "could not create a virtualenv with $python (on Debian/Ubuntu: apt install python3-venv)"
    fi
    if [ "$CPU_TORCH" = 1 ]; then
        say "PyTorch: the CPU build, $TORCH_CPU_SPEC from $TORCH_CPU_INDEX"
        PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --no-deps \
            --index-url "$TORCH_CPU_INDEX" "$TORCH_CPU_SPEC" \
            || die "pip could not install $TORCH_CPU_SPEC from $TORCH_CPU_INDEX (--torch index \
takes the package index's build instead)"
    fi
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --upgrade "$requirement" \
        || die "pip could not install $requirement"
    [ -x "$venv/bin/memvault" ] || die "the install left no $venv/bin/memvault"
    mkdir -p "$LOCAL_BIN"
    if [ -e "$LOCAL_BIN/memvault" ] && [ ! -L "$LOCAL_BIN/memvault" ]; then
        die "$LOCAL_BIN/memvault exists and is not a symlink; move it away and run again"
    fi
    ln -sfn "$venv/bin/memvault" "$LOCAL_BIN/memvault"
    say "Linked $LOCAL_BIN/memvault -> $venv/bin/memvault"
    MEMVAULT_EXE=$LOCAL_BIN/memvault
    METHOD=virtualenv
}

if [ "$DO_INSTALL" = 1 ]; then
    PYTHON=$(find_python) || PYTHON=""
    if command -v pipx >/dev/null 2>&1; then
        INSTALLER=pipx
    elif command -v uv >/dev/null 2>&1; then
        INSTALLER=uv
    else
        INSTALLER=venv
        [ -n "$PYTHON" ] || die "memvault needs Python 3.11 or newer: none found on PATH \
(set MEMVAULT_PYTHON, or install pipx or uv)"
    fi
    if [ -n "$CHECKOUT" ] && [ -z "$TARGET" ]; then
        # Any python3 can build the file URL, even one too old to run memvault.
        URL_PYTHON=${PYTHON:-$(command -v python3 || true)}
        [ -n "$URL_PYTHON" ] || die "python3 is needed to install from a checkout"
        REQUIREMENT=$(checkout_requirement "$URL_PYTHON")
    else
        REQUIREMENT=$TARGET
    fi
    case "$INSTALLER" in
        pipx) install_pipx "$REQUIREMENT" ;;
        uv) install_uv "$REQUIREMENT" ;;
        venv) install_venv "$REQUIREMENT" "$PYTHON" ;;
    esac
    MEMVAULT_EXE=$(absolute "$MEMVAULT_EXE")
    "$MEMVAULT_EXE" --version >/dev/null 2>&1 \
        || die "installed, but $MEMVAULT_EXE --version does not run"
    say "Installed memvault with $METHOD: $MEMVAULT_EXE"
else
    if [ -n "${MEMVAULT_BIN:-}" ]; then
        MEMVAULT_EXE=$(absolute "$MEMVAULT_BIN")
    elif command -v memvault >/dev/null 2>&1; then
        MEMVAULT_EXE=$(absolute "$(command -v memvault)")
    else
        die "--no-install: no memvault found; install it first or set MEMVAULT_BIN"
    fi
    if [ ! -f "$MEMVAULT_EXE" ] || [ ! -x "$MEMVAULT_EXE" ]; then
        die "$MEMVAULT_EXE is not an executable file"
    fi
    say "Using the existing memvault: $MEMVAULT_EXE"
fi

# -- client configuration -------------------------------------------------------------------

# Merges mcpServers.memvault into a JSON config: argv = file, command, agent id. Prints one
# line saying what it did; exits 2 (file untouched) when the file is not a JSON object.
MERGE_PY=$(
    cat <<'PY'
import datetime, json, os, shutil, stat, sys, tempfile

path, command, agent = sys.argv[1], sys.argv[2], sys.argv[3]
target = os.path.realpath(path)  # write through a symlink, never over it


def fail(message):
    sys.stderr.write("install.sh: error: %s: %s; left it untouched\n" % (path, message))
    sys.exit(2)


old_text = None
config = {}
if os.path.exists(target):
    try:
        with open(target, "rb") as handle:
            old_bytes = handle.read()
        old_text = old_bytes.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        fail("cannot read it (%s)" % exc)
    if old_text.strip():
        try:
            config = json.loads(old_text)
        except ValueError as exc:
            fail("not valid JSON (%s)" % exc)
    if not isinstance(config, dict):
        fail("not a JSON object")

servers = config.get("mcpServers")
if servers is None:
    servers = {}
elif not isinstance(servers, dict):
    fail('"mcpServers" is not a JSON object')

previous = servers.get("memvault")
if isinstance(previous, dict) and "url" in previous:
    print("left unchanged: %s (mcpServers.memvault is a server's URL)" % path)
    sys.exit(0)

# The installer owns "command", "serve" among the arguments and a default agent id; every
# other key, argument and variable of an earlier entry is the user's and stays.
entry = dict(previous) if isinstance(previous, dict) else {}
entry["command"] = command
args = entry.get("args")
if isinstance(args, list) and all(isinstance(arg, str) for arg in args):
    if "serve" not in args:
        args = args + ["serve"]
else:
    args = ["serve"]
entry["args"] = args
env = dict(entry["env"]) if isinstance(entry.get("env"), dict) else {}
env.setdefault("MEMVAULT_AGENT_ID", agent)
entry["env"] = env

if previous == entry:
    print("already configured, unchanged: %s" % path)
    sys.exit(0)

servers["memvault"] = entry
config["mcpServers"] = servers
new_text = json.dumps(config, indent=2, ensure_ascii=False) + "\n"

directory = os.path.dirname(target) or "."
os.makedirs(directory, exist_ok=True)
backup = None
mode = 0o600
if old_text is not None:
    mode = stat.S_IMODE(os.stat(target).st_mode)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    backup = "%s.bak-%s" % (target, stamp)
    n = 1
    while os.path.exists(backup):
        backup = "%s.bak-%s-%d" % (target, stamp, n)
        n += 1
    shutil.copy2(target, backup)

fd, temp = tempfile.mkstemp(prefix=".memvault-", suffix=".json", dir=directory)
try:
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(new_text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temp, mode)
    os.replace(temp, target)
except BaseException:
    try:
        os.unlink(temp)
    except OSError:
        pass
    raise

verb = "updated" if previous is not None else ("added to" if old_text is not None else "created")
print("%s %s (mcpServers.memvault)%s" % (verb, path, "; backup: %s" % backup if backup else ""))
PY
)

JSON_PYTHON=$(command -v python3 || command -v python || true)

CONFIGURED=0
FAILED=0
configure_client() {
    local name=$1 file=$2 agent=$3 result
    case "$CONFIGURE" in
        no) return 0 ;;
        ask)
            if [ "$INTERACTIVE" = 1 ]; then
                confirm "Add memvault to $name ($file)?" || {
                    say "$name: skipped"
                    return 0
                }
            else
                return 0
            fi
            ;;
    esac
    [ -n "$JSON_PYTHON" ] || die "python3 is needed to edit $file"
    if result=$("$JSON_PYTHON" -c "$MERGE_PY" "$file" "$MEMVAULT_EXE" "$agent"); then
        say "$name: $result"
        case "$result" in
            already* | "left unchanged"*) ;;
            *) CONFIGURED=1 ;;
        esac
    else
        FAILED=1
    fi
}

if [ "$(uname -s)" = Darwin ]; then
    CLAUDE_CONFIG="$HOME_DIR/Library/Application Support/Claude/claude_desktop_config.json"
else
    CLAUDE_CONFIG="${XDG_CONFIG_HOME:-$HOME_DIR/.config}/Claude/claude_desktop_config.json"
fi
CURSOR_CONFIG="$HOME_DIR/.cursor/mcp.json"

if [ "$CONFIGURE" = ask ] && [ "$INTERACTIVE" = 0 ]; then
    say "Client configs left alone: pass --configure to add memvault to Claude Desktop and"
    say "Cursor without questions, or run this script from a terminal to be asked."
fi
configure_client "Claude Desktop" "$CLAUDE_CONFIG" claude-desktop
configure_client "Cursor" "$CURSOR_CONFIG" cursor

# -- summary --------------------------------------------------------------------------------

say ""
if [ "$DO_INSTALL" = 1 ] && [ "$METHOD" = virtualenv ] && [ "$ON_PATH" = 0 ]; then
    say "Note: $LOCAL_BIN is not on your PATH; add it to run \`memvault\` from a shell:"
    say "  export PATH=\"$LOCAL_BIN:\$PATH\""
fi
if [ "$CONFIGURED" = 1 ]; then
    say "Restart Claude Desktop / Cursor to start memvault."
fi
say "Run \`$MEMVAULT_EXE serve\` for stdio, or \`$MEMVAULT_EXE doctor\` to check the stores."
if [ "$FAILED" = 1 ]; then
    die "some client configs could not be changed (see above)"
fi
