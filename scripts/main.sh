#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: install, build (Release),
# have etcd's own Go code write a stream, and decode it with `rafthttp decode`.
# The decoded JSON Lines go to build/demo/decoded.jsonl; a summary is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target rafthttp
mkdir -p build/demo
GOLDEN_N=${GOLDEN_N:-1000} tests/golden/golden.sh gen build build/demo/golden >/dev/null
build/bin/rafthttp decode --stream message build/demo/golden/message.stream \
  > build/demo/decoded.jsonl
cmp -s build/demo/decoded.jsonl build/demo/golden/message.jsonl \
  && same="identical to" || same="DIFFERENT from"
echo "rafthttp decode: $(wc -l < build/demo/decoded.jsonl) messages from etcd's Go encoder," \
     "output $same Go's own JSON (build/demo/decoded.jsonl)"
head -c 600 build/demo/decoded.jsonl; echo " ..."
[ "$same" = "identical to" ]
