#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Black-box tests: `rafthttp node` processes only (several C members over
# loopback, raw HTTP and small fake peers written in Python), through the
# contract of docs/node-cli.md: every flag, command and event, the
# exit statuses, /version, /members, /metrics, the server limits and peer
# TLS (test_tls: refusals, hostile handshakes, rotation; needs openssl).
#
#   tests/blackbox/run.sh BUILD_DIR
#
# BUILD_DIR/bin/rafthttp is the binary under test (an ASan build in CI).
# Runs every test file, each under its own time limit, even after a failure;
# prints a PASS/FAIL line per file and a summary; exits 1 if any failed.
# A missing binary or python3 is a failure, never a skip. About 45 s.
set -uo pipefail

[ $# -eq 1 ] || {
	echo "usage: tests/blackbox/run.sh BUILD_DIR" >&2
	exit 2
}
here=$(cd "$(dirname "$0")" && pwd)
bdir=$(cd "$1" 2>/dev/null && pwd) || {
	echo "black-box: FAIL: no build directory $1" >&2
	exit 1
}
bin=$bdir/bin/rafthttp
[ -x "$bin" ] || {
	echo "black-box: FAIL: $bin not found or not executable" >&2
	exit 1
}
command -v python3 >/dev/null 2>&1 || {
	echo "black-box: FAIL: python3 not found" >&2
	exit 1
}

start=$SECONDS
passed=()
failed=()
run() { # NAME LIMIT_SECONDS
	local name=$1 limit=$2 rc=0 t0=$SECONDS
	echo "== black-box: $name"
	# python3 kills its nodes on SIGTERM (bb.py); -k: if it cannot
	timeout -k 10 "$limit" python3 "$here/$name.py" "$bin" || rc=$?
	[ "$rc" -ne 124 ] || echo "FAIL $name: timed out after ${limit}s"
	if [ "$rc" -eq 0 ]; then
		passed+=("$name ($((SECONDS - t0)) s)")
	else
		failed+=("$name")
	fi
}
run test_flags 90
run test_http 90
run test_messages 90
run test_snapshot 90
run test_peers 90
run test_tls 120

echo "== black-box summary ($((SECONDS - start)) s)"
for t in "${passed[@]}"; do echo "PASS $t"; done
for t in "${failed[@]}"; do echo "FAIL $t"; done
[ ${#failed[@]} -eq 0 ] || exit 1
echo "== black-box: PASS"
