#!/bin/sh
# make check-browser: the status page in headless Chromium.  Debian's
# chromium drives it (no browser download); playwright-core comes from the
# npm registry into BUILD/node once.  Usage: run.sh BUILD_DIR
set -eu
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
chromium=${KILN_CHROMIUM:-/usr/bin/chromium}
for tool in node npm "$chromium"; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "check-browser: $tool is missing (contrib/deps.sh installs" \
		    "chromium, nodejs and npm)" >&2
		exit 1
	}
done
mkdir -p "$build/node"
if [ ! -f "$build/node/node_modules/playwright-core/package.json" ]; then
	echo "check-browser: installing playwright-core into $build/node"
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund \
	    --prefix "$build/node" playwright-core >/dev/null
fi
# An ES module finds node_modules next to itself.
cp "$here/web.mjs" "$build/node/web.mjs"
KILN_CHROMIUM=$chromium exec node "$build/node/web.mjs" "$build/bin" \
    "$build/screenshots"
