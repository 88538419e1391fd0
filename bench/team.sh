#!/usr/bin/env bash
# Team rulebook figures for the README (release build): the server's apply rate of rule.proposed,
# a full pull of 10 000 rules and an incremental pull of 10 changes, the hook with 10 000 team
# rules mirrored — on SQLite and on a throwaway PostgreSQL with durable settings.
#   BENCH_RUNS=300 ./bench/team.sh
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
cargo build --release -p difflore-server
eval "$(PG_FSYNC=on PG_SYNC_COMMIT=on ./scripts/pg-throwaway start)"
trap './scripts/pg-throwaway stop "$PG_THROWAWAY_DIR"' EXIT
DIFFLORE_BENCH_PG_URL="$DIFFLORE_TEST_PG_URL" cargo bench -p difflore-cli --bench team
