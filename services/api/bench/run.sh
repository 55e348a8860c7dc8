#!/usr/bin/env bash
# Issue 18: the api and PostGraphile 4.14.1 side by side, same Postgres cluster
# and data (1 organization, 5 owners, 1,000 documents), same query
# (documents(first: 20) with owner emails), same wrk settings, alternating
# runs; the api with JWT verification, organization scoping, rate limits,
# metrics and the request log line on, as in production.
#   services/api/bench/run.sh [duration] [runs]
# Prints one line per run, then nothing else. CPU per request is user+system
# time over the run divided by the requests served: "server" that of the
# server's process, "Postgres" that of the bench's private cluster (the
# postmaster, all its children, and the children it reaped during the run).
set -euo pipefail
cd "$(dirname "$0")/../../.."
DURATION="${1:-15s}"
RUNS="${2:-3}"
BENCH=services/api/bench
TARGET="${CARGO_TARGET_DIR:-target}"
cargo build --release -p api --example bench_server
(cd "$BENCH/postgraphile" && npm ci --no-audit --no-fund --loglevel=error)

out="$(mktemp)"
"$TARGET/release/examples/bench_server" >"$out" 2>/dev/null &
api=$!
postgraphile=""
# SIGTERM: bench_server stops its Postgres cluster before exiting.
trap 'kill $postgraphile 2>/dev/null; kill $api 2>/dev/null && wait $api; rm -f "$out"' EXIT
# Up to 2 minutes: initdb and the seed are slow on a busy machine.
for _ in $(seq 1 1200); do grep -q '^DOCUMENTS=' "$out" && break; sleep 0.1; done
grep -q '^DOCUMENTS=' "$out" || { echo "bench_server did not start" >&2; exit 1; }
API_URL="$(sed -n 's/^API_URL=//p' "$out")"
DATABASE_URL="$(sed -n 's/^DATABASE_URL=//p' "$out")"
export API_TOKEN="$(sed -n 's/^API_TOKEN=//p' "$out")"
POSTMASTER="$(sed -n 's/^POSTMASTER_PID=//p' "$out")"

PG_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$BENCH/postgraphile/node_modules/.bin/postgraphile" -c "$DATABASE_URL" --host 127.0.0.1 \
  --port "$PG_PORT" --disable-query-log >/dev/null 2>&1 &
postgraphile=$!
PG_URL="http://127.0.0.1:$PG_PORT/graphql"
for _ in $(seq 1 300); do curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
  -d '{"query":"{ __typename }"}' "$PG_URL" && break; sleep 0.1; done

# Both answer the query with 20 owners' emails.
curl -sf -H "Authorization: Bearer $API_TOKEN" -H 'Content-Type: application/json' \
  -d '{"query":"{ documents(first: 20) { edges { node { id title owner { email } } } } }"}' \
  "$API_URL/graphql" | grep -o '"email"' | wc -l | grep -qx 20
curl -sf -H 'Content-Type: application/json' \
  -d "$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$BENCH/documents-postgraphile.lua")" \
  "$PG_URL" | grep -o '"email"' | wc -l | grep -qx 20

TICK_MS="$(echo "1000 / $(getconf CLK_TCK)" | bc -l)"
cpu_ms() { awk '{ print ($14 + $15) * '"$TICK_MS"' }' "/proc/$1/stat"; }
# The cluster's CPU in ms: the postmaster's own and that of the children it
# reaped (utime, stime, cutime, cstime), plus its living children's (utime,
# stime: backends, background workers). Fields counted after the ")" that
# closes the command name: state is $1, ppid $2, utime $12.
postgres_cpu_ms() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v pm="$POSTMASTER" -v tick="$TICK_MS" '
    { pid = $1; sub(/^.*\) /, "") }
    pid == pm { ticks += $12 + $13 + $14 + $15 }
    $2 == pm { ticks += $12 + $13 }
    END { printf "%.1f\n", ticks * tick }'
}

run() { # name pid url script connections
  local before after pg_before pg_after output rps p99 requests
  before="$(cpu_ms "$2")"
  pg_before="$(postgres_cpu_ms)"
  output="$(wrk -t2 -c"$5" -d"$DURATION" --latency -s "$4" "$3")"
  after="$(cpu_ms "$2")"
  pg_after="$(postgres_cpu_ms)"
  rps="$(awk '/^Requests\/sec/ { print $2 }' <<<"$output")"
  p99="$(awk '$1 == "99%" { print $2 }' <<<"$output")"
  requests="$(awk '/requests in/ { print $1 }' <<<"$output")"
  printf '%-12s c%-3s %10s req/s  p99 %8s  server CPU/request %.3f ms  Postgres CPU/request %.3f ms\n' \
    "$1" "$5" "$rps" "$p99" "$(echo "($after - $before) / $requests" | bc -l)" \
    "$(echo "($pg_after - $pg_before) / $requests" | bc -l)"
}

# Warm-up for both, then alternating measured runs.
wrk -t1 -c16 -d3s -s "$BENCH/documents.lua" "$API_URL/graphql" >/dev/null
wrk -t1 -c16 -d3s -s "$BENCH/documents-postgraphile.lua" "$PG_URL" >/dev/null
for connections in 16 64; do
  for _ in $(seq 1 "$RUNS"); do
    run api "$api" "$API_URL/graphql" "$BENCH/documents.lua" "$connections"
    run postgraphile "$postgraphile" "$PG_URL" "$BENCH/documents-postgraphile.lua" "$connections"
  done
done
