#!/usr/bin/env bash
# Runs the real Cline CLI headless and offline against the scripted fake Chat Completions server
# (an `openai` provider whose base URL is the fake), with difflore wired by
# `difflore agents install --agent cline` (hook scripts in ~/.cline/hooks/, the MCP server in
# ~/.cline/data/settings/cline_mcp_settings.json) in a throw-away HOME and project with one rule
# governing src/billing.rs. The scripted model reads the file, edits it and runs a command; the
# run checks that the rule reached the model after the read and after the edit, lists the
# captured events, and copies every hook payload to RUN_DIR/payloads/ (fixtures are made from them).
#
#   npm install --prefix /tmp/agent-clis2 cline@3.0.65
#   tools/agent-e2e/run_cline.sh BIN [RUN_DIR]     # BIN: the difflore binary; CLINE_BIN overrides
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
difflore=${1:?usage: run_cline.sh DIFFLORE_BIN [RUN_DIR]}
difflore=$(realpath "$difflore")
run=${2:-$(mktemp -d /tmp/cline-probe.XXXXXX)}
cline=${CLINE_BIN:-/tmp/agent-clis2/node_modules/.bin/cline}
[ -x "$cline" ] || { echo "no Cline at $cline (see the npm line above)" >&2; exit 1; }
. "$here/common.sh"
new_project "$run"
init_difflore "$difflore" "$run"
"$difflore" agents install --agent cline
# Keep a copy of every payload: wrap each installed script with a tee.
for f in "$run/home/.cline/hooks/"*; do
  ev=$(basename "$f")
  mv "$f" "$f.difflore"
  printf '#!/bin/sh\nin=$(cat)\nprintf %%s "$in" > "%s/payloads/%s-$$.json"\nprintf %%s "$in" | "%s"\n' \
    "$run" "$ev" "$f.difflore" > "$f"
  chmod +x "$f"
done
cat > "$run/script.json" <<'JSON'
{"steps": [
  {"tool": "read_files", "input": {"files": [{"path": "${PROJECT}/src/billing.rs"}]}},
  {"tool": "editor", "input": {"path": "${PROJECT}/src/billing.rs", "old_text": "pub fn total(items: &[f64]) -> f64 {", "new_text": "pub fn total(items: &[Money]) -> Money {"}},
  {"tool": "run_commands", "input": {"commands": ["cat src/billing.rs"]}}
], "final_text": "Done: billing uses Money."}
JSON
start_fake "$run"
"$cline" auth -p openai -k offline -m fake-model -b "http://127.0.0.1:$(cat "$run/port")/v1" > /dev/null
timeout 120 "$cline" --json "Use Money in src/billing.rs" > "$run/cline.jsonl" 2> "$run/cline.err" \
  || echo "cline exited $?"
python3 - "$run/log/requests.jsonl" <<'PY'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
tools = sorted({t.get("function", {}).get("name") for r in reqs for t in r["body"].get("tools", [])})
print("== difflore MCP tools offered:", [t for t in tools if t and "difflore" in t])
hits = [i for i, r in enumerate(reqs)
        if any("Use Money instead of f64 for amounts" in json.dumps(m.get("content")) for m in r["body"]["messages"])]
print("== requests carrying the rule:", hits, "of", len(reqs))
sys.exit(0 if hits else 1)
PY
echo "== payloads: $(ls "$run/payloads" | sed 's/-[0-9]*\.json//' | sort | uniq -c | tr '\n' ' ')"
"$difflore" outbox status
echo "run directory: $run"
