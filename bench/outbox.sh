#!/usr/bin/env bash
# Outbox benchmark: a burst of job state changes delivered to a fake GitHub
# (tests/fakegh.py answering after DELAY ms, as GitHub's API takes time),
# with the requests in flight at once counted by the fake, and kilnd's
# webhook intake rate measured idle and again while the burst drains.
# Bounded: fixed counts and durations; loopback only.
#
#   bench/outbox.sh [commits] [jobs_per_commit] [delay_ms] [seconds]
#
# commits x jobs x 2 state changes (queued, then completed): 100 x 5 x 2 =
# 1,000 by default.  Needs wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
commits=${1:-100}
jobs=${2:-5}
delay=${3:-50}
secs=${4:-5}
bin=$PWD/build/bin
command -v wrk >/dev/null || { echo "bench: needs wrk (apt-get install wrk)" >&2; exit 2; }
. bench/lib.sh

fd=$(mktemp -d /tmp/kiln-bench-gh.XXXXXX)
gport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'benchtoken\n' >"$fd/token"
chmod 600 "$fd/token"
/usr/bin/python3 tests/fakegh.py --port "$gport" --dir "$fd/calls" \
    --token "$fd/token" --delay-ms "$delay" &
fpid=$!
for _ in $(seq 1 100); do [ -e "$fd/calls/ready" ] && break; sleep 0.1; done

bench_kilnd_up "$bin" "[workers]\ncount = 0\n[github]\napi_url = http://127.0.0.1:$gport\ntoken_file = $fd/token\nmax_in_flight = 10\n"
trap 'kill $kpid $fpid 2>/dev/null; wait $kpid $fpid 2>/dev/null; rm -rf "$d" "$fd"' EXIT
db="host=$d/state/pg/run dbname=kiln user=kiln"
sha=0123456789abcdef0123456789abcdef01234567
export KILN_BENCH_BODY="{\"ref\":\"refs/heads/main\",\"before\":\"0000000000000000000000000000000000000000\",\"after\":\"$sha\",\"repository\":{\"full_name\":\"bench/repo\"}}"
export KILN_BENCH_SIG="sha256=$(printf '%s' "$KILN_BENCH_BODY" | openssl dgst -sha256 -hmac benchsecret -r | cut -d' ' -f1)"

intake() {
	wrk -t2 -c8 -d"${secs}s" -s bench/webhook.lua "http://127.0.0.1:$port/hooks/github" |
	    awk '/Requests\/sec/ { print $2 }'
}

echo "== webhook intake, outbox idle (${secs}s, 8 connections)"
idle=$(intake)
echo "requests/s: $idle"

# The burst: one run per commit, its jobs inserted (queued: a pending
# status each), then all completed (a verdict each), in two statements.
psql "$db" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO events (repository_id, event, sha, payload, status)
SELECT r.id, 'push', md5(g::text) || '00000000', '{}', 'completed'
FROM repositories r, generate_series(1, $commits) g WHERE r.full_name = 'bench/repo';
INSERT INTO runs (event_id, repository_id, name, path, event, head_sha, ref,
    workflow_source, status)
SELECT e.id, e.repository_id, 'bench', '.github/workflows/b.yml', 'push',
    e.sha, 'refs/heads/main', '', 'in_progress'
FROM events e WHERE e.event = 'push' AND e.status = 'completed';
SQL
t0=$(date +%s.%N)
psql "$db" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO jobs (run_id, repository_id, job_key, name, status, labels)
SELECT u.id, u.repository_id, 'j' || g, 'j' || g, 'queued', '{nowhere}'
FROM runs u, generate_series(1, $jobs) g;
UPDATE jobs SET status = 'completed', conclusion = 'success',
    started_at = now(), completed_at = now();
SQL
want=$(psql "$db" -Atc "SELECT count(*) FROM outbox WHERE status <> 'superseded'")
echo "== burst: $want outbox rows from $((commits * jobs * 2)) state changes"
echo "== webhook intake while the burst drains (${secs}s, 8 connections)"
busy=$(intake)
echo "requests/s: $busy"
for _ in $(seq 1 1200); do
	left=$(psql "$db" -Atc "SELECT count(*) FROM outbox WHERE status = 'pending'")
	[ "$left" = 0 ] && break
	sleep 0.1
done
t1=$(psql "$db" -Atc "SELECT extract(epoch FROM max(delivered_at)) FROM outbox")
done_n=$(psql "$db" -Atc "SELECT count(*) FROM outbox WHERE status = 'delivered'")
failed=$(psql "$db" -Atc "SELECT count(*) FROM outbox WHERE status = 'failed'")
calls=$(wc -l <"$fd/calls/calls.jsonl")
echo "delivered $done_n (failed $failed, left $left) in $(echo "$t1 - $t0" | bc) s:" \
    "$(echo "scale=1; $done_n / ($t1 - $t0)" | bc) deliveries/s; fake saw $calls calls"
echo "most requests in flight at once: $(cat "$fd/calls/inflight") (max_in_flight 10)"
echo "intake during the burst: $(echo "scale=1; 100 * $busy / $idle" | bc)% of idle"
