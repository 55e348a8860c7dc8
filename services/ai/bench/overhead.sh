#!/usr/bin/env bash
# Gateway overhead at a fixed request rate against a local OpenAI-compatible
# upstream with a fixed latency. Loopback only. Needs `hey` (apt-get install hey).
#
#   services/ai/bench/overhead.sh            # 1,000 req/s for 20 s, upstream 20 ms
#   RATE=2000 DURATION=10s services/ai/bench/overhead.sh
#
# Prints hey's latency distribution for the upstream alone and through the
# gateway at the same rate, then the gateway's own overhead histogram
# (total - upstream, measured inside the process) as p50/p99 bucket bounds,
# then (CAPACITY=1, needs wrk) the most requests/s wrk gets through in 10 s.
set -euo pipefail

RATE=${RATE:-1000}
DURATION=${DURATION:-20s}
LATENCY_MS=${LATENCY_MS:-20}
WORKERS=${WORKERS:-50}
GATEWAY_PORT=${GATEWAY_PORT:-18090}
UPSTREAM_PORT=${UPSTREAM_PORT:-18091}
KEY=bench-internal-key-0123456789
PER_WORKER=$((RATE / WORKERS))

cd "$(git rev-parse --show-toplevel)"
cargo build --release -p ai --bin ai --example fake_upstream
TARGET=${CARGO_TARGET_DIR:-target}/release

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

UPSTREAM_PORT=$UPSTREAM_PORT LATENCY_MS=$LATENCY_MS "$TARGET/examples/fake_upstream" &
pids+=($!)
PORT=$GATEWAY_PORT AI_BIND_ADDRESS=127.0.0.1 AI_INTERNAL_API_KEY=$KEY \
  OPENAI_API_KEY=sk-bench OPENAI_BASE_URL=http://127.0.0.1:$UPSTREAM_PORT/v1 \
  "$TARGET/ai" >/dev/null 2>&1 &
pids+=($!)

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$GATEWAY_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

GATEWAY_BODY='{"prompt":"Say hello in five words","max_tokens":16}'
UPSTREAM_BODY='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello in five words"}],"max_completion_tokens":16}'
run() { hey -z "$1" -c "$WORKERS" -q "$PER_WORKER" -m POST -T application/json "${@:2}"; }
summary() { grep -E "Requests/sec|Average|Slowest|50% in|90% in|99% in|\[2[0-9][0-9]\]|\[[45][0-9][0-9]\]|Error"; }

echo "== warm-up (3 s, discarded)"
run 3s -H "x-internal-api-key: $KEY" -d "$GATEWAY_BODY" "http://127.0.0.1:$GATEWAY_PORT/v1/generate" >/dev/null
metrics_before=$(curl -fsS -H "x-internal-api-key: $KEY" "http://127.0.0.1:$GATEWAY_PORT/metrics")

echo "== upstream alone: $RATE req/s for $DURATION, upstream latency ${LATENCY_MS} ms"
run "$DURATION" -d "$UPSTREAM_BODY" "http://127.0.0.1:$UPSTREAM_PORT/v1/chat/completions" | summary

echo "== through the gateway: $RATE req/s for $DURATION"
run "$DURATION" -H "x-internal-api-key: $KEY" -d "$GATEWAY_BODY" "http://127.0.0.1:$GATEWAY_PORT/v1/generate" | summary

metrics_after=$(curl -fsS -H "x-internal-api-key: $KEY" "http://127.0.0.1:$GATEWAY_PORT/metrics")
echo "== gateway overhead histogram (total - upstream, in-process), this run only"
paste <(echo "$metrics_before" | grep '^ai_gateway_overhead_seconds_bucket{route="generate"') \
      <(echo "$metrics_after" | grep '^ai_gateway_overhead_seconds_bucket{route="generate"') |
  awk '{
    le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le);
    n++; bound[n] = le; count[n] = $4 - $2
  } END {
    total = count[n]; p50 = ""; p99 = "";
    for (i = 1; i <= n; i++) {
      if (p50 == "" && count[i] >= 0.50 * total) p50 = bound[i];
      if (p99 == "" && count[i] >= 0.99 * total) p99 = bound[i];
    }
    printf "requests %d  overhead p50 <= %s s  p99 <= %s s\n", total, p50, p99
  }'

if [ "${CAPACITY:-0}" = 1 ]; then
  echo "== capacity: wrk, 2 threads, 200 connections, 10 s, upstream latency ${LATENCY_MS} ms"
  wrk -t2 -c200 -d10s --latency -s services/ai/bench/generate.lua "http://127.0.0.1:$GATEWAY_PORT/v1/generate" |
    grep -E "Requests/sec|50%|99%|Non-2xx|Socket errors"
fi
