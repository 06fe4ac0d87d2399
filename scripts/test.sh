#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test run, from a fresh Debian 12 machine to a verdict:
#  1. gcc, ASan+UBSan: unit tests, golden tests against etcd's Go code, CLI
#     tests, then interop tests against etcd's Go rafthttp and real etcd,
#     then the black-box suite (rafthttp node processes only, per the spec)
#  2. gcc, Release: a warning-free -O2 build (the main job's); installed into
#     a temporary prefix, examples/ built against it (pkg-config, CMake) and run
#     clang, Release, -Werror: the same unit tests (warning-free with both)
#     gcc, TSan: the unit tests; the bench's cases, briefly (not timed)
#  3. clang + libFuzzer: every fuzz target for FUZZ_SECONDS (default 15) each,
#     seeded from the golden streams
# Build trees: build-asan/, build-gcc-rel/, build-clang/, build-tsan/, build-fuzz/ under the repo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "== gcc + ASan/UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DRH_SANITIZE=ON -DCMAKE_C_COMPILER=gcc >/dev/null
cmake --build build-asan -j"$jobs"
ctest --test-dir build-asan --output-on-failure -j"$jobs"

echo "== interop: C node vs etcd's Go rafthttp and real etcd members (ASan build)"
tests/interop/run.sh build-asan

echo "== black-box: rafthttp node processes only (ASan build)"
tests/blackbox/run.sh build-asan

echo "== gcc Release (-O2 finds warnings -O0 does not: the main job's build)"
cmake -S . -B build-gcc-rel -DCMAKE_BUILD_TYPE=Release -DRH_GOLDEN=OFF -DCMAKE_C_COMPILER=gcc >/dev/null
cmake --build build-gcc-rel -j"$jobs"

echo "== install into a temporary prefix; examples/ built with pkg-config and find_package, run"
scripts/examples.sh build-gcc-rel

echo "== clang Release"
cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=Release -DRH_GOLDEN=OFF -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build build-clang -j"$jobs"
ctest --test-dir build-clang --output-on-failure -j"$jobs" -L unit

echo "== gcc + TSan: the unit tests (the transport's threads: API callers, loop, delivery)"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRH_TSAN=ON -DRH_GOLDEN=OFF \
      -DCMAKE_C_COMPILER=gcc >/dev/null
cmake --build build-tsan -j"$jobs"
TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
  ctest --test-dir build-tsan --output-on-failure -j"$jobs" -L unit

echo "== bench smoke: every rafthttp bench case runs, delivers and drops nothing (Release)"
bench/smoke.sh build-gcc-rel

echo "== fuzz smoke (${FUZZ_SECONDS:-15}s a target)"
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DRH_FUZZ=ON -DRH_SANITIZE=ON \
      -DRH_GOLDEN=OFF -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_raftpb fuzz_stream_message fuzz_stream_msgappv2 fuzz_http fuzz_json
fuzz/run.sh build-fuzz "${FUZZ_SECONDS:-15}" build-asan/golden
echo "== all tests passed"
