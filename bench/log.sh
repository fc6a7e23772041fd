#!/usr/bin/env bash
# bench/log.sh [MB] [BINDIR]: the log path.  Three pushes whose workflow
# has two jobs run one after the other by one worker: a step writing MB MiB of
# zeros, then MB MiB of random bytes, to its standard output (default 200).
# Figures: each step's time from the database's own timestamps (the best
# of three runs, as the bare command's), kilnd's and the worker's CPU
# during the first run, their peak RSS while it runs and
# the latency of GET /api/v1/runs on the same kilnd, both sampled every
# 50 ms by bench/logsample.py, and their VmHWM over the run (reset when
# the sampling starts: the job's set-up is in it, and what lasts less
# than a sample).  Checked: each stored log holds at least
# the bytes written (kilnd's step markers come on top; a CR LF is stored
# as LF).  Baseline, in the same run: the bare command writing the same
# bytes to a file beside the logs (best of three), and `GET /healthz`
# latency before the run; and the floor any runner that reads a step's
# output pays, the same bytes piped through `cat` into a file (best of
# three).  Bounded: 300 s for the sampled run, 120 s for each other;
# loopback only.
set -euo pipefail
mb=${1:-200}
bin=${2:-$(dirname "$0")/../build/bin}
bin=$(cd "$bin" && pwd)
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_kilnd_up "$bin" "[workers]\ncount = 1\n[web]\naccess = public\n"
q() { psql -X -q -tA -v ON_ERROR_STOP=1 -h "$d/state/pg/run" -U kiln -d kiln -c "$1"; }
bench_repo_new "$bin" "$d/kiln.conf" bench/log
cat >"$d/w/.github/workflows/t.yml" <<YML
on: push
jobs:
  zeros:
    runs-on: self-hosted
    steps:
      - run: head -c ${mb}M /dev/zero
  random:
    needs: zeros
    runs-on: self-hosted
    steps:
      - run: cat $d/random.bin
YML
head -c "${mb}M" /dev/urandom >"$d/random.bin"
chmod 0644 "$d/random.bin"
for _ in $(seq 1 600); do
	[ "$(q 'SELECT count(*) FROM workers')" -ge 1 ] && break
	sleep 0.1
done
wpid=$(pgrep -n -f "kiln-worker -c $d" || true)
[ -n "$wpid" ] || { echo "log: no worker" >&2; exit 1; }
lat() {	# lat PATH: one request's time in ms
	curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port$1" |
	    awk '{ printf "%.3f\n", $1 * 1000 }'
}
pct() {	# pct FILE LABEL
	sort -n "$1" | awk -v label="$2" '{ t[NR] = $1 }
	    END { if (NR == 0) { print label ": no samples"; exit }
	    printf "%s: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d requests)\n",
	    label, t[int((NR - 1) * 0.5) + 1], t[int((NR - 1) * 0.99) + 1], t[NR], NR }'
}
: >"$d/healthz"
for _ in $(seq 1 50); do lat /healthz >>"$d/healthz"; done
: >"$d/api"
# Each side starts with nothing dirty in the page cache: writeback of
# what came before (random.bin, the other side's output) throttles the
# writer that happens to be running when it starts, whichever it is.
sync
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }	# utime + stime, ticks
kcpu0=$(cpu "$kpid") wcpu0=$(cpu "$wpid")
python3 bench/logsample.py "$port" "$kpid" "$wpid" bench/log 300 "$d/api" \
    "$d/sampling" >"$d/peaks" &
spid=$!
for _ in $(seq 1 300); do
	[ -e "$d/sampling" ] && break
	kill -0 "$spid" 2>/dev/null || break
	sleep 0.02
done
[ -e "$d/sampling" ] || { echo "log: the sampler did not start" >&2; exit 1; }
bench_push bench/log log-1
wait "$spid" || { echo "log: sampling failed" >&2; exit 1; }
read -r kmax wmax khwm whwm <"$d/peaks"
tck=$(getconf CLK_TCK)
echo "CPU during the run (both jobs, $((2 * mb)) MiB): kilnd $(( ($(cpu "$kpid") - kcpu0) * 1000 / tck )) ms, worker $(( ($(cpu "$wpid") - wcpu0) * 1000 / tck )) ms"
# Two more runs, unsampled, each from the same clean page cache state: the
# step's time is the best of the three, as the bare command's is.
for k in 2 3; do
	sync
	bench_push bench/log "log-$k"
	bench_wait_run state 120 || { echo "log: run $k did not complete in 120 s" >&2; exit 1; }
done
bad=$(q "SELECT count(*) FROM jobs WHERE conclusion IS DISTINCT FROM 'success'")
[ "$bad" = 0 ] || { echo "log: $bad job(s) did not succeed" >&2; exit 1; }
for job in zeros random; do
	read -r id concl secs jsecs < <(q "SELECT j.id, j.conclusion, extract(epoch FROM s.completed_at - s.started_at) AS t, extract(epoch FROM j.completed_at - j.started_at) FROM jobs j JOIN steps s ON s.job_id = j.id WHERE j.job_key = '$job' AND s.name LIKE 'Run %' ORDER BY t LIMIT 1" | tr '|' ' ')
	[ "$concl" = success ] || { echo "log: job $job concluded '$concl'" >&2; exit 1; }
	f=$(find "$d/state" -name "$id.log" | head -1)
	size=$(stat -c %s "$f")
	want=$((mb * 1048576))
	# Each CR LF is stored as LF (a lone CR ends a line as LF too).
	[ "$job" = random ] && want=$((want - $(python3 -c 'import sys; print(open(sys.argv[1], "rb").read().count(b"\r\n"))' "$d/random.bin")))
	[ "$size" -ge "$want" ] || { echo "log: job $job stored $size bytes, fewer than the $want expected" >&2; exit 1; }
	# The bare command's best of three (each from a clean page cache
	# state): its time swings 3x with writeback on this VM.
	bare=
	for _ in 1 2 3; do
		sync
		t0=$(date +%s.%N)
		if [ "$job" = random ]; then cat "$d/random.bin"; else head -c "${mb}M" /dev/zero; fi >"$(dirname "$f")/bare.out"
		t1=$(date +%s.%N)
		rm -f "$(dirname "$f")/bare.out"
		bare=$(awk -v a="$bare" -v t0="$t0" -v t1="$t1" 'BEGIN { t = t1 - t0; print (a == "" || t < a) ? t : a }')
	done
	# The floor of any runner that reads what a step writes: the same
	# bytes through a pipe into one reader that writes them to a file.
	floor=
	for _ in 1 2 3; do
		sync
		t0=$(date +%s.%N)
		if [ "$job" = random ]; then cat "$d/random.bin"; else head -c "${mb}M" /dev/zero; fi | cat >"$(dirname "$f")/bare.out"
		t1=$(date +%s.%N)
		rm -f "$(dirname "$f")/bare.out"
		floor=$(awk -v a="$floor" -v t0="$t0" -v t1="$t1" 'BEGIN { t = t1 - t0; print (a == "" || t < a) ? t : a }')
	done
	awk -v j="$job" -v s="$secs" -v js="$jsecs" -v b="$bare" -v fl="$floor" -v mb="$mb" -v sz="$size" 'BEGIN {
	    printf "%s: %d MiB: step (best of 3 runs) %.3f s, whole job %.3f s (%d bytes stored); bare command to a file (best of 3): %.3f s; step/bare %.2f\n",
	    j, mb, s, js, sz, b, s / b
	    printf "%s: floor, the same bytes piped through cat into a file (best of 3): %.3f s, %.2f x bare; step/floor %.2f\n",
	    j, fl, fl / b, s / fl }'
done
awk -v k="$kmax" -v w="$wmax" -v kh="$khwm" -v wh="$whwm" 'BEGIN { printf "peak RSS while logging: kilnd %.1f MiB, worker %.1f MiB (target 16 MiB each); their VmHWM over the run, between samples too: %.1f and %.1f MiB\n", k / 1024, w / 1024, kh / 1024, wh / 1024 }'
pct "$d/healthz" "baseline GET /healthz before the run"
pct "$d/api" "GET /api/v1/runs during the run"
