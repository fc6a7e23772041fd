"""Line coverage of src/ with the standard library's trace module.

    python tools/covcheck.py --src src --tests tests/unit --fail-under 80 \
        --report build/coverage.txt

Runs the unittest suite under trace, counts which lines of each module
under --src ran, writes a report (text, and JSON next to it) and exits 1
when a test fails or the total is below --fail-under.  coverage.py is not
needed: only the interpreter.
"""

import argparse
import json
import os
import sys
import trace
import unittest


def code_lines(path):
    """Lines that hold code: those the compiler attaches instructions to."""
    with open(path) as f:
        code = compile(f.read(), path, "exec")
    lines, todo = set(), [code]
    while todo:
        c = todo.pop()
        lines.update(ln for _, _, ln in c.co_lines() if ln)
        todo.extend(k for k in c.co_consts if hasattr(k, "co_lines"))
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(prog="covcheck")
    p.add_argument("--src", default="src")
    p.add_argument("--tests", default="tests/unit")
    p.add_argument("--fail-under", type=float, default=80.0)
    p.add_argument("--report", default="build/coverage.txt")
    a = p.parse_args(argv)

    src = os.path.abspath(a.src)
    sys.path.insert(0, src)
    # No ignoredirs: trace caches its ignore decision by module base name,
    # so one ignored stdlib package __init__ would hide every package's
    # __init__.py.  Only files under --src are reported anyway.
    tracer = trace.Trace(count=1, trace=0)

    # Discovery imports the modules: trace it too, or their top-level
    # lines (imports, def, class) would count as never run.
    def discover_and_run():
        suite = unittest.defaultTestLoader.discover(a.tests)
        return unittest.TextTestRunner(verbosity=1).run(suite)
    result = tracer.runfunc(discover_and_run)
    ran = {}
    for (filename, lineno), _ in tracer.results().counts.items():
        ran.setdefault(os.path.abspath(filename), set()).add(lineno)

    rows, total, hit = [], 0, 0
    for root, _, files in sorted(os.walk(src)):
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(root, name)
            lines = code_lines(path)
            done = lines & ran.get(path, set())
            total += len(lines)
            hit += len(done)
            missed = sorted(lines - done)
            rows.append((os.path.relpath(path), len(lines), len(done), missed))
    pct = 100.0 * hit / total if total else 100.0

    os.makedirs(os.path.dirname(os.path.abspath(a.report)), exist_ok=True)
    with open(a.report, "w") as f:
        f.write("%-36s %6s %6s %6s  missing\n" % ("file", "lines", "run", "cover"))
        for rel, n, d, missed in rows:
            f.write("%-36s %6d %6d %5.1f%%  %s\n" % (
                rel, n, d, 100.0 * d / n if n else 100.0,
                ",".join(map(str, missed))))
        f.write("%-36s %6d %6d %5.1f%%\n" % ("TOTAL", total, hit, pct))
    with open(os.path.splitext(a.report)[0] + ".json", "w") as f:
        json.dump({"total_lines": total, "covered_lines": hit,
                   "percent": round(pct, 2),
                   "files": {rel: {"lines": n, "covered": d, "missing": m}
                             for rel, n, d, m in rows}}, f, indent=2)
    sys.stdout.write(open(a.report).read())
    if not result.wasSuccessful():
        print("error: tests failed", file=sys.stderr)
        return 1
    if pct < a.fail_under:
        print("error: coverage %.1f%% is below %.1f%%" % (pct, a.fail_under), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
