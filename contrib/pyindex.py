#!/usr/bin/python3
"""The quick start's local Python package index (PEP 503 "simple" HTML).

No public index is reachable from here, so the example pipeline's
`pip install` steps use this one.  It holds wheels BUILT here by pip from
the Python packages Debian installed (their sources under
/usr/lib/python3/dist-packages, with the upstream metadata Debian kept):

    /usr/bin/python3 contrib/pyindex.py build DIR pyflakes pycodestyle
    /usr/bin/python3 contrib/pyindex.py serve DIR --port 8421 --stop-with PID

`serve` binds 127.0.0.1 only and exits when process PID (kilnd) is gone,
so the index stops with the quick start's kilnd.
"""

import argparse
import email
import hashlib
import html
import http.server
import importlib.metadata as md
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def toml_str(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def source_tree(dist, where):
    """Lay out dist's installed code as a source tree pip can build."""
    meta = dist.metadata
    name, version = meta["Name"], meta["Version"]
    top = (dist.read_text("top_level.txt") or normalize(name)).split()
    site = str(dist.locate_file(""))
    packages, modules = [], []
    for t in top:
        if os.path.isdir(os.path.join(site, t)):
            shutil.copytree(os.path.join(site, t), os.path.join(where, t),
                            ignore=shutil.ignore_patterns("__pycache__", "test", "tests"))
            packages.append(t)
        elif os.path.isfile(os.path.join(site, t + ".py")):
            shutil.copy2(os.path.join(site, t + ".py"), where)
            modules.append(t)
        else:
            raise SystemExit("pyindex: %s %s: top-level %r not found under %s" % (name, version, t, site))
    lines = ["[build-system]", 'requires = ["setuptools"]',
             'build-backend = "setuptools.build_meta"', "", "[project]",
             "name = " + toml_str(name), "version = " + toml_str(version),
             "description = " + toml_str(meta.get("Summary") or name)]
    if meta.get("License"):
        lines.append("license = {text = %s}" % toml_str(meta["License"]))
    if meta.get("Requires-Python"):
        lines.append("requires-python = " + toml_str(meta["Requires-Python"]))
    cls = meta.get_all("Classifier") or []
    lines.append("classifiers = [%s]" % ", ".join(toml_str(c) for c in cls))
    scripts = [ep for ep in dist.entry_points if ep.group == "console_scripts"]
    if scripts:
        lines += ["", "[project.scripts]"]
        lines += ["%s = %s" % (toml_str(ep.name), toml_str(ep.value)) for ep in scripts]
    lines += ["", "[tool.setuptools]"]
    if packages:
        # Every package directory, subpackages too (pyflakes.scripts).
        lines.append("packages = [%s]" % ", ".join(
            toml_str(os.path.relpath(r, where).replace(os.sep, "."))
            for p in packages for r, _, fs in os.walk(os.path.join(where, p)) if "__init__.py" in fs))
    if modules:
        lines.append("py-modules = [%s]" % ", ".join(toml_str(m) for m in modules))
    with open(os.path.join(where, "pyproject.toml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return name, version


def build(out, names):
    files = os.path.join(out, "files")
    os.makedirs(files, exist_ok=True)
    for n in names:
        try:
            dist = md.distribution(n)
        except md.PackageNotFoundError:
            raise SystemExit("pyindex: %s is not installed for %s (apt-get install python3-%s)"
                             % (n, sys.executable, n))
        # A published file never changes (pip's cache and lock files hold
        # its digest): a version already in the index is not rebuilt.
        prefix = "%s-%s-" % (dist.metadata["Name"].replace("-", "_"), dist.version)
        if any(fn.startswith(prefix) and fn.endswith(".whl") for fn in os.listdir(files)):
            print("pyindex: %s %s already in the index" % (dist.metadata["Name"], dist.version))
            continue
        with tempfile.TemporaryDirectory() as src:
            name, version = source_tree(dist, src)
            # The real build: pip with Debian's setuptools, no index; the
            # zip's times fixed (wheel takes SOURCE_DATE_EPOCH), so that a
            # rebuild elsewhere gives the same bytes.
            env = dict(os.environ, SOURCE_DATE_EPOCH="315532800")
            r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                                "--no-index", "--no-build-isolation", "-w", files, src],
                               capture_output=True, text=True, env=env)
            if r.returncode != 0:
                raise SystemExit("pyindex: building the %s %s wheel failed:\n%s%s"
                                 % (name, version, r.stdout, r.stderr))
        print("pyindex: built %s %s" % (name, version))
    projects = {}
    for fn in sorted(os.listdir(files)):
        if fn.endswith(".whl"):
            projects.setdefault(normalize(fn.split("-")[0]), []).append(fn)
    simple = os.path.join(out, "simple")
    shutil.rmtree(simple, ignore_errors=True)
    os.makedirs(simple)
    with open(os.path.join(simple, "index.html"), "w") as f:
        f.write("<!DOCTYPE html>\n<html><body>\n")
        for p in sorted(projects):
            f.write('<a href="%s/">%s</a>\n' % (p, p))
        f.write("</body></html>\n")
    for p, fns in projects.items():
        os.makedirs(os.path.join(simple, p))
        with open(os.path.join(simple, p, "index.html"), "w") as f:
            f.write("<!DOCTYPE html>\n<html><body>\n")
            for fn in fns:
                with open(os.path.join(files, fn), "rb") as w:
                    digest = hashlib.sha256(w.read()).hexdigest()
                req = ""
                meta = wheel_metadata(os.path.join(files, fn))
                if meta.get("Requires-Python"):
                    req = ' data-requires-python="%s"' % html.escape(meta["Requires-Python"])
                f.write('<a href="../../files/%s#sha256=%s"%s>%s</a>\n' % (fn, digest, req, fn))
            f.write("</body></html>\n")
    print("pyindex: %d project(s) in %s" % (len(projects), simple))


def wheel_metadata(path):
    with zipfile.ZipFile(path) as z:
        mname = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(z.read(mname))


def serve(out, port, stop_with):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=out, **kw)

        def end_headers(self):
            # As PyPI: a file's name carries its version, so it never
            # changes; pip keeps only responses it may cache in its HTTP
            # cache (what setup-python's cache: pip saves).
            if self.path.startswith("/files/"):
                self.send_header("Cache-Control", "max-age=31536000, immutable")
            else:
                self.send_header("Cache-Control", "max-age=600")
            super().end_headers()

        def log_message(self, fmt, *args):
            sys.stderr.write("pyindex: %s %s\n" % (self.address_string(), fmt % args))

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("pyindex: serving %s on http://127.0.0.1:%d/simple/" % (out, port), flush=True)
    try:
        while True:
            time.sleep(1)
            if stop_with:
                try:
                    os.kill(stop_with, 0)
                except ProcessLookupError:
                    print("pyindex: process %d is gone; stopping" % stop_with, flush=True)
                    break
    except KeyboardInterrupt:
        pass
    srv.shutdown()


def main():
    p = argparse.ArgumentParser(prog="pyindex")
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("dir")
    b.add_argument("names", nargs="+")
    s = sub.add_parser("serve")
    s.add_argument("dir")
    s.add_argument("--port", type=int, default=8421)
    s.add_argument("--stop-with", type=int, default=0)
    a = p.parse_args()
    if a.cmd == "build":
        build(os.path.abspath(a.dir), a.names)
    else:
        serve(os.path.abspath(a.dir), a.port, a.stop_with)


if __name__ == "__main__":
    main()
