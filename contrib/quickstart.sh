#!/usr/bin/env bash
# kiln quick start: install what is missing, build, start kilnd (embedded
# PostgreSQL, two local workers), register the bundled example repository
# and run its pipeline with a real, signed push webhook.
#
# kilnd keeps running afterwards; state lives in ./.quickstart.
#   stop it:   kill "$(cat .quickstart/kilnd.pid)"
# (the example's pip index, contrib/pyindex.py, stops with kilnd).
#
# KILN_GITHUB=fake: kilnd also reports to a stand-in for GitHub's API (the
# tests' fake, tests/fakegh.py, on 127.0.0.1, port + 2) as a GitHub App with
# a key made here, so the run's check runs show in `cictl outbox` and the
# fake's record of the calls; the fake stops with kilnd too.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
. contrib/deps.sh

kiln_install_deps

# The example's tests run on Python 3.11 and 3.12 (actions/setup-python):
# say first what is missing and how to provide it.
missing=()
for v in 3.11 3.12; do
	command -v "python$v" >/dev/null 2>&1 ||
	    compgen -G "${PYENV_ROOT:-$HOME/.pyenv}/versions/$v.*" >/dev/null ||
	    missing+=("$v")
done
if [ "${#missing[@]}" -gt 0 ]; then
	cat <<NOTE
kiln: the example pipeline tests on Python 3.11 and 3.12; this host lacks ${missing[*]}.
  actions/setup-python will download it, as GitHub's runner does, from
  [actions] python_versions_url (GitHub's versions manifest; run with
  KILN_PYTHON_VERSIONS_URL=<manifest URL> to use a mirror).  Where it
  cannot, that leg fails, naming what it searched.  To provide it yourself:
    pyenv install ${missing[0]}        (root's ~/.pyenv is searched), or
    unpack a build of github.com/actions/python-versions into
    <state_dir>/toolcache/Python/<version>/x64 and touch
    <state_dir>/toolcache/Python/<version>/x64.complete
NOTE
fi

kiln_build

qs=$top/.quickstart
mkdir -p "$qs"
chmod 0755 "$qs"
port=${KILN_PORT:-8420}
conf=$qs/kiln.conf
state=$qs/state
# As root, the embedded PostgreSQL runs as "kiln", which must be able to
# reach the state directory; a clone under /root (mode 0700) is not.
if [ "$(id -u)" -eq 0 ] && ! runuser -u kiln -- test -x "$qs" 2>/dev/null; then
	state=/var/lib/kiln-quickstart/state
	mkdir -p "$state"
	chmod 0755 /var/lib/kiln-quickstart "$state"
	echo "kiln: $qs is not reachable by the kiln account; state goes to $state"
fi
cat > "$conf" <<CONF
[server]
listen = 127.0.0.1:$port
state_dir = $state
# Loopback only: the status page without a login (see [web] in etc/kiln.conf).
[web]
access = public
CONF
if [ -n "${KILN_PYTHON_VERSIONS_URL:-}" ]; then
	printf '[actions]\npython_versions_url = %s\n' "$KILN_PYTHON_VERSIONS_URL" >>"$conf"
fi
gh_port=$((port + 2))
if [ "${KILN_GITHUB:-}" = fake ]; then
	# A GitHub App's key, as GitHub would hand it out (PEM, mode 600), and
	# the fake holding its public half to verify kilnd's JWTs.
	mkdir -p "$qs/github"
	[ -s "$qs/github/app.pem" ] ||
	    (umask 077; openssl genrsa -out "$qs/github/app.pem" 2048 2>/dev/null)
	openssl rsa -in "$qs/github/app.pem" -pubout -out "$qs/github/app.pub" 2>/dev/null
	if [ "$(id -u)" -eq 0 ]; then chown kiln "$qs/github/app.pem" 2>/dev/null || true; fi
	cat >>"$conf" <<CONF
[github]
app_id = 1
private_key_file = $qs/github/app.pem
api_url = http://127.0.0.1:$gh_port
public_url = http://127.0.0.1:$port
CONF
elif [ -n "${KILN_GITHUB:-}" ]; then
	echo "kiln: KILN_GITHUB=$KILN_GITHUB: only 'fake' is known" >&2
	exit 2
fi
echo "kiln: state in $state (tool cache $state/toolcache)"

if [ "${KILN_GITHUB:-}" = fake ]; then
	if [ -f "$qs/fakegh.pid" ] && kill -0 "$(cat "$qs/fakegh.pid")" 2>/dev/null; then
		kill "$(cat "$qs/fakegh.pid")"
		sleep 0.5
	fi
	rm -rf "$qs/github/calls"
	nohup /usr/bin/python3 tests/fakegh.py --port "$gh_port" --dir "$qs/github/calls" \
	    --app-id 1 --app-key "$qs/github/app.pub" >"$qs/fakegh.log" 2>&1 &
	echo $! >"$qs/fakegh.pid"
	for _ in $(seq 1 100); do [ -e "$qs/github/calls/ready" ] && break; sleep 0.1; done
	[ -e "$qs/github/calls/ready" ] ||
	    { cat "$qs/fakegh.log"; echo "kiln: the fake GitHub did not start" >&2; exit 1; }
	echo "kiln: fake GitHub API on http://127.0.0.1:$gh_port (pid $(cat "$qs/fakegh.pid"))"
fi
if [ -f "$qs/kilnd.pid" ] && kill -0 "$(cat "$qs/kilnd.pid")" 2>/dev/null; then
	echo "kiln: kilnd already running (pid $(cat "$qs/kilnd.pid"))"
else
	nohup build/bin/kilnd -c "$conf" >"$qs/kilnd.log" 2>&1 &
	echo $! >"$qs/kilnd.pid"
	echo "kiln: started kilnd (pid $!), log in $qs/kilnd.log"
fi
for _ in $(seq 1 600); do
	curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
	kill -0 "$(cat "$qs/kilnd.pid")" 2>/dev/null ||
	    { cat "$qs/kilnd.log"; echo "kiln: kilnd exited" >&2; exit 1; }
	sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null

# The example's pip index: no public one is reachable here, so pip installs
# from wheels built now from Debian's python3-pyflakes/-pycodestyle, served
# (PEP 503) on 127.0.0.1 until kilnd exits (contrib/pyindex.py).
idx_port=${KILN_INDEX_PORT:-$((port + 1))}
/usr/bin/python3 contrib/pyindex.py build "$qs/pyindex" pyflakes pycodestyle
if [ -f "$qs/pyindex.pid" ] && kill -0 "$(cat "$qs/pyindex.pid")" 2>/dev/null; then
	kill "$(cat "$qs/pyindex.pid")"
	sleep 0.5
fi
nohup /usr/bin/python3 contrib/pyindex.py serve "$qs/pyindex" --port "$idx_port" \
    --stop-with "$(cat "$qs/kilnd.pid")" >"$qs/pyindex.log" 2>&1 &
echo $! >"$qs/pyindex.pid"
for _ in $(seq 1 50); do
	curl -fsS "http://127.0.0.1:$idx_port/simple/" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -fsS "http://127.0.0.1:$idx_port/simple/" >/dev/null ||
    { cat "$qs/pyindex.log"; echo "kiln: the pip index did not start" >&2; exit 1; }
echo "kiln: pip index on http://127.0.0.1:$idx_port/simple/ (pid $(cat "$qs/pyindex.pid"))"

# The example repository: a bare repo fed from contrib/example.
repo=$qs/example.git
work=$qs/example-work
rm -rf "$work"
[ -d "$repo" ] || git init -q --bare -b main "$repo"
git init -q -b main "$work"
cp -r contrib/example/. "$work/"
git -C "$work" add -A
git -C "$work" -c user.name=kiln -c user.email=kiln@localhost \
    commit -q -m "kiln example pipeline ($(date -u +%FT%TZ))"
git -C "$work" push -q -f "$repo" main
sha=$(git -C "$work" rev-parse HEAD)

secret_file=$qs/webhook-secret
[ -s "$secret_file" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secret_file"
build/bin/cictl -c "$conf" repo add example/pipeline --url "file://$repo" \
    --secret-file "$secret_file" >/dev/null
# The workflows read their pip index from vars.PIP_INDEX_URL (PyPI when
# unset, as on GitHub); docker-build makes its base image from this host's
# Python (no registry here) and takes the engine options this host needs.
cictl_var() { printf %s "$2" | build/bin/cictl -c "$conf" var set example/pipeline "$1" >/dev/null; }
cictl_var PIP_INDEX_URL "http://127.0.0.1:$idx_port/simple/"
cictl_var PIP_TRUSTED_HOST "127.0.0.1:$idx_port"
cictl_var DOCKER_BASE_IMAGE local
# Where podman runs containers only with vfs storage, cgroupfs and runc
# (hybrid cgroups; no CAP_SYS_RESOURCE for its default rlimits).
podman_eo="--storage-driver vfs --cgroup-manager cgroupfs --runtime runc"
if command -v podman >/dev/null && command -v runc >/dev/null &&
    podman $podman_eo info >/dev/null 2>&1; then
	cictl_var PODMAN_OPTIONS "$podman_eo"
	cictl_var PODMAN_RUN_OPTIONS "--ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
fi

payload=$(printf '{"ref":"refs/heads/main","before":"%s","after":"%s","repository":{"full_name":"example/pipeline","clone_url":"file://%s","default_branch":"main"},"head_commit":{"id":"%s","message":"kiln example"}}' \
    0000000000000000000000000000000000000000 "$sha" "$repo" "$sha")
sig=$(printf '%s' "$payload" | openssl dgst -sha256 -hmac "$(cat "$secret_file")" -r | cut -d' ' -f1)
curl -fsS -X POST "http://127.0.0.1:$port/hooks/github" \
    -H 'Content-Type: application/json' -H 'X-GitHub-Event: push' \
    -H "X-GitHub-Delivery: quickstart-$sha-$(date +%s)" \
    -H "X-Hub-Signature-256: sha256=$sig" --data-binary "$payload" >/dev/null
echo "kiln: pushed $sha and sent a signed webhook; waiting for the run..."

for _ in $(seq 1 3000); do
	# The push starts ci.yml, and mlops.yml and dependency-lock.yml when
	# their files changed: wait for all of them.
	st=$(build/bin/cictl -c "$conf" runs --repo example/pipeline --json |
	    python3 -c 'import json,sys; r=[x for x in json.load(sys.stdin) if x["head_sha"]==sys.argv[1]]; print("completed" if r and all(x["status"] == "completed" for x in r) else "waiting")' "$sha")
	[ "$st" = completed ] && break
	sleep 0.1
done
build/bin/cictl -c "$conf" runs --repo example/pipeline
run=$(build/bin/cictl -c "$conf" runs --repo example/pipeline --json |
    python3 -c 'import json,sys; print([x for x in json.load(sys.stdin) if x["head_sha"]==sys.argv[1] and x["path"].endswith("/ci.yml")][0]["id"])' "$sha")
build/bin/cictl -c "$conf" show "$run"
# Why a job failed, from its log (the ##[error] lines).
build/bin/cictl -c "$conf" show "$run" --json |
    python3 -c 'import json,sys; [print(j["id"], j["name"]) for j in json.load(sys.stdin).get("jobs", []) if j.get("conclusion") == "failure"]' |
    while read -r job name; do
	echo "job $job ($name) failed:"
	{ build/bin/cictl -c "$conf" logs "$job" | grep -F '##[error]' || true; } | sed 's/^/  /'
done
# What the example shows: the Python of each test leg, pip's cache, the
# coverage and model artifacts.
build/bin/cictl -c "$conf" show "$run" --json |
    python3 -c 'import json,sys; [print(j["id"], j["name"]) for j in json.load(sys.stdin).get("jobs", []) if j["name"].startswith("test")]' |
    while read -r job name; do
	{ build/bin/cictl -c "$conf" logs "$job" | grep -E '^(Python 3\.|pip cache hit=)' || true; } | sed "s/^/  $name: /"
done
build/bin/cictl -c "$conf" artifacts "$run"
build/bin/cictl -c "$conf" schedules --repo example/pipeline
if [ "${KILN_GITHUB:-}" = fake ]; then
	# The fake stops with kilnd.
	( while kill -0 "$(cat "$qs/kilnd.pid")" 2>/dev/null; do sleep 2; done
	  kill "$(cat "$qs/fakegh.pid")" 2>/dev/null ) >/dev/null 2>&1 &
	# Every job's check run, created then completed: wait for the outbox
	# to drain (30 s at most), then show what was sent.
	for _ in $(seq 1 300); do
		build/bin/cictl -c "$conf" outbox --json | python3 -c 'import json,sys; sys.exit(0 if not any(c["status"] == "pending" for c in json.load(sys.stdin)) else 1)' && break
		sleep 0.1
	done
	echo "kiln: what went to the fake GitHub (cictl outbox):"
	build/bin/cictl -c "$conf" outbox | head -40
	echo "kiln: the fake recorded $(wc -l <"$qs/github/calls/calls.jsonl") calls in $qs/github/calls/calls.jsonl"
fi
cat <<MSG

kilnd is running on http://127.0.0.1:$port (webhooks: POST /hooks/github).
  page:   http://127.0.0.1:$port/runs/$run  (this run; / lists everything)
  cictl:  build/bin/cictl -c $conf runs
  logs:   build/bin/cictl -c $conf logs JOB_ID
  by hand: build/bin/cictl -c $conf dispatch example/pipeline mlops.yml -f model=perceptron
  cron:   build/bin/cictl -c $conf schedules
  by hand: build/bin/cictl -c $conf dispatch example/pipeline dependency-lock.yml
  stop:   kill \$(cat $qs/kilnd.pid)   (the pip index on port $idx_port stops with it)
MSG
