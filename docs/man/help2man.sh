#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# rafthttp(1) from the binary's own help texts, so the man page says what
# `rafthttp help` says: help2man.sh RAFTHTTP_BIN VERSION > rafthttp.1
set -eu
bin=$1 version=$2
roff() { # man-page style text -> roff: headings at column 0, the rest verbatim
	sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/" | awk -v pre="$1" '
		/^[A-Z][A-Z ]*$/ { if (open) print ".fi"; print ".SH " pre $0; print ".nf"; open = 1; next }
		{ print }
		END { if (open) print ".fi" }'
}
echo ".TH RAFTHTTP 1 \"\" \"rafthttp $version\" \"User Commands\""
"$bin" help | roff ""
for cmd in node decode encode bench; do
	echo ".SH \"rafthttp $cmd\""
	"$bin" help "$cmd" | roff "$(echo "$cmd" | tr a-z A-Z): "
done
cat <<'TAIL'
.SH SEE ALSO
.BR rafthttp (3);
docs/node-cli.md (the node command's contract) and docs/json.md (the JSON
forms of messages) in the source tree.
TAIL
