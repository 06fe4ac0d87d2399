#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs a build into a temporary prefix and builds every program in
# examples/ against it twice, with pkg-config (examples/Makefile) and with
# find_package(rafthttp) (examples/CMakeLists.txt, shared and static), then
# runs each. Also checks what was installed (headers, both libraries, .pc,
# CMake config, man pages, LICENSE).
#
#   scripts/examples.sh BUILD_DIR     (a configured and built tree)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: scripts/examples.sh BUILD_DIR" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
bdir=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$bdir" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name 'librafthttp.so' | head -1)")
for f in include/rafthttp/transport.h include/rafthttp/raftpb.h include/rafthttp/version.h \
         share/man/man1/rafthttp.1 share/man/man3/rafthttp.3 share/doc/rafthttp/LICENSE bin/rafthttp; do
	[ -e "$prefix/$f" ] || { echo "examples: FAIL: $f not installed" >&2; exit 1; }
done
for f in librafthttp.a librafthttp.so pkgconfig/rafthttp.pc cmake/rafthttp/rafthttpConfig.cmake; do
	[ -e "$libdir/$f" ] || { echo "examples: FAIL: $libdir/$f not installed" >&2; exit 1; }
done
echo "examples: installed into a temporary prefix: headers, librafthttp.a/.so, rafthttp.pc, CMake config, man pages, LICENSE"

# 1. pkg-config
mkdir -p "$tmp/pc"
PKG_CONFIG_PATH=$libdir/pkgconfig make -s -C "$tmp/pc" VPATH="$root/examples" \
	-f "$root/examples/Makefile" CFLAGS="-O2 -Wall -Wextra -Werror" \
	LDFLAGS="-Wl,-rpath,$libdir" >/dev/null
echo "examples: built with pkg-config: $(pkg-config --version >/dev/null && PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --cflags --libs rafthttp)"

# 2. find_package(rafthttp)
cmake -S "$root/examples" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_C_FLAGS="-Wall -Wextra -Werror" -DCMAKE_BUILD_RPATH="$libdir" >/dev/null
cmake --build "$tmp/cm" -j"$(nproc)" >/dev/null
echo "examples: built with find_package(rafthttp) (rafthttp::rafthttp and rafthttp::rafthttp_static)"

for p in "$tmp"/pc/two_transports "$tmp"/pc/send_snapshot "$tmp"/pc/raft_loop \
         "$tmp"/cm/two_transports "$tmp"/cm/two_transports_static "$tmp"/cm/send_snapshot "$tmp"/cm/raft_loop; do
	out=$(timeout 60 "$p" 2>"$tmp/stderr") || {
		echo "examples: FAIL: ${p#$tmp/} (exit $?):" >&2
		echo "$out" >&2
		tail -20 "$tmp/stderr" >&2
		exit 1
	}
	echo "examples: ${p#$tmp/}: $(echo "$out" | tail -1)"
done
echo "examples: PASS"
