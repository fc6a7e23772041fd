#!/usr/bin/env bash
# bench/logcpu.sh [MB] [BUILDDIR]: instructions per MiB of the worker's
# log path (bench/logcpu.c: line splitting, workflow commands, masks) for
# zeros and random bytes, beside memcpy of the same bytes, counted by
# callgrind (valgrind): repeatable on a loaded box.  Default 8 MiB.
set -euo pipefail
mb=${1:-8}
b=${2:-build}
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "logcpu: needs valgrind" >&2; exit 1; }
exe=$(mktemp /tmp/kiln-logcpu.XXXXXX)
trap 'rm -f "$exe" "$exe".cg' EXIT
# shellcheck disable=SC2046
${CC:-cc} -O2 -g -std=gnu11 -D_GNU_SOURCE -Icommon -o "$exe" bench/logcpu.c \
    "$b/libkiln.a" $(pkg-config --libs jansson libutf8proc) -lcrypto -lm
count() {	# count MODE MIB: instructions of one run
	valgrind --tool=callgrind --callgrind-out-file="$exe.cg" "$exe" "$1" "$2" >/dev/null 2>&1
	awk '/^summary:/ { print $2 }' "$exe.cg"
}
ir() {	# ir MODE: millions of instructions per MiB, start-up subtracted
	awk -v a="$(count "$1" "$mb")" -v b="$(count "$1" 0)" -v mb="$mb" \
	    'BEGIN { printf "%.2f", (a - b) / mb / 1e6 }'
}
base=$(ir memcpy)
for m in zeros random; do
	echo "$m: $(ir "$m") M instructions per MiB; baseline memcpy of the same bytes: $base M"
done
