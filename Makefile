# keycard - top-level makefile. `make` builds into build/; see README.md.

PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/keycard
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

CC ?= cc
AR ?= ar
CFLAGS ?= -O2 -g
WARNFLAGS = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2
ifeq ($(WERROR),1)
WARNFLAGS += -Werror
endif
PCSC_CFLAGS := $(shell pkg-config --cflags libpcsclite 2>/dev/null)
PCSC_LIBS := $(shell pkg-config --libs libpcsclite 2>/dev/null || echo -lpcsclite)
JANSSON_LIBS := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)
SQLITE_LIBS := $(shell pkg-config --libs sqlite3 2>/dev/null || echo -lsqlite3)
PQ_CFLAGS := $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
PQ_LIBS := $(shell pkg-config --libs libpq 2>/dev/null || echo -lpq)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)
MBED_LIBS = -lmbedcrypto

B = build
# LOCAL_CFLAGS: per-target additions of the included fragments (target-specific,
# so EXTRA_CFLAGS given on the command line cannot override them).
# Include paths are per component (INC_* below), so that a firmware file
# cannot include a host header, nor the host library a tool's.
# CPPFLAGS and LDFLAGS are the builder's (a distribution's hardening flags:
# _FORTIFY_SOURCE, relro); every program is linked with -z relro -z now too.
ALL_CFLAGS = -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE $(WARNFLAGS) -fPIC -fvisibility=hidden \
	$(LOCAL_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
HARDEN_LDFLAGS = -Wl,-z,relro -Wl,-z,now
INC_FW = -Iinclude -Ikeycard -Iexamples/targetcard
INC_LIB = -Iinclude -Ilibkeycard $(PCSC_CFLAGS)
INC_SIM = -Iinclude -Ikeycard
INC_TOOL = -Iinclude -Itools/common
INC_ENGINE = $(INC_TOOL) -Iissuance
INC_TEST = -Iinclude -Ikeycard -Iexamples/targetcard -Itools/common -Ilibkeycard -Iissuance \
	$(PCSC_CFLAGS)

# The version is written once, in include/keycard.h.
kc_ver = $(shell sed -n 's/^\#define KEYCARD_VERSION_$(1) \([0-9]*\).*/\1/p' include/keycard.h)
SOVERSION := $(call kc_ver,MAJOR)
SOFULL := $(SOVERSION).$(call kc_ver,MINOR).$(call kc_ver,PATCH)

# Firmware: portable core + the host-side hardware simulation.
FW_SRC := $(wildcard keycard/*.c) $(wildcard keycard/hw/*.c) $(wildcard examples/targetcard/*.c)
# Host library (no firmware in it).
LIB_SRC := $(wildcard libkeycard/*.c)
# The in-process simulator: the firmware behind "sim:FILE" (libkeycard-sim).
SIM_SRC := $(wildcard simulator/*.c)
# Tools.
ADMIN_SRC := $(wildcard tools/kc-admin/*.c)
ISSUE_SRC := $(wildcard tools/kc-issue/*.c)
# The issuance engine: profile and records, one card's issuance, the station
# codec; kc-issue, kc-station, the bench, the tests and the fuzz targets link it.
ENGINE_SRC := $(wildcard issuance/*.c)
VCARD_SRC := $(wildcard tools/kc-vcard/*.c)
STARTUP_SRC := $(wildcard examples/startup/*.c)
COMMON_SRC := $(wildcard tools/common/*.c)
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_SUPPORT_SRC := $(wildcard tests/unit/support/*.c)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
FW_OBJ := $(call obj,$(FW_SRC))
LIB_OBJ := $(call obj,$(LIB_SRC))
SIM_OBJ := $(call obj,$(SIM_SRC))
ADMIN_OBJ := $(call obj,$(ADMIN_SRC))
ISSUE_OBJ := $(call obj,$(ISSUE_SRC))
ENGINE_OBJ := $(call obj,$(ENGINE_SRC))
VCARD_OBJ := $(call obj,$(VCARD_SRC))
STARTUP_OBJ := $(call obj,$(STARTUP_SRC))
COMMON_OBJ := $(call obj,$(COMMON_SRC))
TEST_SUPPORT_OBJ := $(call obj,$(TEST_SUPPORT_SRC))
TEST_BIN := $(patsubst tests/unit/%.c,$(B)/tests/%,$(TEST_SRC))

SO := $(B)/lib/libkeycard.so.$(SOFULL)
SIM_SO := $(B)/lib/libkeycard-sim.so.$(SOFULL)
# What a tool links: the library and the simulator, with their links.
LIBS_DEP := $(SO) $(B)/lib/libkeycard.so.$(SOVERSION) $(B)/lib/libkeycard.so \
	$(SIM_SO) $(B)/lib/libkeycard-sim.so.$(SOVERSION) $(B)/lib/libkeycard-sim.so
# Tools in $(B)/bin find the libraries beside them through RUNPATH; the
# copies `make install` puts in BINDIR ($(B)/inst/bin) are linked without.
TOOL_RPATH = '-Wl,-rpath,$$ORIGIN/../lib'
TOOL_LIBS = -L$(B)/lib -lkeycard-sim -lkeycard $(TOOL_RPATH)
LINK_TOOL = $(CC) $(LDFLAGS) $(HARDEN_LDFLAGS) -o $@ $(filter %.o,$^) $(TOOL_LIBS) $(JANSSON_LIBS)
STATIC := $(B)/lib/libkeycard-internal.a
BINS := $(B)/bin/kc-admin $(B)/bin/kc-vcard $(B)/bin/kc-startup $(if $(ISSUE_SRC),$(B)/bin/kc-issue)
MANPAGES := $(wildcard man/*.1)

.PHONY: all clean check test unit integration install uninstall demo vcards-up vcards-down deps bench \
	sanitize tsan memcheck kill-trials journal-kill-trials line-trials chip

all: $(LIBS_DEP) $(STATIC) $(BINS) $(B)/keycard.pc $(B)/keycard-sim.pc \
	$(B)/lib/kc-vpcd-loopback.so

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# The shared library holds the host code only; a version script exports
# only keycard_* (the public API). tests/lint/exports.sh checks it.
$(SO): $(LIB_OBJ) libkeycard/keycard.map
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,libkeycard.so.$(SOVERSION) -Wl,--version-script=libkeycard/keycard.map \
		-Wl,-z,defs $(HARDEN_LDFLAGS) \
		$(LDFLAGS) -o $@ $(LIB_OBJ) $(PCSC_LIBS) $(MBED_LIBS)

# The simulator library: both firmwares and the "sim" opener (keycard_sim.h),
# over libkeycard.
$(SIM_SO): $(SIM_OBJ) $(FW_OBJ) simulator/keycard_sim.map $(SO) $(B)/lib/libkeycard.so
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,libkeycard-sim.so.$(SOVERSION) \
		-Wl,--version-script=simulator/keycard_sim.map -Wl,-z,defs $(HARDEN_LDFLAGS) \
		$(LDFLAGS) -o $@ $(SIM_OBJ) $(FW_OBJ) -L$(B)/lib -lkeycard $(MBED_LIBS)

$(B)/lib/libkeycard.so.$(SOVERSION) $(B)/lib/libkeycard.so: $(SO)
	ln -sf libkeycard.so.$(SOFULL) $@
$(B)/lib/libkeycard-sim.so.$(SOVERSION) $(B)/lib/libkeycard-sim.so: $(SIM_SO)
	ln -sf libkeycard-sim.so.$(SOFULL) $@

# Everything, unexported symbols included, for the unit tests and the bench.
$(STATIC): $(LIB_OBJ) $(SIM_OBJ) $(FW_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/bin/kc-admin $(B)/inst/bin/kc-admin: $(ADMIN_OBJ) $(COMMON_OBJ) $(LIBS_DEP)
	@mkdir -p $(dir $@)
	$(LINK_TOOL)

$(B)/bin/kc-issue $(B)/inst/bin/kc-issue: $(ISSUE_OBJ) $(ENGINE_OBJ) $(COMMON_OBJ) $(LIBS_DEP)
	@mkdir -p $(dir $@)
	$(LINK_TOOL) $(SQLITE_LIBS) $(PQ_LIBS)

$(B)/inst/bin/%: TOOL_RPATH =

$(FW_OBJ): LOCAL_CFLAGS += $(INC_FW)
$(LIB_OBJ): LOCAL_CFLAGS += $(INC_LIB)
$(SIM_OBJ): LOCAL_CFLAGS += $(INC_SIM)
$(ADMIN_OBJ) $(COMMON_OBJ): LOCAL_CFLAGS += $(INC_TOOL)
$(STARTUP_OBJ): LOCAL_CFLAGS += $(INC_ENGINE)
$(VCARD_OBJ): LOCAL_CFLAGS += $(INC_TOOL) -Ikeycard
$(ISSUE_OBJ) $(ENGINE_OBJ): LOCAL_CFLAGS += $(INC_ENGINE)
$(ISSUE_OBJ): LOCAL_CFLAGS += $(PQ_CFLAGS)
$(TEST_SUPPORT_OBJ): LOCAL_CFLAGS += $(INC_TEST)

$(B)/bin/kc-startup $(B)/inst/bin/kc-startup: $(STARTUP_OBJ) $(ENGINE_OBJ) $(COMMON_OBJ) $(LIBS_DEP)
	@mkdir -p $(dir $@)
	$(LINK_TOOL)

# kc-vcard links neither libkeycard nor jansson: of tools/common only kct_host and kct_cli.
VCARD_COMMON_OBJ := $(B)/obj/tools/common/kct_host.o $(B)/obj/tools/common/kct_cli.o
$(B)/bin/kc-vcard $(B)/inst/bin/kc-vcard: $(VCARD_OBJ) $(VCARD_COMMON_OBJ) $(FW_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(HARDEN_LDFLAGS) -o $@ $(VCARD_OBJ) $(VCARD_COMMON_OBJ) $(FW_OBJ) $(MBED_LIBS)

# Preloaded into the project's pcscd (tests/vcards.sh): vpcd's card port on
# loopback only. A test and demo helper, not installed; never sanitized (it
# is loaded into pcscd, which is not).
$(B)/lib/kc-vpcd-loopback.so: tests/pcscd/vpcd_loopback.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(WARNFLAGS) -O2 -fPIC -shared -o $@ $< -ldl

$(B)/%.pc: %.pc.in Makefile
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(SOFULL)|g' $< > $@

$(B)/tests/%: tests/unit/%.c $(TEST_SUPPORT_OBJ) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC_TEST) -Itests/unit -o $@ $< \
		$(filter-out $(TEST_SUPPORT_OBJ),$(filter %.o,$^)) $(TEST_SUPPORT_OBJ) $(STATIC) \
		$(CHECK_LIBS) $(PCSC_LIBS) $(MBED_LIBS) $(JANSSON_LIBS)

# The backup test checks the card's shares against libgfshare (an independent implementation).
$(B)/tests/test_backup: CHECK_LIBS += -lgfshare

# Unit tests of tool code link the tools' objects; none includes a .c file.
$(B)/tests/test_tools_common: $(COMMON_OBJ)
$(B)/tests/test_issue_profile: $(COMMON_OBJ) $(B)/obj/issuance/profile.o
$(B)/tests/test_vpcd: $(B)/obj/tools/kc-vcard/serve.o $(B)/obj/tools/kc-vcard/vpcd.o
$(B)/tests/test_vpcd: LOCAL_CFLAGS += -Itools/kc-vcard
$(B)/tests/test_vcard_stack: $(B)/obj/tools/kc-vcard/stack.o
$(B)/tests/test_vcard_stack: LOCAL_CFLAGS += -Itools/kc-vcard

# ---- tests -------------------------------------------------------------

# DEPS_CMD and DEMO_SCRIPT can be replaced, so that tests/integration/05-fresh-make.sh
# can play a fresh machine (packages appear only once deps has run).
DEPS_CMD ?= sh tests/deps.sh
DEMO_SCRIPT ?= examples/demo.sh

deps:
	@$(DEPS_CMD)

check: deps
	$(MAKE) WERROR=1 all tests
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) fuzz-smoke
	$(MAKE) chip
	sh tests/lint/proto-once.sh
	B=$(B) sh tests/lint/version.sh
	sh tests/lint/layers.sh
	B=$(B) sh tests/lint/exports.sh
	! EXPORTS_PLANT=1 B=$(B) sh tests/lint/exports.sh >/dev/null 2>&1
	B=$(B) sh tests/lint/completion.sh
	sh tests/lint/doc-figures.sh
	! DOC_FIGURES_PLANT=1 sh tests/lint/doc-figures.sh >/dev/null 2>&1
	! LAYERS_PLANT=1 sh tests/lint/layers.sh >/dev/null 2>&1
	! PROTO_ONCE_PLANT=1 sh tests/lint/proto-once.sh >/dev/null 2>&1
	B=$(B) sh tests/ct/run.sh
	$(MAKE) memcheck
	$(MAKE) sanitize
	$(MAKE) tsan

tests: $(TEST_BIN)

unit: $(TEST_BIN)
	@sh tests/run-unit.sh $(TEST_BIN)

integration: all
	@sh tests/run-integration.sh

test: check

# The same suites under AddressSanitizer + UndefinedBehaviorSanitizer (a build
# of its own in $(B)-asan), and the unit suites under valgrind memcheck.
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# The threads of several target heads under ThreadSanitizer: the tools built
# with it, then the heads' tests (simulated cards, and over pcscd); a race
# makes kc-issue exit 66 and the test fail.
TSAN_FLAGS = -fsanitize=thread -fno-omit-frame-pointer
tsan:
	$(MAKE) B=$(B)-tsan EXTRA_CFLAGS="$(TSAN_FLAGS)" LDFLAGS="$(TSAN_FLAGS)" WERROR=1 all
	for t in 74-heads 75-heads-pcsc; do \
		KC_SANITIZE="$(TSAN_FLAGS)" B=$(B)-tsan KC_PCSCD_LOCKED=1 flock -w 300 /tmp/kc-pcscd.lock \
			timeout -k 10 300 sh tests/integration/$$t.sh >$(B)-tsan/$$t.log 2>&1 || \
			{ echo "FAIL $$t under ThreadSanitizer (log: $(B)-tsan/$$t.log)"; exit 1; }; \
		echo "PASS $$t under ThreadSanitizer"; \
	done

sanitize:
	$(MAKE) B=$(B)-asan EXTRA_CFLAGS="$(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" WERROR=1 all tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		sh tests/run-unit.sh $(patsubst $(B)/%,$(B)-asan/%,$(TEST_BIN))
	KC_SANITIZE="$(SAN_FLAGS)" B=$(B)-asan sh tests/run-integration.sh

# The firmware cores cross-compiled for a Cortex-M4, sizes checked against
# budgets (tests/chip/build.sh).
chip: deps
	B=$(B) sh tests/chip/build.sh

# The randomized kill/restart trials in full (make check runs 6 of them in
# tests/integration/46-kill-trials.sh); KC_KILL_SEED=N replays a run.
KILL_TRIALS ?= 100
kill-trials: all
	KC_KILL_TRIALS=$(KILL_TRIALS) B=$(B) sh tests/integration/46-kill-trials.sh

# The journal's exactly-once under SIGKILL (make check runs 6 kills:
# tests/integration/72-journal-kill.sh); KC_KILL_SEED=N replays a run.
JOURNAL_KILLS ?= 60
journal-kill-trials: all
	KC_JKILL_TRIALS=$(JOURNAL_KILLS) B=$(B) sh tests/integration/72-journal-kill.sh

# Three stations of two target heads, one PostgreSQL journal: the full line
# trial (make check runs 30 records and 4 kills:
# tests/integration/73-journal-stations.sh).
LINE_RECORDS ?= 300
LINE_KILLS ?= 12
line-trials: all
	KC_JSTATIONS_RECORDS=$(LINE_RECORDS) KC_JSTATIONS_KILLS=$(LINE_KILLS) B=$(B) \
		sh tests/integration/73-journal-stations.sh

memcheck: $(TEST_BIN)
	KC_UNIT_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
		sh tests/run-unit.sh $(TEST_BIN)

# ---- virtual cards and demo -------------------------------------------

vcards-up: deps
	$(MAKE) all
	@sh tests/vcards.sh up

vcards-down:
	@sh tests/vcards.sh down

# Targets that need the Debian packages install them first, then re-invoke
# make: the pkg-config flags above are read when make parses this file, so the
# build must start in a make that runs after the install.
demo: deps
	$(MAKE) all
	@sh $(DEMO_SCRIPT)

# ---- install -----------------------------------------------------------

INST_BINS = $(patsubst $(B)/bin/%,$(B)/inst/bin/%,$(BINS))
# One completion file for every tool: installed under the first tool's
# name, the others linked to it (bash-completion loads by command name).
COMPLETED = kc-admin kc-issue kc-startup kc-station kc-vcard
DOCS := $(wildcard docs/*.md)

# Installed: the libraries (0644), headers, pkg-config files, the tools
# relinked without RUNPATH, man pages (their docs/ references pointed at
# DOCDIR), the docs, and bash completions. ldconfig runs when installing
# into the live system as root.
install: all
	$(MAKE) B=$(B) $(INST_BINS)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 $(SO) $(SIM_SO) $(DESTDIR)$(LIBDIR)/
	for l in libkeycard libkeycard-sim; do \
		ln -sf $$l.so.$(SOFULL) $(DESTDIR)$(LIBDIR)/$$l.so.$(SOVERSION); \
		ln -sf $$l.so.$(SOFULL) $(DESTDIR)$(LIBDIR)/$$l.so; done
	install -m 0644 include/keycard.h include/keycard_proto.h include/keycard_sim.h \
		$(DESTDIR)$(INCLUDEDIR)/
	for p in keycard keycard-sim; do \
		sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
		    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(SOFULL)|g' $$p.pc.in \
		    > $(DESTDIR)$(PKGCONFIGDIR)/$$p.pc; done
	install -m 0755 $(INST_BINS) $(DESTDIR)$(BINDIR)/
	for m in $(MANPAGES); do \
		sed 's|docs/\([a-z-]*\.md\)|$(DOCDIR)/\1|g' $$m > $(DESTDIR)$(MANDIR)/man1/$$(basename $$m); \
		chmod 0644 $(DESTDIR)$(MANDIR)/man1/$$(basename $$m); done
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/
	install -m 0644 completions/keycard.bash $(DESTDIR)$(BASHCOMPDIR)/kc-admin
	for t in $(filter-out kc-admin,$(COMPLETED)); do ln -sf kc-admin $(DESTDIR)$(BASHCOMPDIR)/$$t; done
	if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libkeycard.so* $(DESTDIR)$(LIBDIR)/libkeycard-sim.so* \
	      $(DESTDIR)$(INCLUDEDIR)/keycard.h $(DESTDIR)$(INCLUDEDIR)/keycard_sim.h \
	      $(DESTDIR)$(INCLUDEDIR)/keycard_proto.h $(DESTDIR)$(PKGCONFIGDIR)/keycard.pc \
	      $(DESTDIR)$(PKGCONFIGDIR)/keycard-sim.pc
	for b in $(notdir $(BINS)); do rm -f $(DESTDIR)$(BINDIR)/$$b; done
	for m in $(MANPAGES); do rm -f $(DESTDIR)$(MANDIR)/man1/$$(basename $$m); done
	for d in $(DOCS); do rm -f $(DESTDIR)$(DOCDIR)/$$(basename $$d); done
	for t in $(COMPLETED); do rm -f $(DESTDIR)$(BASHCOMPDIR)/$$t; done
	-rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null

clean:
	rm -rf $(B)

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# Hardening suites keep their rules beside their sources.
-include tests/fuzz/fuzz.mk
-include tests/bench/bench.mk
-include examples/reader-station/station.mk
