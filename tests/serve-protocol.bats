#!/usr/bin/env bats
# fcgi-bridge serve at the record level (tests/lib/raw-fcgi.py), its
# start-up and shut-down, and its CGI environment.
#
# setup_file starts, in "$FB_TMP":
#   serve on serve.sock -r cgi/ -c 8 --max-conns 100     (MAIN_PID, MAIN_LOG)
#   serve on env.sock   -e -P -- fixed/prog env          (ENV_PID)
#        with FB_SERVE_MARKER and FB_PASSED in its own environment
# Tests that need other options start their own serve and stop it.

load lib/helpers
load lib/serve

setup_file() {
	fb_tmp_create
	CGI_ROOT="$FB_TMP/cgi"
	RUN="$FB_TMP/run"
	SOCK="$FB_TMP/serve.sock"
	ENV_SOCK="$FB_TMP/env.sock"
	FIXED="$FB_TMP/fixed/prog"
	export CGI_ROOT RUN SOCK ENV_SOCK FIXED
	write_cgis "$CGI_ROOT"
	mkdir -p "$FB_TMP/fixed"
	cp "$CGI_ROOT/bin.cgi" "$FIXED"

	serve_start "$SOCK" -r "$CGI_ROOT" -c 8 --max-conns 100 --grace 2
	MAIN_PID=$SERVE_PID MAIN_LOG=$SERVE_LOG
	export MAIN_PID MAIN_LOG
	FB_SERVE_MARKER=leaked FB_PASSED=passed-by-P \
	    serve_start "$ENV_SOCK" -e FB_SET=set-by-e -P FB_PASSED --grace 2 \
	    -- "$FIXED" env
	ENV_PID=$SERVE_PID
	export ENV_PID
}

teardown_file() {
	serve_stop "${MAIN_PID:-}"
	serve_stop "${ENV_PID:-}"
	fb_tmp_remove
}

# Each test's own serve (SERVE_PID from serve_start in the test) is stopped.
teardown() {
	if [ -n "${OWN_PID:-}" ]; then
		serve_stop "$OWN_PID"
	fi
}

# fcgi SCRIPT QUERY ARGS...: raw-fcgi.py on the main socket with the params
# of a GET of "$CGI_ROOT/SCRIPT?QUERY"; ARGS are more options and steps.
fcgi() {
	fcgi_on "$SOCK" "$@"
}

# fcgi_on SOCK SCRIPT QUERY ARGS...: the same on another socket.
fcgi_on() {
	local sock=$1 script=$2 query=$3
	shift 3
	raw -p GATEWAY_INTERFACE=CGI/1.1 -p REQUEST_METHOD=GET \
	    -p SCRIPT_NAME="/$script" -p SCRIPT_FILENAME="$CGI_ROOT/$script" \
	    -p DOCUMENT_ROOT="$CGI_ROOT" -p REQUEST_URI="/$script?$query" \
	    -p QUERY_STRING="$query" -p SERVER_PROTOCOL=HTTP/1.1 \
	    -p SERVER_NAME=localhost -p SERVER_PORT=80 \
	    -p REMOTE_ADDR=127.0.0.1 "unix:$sock" "$@"
}

# serves_normally [SOCK] [PID]: serve is alive and a normal request on a new
# connection succeeds.
serves_normally() {
	local sock=${1:-$SOCK} pid=${2:-$MAIN_PID} out
	alive "$pid" || { echo "serve $pid is gone" >&2; return 1; }
	out=$(fcgi_on "$sock" bin.cgi exit=0 req:1 read:END_REQUEST) || {
		echo "normal request failed: $out" >&2
		return 1
	}
	[[ $out == *"STDOUT id=1 "*exiting* ]] || { echo "$out" >&2; return 1; }
	has_line "END_REQUEST id=1 app=0 proto=0" <<<"$out" || {
		echo "$out" >&2
		return 1
	}
}

# log_lines: lines in the main serve's log now.
log_lines() {
	wc -l <"$MAIN_LOG"
}

# log_grew BEFORE: waits (2 s at most) until the main log has more than
# BEFORE lines, and prints the new ones.
log_grew() {
	local i
	for ((i = 0; i < 20; i++)); do
		[ "$(log_lines)" -gt "$1" ] && break
		sleep 0.1
	done
	tail -n +$(($1 + 1)) "$MAIN_LOG" | sed 's/^/# serve log: /' >&3
	[ "$(log_lines)" -gt "$1" ]
	tail -n +$(($1 + 1)) "$MAIN_LOG" | grep -q '^fcgi-bridge: serve: '
}

# ------------------------------------------------------------- start-up

@test "start-up: without -r and without PROGRAM serve refuses, exit 64, saying why" {
	run timeout 10 "$FB" serve -s "unix:$FB_TMP/refuse.sock" --allow-root
	[ "$status" -eq 64 ]
	[[ $output == *fcgi-bridge* ]]
	[[ $output == *-r* ]]
}

@test "start-up: as root without --allow-root serve refuses, exit 64" {
	[ "$(id -u)" -eq 0 ] || skip "not running as root"
	run timeout 10 "$FB" serve -s "unix:$FB_TMP/root.sock" -r "$CGI_ROOT"
	[ "$status" -eq 64 ]
	[[ $output == *root* ]]
}

@test "start-up: without -s and with no listening socket on fd 0, exit 64" {
	run timeout 10 "$FB" serve -r "$CGI_ROOT" --allow-root </dev/null
	[ "$status" -eq 64 ]
	[[ $output == *fcgi-bridge* ]]
}

@test "start-up: a stale socket file (no listener) is replaced" {
	local sock="$FB_TMP/stale.sock"
	timeout 10 python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.close()' "$sock"
	[ -S "$sock" ]
	serve_start "$sock" -r "$CGI_ROOT" --grace 1
	OWN_PID=$SERVE_PID
	serves_normally "$sock" "$OWN_PID"
}

@test "start-up: a second serve on a live socket fails and the first keeps serving" {
	run timeout 10 "$FB" serve -s "unix:$SOCK" -r "$CGI_ROOT" --allow-root
	echo "# second serve: status $status: $output" >&3
	[ "$status" -ne 0 ]
	[ "$status" -ne 124 ]
	[[ $output == *fcgi-bridge:* ]]
	[ -S "$SOCK" ]
	serves_normally
}

@test "shut-down: SIGTERM lets a running request finish, removes the socket file, exits 0" {
	local sock="$FB_TMP/term.sock" rawpid st i
	rm -f "$RUN/term.pid"
	serve_start "$sock" -r "$CGI_ROOT"
	OWN_PID=$SERVE_PID
	fcgi_on "$sock" linger.cgi term -t 15 req:1 read:END_REQUEST \
	    >"$FB_TMP/term.out" 2>&1 3>&- &
	rawpid=$!
	wait_for_file "$RUN/term.pid" 50
	kill -TERM "$OWN_PID"
	# The socket file goes at once, while the CGI still sleeps.
	for ((i = 0; i < 10; i++)); do
		[ -e "$sock" ] || break
		sleep 0.1
	done
	[ ! -e "$sock" ]
	wait_gone "$rawpid" 100
	wait_gone "$OWN_PID" 100
	st=0
	wait "$OWN_PID" || st=$?
	OWN_PID=
	cat "$FB_TMP/term.out" | sed 's/^/# /' >&3
	[ "$st" -eq 0 ]
	grep -q 'STDOUT id=1 .*done after 1 s' "$FB_TMP/term.out"
	has_line 'END_REQUEST id=1 app=0 proto=0' <"$FB_TMP/term.out"
}

# ------------------------------------------------------------- programs

@test "fixed PROGRAM: runs for every request, with its arguments, whatever SCRIPT_FILENAME says" {
	local sock="$FB_TMP/fixed.sock"
	serve_start "$sock" --grace 1 -- "$FIXED" args "two words"
	OWN_PID=$SERVE_PID
	run fcgi_on "$sock" no-such-script.cgi x req:1 read:END_REQUEST
	[ "$status" -eq 0 ]
	[[ $output == *'argv[1]=args\nargv[2]=two words\n'* ]]
	has_line 'END_REQUEST id=1 app=0 proto=0' <<<"$output"
	run fcgi_on "$sock" env.cgi x req:1 read:END_REQUEST
	[ "$status" -eq 0 ]
	[[ $output == *'argv[1]=args\nargv[2]=two words\n'* ]]
}

@test "fixed PROGRAM: its working directory is the program's directory" {
	local sock="$FB_TMP/fixedcwd.sock"
	serve_start "$sock" --grace 1 -- "$FIXED" args
	OWN_PID=$SERVE_PID
	run fcgi_on "$sock" env.cgi x req:1 read:END_REQUEST
	[ "$status" -eq 0 ]
	[[ $output == *"cwd=$(realpath "$FB_TMP/fixed")\\n"* ]]
}

@test "environment: the CGI gets exactly the PARAMS, PATH, -e and -P names" {
	run raw -p ALPHA=1 -p BETA=two -p REQUEST_METHOD=GET \
	    -p SCRIPT_FILENAME=/nowhere "unix:$ENV_SOCK" \
	    req:1 read:END_REQUEST save:1:"$FB_TMP/env.out"
	[ "$status" -eq 0 ]
	sed '1,/^\r$/d' "$FB_TMP/env.out" | cut -d= -f1 | sort >"$FB_TMP/env.names"
	printf '%s\n' ALPHA BETA FB_PASSED FB_SET PATH REQUEST_METHOD \
	    SCRIPT_FILENAME | sort >"$FB_TMP/env.want"
	diff "$FB_TMP/env.want" "$FB_TMP/env.names"
}

@test "environment: PATH is /usr/local/bin:/usr/bin:/bin, -e sets, -P copies" {
	run raw -p REQUEST_METHOD=GET "unix:$ENV_SOCK" \
	    req:1 read:END_REQUEST save:1:"$FB_TMP/env2.out"
	[ "$status" -eq 0 ]
	has_line 'PATH=/usr/local/bin:/usr/bin:/bin' <"$FB_TMP/env2.out"
	has_line 'FB_SET=set-by-e' <"$FB_TMP/env2.out"
	has_line 'FB_PASSED=passed-by-P' <"$FB_TMP/env2.out"
}

@test "environment: a variable of serve's own environment does not reach the CGI" {
	run raw -p REQUEST_METHOD=GET "unix:$ENV_SOCK" \
	    req:1 read:END_REQUEST save:1:"$FB_TMP/env3.out"
	[ "$status" -eq 0 ]
	grep -q '^FB_SET=' "$FB_TMP/env3.out"
	! grep -q 'FB_SERVE_MARKER' "$FB_TMP/env3.out"
	! grep -q '^HOME=' "$FB_TMP/env3.out"
}

# ------------------------------------------------------------- protocol

@test "protocol: END_REQUEST appStatus is the CGI's exit status" {
	run fcgi bin.cgi exit=7 req:1 read:END_REQUEST
	[ "$status" -eq 0 ]
	[[ $output == *"STDOUT id=1 "*exiting* ]]
	has_line 'END_REQUEST id=1 app=7 proto=0' <<<"$output"
}

@test "protocol: GET_VALUES gets the three values, and the connection stays usable" {
	run fcgi bin.cgi exit=0 values read:GET_VALUES_RESULT req:1 read:END_REQUEST
	[ "$status" -eq 0 ]
	local line
	line=$(grep '^GET_VALUES_RESULT' <<<"$output")
	[[ " $line " == *" FCGI_MAX_CONNS=100 "* ]]
	[[ " $line " == *" FCGI_MAX_REQS=8 "* ]]
	[[ " $line " == *" FCGI_MPXS_CONNS=1 "* ]]
	has_line 'END_REQUEST id=1 app=0 proto=0' <<<"$output"
}

@test "protocol: an unknown management type gets UNKNOWN_TYPE, the connection stays usable" {
	run fcgi bin.cgi exit=0 mgmt:42 read:UNKNOWN_TYPE req:1 read:END_REQUEST
	[ "$status" -eq 0 ]
	has_line 'UNKNOWN_TYPE type=42' <<<"$output"
	has_line 'END_REQUEST id=1 app=0 proto=0' <<<"$output"
}

@test "protocol: an unknown role gets END_REQUEST with protocolStatus UNKNOWN_ROLE" {
	run fcgi bin.cgi exit=0 begin:1:9 params:1 stdin:1 read:END_REQUEST
	[ "$status" -eq 0 ]
	grep -q '^END_REQUEST id=1 app=[0-9]* proto=3$' <<<"$output"
	[[ $output != *exiting* ]]
	serves_normally
}

@test "protocol: requests 1 and 2 multiplexed on one connection are both answered" {
	run fcgi env.cgi x \
	    begin:1:1:1 set:QUERY_STRING=req-one params:1 \
	    begin:2:1:1 set:QUERY_STRING=req-two params:2 \
	    stdin:2 stdin:1 read:END_REQUEST:2
	[ "$status" -eq 0 ]
	grep -q '^STDOUT id=1 .*\\nQUERY_STRING=req-one\\n' <<<"$output"
	grep -q '^STDOUT id=2 .*\\nQUERY_STRING=req-two\\n' <<<"$output"
	has_line 'END_REQUEST id=1 app=0 proto=0' <<<"$output"
	has_line 'END_REQUEST id=2 app=0 proto=0' <<<"$output"
}

@test "protocol: ABORT_REQUEST kills the CGI and END_REQUEST still arrives" {
	local pid
	rm -f "$RUN/abort.pid"
	run fcgi slow.cgi abort -t 10 req:1:1 waitfile:"$RUN/abort.pid" abort:1 \
	    read:END_REQUEST
	[ "$status" -eq 0 ]
	grep -q '^END_REQUEST id=1 app=[0-9]* proto=0$' <<<"$output"
	pid=$(cat "$RUN/abort.pid")
	proc_gone "$pid" 30
	serves_normally
}

@test "protocol: END_REQUEST after ABORT_REQUEST carries 128+signal of the killed CGI" {
	local app
	rm -f "$RUN/abortst.pid"
	run fcgi slow.cgi abortst -t 10 req:1:1 waitfile:"$RUN/abortst.pid" \
	    abort:1 read:END_REQUEST
	[ "$status" -eq 0 ]
	app=$(sed -n 's/^END_REQUEST id=1 app=\([0-9]*\) proto=0$/\1/p' <<<"$output")
	echo "# $(grep END_REQUEST <<<"$output")" >&3
	[ -n "$app" ]
	[ "$app" -gt 128 ]
	[ "$app" -lt 160 ]
}

@test "protocol: a client hang-up kills the CGI, no zombie is left" {
	local pid i
	rm -f "$RUN/hangup.pid"
	run fcgi slow.cgi hangup -t 10 req:1 waitfile:"$RUN/hangup.pid" close
	[ "$status" -eq 0 ]
	pid=$(cat "$RUN/hangup.pid")
	proc_gone "$pid" 30
	for ((i = 0; i < 30; i++)); do
		[ "$(zombie_count "$MAIN_PID")" -eq 0 ] && break
		sleep 0.1
	done
	[ "$(zombie_count "$MAIN_PID")" -eq 0 ]
	serves_normally
}

@test "protocol: -t after headers cuts the response and kills the CGI" {
	local sock="$FB_TMP/cut.sock" pid t0 t1 app
	rm -f "$RUN/cut.pid"
	serve_start "$sock" -r "$CGI_ROOT" -t 2 --grace 1
	OWN_PID=$SERVE_PID
	t0=$(now_ms)
	run fcgi_on "$sock" slowbody.cgi cut -t 15 req:1 read:END_REQUEST
	t1=$(now_ms)
	[ "$status" -eq 0 ]
	[[ $output == *"STDOUT id=1 "*"first part"* ]]
	[ $((t1 - t0)) -lt 10000 ]
	app=$(sed -n 's/^END_REQUEST id=1 app=\([0-9]*\) proto=0$/\1/p' <<<"$output")
	[ -n "$app" ]
	[ "$app" -gt 128 ]
	pid=$(cat "$RUN/cut.pid")
	proc_gone "$pid" 30
}

@test "protocol: beyond -c 1 and -q 1, a request gets END_REQUEST OVERLOADED" {
	local sock="$FB_TMP/queue.sock"
	serve_start "$sock" -r "$CGI_ROOT" -c 1 -q 1 --grace 1
	OWN_PID=$SERVE_PID
	# 1 runs (1 s), 2 waits for the slot, 3 finds the queue full.
	run fcgi_on "$sock" linger.cgi queue -t 10 \
	    req:1:1 waitfile:"$RUN/queue.pid" req:2:1 req:3:1 read:END_REQUEST
	[ "$status" -eq 0 ]
	has_line 'END_REQUEST id=3 app=0 proto=2' <<<"$output"
	[[ $output != *"END_REQUEST id=1 "* ]]
	[[ $output != *"END_REQUEST id=2 "* ]]
}

@test "protocol: CGI stderr arrives as FCGI_STDERR" {
	run fcgi stderr.cgi s41 req:1 read:END_REQUEST
	[ "$status" -eq 0 ]
	grep -q '^STDERR id=1 .*cgi-stderr-marker-s41' <<<"$output"
}

@test "protocol: with -E, CGI stderr goes to serve's own log, not FCGI_STDERR" {
	local sock="$FB_TMP/stderr.sock" i
	serve_start "$sock" -r "$CGI_ROOT" -E --grace 1
	OWN_PID=$SERVE_PID
	run fcgi_on "$sock" stderr.cgi e42 req:1 read:END_REQUEST
	[ "$status" -eq 0 ]
	has_line 'END_REQUEST id=1 app=0 proto=0' <<<"$output"
	[[ $output != *cgi-stderr-marker* ]]
	for ((i = 0; i < 20; i++)); do
		grep -q 'cgi-stderr-marker-e42' "$SERVE_LOG" && break
		sleep 0.1
	done
	grep -q 'cgi-stderr-marker-e42' "$SERVE_LOG"
}

# ------------------------------------------------------- malformed input

# closed_and_logged BEFORE: the run just made saw its connection closed
# (EOF) with no END_REQUEST, serve's log grew past BEFORE lines, and serve
# still answers a normal request.
closed_and_logged() {
	[ "$status" -eq 0 ] || return 1
	has_line EOF <<<"$output" || return 1
	[[ $output != *END_REQUEST* ]] || return 1
	log_grew "$1" && serves_normally
}

@test "malformed: a record with version 2 closes that connection, with a log line" {
	local before
	before=$(log_lines)
	run fcgi bin.cgi exit=0 rec:2:1:1:0001000000000000 eof
	closed_and_logged "$before"
}

@test "malformed: a BEGIN_REQUEST with contentLength 3 closes that connection" {
	local before
	before=$(log_lines)
	run fcgi bin.cgi exit=0 rec:1:1:1:000100 eof
	closed_and_logged "$before"
}

@test "malformed: a name-value pair overrunning the PARAMS stream closes that connection" {
	local before
	before=$(log_lines)
	# nameLength 5, valueLength 100, "HELLO", "abc", end of the stream.
	run fcgi bin.cgi exit=0 begin:1 rec:1:4:1:056448454c4c4f616263 \
	    rec:1:4:1: stdin:1 eof
	closed_and_logged "$before"
}

@test "malformed: a name length of 0x7fffffff in a finished PARAMS stream closes that connection" {
	local before
	before=$(log_lines)
	run fcgi bin.cgi exit=0 -t 5 begin:1 rec:1:4:1:ffffffff01414243 \
	    rec:1:4:1: eof
	closed_and_logged "$before"
}

# A pair that announces 2 GiB is over --max-params the moment its length
# arrives; serve must not wait for the rest of the stream (or --idle).
@test "malformed: a name length of 0x7fffffff closes that connection before the stream ends" {
	local before
	before=$(log_lines)
	run fcgi bin.cgi exit=0 -t 5 begin:1 rec:1:4:1:ffffffff01414243 eof
	closed_and_logged "$before"
}

@test "malformed: PARAMS over --max-params (1 MiB by default) close that connection" {
	local before
	before=$(log_lines)
	run fcgi bin.cgi exit=0 -t 10 begin:1 bigparams:1:2200000 eof
	closed_and_logged "$before"
}

@test "malformed: a duplicate BEGIN_REQUEST for a live id closes that connection" {
	local before
	before=$(log_lines)
	run fcgi bin.cgi exit=0 begin:1 begin:1 eof
	closed_and_logged "$before"
}

@test "malformed: garbage on one connection leaves a request on another one alive" {
	run fcgi bin.cgi exit=0 \
	    conn:1 begin:1 params:1 \
	    conn:2 rec:2:1:1:0001000000000000 eof \
	    conn:1 stdin:1 read:END_REQUEST
	[ "$status" -eq 0 ]
	has_line EOF <<<"$output"
	has_line 'END_REQUEST id=1 app=0 proto=0' <<<"$output"
	[[ $output == *"STDOUT id=1 "*exiting* ]]
}

# ------------------------------------------------------------- resources

@test "resources: 200 idle connections do not block a request, and --idle closes them" {
	local sock="$FB_TMP/idle.sock"
	serve_start "$sock" -r "$CGI_ROOT" --idle 2 --grace 1
	OWN_PID=$SERVE_PID
	run fcgi_on "$sock" bin.cgi exit=0 -t 8 idle:200 \
	    conn:1 req:1 read:END_REQUEST idle-count idle-eof
	[ "$status" -eq 0 ]
	has_line 'END_REQUEST id=1 app=0 proto=0' <<<"$output"
	has_line 'IDLE-OPEN 200/200' <<<"$output"
	has_line 'IDLE-EOF 200/200' <<<"$output"
	serves_normally "$sock" "$OWN_PID"
}

@test "resources: 10,000 requests in a row leave serve's fd and child counts as they were" {
	local fd0 fd1 kids i
	run raw -t 10 --repeat 10 --expect exiting -p REQUEST_METHOD=GET \
	    -p SCRIPT_FILENAME="$CGI_ROOT/bin.cgi" -p QUERY_STRING=exit=0 \
	    "unix:$SOCK"
	[ "$status" -eq 0 ]
	wait_no_children "$MAIN_PID" 30
	fd0=$(fd_count "$MAIN_PID")
	run timeout 150 python3 "$RAW" -t 10 --repeat 10000 --expect exiting \
	    -p REQUEST_METHOD=GET -p SCRIPT_FILENAME="$CGI_ROOT/bin.cgi" \
	    -p QUERY_STRING=exit=0 "unix:$SOCK"
	echo "# $output" >&3
	[ "$status" -eq 0 ]
	has_line 'repeat ok=10000 failed=0' <<<"$output"
	wait_no_children "$MAIN_PID" 30
	kids=$(child_count "$MAIN_PID")
	for ((i = 0; i < 30; i++)); do
		fd1=$(fd_count "$MAIN_PID")
		[ "$fd1" -eq "$fd0" ] && break
		sleep 0.1
	done
	echo "# fds before $fd0, after $fd1; children after $kids" >&3
	[ "$kids" -eq 0 ]
	[ "$fd1" -eq "$fd0" ]
}

@test "malformed: 200 seeded mutations of captured records never stop serve, nor leak an fd or a child" {
	local fd0 fd1 i
	wait_no_children "$MAIN_PID" 30
	fd0=$(fd_count "$MAIN_PID")
	run timeout 200 python3 "$BATS_TEST_DIRNAME/lib/mutate_records.py" \
	    "unix:$SOCK" "${CAPTURES:-$BATS_TEST_DIRNAME/captures}" 1 200
	[ "$status" -eq 0 ]
	[ "$output" = "sent 200" ]
	alive "$MAIN_PID"
	run fcgi bin.cgi exit=0 req:1 read:END_REQUEST
	[ "$status" -eq 0 ]
	has_line 'END_REQUEST id=1 app=0 proto=0' <<<"$output"
	wait_no_children "$MAIN_PID" 30
	for ((i = 0; i < 50; i++)); do
		fd1=$(fd_count "$MAIN_PID")
		[ "$fd1" -eq "$fd0" ] && break
		sleep 0.1
	done
	[ "$fd1" -eq "$fd0" ]
}

@test "request -v: a trace line after STDERR that ends mid-line starts a line" {
	run --separate-stderr timeout 20 "$FB" request -v -r "$CGI_ROOT" \
	    "$SOCK" /stderrpart.cgi
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
	grep -qx 'half a line' <<<"$stderr"
	grep -qE '^< STDOUT id=1 length=[1-9]' <<<"$stderr"
}
