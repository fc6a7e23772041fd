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
	$(LIBCRYPTO_LIBS) $(LIBCURL_LIBS) -lm

COMMON_SRC := $(sort $(wildcard common/*.c))
DAEMON_SRC := $(sort $(wildcard daemon/*.c))
WORKER_SRC := $(sort $(wildcard worker/*.c worker/actions/*.c))
CICTL_SRC  := $(sort $(wildcard cictl/*.c))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
ITEST_SRC  := $(sort $(wildcard tests/integration/test_*.c))
THELP_SRC  := $(sort $(wildcard tests/lib/*.c))
SQL_FILES  := $(sort $(wildcard sql/*.sql))

GEN_SRC := $(B)/gen/embed_sql.c
COMMON_OBJ := $(COMMON_SRC:%.c=$(B)/obj/%.o) $(B)/obj/gen/embed_sql.o
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(B)/obj/%.o)
WORKER_OBJ := $(WORKER_SRC:%.c=$(B)/obj/%.o)
CICTL_OBJ  := $(CICTL_SRC:%.c=$(B)/obj/%.o)
THELP_OBJ  := $(THELP_SRC:%.c=$(B)/obj/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
ITEST_BIN  := $(ITEST_SRC:tests/integration/%.c=$(B)/itests/%)

LIBKILN := $(B)/libkiln.a
BINS := $(B)/bin/kilnd $(B)/bin/kiln-worker $(B)/bin/cictl

.PHONY: all check check-unit check-integration check-asan install clean \
	distclean
# Objects of chained pattern rules are not throw-away intermediates.
.SECONDARY:
all: $(BINS)

$(B)/gen/embed_sql.c: $(SQL_FILES) build-aux/embed.awk
	@mkdir -p $(@D)
	awk -v sym=embed_sql -f build-aux/embed.awk $(SQL_FILES) > $@.tmp && mv $@.tmp $@

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
	$(CC) $(ALL_LDFLAGS) -o $@ $(DAEMON_OBJ) $(LIBKILN) $(LIBS_ALL)

$(B)/bin/kiln-worker: $(WORKER_OBJ) $(LIBKILN)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $(WORKER_OBJ) $(LIBKILN) $(LIBS_ALL)

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

check: check-unit check-integration

# The whole suite again with sanitizers, in its own build directory.
check-asan:
	$(MAKE) SANITIZE=1 B=build-asan check

check-unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do \
		echo "== $$t"; \
		KILN_CONFORMANCE_DIR="$(CONFORMANCE_DIR)" KILN_SRCDIR="$(CURDIR)" \
		LSAN_OPTIONS="suppressions=$(CURDIR)/tests/lsan.supp" $$t; \
	done

check-integration: $(BINS) $(ITEST_BIN)
	@set -e; for t in $(ITEST_BIN); do \
		echo "== $$t"; \
		KILN_BINDIR="$(CURDIR)/$(B)/bin" KILN_SRCDIR="$(CURDIR)" \
		LSAN_OPTIONS="suppressions=$(CURDIR)/tests/lsan.supp" $$t; \
	done

install: $(BINS)
	$(INSTALL) -d $(DESTDIR)$(sbindir) $(DESTDIR)$(bindir) \
		$(DESTDIR)$(datadir)/kiln/sql $(DESTDIR)$(sysconfdir)/kiln
	$(INSTALL) -m 755 $(B)/bin/kilnd $(DESTDIR)$(sbindir)/kilnd
	$(INSTALL) -m 755 $(B)/bin/kiln-worker $(DESTDIR)$(sbindir)/kiln-worker
	$(INSTALL) -m 755 $(B)/bin/cictl $(DESTDIR)$(bindir)/cictl
	$(INSTALL) -m 644 $(SQL_FILES) $(DESTDIR)$(datadir)/kiln/sql/
	$(INSTALL) -m 644 etc/kiln.conf $(DESTDIR)$(sysconfdir)/kiln/kiln.conf.example
	test -e $(DESTDIR)$(sysconfdir)/kiln/kiln.conf || \
		$(INSTALL) -m 644 etc/kiln.conf $(DESTDIR)$(sysconfdir)/kiln/kiln.conf

clean:
	rm -rf build build-asan

distclean: clean
	rm -rf config.mk config.status config.log autom4te.cache configure aclocal.m4

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
