#!/usr/bin/env python3
"""bench/logsample.py PORT KILND_PID WORKER_PID REPO SECONDS OUT READY: what
bench/log.sh samples while a run logs, every 50 ms until REPO has a run
and all its runs have completed (at most SECONDS): the VmRSS of kilnd and
of the worker, and the latency of GET /api/v1/runs?repo=REPO&limit=50 over
one kept-alive connection, whose answer also says when the runs have
completed.  Started before the push: it creates the file READY once it
samples, so that its own start-up (a pyenv shim can take most of a
second) does not miss the run.

The loop it replaces forked curl, psql, awk and a shell every 50 ms: on the
2-core box that took more CPU than kilnd and the worker together while
they logged, so the benchmark mostly measured its own sampling.  This
costs one request and two /proc reads per sample.

Writes each request's milliseconds to OUT, one per line, and prints
"KILND_KIB WORKER_KIB KILND_HWM_KIB WORKER_HWM_KIB" on standard output:
the peaks of the samples, then each process's VmHWM, reset when the
sampling starts, which also catches what lasts less than 50 ms.  Exit 1 when the
run did not complete in time.  Loopback only."""
import http.client
import json
import sys
import time


def rss_kib(pid):
    return status_kib(pid, "VmRSS")


def status_kib(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_hwm(pid):
    """Reset VmHWM to the current RSS (Linux: "5" to clear_refs), so
    that it ends as the peak over the run, transients between samples
    included."""
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")


def all_completed(runs):
    if isinstance(runs, dict):
        runs = runs.get("runs", [])
    return len(runs) > 0 and all(r.get("status") == "completed"
                                 for r in runs)


def main():
    port, kpid, wpid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    repo, seconds, out, ready = sys.argv[4], float(sys.argv[5]), \
        sys.argv[6], sys.argv[7]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    path = "/api/v1/runs?repo=%s&limit=50" % repo
    deadline = time.monotonic() + seconds
    kmax = wmax = 0
    done = False
    reset_hwm(kpid)
    reset_hwm(wpid)
    with open(out, "w") as lat:
        while time.monotonic() < deadline:
            kmax = max(kmax, rss_kib(kpid))
            wmax = max(wmax, rss_kib(wpid))
            t0 = time.monotonic()
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            lat.write("%.3f\n" % ((time.monotonic() - t0) * 1000))
            if resp.status != 200:
                sys.exit("logsample: %s answered %d" % (path, resp.status))
            if all_completed(json.loads(body)):
                done = True
                break
            if ready is not None:
                open(ready, "w").close()
                ready = None
            time.sleep(0.05)
    print(kmax, wmax, status_kib(kpid, "VmHWM"), status_kib(wpid, "VmHWM"))
    if not done:
        sys.exit("logsample: the run did not complete in %g s" % seconds)


if __name__ == "__main__":
    main()
