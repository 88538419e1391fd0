#!/usr/bin/env bash
# difflore-server ingest figures for the README (release build), on SQLite (synchronous=FULL)
# and on a throwaway PostgreSQL with durable settings (fsync=on, synchronous_commit=on).
#   BENCH_SECS=10 BENCH_CLIENTS=8 ./bench/server.sh
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
eval "$(PG_FSYNC=on PG_SYNC_COMMIT=on ./scripts/pg-throwaway start)"
trap './scripts/pg-throwaway stop "$PG_THROWAWAY_DIR"' EXIT
DIFFLORE_BENCH_PG_URL="$DIFFLORE_TEST_PG_URL" cargo bench -p difflore-server --bench ingest
