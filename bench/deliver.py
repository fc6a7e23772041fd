#!/usr/bin/env python3
"""bench/deliver.py PORT NAME SECRET < LINES: send one signed push webhook
per input line "DELIVERY BEFORE AFTER" to kilnd on 127.0.0.1:PORT, back to
back over one kept-alive connection, each signed like GitHub does
(X-Hub-Signature-256, HMAC-SHA256 of the body).  Every answer must be 202.

A loop of openssl + curl per delivery costs about 45 ms of the 2-core box
per push, so a benchmark driven that way measured its own loop; this one
costs well under a millisecond per delivery.  Bounded: one request per
line, 10 s timeout each; loopback only."""
import hashlib
import hmac
import http.client
import json
import sys


def main():
    port, name, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sent = 0
    for line in sys.stdin:
        fields = line.split()
        if not fields:
            continue
        delivery, before, after = fields
        body = json.dumps({"ref": "refs/heads/main", "before": before,
                           "after": after,
                           "repository": {"full_name": name}}).encode()
        sig = hmac.new(secret, body, hashlib.sha256).hexdigest()
        conn.request("POST", "/hooks/github", body, {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": "sha256=" + sig})
        resp = conn.getresponse()
        resp.read()
        if resp.status != 202:
            sys.exit("deliver: %s answered %d" % (delivery, resp.status))
        sent += 1
    print("deliver: %d signed push webhooks accepted" % sent, file=sys.stderr)


if __name__ == "__main__":
    main()
