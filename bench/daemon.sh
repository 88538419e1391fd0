#!/usr/bin/env bash
# Daemon figures for the README (release builds): 100 000-event backlog to a loopback server
# on SQLite and on a throwaway PostgreSQL (fsync=on, synchronous_commit=on), hook latency during
# the drain, hook-to-server latency with an idle daemon, idle CPU and RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
cargo build --release --locked -p difflore-server
eval "$(PG_FSYNC=on PG_SYNC_COMMIT=on ./scripts/pg-throwaway start)"
trap './scripts/pg-throwaway stop "$PG_THROWAWAY_DIR"' EXIT
DIFFLORE_BENCH_PG_URL="$DIFFLORE_TEST_PG_URL" cargo bench --locked -p difflore-cli --bench daemon
