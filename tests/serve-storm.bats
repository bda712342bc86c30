#!/usr/bin/env bats
# Seeded, randomized upload storms against fcgi-bridge serve: many POSTs at
# once, with bodies of random sizes in records of random sizes, multiplexed
# and kept-alive connections, some aborted or hung up, while few CGI slots
# (-c) make most requests wait.  Every body must reach its CGI whole and in
# order: sum.cgi answers with the byte count and FNV-1a 64 of what it read,
# and tests/lib/upload-storm.py (or curl through nginx) compares them with
# what was sent.  This is the test that catches a body dropped or cut
# while its request waits for a slot.
#
# Every storm prints its seed and its summary line; a failure prints the
# command that replays it.  STORM_SEED=S replays the random-seed test.
#
# setup_file builds sum.cgi into "$FB_TMP/cgi"; each test starts its own
# serve (and nginx) and teardown stops them by PID.

load lib/helpers
load lib/serve

STORM="$FB_LIB/upload-storm.py"

# build_sum_cgi DEST: the storm's CGI.  It reads its standard input to EOF,
# in reads of at most 16 KiB, and answers "bytes=N fnv=HEX" (the FNV-1a 64
# of what it read), exit status 0.  QUERY_STRING "sleep=MS" makes it sleep
# before reading (its slot stays busy), "delay=US" between reads (a slow
# reader).
build_sum_cgi() {
	cat >"$FB_TMP/sum.c" <<'EOF'
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The number after NAME= in the query string, or 0. */
static long long
param(const char *qs, const char *name)
{
	size_t n = strlen(name);
	const char *p = qs;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, n) == 0 && p[n] == '=')
			return strtoll(p + n + 1, NULL, 10);
		if ((p = strchr(p, '&')) != NULL)
			p++;
	}
	return 0;
}

static void
pause_us(long long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int
main(void)
{
	static unsigned char buf[16384];
	const char *qs = getenv("QUERY_STRING"), *err = NULL;
	long long delay, sleep_ms;
	unsigned long long n = 0;
	uint64_t h = 0xcbf29ce484222325ULL;
	ssize_t r;

	if (qs == NULL)
		qs = "";
	delay = param(qs, "delay");
	sleep_ms = param(qs, "sleep");
	if (sleep_ms > 0)
		pause_us(sleep_ms * 1000);
	for (;;) {
		r = read(0, buf, sizeof buf);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			err = strerror(errno);
			break;
		}
		if (r == 0)
			break;
		for (ssize_t i = 0; i < r; i++) {
			h ^= buf[i];
			h *= 0x100000001b3ULL;
		}
		n += (unsigned long long)r;
		if (delay > 0)
			pause_us(delay);
	}
	/* A read error shows in the answer, which then cannot match. */
	printf("Content-Type: text/plain\r\n\r\nbytes=%llu fnv=%016llx\n", n,
	    (unsigned long long)h);
	if (err != NULL)
		printf("read error: %s\n", err);
	return 0;
}
EOF
	timeout 60 cc -O2 -o "$1" "$FB_TMP/sum.c"
}

setup_file() {
	fb_tmp_create
	STORM_ROOT="$FB_TMP/cgi"
	SPOOL="$FB_TMP/spool"
	export STORM_ROOT SPOOL
	mkdir -p "$STORM_ROOT" "$SPOOL"
	build_sum_cgi "$STORM_ROOT/sum.cgi"
}

teardown_file() {
	fb_tmp_remove
}

teardown() {
	nginx_stop
	serve_stop "${OWN_PID:-}"
	OWN_PID=
}

# storm_serve NAME SERVE-ARGS...: serve on "$FB_TMP/NAME.sock" for
# "$STORM_ROOT", spooling bodies under "$SPOOL"; sets OWN_PID, STORM_SOCK,
# STORM_LOG.  -t 100: a request that waits long for a slot under a slow
# build is not a 504.
storm_serve() {
	local name=$1
	shift
	STORM_SOCK="$FB_TMP/$name.sock"
	TMPDIR="$SPOOL" serve_start "$STORM_SOCK" -r "$STORM_ROOT" -t 100 \
	    --grace 2 "$@" || return 1
	OWN_PID=$SERVE_PID
	STORM_LOG=$SERVE_LOG
}

# storm SEED STORM-ARGS...: upload-storm.py on "$STORM_SOCK" with sum.cgi;
# prints the seed, how to replay it, its failures and its summary line (on
# stdout: bats shows it when the test fails); sets STORM_OUT and
# STORM_SUMMARY.  Fails unless the storm passed, serve is still alive and
# nothing was left in the spool directory.
storm() {
	local seed=$1 rc
	shift
	echo "storm seed=$seed: replay with:"
	echo "  python3 $STORM --seed $seed $* --script $STORM_ROOT/sum.cgi" \
	    "unix:SOCK  (serve: $(tr '\0' ' ' <"/proc/$OWN_PID/cmdline"))"
	rc=0
	STORM_OUT=$(timeout 90 python3 "$STORM" --seed "$seed" \
	    --script "$STORM_ROOT/sum.cgi" -t 75 "$@" "unix:$STORM_SOCK") ||
	    rc=$?
	STORM_SUMMARY=$(grep '^storm seed=' <<<"$STORM_OUT" | head -n 1)
	grep -v '^storm seed=' <<<"$STORM_OUT" | head -n 40
	echo "$STORM_SUMMARY"
	if [ "$rc" -ne 0 ]; then
		echo "upload-storm.py exited $rc; serve's log (last 30 lines):"
		tail -n 30 "$STORM_LOG"
		return 1
	fi
	alive "$OWN_PID" || { echo "serve $OWN_PID is gone"; return 1; }
	[[ $STORM_SUMMARY == *" failed=0 "* ]] || return 1
	if [ -n "$(ls -A "$SPOOL")" ]; then
		echo "left in the spool directory:"
		ls -la "$SPOOL"
		return 1
	fi
}

# summary_field NAME: the value of NAME= in the last storm's summary line.
summary_field() {
	sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$STORM_SUMMARY"
}

# serve_clean_stop: stops the test's serve, then fails if its log has a
# sanitizer report (a SANITIZE=1 build reports leaks only at exit).
serve_clean_stop() {
	serve_stop "$OWN_PID"
	OWN_PID=
	if grep -E 'Sanitizer|runtime error:' "$STORM_LOG"; then
		return 1
	fi
}

# sum_request: one POST of "hello" on a new connection, checked.
sum_request() {
	local out
	out=$(raw -p REQUEST_METHOD=POST -p CONTENT_LENGTH=5 \
	    -p SCRIPT_FILENAME="$STORM_ROOT/sum.cgi" -p SCRIPT_NAME=/sum.cgi \
	    -p DOCUMENT_ROOT="$STORM_ROOT" -p QUERY_STRING= \
	    "unix:$STORM_SOCK" begin:1 params:1 stdin:1:hello \
	    read:END_REQUEST) || { echo "normal request failed: $out"; return 1; }
	[[ $out == *"bytes=5 fnv=a430d84680aabd0b"* ]] || {
		echo "normal request: $out"
		return 1
	}
	has_line "END_REQUEST id=1 app=0 proto=0" <<<"$out" || {
		echo "normal request: $out"
		return 1
	}
}

# fd_settles COUNT TENTHS: waits until serve has COUNT descriptors open.
fd_settles() {
	local i n
	for ((i = 0; i < $2; i++)); do
		n=$(fd_count "$OWN_PID")
		[ "$n" -eq "$1" ] && return 0
		sleep 0.1
	done
	echo "serve has $n descriptors open, $1 before the storm:"
	ls -l "/proc/$OWN_PID/fd"
	return 1
}

# ------------------------------------------------------------ storms

@test "storm -c 1: 100 uploads up to 3 MiB, mux 4, keep-alive (seed 1): every body arrives whole" {
	storm_serve c1 -c 1
	storm 1 -n 100 --max-body 3145728 --mux 4 --keep
	[ "$(summary_field ok)" -eq 100 ]
	sum_request
	serve_clean_stop
}

@test "storm -c 2 --no-adapt: 120 uploads up to 3 MiB, mux 4, keep-alive (seed 2): every body arrives whole" {
	storm_serve c2 -c 2 --no-adapt
	storm 2 -n 120 --max-body 3145728 --mux 4 --keep
	[ "$(summary_field ok)" -eq 120 ]
	sum_request
	serve_clean_stop
}

@test "storm -c 5: 150 uploads up to 3 MiB, mux 4, keep-alive (seed 3): every body arrives whole" {
	storm_serve c5 -c 5
	storm 3 -n 150 --max-body 3145728 --mux 4 --keep
	[ "$(summary_field ok)" -eq 150 ]
	sum_request
	serve_clean_stop
}

@test "storm -c 5 --no-adapt: 150 uploads up to 3 MiB, mux 4, keep-alive (seed 4): every body arrives whole" {
	storm_serve c5na -c 5 --no-adapt
	storm 4 -n 150 --max-body 3145728 --mux 4 --keep
	[ "$(summary_field ok)" -eq 150 ]
	sum_request
	serve_clean_stop
}

@test "storm -c 2 with 10% aborts and 10% hang-ups (seed 5): checked bodies whole, then no fd or child left" {
	local before
	storm_serve abort -c 2
	sum_request
	sleep 0.5	# for serve to close that connection
	before=$(fd_count "$OWN_PID")
	storm 5 -n 150 --max-body 3145728 --mux 4 --keep --abort-rate 0.1 \
	    --hangup-rate 0.1
	[ "$(summary_field aborted)" -gt 0 ]
	[ "$(summary_field hungup)" -gt 0 ]
	[ "$(summary_field ok)" -gt 0 ]
	sum_request
	fd_settles "$before" 100
	wait_no_children "$OWN_PID" 100 || {
		echo "serve still has children:"
		children_of "$OWN_PID"
		return 1
	}
	serve_clean_stop
}

@test "storm with a fresh seed (STORM_SEED=S replays it): -c 3, mux 4, keep-alive, 5% aborts and hang-ups" {
	local seed=${STORM_SEED:-$(($(date +%s%N) % 1000000007))}
	echo "# storm seed $seed (STORM_SEED=$seed to replay)" >&3
	storm_serve fresh -c 3
	storm "$seed" -n 100 --max-body 3145728 --mux 4 --keep \
	    --abort-rate 0.05 --hangup-rate 0.05
	echo "# $STORM_SUMMARY" >&3
	sum_request
	serve_clean_stop
}

# ------------------------------------------------------------ nginx

# nginx_storm C SEED N: serve -c C behind nginx; N bodies from SEED (0 to
# 2 MiB) POSTed by curl, 20 at once, alternately to /sum.cgi (request body
# unbuffered) and /keep/sum.cgi (buffered, kept-alive upstream); every
# answer must be 200 with the body's count and FNV-1a.
nginx_storm() {
	local c=$1 seed=$2 n=$3 dir="$FB_TMP/bodies-$2" name size fnv query
	local i=0 loc url code got bad=0
	storm_serve "nginx-c$c" -c "$c"
	nginx_start "$STORM_ROOT" "$STORM_SOCK"
	echo "nginx storm seed=$seed: bodies from" \
	    "python3 $STORM --make-bodies DIR --seed $seed -n $n --max-body 2097152 --slow-rate 0.2"
	timeout 60 python3 "$STORM" --make-bodies "$dir" --seed "$seed" \
	    -n "$n" --max-body 2097152 --slow-rate 0.2 >"$dir.list"
	[ "$(wc -l <"$dir.list")" -eq "$n" ]
	while read -r name size fnv query; do
		loc=/
		((i++ % 2)) && loc=/keep/
		url="$NGINX_URL${loc}sum.cgi"
		[ "$query" != - ] && url+="?$query"
		echo "$name $url"
	done <"$dir.list" >"$dir.jobs"
	timeout 150 xargs -P 20 -L 1 bash -c '
	    curl -sS --noproxy "*" --max-time 90 -o "$0/$1.out" \
		-w "%{http_code}" -H "Content-Type: application/octet-stream" \
		--data-binary "@$0/$1" "$2" >"$0/$1.code" 2>"$0/$1.err"
	    exit 0' "$dir" <"$dir.jobs"
	while read -r name size fnv query; do
		code=$(cat "$dir/$name.code" 2>/dev/null)
		got=$(cat "$dir/$name.out" 2>/dev/null)
		if [ "$code" != 200 ] || [ "$got" != "bytes=$size fnv=$fnv" ]; then
			bad=$((bad + 1))
			echo "FAIL seed=$seed $name ($(grep -F "$name " "$dir.jobs" |
			    cut -d' ' -f2)): expected 200 'bytes=$size fnv=$fnv'," \
			    "got $code '${got:0:200}' $(cat "$dir/$name.err" 2>/dev/null)"
		fi
	done <"$dir.list"
	echo "nginx storm seed=$seed -c $c requests=$n failed=$bad"
	if [ "$bad" -ne 0 ]; then
		echo "nginx's error log (last 20 lines):"
		tail -n 20 "$NGINX_ERRLOG"
		echo "serve's log (last 20 lines):"
		tail -n 20 "$STORM_LOG"
		return 1
	fi
	alive "$OWN_PID"
	nginx_stop
	serve_clean_stop
}

@test "nginx, serve -c 1: 50 curl uploads up to 2 MiB, 20 at once, buffered and not (seed 11): all 200 and whole" {
	nginx_storm 1 11 50
}

@test "nginx, serve -c 3: 60 curl uploads up to 2 MiB, 20 at once, buffered and not (seed 12): all 200 and whole" {
	nginx_storm 3 12 60
}
