#!/usr/bin/env bash
# How wall time grows with the number of probes: N trivial probes (one SELECT each)
# against embedded SQLite and one server, for N = 100, 500, 2000. Prints one line per
# (target, N) with wall time, time per case and peak memory.
#
#   DOCKER_HOST=unix:///run/podman/podman.sock ci/bench-scale.sh [SERVER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/.."
SERVER=${1:-postgres-17}
B=target/release/dbcompat
[ -x "$B" ] || cargo build --release --locked
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%-14s %6s %10s %12s %10s\n' target probes wall per_case peak_rss
for n in 100 500 2000; do
    mkdir -p "$work/$n"
    python3 - "$n" > "$work/$n/trivial.toml" <<'PY'
import sys
print('area = "scale"')
for i in range(int(sys.argv[1])):
    print(f'[[probe]]\nid = "trivial_{i}"\nasks = "?"\n[[probe.step]]\nsql = "SELECT 1"\n[probe.expect]\nsqlite = "rows:(1)"\npostgres = "rows:(1)"\nmysql = "rows:(1)"\nmariadb = "rows:(1)"\n')
PY
    for target in sqlite "$SERVER"; do
        /usr/bin/time -o "$work/time" -f '%e %M' "$B" --matrix ci/matrix.local.toml --suites "$work/$n" \
            run -t "$target" --out "$work/out" > /dev/null 2>&1 || true
        read -r wall rss < "$work/time"
        printf '%-14s %6s %9ss %10sms %8sMiB\n' "$target" "$n" "$wall" \
            "$(python3 -c "print(round($wall*1000/$n, 2))")" "$((rss / 1024))"
    done
done
