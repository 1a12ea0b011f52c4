# cairn: crash-safe, append-only, signed journal for backup and restore runs.
# Plain GNU make. `make help` lists the targets.

VERSION   := 0.1.0
SOVERSION := 0
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
LIBDIR    ?= $(PREFIX)/lib
INCDIR    ?= $(PREFIX)/include
MANDIR    ?= $(PREFIX)/share/man
PCDIR     ?= $(LIBDIR)/pkgconfig
DESTDIR   ?=

BUILD     ?= build
CC        ?= cc
OPT       ?= -O2 -g
SAN       ?=
WARN      := -std=c11 -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion \
             -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wcast-qual \
             -Wformat=2 -Wundef -Wwrite-strings -Wswitch-enum \
             -Wimplicit-fallthrough -Werror
CPPFLAGS  += -D_GNU_SOURCE -Iinclude -Ilib
DEPFLAGS  := -MMD -MP
ALL_CFLAGS = $(WARN) $(OPT) $(SAN) $(CFLAGS)
LIBS      := -llmdb -lsodium -ljansson -lzstd -lpthread
TEST_LIBS := -lcmocka

LIB_SRC   := $(sort $(wildcard lib/*/*.c))
LIB_HDR   := $(sort $(wildcard lib/*/*.h))
CMD_SRC   := $(sort $(wildcard cmd/*.c))
TEST_SRC  := $(sort $(wildcard tests/test_*.c))
TESTUTIL  := tests/testutil.c
FUZZ_SRC  := $(sort $(wildcard fuzz/fuzz_*.c))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
CMD_OBJ   := $(CMD_SRC:%.c=$(BUILD)/%.o)
TEST_BIN  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
REPLAY_BIN:= $(FUZZ_SRC:fuzz/fuzz_%.c=$(BUILD)/fuzz/replay_%)

STATIC    := $(BUILD)/libcairn.a
SHARED    := $(BUILD)/libcairn.so.$(VERSION)
SONAME    := libcairn.so.$(SOVERSION)
CLI       := $(BUILD)/cairn

.PHONY: all check test san fuzz fuzz-build demo crash bench deps deps-check install \
        uninstall clean format format-check check-layers check-env help \
        check-symbols check-docs check-deps

all: $(STATIC) $(SHARED) $(CLI) $(BUILD)/cairn.pc

help:
	@echo "make            build libcairn.a, libcairn.so, the cairn CLI, cairn.pc"
	@echo "make deps       install the Debian packages cairn and its suites need"
	@echo "make check      the whole test suite: unit, scenario, CLI, tamper, fuzz"
	@echo "                corpus replay, then all of it again under ASan+UBSan"
	@echo "make test       the suite once, without sanitizers (fast iteration)"
	@echo "make check-symbols  libcairn.so exports exactly lib/symbols.txt"
	@echo "make check-docs     every cited docs/DESIGN.md section exists"
	@echo "make san        the suite under ASan+UBSan only"
	@echo "make fuzz       build libFuzzer targets; FUZZ_SECONDS=N runs each N s"
	@echo "make demo       the main job: backup, crash, resume, verify, restore"
	@echo "make crash      the long crash and fault-injection suite (minutes)"
	@echo "make bench      benchmarks against LMDB, SHA-256, SQLite and JSON peers"
	@echo "make install    PREFIX=/usr/local DESTDIR= (also uninstall)"

$(BUILD)/lib/%.o: lib/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(DEPFLAGS) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -DCAIRN_BUILDING -c $< -o $@

$(BUILD)/cmd/%.o: cmd/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(DEPFLAGS) -Icmd $(ALL_CFLAGS) -c $< -o $@

$(STATIC): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(SHARED): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) $(SAN) -o $@ $^ $(LIBS)
	ln -sf libcairn.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libcairn.so

# Header dependencies of every object, written by the compiler (-MMD -MP).
-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d)

$(CLI): $(CMD_OBJ) $(STATIC)
	$(CC) $(SAN) -o $@ $(CMD_OBJ) $(STATIC) $(LIBS)

$(BUILD)/cairn.pc: cairn.pc.in Makefile
	@mkdir -p $(BUILD)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCDIR@|$(INCDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

$(BUILD)/tests/%: tests/%.c $(TESTUTIL) $(wildcard tests/*.h tests/*/*.h) tests/model.c $(LIB_HDR) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests $(ALL_CFLAGS) -Wno-missing-prototypes -o $@ $< $(TESTUTIL) $(STATIC) $(LIBS) $(TEST_LIBS)

$(BUILD)/fuzz/replay_%: fuzz/fuzz_%.c fuzz/replay.c $(LIB_HDR) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< fuzz/replay.c $(STATIC) $(LIBS)

CRASH_SRC   := $(sort $(wildcard tests/crash/crash_*.c))
CRASH_BIN   := $(BUILD)/tests/crash/crash
CRASH_SHIMS := $(BUILD)/tests/crash/shim.so $(BUILD)/tests/crash/mshim.so \
               $(BUILD)/tests/crash/pshim.so
CRASH_SCALE ?= 10

$(CRASH_BIN): $(CRASH_SRC) tests/crash/crash.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/crash $(ALL_CFLAGS) -o $@ $(CRASH_SRC) $(STATIC) $(LIBS) -ldl

# LD_PRELOAD shims of the CLI tests (tests/shims/), also without $(SAN).
TEST_SHIMS := $(BUILD)/tests/shims/nokeyring.so $(BUILD)/tests/shims/killrename.so

$(BUILD)/tests/shims/%.so: tests/shims/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(OPT) $(CFLAGS) -fPIC -shared -o $@ $< -ldl

# Shims are preloaded ahead of any sanitizer runtime: never built with $(SAN).
$(BUILD)/tests/crash/shim.so: tests/crash/shim.c tests/crash/shim_io.c tests/crash/shim.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(OPT) $(CFLAGS) -fPIC -shared -o $@ tests/crash/shim.c tests/crash/shim_io.c -ldl

$(BUILD)/tests/crash/pshim.so: tests/crash/pshim.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(OPT) $(CFLAGS) -fPIC -shared -o $@ $< -ldl

$(BUILD)/tests/crash/mshim.so: tests/crash/mshim.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(OPT) $(CFLAGS) -fPIC -shared -o $@ $<

# The exports of libcairn.so are exactly lib/symbols.txt.
check-symbols: $(SHARED)
	@sh scripts/check-symbols.sh $(BUILD)/libcairn.so lib/symbols.txt

# Every "docs/DESIGN.md section N" cited in the tree exists there.
check-docs:
	@sh scripts/check-docs.sh

# The suite once, in $(BUILD).
test: all check-symbols check-docs check-deps $(TEST_BIN) $(REPLAY_BIN) $(CRASH_BIN) $(CRASH_SHIMS) $(TEST_SHIMS)
	@BUILD=$(BUILD) sh tests/run.sh

# The suite under AddressSanitizer and UndefinedBehaviorSanitizer.
san:
	@CAIRN_FUZZ_SMOKE=0 $(MAKE) --no-print-directory BUILD=build-san \
	    OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" test

check: deps-check format-check check-layers check-env
	@$(MAKE) --no-print-directory test
	@$(MAKE) --no-print-directory san

# Debian packages: scripts/deps.sh runs apt-get install for what is missing
# (as root, or through sudo), or names it and fails.
deps:
	@sh scripts/deps.sh install

deps-check:
	@sh scripts/deps.sh check

FUZZ_SECONDS ?= 0
fuzz-build:
	@mkdir -p build-fuzz
	@for f in $(FUZZ_SRC); do \
	    n=$$(basename $$f .c); n=$${n#fuzz_}; \
	    $(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT="-O1 -g" \
	        SAN="-fsanitize=fuzzer-no-link,address,undefined" build-fuzz/libcairn.a || exit 1; \
	    clang $(CPPFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined \
	        -o build-fuzz/fuzz_$$n $$f build-fuzz/libcairn.a $(LIBS) || exit 1; \
	done

fuzz: fuzz-build
	@sh fuzz/run.sh $(FUZZ_SECONDS)

demo: deps-check all
	@sh examples/demo.sh $(BUILD)/cairn

# Benchmarks against the physical limits and peers (docs/PERFORMANCE.md).
bench: deps-check all
	@sh bench/run.sh $(BUILD)

# The long crash and fault-injection suite (docs/DURABILITY.md).
crash: deps-check all $(CRASH_BIN) $(CRASH_SHIMS)
	CAIRN_CRASH_SCALE=$(CRASH_SCALE) $(CRASH_BIN) --perturb --cli $(CLI)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) \
	    $(DESTDIR)$(PCDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	install -m 0755 $(CLI) $(DESTDIR)$(BINDIR)/cairn
	install -m 0644 $(STATIC) $(DESTDIR)$(LIBDIR)/libcairn.a
	install -m 0755 $(SHARED) $(DESTDIR)$(LIBDIR)/libcairn.so.$(VERSION)
	ln -sf libcairn.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libcairn.so
	install -m 0644 include/cairn.h $(DESTDIR)$(INCDIR)/cairn.h
	install -m 0644 $(BUILD)/cairn.pc $(DESTDIR)$(PCDIR)/cairn.pc
	install -m 0644 docs/cairn.1 $(DESTDIR)$(MANDIR)/man1/cairn.1
	install -m 0644 docs/cairn-plan.5 $(DESTDIR)$(MANDIR)/man5/cairn-plan.5

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/cairn $(DESTDIR)$(LIBDIR)/libcairn.a \
	    $(DESTDIR)$(LIBDIR)/libcairn.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	    $(DESTDIR)$(LIBDIR)/libcairn.so $(DESTDIR)$(INCDIR)/cairn.h \
	    $(DESTDIR)$(PCDIR)/cairn.pc $(DESTDIR)$(MANDIR)/man1/cairn.1 \
	    $(DESTDIR)$(MANDIR)/man5/cairn-plan.5

format:
	clang-format -i include/*.h lib/*/*.c lib/*/*.h cmd/*.c cmd/*.h tests/*.c tests/*.h fuzz/*.c bench/*.c bench/*.h

# lib/ reads no environment variable (options at open; the CLI reads them).
check-env:
	@sh scripts/check-env.sh

# A file of lib/ includes only its own layer and the layers below it.
check-layers:
	@sh scripts/check-layers.sh

# No arrow (include or symbol) runs back up, no circle spans folders, and
# verify/ links no transition code: scripts/layers.py on the built objects.
check-deps: all
	@python3 scripts/layers.py --check . $(BUILD)

format-check:
	@clang-format --dry-run --Werror include/*.h lib/*/*.c lib/*/*.h cmd/*.c cmd/*.h tests/*.c tests/*.h fuzz/*.c bench/*.c bench/*.h

clean:
	rm -rf build build-san build-fuzz demo-out
