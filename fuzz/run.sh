#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every fuzz target for SECONDS each under ASan+UBSan.
# usage: fuzz/run.sh BUILD_FUZZ_DIR SECONDS [EXTRA_CORPUS_DIR]
#   BUILD_FUZZ_DIR: a build configured with CC=clang -DRH_FUZZ=ON -DRH_SANITIZE=ON
#   EXTRA_CORPUS_DIR: e.g. the golden directory; its streams seed the corpus
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bdir=$1
secs=${2:-20}
extra=${3:-}
work="$bdir/fuzz-work"
mkdir -p "$work"
status=0
for t in raftpb message msgappv2 http json; do
  bin="$bdir/bin/fuzz_$t"
  case $t in message|msgappv2) bin="$bdir/bin/fuzz_stream_$t" ;; esac
  [ -x "$bin" ] || { echo "fuzz: $bin missing (build with -DRH_FUZZ=ON)" >&2; exit 1; }
  corpus="$work/corpus-$t"
  mkdir -p "$corpus"
  cp -n "$here/corpus/$t/"* "$corpus/" 2>/dev/null || true
  if [ -n "$extra" ] && [ -d "$extra" ] && [ "$t" != http ] && [ "$t" != json ]; then
    # seeds from the golden streams: their first 4 KiB (stream targets take
    # two split-seed bytes first) and single protobufs for raftpb
    python3 "$here/seed_from_golden.py" "$t" "$extra" "$corpus"
  fi
  echo "fuzz: $t for ${secs}s"
  if ! "$bin" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/crash-$t-" "$corpus" \
        > "$work/$t.log" 2>&1; then
    echo "fuzz: $t FAILED; see $work/$t.log" >&2
    tail -40 "$work/$t.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/$t.log" | sed "s/^/  $t /"
  fi
done
exit $status
