#!/usr/bin/env bash
# bench/matrix.sh [LEGS] [WORKERS] [BINDIR]: trivial-job throughput from
# one push of a LEGS-leg matrix (default 200) with WORKERS workers (default
# 2): jobs/s from the first job's start to the last job's completion (the
# database's own timestamps), and PostgreSQL's WAL flushes per job
# (pg_stat_wal.wal_sync over the run, the WAL writer's background flushes
# of asynchronous commits included; the target is at most 2, the claim's
# and the completion's).  Baseline: the same number of fork+exec of the
# step's command (`true`) by one shell, timed in the same run, and the
# ceiling the steps alone allow (bench_step_ceiling: the step's own shell
# started as a worker starts it, one loop per worker).
# Bounded: 300 s wait; loopback only.
set -euo pipefail
legs=${1:-200}
nw=${2:-2}
bin=${3:-$(dirname "$0")/../build/bin}
bin=$(cd "$bin" && pwd)
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_kilnd_up "$bin" "[workers]\ncount = $nw\n"
q() { psql -X -q -tA -v ON_ERROR_STOP=1 -h "$d/state/pg/run" -U kiln -d kiln -c "$1"; }
bench_repo_new "$bin" "$d/kiln.conf" bench/matrix
printf 'on: push\njobs:\n  t:\n    runs-on: self-hosted\n    strategy:\n      matrix:\n        n: [%s]\n    steps:\n      - run: "true"\n' \
    "$(seq -s, 1 "$legs")" >"$d/w/.github/workflows/t.yml"
syncs0=$(q "SELECT wal_sync FROM pg_stat_wal")
cpu0=$(bench_cpu)
bench_push bench/matrix matrix-1
bench_wait_run state 300 || { echo "matrix: the run did not complete" >&2; exit 1; }
cpu1=$(bench_cpu)
# Backends report their WAL statistics within about a second of going
# idle: read until the count holds for 2 s (20 s at most).
syncs1=$(q "SELECT wal_sync FROM pg_stat_wal")
same=0
for _ in $(seq 1 40); do
	sleep 0.5
	s=$(q "SELECT wal_sync FROM pg_stat_wal")
	if [ "$s" = "$syncs1" ]; then same=$((same + 1)); else same=0; syncs1=$s; fi
	[ "$same" -ge 4 ] && break
done
n=$(q "SELECT count(*) FROM jobs WHERE conclusion = 'success'")
[ "$n" -eq "$legs" ] || { echo "matrix: $n of $legs jobs succeeded" >&2; exit 1; }
secs=$(q "SELECT extract(epoch FROM max(completed_at) - min(started_at)) FROM jobs")
t0=$(date +%s.%N)
for _ in $(seq 1 "$legs"); do /bin/true; done
t1=$(date +%s.%N)
awk -v n="$n" -v s="$secs" -v w0="$syncs0" -v w1="$syncs1" -v b0="$t0" -v b1="$t1" -v nw="$nw" 'BEGIN {
	printf "%d jobs, %d workers: %.1f jobs/s (%.2f ms each); WAL flushes %.2f per job (target <= 2)\n", n, nw, n / s, s * 1000 / n, (w1 - w0) / n
	printf "baseline: %d fork+exec of true: %.3f ms each\n", n, (b1 - b0) * 1000 / n }'
bench_cpu_per_job "$cpu0" "$cpu1" "$n"
bench_step_ceiling "$n" "$nw"
