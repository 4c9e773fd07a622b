#!/usr/bin/env bash
# Runs every case on every local target three times while stress-ng keeps every core
# busy, and fails unless no case is flaky and none is an error: the harness's own
# timing (blocking confirmation, cancellation, step deadlines) must not depend on a
# quiet machine.
#
#   ci/under-load.sh [REPEAT]      (default 3; needs the local images and DOCKER_HOST)
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=${1:-3}
: "${DOCKER_HOST:=unix:///run/podman/podman.sock}"
export DOCKER_HOST
if ! command -v stress-ng >/dev/null; then
    apt-get install -y -q --no-install-recommends stress-ng >/dev/null
fi
out=$(mktemp -d)
stress-ng --cpu "$(nproc)" --timeout 3600s >/dev/null 2>&1 &
load=$!
trap 'kill $load 2>/dev/null; rm -rf "$out"' EXIT
sleep 2
echo "load: stress-ng --cpu $(nproc); $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min)"
started=$(date +%s)
./target/release/dbcompat --matrix ci/matrix.local.toml run --all-targets --repeat "$repeat" --out "$out" >"$out/log" 2>&1 || true
echo "run --all-targets --repeat $repeat under load: $(( $(date +%s) - started )) s; load then $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
cases = r["cases"]
errors = [c for c in cases if c["verdict"]["status"] == "error"]
flaky = [c for c in errors if c["verdict"]["reason"].startswith("flaky")]
failed = [c for c in cases if c["verdict"]["status"] == "fail"]
not_run = [c for c in cases if c["verdict"]["status"] == "not_run"]
print(f"{len(cases)} cases: {len(flaky)} flaky, {len(errors) - len(flaky)} other errors, {len(failed)} failed, {len(not_run)} not run")
for c in (errors + failed)[:20]:
    print(f"  {c['area']}::{c['probe']}::{c['target']}: {c['verdict']}")
sys.exit(1 if errors or failed or not_run else 0)
PY
