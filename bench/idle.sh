#!/usr/bin/env bash
# bench/idle.sh [WORKERS] [BINDIR]: memory of a freshly started install at
# rest: kilnd with WORKERS workers (default 2) and its embedded PostgreSQL,
# once every worker has registered and parked.  Prints RSS and PSS of every process
# under kilnd (from /proc: VmRSS, smaps_rollup's Pss and USS, its
# Private_Clean + Private_Dirty, which other processes do not change: the
# figure to compare on a shared box) and the install's
# total PSS; the baseline is a bare `sleep` started meanwhile (the floor
# of any process on this machine).  Bounded: 60 s waits; loopback only.
set -euo pipefail
nw=${1:-2}
bin=${2:-$(dirname "$0")/../build/bin}
bin=$(cd "$bin" && pwd)
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_kilnd_up "$bin" "[workers]\ncount = $nw\n"
q() { psql -X -q -tA -v ON_ERROR_STOP=1 -h "$d/state/pg/run" -U kiln -d kiln -c "$1"; }
for _ in $(seq 1 600); do
	[ "$(q 'SELECT count(*) FROM workers')" -ge "$nw" ] && break
	sleep 0.1
done
[ "$(q 'SELECT count(*) FROM workers')" -ge "$nw" ] ||
    { echo "idle: $nw workers did not register" >&2; exit 1; }
# The placeholder repository bench_kilnd_up registers names no repository:
# its first fetch fails and is retried for 90 s.  Removed (its events go
# with it), so that what is measured is an install with nothing to do.
"$bin/cictl" -c "$d/kiln.conf" repo rm bench/repo >/dev/null
# At rest: the workers park ([workers] park_seconds, default 10 s) and
# close their database sessions, kilnd closes its query sessions (10 s
# unused; with nothing in flight its reaper ticks once a minute) and keeps
# the one that only LISTENs; wait for that (40 s at most).
parked=no
for _ in $(seq 1 400); do
	[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")" -le 1 ] &&
	    { parked=yes; break; }
	sleep 0.1
done
echo "at rest (workers parked, kilnd on one connection): $parked"
sleep 1000 &
spid=$!
kb() { awk -v k="$2:" '$1 == k { print $2 }' "$1"; }
row() {	# row PID: name rss pss uss (KiB)
	local c
	c=$(tr '\0' ' ' <"/proc/$1/cmdline" | cut -c1-60)
	printf '%-62s %8s %8s %8s\n' "$c" "$(kb "/proc/$1/status" VmRSS)" \
	    "$(kb "/proc/$1/smaps_rollup" Pss)" \
	    "$(( $(kb "/proc/$1/smaps_rollup" Private_Clean) + \
	    $(kb "/proc/$1/smaps_rollup" Private_Dirty) ))"
}
procs() {	# kilnd and all its descendants
	local p=$1 c
	echo "$p"
	for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do procs "$c"; done
}
printf '%-62s %8s %8s %8s\n' process "RSS KiB" "PSS KiB" "USS KiB"
total=0 utotal=0
for p in $(procs "$kpid"); do
	[ -r "/proc/$p/smaps_rollup" ] || continue
	row "$p"
	total=$((total + $(kb "/proc/$p/smaps_rollup" Pss)))
	utotal=$((utotal + $(kb "/proc/$p/smaps_rollup" Private_Clean) +
	    $(kb "/proc/$p/smaps_rollup" Private_Dirty)))
done
row "$spid" | sed 's/^sleep 1000 /sleep (baseline)/'
kill "$spid"; wait "$spid" 2>/dev/null || true
q "SELECT application_name, state, round(extract(epoch FROM now() - backend_start)) || ' s old' FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()" | sed "s/^/session: /"
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
echo "install total PSS: $(mib "$total") MiB (target 32 MiB), USS $(mib "$utotal") MiB; kilnd RSS: $(mib "$(kb "/proc/$kpid/status" VmRSS)") MiB (target 8 MiB)"
