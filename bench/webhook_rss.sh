#!/usr/bin/env bash
# Webhook intake memory: kilnd's peak resident set (VmHWM) after N
# concurrent 20 MiB signed push deliveries, against its peak after start-up
# and one small delivery as the baseline in the same run.  Each delivery's
# status is counted (202 stored, 503 refused over webhook_queue_bytes).
# Bounded: N requests, one 120 s curl timeout each; loopback only.
#
#   bench/webhook_rss.sh [N] [BINDIR]     (default 8, build/bin)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-8}
bin=${2:-$PWD/build/bin}
. bench/lib.sh
bench_kilnd_up "$bin" '[workers]\ncount = 0\n'
sha=0123456789abcdef0123456789abcdef01234567
head="{\"ref\":\"refs/heads/main\",\"before\":\"0000000000000000000000000000000000000000\",\"after\":\"$sha\",\"repository\":{\"full_name\":\"bench/repo\"}"
hwm() { awk '/VmHWM/ { print $2 }' "/proc/$kpid/status"; }
post() {	# post FILE DELIVERY -> status
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 120 \
	    -H 'X-GitHub-Event: push' -H "X-GitHub-Delivery: $2" \
	    -H 'Content-Type: application/json' \
	    -H "X-Hub-Signature-256: sha256=$(openssl dgst -sha256 -hmac benchsecret -r <"$1" | cut -d' ' -f1)" \
	    --data-binary "@$1" "http://127.0.0.1:$port/hooks/github"
}
printf '%s}' "$head" >"$d/small.json"
post "$d/small.json" small >/dev/null
base=$(hwm)
{ printf '%s,"padding":"' "$head"; head -c $((20 * 1024 * 1024 - 300)) /dev/zero | tr '\0' x; printf '"}'; } >"$d/big.json"
pids=()
for i in $(seq 1 "$n"); do post "$d/big.json" "big-$i" >"$d/status.$i" & pids+=($!); done
wait "${pids[@]}"
peak=$(hwm)
echo "kilnd $("$bin/kilnd" -V 2>/dev/null || true) from $bin"
echo "baseline VmHWM after start-up and one small delivery: $((base / 1024)) MiB"
echo "VmHWM after $n concurrent 20 MiB deliveries: $((peak / 1024)) MiB (+$(((peak - base) / 1024)) MiB, $(((peak - base) / 1024 / n)) MiB a delivery)"
echo "answers: $(cat "$d"/status.* | sort | uniq -c | tr -s ' \n' ' ')"
echo "events stored: $(psql "host=$d/state/pg/run dbname=kiln user=kiln" -Atc "select count(*) from events")"
