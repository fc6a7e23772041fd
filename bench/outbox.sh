#!/usr/bin/env bash
# Outbox benchmark: a burst of job state changes delivered to a fake GitHub
# (tests/fakegh.py answering after DELAY ms, as GitHub's API takes time),
# with the requests in flight at once counted by the fake, and kilnd's
# webhook intake rate measured idle and again while the burst drains.
# Bounded: fixed counts and durations; loopback only.
#
#   bench/outbox.sh [commits] [jobs_per_commit] [delay_ms] [seconds] [rounds]
#
# commits x jobs x 2 state changes (queued, then completed): 100 x 5 x 2 =
# 1,000 by default, in each of rounds (3) idle/burst pairs; the CPU time
# kilnd, its PostgreSQL and the fake use while a burst drains is printed
# (/proc), to tell kilnd's own cost from the box's.  Needs wrk
# (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
commits=${1:-100}
jobs=${2:-5}
delay=${3:-50}
secs=${4:-5}
rounds=${5:-3}
bin=${KILN_BENCH_BIN:-$PWD/build/bin}	# another build to compare
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

# CPU seconds (user + system) used so far by the processes given.
# calc FORMAT EXPRESSION: awk's arithmetic (bc is not on a fresh Debian).
calc() {
	awk "BEGIN { printf \"$1\", $2 }"
}
cpu() {
	local t=0 p v
	for p in "$@"; do
		# Gone since it was listed: nothing to add.
		v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || continue
		t=$((t + ${v:-0}))
	done
	calc %.2f "$t / $(getconf CLK_TCK)"
}
# The embedded PostgreSQL: its postmaster and backends (kilnd's pool).
pgpids() {
	local pm
	pm=$(head -1 "$d/state/pg/data/postmaster.pid")
	echo "$pm $(pgrep -P "$pm" | tr '\n' ' ')"
}

# One burst: commits x jobs runs' jobs inserted queued (a pending status
# each), then all completed (a verdict each), in two statements.
burst() {	# burst ROUND
	psql "$db" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO events (repository_id, event, sha, payload, status)
SELECT r.id, 'push', md5($1 || ':' || g) || '00000000', '{"round": $1}',
    'completed'
FROM repositories r, generate_series(1, $commits) g WHERE r.full_name = 'bench/repo';
INSERT INTO runs (event_id, repository_id, name, path, event, head_sha, ref,
    workflow_source, status)
SELECT e.id, e.repository_id, 'bench', '.github/workflows/b.yml', 'push',
    e.sha, 'refs/heads/main', '', 'in_progress'
FROM events e WHERE e.payload->>'round' = '$1';
SQL
	psql "$db" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO jobs (run_id, repository_id, job_key, name, status, labels)
SELECT u.id, u.repository_id, 'j' || g, 'j' || g, 'queued', '{nowhere}'
FROM runs u JOIN events e ON e.id = u.event_id, generate_series(1, $jobs) g
WHERE e.payload->>'round' = '$1';
UPDATE jobs SET status = 'completed', conclusion = 'success',
    started_at = now(), completed_at = now() WHERE status = 'queued';
SQL
}

# Idle and burst intake alternate, several rounds in one run: the box is
# shared, so a ratio is only worth something between neighbours.
ratios=""
for round in $(seq 1 "$rounds"); do
	echo "== round $round: webhook intake, outbox idle (${secs}s, 8 connections)"
	pg=$(pgpids)
	c0k=$(cpu "$kpid"); c0p=$(cpu $pg)
	idle=$(intake)
	c1k=$(cpu "$kpid"); c1p=$(cpu $pg)
	echo "requests/s: $idle; CPU seconds: kilnd $(calc %.2f "$c1k - $c0k")," \
	    "PostgreSQL $(calc %.2f "$c1p - $c0p")"
	sent0=$(psql "$db" -Atc "SELECT count(*) FROM outbox WHERE status = 'delivered'")
	t0=$(date +%s.%N)
	burst "$round"
	want=$(psql "$db" -Atc "SELECT count(*) FROM outbox WHERE status = 'pending'")
	echo "== round $round: burst of $((commits * jobs * 2)) state changes ($want outbox rows pending)"
	pg=$(pgpids)
	c0k=$(cpu "$kpid"); c0p=$(cpu $pg); c0f=$(cpu "$fpid")
	busy=$(intake)
	c1k=$(cpu "$kpid"); c1p=$(cpu $pg); c1f=$(cpu "$fpid")
	echo "requests/s while the burst drains: $busy"
	echo "CPU seconds in those ${secs}s: kilnd $(calc %.2f "$c1k - $c0k")," \
	    "PostgreSQL $(calc %.2f "$c1p - $c0p"), fake GitHub $(calc %.2f "$c1f - $c0f")"
	for _ in $(seq 1 1200); do
		left=$(psql "$db" -Atc "SELECT count(*) FROM outbox WHERE status = 'pending'")
		[ "$left" = 0 ] && break
		sleep 0.1
	done
	t1=$(psql "$db" -Atc "SELECT extract(epoch FROM max(delivered_at)) FROM outbox")
	done_n=$(psql "$db" -Atc "SELECT count(*) - $sent0 FROM outbox WHERE status = 'delivered'")
	failed=$(psql "$db" -Atc "SELECT count(*) FROM outbox WHERE status = 'failed'")
	echo "delivered $done_n (failed $failed, left $left) in $(calc %.3f "$t1 - $t0") s:" \
	    "$(calc %.1f "$done_n / ($t1 - $t0)") deliveries/s"
	r=$(calc %.1f "100 * $busy / $idle")
	echo "intake during the burst: $r% of idle"
	ratios="$ratios $r"
done
calls=$(wc -l <"$fd/calls/calls.jsonl")
echo "== fake saw $calls calls; most requests in flight at once:" \
    "$(cat "$fd/calls/inflight") (max_in_flight 10)"
echo "intake during bursts, % of the idle rate just before:$ratios"
echo "$ratios" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '
	{ v[NR] = $1 }
	END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	      printf "median of %d rounds: %.1f%% of idle (target: within 10%%, >= 90%%)\n", NR, m }'
