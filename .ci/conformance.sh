#!/usr/bin/env bash
# Run the MCP conformance suite against memvault over streamable HTTP, each server on a free
# loopback port and a throw-away database:
#
# 1. `memvault serve` itself: the scenarios that test a server by its own tools, resources and
#    prompts (resources-list lists memvault's, sep-2164 reads an unknown URI, ...), and
#    server-stateless, whose four checks that need the suite's diagnostic tools are baselined
#    (.ci/conformance-baseline.yml: memvault has no tool that needs a client capability and
#    its lists never change).
# 2. .ci/conformance_server.py: the same `memvault serve` (config, HTTP app, Host/Origin
#    guard, auth, stateless handling) with the suite's reference fixtures added to its MCP
#    server, for the scenarios that read those fixtures by fixed name (test://static-text,
#    test://template/{id}/data, test_simple_prompt, test_prompt_with_arguments, and
#    server-stateless's test_missing_capability / test_trigger_*_change), with no baseline.
#    The fixtures exist only in that CI script; the package has none.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d "${TMPDIR:-/tmp}/memvault-conformance.XXXXXX")"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# start <name> <command...>: start a server on its own database; sets $url once it listens
# (the server logs its address once the socket is bound, and accepts from then on).
start() {
  local name="$1" log="$work/$1.log"; shift
  "$@" --database "$work/$name.db" --embedder none --log-level INFO \
    serve --transport http --host 127.0.0.1 --port 0 2>"$log" &
  local pid=$!
  pids+=("$pid")
  url=""
  for _ in $(seq 300); do
    url="$(grep -o 'http://127\.0\.0\.1:[0-9]*/mcp' "$log" | head -n 1 || true)"
    [ -n "$url" ] && return 0
    kill -0 "$pid" 2>/dev/null || { echo "$name exited:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  echo "$name did not start within 30 s:" >&2; cat "$log" >&2; exit 1
}

start product memvault
product_url="$url"
start fixtures python .ci/conformance_server.py
fixtures_url="$url"

results="${MCP_CONFORMANCE_RESULTS:-}"
status=0
echo "== memvault serve"
MCP_CONFORMANCE_RESULTS="${results:+$results/product}" \
MCP_CONFORMANCE_BASELINE="${MCP_CONFORMANCE_BASELINE:-$PWD/.ci/conformance-baseline.yml}" \
  bash .ci/mcp-conformance.sh "$product_url" || status=1
echo "== memvault serve with the suite's reference fixtures (.ci/conformance_server.py)"
MCP_CONFORMANCE_SCENARIOS="resources-read-text resources-templates-read prompts-get-simple \
prompts-get-with-args server-stateless" MCP_CONFORMANCE_BASELINE="" \
MCP_CONFORMANCE_RESULTS="${results:+$results/fixtures}" \
  bash .ci/mcp-conformance.sh "$fixtures_url" || status=1
exit "$status"
