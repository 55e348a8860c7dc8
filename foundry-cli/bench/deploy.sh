#!/usr/bin/env bash
# Deploy and rollback figures for BENCHMARKS.md: a one-service stack on the
# local stand-ins (moto, docker-registry, foundry's App Runner emulator with
# its defaults: 200 ms per operation, a health-check second of 100 ms), the
# echo fixture as the service. Each round changes the service's code, then
# times `foundry deploy` (build with a warm cargo cache, push, App Runner
# update, health gate, as `deploy --json` splits it) and `foundry rollback`.
#
#   bash foundry-cli/bench/deploy.sh [ROUNDS]      (default 5)
set -euo pipefail
rounds=${1:-5}
root=$(cd "$(dirname "$0")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/foundry/target}
cargo build -q -p foundry-cli --manifest-path "$root/Cargo.toml"
foundry=$CARGO_TARGET_DIR/debug/foundry

work=$(mktemp -d)
# Stand-ins of its own, reusing the installed moto.
export FOUNDRY_HOME=$work/home
mkdir -p "$FOUNDRY_HOME"
ln -s "$HOME/.cache/foundry/moto-venv-5.2.5" "$FOUNDRY_HOME/moto-venv-5.2.5"
trap '"$foundry" local stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

app=$work/app
mkdir -p "$app/svc/src"
cp "$root/foundry-cli/tests/fixtures/echo-service/"{Cargo.toml,Cargo.lock} "$app/svc/"
cp "$root/foundry-cli/tests/fixtures/echo-service/src/main.rs" "$app/svc/src/"
cat > "$app/foundry.toml" <<'TOML'
name = "bench"
region = "us-east-1"

[network]
cidr = "10.0.0.0/16"
azs = 2
nat = "none"

[env.dev]

[services.web]
source = "svc"
port = 8080
TOML
printf '.foundry/\n' > "$app/.gitignore"
git -C "$app" init -q && git -C "$app" add . && git -C "$app" -c user.name=b -c user.email=b@b commit -qm app
cd "$app"
export CARGO_TARGET_DIR=$work/fixture-target
"$foundry" --local up --env dev --yes --profile dev >/dev/null 2>&1

for i in $(seq 1 "$rounds"); do
  sed -i "s/const VERSION: &str = \"[^\"]*\"/const VERSION: \&str = \"r$i\"/" svc/src/main.rs
  "$foundry" --local deploy --env dev --profile dev --json 2>/dev/null \
    | python3 -c 'import json,sys; s=json.load(sys.stdin)["seconds"]; print("deploy   total %.2f s  image %.2f  rollout %.2f  health gate %.2f" % (s["total"], s["image"], s["rollout"], s["health_gate"]))'
  start=$(date +%s.%N)
  "$foundry" --local rollback --env dev --json 2>/dev/null \
    | python3 -c 'import json,sys; s=json.load(sys.stdin)["seconds"]; print("rollback total %.2f s  rollout %.2f  health gate %.2f" % (s["total"], s["rollout"], s["health_gate"]))'
  end=$(date +%s.%N)
  echo "rollback wall $(python3 -c "print('%.2f' % ($end - $start))") s (process start to exit)"
done
