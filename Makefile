# fcgi-bridge: GNU make.  `make` builds ./fcgi-bridge, `make static` a
# fully static ./fcgi-bridge-static, `make check` installs what the tests
# need and runs them all, `make check SANITIZE=1` does the same with ASan
# and UBSan.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
WARNFLAGS = -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes
CPPFLAGS += -D_GNU_SOURCE -iquote src
# libbsd is linked statically: one shared library less to map at start-up.
LIBBSD ?= -Wl,-Bstatic -lbsd -lmd -Wl,-Bdynamic
# liburing: bench's io_uring engine (liburing-dev).
LDLIBS += -luring -lz -lm

ifeq ($(SANITIZE),1)
FLAVOR = asan
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
FLAVOR = plain
SANFLAGS =
endif
BUILD = build/$(FLAVOR)
ALL_CFLAGS = -std=c11 $(WARNFLAGS) $(CFLAGS) $(SANFLAGS)

SRCS = src/main.c src/fcgi.c src/addr.c src/cgi.c src/client.c src/ev.c src/serve.c src/serve_server.c src/serve_conn.c \
	src/serve_req.c src/serve_body.c src/serve_script.c src/serve_child.c \
	src/serve_sched.c src/serve_status.c src/bench.c src/bench_uring.c \
	src/bench_report.c \
	src/hdr.c src/json.c src/util.c \
	src/spawn.c src/reqspec.c src/cgifcgi.c
OBJS = $(SRCS:src/%.c=$(BUILD)/%.o)

all: fcgi-bridge

# The binary is relinked every time so that a SANITIZE=1 build and a plain
# one never stand in for each other.
fcgi-bridge: $(OBJS) FORCE
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(LIBBSD) $(LDLIBS)

$(BUILD)/%.o: src/%.c src/*.h | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS) -c -o $@ $<

$(BUILD):
	mkdir -p $@

# Each unit test is its file under tests/unit, the TAP harness, and the
# sources it tests.
UNIT_TESTS = $(BUILD)/fcgi_test $(BUILD)/cgi_test $(BUILD)/addr_test \
	$(BUILD)/hdr_test
TAP = tests/unit/tap.c tests/unit/tap.h

$(BUILD)/fcgi_test: tests/unit/fcgi_test.c $(TAP) src/fcgi.c src/fcgi.h | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS) -o $@ tests/unit/fcgi_test.c \
	    tests/unit/tap.c src/fcgi.c

$(BUILD)/cgi_test: tests/unit/cgi_test.c $(TAP) src/cgi.c src/fcgi.c src/*.h \
    | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS) -o $@ tests/unit/cgi_test.c \
	    tests/unit/tap.c src/cgi.c src/fcgi.c $(LIBBSD) $(LDLIBS)

$(BUILD)/addr_test: tests/unit/addr_test.c $(TAP) src/addr.c src/util.c \
    src/*.h | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS) -o $@ tests/unit/addr_test.c \
	    tests/unit/tap.c src/addr.c src/util.c $(LIBBSD) $(LDLIBS)

$(BUILD)/hdr_test: tests/unit/hdr_test.c $(TAP) src/hdr.c src/json.c src/*.h \
    | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS) -o $@ tests/unit/hdr_test.c \
	    tests/unit/tap.c src/hdr.c src/json.c -lz -lm

unit: $(UNIT_TESTS)

# ./fcgi-bridge-static runs where there is no C library (a scratch image,
# a chroot).  It is linked with musl (musl-gcc, from musl-tools), not
# glibc: glibc's static getaddrinfo and getpwnam load glibc's shared NSS
# modules at run time, and its static NSS crashed on an unknown user,
# where musl reads /etc/hosts, resolv.conf, /etc/passwd and /etc/group
# itself.  libbsd is built for glibc alone, so src/compat gives this
# build, and only this one, what musl lacks of it (strtonum, closefrom,
# getprogname, pidfile_*) under libbsd's header names, and W_EXITCODE.
# musl-gcc searches musl's headers and libraries only: the kernel's
# headers (linux/sockios.h), zlib's and liburing's come through links in
# $(STATIC_BUILD)/include, and Debian's libz.a and liburing.a are linked
# by their paths (zlib calls only malloc, free and the mem* functions,
# liburing only calloc, free and __stack_chk_fail, which musl has; it
# makes its system calls itself), so the static binary has bench's
# io_uring engine too.  No sanitizers here.
MUSL_CC ?= musl-gcc
STATIC_BUILD = build/static
STATIC_OBJS = $(SRCS:src/%.c=$(STATIC_BUILD)/%.o) \
	$(STATIC_BUILD)/compat/libbsd.o
STATIC_CPPFLAGS = $(CPPFLAGS) -I src/compat -isystem $(STATIC_BUILD)/include
KERNEL_ASM = /usr/include/$(shell $(MUSL_CC) -print-multiarch)/asm
ZLIB_A = $(shell $(CC) -print-file-name=libz.a)
URING_A = $(shell $(CC) -print-file-name=liburing.a)

static:
	@command -v $(MUSL_CC) >/dev/null || { echo "make static: $(MUSL_CC)" \
	    "not found: scripts/install-deps --static installs it" >&2; exit 1; }
	$(MAKE) fcgi-bridge-static

fcgi-bridge-static: $(STATIC_OBJS)
	$(MUSL_CC) -static -std=c11 $(WARNFLAGS) $(CFLAGS) $(LDFLAGS) \
	    -o $@ $(STATIC_OBJS) $(URING_A) $(ZLIB_A) -lm

$(STATIC_BUILD)/%.o: src/%.c src/*.h src/compat/*/*.h \
    | $(STATIC_BUILD)/include $(STATIC_BUILD)/include/liburing.h \
    $(STATIC_BUILD)/compat
	$(MUSL_CC) -std=c11 $(WARNFLAGS) $(CFLAGS) $(STATIC_CPPFLAGS) -c -o $@ $<

$(STATIC_BUILD)/compat:
	mkdir -p $@

$(STATIC_BUILD)/include:
	mkdir -p $@
	ln -sfn /usr/include/linux $@/linux
	ln -sfn /usr/include/asm-generic $@/asm-generic
	ln -sfn $(KERNEL_ASM) $@/asm
	ln -sfn /usr/include/zlib.h $@/zlib.h
	ln -sfn /usr/include/zconf.h $@/zconf.h

$(STATIC_BUILD)/include/liburing.h: | $(STATIC_BUILD)/include
	ln -sfn /usr/include/liburing $(STATIC_BUILD)/include/liburing
	ln -sfn /usr/include/liburing.h $@

# Fuzz targets: tests/fuzz/NAME_fuzz.c, with the sources each one tests;
# tests/fuzz/corpus/NAME holds its committed inputs (seeds, and every
# input that once found a defect).
FUZZ_TARGETS = fcgi serve cgi_response url addr urls cgifcgi_conf report
FUZZ_SRCS_fcgi = src/fcgi.c
FUZZ_SRCS_report = src/json.c src/hdr.c
FUZZ_SRCS_serve = src/serve.c $(filter src/serve_%.c,$(SRCS)) src/fcgi.c src/json.c \
	src/cgi.c src/ev.c src/util.c src/addr.c
FUZZ_SRCS_cgi_response = src/cgi.c src/fcgi.c
FUZZ_SRCS_url = src/cgi.c src/fcgi.c
FUZZ_SRCS_addr = src/addr.c src/util.c
FUZZ_SRCS_urls = src/bench.c src/bench_uring.c src/bench_report.c src/hdr.c src/json.c \
	src/addr.c src/cgi.c src/ev.c src/fcgi.c src/reqspec.c src/util.c
FUZZ_SRCS_cgifcgi_conf = src/cgifcgi.c src/client.c src/spawn.c src/addr.c \
	src/util.c src/fcgi.c src/cgi.c src/reqspec.c
# Inputs of up to 16 KiB still hold every record type, cut every way, and
# run some hundred times as many a second as the longest seeds (100 KiB
# of nginx upload): fcgi's target makes a dozen passes over its input,
# serve's a turn of serve's loop for each piece, a few system calls each.
FUZZ_FLAGS_fcgi = -max_len=16384
FUZZ_FLAGS_serve = -max_len=16384
FUZZ_REPLAYS = $(FUZZ_TARGETS:%=$(BUILD)/replay_%)

# `make check` replays each corpus with the compiler and sanitizers at
# hand: no clang needed.
.SECONDEXPANSION:
$(BUILD)/replay_%: tests/fuzz/%_fuzz.c tests/fuzz/replay.c $$(FUZZ_SRCS_$$*) \
    src/*.h | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS) -DFUZZ_NAME='"$*"' \
	    -DFUZZ_CORPUS='"tests/fuzz/corpus/$*"' -o $@ tests/fuzz/replay.c \
	    $< $(FUZZ_SRCS_$*) $(LIBBSD) $(LDLIBS)

build/fuzz/%_fuzz: tests/fuzz/%_fuzz.c $$(FUZZ_SRCS_$$*) src/*.h
	mkdir -p build/fuzz
	clang -g -O1 -fsanitize=fuzzer,address,undefined $(CPPFLAGS) \
	    -o $@ $< $(FUZZ_SRCS_$*) -lbsd -luring -lz -lm

deps:
	@scripts/install-deps

# Starts serve with an example CGI, asks it with request, stops it.
demo: deps
	$(MAKE) fcgi-bridge
	scripts/demo

# With SANITIZE=1 the tests run the binary and the unit tests with these
# options, unless the environment already sets them: any report, a leak
# included, ends the process with an error, and the test that ran it fails.
ifeq ($(SANITIZE),1)
check: export ASAN_OPTIONS ?= detect_leaks=1:halt_on_error=1
check: export UBSAN_OPTIONS ?= halt_on_error=1:print_stacktrace=1
endif

# scripts/check-self-contained fails when a tracked file refers to a
# directory beside the checkout: the tests need nothing outside it.
# musl-tools, for tests/static.bats (which runs `make static`), is
# installed too where it can be; where it cannot (no root, not Debian),
# those tests are skipped and say why.
check: deps
	-scripts/install-deps --static
	scripts/check-self-contained
	$(MAKE) fcgi-bridge unit $(FUZZ_REPLAYS)
	tests/run $(UNIT_TESTS) $(FUZZ_REPLAYS)

# Runs each target for FUZZ_SECONDS (default 60) with libFuzzer, from its
# committed corpus; what it finds new goes to build/fuzz/corpus/NAME, and a
# crash to build/fuzz/crash-*.  Needs clang (scripts/install-deps --fuzz).
fuzz:
	scripts/install-deps --fuzz
	$(MAKE) $(FUZZ_TARGETS:%=build/fuzz/%_fuzz)
	set -e; $(foreach t,$(FUZZ_TARGETS),mkdir -p build/fuzz/corpus/$(t); \
	    build/fuzz/$(t)_fuzz -max_total_time=$${FUZZ_SECONDS:-60} \
	        $(FUZZ_FLAGS_$(t)) -close_fd_mask=2 -artifact_prefix=build/fuzz/ \
	        -print_final_stats=1 build/fuzz/corpus/$(t) \
	        tests/fuzz/corpus/$(t);)

# INSTALL_CGI_FCGI_LINK=1 also installs a cgi-fcgi link to fcgi-bridge,
# which then takes cgi-fcgi's command line: a drop-in replacement.
install: fcgi-bridge
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 fcgi-bridge $(DESTDIR)$(BINDIR)/fcgi-bridge
	install -m 644 man/fcgi-bridge.1 $(DESTDIR)$(MANDIR)/man1/fcgi-bridge.1
	if [ "$(INSTALL_CGI_FCGI_LINK)" = 1 ]; then \
	    ln -sf fcgi-bridge $(DESTDIR)$(BINDIR)/cgi-fcgi; fi

lint:
	mandoc -Tlint -Wwarning man/fcgi-bridge.1

clean:
	rm -rf build fcgi-bridge fcgi-bridge-static

FORCE:

.PHONY: all unit static deps demo check fuzz install lint clean FORCE
