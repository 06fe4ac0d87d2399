#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Go side of the benchmark (bench/gorafthttp) against Debian's
# etcd 3.4 source (golang-etcd-server-dev), GOPATH mode, no network.
#
#   build.sh OUT_DIR      -> OUT_DIR/bin/gorafthttp-bench
#
# Missing go or etcd source is a failure, never a skip.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: build.sh OUT_DIR" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
gocode=/usr/share/gocode
command -v go >/dev/null || { echo "build.sh: go not found: apt-get install golang-go" >&2; exit 1; }
[ -f "$gocode/src/go.etcd.io/etcd/etcdserver/api/rafthttp/transport.go" ] ||
  { echo "build.sh: etcd source missing: apt-get install golang-etcd-server-dev" >&2; exit 1; }
mkdir -p "$1/bin" "$1/gopath" "$1/gocache"
out=$(cd "$1" && pwd)
export GOPATH="$out/gopath:$gocode" GO111MODULE=off GOFLAGS= GOENV=off GOCACHE="$out/gocache" CGO_ENABLED=0
(cd "$here" && go build -o "$out/bin/gorafthttp-bench.tmp.$$" .)
mv -f "$out/bin/gorafthttp-bench.tmp.$$" "$out/bin/gorafthttp-bench"
echo "build.sh: built $out/bin/gorafthttp-bench" >&2
