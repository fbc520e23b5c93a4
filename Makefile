# harepd — build, test, install.  `make check` is what CI runs.
PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
BINDIR	?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
UNITDIR	?= /lib/systemd/system
DESTDIR	?=
BUILD	?= build

PKGS	:= libpq libprotobuf-c grpc yaml-0.1 libcap openssl
# Every build, test and runtime dependency, from Debian's packages.
DEBS	:= gcc make pkg-config libpq-dev libprotobuf-c-dev protobuf-c-compiler \
	   protobuf-compiler libgrpc-dev libyaml-dev libcap-dev libssl-dev \
	   libcmocka-dev perl postgresql-15 postgresql-client-15 repmgr \
	   postgresql-15-repmgr haproxy python3 python3-grpcio python3-protobuf \
	   iproute2 procps openssl socat psmisc util-linux \
	   python3-prometheus-client python3-yaml

CC	?= cc
# `make V=1` shows the full command lines.
V	?= 0
ifeq ($(V),0)
Q	:= @
else
Q	:=
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN	:= -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter \
	   -Wmissing-prototypes -Wstrict-prototypes -Wpointer-arith -Wcast-qual
CFLAGS	?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(CPPFLAGS) $(CFLAGS) $(SAN) -D_GNU_SOURCE -I. -isystem $(BUILD) $(PKG_CFLAGS)
LDLIBS	= -Wl,--as-needed $(PKG_LIBS) -lpthread
ALL_LDFLAGS = $(LDFLAGS) $(SAN)

PROTOS	:= proto/messaging.proto proto/ipc.proto
PB_C	:= $(PROTOS:%.proto=$(BUILD)/%.pb-c.c)
PB_H	:= $(PROTOS:%.proto=$(BUILD)/%.pb-c.h)

# Every .c under these directories goes into libharepd.a; the two programs
# and every test link against it.
LIBDIRS	:= util ipc conf supervisor worker-rpc worker-probe worker-hba \
	   worker-metrics
MAINS	:= harepd.c ctl/harepdctl.c
LIB_SRC	:= $(filter-out $(MAINS),$(wildcard $(addsuffix /*.c,$(LIBDIRS))))
LIB_OBJ	:= $(LIB_SRC:%.c=$(BUILD)/%.o) $(PB_C:.c=.o)
LIB	:= $(BUILD)/libharepd.a

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_HELPER_SRC := $(wildcard tests/helpers/*.c)
TEST_HELPER_BIN := $(TEST_HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/helpers/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: tests-build all deps check check-normal test unit integration e2e asan install uninstall clean demo \
	demo-down bench

all: $(BUILD)/harepd $(BUILD)/harepdctl

$(BUILD)/%.pb-c.c $(BUILD)/%.pb-c.h: %.proto
	@mkdir -p $(BUILD)
	protoc-c --c_out=$(BUILD) $<

# ipc.proto imports messaging.proto
$(BUILD)/proto/ipc.pb-c.c: $(BUILD)/proto/messaging.pb-c.h

# A missing -dev package stops the build before the first compile, named
# by pkg-config, instead of surfacing as a confusing compiler error.
.PHONY: pkgcheck
pkgcheck:
	@pkg-config --print-errors --exists $(PKGS) || { \
	    echo "missing build dependencies: run 'make deps'" >&2; exit 1; }

$(PB_C) $(PB_H): | pkgcheck

# VERSION is the one place the release number is written; the git hash is
# added at build time, and SYSCONFDIR (the default config is
# $(SYSCONFDIR)/harepd/conf.yml). version_def.h is rewritten only when one
# changes,
# so a new commit recompiles util/version.c and relinks, nothing more.
HAREPD_VERSION := $(shell cat VERSION)
HAREPD_GIT_HASH := $(or $(shell git rev-parse --short=12 HEAD 2>/dev/null),unknown)
.PHONY: FORCE
$(BUILD)/version_def.h: FORCE
	@mkdir -p $(BUILD)
	@printf '#define HAREPD_VERSION "%s"\n#define HAREPD_GIT_HASH "%s"\n#define HAREPD_SYSCONFDIR "%s"\n' \
	    '$(HAREPD_VERSION)' '$(HAREPD_GIT_HASH)' '$(SYSCONFDIR)' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@
$(BUILD)/util/version.o: $(BUILD)/version_def.h

$(BUILD)/%.o: %.c $(PB_H) | pkgcheck
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# protoc-c's code, not ours. Its *__INIT macros cast protobuf_c_empty_string
# to char *: gcc exempts macros from a -isystem header, clang does not, so
# -Wcast-qual is off here too and our code calls the *__init() functions.
$(BUILD)/proto/%.o: $(BUILD)/proto/%.c $(PB_H)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-shadow -Wno-cast-qual -c -o $@ $<

$(LIB): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/harepd: $(BUILD)/harepd.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/harepdctl: $(BUILD)/ctl/harepdctl.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(PB_H)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka) -o $@ $< $(LIB) \
	    $(ALL_LDFLAGS) $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/tests/helpers/%: tests/helpers/%.c $(LIB) $(PB_H)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(ALL_LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(LIB) $(PB_H)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(ALL_LDFLAGS) $(LDLIBS)

tests-build: all $(UNIT_BIN) $(TEST_HELPER_BIN)

# Installs only what is missing; a no-op when everything is there.
deps:
	@missing=$$(for p in $(DEBS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# All tests run under prove: cmocka binaries print TAP, integration and
# e2e scripts are TAP. prove's own "Result:" line ends the output.
TESTS_UNIT = $(UNIT_BIN)
TESTS_INTEGRATION = $(sort $(wildcard tests/integration/*.t))
TESTS_E2E = $(sort $(wildcard tests/e2e/*.t))

# make check: unit and integration tests under ASan/UBSan (the stricter
# build; each integration test once, to keep check under 30 minutes on 2
# cores), then the normal build's unit tests and the e2e cluster, which
# runs the binaries as shipped. `make test` runs every suite on the normal
# build.
check: deps
	@# 60 of 31-hba-killloop's 200 kills: soak-short adds 300 more
	HBA_KILL_LOOPS=60 $(MAKE) asan
	$(MAKE) check-normal

check-normal: tests-build
	CMOCKA_MESSAGE_OUTPUT=TAP HAREPD_BUILD=$(abspath $(BUILD)) \
	    tests/run-all $(TESTS_UNIT) $(TESTS_E2E)

test: tests-build
	CMOCKA_MESSAGE_OUTPUT=TAP HAREPD_BUILD=$(abspath $(BUILD)) \
	    tests/run-all $(TESTS_UNIT) $(TESTS_INTEGRATION) $(TESTS_E2E)

unit: tests-build
	CMOCKA_MESSAGE_OUTPUT=TAP HAREPD_BUILD=$(abspath $(BUILD)) \
	    tests/run-all $(TESTS_UNIT)

integration: tests-build
	HAREPD_BUILD=$(abspath $(BUILD)) tests/run-all $(TESTS_INTEGRATION)

e2e: tests-build
	HAREPD_BUILD=$(abspath $(BUILD)) tests/run-all $(TESTS_E2E)

# AddressSanitizer + UBSan build in its own tree: unit and integration tests.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	      -fno-sanitize-recover=undefined
asan:
	$(MAKE) BUILD=build-asan SAN="$(ASAN_FLAGS)" CFLAGS="-O1 -g" tests-build
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	CMOCKA_MESSAGE_OUTPUT=TAP HAREPD_BUILD=$(abspath build-asan) \
	HAREPD_SAN="$(ASAN_FLAGS)" \
	    tests/run-all $(addprefix build-asan/tests/,$(notdir $(UNIT_BIN))) \
	    $(TESTS_INTEGRATION)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/harepd $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/default $(DESTDIR)$(SYSCONFDIR)/logrotate.d
# the sample config's logs.filePath, the unit's LogsDirectory=
	install -d -m 0750 $(DESTDIR)/var/log/harepd
	install -m 0755 $(BUILD)/harepd $(DESTDIR)$(SBINDIR)/harepd
	install -m 0755 $(BUILD)/harepdctl $(DESTDIR)$(BINDIR)/harepdctl
	install -m 0644 conf/harepd.sample.yml \
	    $(DESTDIR)$(SYSCONFDIR)/harepd/conf.yml.sample
	sed 's|@SBINDIR@|$(SBINDIR)|g; s|@BINDIR@|$(BINDIR)|g' \
	    contrib/harepd.service.in > $(DESTDIR)$(UNITDIR)/harepd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/harepd.service
	install -m 0644 contrib/default/harepd $(DESTDIR)$(SYSCONFDIR)/default/harepd
	sed 's|@BINDIR@|$(BINDIR)|g' contrib/logrotate/harepd \
	    > $(DESTDIR)$(SYSCONFDIR)/logrotate.d/harepd
	chmod 0644 $(DESTDIR)$(SYSCONFDIR)/logrotate.d/harepd
	$(MAKE) install-doc

# Everything install wrote, with the same variables; the config itself
# (conf.yml) is the operator's and stays, as does the directory holding it.
.PHONY: uninstall
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/harepd $(DESTDIR)$(BINDIR)/harepdctl \
	    $(DESTDIR)$(SYSCONFDIR)/harepd/conf.yml.sample \
	    $(DESTDIR)$(UNITDIR)/harepd.service \
	    $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5))) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(MAN8))) \
	    $(DESTDIR)$(BASHCOMPDIR)/harepdctl \
	    $(DESTDIR)$(SYSCONFDIR)/logrotate.d/harepd
	@# the operator's HAREPD_OPTS stay, like conf.yml; the shipped file goes
	-cmp -s contrib/default/harepd $(DESTDIR)$(SYSCONFDIR)/default/harepd && \
	    rm -f $(DESTDIR)$(SYSCONFDIR)/default/harepd
	-rmdir $(DESTDIR)$(SYSCONFDIR)/harepd 2>/dev/null

bench: deps
	$(MAKE) all $(BENCH_BIN)
	HAREPD_BUILD=$(abspath $(BUILD)) bench/run

demo: deps
	$(MAKE) all
	HAREPD_BUILD=$(abspath $(BUILD)) contrib/demo/demo up

demo-down:
	contrib/demo/demo down

clean:
	rm -rf build build-asan build-fuzz build-soak

-include $(shell find $(BUILD) -name '*.d' -type f 2>/dev/null)

# The handover model (tests/model/README): spin checks never-two-writers and
# that a promoted node gets rw, and that the model catches its mutants. About
# 3 minutes on 2 cores; needs spin (Debian package) and a C compiler.
.PHONY: model
DEBS	+= spin
check: model
model: $(if $(filter check,$(MAKECMDGOALS)),deps)
	tests/model/run.sh

# libFuzzer harnesses (tests/fuzz/README), clang-14 with ASan + UBSan, in
# their own tree: the library is compiled with coverage instrumentation
# (fuzzer-no-link), each harness linked with libFuzzer's main. `make fuzz`
# runs every harness FUZZ_TIME seconds; `make check` runs the short variant.
.PHONY: fuzz fuzz-short fuzz-build fuzz-harnesses fuzz-corpus
DEBS	+= clang-14 libfuzzer-14-dev
FUZZ_CC	:= clang-14
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined \
	    -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_TIME ?= 600
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

fuzz-harnesses: $(FUZZ_BIN)

$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(LIB) $(PB_H)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB) \
	    $(ALL_LDFLAGS) -fsanitize=fuzzer $(LDLIBS)

# The protobuf seeds of the corpora (committed; rerun when a harness's
# input layout changes), built with the normal compiler.
$(BUILD)/fuzz/mkcorpus: tests/fuzz/mkcorpus.c $(LIB) $(PB_H)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(ALL_LDFLAGS) $(LDLIBS)

fuzz-corpus: $(BUILD)/fuzz/mkcorpus
	$(BUILD)/fuzz/mkcorpus tests/fuzz/corpus

fuzz-build: $(if $(filter check fuzz fuzz-short,$(MAKECMDGOALS)),deps)
	$(MAKE) BUILD=build-fuzz CC=$(FUZZ_CC) SAN="$(FUZZ_SAN)" \
	    CFLAGS="-O1 -g" fuzz-harnesses

fuzz: fuzz-build
	tests/fuzz/run.sh build-fuzz/fuzz $(FUZZ_TIME)

# 20 s per harness
check: fuzz-short
fuzz-short: fuzz-build
	tests/fuzz/run.sh build-fuzz/fuzz 20

# The soak (tests/soak/soak.sh): SOAK_KILLS kill -9 of random workers of
# the real supervisor, with verdicts alternating and gRPC load at c=16,
# against a real PostgreSQL; at most 30 min for the default 10000 kills.
# Built in its own tree with -DHAREPD_SOAK (restart backoff at most 200 ms).
.PHONY: soak soak-short soak-build
SOAK_KILLS ?= 10000
soak-build: $(if $(filter check soak soak-short,$(MAKECMDGOALS)),deps)
	$(MAKE) BUILD=build-soak CFLAGS="-O2 -g -DHAREPD_SOAK" all \
	    build-soak/bench/rpc_load

# (prove -v: the counts are the point)
soak: soak-build
	SOAK_KILLS=$(SOAK_KILLS) HAREPD_BUILD=$(abspath build-soak) \
	    prove -v --timer tests/soak/soak.sh

# 300 kills, about a minute
check: soak-short
soak-short: soak-build
	SOAK_KILLS=300 HAREPD_BUILD=$(abspath build-soak) \
	    prove -v --timer tests/soak/soak.sh

# The unit under a booted systemd: systemd-nspawn over a copy-on-write
# overlay of this machine's root (tests/systemd, docs/SYSTEMD.md). One
# boot, 1 to 2 minutes; one at a time (the lock), as root.
.PHONY: systemd-test
DEBS	+= systemd-container logrotate
check: systemd-test
systemd-test: $(if $(filter check systemd-test,$(MAKECMDGOALS)),deps) all
	flock /tmp/harepd-systemd.lock env HAREPD_BUILD=$(abspath $(BUILD)) \
	    prove -v --timer tests/systemd/*.t

# Man pages (docs/man, mdoc(7)) and bash completion: installed by `make
# install`, linted by tests/integration/75-man.t.
.PHONY: install-doc
DEBS	+= mandoc bash-completion
MANDIR	?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
MAN5	:= docs/man/harepd.yml.5
MAN8	:= docs/man/harepd.8 docs/man/harepdctl.8
install-doc:
	install -d $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 contrib/bash-completion/harepdctl \
	    $(DESTDIR)$(BASHCOMPDIR)/harepdctl

# The Debian package (debian/), built out of tree: the sources are copied
# to $(DEB_DIR)/harepd-VERSION (no .git, no build trees), so the .deb
# lands in $(DEB_DIR). `make deb` installs dpkg-dev, debhelper, lintian
# and the Build-Depends of debian/control, builds, and fails on any
# lintian error. `make deb-test` (part of `make check`) installs that
# .deb on this machine, checks it and purges it (tests/pkg/).
.PHONY: deb deb-check-version deb-test
DEB_TOOLS := dpkg-dev debhelper lintian fakeroot
DEBS	+= $(DEB_TOOLS) man-db
DEB_DIR	:= $(BUILD)/deb
DEB_FILE := $(DEB_DIR)/harepd_$(HAREPD_VERSION)_$(shell dpkg --print-architecture 2>/dev/null).deb

deb-check-version:
	@v=$$(dpkg-parsechangelog -SVersion 2>/dev/null || \
	    sed -n '1s/^harepd (\([^)]*\)).*/\1/p' debian/changelog); \
	[ "$$v" = "$(HAREPD_VERSION)" ] || { echo "debian/changelog is at" \
	    "$$v but VERSION says $(HAREPD_VERSION)" >&2; exit 1; }

deb: deb-check-version
	@$(MAKE) --no-print-directory deps DEBS="$(DEB_TOOLS)"
	@dpkg-checkbuilddeps 2>/dev/null || DEBIAN_FRONTEND=noninteractive \
	    apt-get build-dep -y -qq --no-install-recommends ./
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/harepd-$(HAREPD_VERSION)
	tar -c --exclude=./.git --exclude='./build' --exclude='./build-*' \
	    --exclude='./$(BUILD)' --exclude='./debian/.debhelper' . | \
	    tar -x -C $(DEB_DIR)/harepd-$(HAREPD_VERSION)
	cd $(DEB_DIR)/harepd-$(HAREPD_VERSION) && \
	    HAREPD_GIT_HASH=$(HAREPD_GIT_HASH) \
	    DEB_BUILD_OPTIONS="nocheck parallel=2 $(DEB_BUILD_OPTIONS)" \
	    dpkg-buildpackage -us -uc -b
	lintian --fail-on error --tag-display-limit 0 $(DEB_DIR)/*.changes
	@echo "built $(DEB_FILE)"

check: deb-test
deb-test: deb
	HAREPD_DEB=$(abspath $(DEB_FILE)) tests/run-all tests/pkg/*.t

# The nemesis (tests/nemesis/README.md): NEMESIS_MIN minutes of seeded
# random faults on the e2e cluster with a writer through HAProxy; the seed
# is printed, NEMESIS_SEED replays it. `make check` runs the self-test of
# its verdicts (no cluster), 3 minutes with a fresh seed, then replays each
# seed of tests/nemesis/seeds for 3 minutes.
# Needs root and the e2e cluster's packages; never two clusters at once
# (flock /tmp/harepd-e2e.lock make nemesis).
.PHONY: nemesis nemesis-short
DEBS	+= python3-psycopg2
NEMESIS_MIN ?= 30
NEMESIS_SEED ?=
nemesis: $(if $(filter check,$(MAKECMDGOALS)),deps)
	$(MAKE) all
	NEMESIS_MIN=$(NEMESIS_MIN) NEMESIS_SEED=$(NEMESIS_SEED) \
	    HAREPD_BUILD=$(abspath $(BUILD)) prove -v --timer tests/nemesis/nemesis.t

check: nemesis-short
nemesis-short: $(if $(filter check,$(MAKECMDGOALS)),deps)
	$(MAKE) all
	PYTHONDONTWRITEBYTECODE=1 prove --exec /usr/bin/python3 tests/nemesis/selftest.py
	NEMESIS_MIN=3 HAREPD_BUILD=$(abspath $(BUILD)) prove -v --timer tests/nemesis/nemesis.t
	@grep -v '^#' tests/nemesis/seeds | awk 'NF { print $$1 }' | while read -r s; do \
	    echo "nemesis: replaying seed $$s (tests/nemesis/seeds)"; \
	    NEMESIS_MIN=3 NEMESIS_SEED=$$s HAREPD_BUILD=$(abspath $(BUILD)) \
	    prove -v --timer tests/nemesis/nemesis.t || exit 1; done
