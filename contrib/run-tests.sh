#!/usr/bin/env bash
# Run kiln's whole test suite from a clean clone: install what is missing,
# build with warnings as errors, then unit and integration tests (which
# start their own PostgreSQL clusters, git repositories, kilnd and workers).
set -euo pipefail
cd "$(dirname "$0")/.."
. contrib/deps.sh

kiln_install_deps
KILN_RECONFIGURE=1 kiln_build --enable-werror
make check
