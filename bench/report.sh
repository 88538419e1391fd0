#!/usr/bin/env bash
# `difflore report` figures for the README (release build): 10 000 rules and 1 000 000 served
# events, locally and on the server's rule page.
#   BENCH_RUNS=20 ./bench/report.sh
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
cargo build --release -p difflore-server
cargo bench -p difflore-cli --bench report
