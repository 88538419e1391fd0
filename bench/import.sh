#!/usr/bin/env bash
# Import throughput for the README (release build) against a local GitHub-format server.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
cargo bench --locked -p difflore-cli --bench import
