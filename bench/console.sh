#!/usr/bin/env bash
# Console figures for the README (release build): the review queue with 1 000 pending rules, on
# SQLite and on a throwaway PostgreSQL with durable settings.
#   BENCH_RUNS=200 ./bench/console.sh
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
cargo build --release -p difflore-server
eval "$(PG_FSYNC=on PG_SYNC_COMMIT=on ./scripts/pg-throwaway start)"
trap './scripts/pg-throwaway stop "$PG_THROWAWAY_DIR"' EXIT
DIFFLORE_BENCH_PG_URL="$DIFFLORE_TEST_PG_URL" cargo bench -p difflore-server --bench console
