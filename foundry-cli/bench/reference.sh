#!/usr/bin/env bash
# Benchmarks of the foundry CLI on the whole reference stack against moto
# server on this machine: no-op plan
# (dev and prod), up from empty, --help. Needs hyperfine (apt-get install
# hyperfine) and a release build (cargo build --release -p foundry-cli).
# Prints hyperfine tables and the AWS request counts from --stats.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
foundry="${FOUNDRY_BIN:-$root/target/release/foundry}"
work="$(mktemp -d)"
trap 'kill "$moto_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

# A private moto on a free port, the same one the tests use.
moto_server="${FOUNDRY_HOME:-$HOME/.cache/foundry}/moto-venv/bin/moto_server"
[ -x "$moto_server" ] || "$foundry" local status >/dev/null || true
[ -x "$moto_server" ] || { echo "run 'foundry local start' once to install moto" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# As the tests start it: AWS-managed IAM policies must exist to be attached.
MOTO_IAM_LOAD_MANAGED_POLICIES=true "$moto_server" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_EC2_METADATA_DISABLED=true
cp "$root/stacks/reference.toml" "$work/foundry.toml"
cd "$work"

echo "## foundry --help"
hyperfine -N --warmup 5 --runs 50 "$foundry --help"

echo "## up from empty (dev), destroy between runs"
hyperfine -N --runs 5 --prepare "$foundry destroy --env dev --yes" "$foundry up --env dev --yes"
"$foundry" destroy --env dev --yes >/dev/null
"$foundry" up --env dev --yes --stats 2>&1 >/dev/null | grep stats: | sed 's/^/up dev from empty: /'
"$foundry" up --env prod --yes --stats 2>&1 >/dev/null | grep stats: | sed 's/^/up prod from empty: /'

for env in dev prod; do
  echo "## no-op plan ($env)"
  hyperfine -N --warmup 3 --runs 30 "$foundry plan --env $env"
  "$foundry" plan --env "$env" --stats 2>&1 >/dev/null | grep stats: | sed "s/^/no-op plan $env: /"
done
