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
	log="$build/node/npm-install.log"
	if ! PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit \
	    --no-fund --prefix "$build/node" playwright-core >"$log" 2>&1; then
		cat "$log" >&2
		# Only an unreachable registry (no network, or a TLS proxy
		# whose CA this host does not trust) is a skip, and a loud
		# one; any other failure fails the tests.
		if grep -Eq 'SELF_SIGNED_CERT|UNABLE_TO_(GET|VERIFY)|CERT_|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT' "$log"; then
			reason=$(grep -Eo 'SELF_SIGNED_CERT[A-Z_]*|UNABLE_TO_[A-Z_]*|CERT_[A-Z_]*|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT' "$log" | head -n 1)
			cat >&2 <<-EOF
			check-browser: SKIPPED, NOT PASSED: the npm registry could not
			  be reached to install playwright-core ($reason), so the
			  browser tests did not run.  Behind a TLS-intercepting proxy,
			  give npm its CA (npm config set cafile FILE, or
			  NODE_EXTRA_CA_CERTS=FILE) and run: make check-browser
			EOF
			echo "SKIPPED ($reason)" >"$build/node/browser-skipped"
			exit 0
		fi
		exit 1
	fi
fi
rm -f "$build/node/browser-skipped"
# An ES module finds node_modules next to itself.
cp "$here/web.mjs" "$build/node/web.mjs"
KILN_CHROMIUM=$chromium exec node "$build/node/web.mjs" "$build/bin" \
    "$build/screenshots"
