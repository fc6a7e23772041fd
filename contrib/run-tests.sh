#!/usr/bin/env bash
# Run kiln's whole test suite from a clean clone: install what is missing,
# build with warnings as errors, then unit and integration tests (which
# start their own PostgreSQL clusters, git repositories, kilnd and workers),
# then the fault-injection soak's short form (make soak-quick), then the
# status page in headless Chromium (make check-browser), then all of it
# again built with AddressSanitizer and UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
. contrib/deps.sh

kiln_install_deps
KILN_RECONFIGURE=1 kiln_build --enable-werror
make check
make soak-quick
make bench-quick
make check-browser
make -j"$(nproc)" SANITIZE=1 B=build-asan all >/dev/null
make check-asan
if [ -f build/soak/not-run ]; then
	echo "run-tests: the soak did NOT RUN these faults (not passed):" \
	    "$(cat build/soak/not-run)" >&2
fi
if [ -f build/node/browser-skipped ]; then
	echo "run-tests: everything passed EXCEPT the browser tests, which were" \
	    "$(cat build/node/browser-skipped): see check-browser above" >&2
fi
