#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Codec benchmark: C (bench_codec) beside etcd 3.4's Go raftpb (go/main.go),
# same messages, same run. Prints a Markdown table with the C/Go ratio.
#
#   bench/codec/run.sh [BUILD_DIR] [options]
#
# BUILD_DIR   CMake build dir holding bin/bench_codec (default /work/main/build;
#             built there with `cmake --build BUILD_DIR --target bench_codec`
#             when missing). The Go program, its GOPATH/GOCACHE and the run's
#             JSON go to BUILD_DIR/bench-codec/.
# --seconds S measured wall time per (case, op) on each side (default 1;
#             0.2 is a quick CI run)
# --ops LIST  comma-separated ops (default: all). encode, decode are the
#             issue's rows; encode-alloc, stream-encode, stream-decode,
#             encode-scatter, msgappv2-scatter are informational extras.
#             encode-scatter is C only: its table rows compare it with Go's
#             encode (MarshalTo) and stream-encode (messageEncoder) rows,
#             which are run on the Go side whenever it is
# --check     exit 1 if a checked row's C/Go ratio is below --min-ratio
# --check-ops LIST  rows --check looks at (default encode,decode)
# --min-ratio R     default 2.0
# --c-bin P / --go-bin P  use these binaries instead of building
# --pin CPU   run both sides under `taskset -c CPU`
# --json      also print the raw JSON lines
#
# Exit: 0 ok; 1 bytes differ, a side failed, or --check found a ratio below
# the target; 2 usage or build error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src_root=$(cd "$here/../.." && pwd)

build_dir=""
seconds=1
ops=""
check=0
check_ops="encode,decode"
min_ratio=2.0
c_bin=""
go_bin=""
pin=""
show_json=0

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
    --seconds) seconds=${2:?}; shift 2 ;;
    --seconds=*) seconds=${1#*=}; shift ;;
    --ops) ops=${2:?}; shift 2 ;;
    --check) check=1; shift ;;
    --check-ops) check_ops=${2:?}; shift 2 ;;
    --min-ratio) min_ratio=${2:?}; shift 2 ;;
    --c-bin) c_bin=${2:?}; shift 2 ;;
    --go-bin) go_bin=${2:?}; shift 2 ;;
    --pin) pin=${2:?}; shift 2 ;;
    --json) show_json=1; shift ;;
    -h|--help) usage ;;
    -*) echo "run.sh: unknown option $1" >&2; usage ;;
    *)
        [ -z "$build_dir" ] || { echo "run.sh: one BUILD_DIR only" >&2; usage; }
        build_dir=$1; shift ;;
    esac
done
[ -n "$build_dir" ] || build_dir="$src_root/build"
mkdir -p "$build_dir"
build_dir=$(cd "$build_dir" && pwd)
work="$build_dir/bench-codec"
mkdir -p "$work"

# ---- C side -----------------------------------------------------------------
if [ -z "$c_bin" ]; then
    c_bin="$build_dir/bin/bench_codec"
    if [ -f "$build_dir/CMakeCache.txt" ]; then
        bt=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt")
        if [ "$bt" != "Release" ]; then
            echo "run.sh: warning: $build_dir is a '${bt:-no build type}' build;" \
                 "measure on -DCMAKE_BUILD_TYPE=Release" >&2
        fi
        # a build dir configured before bench_codec.c existed has no such
        # target yet: re-configure once and retry
        cmake --build "$build_dir" --target bench_codec >"$work/c-build.log" 2>&1 ||
        { cmake "$build_dir" >>"$work/c-build.log" 2>&1 &&
          cmake --build "$build_dir" --target bench_codec >>"$work/c-build.log" 2>&1; } || {
            cat "$work/c-build.log" >&2
            echo "run.sh: building bench_codec in $build_dir failed" >&2
            exit 2
        }
    fi
    [ -x "$c_bin" ] || {
        echo "run.sh: $c_bin missing; configure first:" >&2
        echo "  cmake -S $src_root -B $build_dir -DCMAKE_BUILD_TYPE=Release -DRH_GOLDEN=OFF" >&2
        exit 2
    }
fi

# ---- Go side ----------------------------------------------------------------
if [ -z "$go_bin" ]; then
    go_bin="$work/bench_codec_go"
    command -v go >/dev/null || { echo "run.sh: go not found" >&2; exit 2; }
    [ -d /usr/share/gocode/src/go.etcd.io/etcd/raft/raftpb ] || {
        echo "run.sh: etcd raftpb Go source missing (golang-etcd-server-dev)" >&2
        exit 2
    }
    mkdir -p "$work/gopath" "$work/gocache"
    (cd "$here/go" &&
        GOPATH="$work/gopath:/usr/share/gocode" GO111MODULE=off \
        GOCACHE="$work/gocache" GOFLAGS='' go build -o "$go_bin" .) || {
        echo "run.sh: building the Go benchmark failed" >&2
        exit 2
    }
fi

runner=()
[ -z "$pin" ] || runner=(taskset -c "$pin")
op_args_c=()
op_args_go=()
if [ -n "$ops" ]; then
    op_args_c=(--ops "$ops")
    go_ops=$ops
    # C-only ops: run the Go rows they are compared with
    case ",$ops," in
    *,encode-scatter,*) go_ops="$go_ops,encode,stream-encode" ;;
    esac
    op_args_go=(-ops "$go_ops")
fi

# ---- same bytes? -----------------------------------------------------------------
rm -rf "$work/go-bytes"
mkdir -p "$work/go-bytes"
"$go_bin" -dump "$work/go-bytes"

# ---- run: C first, then Go, never both at once -------------------------------------
status=0
"${runner[@]}" "$c_bin" --seconds "$seconds" --expect "$work/go-bytes" \
    "${op_args_c[@]}" >"$work/c.jsonl" 2>"$work/c.err" || status=$?
if [ $status -ne 0 ]; then
    cat "$work/c.err" >&2
    grep '"verify"' "$work/c.jsonl" >&2 || true
    echo "run.sh: bench_codec failed (exit $status)" >&2
    exit 1
fi
"${runner[@]}" "$go_bin" -seconds "$seconds" "${op_args_go[@]}" \
    >"$work/go.jsonl" 2>"$work/go.err" || {
    cat "$work/go.err" >&2
    echo "run.sh: Go benchmark failed" >&2
    exit 1
}
[ $show_json -eq 0 ] || cat "$work/c.jsonl" "$work/go.jsonl"

# ---- table ------------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
gov=$(go version 2>/dev/null | awk '{print $3}')
ccv=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
[ -z "$ccv" ] || ccv=$("$ccv" --version 2>/dev/null | head -1)

awk -v check="$check" -v check_ops="$check_ops" -v min_ratio="$min_ratio" \
    -v seconds="$seconds" -v cpu="${cpu:-?}" -v gov="${gov:-?}" -v ccv="${ccv:-?}" \
    -v ncpu="$(nproc 2>/dev/null || echo ?)" -v pin="${pin:-none}" '
function field(line, key,    i, rest) {
    i = index(line, "\"" key "\":")
    if (i == 0) return ""
    rest = substr(line, i + length(key) + 3)
    if (substr(rest, 1, 1) == "\"") {
        rest = substr(rest, 2)
        return substr(rest, 1, index(rest, "\"") - 1)
    }
    match(rest, /^[-0-9.eE+a-z]+/)
    return substr(rest, 1, RLENGTH)
}
function commas(x,    s, neg, out) {
    s = sprintf("%.0f", x)
    neg = substr(s, 1, 1) == "-"
    if (neg) s = substr(s, 2)
    out = ""
    while (length(s) > 3) {
        out = "," substr(s, length(s) - 2) out
        s = substr(s, 1, length(s) - 3)
    }
    return (neg ? "-" : "") s out
}
# One table row: C op cop against Go op gop, labelled label.
function row(cs, cop, gop, label,    kc, kg, hc, hg, ratio, mark) {
    kc = cs SUBSEP cop; kg = cs SUBSEP gop
    hc = (("c", kc) in mps); hg = (("go", kg) in mps)
    ratio = (hc && hg && mps["go", kg] > 0) ? mps["c", kc] / mps["go", kg] : -1
    mark = ""
    if (cop in checked) {
        if (ratio >= 0 && ratio < min_ratio) { mark = " (< " min_ratio ")"; fail++ }
    } else {
        mark = " (info)"
    }
    printf "| %s | %s | %s | %s | %s | %s | %s%s |\n", cs, label,
        hc ? commas(mps["c", kc]) : "-", hc ? commas(mbs["c", kc]) : "-",
        hg ? commas(mps["go", kg]) : "-", hg ? commas(mbs["go", kg]) : "-",
        (ratio >= 0 ? sprintf("%.2fx", ratio) : "-"), mark
}
BEGIN {
    n = split(check_ops, co, ",")
    for (i = 1; i <= n; i++) checked[co[i]] = 1
}
{
    impl = field($0, "impl"); cs = field($0, "case")
    if (field($0, "verify") != "") {
        vstat[cs] = field($0, "verify"); vbytes[cs] = field($0, "c_bytes")
        if (!(cs in seen_case)) { seen_case[cs] = 1; cases[++ncases] = cs }
        next
    }
    op = field($0, "op")
    if (op == "") next
    k = cs SUBSEP op
    if (!(k in have)) { have[k] = 1; rows[++nrows] = k }
    if (!(cs in seen_case)) { seen_case[cs] = 1; cases[++ncases] = cs }
    mps[impl, k] = field($0, "msgs_per_s"); mbs[impl, k] = field($0, "mb_per_s")
    bytes[cs] = field($0, "msg_bytes"); fnv[impl, cs] = field($0, "fnv64")
}
END {
    printf "Codec benchmark: raftpb MsgApp encode/decode, C (rafthttp) vs Go (etcd 3.4 gogoproto raftpb)\n\n"
    printf "- %s s measured per row per side after warmup; C run first, then Go (pin: %s)\n", seconds, pin
    printf "- CPU: %s (%s cores); C: %s; Go: %s\n", cpu, ncpu, ccv, gov
    allok = 1; msg = ""
    for (i = 1; i <= ncases; i++) {
        cs = cases[i]
        ok = (vstat[cs] == "ok")
        if (("c", cs) in fnv && ("go", cs) in fnv && fnv["c", cs] != fnv["go", cs]) ok = 0
        if (!ok) allok = 0
        msg = msg sprintf("%s%s %s B %s", (i > 1 ? ", " : ""), cs, vbytes[cs] != "" ? vbytes[cs] : bytes[cs], ok ? "ok" : "DIFFER")
    }
    printf "- bytes matched: %s (C rh_msg_encode == Go Marshal byte for byte, and C decodes Go'"'"'s bytes to the same message: %s)\n",
        allok ? "yes" : "NO", msg
    printf "- MB = 1e6 bytes of encoded protobuf message (stream rows: same, frame header not counted)\n\n"
    printf "| case | op | C msgs/s | C MB/s | Go msgs/s | Go MB/s | C/Go |\n"
    printf "|---|---|--:|--:|--:|--:|--:|\n"
    fail = 0
    for (r = 1; r <= nrows; r++) {
        k = rows[r]; split(k, kk, SUBSEP); cs = kk[1]; op = kk[2]
        if (op == "encode-scatter") {
            # Go has no scatter encoder: set the C stream-writer path against
            # the best-case Go encode and against what the etcd writer does
            row(cs, op, "encode", "encode (C scatter vs Go MarshalTo)")
            row(cs, op, "stream-encode", "stream-encode (C scatter vs Go messageEncoder)")
        } else if (op == "msgappv2-scatter") {
            row(cs, op, "", "msgappv2 AppEntries (C scatter; no Go row)")
        } else if (!(("c", k) in mps) && (op == "encode" || op == "stream-encode") &&
                   (("c", cs SUBSEP "encode-scatter") in mps)) {
            continue # Go ran it only for the scatter rows above
        } else {
            row(cs, op, op, op)
        }
    }
    printf "\n"
    if (!allok) { print "FAIL: C and Go bytes differ" > "/dev/stderr"; exit 1 }
    if (fail) {
        printf "%d checked row(s) (%s) below the %sx target\n", fail, check_ops, min_ratio
        if (check) exit 1
    } else {
        printf "all checked rows (%s) at or above %sx\n", check_ops, min_ratio
    }
}' "$work/c.jsonl" "$work/go.jsonl"
