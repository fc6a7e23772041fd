#!/usr/bin/env bash
# bench/all.sh [--quick] [BINDIR]: every benchmark in bench/, each printing
# its figure beside its baseline measured in the same run.  The full form
# (`make bench`, minutes) appends its output with the date, commit and
# machine to bench/RESULTS.md; --quick (`make bench-quick`, run by
# contrib/run-tests.sh) runs each with tiny counts only to check that the
# benchmarks still work: it asserts nothing about speed and records nothing.
set -euo pipefail
quick=0
[ "${1:-}" = --quick ] && { quick=1; shift; }
bin=${1:-$(dirname "$0")/../build/bin}
bin=$(cd "$bin" && pwd)
cd "$(dirname "$0")/.."
out=$(mktemp /tmp/kiln-bench-all.XXXXXX)
trap 'rm -f "$out"' EXIT

run() {	# run TITLE COMMAND...: its output to the terminal and to $out
	local title=$1
	shift
	printf '\n### %s\n\n```\n' "$title" >>"$out"
	echo "== $title"
	if ! "$@" 2>&1 | tee -a "$out"; then
		echo "bench: $title failed" >&2
		exit 1
	fi
	printf '```\n' >>"$out"
}

if [ "$quick" = 1 ]; then
	run "intake and latency (bench/webhook.sh)" \
	    env KILN_BENCH_PUSHES=2 KILN_BENCH_COLD=1 bench/webhook.sh 1 2
	run "intake memory (bench/webhook_rss.sh)" bench/webhook_rss.sh 1 "$bin"
	run "run list (bench/runlist.sh)" bench/runlist.sh 100 3 "$bin"
	run "growth (bench/growth.sh)" bench/growth.sh "0 100" 2 "$bin"
	run "throughput (bench/matrix.sh)" bench/matrix.sh 4 2 "$bin"
	run "throughput, pushes (bench/pushes.sh)" bench/pushes.sh 3 2 "$bin"
	run "idle (bench/idle.sh)" bench/idle.sh 2 "$bin"
	run "log (bench/log.sh)" bench/log.sh 2 "$bin"
	run "log path CPU (bench/logcpu.sh)" bench/logcpu.sh 1 "$bin/.."
	run "mirror over many pushes (bench/mirror.sh)" bench/mirror.sh 40 "$bin/.."
	run "outbox burst (bench/outbox.sh)" env KILN_BENCH_BIN="$bin" \
	    bench/outbox.sh 5 2 10 1 1
	echo "bench-quick: every benchmark ran (figures not judged)"
	exit 0
fi
run "intake and latency, 16 connections (bench/webhook.sh 10 16)" \
    bench/webhook.sh 10 16
run "intake, 1 connection (bench/webhook.sh 5 1)" \
    env KILN_BENCH_PUSHES=1 KILN_BENCH_COLD=0 bench/webhook.sh 5 1
run "intake, 64 connections (bench/webhook.sh 5 64)" \
    env KILN_BENCH_PUSHES=1 KILN_BENCH_COLD=0 bench/webhook.sh 5 64
run "intake memory (bench/webhook_rss.sh 8)" bench/webhook_rss.sh 8 "$bin"
run "run list (bench/runlist.sh 10000 300)" bench/runlist.sh 10000 300 "$bin"
run "growth (bench/growth.sh)" bench/growth.sh "0 10000 100000" 20 "$bin"
run "throughput, 2 workers (bench/matrix.sh 200 2)" bench/matrix.sh 200 2 "$bin"
run "throughput, 8 workers (bench/matrix.sh 200 8)" bench/matrix.sh 200 8 "$bin"
run "throughput, 200 pushes, 2 workers (bench/pushes.sh 200 2)" bench/pushes.sh 200 2 "$bin"
run "throughput, 200 pushes, 8 workers (bench/pushes.sh 200 8)" bench/pushes.sh 200 8 "$bin"
run "idle (bench/idle.sh 2)" bench/idle.sh 2 "$bin"
run "log, 200 MiB (bench/log.sh 200)" bench/log.sh 200 "$bin"
run "log path CPU, 8 MiB (bench/logcpu.sh 8)" bench/logcpu.sh 8 "$bin/.."
run "mirror over 600 pushes (bench/mirror.sh 600)" bench/mirror.sh 600 "$bin/.."
run "outbox burst, 1,000 states, 5 rounds (bench/outbox.sh 100 5 50 5 5)" \
    env KILN_BENCH_BIN="$bin" bench/outbox.sh 100 5 50 5 5
{
	printf '\n## make bench, %s, commit %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" \
	    "$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (modified)')"
	printf 'Machine: %s, %s cores, %s MiB, %s; load average at start %s.\n' \
	    "$(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -1)" "$(nproc)" \
	    "$(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)" \
	    "$(uname -sr)" "$(cut -d' ' -f1-3 /proc/loadavg)"
	cat "$out"
} >>bench/RESULTS.md
echo "bench: results appended to bench/RESULTS.md"
