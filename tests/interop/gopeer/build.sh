#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build the Go interop peer (tests/interop/gopeer) against Debian's etcd 3.4
# source (golang-etcd-server-dev), GOPATH mode, no network.
#
#   build.sh BUILD_DIR      -> BUILD_DIR/bin/gopeer
#
# Missing go or etcd source is a failure, never a skip.
set -euo pipefail

die() {
	echo "gopeer/build.sh: $*" >&2
	exit 1
}

[ $# -eq 1 ] || {
	echo "usage: build.sh BUILD_DIR" >&2
	exit 2
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
gocode=${GOPEER_GOCODE:-/usr/share/gocode}
etcd=$gocode/src/go.etcd.io/etcd

command -v go >/dev/null 2>&1 ||
	die "go not found in PATH: install golang-go (Go >= 1.19) and golang-etcd-server-dev"
for f in etcdserver/api/rafthttp/transport.go etcdserver/api/snap/message.go \
	etcdserver/api/v2stats/server.go raft/raftpb/raft.pb.go version/version.go; do
	[ -f "$etcd/$f" ] || die "etcd 3.4 Go source missing ($etcd/$f): apt-get install golang-etcd-server-dev"
done
[ -d "$gocode/src/go.uber.org/zap" ] || die "go.uber.org/zap source missing under $gocode: apt-get install golang-go.uber-zap-dev"

mkdir -p "$1" || die "cannot create $1"
build_dir=$(cd "$1" && pwd)
mkdir -p "$build_dir/bin" "$build_dir/gopath" "$build_dir/gocache"

# The MSG printer shared with the golden generator: tests/go/msgjson, linked
# in as the import path rafthttptest/msgjson (rename, so that a concurrent
# golden.sh build using the same GOPATH never sees it missing).
msgjson=$build_dir/gopath/src/rafthttptest/msgjson
mkdir -p "${msgjson%/*}"
ln -sfn "$(cd "$here/../../go/msgjson" && pwd)" "$msgjson.tmp.$$"
mv -fT "$msgjson.tmp.$$" "$msgjson"

export GOPATH="$build_dir/gopath:$gocode" GO111MODULE=off GOFLAGS= GOENV=off \
	GOCACHE="$build_dir/gocache" GOTMPDIR= CGO_ENABLED=0
unset GOROOT_FINAL GOBIN 2>/dev/null || true

bin=$build_dir/bin/gopeer
(cd "$here" && go build -o "$bin.tmp.$$" .) || {
	rm -f "$bin.tmp.$$"
	die "building gopeer (tests/interop/gopeer) failed"
}
mv -f "$bin.tmp.$$" "$bin"
echo "gopeer/build.sh: built $bin" >&2
