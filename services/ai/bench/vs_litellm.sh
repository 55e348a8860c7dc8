#!/usr/bin/env bash
# The gateway and the LiteLLM proxy side by side: the same POST
# /v1/chat/completions body (bench/chat.lua) and bearer key, the same local
# OpenAI-wire upstream (examples/fake_upstream.rs, fixed latency), the same wrk
# threads, connections and duration. Loopback only.
#
#   services/ai/bench/vs_litellm.sh
#   CONNECTIONS=100 DURATION=20s LATENCY_MS=20 LITELLM_WORKERS=2 services/ai/bench/vs_litellm.sh
#
# Needs wrk (Debian) and LiteLLM in a venv: python3 -m venv
# ~/.cache/foundry/litellm-venv-1.80.0 && ~/.cache/foundry/litellm-venv-1.80.0/bin/pip
# install 'litellm[proxy]==1.80.0'. Prints, per proxy, wrk's requests/s,
# p50/p99 and non-2xx count, and the proxy's CPU time per request (user +
# system of its whole process group, from /proc, over the measured run).
set -euo pipefail

LITELLM_VERSION=${LITELLM_VERSION:-1.80.0}
LITELLM_VENV=${LITELLM_VENV:-$HOME/.cache/foundry/litellm-venv-$LITELLM_VERSION}
LITELLM_WORKERS=${LITELLM_WORKERS:-2}
CONNECTIONS=${CONNECTIONS:-50}
DURATION=${DURATION:-15s}
LATENCY_MS=${LATENCY_MS:-20}
UPSTREAM_PORT=${UPSTREAM_PORT:-18291}
GATEWAY_PORT=${GATEWAY_PORT:-18290}
LITELLM_PORT=${LITELLM_PORT:-18292}
KEY=sk-bench-0123456789abcdef   # also in bench/chat.lua

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
[ -x "$LITELLM_VENV/bin/litellm" ] || {
  echo "LiteLLM is missing: python3 -m venv $LITELLM_VENV && $LITELLM_VENV/bin/pip install 'litellm[proxy]==$LITELLM_VERSION'" >&2
  exit 1
}

cd "$(git rev-parse --show-toplevel)"
cargo build --release -p ai --bin ai --example fake_upstream
TARGET=${CARGO_TARGET_DIR:-target}/release
WORK=$(mktemp -d)

pgids=()
cleanup() { for g in "${pgids[@]}"; do kill -- "-$g" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

# Each server in its own process group, so its CPU time is all of its processes'.
start() { setsid "$@" >"$WORK/$(basename "$1").log" 2>&1 & pgids+=($!); }
cpu_ticks() { # user + system clock ticks of process group $1
  local total=0 pid stat
  for pid in $(pgrep -g "$1"); do
    stat=$(cut -d' ' -f14,15 "/proc/$pid/stat" 2>/dev/null) || continue
    total=$((total + ${stat% *} + ${stat#* }))
  done
  echo "$total"
}
wait_for() { for _ in $(seq 1 300); do curl -fsS -o /dev/null "$1" 2>/dev/null && return; sleep 0.2; done; echo "not up: $1" >&2; exit 1; }

UPSTREAM_PORT=$UPSTREAM_PORT LATENCY_MS=$LATENCY_MS start "$TARGET/examples/fake_upstream"

PORT=$GATEWAY_PORT AI_BIND_ADDRESS=127.0.0.1 AI_INTERNAL_API_KEY=$KEY RUST_LOG=warn \
  OPENAI_API_KEY=sk-upstream OPENAI_BASE_URL=http://127.0.0.1:$UPSTREAM_PORT/v1 start "$TARGET/ai"
gateway=${pgids[-1]}

cat >"$WORK/litellm.yaml" <<YAML
model_list:
  - model_name: openai/gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:$UPSTREAM_PORT/v1
      api_key: sk-upstream
general_settings:
  master_key: $KEY
litellm_settings:
  telemetry: false
YAML
# No database (keys: the master key only); the bundled cost map, no download.
LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=ERROR start "$LITELLM_VENV/bin/litellm" \
  --config "$WORK/litellm.yaml" --host 127.0.0.1 --port "$LITELLM_PORT" --num_workers "$LITELLM_WORKERS"
litellm=${pgids[-1]}

wait_for "http://127.0.0.1:$GATEWAY_PORT/healthz"
wait_for "http://127.0.0.1:$LITELLM_PORT/health/liveliness"

hz=$(getconf CLK_TCK)
bench() { # name pgid url
  wrk -t2 -c"$CONNECTIONS" -d3s -s services/ai/bench/chat.lua "$3" >/dev/null # warm-up
  local before after out requests
  before=$(cpu_ticks "$2")
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s services/ai/bench/chat.lua "$3")
  after=$(cpu_ticks "$2")
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "== $1: wrk -t2 -c$CONNECTIONS -d$DURATION, upstream latency ${LATENCY_MS} ms"
  echo "$out" | grep -E "Requests/sec|^ +50%|^ +99%|Non-2xx|Socket errors" || true
  awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" \
    'BEGIN { printf "  CPU %.2f s for %d requests = %.0f us per request\n", t / hz, n, 1e6 * t / hz / n }'
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
bench "ai gateway (release)" "$gateway" "http://127.0.0.1:$GATEWAY_PORT/v1/chat/completions"
bench "LiteLLM $LITELLM_VERSION ($LITELLM_WORKERS workers)" "$litellm" "http://127.0.0.1:$LITELLM_PORT/v1/chat/completions"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
