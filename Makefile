# fcgi-bridge: GNU make.  `make` builds ./fcgi-bridge, `make check` installs
# what the tests need and runs them all, `make check SANITIZE=1` does the
# same with ASan and UBSan.

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
LDLIBS += -lm

ifeq ($(SANITIZE),1)
FLAVOR = asan
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
FLAVOR = plain
SANFLAGS =
endif
BUILD = build/$(FLAVOR)
ALL_CFLAGS = -std=c11 $(WARNFLAGS) $(CFLAGS) $(SANFLAGS)

SRCS = src/main.c src/fcgi.c src/addr.c src/cgi.c src/client.c src/ev.c src/serve.c src/bench.c src/util.c \
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

$(BUILD)/fcgi_test: tests/unit/fcgi_test.c src/fcgi.c src/fcgi.h | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS) -o $@ tests/unit/fcgi_test.c src/fcgi.c

unit: $(BUILD)/fcgi_test

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
check: deps
	scripts/check-self-contained
	$(MAKE) fcgi-bridge unit
	tests/run $(BUILD)/fcgi_test

fuzz:
	clang -g -O1 -fsanitize=fuzzer,address,undefined $(CPPFLAGS) \
	    -o build/fcgi_fuzz tests/fuzz/fcgi_fuzz.c src/fcgi.c
	mkdir -p build/fuzz-corpus
	build/fcgi_fuzz -max_total_time=$${FUZZ_SECONDS:-60} build/fuzz-corpus \
	    tests/captures

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
	rm -rf build fcgi-bridge

FORCE:

.PHONY: all unit deps demo check fuzz install lint clean FORCE
