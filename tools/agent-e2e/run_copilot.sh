#!/usr/bin/env bash
# Runs the real GitHub Copilot CLI headless and offline (COPILOT_OFFLINE with a custom provider:
# the scripted fake Chat Completions server), with difflore wired by
# `difflore agents install --agent copilot` (hooks in ~/.copilot/hooks/difflore.json, the MCP
# server in ~/.copilot/mcp-config.json) in a throw-away HOME and project with one rule governing
# src/billing.rs. The scripted model views the file, edits it (the gate, when asked, denies it)
# and runs a command; the run checks where the rule reached the model and copies every hook
# payload to RUN_DIR/payloads/ (fixtures are made from them).
#
#   npm install --prefix /tmp/agent-clis2 @github/copilot@1.0.102
#   tools/agent-e2e/run_copilot.sh [--gate] BIN [RUN_DIR]   # COPILOT_BIN overrides the CLI
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
gate=
if [ "${1:-}" = "--gate" ]; then gate=1; shift; fi
difflore=${1:?usage: run_copilot.sh [--gate] DIFFLORE_BIN [RUN_DIR]}
difflore=$(realpath "$difflore")
run=${2:-$(mktemp -d /tmp/copilot-probe.XXXXXX)}
cp_bin=${COPILOT_BIN:-/tmp/agent-clis2/node_modules/.bin/copilot}
[ -x "$cp_bin" ] || { echo "no Copilot CLI at $cp_bin (see the npm line above)" >&2; exit 1; }
. "$here/common.sh"
new_project "$run"
init_difflore "$difflore" "$run" ${gate:+--enforce}
[ -n "$gate" ] && printf '[serving]\nmode = "gate"\n' > "$DIFFLORE_HOME/config.toml"
"$difflore" agents install --agent copilot
# Keep a copy of every payload: a tee in front of each installed command.
python3 - "$run/home/.copilot/hooks/difflore.json" "$run/payloads" <<'PY'
import json, sys
p, out = sys.argv[1], sys.argv[2]
d = json.load(open(p))
for ev, hooks in d["hooks"].items():
    for h in hooks:
        h["bash"] = f"tee {out}/{ev}-$$.json | {h['bash']}"
json.dump(d, open(p, "w"), indent=2)
PY
cat > "$run/script.json" <<'JSON'
{"steps": [
  {"tool": "view", "input": {"path": "${PROJECT}/src/billing.rs"}},
  {"tool": "edit", "input": {"path": "${PROJECT}/src/billing.rs", "old_str": "pub fn total(items: &[f64]) -> f64 {", "new_str": "pub fn total(items: &[Money]) -> Money {"}},
  {"tool": "bash", "input": {"command": "cat src/billing.rs", "description": "show the file"}}
], "final_text": "Done: billing uses Money."}
JSON
start_fake "$run"
COPILOT_OFFLINE=true COPILOT_PROVIDER_BASE_URL="http://127.0.0.1:$(cat "$run/port")/v1" \
  COPILOT_PROVIDER_API_KEY=offline COPILOT_MODEL=fake-model COPILOT_AUTO_UPDATE=false \
  timeout 120 "$cp_bin" -p "Use Money in src/billing.rs" --allow-all > "$run/copilot.out" 2> "$run/copilot.err" \
  || echo "copilot exited $?"
python3 - "$run/log/requests.jsonl" <<'PY'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
tools = sorted({t.get("function", {}).get("name") for r in reqs for t in r["body"].get("tools", [])})
print("== difflore MCP tools offered:", [t for t in tools if t and "difflore" in t])
last = reqs[-1]["body"]["messages"]
for i, m in enumerate(last):
    s = json.dumps(m.get("content"))
    if "Use Money instead of f64 for amounts" in s or "difflore" in s and m["role"] != "system":
        k = s.find("difflore")
        print(f"== message {i} ({m['role']}):", s[max(0, k - 80):k + 160])
PY
echo "== src/billing.rs now: $(head -1 src/billing.rs)"
echo "== payloads: $(ls "$run/payloads" | sed 's/-[0-9]*\.json//' | sort | uniq -c | tr '\n' ' ')"
"$difflore" outbox status | head -2
echo "run directory: $run"
