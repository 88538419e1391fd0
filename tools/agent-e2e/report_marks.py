#!/usr/bin/env python3
"""Which probe markers (probe_hook.py) reached the model, and when: for each request the fake
model received (LOG_DIR/requests.jsonl), the tool results already in it and every marker found,
with the role of the message that carried it. Usage: report_marks.py LOG_DIR
"""
import json
import re
import sys

seen = {}
for line in open(f"{sys.argv[1]}/requests.jsonl", encoding="utf-8"):
    r = json.loads(line)
    msgs = r["body"].get("messages") or []
    done = sum(1 for m in msgs if m.get("role") == "tool")
    for i, m in enumerate(msgs):
        for mark in set(re.findall(r"MARK-[A-Za-z_-]+", json.dumps(m.get("content")))):
            seen.setdefault(mark, (r["seq"], done, m.get("role")))
for mark, (seq, done, role) in sorted(seen.items(), key=lambda x: x[1]):
    print(f"{mark:<45} first in request #{seq} (after {done} tool result(s)), in a {role} message")
