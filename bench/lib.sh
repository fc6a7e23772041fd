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
