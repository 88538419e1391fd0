#!/usr/bin/env bash
# Runs the real OpenCode CLI headless and offline against the scripted fake Chat Completions
# server, with difflore wired the way `difflore agents install --agent opencode --scope project`
# wires it (the MCP server in the project's opencode.json; OpenCode has no command hooks), in a
# throw-away project with one rule governing src/billing.rs. The scripted model calls difflore's
# `search_rules` tool, then reads the file; the run checks that the rule's text reached the model
# through the MCP answer, and that OpenCode marks its tools' processes with OPENCODE.
#
#   npm install --prefix /tmp/agent-clis2 opencode-ai@1.18.33
#   tools/agent-e2e/run_opencode.sh BIN [RUN_DIR]     # BIN: the difflore binary; OPENCODE_BIN overrides
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
difflore=${1:?usage: run_opencode.sh DIFFLORE_BIN [RUN_DIR]}
difflore=$(realpath "$difflore")
run=${2:-$(mktemp -d /tmp/opencode-probe.XXXXXX)}
oc=${OPENCODE_BIN:-/tmp/agent-clis2/node_modules/.bin/opencode}
[ -x "$oc" ] || { echo "no OpenCode at $oc (see the npm line above)" >&2; exit 1; }
. "$here/common.sh"
new_project "$run"
init_difflore "$difflore" "$run"
"$difflore" agents install --agent opencode --scope project
# OpenCode names an MCP tool SERVER_TOOL.
cat > "$run/script.json" <<'JSON'
{"steps": [
  {"tool": "difflore_search_rules", "input": {"path": "src/billing.rs", "query": "money"}},
  {"tool": "read", "input": {"filePath": "${PROJECT}/src/billing.rs"}},
  {"tool": "bash", "input": {"command": "env | grep -c '^OPENCODE=' > opencode-marker.txt", "description": "marker"}}
], "final_text": "Done: billing uses Money."}
JSON
start_fake "$run"
# The fake model as a provider, beside what `agents install` wrote.
python3 - "$run/proj/opencode.json" "$(cat "$run/port")" <<'PY'
import json, sys
p, port = sys.argv[1], sys.argv[2]
d = json.load(open(p))
d["provider"] = {"fake": {"npm": "@ai-sdk/openai-compatible", "name": "Fake",
    "options": {"baseURL": f"http://127.0.0.1:{port}/v1", "apiKey": "offline"},
    "models": {"fake-model": {"name": "Fake model", "tool_call": True}}}}
d["model"] = "fake/fake-model"
json.dump(d, open(p, "w"), indent=2)
PY
timeout 120 "$oc" run "Use Money in billing" || echo "opencode exited $?"
python3 - "$run/log/requests.jsonl" <<'PY'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
tools = {t.get("function", {}).get("name") for r in reqs for t in r["body"].get("tools", [])}
print("== difflore tools offered to the model:", sorted(t for t in tools if t and t.startswith("difflore_")))
results = [m for r in reqs for m in r["body"]["messages"] if m.get("role") == "tool"]
hit = any("Use Money instead of f64" in json.dumps(m.get("content")) for m in results)
print("== MCP search_rules answered with the rule:", hit)
sys.exit(0 if hit else 1)
PY
echo "== OPENCODE set in its tools' processes: $(cat "$run/proj/opencode-marker.txt" 2>/dev/null || echo '?')"
echo "run directory: $run"
