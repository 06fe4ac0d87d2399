#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every `rafthttp bench` case briefly, on both delivery modes (and the
# round trip with busy polling, 256 KiB over TLS), and fails unless each
# delivered messages and dropped none. A functional check
# of the bench and the hot path for CI; it asserts no speed (bench/run.sh
# measures that).
#
#   bench/smoke.sh BUILD_DIR     (BUILD_DIR/bin/rafthttp)
set -euo pipefail
bin=${1:?usage: smoke.sh BUILD_DIR}/bin/rafthttp
[ -x "$bin" ] || { echo "smoke.sh: $bin missing" >&2; exit 1; }
certs=$(mktemp -d)
trap 'rm -rf "$certs"' EXIT
"$(dirname "$0")/../tests/tls/make-certs.sh" "$certs" >/dev/null 2>&1 ||
  { echo "smoke.sh: tests/tls/make-certs.sh failed (openssl?)" >&2; exit 1; }
fail=0
for deliver in thread loop; do
  for c in "msgappv2 64" "msgappv2 1024" "msgappv2 262144" "message 64" "heartbeat 0" "rtt 0" \
           "rtt 0 --busy-poll-us 100" "msgappv2 262144 --tls $certs"; do
    set -- $c
    kase=$1 size=$2
    shift 2
    out=$("$bin" bench --case "$kase" --size "$size" --seconds 0.3 --deliver "$deliver" "$@" --json) || {
      echo "smoke.sh: $kase $size $* ($deliver) exited $?" >&2; fail=1; continue; }
    python3 - "$out" "$kase $size ${*:-} ($deliver)" <<'PY' || fail=1
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
