#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian 12 packages the project builds and tests with.
#   scripts/deps.sh           everything the tests need
#   scripts/deps.sh --build   only what building the library and the CLI needs
#                             (and python3, which the main job's demo runs in)
# Idempotent; runs apt-get as root (directly, or through sudo).
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config      # C toolchain, CMake/ctest
  libevent-dev libssl-dev               # event loop and TLS
  python3                               # the demo and the test helper scripts
)
if [ "${1:-}" != "--build" ]; then
  pkgs+=(
    clang libclang-rt-14-dev            # clang build, libFuzzer, sanitizer runtimes
    golang-go golang-etcd-server-dev    # etcd 3.4's Go source: golden tests, Go peer
    openssl                             # makes test certificates
    etcd-server                         # real etcd members for interop tests
  )
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
run() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
export DEBIAN_FRONTEND=noninteractive
run apt-get update -q
run apt-get install -y -q --no-install-recommends "${missing[@]}"
