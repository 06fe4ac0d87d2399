#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `rafthttp decode` / `rafthttp encode` against the Go golden files
# (docs/json.md): decode prints exactly what Go's decoders saw, encode and
# decode round-trip, and broken streams and bad usage fail the documented way.
#
# usage: test_decode_encode.sh RAFTHTTP_BIN GOLDEN_DIR
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 RAFTHTTP_BIN GOLDEN_DIR" >&2
    exit 2
fi
BIN=$1
G=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1" >&2; fails=$((fails + 1)); }

for f in message.stream message.jsonl msgappv2.stream msgappv2.jsonl \
         msgappv2.in.jsonl meta.json; do
    [ -f "$G/$f" ] || { echo "missing golden file $G/$f" >&2; exit 1; }
done

# Runs the binary, recording its exit status in $rc without tripping set -e.
run() { rc=0; "$@" || rc=$?; }

# Removes the empty bytes fields, which encode reads as absent.
strip_empty() { sed -e 's/,"data":""//g' -e 's/"data":"",//g' -e 's/,"context":""//g'; }

# Frame offsets of a message stream: "start length" per frame.
frames() {
    python3 - "$1" <<'EOF'
import struct, sys
data = open(sys.argv[1], 'rb').read()
pos = 0
while pos + 8 <= len(data):
    (n,) = struct.unpack('>Q', data[pos:pos + 8])
    print(pos, n)
    pos += 8 + n
EOF
}

# Checks that the exit status was 1, the output $1 is $4 events equal to
# the first lines of $3, then an error event at offset $2.
check_error_at() {
    local out=$1 want_off=$2 ref=$3 want_lines=$4 name=$5
    local last nlines
    last=$(tail -n 1 "$out")
    nlines=$(($(wc -l < "$out") - 1))
    if [ "$rc" -ne 1 ]; then
        bad "$name: exit status $rc, want 1"
    elif [ "$nlines" -ne "$want_lines" ]; then
        bad "$name: $nlines events before the error, want $want_lines"
    elif ! python3 -c '
import json, sys
e = json.loads(sys.argv[1])
sys.exit(0 if e.get("event") == "error" and e.get("offset") == int(sys.argv[2])
         and isinstance(e.get("error"), str) and e["error"] else 1)' "$last" "$want_off"; then
        bad "$name: last line is not an error event at offset $want_off: $last"
    elif ! head -n "$nlines" "$out" | cmp -s - <(head -n "$nlines" "$ref"); then
        bad "$name: events before the error differ from the reference"
    else
        ok "$name"
    fi
}

L=$(python3 -c 'import json,sys; print("%x" % json.load(open(sys.argv[1]))["local"])' "$G/meta.json")
R=$(python3 -c 'import json,sys; print("%x" % json.load(open(sys.argv[1]))["remote"])' "$G/meta.json")

# (a) message stream: C's decode prints what Go's decoder saw.
run "$BIN" decode --stream message "$G/message.stream" > "$T/a.jsonl"
if [ "$rc" -eq 0 ] && cmp "$T/a.jsonl" "$G/message.jsonl"; then
    ok "decode message.stream == message.jsonl"
else
    bad "decode message.stream (exit $rc) differs from message.jsonl"
fi

# Same from standard input.
run "$BIN" decode - < "$G/message.stream" > "$T/a2.jsonl"
if [ "$rc" -eq 0 ] && cmp -s "$T/a2.jsonl" "$G/message.jsonl"; then
    ok "decode from stdin"
else
    bad "decode from stdin (exit $rc) differs"
fi

# (b) msgappv2 stream, with the IDs AppEntries frames imply.
run "$BIN" decode --stream msgappv2 --local "$L" --remote "$R" "$G/msgappv2.stream" \
    > "$T/b.jsonl"
if [ "$rc" -eq 0 ] && cmp "$T/b.jsonl" "$G/msgappv2.jsonl"; then
    ok "decode msgappv2.stream == msgappv2.jsonl"
else
    bad "decode msgappv2.stream (exit $rc) differs from msgappv2.jsonl"
fi
run "$BIN" decode --stream=msgappv2 --local=0x"$L" --remote "$R" - \
    < "$G/msgappv2.stream" > "$T/b2.jsonl"
if [ "$rc" -eq 0 ] && cmp -s "$T/b2.jsonl" "$G/msgappv2.jsonl"; then
    ok "decode msgappv2 with --flag=value, 0x IDs and stdin"
else
    bad "decode msgappv2 with --flag=value (exit $rc) differs"
fi

# (c) encode then decode gives back the same events ("" fields aside).
strip_empty < "$G/message.jsonl" > "$T/c.want"
run "$BIN" encode --stream message < "$G/message.jsonl" > "$T/c.stream"
if [ "$rc" -ne 0 ]; then
    bad "encode message.jsonl: exit $rc"
else
    run "$BIN" decode --stream message "$T/c.stream" > "$T/c.jsonl"
    if [ "$rc" -eq 0 ] && cmp "$T/c.jsonl" "$T/c.want"; then
        ok "encode message.jsonl | decode == message.jsonl"
    else
        bad "encode message.jsonl | decode (exit $rc) differs"
    fi
    # With no empty bytes fields to lose, the bytes are Go's own.
    if ! grep -q '":""' "$G/message.jsonl"; then
        if cmp -s "$T/c.stream" "$G/message.stream"; then
            ok "encode message.jsonl == message.stream byte for byte"
        else
            bad "encode message.jsonl differs from message.stream"
        fi
    fi
fi

strip_empty < "$G/msgappv2.jsonl" > "$T/c2.want"
run "$BIN" encode --stream msgappv2 "$G/msgappv2.in.jsonl" > "$T/c2.stream"
if [ "$rc" -ne 0 ]; then
    bad "encode --stream msgappv2 msgappv2.in.jsonl: exit $rc"
else
    run "$BIN" decode --stream msgappv2 --local "$L" --remote "$R" "$T/c2.stream" \
        > "$T/c2.jsonl"
    if [ "$rc" -eq 0 ] && cmp "$T/c2.jsonl" "$T/c2.want"; then
        ok "encode msgappv2.in.jsonl | decode == msgappv2.jsonl"
    else
        bad "encode msgappv2.in.jsonl | decode (exit $rc) differs"
    fi
    if ! grep -q '":""' "$G/msgappv2.in.jsonl"; then
        if cmp -s "$T/c2.stream" "$G/msgappv2.stream"; then
            ok "encode msgappv2.in.jsonl == msgappv2.stream byte for byte"
        else
            bad "encode msgappv2.in.jsonl differs from msgappv2.stream"
        fi
    fi
fi

# (d) a stream cut inside a frame: the events before it, then an error at
# the cut frame's first byte.
frames "$G/message.stream" > "$T/frames"
nframes=$(wc -l < "$T/frames")
if [ "$nframes" -lt 2 ]; then
    bad "message.stream has $nframes frames; need at least 2"
else
    k=$((nframes / 2))
    read -r start len < <(sed -n "$((k + 1))p" "$T/frames")
    for cut in $((start + 3)) $((start + 8 + len / 2)); do
        if [ "$cut" -ge $((start + 8 + len)) ]; then
            continue # an empty frame cannot be cut in its body
        fi
        head -c "$cut" "$G/message.stream" > "$T/d.stream"
        run "$BIN" decode "$T/d.stream" > "$T/d.jsonl"
        check_error_at "$T/d.jsonl" "$start" "$G/message.jsonl" "$k" \
            "truncated at byte $cut (frame $k at $start)"
    done
fi

# (e) corrupted streams.
# A frame length of 2^64-1 after two good frames.
read -r s2 l2 < <(sed -n 2p "$T/frames")
good=$((s2 + 8 + l2))
{ head -c "$good" "$G/message.stream"; printf '\377\377\377\377\377\377\377\377'; } \
    > "$T/e1.stream"
run "$BIN" decode "$T/e1.stream" > "$T/e1.jsonl"
check_error_at "$T/e1.jsonl" "$good" "$G/message.jsonl" 2 "frame length 0xffffffffffffffff"

# A frame whose protobuf is garbage (a truncated varint).
{ head -c "$good" "$G/message.stream"; printf '\0\0\0\0\0\0\0\003\377\377\377'; } \
    > "$T/e2.stream"
run "$BIN" decode "$T/e2.stream" > "$T/e2.jsonl"
check_error_at "$T/e2.jsonl" "$good" "$G/message.jsonl" 2 "frame with a bad protobuf"

# msgappv2: unknown type byte 7, after the whole golden stream and after
# two link heartbeats.
size=$(wc -c < "$G/msgappv2.stream")
{ cat "$G/msgappv2.stream"; printf '\007'; } > "$T/e3.stream"
run "$BIN" decode --stream msgappv2 --local "$L" --remote "$R" "$T/e3.stream" \
    > "$T/e3.jsonl"
check_error_at "$T/e3.jsonl" "$size" "$G/msgappv2.jsonl" \
    "$(wc -l < "$G/msgappv2.jsonl")" "msgappv2 type byte 7 at the end"
printf '\0\0\007' > "$T/e4.stream"
run "$BIN" decode --stream msgappv2 "$T/e4.stream" > "$T/e4.jsonl"
printf '{"event":"linkHeartbeat"}\n{"event":"linkHeartbeat"}\n' > "$T/e4.want"
check_error_at "$T/e4.jsonl" 2 "$T/e4.want" 2 "msgappv2 type byte 7 after heartbeats"

# An AppEntries frame announcing 2^64-1 entries.
{ printf '\001'; printf '\377\377\377\377\377\377\377\377'; } > "$T/e5.stream"
run "$BIN" decode --stream msgappv2 "$T/e5.stream" > "$T/e5.jsonl"
check_error_at "$T/e5.jsonl" 0 /dev/null 0 "msgappv2 AppEntries count 2^64-1"

# Empty input is a clean, empty stream.
run "$BIN" decode < /dev/null > "$T/empty.jsonl"
if [ "$rc" -eq 0 ] && [ ! -s "$T/empty.jsonl" ]; then
    ok "empty input"
else
    bad "empty input: exit $rc"
fi

# encode: a bad line stops with an error event naming it, after the frames
# of the good lines.
head -n 2 "$G/message.jsonl" > "$T/f.in"
echo '{"type":"MsgApp","term":"five"}' >> "$T/f.in"
run "$BIN" encode < "$T/f.in" > "$T/f.stream" 2> "$T/f.err"
if [ "$rc" -eq 1 ] && python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
e = json.loads(lines[-1])
sys.exit(0 if len(lines) == 1 and e["event"] == "error" and e["line"] == 3
         and "term" in e["error"] else 1)' "$T/f.err"; then
    head -n 2 "$G/message.jsonl" | strip_empty > "$T/f.want"
    run "$BIN" decode "$T/f.stream" > "$T/f.jsonl"
    if [ "$rc" -eq 0 ] && cmp -s "$T/f.jsonl" "$T/f.want"; then
        ok "encode: bad line 3 reported, lines 1-2 written"
    else
        bad "encode: frames before the bad line are wrong"
    fi
else
    bad "encode: bad line: exit $rc, stderr: $(cat "$T/f.err")"
fi
printf '\n  \n{"type":"MsgHeartbeat"}\n\n' | "$BIN" encode --stream msgappv2 > "$T/g.stream"
if [ "$(od -An -tx1 "$T/g.stream" | tr -d ' \n')" = "00" ]; then
    ok "encode: blank lines skipped, link heartbeat is one 0 byte on msgappv2"
else
    bad "encode: link heartbeat on msgappv2"
fi

# (f) bad usage: exit 2 with one line on stderr.
usage_case() {
    local name=$1
    shift
    run "$BIN" "$@" < /dev/null > "$T/u.out" 2> "$T/u.err"
    if [ "$rc" -eq 2 ] && [ "$(wc -l < "$T/u.err")" -eq 1 ] && [ ! -s "$T/u.out" ]; then
        ok "usage: $name"
    else
        bad "usage: $name: exit $rc, stderr: $(cat "$T/u.err")"
    fi
}
usage_case "no command"
usage_case "unknown command" frobnicate
usage_case "unknown top-level flag" --frob
usage_case "decode unknown flag" decode --frob
usage_case "decode unknown stream" decode --stream pipeline
usage_case "decode missing value" decode --stream
usage_case "decode bad --local" decode --local xyz
usage_case "decode decimal-looking overlong --remote" decode --remote 12345678901234567
usage_case "decode two files" decode a b
usage_case "encode unknown flag" encode --local 1
usage_case "help for an unknown command" help frobnicate

run "$BIN" --help > "$T/h.out"
if [ "$rc" -eq 0 ] && grep -q SYNOPSIS "$T/h.out"; then ok "--help"; else bad "--help"; fi
run "$BIN" decode --help > "$T/h.out"
if [ "$rc" -eq 0 ] && grep -q -- "--stream" "$T/h.out"; then ok "decode --help"; else bad "decode --help"; fi
run "$BIN" --version > "$T/h.out"
if [ "$rc" -eq 0 ] && grep -q '^rafthttp [0-9]' "$T/h.out"; then ok "--version"; else bad "--version"; fi

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed" >&2
    exit 1
fi
echo "all checks passed"
