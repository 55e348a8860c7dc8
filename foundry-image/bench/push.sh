#!/usr/bin/env bash
# Times assemble and push of an already-built binary against a throwaway
# docker-registry on loopback. Usage: foundry-image/bench/push.sh <binary> [profile]
# (profile of the example itself: dev by default, release for user-facing figures).
set -euo pipefail
binary=$(realpath "$1"); profile=${2:-dev}
cd "$(dirname "$0")/../.."
work=$(mktemp -d); trap 'kill $registry_pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/config.yml" <<YAML
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/data}}
http: {addr: 127.0.0.1:$port, secret: bench}
YAML
docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
until curl -fs "http://127.0.0.1:$port/v2/" >/dev/null; do sleep 0.1; done
cargo run -q --profile "$profile" -p foundry-image --example assemble_push -- "$binary" "127.0.0.1:$port" bench/service
