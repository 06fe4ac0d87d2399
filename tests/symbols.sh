#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The shared library exports exactly the public API: every dynamic symbol
# it defines is an rh_ name declared RH_API in include/rafthttp/, and every
# RH_API function there is exported.
#   tests/symbols.sh LIBRARY.so INCLUDE_DIR
set -eu
lib=$1 inc=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sort -u > "$tmp/exported"
sed -n 's/^RH_API .*[ *]\(rh_[a-z0-9_]*\)(.*/\1/p' "$inc"/rafthttp/*.h | sort -u > "$tmp/declared"
bad=$(grep -v '^rh_' "$tmp/exported" || true)
if [ -n "$bad" ]; then
	echo "symbols: FAIL: exported without the rh_ prefix:" $bad >&2
	exit 1
fi
extra=$(comm -23 "$tmp/exported" "$tmp/declared")
missing=$(comm -13 "$tmp/exported" "$tmp/declared")
if [ -n "$extra" ] || [ -n "$missing" ]; then
	[ -z "$extra" ] || echo "symbols: FAIL: exported but not RH_API in the headers:" $extra >&2
	[ -z "$missing" ] || echo "symbols: FAIL: RH_API in the headers but not exported:" $missing >&2
	exit 1
fi
echo "symbols: $(wc -l < "$tmp/exported") exported, all rh_, each declared RH_API"
