#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The transport benchmark: `rafthttp bench` (both delivery modes) beside
# etcd 3.4's Go rafthttp (bench/gorafthttp) and raw loopback TCP
# (bench/raw), interleaved, ROUNDS rounds in one run on this machine, plus
# an allocation-counting pass of the C side. Prints a Markdown table of
# medians (min-max) and ratios; --write also saves it as bench/RESULTS.md.
#
#   bench/run.sh [--rounds N] [--seconds S] [--cases a,b] [--write]
#                [--build-dir DIR] [--c-bin P] [--go-bin P]
#
# Builds what it needs: a Release tree (default build-bench/) for rafthttp,
# raw_tcp and alloc_count.so, and the Go program under BUILD_DIR/go/.
# A run that fails or prints bad JSON fails the whole benchmark (exit 1).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build=$root/build-bench
args=()
c_bin="" go_bin=""
while [ $# -gt 0 ]; do
  case $1 in
    --build-dir) build=$2; shift 2 ;;
    --c-bin) c_bin=$2; shift 2 ;;
    --go-bin) go_bin=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
if [ -z "$c_bin" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DRH_GOLDEN=OFF >/dev/null
  cmake --build "$build" -j"$(nproc)" --target rafthttp raw_tcp alloc_count >/dev/null
  c_bin=$build/bin/rafthttp
fi
if [ -z "$go_bin" ]; then
  "$here/gorafthttp/build.sh" "$build/go" 2>/dev/null
  go_bin=$build/go/bin/gorafthttp-bench
fi
# the TLS row's certificates: a fresh CA and members each run
tls_dir=$(mktemp -d)
trap 'rm -rf "$tls_dir"' EXIT
"$root/tests/tls/make-certs.sh" "$tls_dir" >/dev/null 2>&1 ||
  { echo "bench/run.sh: tests/tls/make-certs.sh failed (openssl installed?)" >&2; exit 1; }
raw_bin=$(dirname "$c_bin")/raw_tcp
shim=$(dirname "$c_bin")/../bench/alloc_count.so
python3 "$here/report.py" --c-bin "$c_bin" --go-bin "$go_bin" --raw-bin "$raw_bin" \
  --shim "$shim" --tls-dir "$tls_dir" --results "$here/RESULTS.md" ${args[@]+"${args[@]}"}
