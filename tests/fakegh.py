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
(the file's text, stripped) is answered 401 Bad credentials, as GitHub does;
--token may be given more than once (a repository's own token besides
kilnd's [github] one), each file's token accepted.

With --app-id ID --app-key PUBLIC.pem it is a GitHub App's API: calls
under /app/ and GET /repos/O/R/installation need "Bearer JWT", an RS256
JWT verified with the App's public key (iss ID, iat in the past, exp at
most 10 minutes after iat and still ahead); GET .../installation answers
{"id": --installation (4242)}; POST /app/installations/ID/access_tokens
issues a new token "ghs_..." whose expires_at is D/token_life seconds
ahead (default 3600), accepted for D/token_valid seconds (default: until
it expires; less plays a token GitHub stopped taking early); DELETE
/installation/token revokes the token it is sent with (204); a file
D/revoke revokes every token issued so far (then is removed), as GitHub
does when an App's key is rotated.  Every other
call needs one of the issued tokens, unexpired and unrevoked, or one of
the --token files' (a repository's own token), else 401.
Calls bought with a JWT are recorded with "jwt": the verified claims.
Issued tokens are appended to D/issued, revoked ones (DELETE) to D/revoked,
for tests/fakegit.py, which takes the first and not the second for git.
"""
import argparse
import base64
import datetime
import json
import secrets
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20


def b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_jwt(public_key, app_id, auth):
    """The claims of a valid App JWT in auth ("Bearer ..."), else None."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    if not auth.startswith("Bearer "):
        return None
    parts = auth[7:].split(".")
    if len(parts) != 3:
        return None
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        public_key.verify(b64url_decode(parts[2]),
                          (parts[0] + "." + parts[1]).encode(),
                          padding.PKCS1v15(), hashes.SHA256())
    except Exception:
        return None
    now = time.time()
    if header.get("alg") != "RS256" or str(claims.get("iss")) != app_id:
        return None
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int):
        return None
    if iat > now or exp <= now or exp - iat > 600:
        return None
    return claims


class State:
    def __init__(self, directory, tokens):
        self.dir = directory
        self.tokens = tokens
        self.lock = threading.Lock()
        self.used = {}
        self.n = 0
        self.delay = 0.0
        self.inflight = 0
        self.max_inflight = 0
        self.app_id = None
        self.app_key = None
        self.installation = 4242
        self.issued = {}    # token -> {"valid_until", "revoked"}

    def number(self, name, default):
        try:
            with open(os.path.join(self.dir, name)) as f:
                return float(f.read().strip())
        except (FileNotFoundError, ValueError):
            return default


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
                jwt = None
                if st.app_key is not None:
                    status, reply, jwt = self.app_auth(auth, body)
                elif st.tokens and auth not in ["Bearer " + t
                                                for t in st.tokens]:
                    status, reply = 401, {"message": "Bad credentials"}
                if reply is None:
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
                if jwt is not None:
                    rec["jwt"] = jwt
                    rec["reply"] = reply
                with open(os.path.join(st.dir, "calls.jsonl"), "a") as f:
                    f.write(json.dumps(rec) + "\n")
            data = json.dumps(reply).encode() if status != 204 else b""
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def app_auth(self, auth, body):
            """App mode: (status, reply or None to go on, JWT claims)."""
            path = self.path.split("?")[0]
            now = time.time()
            revoke = os.path.join(st.dir, "revoke")
            if os.path.exists(revoke):
                for tok in st.issued.values():
                    tok["revoked"] = True
                os.unlink(revoke)
            if path.startswith("/app/") or (self.command == "GET" and
                                            path.endswith("/installation")):
                claims = verify_jwt(st.app_key, st.app_id, auth)
                if claims is None:
                    return 401, {"message": "A JSON web token could not "
                                 "be decoded"}, None
                want = "/app/installations/%d/access_tokens" % st.installation
                if path.endswith("/installation"):
                    return 200, {"id": st.installation}, claims
                if self.command != "POST" or path != want:
                    return 404, {"message": "Not Found"}, claims
                token = "ghs_" + secrets.token_hex(18)
                life = st.number("token_life", 3600)
                valid = st.number("token_valid", life)
                st.issued[token] = {"valid_until": now + valid,
                                    "revoked": False}
                with open(os.path.join(st.dir, "issued"), "a") as f:
                    f.write(token + "\n")
                expires = datetime.datetime.fromtimestamp(
                    int(now + life), datetime.timezone.utc)
                return 201, {"token": token,
                             "expires_at": expires.strftime(
                                 "%Y-%m-%dT%H:%M:%SZ"),
                             "permissions": (body or {}).get(
                                 "permissions", {})}, claims
            if auth[7:] in st.tokens and auth.startswith("Bearer "):
                return 201, None, None      # a repository's own token
            tok = st.issued.get(auth[7:]) if auth.startswith("Bearer ") else None
            if tok is None or tok["revoked"] or now >= tok["valid_until"]:
                return 401, {"message": "Bad credentials"}, None
            if self.command == "DELETE" and path == "/installation/token":
                tok["revoked"] = True
                with open(os.path.join(st.dir, "revoked"), "a") as f:
                    f.write(auth[7:] + "\n")
                return 204, None, None
            return 201, None, None

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = answer

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--token", action="append", default=[])
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--app-id")
    ap.add_argument("--app-key")
    ap.add_argument("--installation", type=int, default=4242)
    a = ap.parse_args()
    tokens = []
    for path in a.token:
        with open(path) as f:
            tokens.append(f.read().strip())
    os.makedirs(a.dir, exist_ok=True)
    st = State(a.dir, tokens)
    st.delay = a.delay_ms / 1000.0
    if a.app_key:
        from cryptography.hazmat.primitives import serialization
        with open(a.app_key, "rb") as f:
            st.app_key = serialization.load_pem_public_key(f.read())
        st.app_id = a.app_id
        st.installation = a.installation
    return serve(a.port, make_handler(st), os.path.join(a.dir, "ready"))


def serve(port, handler, ready):
    """Serve handler on 127.0.0.1:port, writing our pid to ready first
    listening (tests/fakegit.py serves the same way)."""
    srv = ThreadingHTTPServer(("127.0.0.1", port), handler)
    srv.daemon_threads = True
    with open(ready, "w") as f:
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
