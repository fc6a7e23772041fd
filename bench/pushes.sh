#!/usr/bin/env bash
# bench/pushes.sh [PUSHES] [WORKERS] [BINDIR]: trivial-job throughput from
# PUSHES separate pushes (default 200), each its own commit, its own signed
# webhook and its own run of a one-job workflow (`run: "true"`), with
# WORKERS workers (default 2).  The commits are made and pushed first; the
# webhooks then arrive back to back (bench/deliver.py, one connection).  Figure: jobs/s from the first job's
# start to the last job's completion (the database's timestamps), and
# from the first webhook to the last completion; CPU per job; and the
# transactions committed in kiln's database per job (set-up included):
# unlike CPU time, a count the other engineers' load does not move.  Baseline: PUSHES
# fork+exec of `true` by one shell in the same run, and the ceiling the
# steps alone allow (bench_step_ceiling).  Bounded: 300 s wait;
# loopback only.
set -euo pipefail
pushes=${1:-200}
nw=${2:-2}
bin=${3:-$(dirname "$0")/../build/bin}
bin=$(cd "$bin" && pwd)
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_kilnd_up "$bin" "[workers]\ncount = $nw\n"
q() { psql -X -q -tA -v ON_ERROR_STOP=1 -h "$d/state/pg/run" -U kiln -d kiln -c "$1"; }
bench_repo_new "$bin" "$d/kiln.conf" bench/pushes
git -C "$d/w" add -A
git -C "$d/w" -c user.name=b -c user.email=b@b commit -qm base
base=$(git -C "$d/w" rev-parse HEAD)
shas=()
for i in $(seq 1 "$pushes"); do
	echo "$i" >"$d/w/n"
	git -C "$d/w" add n
	git -C "$d/w" -c user.name=b -c user.email=b@b commit -qm "push $i"
	shas+=("$(git -C "$d/w" rev-parse HEAD)")
done
git -C "$d/w" push -q "$d/r.git" main
prev=$base
for i in $(seq 1 "$pushes"); do
	sha=${shas[$((i - 1))]}
	echo "pushes-$i $prev $sha"
	prev=$sha
done >"$d/deliveries"
cpu0=$(bench_cpu)
# One process sends them all: a shell loop of openssl + curl per push
# cost more of the box than the jobs it measured.
python3 bench/deliver.py "$port" bench/pushes benchsecret <"$d/deliveries"
bench_wait_sql state 300 "SELECT count(*) >= $pushes FROM jobs WHERE status = 'completed'" || {
	echo "pushes: $(q "SELECT count(*) FROM jobs WHERE status = 'completed'") of $pushes jobs completed in 300 s" >&2
	exit 1
}
cpu1=$(bench_cpu)
[ -n "${KILN_BENCH_TIMELINE:-}" ] && q "SELECT 'deliveries '||round(extract(epoch from max(received_at)-min(received_at))*1000) ||' ms; first run '||(SELECT round(extract(epoch from min(created_at)-(SELECT min(received_at) FROM deliveries))*1000) FROM runs)||' ms; last run '||(SELECT round(extract(epoch from max(created_at)-(SELECT min(received_at) FROM deliveries))*1000) FROM runs)||' ms; first job '||(SELECT round(extract(epoch from min(started_at)-(SELECT min(received_at) FROM deliveries))*1000) FROM jobs)||' ms' FROM deliveries"
n=$(q "SELECT count(*) FROM jobs WHERE conclusion = 'success'")
[ "$n" -eq "$pushes" ] || { echo "pushes: $n of $pushes jobs succeeded" >&2; exit 1; }
runs=$(q "SELECT count(*) FROM runs")
[ "$runs" -eq "$pushes" ] || { echo "pushes: $runs runs for $pushes pushes" >&2; exit 1; }
secs=$(q "SELECT extract(epoch FROM max(completed_at) - min(started_at)) FROM jobs")
wall=$(q "SELECT extract(epoch FROM (SELECT max(completed_at) FROM jobs) - (SELECT min(received_at) FROM deliveries))")
b0=$(date +%s.%N)
for _ in $(seq 1 "$pushes"); do /bin/true; done
b1=$(date +%s.%N)
awk -v n="$n" -v s="$secs" -v w="$wall" -v nw="$nw" -v b0="$b0" -v b1="$b1" 'BEGIN {
	printf "%d pushes, %d jobs, %d workers: %.1f jobs/s from the first job start to the last completion (%.2f ms each); %.1f jobs/s from the first webhook\n", n, n, nw, n / s, s * 1000 / n, n / w
	printf "baseline: %d fork+exec of true: %.3f ms each\n", n, (b1 - b0) * 1000 / n }'
bench_cpu_per_job "$cpu0" "$cpu1" "$n"
bench_step_ceiling "$n" "$nw"
x=$(q "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'kiln'")
awk -v x="$x" -v n="$n" 'BEGIN { printf "transactions in the kiln database: %d, %.1f per job\n", x, x / n }'
