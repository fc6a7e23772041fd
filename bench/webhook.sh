#!/usr/bin/env bash
# Webhook intake benchmark: signed push deliveries accepted durably per
# second (each one a committed delivery + event row and a NOTIFY), against
# GET /healthz on the same kilnd as the baseline (a request that also
# round-trips to PostgreSQL but writes nothing); then the latency from a
# signed webhook to the first step running, from the database's own
# timestamps.  Baselines beside each: for intake, /healthz and a bare
# one-row INSERT + COMMIT loop (pgbench, the same connections) on the
# same cluster; for the latency, a bare INSERT + COMMIT round trip and a
# fork+exec of the same step (bash -e on a file holding `true`), each
# timed one at a time.  Latencies as p50/p90/p99/max: the target is a p99.
# Then the same latency for pushes that find the workers parked (a push
# an idle while after the last one: KILN_BENCH_COLD of them, default 10),
# beside the warm figure.
# Bounded: fixed durations and counts; loopback only.
#
#   bench/webhook.sh [seconds] [connections]    (needs wrk: apt-get install wrk)
#
# KILN_BENCH_BINDIR runs other binaries (an A/B against an older build).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-16}
threads=$((conns < 2 ? conns : 2))	# wrk refuses more threads than connections
bin=${KILN_BENCH_BINDIR:-$PWD/build/bin}
command -v wrk >/dev/null || { echo "bench: needs wrk (apt-get install wrk)" >&2; exit 2; }
. bench/lib.sh
# Intake only: no workers, so planning does not compete for the 2 cores.
bench_kilnd_up "$bin" "[database]\nconnections = ${KILN_BENCH_CONNS:-4}\n[workers]\ncount = 0\n"
sha=0123456789abcdef0123456789abcdef01234567
export KILN_BENCH_BODY="{\"ref\":\"refs/heads/main\",\"before\":\"0000000000000000000000000000000000000000\",\"after\":\"$sha\",\"repository\":{\"full_name\":\"bench/repo\"}}"
export KILN_BENCH_SIG="sha256=$(printf '%s' "$KILN_BENCH_BODY" | openssl dgst -sha256 -hmac benchsecret -r | cut -d' ' -f1)"

echo "== baseline: GET /healthz (${secs}s, $conns connections)"
wrk -t"$threads" -c"$conns" -d"${secs}s" "http://127.0.0.1:$port/healthz" | grep -E 'Requests/sec|Latency|Non-2xx'
# pgbench's per-transaction log (field 3: microseconds) -> p50 p90 p99 max.
pctl() {	# pctl FILE...
	cat "$@" | awk '{ print $3 / 1000 }' | sort -n | awk '{ v[NR] = $1 }
	END { printf "p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (%d)\n",
	    v[int(NR * 0.5 + 0.5)], v[int(NR * 0.9 + 0.5)], v[int(NR * 0.99 + 0.5)], v[NR], NR }'
}
pgb() {	# pgb PGDIR PREFIX pgbench-args...: one INSERT + COMMIT per transaction
	local dir=$1 pre=$2
	shift 2
	psql -X -q -h "$d/$dir/pg/run" -U kiln -d kiln -c \
	    "CREATE TABLE IF NOT EXISTS bench_insert (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())"
	echo 'INSERT INTO bench_insert DEFAULT VALUES;' >"$d/insert.sql"
	pgbench -n -h "$d/$dir/pg/run" -U kiln -f "$d/insert.sql" -l --log-prefix="$d/$pre" "$@" kiln 2>&1 |
	    grep -E '^tps' | sed 's/ (without initial connection time)//'
}
# The embedded cluster admits kilnd's pool + 16 + 10 spare connections
# (daemon/pgembed.c), so pgbench uses at most 16: more clients than that
# only queue on the same WAL flushes.
pgconns=$((conns < 16 ? conns : 16))
echo "== baseline: bare INSERT + COMMIT (pgbench, ${secs}s, $pgconns connections)"
pgb state pgi -c "$pgconns" -j "$threads" -T "$secs"
echo "latency: $(pctl "$d"/pgi.*)"
echo "== signed push webhooks accepted (${secs}s, $conns connections)"
wrk -t"$threads" -c"$conns" -d"${secs}s" -s bench/webhook.lua "http://127.0.0.1:$port/hooks/github" | grep -E 'Requests/sec|Latency|Non-2xx'
n=$(psql "host=$d/state/pg/run dbname=kiln user=kiln" -Atc "select count(*) from events where event <> 'kiln:schedules'")
echo "events stored (each one committed before its 202): $n"

# --- latency: signed webhook -> first step running, with two workers ---
# kilnd_again N WORKERS_EXTRA: stop kilnd, start it on state2 with two
# workers (and WORKERS_EXTRA), config kilnN.conf, log kilndN.log.
kilnd_again() {
	kill $kpid; wait $kpid 2>/dev/null || true
	printf '[server]\nlisten = 127.0.0.1:%s\nstate_dir = %s/state2\n[workers]\ncount = 2\n%b' "$port" "$d" "$2" >"$d/kiln$1.conf"
	"$bin/kilnd" -c "$d/kiln$1.conf" >"$d/kilnd$1.log" 2>&1 &
	kpid=$!
	for _ in $(seq 1 600); do
		curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
		sleep 0.1
	done
}
pushes=${KILN_BENCH_PUSHES:-100}
kilnd_again 2 ""
bench_repo_new "$bin" "$d/kiln2.conf" bench/lat
for i in $(seq 1 "$pushes"); do
	bench_push bench/lat "lat-$i"
	# One at a time, so each measures an idle system (bounded wait).
	bench_wait_run state2 6 || true
done
echo "== signed webhook -> first step running ($pushes pushes, 2 workers)"
psql "host=$d/state2/pg/run dbname=kiln user=kiln" -At -F ' ' -c "
	select 'p50 ' || round(percentile_cont(0.5) within group (order by ms)::numeric, 1) || ' ms, p90 ' ||
	       round(percentile_cont(0.9) within group (order by ms)::numeric, 1) || ' ms, p99 ' ||
	       round(percentile_cont(0.99) within group (order by ms)::numeric, 1) || ' ms, max ' || round(max(ms)::numeric, 1) ||
	       ' ms (' || count(*) || ')'
	from (select extract(epoch from (s.started_at - e.created_at)) * 1000 as ms
	      from events e join runs r on r.event_id = e.id join jobs j on j.run_id = r.id
	      join steps s on s.job_id = j.id and s.number = 1) x"
# Where it goes (p50 of each phase): the webhook's commit to the plan's
# transaction (wake-up, event claim, fetch, reading the workflow), that
# to the job's claim (planning statements, commit, wake-up), the claim to
# the step's row (the job's set-up).
psql "host=$d/state2/pg/run dbname=kiln user=kiln" -At -F ' ' -c "
	select 'phases p50: to planning ' ||
	       round(percentile_cont(0.5) within group (order by p)::numeric, 1) ||
	       ' ms, planning to claim ' ||
	       round(percentile_cont(0.5) within group (order by c)::numeric, 1) ||
	       ' ms, claim to step ' ||
	       round(percentile_cont(0.5) within group (order by s)::numeric, 1) ||
	       ' ms'
	from (select extract(epoch from (r.created_at - e.created_at)) * 1000 as p,
	             extract(epoch from (j.started_at - r.created_at)) * 1000 as c,
	             extract(epoch from (s.started_at - j.started_at)) * 1000 as s
	      from events e join runs r on r.event_id = e.id join jobs j on j.run_id = r.id
	      join steps s on s.job_id = j.id and s.number = 1) x"
echo "== baseline: bare INSERT + COMMIT round trip, one at a time ($pushes, same cluster)"
pgb state2 pgl -c 1 -t "$pushes" >/dev/null
echo "latency: $(pctl "$d"/pgl.*)"
echo "== baseline: fork+exec of the step (bash -e on a file holding true), one at a time ($pushes)"
echo true >"$d/step.sh"
python3 - "$pushes" "$d/step.sh" <<'PY'
import subprocess, sys, time
n, f = int(sys.argv[1]), sys.argv[2]
v = []
for _ in range(n):
    t = time.monotonic()
    subprocess.run(["bash", "-e", f], check=True)
    v.append((time.monotonic() - t) * 1000)
v.sort()
print("latency: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (%d)" %
      (*(v[int(n * q + 0.5) - 1] for q in (0.5, 0.9, 0.99)), v[-1], n))
PY

# --- after the workers parked: what a push an idle while after the last
# one meets.  A parked worker has closed its session, so the push waits for
# kilnd to wake it, a new PostgreSQL backend, and that backend's first
# statements (catalog caches, plans, plpgsql compiled again).  The same
# cluster and repository, kilnd restarted with park_seconds = 1; each push
# is sent once no worker has a session.  KILN_BENCH_COLD pushes (0: none).
cold=${KILN_BENCH_COLD:-10}
[ "$cold" -gt 0 ] || exit 0
kilnd_again 3 "park_seconds = 1\n"
parked="SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name LIKE 'kiln-worker/%'"
for i in $(seq 1 "$cold"); do
	sleep 1.5
	bench_wait_sql state2 10 "$parked" || { echo "bench: workers did not park within 10 s" >&2; exit 1; }
	bench_push bench/lat "cold-$i"
	bench_wait_run state2 6 || true
done
echo "== signed webhook -> first step running, workers parked ($cold pushes, 2 workers, park_seconds = 1)"
psql "host=$d/state2/pg/run dbname=kiln user=kiln" -At -F ' ' -c "
	select 'p50 ' || round(percentile_cont(0.5) within group (order by ms)::numeric, 1) || ' ms, p90 ' ||
	       round(percentile_cont(0.9) within group (order by ms)::numeric, 1) || ' ms, max ' ||
	       round(max(ms)::numeric, 1) || ' ms (' || count(*) || '); phases p50: to planning ' ||
	       round(percentile_cont(0.5) within group (order by p)::numeric, 1) || ' ms, planning to claim ' ||
	       round(percentile_cont(0.5) within group (order by c)::numeric, 1) || ' ms, claim to step ' ||
	       round(percentile_cont(0.5) within group (order by s)::numeric, 1) || ' ms'
	from (select extract(epoch from (s.started_at - e.created_at)) * 1000 as ms,
	             extract(epoch from (r.created_at - e.created_at)) * 1000 as p,
	             extract(epoch from (j.started_at - r.created_at)) * 1000 as c,
	             extract(epoch from (s.started_at - j.started_at)) * 1000 as s
	      from events e join runs r on r.event_id = e.id join jobs j on j.run_id = r.id
	      join steps s on s.job_id = j.id and s.number = 1
	      where e.delivery_id like 'cold-%') x"
echo "baseline: the same pushes with the workers' sessions open: the warm figures above"
