#!/usr/bin/python3
"""A fake of GitHub's REST API for kiln's integration tests (stdlib only).

    fakegh.py --port N --dir D [--token FILE]

Listens on 127.0.0.1:N.  Every request is appended to D/calls.jsonl as one
JSON object: method, path, headers, body (parsed when JSON), the status
answered and the time (t, seconds since the epoch, float).  D/ready is
written once listening.

Answers are scripted by D/rules.json, read again for every request: a list
of {"path": SUBSTRING, "method": M (optional), "status": CODE, "times": N,
"headers": {...}, "body": {...}}.  The first rule whose path is a substring
of the request's path and which has answered fewer than N times answers;
otherwise 201 with {"id": n}.  "reset_in": S in a rule sets the header
X-RateLimit-Reset to now + S seconds.

--delay-ms N holds every answer N ms (GitHub's latency, for bench/outbox.sh);
D/inflight holds the most requests seen in flight at once, rewritten as it
grows.

With --token, a request whose Authorization is not "Bearer <token>"
(the file's text, stripped) is answered 401 Bad credentials, as GitHub does.
"""
import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20


class State:
    def __init__(self, directory, token):
        self.dir = directory
        self.token = token
        self.lock = threading.Lock()
        self.used = {}
        self.n = 0
        self.delay = 0.0
        self.inflight = 0
        self.max_inflight = 0


def make_handler(st):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def rules(self):
            try:
                with open(os.path.join(st.dir, "rules.json")) as f:
                    return json.load(f)
            except FileNotFoundError:
                return []

        def answer(self):
            with st.lock:
                st.inflight += 1
                if st.inflight > st.max_inflight:
                    st.max_inflight = st.inflight
                    with open(os.path.join(st.dir, "inflight"), "w") as f:
                        f.write(str(st.max_inflight))
            try:
                if st.delay > 0:
                    time.sleep(st.delay)
                self.answer_one()
            finally:
                with st.lock:
                    st.inflight -= 1

        def answer_one(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.send_error(413)
                return
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            status, headers, reply = 201, {}, None
            with st.lock:
                st.n += 1
                n = st.n
                auth = self.headers.get("Authorization", "")
                if st.token is not None and auth != "Bearer " + st.token:
                    status, reply = 401, {"message": "Bad credentials"}
                else:
                    for i, rule in enumerate(self.rules()):
                        if rule.get("path", "") not in self.path:
                            continue
                        if rule.get("method", self.command) != self.command:
                            continue
                        if st.used.get(i, 0) >= rule.get("times", 1):
                            continue
                        st.used[i] = st.used.get(i, 0) + 1
                        status = rule.get("status", 201)
                        headers = dict(rule.get("headers", {}))
                        if "reset_in" in rule:
                            headers["X-RateLimit-Reset"] = str(
                                int(time.time() + rule["reset_in"]))
                        reply = rule.get("body")
                        break
                if reply is None:
                    reply = {"id": n} if status < 300 else {"message": "scripted"}
                rec = {"n": n, "method": self.command, "path": self.path,
                       "headers": {k: v for k, v in self.headers.items()},
                       "body": body, "status": status, "t": time.time(),
                       "answer_headers": headers}
                with open(os.path.join(st.dir, "calls.jsonl"), "a") as f:
                    f.write(json.dumps(rec) + "\n")
            data = json.dumps(reply).encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = answer

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--token")
    ap.add_argument("--delay-ms", type=int, default=0)
    a = ap.parse_args()
    token = None
    if a.token:
        with open(a.token) as f:
            token = f.read().strip()
    os.makedirs(a.dir, exist_ok=True)
    st = State(a.dir, token)
    st.delay = a.delay_ms / 1000.0
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), make_handler(st))
    srv.daemon_threads = True
    with open(os.path.join(a.dir, "ready"), "w") as f:
        f.write(str(os.getpid()))
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    signal_ok = __import__("signal")
    signal_ok.signal(signal_ok.SIGTERM, lambda *_: sys.exit(0))
    sys.exit(main())
