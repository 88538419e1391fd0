#!/usr/bin/env python3
"""A scripted stand-in for an OpenAI-compatible Chat Completions API, on 127.0.0.1 only, so an
agent CLI that speaks that API (Qwen Code, Cline, OpenCode) can be run offline.

  fake_openai_chat.py --script FILE [--project DIR] --log-dir DIR [--port-file FILE]
                      [--max-requests N] [--max-seconds T]

Script: {"steps": [{"tool": NAME, "input": {...}}, ...], "final_text": "..."}. Each request is
answered with the next step as one tool call — the step is the number of tool results (role
"tool") already in the request's messages — and, once the steps are spent, with the final text.
"${PROJECT}" in the script is replaced by --project. Streaming (SSE) and plain answers are both
served. Every request body is appended to LOG_DIR/requests.jsonl, so a report can tell whether a
hook's text reached the model, and in which request.
"""
import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", required=True)
    ap.add_argument("--project", default="")
    ap.add_argument("--log-dir", required=True)
    ap.add_argument("--port-file")
    ap.add_argument("--max-requests", type=int, default=80)
    ap.add_argument("--max-seconds", type=float, default=150)
    a = ap.parse_args()
    with open(a.script, encoding="utf-8") as f:
        text = f.read().replace("${PROJECT}", a.project)
    script = json.loads(text)
    steps = script.get("steps", [])
    final = script.get("final_text", "Done.")
    os.makedirs(a.log_dir, exist_ok=True)
    log = open(os.path.join(a.log_dir, "requests.jsonl"), "a", encoding="utf-8")
    served = {"n": 0}
    lock = threading.Lock()

    class H(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _json(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path.rstrip("/").endswith("/models"):
                return self._json(200, {"object": "list", "data": [
                    {"id": "fake-model", "object": "model", "owned_by": "fake"}]})
            self._json(404, {"error": {"message": "not found"}})

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n)
            try:
                req = json.loads(raw or b"{}")
            except ValueError:
                return self._json(400, {"error": {"message": "bad json"}})
            with lock:
                served["n"] += 1
                seq = served["n"]
                log.write(json.dumps({"seq": seq, "path": self.path, "body": req}) + "\n")
                log.flush()
            if not self.path.rstrip("/").endswith("/chat/completions"):
                return self._json(404, {"error": {"message": "not found"}})
            msgs = req.get("messages") or []
            done = sum(1 for m in msgs if isinstance(m, dict) and m.get("role") == "tool")
            offered = {t.get("function", {}).get("name") for t in req.get("tools") or []}
            if done < len(steps) and offered:
                st = steps[done]
                if st["tool"] not in offered:
                    sys.stderr.write(f"step {done}: tool {st['tool']} not offered: {sorted(offered)}\n")
                message = {"role": "assistant", "content": None, "tool_calls": [{
                    "id": f"call_{done}", "type": "function",
                    "function": {"name": st["tool"], "arguments": json.dumps(st.get("input", {}))}}]}
                reason = "tool_calls"
            else:
                message = {"role": "assistant", "content": final}
                reason = "stop"
            usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
            if not req.get("stream"):
                return self._json(200, {"id": f"chatcmpl-{seq}", "object": "chat.completion",
                                        "created": int(time.time()), "model": req.get("model", "fake-model"),
                                        "choices": [{"index": 0, "message": message, "finish_reason": reason}],
                                        "usage": usage})
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()

            def chunk(delta, finish=None, with_usage=False):
                c = {"id": f"chatcmpl-{seq}", "object": "chat.completion.chunk",
                     "created": int(time.time()), "model": req.get("model", "fake-model"),
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                if with_usage:
                    c["usage"] = usage
                self.wfile.write(b"data: " + json.dumps(c).encode() + b"\n\n")

            if message.get("tool_calls"):
                tc = message["tool_calls"][0]
                chunk({"role": "assistant", "content": None, "tool_calls": [
                    {"index": 0, "id": tc["id"], "type": "function",
                     "function": {"name": tc["function"]["name"], "arguments": tc["function"]["arguments"]}}]})
            else:
                chunk({"role": "assistant", "content": message["content"]})
            chunk({}, reason, with_usage=True)
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    if a.port_file:
        with open(a.port_file, "w") as f:
            f.write(str(srv.server_address[1]))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    start = time.time()
    while time.time() - start < a.max_seconds and served["n"] < a.max_requests:
        time.sleep(0.2)
    srv.shutdown()


if __name__ == "__main__":
    main()
