#!/usr/bin/env bats
# Faults against fcgi-bridge serve (and its clients): clients that send
# half a record and stop, a burst of 500 connections, a client that
# vanishes in the middle of a large answer, a CGI that leaves a process
# holding its output while the client reads slowly, a CGI that closes its
# output and runs on, descriptors running out, SIGTERM under load, memory
# under 50 concurrent uploads; and, on the client side, a responder that
# sends records after FCGI_END_REQUEST or for another request id, and
# bench against a responder that dies in the middle of the run.
#
# Each serve test ends with still_serves: serve is alive and a normal
# request on a new connection is answered.  The massed and misbehaving
# clients are tests/lib/fault-clients.py (see its usage).
#
# setup_file writes the CGIs; every test starts its own serve (OWN_PID),
# which teardown stops by PID.

load lib/helpers
load lib/serve

FAULTS="$FB_LIB/fault-clients.py"

setup_file() {
	cgis_setup_file
	# The interpreter itself, not a version manager's shim: the start-up
	# of a shim can take seconds on a loaded machine.
	PY=$(python3 -c 'import sys; print(sys.executable)')
	export PY
	# Sleeps 1 s, then answers "slept 1".
	shell_cgi "$CGI_ROOT/sleep1.cgi" <<'EOF'
#!/bin/sh
sleep 1
printf 'Content-Type: text/plain\r\n\r\nslept 1\n'
EOF
	# Waits (30 s at most) for the file $RUN/QUERY_STRING.gate, then
	# sleeps 1.5 s and answers "slept 1.5".
	shell_cgi "$CGI_ROOT/gate.cgi" <<EOF
#!/bin/sh
i=0
while [ ! -e "$RUN/\$QUERY_STRING.gate" ] && [ \$i -lt 300 ]; do
	sleep 0.1
	i=\$((i + 1))
done
sleep 1.5
printf 'Content-Type: text/plain\r\n\r\nslept 1.5\n'
EOF
	# Answers, closes its standard output (not its standard error), and
	# runs on for 4 s, then exits 0.
	shell_cgi "$CGI_ROOT/closeout.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\nbefore the close\n'
exec >&-
sleep 4
exit 0
EOF
	# Headers, a background process that keeps its standard output open
	# (its PID in $RUN/leave1m.pid), then 1 MiB of bin.cgi's pattern.
	shell_cgi "$CGI_ROOT/leave1m.cgi" <<EOF
#!/bin/sh
printf 'Content-Type: application/octet-stream\r\n\r\n'
sleep 30 &
echo \$! >"$RUN/leave1m.pid.tmp"
mv "$RUN/leave1m.pid.tmp" "$RUN/leave1m.pid"
exec "$CGI_ROOT/bin.cgi" raw=1048576
EOF
	build_slowsum_cgi "$CGI_ROOT/slowsum.cgi"
}

teardown_file() {
	fb_tmp_remove
}

# Stops the test's serve; fails when its log has a sanitizer report (a
# SANITIZE=1 build reports leaks only at exit).
teardown() {
	[ -n "${OWN_PID:-}" ] && serve_stop "$OWN_PID"
	OWN_PID=
	local f
	for f in "$RUN"/*.pid; do
		[ -f "$f" ] && stop_pid "$(cat "$f")"
		rm -f "$f"
	done
	if [ -n "${SOCK:-}" ] && [ -f "$SOCK.log" ] &&
	    grep -E 'Sanitizer|runtime error:' "$SOCK.log"; then
		return 1
	fi
	return 0
}

# build_slowsum_cgi DEST: a C CGI that reads its standard input to EOF, 16
# KiB at a time with a 20 ms pause after each read (a slow reader), then
# answers "bytes=N fnv=HEX", the FNV-1a 64 of what it read.
build_slowsum_cgi() {
	cat >"$FB_TMP/slowsum.c" <<'EOF'
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

int
main(void)
{
	static unsigned char buf[16384];
	unsigned long long n = 0;
	uint64_t h = 0xcbf29ce484222325ULL;
	ssize_t r;

	for (;;) {
		r = read(0, buf, sizeof buf);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++) {
			h ^= buf[i];
			h *= 0x100000001b3ULL;
		}
		n += (unsigned long long)r;
		usleep(20000);
	}
	printf("Content-Type: text/plain\r\n\r\nbytes=%llu fnv=%016llx%s\n", n,
	    (unsigned long long)h, r == -1 ? " read-error" : "");
	return 0;
}
EOF
	timeout 60 cc -O2 -o "$1" "$FB_TMP/slowsum.c"
}

# own_serve NAME ARGS...: serve on $FB_TMP/NAME.sock for $CGI_ROOT, with
# --grace 2 unless ARGS say otherwise; sets SOCK and OWN_PID.
own_serve() {
	local name=$1
	shift
	SOCK="$FB_TMP/$name.sock"
	serve_start "$SOCK" -r "$CGI_ROOT" --grace 2 "$@" || return 1
	OWN_PID=$SERVE_PID
}

# faults ARGS...: tests/lib/fault-clients.py under a timeout.
faults() {
	timeout 120 "$PY" "$FAULTS" "$@"
}

# cgi_params SCRIPT [QUERY]: the -p options of a GET of $CGI_ROOT/SCRIPT.
cgi_params() {
	echo -p REQUEST_METHOD=GET -p GATEWAY_INTERFACE=CGI/1.1 \
	    -p SCRIPT_NAME="/$1" -p SCRIPT_FILENAME="$CGI_ROOT/$1" \
	    -p DOCUMENT_ROOT="$CGI_ROOT" -p QUERY_STRING="${2:-}"
}

# normal_request: `fcgi-bridge request` of bin.cgi?exit=0 on a new
# connection to $SOCK; prints how long it took (ms) and fails unless the
# answer is exactly its body, "exiting", with exit status 0.
normal_request() {
	local t0 out rc=0
	t0=$(now_ms)
	out=$(timeout "$T_CMD" "$FB" request -t 10 -r "$CGI_ROOT" \
	    "unix:$SOCK" '/bin.cgi?exit=0' 2>&1) || rc=$?
	echo "$(($(now_ms) - t0))"
	if [ "$rc" -ne 0 ] || [ "$out" != exiting ]; then
		echo "normal request: exit $rc, output: $out" >&2
		return 1
	fi
}

# normal_requests_at_once: three normal requests, one after the other,
# each answered within 2 s.
normal_requests_at_once() {
	local i ms
	for i in 1 2 3; do
		ms=$(normal_request) || return 1
		echo "# normal request $i: $ms ms" >&3
		[ "$ms" -lt 2000 ] || return 1
	done
}

# still_serves: serve ($OWN_PID) is alive and a normal request works.
still_serves() {
	alive "$OWN_PID" || {
		echo "serve $OWN_PID is gone; its log:" >&2
		tail -n 20 "$SOCK.log" >&2
		return 1
	}
	normal_request >/dev/null
}

# fd_settles PID COUNT TENTHS: waits until PID has COUNT descriptors open.
fd_settles() {
	local i n
	for ((i = 0; i < $3; i++)); do
		n=$(fd_count "$1")
		[ "$n" -eq "$2" ] && return 0
		sleep 0.1
	done
	echo "serve has $n descriptors open, $2 before:"
	ls -l "/proc/$1/fd"
	return 1
}

# cpu_ticks PID: user + system CPU time of PID, in clock ticks.
cpu_ticks() {
	local s
	s=$(cat "/proc/$1/stat")
	s=${s##*) }
	# After the command: state is field 3, utime 14 and stime 15.
	awk '{ print $12 + $13 }' <<<"$s"
}

# bg_record: records the PID of the last background job in "$FB_TMP/pids".
bg_record() {
	echo "$!" >>"$FB_TMP/pids"
}

# field NAME LINE: the number after NAME= in LINE.
field() {
	sed -n "s/.*[ /]$1=\([0-9.]*\).*/\1/p" <<<" $2"
}

# --------------------------------------------------------- slowloris

@test "slowloris: 100 connections with half a record header do not hold up normal requests, and --idle 2 closes them all" {
	local out="$FB_TMP/half.out" pid
	own_serve half --idle 2
	faults halfopen -t 15 --ready "$FB_TMP/half.ready" "unix:$SOCK" 100 4 \
	    >"$out" 2>&1 &
	pid=$!
	bg_record
	wait_for_file "$FB_TMP/half.ready" 300
	normal_requests_at_once
	wait_gone "$pid" 200
	sed 's/^/# /' "$out" >&3
	has_line 'HALF-OPEN 100/100' <"$out"
	grep -q '^HALF-EOF 100/100 ' "$out"
	# Closed by --idle: none before 2 s of silence, all within about 5 s.
	local line
	line=$(grep '^HALF-EOF' "$out")
	awk -v f="$(field first "$line")" -v l="$(field last "$line")" \
	    'BEGIN { exit !(f >= 1.9 && l <= 5.5) }'
	has_line 'HALF-ANSWERED 0 504=0 END=0' <"$out"
	still_serves
}

@test "slowloris: 100 requests stopped in the middle of a PARAMS header get a 504 at -t 2, and are then closed" {
	local out="$FB_TMP/halfp.out" pid line
	own_serve halfp -t 2 --idle 2
	faults halfopen -t 20 --in-params --ready "$FB_TMP/halfp.ready" \
	    "unix:$SOCK" 100 5 >"$out" 2>&1 &
	pid=$!
	bg_record
	wait_for_file "$FB_TMP/halfp.ready" 300
	normal_requests_at_once
	wait_gone "$pid" 250
	sed 's/^/# /' "$out" >&3
	has_line 'HALF-OPEN 100/100' <"$out"
	has_line 'HALF-ANSWERED 100 504=100 END=100' <"$out"
	# The 504 at -t, then the close: a connection without FCGI_KEEP_CONN
	# is closed once the rest of FCGI_STDIN has come, which it never does
	# here, so --idle closes it, at most 2 s after the 504.
	line=$(grep '^HALF-EOF 100/100 ' "$out")
	awk -v f="$(field first "$line")" -v l="$(field last "$line")" \
	    'BEGIN { exit !(f >= 1.9 && l <= 8) }'
	[ "$(grep -c '504 Gateway Timeout: the request did not arrive in time' \
	    "$SERVE_LOG")" -eq 100 ]
	still_serves
}

# ------------------------------------------------------------- burst

@test "burst: 500 connections at once against -c 2 -q 4 each end answered, OVERLOADED or closed; fds and children back after" {
	local out="$FB_TMP/burst.out" fd0 line ok ovl closed
	own_serve burst -c 2 -q 4
	still_serves
	wait_no_children "$OWN_PID" 50
	sleep 0.3	# for serve to close that request's connection
	fd0=$(fd_count "$OWN_PID")
	# shellcheck disable=SC2046
	faults burst -t 60 $(cgi_params sleep02.cgi) --expect slept \
	    "unix:$SOCK" 500 >"$out" 2>&1 || true
	sed 's/^/# /' "$out" | tail -n 25 >&3
	line=$(grep '^burst n=500 ' "$out")
	ok=$(field ok "$line")
	ovl=$(field overloaded "$line")
	closed=$(field closed "$line")
	[ $((ok + ovl + closed)) -eq 500 ]
	[ "$ok" -ge 1 ]
	[ "$(field refused "$line")" -eq 0 ]
	[ "$(field timeout "$line")" -eq 0 ]
	[ "$(field other "$line")" -eq 0 ]
	[[ $line != *http=* ]]
	wait_no_children "$OWN_PID" 100
	fd_settles "$OWN_PID" "$fd0" 100
	[ "$(zombie_count "$OWN_PID")" -eq 0 ]
	still_serves
}

# ---------------------------------------------------- vanishing client

@test "a client gone in the middle of a 50 MiB answer: the CGI is killed, no zombie, fds back" {
	local fd0 rawpid cgi i
	own_serve vanish
	still_serves
	wait_no_children "$OWN_PID" 50
	sleep 0.3
	fd0=$(fd_count "$OWN_PID")
	rm -f "$FB_TMP/vanish.go"
	# shellcheck disable=SC2046
	timeout 60 "$PY" "$RAW" -t 20 $(cgi_params bin.cgi bytes=52428800) \
	    "unix:$SOCK" req:1 read:STDOUT:10 waitfile:"$FB_TMP/vanish.go" \
	    close >/dev/null 2>&1 &
	rawpid=$!
	bg_record
	for ((i = 0; i < 100; i++)); do
		cgi=$(children_of "$OWN_PID" | awk '{ print $1; exit }')
		[ -n "$cgi" ] && break
		sleep 0.1
	done
	[ -n "$cgi" ]
	# The client reads no more: the CGI cannot finish, it is blocked
	# writing while serve holds back.
	sleep 1
	alive "$cgi"
	echo go >"$FB_TMP/vanish.go"
	wait_gone "$rawpid" 100
	proc_gone "$cgi" 50
	wait_no_children "$OWN_PID" 50
	fd_settles "$OWN_PID" "$fd0" 50
	still_serves
}

# ------------------------------------------- leftover, read slowly

@test "leftover: a CGI whose background process holds its stdout, 1 MiB read slowly: the whole 1 MiB arrives" {
	local out="$FB_TMP/leave1m.out" pid want seen=
	own_serve leave1m
	want=$("$CGI_ROOT/bin.cgi" raw=1048576 | md5_of -)
	# 4 KiB per 40 ms: about 10 s for the whole, so that the CGI has
	# exited, and its group been stopped 2 s later, long before the end.
	# shellcheck disable=SC2046
	faults slowread -t 90 --chunk 4096 --pause 0.04 \
	    $(cgi_params leave1m.cgi) "unix:$SOCK" >"$out" 2>&1 &
	pid=$!
	bg_record
	for ((i = 0; i < 600; i++)); do
		if grep -q 'leave1m.cgi: the CGI exited 2 s ago, but a process it started still holds its output open' \
		    "$SERVE_LOG"; then
			alive "$pid" && seen=while-reading
			break
		fi
		alive "$pid" || break
		sleep 0.1
	done
	wait_gone "$pid" 900
	sed 's/^/# /' "$out" >&3
	echo "# leftover stopped: ${seen:-not while the client was reading}" >&3
	[ "$seen" = while-reading ]
	grep -q "^SLOWREAD stdout=1048618 body=1048576 md5=$want end=0/0 eof=1 " \
	    "$out"
	proc_gone "$(cat "$RUN/leave1m.pid")" 50
	still_serves
}

# ---------------------------------------- stdout closed, CGI running

@test "a CGI that closes stdout and runs on 4 s: the answer ends, whole, with END_REQUEST once it exits" {
	local out line
	own_serve closeout
	# shellcheck disable=SC2046
	out=$(faults slowread -t 20 --pause 0 $(cgi_params closeout.cgi) \
	    "unix:$SOCK")
	echo "# $out" >&3
	line=$(grep '^SLOWREAD ' <<<"$out")
	[[ $line == "SLOWREAD stdout=45 body=17 "*" end=0/0 eof=1 "* ]]
	awk -v s="$(field seconds "$line")" 'BEGIN { exit !(s >= 3.8 && s < 12) }'
	wait_no_children "$OWN_PID" 30
	still_serves
}

@test "a CGI that closes stdout and runs on 4 s, with -t 1: the answer ends at the limit, the CGI killed" {
	local out line
	own_serve closeout-t1 -t 1
	# shellcheck disable=SC2046
	out=$(faults slowread -t 20 --pause 0 $(cgi_params closeout.cgi) \
	    "unix:$SOCK")
	echo "# $out" >&3
	line=$(grep '^SLOWREAD ' <<<"$out")
	# What it wrote stands; its status is that of SIGTERM (128 + 15).
	[[ $line == "SLOWREAD stdout=45 body=17 "*" end=143/0 eof=1 "* ]]
	awk -v s="$(field seconds "$line")" 'BEGIN { exit !(s >= 0.9 && s < 3.5) }'
	grep -q 'closeout.cgi: timed out after its headers' "$SERVE_LOG"
	wait_no_children "$OWN_PID" 30
	still_serves
}

# -------------------------------------------------- out of descriptors

@test "descriptors: serve limited to 64, 80 connections at once to a 1 s CGI: all wait their turn, no spin, then serves" {
	local out="$FB_TMP/nofile.out" pid c0 c1 line n accepts
	own_serve nofile
	prlimit --pid "$OWN_PID" --nofile=64:64
	# serve reads its limit again at every tick (5 a second).
	sleep 0.5
	# shellcheck disable=SC2046
	faults burst -t 60 --ready "$FB_TMP/nofile.ready" \
	    $(cgi_params sleep1.cgi) --expect 'slept 1' "unix:$SOCK" 80 \
	    >"$out" 2>&1 &
	pid=$!
	bg_record
	wait_for_file "$FB_TMP/nofile.ready" 300
	# 2 s of the overload, while the first CGIs sleep their second.
	c0=$(cpu_ticks "$OWN_PID")
	sleep 2
	c1=$(cpu_ticks "$OWN_PID")
	wait_gone "$pid" 700
	sed 's/^/# /' "$out" | tail -n 5 >&3
	echo "# serve's CPU over 2 s of overload: $((c1 - c0)) ticks of" \
	    "$(getconf CLK_TCK) per second" >&3
	sort "$SERVE_LOG" | uniq -c | sort -rn | head -n 5 | sed 's/^/# log: /' >&3
	line=$(grep '^burst n=80 ' "$out")
	# Each one answered (200 or a 5xx of serve's), or closed; none hangs.
	n=$(($(field ok "$line") + $(field overloaded "$line") + \
	    $(field closed "$line")))
	n=$((n + $(sed -n 's/.*http=//p' <<<"$line" | tr ',' '\n' |
	    awk -F: '{ s += $2 } END { print s + 0 }')))
	[ "$n" -eq 80 ]
	[ "$(field timeout "$line")" -eq 0 ]
	[ "$(field other "$line")" -eq 0 ]
	# serve shares its 64 descriptors between connections and CGIs, so
	# that every request is answered in turn; it says so, and does not
	# spin: under a fifth of a CPU, and no log line per turn of its loop.
	[ "$(field ok "$line")" -eq 80 ]
	grep -q 'the descriptor limit, 64, allows 24 connections and 4 CGIs at once' \
	    "$SERVE_LOG"
	[ $((c1 - c0)) -lt $(($(getconf CLK_TCK) * 2 / 5)) ]
	accepts=$(grep -c 'Too many open files' "$SERVE_LOG" || true)
	[ "$accepts" -lt 20 ]
	still_serves
}

@test "descriptors: too few to start any CGI, with none running: the request gets a 503 at once, then serves" {
	own_serve starved
	# Its own 8 or so and a connection leave no room for 3 pipes.
	prlimit --pid "$OWN_PID" --nofile=12:
	sleep 0.5
	run timeout "$T_CMD" "$FB" request -t 10 -r "$CGI_ROOT" "unix:$SOCK" \
	    '/bin.cgi?exit=0'
	echo "# $output" >&3
	[ "$status" -eq 0 ]
	[[ $output == *"503 Service Unavailable"* ]]
	grep -q 'bin.cgi: 503 Service Unavailable: no descriptors or processes to start the CGI with, and no CGI running to free any' \
	    "$SERVE_LOG"
	prlimit --pid "$OWN_PID" --nofile=1024:
	sleep 0.5
	still_serves
}

# ------------------------------------------------- SIGTERM under load

@test "SIGTERM with 20 requests running: all 20 get their whole answer, the socket file goes, exit 0" {
	local out="$FB_TMP/term20.out" pid i n st
	# The default --grace, 10 s.
	SOCK="$FB_TMP/term20.sock"
	serve_start "$SOCK" -r "$CGI_ROOT"
	OWN_PID=$SERVE_PID
	rm -f "$RUN/term20.gate"
	# The CGIs wait at the gate until serve has had its SIGTERM, then
	# sleep 1.5 s: all 20 are surely running when it comes.
	# shellcheck disable=SC2046
	faults burst -t 30 --ready "$FB_TMP/term20.ready" \
	    $(cgi_params gate.cgi term20) --expect 'slept 1.5' "unix:$SOCK" 20 \
	    >"$out" 2>&1 &
	pid=$!
	bg_record
	wait_for_file "$FB_TMP/term20.ready" 300
	for ((i = 0; i < 100; i++)); do
		n=$(child_count "$OWN_PID")
		[ "$n" -ge 20 ] && break
		sleep 0.1
	done
	echo "# CGIs running at SIGTERM: $n" >&3
	[ "$n" -eq 20 ]
	kill -TERM "$OWN_PID"
	touch "$RUN/term20.gate"
	for ((i = 0; i < 20; i++)); do
		[ -e "$SOCK" ] || break
		sleep 0.1
	done
	[ ! -e "$SOCK" ]
	wait_gone "$pid" 300
	wait_gone "$OWN_PID" 150
	st=0
	wait "$OWN_PID" || st=$?
	OWN_PID=
	sed 's/^/# /' "$out" >&3
	sed 's/^/serve log: /' "$SERVE_LOG"
	has_line 'burst n=20 ok=20 overloaded=0 closed=0 refused=0 timeout=0 other=0' \
	    <"$out"
	[ "$st" -eq 0 ]
	grep -q 'SIGTERM: no longer accepting; 20 CGIs running' "$SERVE_LOG"
	# It has stopped, as asked: a new one on the same socket serves.
	own_serve term20
	still_serves
}

# ------------------------------------------------------------ memory

@test "memory: 50 concurrent 2 MiB uploads to a slow reader with -c 50: every one arrives whole, peak RSS under 64 MiB" {
	local body="$FB_TMP/upload.bin" want i bad=0 hwm pids=()
	own_serve mem -c 50 -t 120
	head -c 2097152 /dev/urandom >"$body"
	want=$("$PY" -c 'import sys
h = 0xcbf29ce484222325
for b in open(sys.argv[1], "rb").read():
    h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
print("bytes=2097152 fnv=%016x" % h)' "$body")
	echo 5 >"/proc/$OWN_PID/clear_refs" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		timeout 120 "$FB" request -t 100 -X POST -d @"$body" \
		    -H 'Content-Type: application/octet-stream' \
		    -r "$CGI_ROOT" "unix:$SOCK" /slowsum.cgi \
		    >"$FB_TMP/upload.$i" 2>&1 &
		pids+=($!)
		echo "$!" >>"$FB_TMP/pids"
	done
	for ((i = 0; i < 50; i++)); do
		wait "${pids[$i]}" || echo "upload $i: exit $?"
		if [ "$(cat "$FB_TMP/upload.$i")" != "$want" ]; then
			bad=$((bad + 1))
			echo "upload $i: $(head -c 300 "$FB_TMP/upload.$i")"
		fi
	done
	hwm=$(vm_hwm_kb "$OWN_PID")
	echo "# 50 uploads: $bad not whole; serve VmHWM $hwm kB" >&3
	[ "$bad" -eq 0 ]
	if ! is_asan_build; then
		[ "$hwm" -lt 65536 ]
	fi
	still_serves
}

# ------------------------------------------------------ client side

# client_run CMD MODE: `fcgi-bridge CMD` against the fake responder in
# MODE (started here), stdout and stderr apart, within 10 s.
client_run() {
	fake_start "$2"
	local t0
	t0=$(now_ms)
	if [ "$1" = connect ]; then
		run --separate-stderr timeout 10 "$FB" connect -t 8 "$FAKE_ADDR" \
		    </dev/null
	else
		run --separate-stderr timeout 10 "$FB" request -t 8 \
		    "$FAKE_ADDR" /x.php
	fi
	ELAPSED=$(($(now_ms) - t0))
	fake_stop
	echo "status=$status elapsed=${ELAPSED}ms"
	echo "stdout=[$output]"
	echo "stderr=[$stderr]"
}

FAKE_CGI=$'Content-Type: text/plain\r\n\r\nhello'

@test "client: STDOUT after END_REQUEST is not printed; connect and request end at the END_REQUEST, exit 0" {
	client_run connect afterend
	[ "$status" -eq 0 ]
	[ "$output" = "$FAKE_CGI" ]
	[ -z "$stderr" ]
	[ "$ELAPSED" -lt 5000 ]
	client_run request afterend
	[ "$status" -eq 0 ]
	[ "$output" = hello ]
	[ -z "$stderr" ]
	[ "$ELAPSED" -lt 5000 ]
}

@test "client: a second END_REQUEST is not read; the first one's appStatus 0 is the exit status" {
	client_run connect twoends
	[ "$status" -eq 0 ]
	[ "$output" = "$FAKE_CGI" ]
	[ -z "$stderr" ]
	client_run request twoends
	[ "$status" -eq 0 ]
	[ "$output" = hello ]
	[ -z "$stderr" ]
}

@test "client: a record for another request id is a protocol error: exit 76, one line saying so, nothing printed of it" {
	local cmd
	for cmd in connect request; do
		client_run "$cmd" otherid
		[ "$status" -eq 76 ]
		[[ $output != *"not yours"* ]]
		[ "$ELAPSED" -lt 5000 ]
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ ${stderr_lines[0]} == *"STDOUT record for request id 2, not ours (1)"* ]]
	done
}

# bench_vs_dying ARGS...: bench -D 4 --json ARGS against a serve of its
# own that gets SIGKILL 1 s into the run; sets status, output (the JSON),
# stderr and ELAPSED (ms).
bench_vs_dying() {
	own_serve dying
	local victim=$OWN_PID t0
	(sleep 1 && kill -KILL "$victim") &
	bg_record
	t0=$(now_ms)
	run --separate-stderr timeout 30 "$FB" bench --json -D 4 "$@" \
	    -r "$CGI_ROOT" "unix:$SOCK" '/bin.cgi?exit=0'
	ELAPSED=$(($(now_ms) - t0))
	wait_gone "$victim" 50
	wait "$victim" 2>/dev/null || true
	OWN_PID=
	echo "status=$status elapsed=${ELAPSED}ms"
	echo "stdout=[$output]"
	echo "stderr=[$stderr]"
	echo "# bench $*: exit $status in $ELAPSED ms: $(json_true \
	    '{k: d[k] for k in ("requests", "errors", "errors_by_kind")}' \
	    2>&1)" >&3
}

# json_true EXPR: evaluates the Python expression EXPR on d, the JSON
# object of $output; prints it, and fails unless it is true.
json_true() {
	"$PY" -c 'import json, sys
d = json.loads(sys.argv[1])
v = eval(sys.argv[2])
print(v)
sys.exit(0 if v else 1)' "$output" "$1"
}

# bench_died_checks: bench ended on time (-D 4), its report is one JSON
# object with successes from before the SIGKILL and errors after, and it
# exited 1 (some request ended in an error).
bench_died_checks() {
	[ "$status" -eq 1 ]
	[[ $stderr != *Sanitizer* && $stderr != *"runtime error:"* ]]
	[ "$ELAPSED" -ge 3500 ] && [ "$ELAPSED" -lt 10000 ]
	[ "${#lines[@]}" -eq 1 ]
	json_true 'd["requests"] > 0 and d["errors"] > 0 and d["duration_s"] == 4'
	json_true 'd["errors"] == sum(d["errors_by_kind"].values())'
	# After the SIGKILL the socket file is left with no listener.
	json_true 'd["errors_by_kind"]["connect"] > 0'
}

@test "bench -D 4 -c 4 against a serve killed after 1 s: ends on time, reports the errors, exits 1" {
	bench_vs_dying -c 4
	bench_died_checks
}

@test "bench -D 4 -c 4 -k against a serve killed after 1 s: ends on time, reports the errors, exits 1" {
	bench_vs_dying -c 4 -k
	bench_died_checks
}

@test "bench -D 4 -c 2 -m 4 against a serve killed after 1 s: ends on time, reports the errors, exits 1" {
	bench_vs_dying -c 2 -m 4
	bench_died_checks
}
