#!/usr/bin/env bash
# The extraction evaluation's figures (crates/difflore-rules/tests/extraction/): precision,
# recall and paraphrase pairs joined for the development, test and holdout parts, with the
# development part's misses, wrongly kept comments (each with its features) and statements.
# EXTRACTION_EVAL_DETAILS=test or =holdout lists another part's instead.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked -q -p difflore-rules --test extraction_eval extraction_evaluation -- --nocapture 2>&1 \
    | grep -E '^(dev|test|holdout)[: ]|^  '
