#!/usr/bin/env bash
# bench/mirror.sh [PUSHES] [BUILDDIR]: a mirror over many pushes
# (bench/mirror.c): each push to a file:// repository is fetched into the
# worker's mirror and its workflows read, as planning does; the medians of
# the last 20 pushes beside those of the first 20 (the baseline) show
# whether fetching and reading stay flat as the pushes add up.  Default
# 600 pushes.  Bounded: PUSHES iterations; no network.
set -euo pipefail
n=${1:-600}
b=${2:-build}
cd "$(dirname "$0")/.."
d=$(mktemp -d /tmp/kiln-bench-mirror.XXXXXX)
trap 'rm -rf "$d"' EXIT
# shellcheck disable=SC2046
${CC:-cc} -O2 -g -std=gnu11 -D_GNU_SOURCE -Icommon -Iworker -o "$d/mirror" \
    bench/mirror.c "$b/obj/worker/mirror.o" "$b/libkiln.a" \
    $(pkg-config --libs libgit2) -lm
git init -q --bare -b main "$d/r.git"
git init -q -b main "$d/w"
mkdir -p "$d/w/.github/workflows"
printf 'on: push\njobs:\n  t:\n    runs-on: self-hosted\n    steps:\n      - run: "true"\n' >"$d/w/.github/workflows/t.yml"
echo "== $n pushes, each fetched into the mirror and its workflows read"
"$d/mirror" "$d" "$n"
