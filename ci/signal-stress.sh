#!/usr/bin/env bash
# Interrupts `dbcompat run --all-targets` on every local target at random moments and
# checks what is left: each SIGINT/SIGTERM must end the run within 10 s with exit code
# 130/143, a valid results file marked interrupted, and no container of the run left.
# Then a run is killed with SIGKILL, and the next run must remove its containers, and
# only those (a decoy labelled as another live run's, and one of another host, stay).
#
#   ci/signal-stress.sh [ROUNDS]     ROUNDS SIGINTs and ROUNDS SIGTERMs (default 20)
#
# Needs the local images (ci/build-images.sh) and DOCKER_HOST; prints one line per
# round and a summary; exits 1 on any failed check.
set -uo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
bin=./target/release/dbcompat
matrix=ci/matrix.local.toml
: "${DOCKER_HOST:=unix:///run/podman/podman.sock}"
export DOCKER_HOST
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

containers_of() { podman ps -aq --filter "label=dbcompat.pid=$1" | wc -l; }

# A results file that parses, is marked interrupted by $2, and gives every case a
# verdict; prints "cases not-run".
check_results() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
path, signal = sys.argv[1], sys.argv[2]
r = json.load(open(path))
assert r.get("interrupted") == signal, f"interrupted = {r.get('interrupted')!r}, expected {signal}"
cases = r["cases"]
assert cases, "no cases"
not_run = [c["verdict"] for c in cases if c["verdict"]["status"] == "not_run"]
# Every case the signal stopped says so (none, when it came as the results were being
# written); none is an error the signal caused.
others = [v["reason"] for v in not_run if "interrupted" not in v["reason"]]
assert not others, f"{len(others)} case(s) not run for another reason, e.g. {others[0]}"
errors = [c for c in cases if c["verdict"]["status"] == "error"]
assert not errors, f"{len(errors)} error(s), e.g. {errors[0]['verdict']}"
print(f"{len(cases)}/{len(not_run)}")
EOF
}

slowest=0
for signal in INT TERM; do
    expected=$([ "$signal" = INT ] && echo 130 || echo 143)
    for round in $(seq 1 "$rounds"); do
        out="$work/$signal-$round"
        delay=$(python3 -c "import random; print(round(random.uniform(0.5, 25), 1))")
        "$bin" --matrix "$matrix" run --all-targets --out "$out" >"$out.log" 2>&1 &
        pid=$!
        sleep "$delay"
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            echo "round $signal/$round: the run had finished before ${delay} s; not counted"
            continue
        fi
        sent=$(date +%s.%N)
        kill -"$signal" "$pid"
        wait "$pid"
        rc=$?
        took=$(python3 -c "import time; print(round(time.time() - $sent, 2))")
        slowest=$(python3 -c "print(max($slowest, $took))")
        left=$(containers_of "$pid")
        summary=$(check_results "$out/results.json" "SIG$signal" 2>&1) || fail "round $signal/$round: results: $summary"
        [ "$rc" = "$expected" ] || fail "round $signal/$round: exit code $rc, expected $expected"
        python3 -c "import sys; sys.exit(0 if $took <= 10 else 1)" || fail "round $signal/$round: took ${took} s to exit"
        [ "$left" = 0 ] || fail "round $signal/$round: $left container(s) left"
        echo "round $signal/$round: signal at ${delay} s, exit $rc after ${took} s, cases/not run: $summary, containers left: $left"
    done
done
echo "slowest exit after a signal: ${slowest} s"

# SIGKILL: the next run removes the dead run's containers, and only those.
"$bin" --matrix "$matrix" run --all-targets --out "$work/killed" >"$work/killed.log" 2>&1 &
killed=$!
for _ in $(seq 1 120); do
    [ "$(containers_of "$killed")" -ge 3 ] && break
    sleep 0.5
done
sleep 2
kill -KILL "$killed"; wait "$killed" 2>/dev/null
orphans=$(containers_of "$killed")
[ "$orphans" -gt 0 ] || fail "SIGKILL: the killed run had no container to leave behind"
image=$(podman images --format '{{.Repository}}:{{.Tag}}' | grep dbcompat/postgres | head -1)
sleep 600 & live=$!
live_start=$(awk '{print $22}' "/proc/$live/stat")
podman run -d --entrypoint sleep --label dbcompat=1 --label "dbcompat.host=$(hostname)" \
    --label "dbcompat.pid=$live" --label "dbcompat.pid-start=$live_start" "$image" 600 >/dev/null
podman run -d --entrypoint sleep --label dbcompat=1 --label "dbcompat.host=another-host" \
    --label "dbcompat.pid=$killed" "$image" 600 >/dev/null
"$bin" --matrix "$matrix" run --out "$work/after" rollback_to_savepoint -t postgres-17 >"$work/after.log" 2>&1
removed=$(grep -o 'removed [0-9]* container' "$work/after.log" | grep -o '[0-9]*' || echo 0)
[ "$removed" = "$orphans" ] || fail "SIGKILL: the next run removed ${removed:-0} container(s), the killed run left $orphans"
[ "$(containers_of "$killed")" = 1 ] || fail "SIGKILL: the other host's container (same process id) was not kept alone"
[ "$(containers_of "$live")" = 1 ] || fail "SIGKILL: the live process's container was removed"
echo "SIGKILL: the killed run left $orphans container(s); the next run removed $removed; the live run's and the other host's decoys were kept"
podman rm -f -t 0 $(podman ps -aq --filter "label=dbcompat.pid=$live") $(podman ps -aq --filter "label=dbcompat.host=another-host") >/dev/null
kill "$live"

echo "failures: $failures"
[ "$failures" = 0 ]
