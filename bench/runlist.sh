#!/bin/sh
# bench/runlist.sh [RUNS] [REQUESTS] [BINDIR]: the run list's latency over a
# long history.  kilnd (no workers, [web] access = public) gets RUNS runs
# (default 10,000, one repository, three branches) inserted directly; then
# REQUESTS sequential GETs each of /healthz (the baseline: the same HTTP
# path and one async round trip to PostgreSQL), the first page of
# /api/v1/runs?repo=..., a deep page (?before= the median id) and a
# branch-filtered page.  Prints p50/p95/max in milliseconds.
set -eu
runs=${1:-10000}
n=${2:-300}
bin=${3:-$(dirname "$0")/../build/bin}
bin=$(cd "$bin" && pwd)
. "$(dirname "$0")/lib.sh"
bench_kilnd_up "$bin" '[workers]\ncount = 0\n[web]\naccess = public\n'

q() { psql -X -q -tA -v ON_ERROR_STOP=1 -h "$d/state/pg/run" -U kiln -d kiln -c "$1"; }
ev=$(q "INSERT INTO events (repository_id, event, payload, status) SELECT id, 'push', '{}', 'completed' FROM repositories RETURNING id")
q "INSERT INTO runs (event_id, repository_id, run_number, name, path, event, head_sha, head_branch, ref, workflow_source, status, conclusion, created_at, started_at, completed_at) SELECT $ev, r.id, g, 'ci', '.github/workflows/ci.yml', 'push', md5(g::text) || 'abcdefgh', 'b' || (g % 3), 'refs/heads/b' || (g % 3), 'on: push', 'completed', CASE WHEN g % 7 = 0 THEN 'failure' ELSE 'success' END, now() - (g || ' s')::interval, now() - (g || ' s')::interval, now() - (g || ' s')::interval + interval '30 s' FROM repositories r, generate_series(1, $runs) g" >/dev/null
q "ANALYZE runs" >/dev/null
mid=$(q "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY id) FROM runs")

measure() {	# measure LABEL PATH
	i=0
	: >"$d/times"
	while [ $i -lt "$n" ]; do
		curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port$2" >>"$d/times"
		i=$((i + 1))
	done
	sort -n "$d/times" | awk -v label="$1" '{ t[NR] = $1 * 1000 }
	    END { printf "%-28s p50 %6.2f ms  p95 %6.2f ms  max %6.2f ms  (%d requests)\n",
	    label, t[int(NR * 0.5)], t[int(NR * 0.95)], t[NR], NR }'
}
echo "runs: $runs; kilnd $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo '?')"
measure "healthz (baseline)" "/healthz"
measure "runs, first page (50)" "/api/v1/runs?repo=bench/repo&limit=50"
measure "runs, page at the middle" "/api/v1/runs?repo=bench/repo&limit=50&before=$mid"
measure "runs, branch filter" "/api/v1/runs?repo=bench/repo&branch=b1&limit=50"
