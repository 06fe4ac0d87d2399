#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Golden tests, Go side: build tests/golden/gen against etcd 3.4's own
# rafthttp/raftpb (Debian golang-etcd-server-dev, GOPATH mode) and run it.
#
#   golden.sh gen    BUILD_DIR GOLDEN_DIR   write the golden files
#   golden.sh verify BUILD_DIR GOLDEN_DIR   check the C-written c_* files
#
# gen honours GOLDEN_SEED (default 1) and GOLDEN_N (default 10000); verify
# takes seed and count from GOLDEN_DIR/meta.json. Missing go or etcd source
# is a failure, never a skip.
set -euo pipefail

die() {
	echo "golden.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: golden.sh gen|verify BUILD_DIR GOLDEN_DIR" >&2
	exit 2
}

[ $# -eq 3 ] || usage
mode=$1
build_dir=$2
golden_dir=$3
case $mode in
gen | verify) ;;
*) usage ;;
esac

src=${BASH_SOURCE[0]}
case $src in */*) src=${src%/*} ;; *) src=. ;; esac
here=$(cd "$src" && pwd)
gocode=${GOLDEN_GOCODE:-/usr/share/gocode}
etcd_rafthttp=$gocode/src/go.etcd.io/etcd/etcdserver/api/rafthttp

command -v go >/dev/null 2>&1 ||
	die "go not found in PATH: install golang-go (Go >= 1.19) and golang-etcd-server-dev"
[ -f "$etcd_rafthttp/msgappv2_codec.go" ] && [ -f "$etcd_rafthttp/msg_codec.go" ] ||
	die "etcd 3.4 Go source missing ($etcd_rafthttp): apt-get install golang-etcd-server-dev"
[ -f "$gocode/src/go.etcd.io/etcd/raft/raftpb/raft.pb.go" ] ||
	die "etcd raftpb Go source missing under $gocode: apt-get install golang-etcd-server-dev"

mkdir -p "$build_dir" || die "cannot create $build_dir"
build_dir=$(cd "$build_dir" && pwd)
out=$build_dir/golden-go
gopath=$build_dir/gopath

# Shadow etcd's rafthttp package: symlinks to all its non-test files plus our
# export_golden.go, which exports thin wrappers around the unexported codecs.
shadow=$gopath/src/go.etcd.io/etcd/etcdserver/api/rafthttp
mkdir -p "$shadow" "$out"
find "$shadow" -maxdepth 1 -type l ! -exec test -e {} \; -delete
for f in "$etcd_rafthttp"/*.go; do
	case $f in *_test.go) continue ;; esac
	ln -sfn "$f" "$shadow/$(basename "$f")"
done
if ! cmp -s "$here/export/export_golden.go" "$shadow/export_golden.go"; then
	cp "$here/export/export_golden.go" "$shadow/export_golden.go.tmp"
	mv -f "$shadow/export_golden.go.tmp" "$shadow/export_golden.go"
fi

# The MSG printer shared with tests/interop/gopeer: tests/go/msgjson, linked
# in as the import path rafthttptest/msgjson (rename, so that a concurrent
# gopeer build using the same GOPATH never sees it missing).
msgjson=$gopath/src/rafthttptest/msgjson
mkdir -p "${msgjson%/*}"
ln -sfn "$(cd "$here/../go/msgjson" && pwd)" "$msgjson.tmp.$$"
mv -fT "$msgjson.tmp.$$" "$msgjson"

export GOPATH="$gopath:$gocode" GO111MODULE=off GOFLAGS= GOENV=off \
	GOCACHE="$out/cache" GOTMPDIR= CGO_ENABLED=0
unset GOROOT_FINAL GOBIN 2>/dev/null || true

bin=$out/golden-gen
(cd "$here/gen" && go build -o "$bin.tmp.$$" .) ||
	{
		rm -f "$bin.tmp.$$"
		die "building the Go golden program (tests/golden/gen) failed"
	}
mv -f "$bin.tmp.$$" "$bin"

case $mode in
gen)
	seed=${GOLDEN_SEED:-1}
	n=${GOLDEN_N:-10000}
	[[ $seed =~ ^-?[0-9]+$ ]] || die "GOLDEN_SEED must be an integer, got '$seed'"
	[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] || die "GOLDEN_N must be a positive integer, got '$n'"
	"$bin" gen -dir "$golden_dir" -seed "$seed" -n "$n" || die "gen failed"
	;;
verify)
	[ -f "$golden_dir/meta.json" ] || die "$golden_dir/meta.json missing: run 'golden.sh gen' first"
	"$bin" verify -dir "$golden_dir" || die "verify failed (see above)"
	;;
esac
