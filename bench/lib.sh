# Shared by the benchmarks (sourced): start kilnd on a free loopback port
# in a fresh directory with CONF_EXTRA appended to its config, wait for
# /healthz (60 s at most), register bench/repo with secret "benchsecret".
# Sets d, port, kpid; an EXIT trap stops kilnd and removes $d.
bench_kilnd_up() {	# bench_kilnd_up BINDIR CONF_EXTRA
	local bin=$1
	d=$(mktemp -d /tmp/kiln-bench.XXXXXX)
	chmod 0755 "$d"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	printf '[server]\nlisten = 127.0.0.1:%s\nstate_dir = %s/state\n%b' "$port" "$d" "$2" >"$d/kiln.conf"
	"$bin/kilnd" -c "$d/kiln.conf" >"$d/kilnd.log" 2>&1 &
	kpid=$!
	trap 'kill $kpid 2>/dev/null; wait $kpid 2>/dev/null; rm -rf "$d"' EXIT
	for _ in $(seq 1 600); do
		curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	printf 'benchsecret' >"$d/secret"
	"$bin/cictl" -c "$d/kiln.conf" repo add bench/repo --url "file://$d/none.git" \
	    --secret-file "$d/secret" >/dev/null
}

# A repository for pushes: bare $d/r.git, work tree $d/w holding a one-step
# workflow .github/workflows/t.yml, registered with kilnd (config CONF) as
# NAME.  Sets before to the null sha.
bench_repo_new() {	# bench_repo_new BINDIR CONF NAME
	git init -q --bare -b main "$d/r.git"
	git init -q -b main "$d/w"
	mkdir -p "$d/w/.github/workflows"
	printf 'on: push\njobs:\n  t:\n    runs-on: self-hosted\n    steps:\n      - run: "true"\n' >"$d/w/.github/workflows/t.yml"
	"$1/cictl" -c "$2" repo add "$3" --url "file://$d/r.git" \
	    --secret-file "$d/secret" >/dev/null
	before=0000000000000000000000000000000000000000
}

# Commit, push to $d/r.git and deliver the signed push webhook for NAME
# (delivery id DELIVERY) to kilnd on $port; sets after to the pushed sha.
bench_push() {	# bench_push NAME DELIVERY
	echo "$2" >"$d/w/n"
	git -C "$d/w" add -A
	git -C "$d/w" -c user.name=b -c user.email=b@b commit -qm "$2"
	git -C "$d/w" push -q "$d/r.git" main
	after=$(git -C "$d/w" rev-parse HEAD)
	bench_deliver "$1" "$2" "$before" "$after"
	before=$after
}

# Deliver the signed push webhook of BEFORE..AFTER on main for NAME
# (delivery id DELIVERY, secret "benchsecret") to kilnd on $port.
bench_deliver() {	# bench_deliver NAME DELIVERY BEFORE AFTER
	local body sig
	body="{\"ref\":\"refs/heads/main\",\"before\":\"$3\",\"after\":\"$4\",\"repository\":{\"full_name\":\"$1\"}}"
	sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac benchsecret -r | cut -d' ' -f1)
	curl -fsS -o /dev/null -H 'X-GitHub-Event: push' -H "X-GitHub-Delivery: $2" \
	    -H "X-Hub-Signature-256: sha256=$sig" --data-binary "$body" \
	    "http://127.0.0.1:$port/hooks/github"
}

# Wait until the run of $after (on kilnd's database under $d/PGDIR) has
# completed, at most SECONDS; 1 on time-out.
bench_wait_run() {	# bench_wait_run PGDIR SECONDS
	bench_wait_sql "$1" "$2" "SELECT r.status = 'completed' FROM runs r JOIN events e ON e.id = r.event_id WHERE e.sha = '$after'"
}

# Wait until QUERY (one boolean) is true on kilnd's database under $d/PGDIR,
# at most SECONDS; 1 on time-out.  One psql session polls every 20 ms from
# a DO block (each statement a fresh snapshot): a psql started per poll
# cost a fifth of the 2-core box, measured against the thing measured.
bench_wait_sql() {	# bench_wait_sql PGDIR SECONDS QUERY
	psql -X -q -tA -h "$d/$1/pg/run" -U kiln -d kiln -v ON_ERROR_STOP=1 \
	    -c "DO \$\$ BEGIN FOR i IN 1..$(($2 * 50)) LOOP
		IF coalesce(($3), false) THEN RETURN; END IF;
		PERFORM pg_sleep(0.02); END LOOP;
		RAISE EXCEPTION 'waited $2 s'; END \$\$" >/dev/null 2>&1
}

# CPU time so far, in clock ticks, of kilnd's process tree grouped as
# "kilnd", "worker" (the kiln-worker processes), "steps" (what workers
# started and reaped: the steps' shells) and "postgres" (the postmaster and
# every backend, with what they reaped): one "GROUP TICKS" line each.
bench_cpu() {	# bench_cpu: of $kpid's tree
	local p
	# A process may end between the glob and the read: skip it (the
	# loop's status must not be a failed cat's, under pipefail).
	for p in /proc/[0-9]*; do
		{ cat "$p/stat" && echo; } 2>/dev/null || :
	done | awk -v root="$kpid" '
	NF > 0 {
		# comm may hold spaces: fields counted after the last ")".
		i = index($0, ") "); pid = $1 + 0
		comm = substr($0, index($0, "(") + 1, i - index($0, "(") - 1)
		n = split(substr($0, i + 2), f, " ")
		ppid[pid] = f[2]; name[pid] = comm
		self[pid] = f[12] + f[13]; kids[pid] = f[14] + f[15]
	}
	END {
		for (pid in ppid) {
			a = pid; inside = 0
			for (depth = 0; depth < 64 && a > 1; depth++) {
				if (a == root) { inside = 1; break }
				a = ppid[a]
			}
			if (!inside) continue
			if (pid == root) t["kilnd"] += self[pid]
			else if (name[pid] ~ /^kiln-worker/) {
				t["worker"] += self[pid]; t["steps"] += kids[pid]
			} else if (name[pid] ~ /^postgres/)
				t["postgres"] += self[pid] + kids[pid]
			else t["other"] += self[pid] + kids[pid]
		}
		for (g in t) print g, t[g]
	}'
}

# Per-job CPU from two bench_cpu outputs: "kilnd 0.12 ms, worker ..., total".
bench_cpu_per_job() {	# bench_cpu_per_job BEFORE AFTER JOBS
	printf '%s\n--\n%s\n' "$1" "$2" | awk -v n="$3" -v hz="$(getconf CLK_TCK)" '
	$0 == "--" { after = 1; next }
	{ if (after) b[$1] = $2; else a[$1] = $2 }
	END {
		split("kilnd worker steps postgres other", order, " ")
		for (k = 1; k <= 5; k++) {
			g = order[k]; ms = (b[g] - a[g]) * 1000 / hz / n
			out = out sprintf("%s%s %.2f ms", out == "" ? "" : ", ", g, ms)
			sum += ms
		}
		printf "CPU per job: %s; total %.2f ms\n", out, sum
	}'
}

# The most trivial jobs per second the steps alone allow here: COUNT runs of
# the step as a worker runs `run: "true"` (`bash -e FILE`, FILE holding
# true), PARALLEL at a time (one per worker), each started with
# posix_spawn() as a worker starts a step (bench/spawn.c).  No CI server
# can run such jobs faster on this machine; what a run costs above it is
# the server's.  Prints one line.
bench_step_ceiling() {	# bench_step_ceiling COUNT PARALLEL
	local out
	echo true >"$d/ceiling.sh"
	${CC:-cc} -O2 -std=gnu11 -o "$d/spawn" bench/spawn.c
	out=$("$d/spawn" "$1" "$2" "$d/ceiling.sh") || { echo "ceiling: bench/spawn failed" >&2; return 1; }
	echo "$out" | awk -v p="$2" '{
	    printf "ceiling: %d runs of the step alone (bash -e on a file holding true, posix_spawn), %d at a time: %.1f per second; the steps alone allow no more jobs/s than this\n", $1, p, $2 }'
}
