#!/usr/bin/env bash
# Benchmark of issue 4: documents(first: 20) with owners, against a seeded
# database, at fixed concurrency, loopback only, bounded duration.
#   services/api/bench/run.sh [connections] [duration]
set -euo pipefail
cd "$(dirname "$0")/../../.."
CONNECTIONS="${1:-32}"
DURATION="${2:-20s}"
cargo build --release -p api --example bench_server
out="$(mktemp)"
target/release/examples/bench_server >"$out" &
server=$!
trap 'kill "$server" 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 1 300); do grep -q '^DOCUMENTS=' "$out" && break; sleep 0.1; done
grep -q '^DOCUMENTS=' "$out" || { echo "bench_server did not start" >&2; exit 1; }
API_URL="$(sed -n 's/^API_URL=//p' "$out")"
export API_TOKEN="$(sed -n 's/^API_TOKEN=//p' "$out")"
# Sanity check: the query answers with 20 edges and no errors.
curl -sf -H "Authorization: Bearer $API_TOKEN" -H 'Content-Type: application/json' \
  -d '{"query":"{ documents(first: 20) { edges { node { id title owner { email } } } } }"}' \
  "$API_URL/graphql" | grep -o '"email"' | wc -l | grep -qx 20
# Warm-up, then the measured run.
wrk -t1 -c"$CONNECTIONS" -d3s -s services/api/bench/documents.lua "$API_URL/graphql" >/dev/null
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s services/api/bench/documents.lua "$API_URL/graphql"
