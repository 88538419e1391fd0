#!/usr/bin/env bash
# Matching-engine figures for the README (release build): 10 000 active rules, warm and fresh
# matches, `recall --file` and `recall --diff` over a 50-file change as whole processes.
#   BENCH_RUNS=2000 ./bench/matching.sh
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
cargo bench --locked -p difflore-cli --bench matching
