#!/usr/bin/env bash
# Start memvault over streamable HTTP on a free loopback port, on a throw-away database, and
# run the MCP conformance suite's general server scenarios against it.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d "${TMPDIR:-/tmp}/memvault-conformance.XXXXXX")"
log="$work/server.log"
memvault --database "$work/memvault.db" --embedder none --log-level INFO \
  serve --transport http --host 127.0.0.1 --port 0 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

# The server logs its address once the socket is bound (it accepts from then on).
url=""
for _ in $(seq 300); do
  url="$(grep -o 'http://127\.0\.0\.1:[0-9]*/mcp' "$log" | head -n 1 || true)"
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || { echo "memvault exited:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "memvault did not start within 30 s:" >&2; cat "$log" >&2; exit 1; }
MCP_CONFORMANCE_BASELINE="${MCP_CONFORMANCE_BASELINE:-$PWD/.ci/conformance-baseline.yml}" \
  bash .ci/mcp-conformance.sh "$url"
