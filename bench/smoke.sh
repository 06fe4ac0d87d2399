#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every `rafthttp bench` case briefly, on both delivery modes, and
# fails unless each delivered messages and dropped none. A functional check
# of the bench and the hot path for CI; it asserts no speed (bench/run.sh
# measures that).
#
#   bench/smoke.sh BUILD_DIR     (BUILD_DIR/bin/rafthttp)
set -euo pipefail
bin=${1:?usage: smoke.sh BUILD_DIR}/bin/rafthttp
[ -x "$bin" ] || { echo "smoke.sh: $bin missing" >&2; exit 1; }
fail=0
for deliver in thread loop; do
  for c in "msgappv2 64" "msgappv2 1024" "msgappv2 262144" "message 64" "heartbeat 0" "rtt 0"; do
    set -- $c
    out=$("$bin" bench --case "$1" --size "$2" --seconds 0.3 --deliver "$deliver" --json) || {
      echo "smoke.sh: $1 $2 ($deliver) exited $?" >&2; fail=1; continue; }
    python3 - "$out" "$1 $2 ($deliver)" <<'PY' || fail=1
import json, sys
r = json.loads(sys.argv[1])
what = sys.argv[2]
ok = r["msgs"] > 0 and r["dropped"] == 0 and r["msgs_per_sec"] > 0
if r["case"] == "rtt":
    ok = ok and 0 < r["p50_us"] <= r["p99_us"] <= r["max_us"]
print(("ok  " if ok else "BAD ") + what + ": %d msgs, %d dropped" % (r["msgs"], r["dropped"]))
sys.exit(0 if ok else 1)
PY
  done
done
exit $fail
