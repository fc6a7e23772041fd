"""A small security scanner for the example (in the spirit of bandit and
gitleaks): calls that run strings as code or shells, unsafe loaders, and
strings that look like committed credentials.

    python tools/seccheck.py src tools tests

Prints file:line: finding for each and exits 1 when there is any.
"""

import ast
import os
import re
import sys

CALLS = {
    "eval": "eval() runs a string as code",
    "exec": "exec() runs a string as code",
    "pickle.load": "pickle.load() runs code from the data",
    "pickle.loads": "pickle.loads() runs code from the data",
    "yaml.load": "yaml.load() without SafeLoader",
    "os.system": "os.system() goes through a shell",
}
SECRETS = [
    (re.compile(r"AKIA[0-9A-Z]{16}"), "an AWS access key id"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"gh[pousr]_[A-Za-z0-9]{36}"), "a GitHub token"),
    (re.compile(r"xox[baprs]-[A-Za-z0-9-]{10,}"), "a Slack token"),
]


def dotted(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return base + "." + node.attr if base else None
    return None


def scan_python(path, text, findings):
    for node in ast.walk(ast.parse(text, path)):
        if not isinstance(node, ast.Call):
            continue
        name = dotted(node.func)
        if name in CALLS:
            findings.append("%s:%d: %s" % (path, node.lineno, CALLS[name]))
        for kw in node.keywords:
            if kw.arg == "shell" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                findings.append("%s:%d: shell=True goes through a shell" % (path, node.lineno))


def main(argv):
    findings = []
    for top in argv or ["."]:
        for root, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
            for name in files:
                path = os.path.join(root, name)
                try:
                    text = open(path, encoding="utf-8").read()
                except UnicodeDecodeError:
                    continue
                for lineno, line in enumerate(text.splitlines(), start=1):
                    for rx, what in SECRETS:
                        if rx.search(line):
                            findings.append("%s:%d: looks like %s" % (path, lineno, what))
                if name.endswith(".py"):
                    scan_python(path, text, findings)
    for f in findings:
        print(f)
    print("seccheck: %d finding(s)" % len(findings))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
