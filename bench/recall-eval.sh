#!/usr/bin/env bash
# The recall evaluation's figures (crates/difflore-rules/tests/recall/): recall@1, recall@3,
# forbidden rules served and abstention for the development and test parts, with the
# development part's misses. RECALL_EVAL_DETAILS=test also lists the test part's misses.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked -q -p difflore-rules --test recall_eval recall_evaluation -- --nocapture 2>&1 \
    | grep -E '^(dev|test)[: ]|^  '
