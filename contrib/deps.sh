#!/usr/bin/env bash
# Install the Debian packages kiln needs to build, run and test, if missing.
# Sourced by quickstart.sh and run-tests.sh; safe to run again.
# One package per line, grouped by who needs it, so additions merge cleanly.
kiln_deps=(
	# build
	build-essential
	autoconf
	automake
	pkg-config
	# libraries
	libevent-dev
	libyaml-dev
	libgit2-dev
	libpq-dev
	libjansson-dev
	libssl-dev
	libcurl4-openssl-dev
	libutf8proc-dev
	libarchive-dev
	libcmark-gfm-dev
	libcmark-gfm-extensions-dev
	# run time: embedded database, checkouts, the example pipeline
	postgresql
	git
	ca-certificates
	curl
	python3
	# setup-python's interpreters from /usr/bin: venv and ensurepip, as
	# GitHub's tool-cache builds have them (python -m venv in steps)
	python3-venv
	# the example pipeline's pip index (wheels built from these by pip)
	python3-pyflakes
	python3-pycodestyle
	python3-setuptools
	python3-wheel
	# its docker-build job: a base image from the host's Python
	busybox-static
	# tests
	python3-pip
	check
	python3-prometheus-client
	python3-cryptography
	mandoc
	# benchmarks (make bench, make bench-quick)
	wrk
	openssl
	valgrind
	# browser tests of the status page (make check-browser)
	chromium
	nodejs
	npm
	# container jobs, services, docker actions (test_containers builds its
	# image from busybox; runc where crun cannot run: hybrid cgroups)
	podman
	runc
	busybox-static
)

kiln_install_deps() {
	local missing=() p
	for p in "${kiln_deps[@]}"; do
		# Node.js from another repository (NodeSource) ships its own npm
		# and conflicts with Debian's npm: a working command is enough.
		case "$p" in
		nodejs) command -v node >/dev/null && continue ;;
		npm) command -v npm >/dev/null && continue ;;
		esac
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || missing+=("$p")
	done
	if [ "${#missing[@]}" -gt 0 ]; then
		echo "kiln: installing ${missing[*]}"
		if [ "$(id -u)" -ne 0 ]; then
			echo "kiln: need root to install packages (run with sudo)" >&2
			return 1
		fi
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq || return 1
		apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
		    return 1
	fi
	# PostgreSQL refuses to run as root: the embedded cluster runs as kiln.
	if [ "$(id -u)" -eq 0 ] && ! getent passwd kiln >/dev/null; then
		useradd --system --home-dir /var/lib/kiln --no-create-home \
		    --shell /usr/sbin/nologin kiln
	fi
}

kiln_build() {
	[ -x ./configure ] || autoreconf -fi >/dev/null || return 1
	if [ ! -f config.mk ] || [ "${KILN_RECONFIGURE:-0}" = 1 ]; then
		./configure "$@" >/dev/null || return 1
	fi
	make -j"$(nproc)" >/dev/null || { make; return 1; }
}
