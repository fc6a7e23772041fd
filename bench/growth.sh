#!/usr/bin/env bash
# bench/growth.sh [SIZES] [PUSHES] [BINDIR]: planning cost over a long
# history of one workflow file.  For each size N in SIZES (default
# "0 10000 100000") a fresh kilnd (one worker) gets N runs of the workflow
# inserted directly (its counter row set to match, as planning would have
# left it), then PUSHES signed push webhooks (default 20) delivered one at
# a time, each waiting for its run to complete.  Prints per size:
#   - planning: event stored -> run row inserted (p50/p90, ms), from
#     PostgreSQL's clock_timestamp() recorded by a trigger of this
#     benchmark's own on runs (the run's created_at is its transaction's
#     start, before the run number is taken); the first push, which
#     clones the mirror, is left out;
#   - next run number: the counter's upsert (what the planner does) beside
#     the max(run_number) scan it replaced (the baseline), each timed in a
#     transaction rolled back, median of 20.
# Bounded: fixed counts, each wait at most 30 s; loopback only.
set -euo pipefail
sizes=${1:-0 10000 100000}
pushes=${2:-20}
bin=${3:-$(dirname "$0")/../build/bin}
bin=$(cd "$bin" && pwd)
cd "$(dirname "$0")/.."
. bench/lib.sh

wf=.github/workflows/t.yml
for n in $sizes; do
	bench_kilnd_up "$bin" '[workers]\ncount = 1\n'
	q() { psql -X -q -tA -v ON_ERROR_STOP=1 -h "$d/state/pg/run" -U kiln -d kiln -c "$1"; }
	bench_repo_new "$bin" "$d/kiln.conf" bench/growth
	repo=$(q "SELECT id FROM repositories WHERE full_name = 'bench/growth'")
	if [ "$n" -gt 0 ]; then
		ev=$(q "INSERT INTO events (repository_id, event, payload, status) VALUES ($repo, 'push', '{}', 'completed') RETURNING id")
		q "INSERT INTO runs (event_id, repository_id, run_number, name, path, event, head_sha, head_branch, ref, workflow_source, status, conclusion, created_at, started_at, completed_at) SELECT $ev, $repo, g, 't', '$wf', 'push', md5(g::text) || 'abcdefgh', 'main', 'refs/heads/main', 'on: push', 'completed', 'success', now(), now(), now() FROM generate_series(1, $n) g" >/dev/null
		q "INSERT INTO run_counters (repository_id, path, last_number) VALUES ($repo, '$wf', $n)" >/dev/null
		q "ANALYZE runs" >/dev/null
	fi
	q "CREATE TABLE bench_planned (run_id bigint, at timestamptz);
	   CREATE FUNCTION bench_note() RETURNS trigger LANGUAGE plpgsql AS
	   \$\$ BEGIN INSERT INTO bench_planned VALUES (NEW.id, clock_timestamp()); RETURN NEW; END \$\$;
	   CREATE TRIGGER bench_note AFTER INSERT ON runs FOR EACH ROW EXECUTE FUNCTION bench_note()" >/dev/null
	for i in $(seq 1 "$pushes"); do
		bench_push bench/growth "growth-$n-$i"
		bench_wait_run state 30 || { echo "growth: push $i at $n runs did not complete" >&2; cat "$d/kilnd.log" >&2; exit 1; }
	done
	last=$(q "SELECT max(run_number) FROM runs WHERE repository_id = $repo AND path = '$wf'")
	[ "$last" -eq $((n + pushes)) ] || { echo "growth: last run number $last, expected $((n + pushes))" >&2; exit 1; }
	plan=$(q "SELECT 'p50 ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) || ' ms, p90 ' ||
	    round(percentile_cont(0.9) WITHIN GROUP (ORDER BY ms)::numeric, 2) || ' ms'
	    FROM (SELECT extract(epoch FROM b.at - e.created_at) * 1000 AS ms
	    FROM bench_planned b JOIN runs r ON r.id = b.run_id JOIN events e ON e.id = r.event_id
	    WHERE r.run_number > $n + 1) x")
	# The statements alone, 20 times each, in transactions rolled back.
	timing() {	# timing SQL: median ms of 20
		for _ in $(seq 1 20); do
			psql -X -q -v ON_ERROR_STOP=1 -h "$d/state/pg/run" -U kiln -d kiln \
			    -c '\timing on' -c "BEGIN" -c "$1" -c "ROLLBACK" |
			    sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sed -n 2p
		done | sort -n | sed -n 10p
	}
	ctr=$(timing "INSERT INTO run_counters (repository_id, path, last_number) VALUES ($repo, '$wf', 1) ON CONFLICT (repository_id, path) DO UPDATE SET last_number = run_counters.last_number + 1 RETURNING last_number")
	scan=$(timing "SELECT coalesce(max(run_number), 0) + 1 FROM runs WHERE repository_id = $repo AND path = '$wf'")
	printf '%7d runs: planning (event -> run row) %s; next number: counter %s ms, max() scan (baseline) %s ms\n' \
	    "$n" "$plan" "$ctr" "$scan"
	kill "$kpid" 2>/dev/null; wait "$kpid" 2>/dev/null || true
	rm -rf "$d"
	trap - EXIT
done
