#!/usr/bin/env bash
# The nightly matrix on one machine: every suite on every local target (SQLite 3.40,
# 3.46 and the bundled one; PostgreSQL 14-18; MariaDB 10.11, 11.8; MySQL 9.7), run in
# SHARDS shards (default 3) as the CI system's job matrix would run them, merged,
# checked case for case against an unsharded run, rendered, and compared with the
# previous night's results. Exits non-zero on a regression or a shard/unsharded mismatch.
#
#   ci/nightly.sh                      # results and site under target/nightly/
#   PREVIOUS=old.json ci/nightly.sh    # compare with another run (default reports/results.json)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARDS=${SHARDS:-3}
OUT=${OUT:-target/nightly}
PREVIOUS=${PREVIOUS:-reports/results.json}
MATRIX=ci/matrix.local.toml

ci/podman-setup.sh
export DOCKER_HOST=unix:///run/podman/podman.sock
ci/build-images.sh
ci/build-sqlite-libs.sh
cargo build --release --locked
B=target/release/dbcompat

rm -rf "$OUT"
mkdir -p "$OUT"
status=0
for k in $(seq 1 "$SHARDS"); do
    echo "=== shard $k/$SHARDS"
    # A shard with failing cases still produces its results; the verdicts decide later.
    "$B" --matrix "$MATRIX" run --all-targets --shard "$k/$SHARDS" --out "$OUT/shard-$k" || true
done
echo "=== merge"
"$B" merge "$OUT"/shard-*/results.json --out "$OUT/merged.json" || status=1

echo "=== unsharded run, for comparison"
"$B" --matrix "$MATRIX" run --all-targets --out "$OUT/unsharded" || true
if "$B" diff --exact "$OUT/unsharded/results.json" "$OUT/merged.json" > "$OUT/shards-vs-unsharded.txt"; then
    echo "merged shards equal the unsharded run, case for case"
else
    echo "merged shards differ from the unsharded run:" >&2
    cat "$OUT/shards-vs-unsharded.txt" >&2
    status=1
fi

echo "=== report"
previous=()
[ -f "$PREVIOUS" ] && previous=(--previous "$PREVIOUS")
"$B" report "$OUT/merged.json" "${previous[@]}" --out "$OUT/site"
if [ -f "$PREVIOUS" ]; then
    "$B" diff "$PREVIOUS" "$OUT/merged.json" || { echo "regression against $PREVIOUS" >&2; status=1; }
fi
# Failing or erroring cases fail the night too.
python3 - "$OUT/merged.json" <<'PY' || status=1
import json, sys
cases = json.load(open(sys.argv[1]))["cases"]
bad = [c for c in cases if c["verdict"]["status"] in ("fail", "error")]
for c in bad:
    print(f'{c["verdict"]["status"]}: {c["area"]}::{c["probe"]}::{c["target"]}', file=sys.stderr)
sys.exit(1 if bad else 0)
PY
exit $status
