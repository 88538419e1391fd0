#!/usr/bin/env python3
"""A probing hook for an agent whose contract is being learnt: records each firing's stdin under
$TAP_DIR (one file per firing, named after the event and tool) and answers with a marker the
report then looks for in the model's requests — `additionalContext` "MARK-<event>-<tool>" on
every event that may carry context, and a deny with reason "MARK-DENY-<tool>" on `PreToolUse`
of the tool named by $DENY_TOOL. Usage: probe_hook.py EVENT
"""
import json
import os
import sys
import time

event = sys.argv[1]
raw = sys.stdin.read()
tap = os.environ.get("TAP_DIR", "tap")
os.makedirs(tap, exist_ok=True)
try:
    payload = json.loads(raw or "{}")
except ValueError:
    payload = {}
tool = payload.get("tool_name", "") if isinstance(payload, dict) else ""
with open(os.path.join(tap, f"{time.time_ns()}-{event}-{tool}.json"), "w", encoding="utf-8") as f:
    f.write(raw)
if event == "PreToolUse" and tool and tool == os.environ.get("DENY_TOOL"):
    print(json.dumps({"hookSpecificOutput": {"hookEventName": event, "permissionDecision": "deny",
                                             "permissionDecisionReason": f"MARK-DENY-{tool}"}}))
elif event in ("PreToolUse", "PostToolUse", "PostToolUseFailure", "UserPromptSubmit", "SessionStart"):
    print(json.dumps({"hookSpecificOutput": {"hookEventName": event,
                                             "additionalContext": f"MARK-{event}-{tool}"}}))
