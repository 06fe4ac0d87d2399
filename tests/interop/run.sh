#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Interop tests against real peers: etcd 3.4's Go rafthttp (gopeer) and
# real etcd 3.4.23 members.
#
#   tests/interop/run.sh BUILD_DIR
#
# BUILD_DIR/bin/rafthttp is the binary under test (an ASan build in CI);
# gopeer is built into BUILD_DIR/bin/gopeer first. ETCD_BIN overrides
# /usr/bin/etcd. Runs every test even after a failure, then exits 1 if any
# failed. Each test has its own time limit; the whole run takes about 30 s.
# A missing binary (rafthttp, go, etcd source, etcd) is a failure, not a skip.
set -uo pipefail

[ $# -eq 1 ] || {
	echo "usage: tests/interop/run.sh BUILD_DIR" >&2
	exit 2
}
here=$(cd "$(dirname "$0")" && pwd)
bdir=$(cd "$1" && pwd) || {
	echo "interop: no build directory $1" >&2
	exit 1
}
command -v python3 >/dev/null 2>&1 || {
	echo "interop: FAIL: python3 not found" >&2
	exit 1
}
"$here/gopeer/build.sh" "$bdir" >/dev/null || {
	echo "interop: FAIL: building gopeer failed" >&2
	exit 1
}

start=$SECONDS
failed=()
run() { # NAME LIMIT_SECONDS ARGS...
	local name=$1 limit=$2 rc=0
	shift 2
	echo "== interop: $name"
	# python3 kills its children on SIGTERM (harness.py); -k: if it cannot
	timeout -k 10 "$limit" python3 "$here/$name.py" "$@" || rc=$?
	[ "$rc" -ne 124 ] || echo "FAIL $name: timed out after ${limit}s"
	[ "$rc" -eq 0 ] || failed+=("$name")
}
run test_go_streams 90 "$bdir/bin/rafthttp" "$bdir/bin/gopeer"
run test_errors 60 "$bdir/bin/rafthttp" "$bdir/bin/gopeer"
run test_etcd 60 "$bdir/bin/rafthttp" "${ETCD_BIN:-/usr/bin/etcd}"
run test_etcd_tls 60 "$bdir/bin/rafthttp" "${ETCD_BIN:-/usr/bin/etcd}"
run test_tls_refusals 90 "$bdir/bin/rafthttp" "$bdir/bin/gopeer"
run test_etcd_tls_refusals 90 "$bdir/bin/rafthttp" "${ETCD_BIN:-/usr/bin/etcd}"
run test_ops 120 "$bdir/bin/rafthttp" "$bdir/bin/gopeer" "${ETCD_BIN:-/usr/bin/etcd}"
# Go -> C snapshots: 0 B, 1 MiB, 256 MiB (SNAP_SIZES_MIB="0 1 256 1024" for
# the 1 GiB run); ASan's quarantine kept small so peak RSS measures us
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8" \
	run test_snapshot 180 "$bdir/bin/rafthttp" "$bdir/bin/gopeer" ${SNAP_SIZES_MIB:-0 1 256}
# all of test_go_streams and test_snapshot again over mutual TLS
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8" \
	run test_go_tls 240 "$bdir/bin/rafthttp" "$bdir/bin/gopeer" ${SNAP_SIZES_MIB:-0 1 256}

if [ ${#failed[@]} -ne 0 ]; then
	echo "== interop: FAIL (${failed[*]}) in $((SECONDS - start)) s"
	exit 1
fi
echo "== interop: PASS in $((SECONDS - start)) s"
