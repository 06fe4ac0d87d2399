#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Each public header compiles on its own as C99, C11 and C++11, pedantic
# and warning-free (what an application including only it gets).
#   tests/headers.sh INCLUDE_DIR
set -eu
inc=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
for h in "$inc"/rafthttp/*.h; do
	name=rafthttp/$(basename "$h")
	printf '#include <%s>\nint rh_header_test_unit;\n' "$name" > "$tmp/t.c"
	cp "$tmp/t.c" "$tmp/t.cc"
	for std in c99 c11; do
		${CC:-cc} -std=$std -pedantic -Wall -Wextra -Werror -I"$inc" -c "$tmp/t.c" -o "$tmp/t.o" ||
			{ echo "headers: FAIL: $name as $std" >&2; exit 1; }
	done
	${CXX:-c++} -std=c++11 -pedantic -Wall -Wextra -Werror -I"$inc" -c "$tmp/t.cc" -o "$tmp/t.o" ||
		{ echo "headers: FAIL: $name as C++11" >&2; exit 1; }
	n=$((n + 1))
done
echo "headers: $n public headers compile alone as C99, C11 and C++11"
