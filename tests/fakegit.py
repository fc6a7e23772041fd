#!/usr/bin/python3
"""A private repository's git server for kiln's integration tests: real
git smart HTTP (git http-backend as CGI) on 127.0.0.1, refusing every
request without a token the fake GitHub (tests/fakegh.py) issued.

    fakegit.py --port N --root DIR --gh-dir D

Serves the bare repositories under DIR (http://127.0.0.1:N/NAME.git).  A
request needs "Authorization: Basic base64(x-access-token:TOKEN)" with a
TOKEN listed in D/issued and not in D/revoked (fakegh.py writes both), as
GitHub takes an installation token for git; otherwise 401 with
WWW-Authenticate, so a client without credentials is asked for them.
Every request is appended to D/git.jsonl: method, path, the token sent
("" none) and the status answered.  D/git-ready is written once listening.
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakegh  # noqa: E402  (its serve())

MAX_BODY = 64 << 20


def lines(path):
    try:
        with open(path) as f:
            return set(x.strip() for x in f if x.strip())
    except FileNotFoundError:
        return set()


def make_handler(root, gh_dir):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def token(self):
            auth = self.headers.get("Authorization", "")
            if not auth.lower().startswith("basic "):
                return ""
            try:
                user, _, tok = base64.b64decode(auth[6:]).decode().partition(":")
            except Exception:
                return ""
            return tok if user == "x-access-token" else ""

        def body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = b""
                while len(out) <= MAX_BODY:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    out += self.rfile.read(size)
                    self.rfile.readline()
                return out
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(min(n, MAX_BODY)) if n else b""

        def record(self, tok, status):
            rec = {"method": self.command, "path": self.path, "token": tok,
                   "status": status, "t": time.time()}
            with open(os.path.join(gh_dir, "git.jsonl"), "a") as f:
                f.write(json.dumps(rec) + "\n")

        def answer(self):
            data = self.body()
            tok = self.token()
            ok = tok != "" and tok in lines(os.path.join(gh_dir, "issued")) \
                and tok not in lines(os.path.join(gh_dir, "revoked"))
            if not ok:
                self.record(tok, 401)
                # No body: libgit2 1.5 does not read a 401's body before
                # asking again on the same connection.
                msg = b""
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="fakegit"')
                self.send_header("Content-Length", str(len(msg)))
                self.end_headers()
                self.wfile.write(msg)
                return
            path, _, query = self.path.partition("?")
            env = {"GIT_PROJECT_ROOT": root, "GIT_HTTP_EXPORT_ALL": "1",
                   "PATH_INFO": path, "QUERY_STRING": query,
                   "REQUEST_METHOD": self.command,
                   "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                   "CONTENT_LENGTH": str(len(data)),
                   "REMOTE_USER": "x-access-token",
                   "REMOTE_ADDR": "127.0.0.1",
                   "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
            if self.headers.get("Content-Encoding"):
                env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
            if self.headers.get("Git-Protocol"):
                env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
            out = subprocess.run(["git", "http-backend"], input=data,
                                 env=env, capture_output=True,
                                 timeout=60).stdout
            head, _, payload = out.partition(b"\r\n\r\n")
            if not _:
                head, _, payload = out.partition(b"\n\n")
            status, headers = 200, []
            for line in head.decode("latin-1").splitlines():
                k, _, v = line.partition(":")
                if k.lower() == "status":
                    status = int(v.strip().split()[0])
                elif k:
                    headers.append((k, v.strip()))
            self.record(tok, status)
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = answer

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--gh-dir", required=True)
    a = ap.parse_args()
    os.makedirs(a.gh_dir, exist_ok=True)
    return fakegh.serve(a.port, make_handler(a.root, a.gh_dir),
                        os.path.join(a.gh_dir, "git-ready"))


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.exit(main())
