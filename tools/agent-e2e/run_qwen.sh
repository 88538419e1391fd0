#!/usr/bin/env bash
# Runs the real Qwen Code CLI headless and offline against the scripted fake Chat Completions
# server, with probe hooks on every event, in a throw-away project — to learn (and re-check) what
# it sends to hooks and what it does with their answers. Prints the hook firings and which
# markers reached the model; keeps everything under the run directory.
#
# With --difflore BIN, difflore itself is wired instead of the probe hooks (`BIN agents install
# --agent qwen-code --scope project`, a rule governing src/billing.rs) and the run checks that the
# rule's text reached the model and that the firings were captured.
#
#   npm install --prefix /tmp/agent-clis @qwen-code/qwen-code@0.24.4
#   tools/agent-e2e/run_qwen.sh [--difflore BIN] [RUN_DIR]   # QWEN_BIN overrides the binary
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
difflore=
if [ "${1:-}" = "--difflore" ]; then difflore=$2; shift 2; fi
run=${1:-$(mktemp -d /tmp/qwen-probe.XXXXXX)}
qwen=${QWEN_BIN:-/tmp/agent-clis/node_modules/.bin/qwen}
[ -x "$qwen" ] || { echo "no Qwen Code at $qwen (see the npm line above)" >&2; exit 1; }
mkdir -p "$run/proj/src" "$run/proj/.qwen" "$run/home"
cd "$run/proj"
git init -q
printf 'pub fn total(items: &[f64]) -> f64 {\n    items.iter().sum()\n}\n' > src/billing.rs
python3 - "$here" > .qwen/settings.json <<'PY'
import json, sys
here = sys.argv[1]
hooks = {}
for e in ["SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure", "Stop", "SessionEnd"]:
    group = {"hooks": [{"type": "command", "command": f"{here}/probe_hook.py {e}", "timeout": 10000}]}
    if e.endswith("ToolUse") or e.endswith("Failure"):
        group["matcher"] = "*"
    hooks[e] = [group]
print(json.dumps({"hooks": hooks, "security": {"auth": {"selectedType": "openai"}}}, indent=1))
PY
# Qwen Code defers MCP tools: the model finds one with tool_search and calls it through tool_call.
cat > "$run/script.json" <<'JSON'
{"steps": [
  {"tool": "tool_search", "input": {"query": "select:mcp__difflore__search_rules"}},
  {"tool": "tool_call", "input": {"name": "mcp__difflore__search_rules", "arguments": {"path": "src/billing.rs", "query": "money"}}},
  {"tool": "read_file", "input": {"file_path": "${PROJECT}/src/billing.rs"}},
  {"tool": "edit", "input": {"file_path": "${PROJECT}/src/billing.rs", "old_string": "pub fn total(items: &[f64]) -> f64 {", "new_string": "pub fn total(items: &[Money]) -> Money {"}},
  {"tool": "write_file", "input": {"file_path": "${PROJECT}/CHANGELOG.md", "content": "# Changelog\n"}},
  {"tool": "run_shell_command", "input": {"command": "cat src/billing.rs"}},
  {"tool": "run_shell_command", "input": {"command": "echo failing >&2; exit 3"}}
], "final_text": "Done: billing uses Money."}
JSON
if [ -n "$difflore" ]; then
  git remote add origin git@github.com:acme/shop.git
  export HOME="$run/home" DIFFLORE_HOME="$run/home/.difflore"
  "$difflore" init > /dev/null
  "$difflore" memory add --repo github.com/acme/shop --title Money \
    --statement "Use Money instead of f64 for amounts." --glob "src/*.rs" > /dev/null
  "$difflore" agents install --agent qwen-code --scope project
  python3 - "$run/proj/.qwen/settings.json" <<'PY'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["security"] = {"auth": {"selectedType": "openai"}}
json.dump(d, open(p, "w"), indent=2)
PY
fi
python3 "$here/fake_openai_chat.py" --script "$run/script.json" --project "$run/proj" \
  --log-dir "$run/log" --port-file "$run/port" --max-seconds 120 &
fake=$!
trap 'kill $fake 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$run/port" ] && break; sleep 0.1; done
HOME="$run/home" TAP_DIR="$run/tap" DENY_TOOL=write_file OPENAI_API_KEY=offline \
  OPENAI_BASE_URL="http://127.0.0.1:$(cat "$run/port")/v1" OPENAI_MODEL=fake-model \
  QWEN_CODE_SUPPRESS_YOLO_WARNING=1 \
  timeout 120 "$qwen" --approval-mode yolo "Use Money in billing" || echo "qwen exited $?"
if [ -n "$difflore" ]; then
  n=$(grep -c "Use Money instead of f64 for amounts" "$run/log/requests.jsonl" || true)
  echo "== requests to the model carrying the rule: $n"
  # The MCP answer is the tool result of the second step (request #3 carries it).
  python3 - "$run/log/requests.jsonl" <<'PY'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
tool_msgs = [m for m in reqs[2]["body"]["messages"] if m.get("role") == "tool"] if len(reqs) > 2 else []
mcp = json.dumps(tool_msgs[1]["content"]) if len(tool_msgs) > 1 else ""
print("== MCP search_rules answered with the rule:", "Use Money instead of f64" in mcp)
PY
  "$difflore" outbox status
  [ "$n" -gt 0 ] || { echo "FAIL: the rule never reached the model" >&2; exit 1; }
  echo "run directory: $run"
  exit 0
fi
echo "== hook firings (in order)"
ls "$run/tap" | sed 's/^[0-9]*-//; s/\.json$//'
echo "== markers that reached the model"
python3 "$here/report_marks.py" "$run/log"
echo "== the denied write_file ran? $( [ -e "$run/proj/CHANGELOG.md" ] && echo yes || echo no)"
echo "run directory: $run"
