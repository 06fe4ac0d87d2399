#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Every source file in the repository (C, headers, Go, Python, shell, CMake,
# Makefiles) carries an SPDX license line in its first three lines.
#   scripts/check-spdx.sh [--fix]
set -eu
cd "$(dirname "$0")/.."
fix=${1:-}
bad=0
for f in $(git ls-files | grep -E '\.(c|h|py|sh|go|cmake|in)$|(^|/)CMakeLists\.txt$|(^|/)Makefile$'); do
	head -3 "$f" | grep -q "SPDX-License-Identifier: Apache-2.0" && continue
	if [ "$fix" != "--fix" ]; then
		echo "no SPDX-License-Identifier line: $f" >&2
		bad=1
		continue
	fi
	case $f in
	*.c | *.h) line='/* SPDX-License-Identifier: Apache-2.0 */' ;;
	*.go) line='// SPDX-License-Identifier: Apache-2.0
' ;;
	*.pc.in) line='# SPDX-License-Identifier: Apache-2.0' ;;
	*) line='# SPDX-License-Identifier: Apache-2.0' ;;
	esac
	if head -1 "$f" | grep -q '^#!'; then
		{ head -1 "$f"; printf '%s\n' "$line"; tail -n +2 "$f"; } > "$f.spdx"
	else
		{ printf '%s\n' "$line"; cat "$f"; } > "$f.spdx"
	fi
	chmod --reference="$f" "$f.spdx"
	mv "$f.spdx" "$f"
done
[ $bad -eq 0 ] || exit 1
echo "spdx: every source file has its SPDX line"
