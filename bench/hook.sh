#!/usr/bin/env bash
# Hook hot-path figures for the README's performance table (release build).
#   BENCH_RUNS=1000 ./bench/hook.sh
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
cargo bench -p difflore-cli --bench hook
