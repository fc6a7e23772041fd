# kiln — top-level Makefile (hand-written; ./configure writes config.mk).
#
#   ./configure [--enable-werror] [--enable-asan] && make && make check
#   make install DESTDIR=/tmp/stage
#
# Sources are found by wildcard: a new common/foo.c joins libkiln, a new
# tests/unit/test_foo.c becomes a unit-test program, with no edit here.

-include config.mk
ifeq ($(wildcard config.mk),)
$(error config.mk is missing: run ./configure first (autoreconf -fi if ./configure is missing))
endif

B := build
VERSION := 0.1.0

ALL_CFLAGS = $(KILN_CFLAGS) $(KILN_OPT) $(CFLAGS) $(LIB_CFLAGS) -D_GNU_SOURCE -Icommon -I$(B)/gen \
	-DKILN_VERSION=\"$(VERSION)\" -DKILN_SYSCONFDIR=\"$(sysconfdir)\" \
	-DKILN_LOCALSTATEDIR=\"$(localstatedir)\" -DKILN_BINDIR=\"$(bindir)\" -MMD -MP
ALL_LDFLAGS = $(KILN_LDFLAGS) $(LDFLAGS)

# make SANITIZE=1 B=build-asan ...: AddressSanitizer + UBSan, any report fatal.
ifeq ($(SANITIZE),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
ALL_CFLAGS += $(SAN_FLAGS)
ALL_LDFLAGS += $(SAN_FLAGS)
endif
LIBS_ALL = $(LIBEVENT_LIBS) $(YAML_LIBS) $(LIBGIT2_LIBS) $(LIBPQ_LIBS) $(JANSSON_LIBS) \
	$(LIBCRYPTO_LIBS) $(LIBCURL_LIBS) $(UTF8PROC_LIBS) $(LIBARCHIVE_LIBS) -lm
# The worker opens libarchive with dlopen (worker/actions/archive_dl.c):
# linked, every worker would map it and what it brings.
LIBS_WORKER = $(filter-out $(LIBARCHIVE_LIBS),$(LIBS_ALL))
# kilnd opens libcurl the same way when [github] reporting starts
# (daemon/curl_dl.c).
LIBS_DAEMON = $(filter-out $(LIBARCHIVE_LIBS) $(LIBCURL_LIBS),$(LIBS_ALL))

COMMON_SRC := $(sort $(wildcard common/*.c))
DAEMON_SRC := $(sort $(wildcard daemon/*.c))
WORKER_SRC := $(sort $(wildcard worker/*.c worker/actions/*.c))
CICTL_SRC  := $(sort $(wildcard cictl/*.c))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
ITEST_SRC  := $(sort $(wildcard tests/integration/test_*.c))
THELP_SRC  := $(sort $(wildcard tests/lib/*.c))
SQL_FILES  := $(sort $(wildcard sql/*.sql))
WEB_FILES  := $(sort $(wildcard web/*.html web/*.css web/*.js))

GEN_SRC := $(B)/gen/embed_sql.c
COMMON_OBJ := $(COMMON_SRC:%.c=$(B)/obj/%.o) $(B)/obj/gen/embed_sql.o
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(B)/obj/%.o) $(B)/obj/gen/embed_web.o
WORKER_OBJ := $(WORKER_SRC:%.c=$(B)/obj/%.o)
CICTL_OBJ  := $(CICTL_SRC:%.c=$(B)/obj/%.o)
THELP_OBJ  := $(THELP_SRC:%.c=$(B)/obj/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
ITEST_BIN  := $(ITEST_SRC:tests/integration/%.c=$(B)/itests/%)

LIBKILN := $(B)/libkiln.a
BINS := $(B)/bin/kilnd $(B)/bin/kiln-worker $(B)/bin/cictl

.PHONY: all check check-unit check-integration check-asan check-browser check-man check-completion install clean \
	distclean dist distcheck
# Objects of chained pattern rules are not throw-away intermediates.
.SECONDARY:
all: $(BINS)

$(B)/gen/embed_sql.c: $(SQL_FILES) build-aux/embed.awk
	@mkdir -p $(@D)
	awk -v sym=embed_sql -f build-aux/embed.awk $(SQL_FILES) > $@.tmp && mv $@.tmp $@

$(B)/gen/embed_web.c: $(WEB_FILES) build-aux/embed.awk
	@mkdir -p $(@D)
	awk -v sym=embed_web -f build-aux/embed.awk $(WEB_FILES) > $@.tmp && mv $@.tmp $@

# Each program sees its own internal headers; common/ sees only itself.
$(B)/obj/daemon/%.o: ALL_CFLAGS += -Idaemon
$(B)/obj/worker/%.o: ALL_CFLAGS += -Iworker
$(B)/obj/cictl/%.o: ALL_CFLAGS += -Icictl

$(B)/obj/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/obj/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Itests/lib -Idaemon -Iworker -Icictl -c -o $@ $<

$(LIBKILN): $(COMMON_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(B)/bin/kilnd: $(DAEMON_OBJ) $(LIBKILN)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $(DAEMON_OBJ) $(LIBKILN) $(LIBS_DAEMON) $(CMARK_LIBS)

$(B)/bin/kiln-worker: $(WORKER_OBJ) $(LIBKILN)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $(WORKER_OBJ) $(LIBKILN) $(LIBS_WORKER)

$(B)/bin/cictl: $(CICTL_OBJ) $(LIBKILN)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $(CICTL_OBJ) $(LIBKILN) $(LIBS_ALL)

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(THELP_OBJ) $(LIBKILN)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(THELP_OBJ) $(LIBKILN) $(LIBS_ALL) $(CHECK_LIBS)

$(B)/itests/%: $(B)/obj/tests/integration/%.o $(THELP_OBJ) $(LIBKILN)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(THELP_OBJ) $(LIBKILN) $(LIBS_ALL) $(CHECK_LIBS)

# The GitHub expression vectors live outside the product; tests read their
# folder from KILN_CONFORMANCE_DIR and say loudly when it is absent.
CONFORMANCE_DIR ?= $(wildcard $(CURDIR)/../shared/conformance/github-expressions)

check: check-unit check-integration check-man check-completion

check-completion: $(B)/bin/cictl
	tests/completion.sh $(B)/bin

# Man pages.  kiln.conf(5)'s key list is made from kilnd --help-config, so
# it documents every key kilnd knows.
MAN_PAGES := man/kilnd.8 man/kiln-worker.8 man/cictl.1
# systemd units (contrib/systemd), verified by check-man, installed by install.
UNITS := kilnd.service kiln-worker@.service kiln.target
$(B)/man/kiln.conf.5: man/kiln.conf.5.in build-aux/confman.awk $(B)/bin/kilnd
	@mkdir -p $(@D)
	$(B)/bin/kilnd --help-config | awk -f build-aux/confman.awk > $@.keys
	awk 'FNR==NR { k = k $$0 "\n"; next } /^@KEYS@$$/ { printf "%s", k; next } \
	    { print }' $@.keys man/kiln.conf.5.in > $@.tmp && mv $@.tmp $@
	rm -f $@.keys

# mandoc -T lint at warning level (style notes about pages not installed yet
# are not errors); every key of --help-config is an item of kiln.conf(5).
# systemd-analyze verify exits 0 after warnings (an unknown key, a bad
# value): any output fails too.  --man=no: the pages are checked by mandoc
# and not installed yet.
check-man: $(B)/man/kiln.conf.5
	mandoc -T lint -W warning $(MAN_PAGES) $(B)/man/kiln.conf.5
	@n=$$($(B)/bin/kilnd --help-config | grep -c ' = '); \
	m=$$(grep -c '^\.It Cm ' $(B)/man/kiln.conf.5); \
	test "$$n" = "$$m" || { echo "kiln.conf.5 has $$m keys, kilnd $$n" >&2; exit 1; }
	@if command -v systemd-analyze >/dev/null; then \
		d=$$(mktemp -d) && \
		for u in $(UNITS); do \
			sed 's|/usr/local/sbin/|$(CURDIR)/$(B)/bin/|g' \
			    contrib/systemd/$$u > $$d/$$u || exit 1; \
		done && \
		out=$$(cd $$d && systemd-analyze verify --man=no $(UNITS) 2>&1); \
		rc=$$?; rm -rf $$d; \
		if [ $$rc != 0 ] || [ -n "$$out" ]; then \
			echo "$$out" >&2; \
			echo "check-man: systemd-analyze verify: not clean" >&2; \
			exit 1; \
		fi; \
		echo "check-man: systemd-analyze verify $(UNITS): clean"; \
	else echo "check-man: SKIPPED, NOT PASSED: systemd-analyze is not" \
		"installed, $(UNITS) were not verified"; fi

# The status page in headless Chromium (tests/browser; needs chromium, node, npm).
check-browser: $(BINS)
	tests/browser/run.sh $(B)

# A subset while iterating: make check-integration ITESTS="test_push test_planner"
# (and UTESTS= for unit programs); empty runs them all.
UNIT_RUN  = $(if $(UTESTS),$(addprefix $(B)/tests/,$(UTESTS)),$(UNIT_BIN))
ITEST_RUN = $(if $(ITESTS),$(addprefix $(B)/itests/,$(ITESTS)),$(ITEST_BIN))

# The whole suite again with sanitizers, in its own build directory.
check-asan:
	$(MAKE) SANITIZE=1 B=build-asan check

check-unit: $(UNIT_RUN)
	@set -e; for t in $(UNIT_RUN); do \
		echo "== $$t"; \
		KILN_CONFORMANCE_DIR="$(CONFORMANCE_DIR)" KILN_SRCDIR="$(CURDIR)" \
		CK_DEFAULT_TIMEOUT="$${CK_DEFAULT_TIMEOUT:-60}" \
		LSAN_OPTIONS="suppressions=$(CURDIR)/tests/lsan.supp" $$t; \
	done

check-integration: $(BINS) $(ITEST_RUN)
	@set -e; for t in $(ITEST_RUN); do \
		echo "== $$t"; \
		KILN_BINDIR="$(CURDIR)/$(B)/bin" KILN_SRCDIR="$(CURDIR)" \
		LSAN_OPTIONS="suppressions=$(CURDIR)/tests/lsan.supp" $$t; \
	done

install: $(BINS) $(B)/man/kiln.conf.5
	$(INSTALL) -d $(DESTDIR)$(sbindir) $(DESTDIR)$(bindir) \
		$(DESTDIR)$(datadir)/kiln/sql $(DESTDIR)$(sysconfdir)/kiln
	$(INSTALL) -m 755 $(B)/bin/kilnd $(DESTDIR)$(sbindir)/kilnd
	$(INSTALL) -m 755 $(B)/bin/kiln-worker $(DESTDIR)$(sbindir)/kiln-worker
	$(INSTALL) -m 755 $(B)/bin/cictl $(DESTDIR)$(bindir)/cictl
	$(INSTALL) -m 644 $(SQL_FILES) $(DESTDIR)$(datadir)/kiln/sql/
	$(INSTALL) -m 644 etc/kiln.conf $(DESTDIR)$(sysconfdir)/kiln/kiln.conf.example
	test -e $(DESTDIR)$(sysconfdir)/kiln/kiln.conf || \
		$(INSTALL) -m 644 etc/kiln.conf $(DESTDIR)$(sysconfdir)/kiln/kiln.conf
	$(INSTALL) -d $(DESTDIR)$(mandir)/man1 $(DESTDIR)$(mandir)/man5 \
		$(DESTDIR)$(mandir)/man8 $(DESTDIR)$(unitdir)
	$(INSTALL) -m 644 man/cictl.1 $(DESTDIR)$(mandir)/man1/cictl.1
	$(INSTALL) -m 644 $(B)/man/kiln.conf.5 $(DESTDIR)$(mandir)/man5/kiln.conf.5
	$(INSTALL) -m 644 man/kilnd.8 man/kiln-worker.8 $(DESTDIR)$(mandir)/man8/
	$(INSTALL) -d $(DESTDIR)$(datarootdir)/bash-completion/completions
	$(INSTALL) -m 644 contrib/bash-completion/cictl \
		$(DESTDIR)$(datarootdir)/bash-completion/completions/cictl
	for u in $(UNITS); do \
		sed -e 's|/usr/local/sbin|$(sbindir)|g' -e 's|/usr/local/etc|$(sysconfdir)|g' \
		    -e 's|/usr/local/share/doc|$(datarootdir)/doc|g' \
		    contrib/systemd/$$u > $(DESTDIR)$(unitdir)/$$u || exit 1; \
	done

# ---- Fuzzing (clang + libFuzzer; not part of check or CI) ---------------
#
#   make fuzz          every fuzz/fuzz_*.c as a libFuzzer binary in build-fuzz/
#   make fuzz-smoke    each one for FUZZ_TIME seconds on fuzz/corpus/<name>
#
# common/ is compiled again into build-fuzz/ with the same flags as the
# targets (coverage, ASan, UBSan), never mixed with build/.  See
# fuzz/README.md.
FB := build-fuzz
FUZZ_CC ?= clang
FUZZ_TIME ?= 20
FUZZ_MAX_LEN ?= 65536
FUZZ_SAN := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_CFLAGS = $(KILN_CFLAGS) -O1 -g $(FUZZ_SAN) $(LIB_CFLAGS) -D_GNU_SOURCE \
	-Icommon -I$(FB)/gen -DKILN_VERSION=\"$(VERSION)\" \
	-DKILN_SYSCONFDIR=\"$(sysconfdir)\" \
	-DKILN_LOCALSTATEDIR=\"$(localstatedir)\" -DKILN_BINDIR=\"$(bindir)\" \
	-MMD -MP
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_NAMES := $(FUZZ_SRC:fuzz/fuzz_%.c=%)
FUZZ_BIN := $(FUZZ_NAMES:%=$(FB)/fuzz_%)
FUZZ_LIB := $(FB)/libkiln.a
FUZZ_COMMON_OBJ := $(COMMON_SRC:%.c=$(FB)/obj/%.o) $(FB)/obj/gen/embed_sql.o

.PHONY: fuzz fuzz-smoke bench bench-quick

# Every benchmark with its baseline, results appended to bench/RESULTS.md
# (minutes); bench-quick only checks that they still run (seconds).
bench: $(BINS)
	bench/all.sh $(B)/bin

bench-quick: $(BINS)
	bench/all.sh --quick $(B)/bin

# The fault-injection soak (tests/soak/soak.c): soak-quick is the short form
# contrib/run-tests.sh runs (10 rounds, minutes); soak the long form (100
# rounds), its figures appended to tests/soak/RESULTS.md.
.PHONY: soak soak-quick
$(B)/soak/soak: $(B)/obj/tests/soak/soak.o $(THELP_OBJ) $(LIBKILN)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(THELP_OBJ) $(LIBKILN) $(LIBS_ALL) $(CHECK_LIBS)

SOAK_ENV = KILN_BINDIR="$(CURDIR)/$(B)/bin" KILN_SRCDIR="$(CURDIR)" \
	LSAN_OPTIONS="suppressions=$(CURDIR)/tests/lsan.supp"
soak-quick: $(BINS) $(B)/soak/soak
	rm -f $(B)/soak/not-run
	$(SOAK_ENV) SOAK_NOT_RUN_FILE="$(CURDIR)/$(B)/soak/not-run" \
		$(B)/soak/soak 10
soak: $(BINS) $(B)/soak/soak
	$(SOAK_ENV) $(B)/soak/soak 100 tests/soak/RESULTS.md

fuzz: $(FUZZ_BIN)

$(FB)/gen/embed_sql.c: $(SQL_FILES) build-aux/embed.awk
	@mkdir -p $(@D)
	awk -v sym=embed_sql -f build-aux/embed.awk $(SQL_FILES) > $@.tmp && mv $@.tmp $@

$(FB)/obj/gen/%.o: $(FB)/gen/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FB)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_COMMON_OBJ)
	rm -f $@ && ar rcs $@ $^

$(FB)/fuzz_%: $(FB)/obj/fuzz/fuzz_%.o $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_SAN) -o $@ $< $(FUZZ_LIB) $(LIBS_ALL)

# New inputs go to build-fuzz/corpus/<name>; fuzz/corpus/<name> (the seeds)
# is only read.  A crash, leak or UBSan report fails the target, leaves
# the input in build-fuzz/artifacts/ and the full log in build-fuzz/logs/.
fuzz-smoke: $(FUZZ_BIN)
	@mkdir -p $(FB)/artifacts $(FB)/logs; fail=; \
	for t in $(FUZZ_NAMES); do \
		mkdir -p $(FB)/corpus/$$t; \
		dict=; test -f fuzz/$$t.dict && dict=-dict=fuzz/$$t.dict; \
		echo "== fuzz_$$t ($(FUZZ_TIME)s)"; \
		if ASAN_OPTIONS=detect_leaks=1 \
		    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		    LSAN_OPTIONS="suppressions=$(CURDIR)/tests/lsan.supp" \
		    $(FB)/fuzz_$$t -max_total_time=$(FUZZ_TIME) \
		    -max_len=$(FUZZ_MAX_LEN) -timeout=10 -print_final_stats=1 \
		    -artifact_prefix=$(FB)/artifacts/$$t- $$dict \
		    $(FB)/corpus/$$t fuzz/corpus/$$t > $(FB)/logs/$$t.log 2>&1; \
		then \
			grep -E '^#[0-9]+[[:space:]]+DONE|^stat::number_of_executed_units|^stat::peak_rss_mb' \
			    $(FB)/logs/$$t.log; \
		else \
			fail="$$fail $$t"; \
			grep -E -A25 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|fuzz invariant|^secret |differs' \
			    $(FB)/logs/$$t.log | head -60; \
			grep -E 'Test unit written to' $(FB)/logs/$$t.log; \
		fi; \
	done; \
	if [ -n "$$fail" ]; then echo "fuzz-smoke: FAILED:$$fail"; exit 1; fi; \
	echo "fuzz-smoke: all $(words $(FUZZ_NAMES)) targets clean"

-include $(shell find $(FB)/obj -name '*.d' 2>/dev/null)

# ---- Release tarball ----------------------------------------------------
#
#   make dist        kiln-$(VERSION).tar.gz: the committed tree (git archive
#                    HEAD; uncommitted changes are not in a release) with a
#                    generated configure, so building needs no autoconf
#   make distcheck   unpack it in a fresh directory, configure --enable-werror,
#                    build, run the unit tests and check-man, install into a
#                    staging directory and check what landed there
DIST := kiln-$(VERSION)
dist:
	@git rev-parse --git-dir >/dev/null 2>&1 || \
		{ echo "make dist: needs the git checkout" >&2; exit 1; }
	d=$$(mktemp -d) && \
	git archive --format=tar --prefix=$(DIST)/ HEAD | tar -x -C $$d && \
	(cd $$d/$(DIST) && autoreconf -fi >/dev/null && \
	    rm -rf autom4te.cache) && \
	tar -C $$d -czf $(DIST).tar.gz $(DIST) && rm -rf $$d
	@echo "make dist: $(DIST).tar.gz"

distcheck: dist
	d=$$(mktemp -d) && \
	tar -xzf $(DIST).tar.gz -C $$d && \
	cd $$d/$(DIST) && ./configure --enable-werror >/dev/null && \
	$(MAKE) -j2 all && $(MAKE) check-unit check-man && \
	$(MAKE) install DESTDIR=$$d/stage && \
	for f in sbin/kilnd sbin/kiln-worker bin/cictl etc/kiln/kiln.conf \
	    share/man/man5/kiln.conf.5 share/man/man8/kilnd.8 \
	    lib/systemd/system/kilnd.service \
	    lib/systemd/system/kiln-worker@.service \
	    lib/systemd/system/kiln.target; do \
		test -e $$d/stage/usr/local/$$f || \
		    { echo "distcheck: $$f not installed" >&2; exit 1; }; \
	done && \
	$$d/stage/usr/local/sbin/kilnd -V && \
	cd / && rm -rf $$d && echo "distcheck: $(DIST).tar.gz builds, passes" \
	    "its unit tests and installs"

clean:
	rm -rf build build-asan build-fuzz

distclean: clean
	rm -rf config.mk config.status config.log autom4te.cache configure aclocal.m4

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
