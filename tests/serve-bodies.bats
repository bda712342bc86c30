#!/usr/bin/env bats
# fcgi-bridge serve: request bodies that arrive while their request waits
# for a CGI slot, and the end of a request whose CGI left a process
# holding its output open.  (The seeded storm of uploads is in
# serve-storm.bats.)
#
# setup_file writes the CGIs; every test starts its own serve.

load lib/helpers
load lib/serve

setup_file() {
	cgis_setup_file
	# Sleeps 0.3 s, so that the others wait for its slot, then answers
	# with the number of bytes of its standard input.
	shell_cgi "$CGI_ROOT/count.cgi" <<'EOF'
#!/bin/sh
sleep 0.3
n=$(wc -c)
printf 'Content-Type: text/plain\r\n\r\n%s\n' "$n"
EOF
	# Answers, then exits, leaving a process with its stdout open, its PID
	# in $RUN/leave-QUERY.pid: "plain" a background job, "stubborn" one
	# that ignores SIGTERM, "away" one in a session of its own.
	shell_cgi "$CGI_ROOT/leave.cgi" <<EOF
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\nanswered\n'
case \$QUERY_STRING in
plain) sleep 30 & ;;
stubborn) sh -c 'trap "" TERM; exec sleep 30' & ;;
away) setsid sleep 30 & ;;
esac
echo \$! >"$RUN/leave-\$QUERY_STRING.pid.tmp"
mv "$RUN/leave-\$QUERY_STRING.pid.tmp" "$RUN/leave-\$QUERY_STRING.pid"
exit 0
EOF
	head -c 100000 /dev/urandom >"$FB_TMP/body"
}

teardown_file() {
	fb_tmp_remove
}

teardown() {
	[ -n "${OWN_PID:-}" ] && serve_stop "$OWN_PID"
	local f
	for f in "$RUN"/leave-*.pid; do
		[ -f "$f" ] && stop_pid "$(cat "$f")"
		rm -f "$f"
	done
	return 0
}

# own_serve NAME ARGS...: a serve of this test's on $FB_TMP/NAME.sock.
own_serve() {
	local name=$1
	shift
	SOCK="$FB_TMP/$name.sock"
	serve_start "$SOCK" -r "$CGI_ROOT" --grace 1 "$@"
	OWN_PID=$SERVE_PID
}

# fcgi SCRIPT QUERY ARGS...: raw-fcgi.py on $SOCK, with the params of a
# POST to "$CGI_ROOT/SCRIPT?QUERY"; ARGS are more options and steps.
fcgi() {
	local script=$1 query=$2
	shift 2
	raw -p GATEWAY_INTERFACE=CGI/1.1 -p REQUEST_METHOD=POST \
	    -p SCRIPT_NAME="/$script" -p SCRIPT_FILENAME="$CGI_ROOT/$script" \
	    -p DOCUMENT_ROOT="$CGI_ROOT" -p QUERY_STRING="$query" \
	    -p SERVER_PROTOCOL=HTTP/1.1 -p REMOTE_ADDR=127.0.0.1 \
	    "unix:$SOCK" "$@"
}

# post_three CLIENT: three POSTs of the 100,000-byte body at once to
# count.cgi, by CLIENT (request or cgi-fcgi); prints each answer's body.
post_three() {
	local i pids=()
	for i in 1 2 3; do
		if [ "$1" = request ]; then
			timeout "$T_CMD" "$FB" request -r "$CGI_ROOT" -X POST \
			    -d @"$FB_TMP/body" "unix:$SOCK" /count.cgi \
			    >"$FB_TMP/out$i" 2>&1 &
		else
			env -i REQUEST_METHOD=POST CONTENT_LENGTH=100000 \
			    SCRIPT_NAME=/count.cgi \
			    SCRIPT_FILENAME="$CGI_ROOT/count.cgi" \
			    timeout "$T_CMD" "$CGI_FCGI" -bind -connect "$SOCK" \
			    <"$FB_TMP/body" >"$FB_TMP/out$i" 2>&1 &
		fi
		pids+=($!)
	done
	for i in 0 1 2; do
		wait "${pids[$i]}" || echo "client $((i + 1)) exited $?"
	done
	cat "$FB_TMP/out1" "$FB_TMP/out2" "$FB_TMP/out3" | tr -d '\r' |
	    grep -v -e '^Content-Type' -e '^$'
}

@test "bodies: three POSTs at once with -c 1 each reach their CGI whole (request)" {
	own_serve c1 -c 1
	run post_three request
	echo "$output" | sed 's/^/# /' >&3
	[ "$status" -eq 0 ]
	[ "$output" = $'100000\n100000\n100000' ]
}

@test "bodies: three POSTs at once with -c 1 each reach their CGI whole (libfcgi's cgi-fcgi)" {
	own_serve c1 -c 1
	run post_three cgi-fcgi
	[ "$status" -eq 0 ]
	[ "$output" = $'100000\n100000\n100000' ]
}

@test "bodies: a waiting request's body sent before the running one's, on one connection, reaches its CGI" {
	own_serve mux -c 1 --no-adapt
	# 1 runs; 2 waits for the slot, its body comes first and is kept in
	# a file, since 1 cannot be held up behind it.
	run fcgi count.cgi x -t 10 begin:1:1:1 params:1 begin:2:1:1 params:2 \
	    stdin:2:second-body stdin:1:first read:END_REQUEST:2
	echo "$output" | sed 's/^/# /' >&3
	[ "$status" -eq 0 ]
	grep -q '^STDOUT id=1 .*\\r\\n\\r\\n5\\n$' <<<"$output"
	grep -q '^STDOUT id=2 .*\\r\\n\\r\\n11\\n$' <<<"$output"
	has_line 'END_REQUEST id=1 app=0 proto=0' <<<"$output"
	has_line 'END_REQUEST id=2 app=0 proto=0' <<<"$output"
}

@test "bodies: a waiting request whose body cannot be kept gets a 503 and a log line; the other is served" {
	TMPDIR=/nonexistent-fcgi-bridge-dir own_serve nospool -c 1 --no-adapt
	run fcgi count.cgi x -t 10 begin:1:1:1 params:1 begin:2:1:1 params:2 \
	    stdin:2:second-body stdin:1:first read:END_REQUEST:2
	echo "$output" | sed 's/^/# /' >&3
	[ "$status" -eq 0 ]
	grep -q '^STDOUT id=1 .*\\r\\n\\r\\n5\\n$' <<<"$output"
	grep -q '^STDOUT id=2 .*text=Status: 503 ' <<<"$output"
	has_line 'END_REQUEST id=2 app=0 proto=0' <<<"$output"
	grep -q 'count.cgi: 503 Service Unavailable: cannot create a file to keep the body in' \
	    "$SERVE_LOG"
}

# leave_ends WHAT MIN_MS MAX_MS: a request to leave.cgi?WHAT on $SOCK gets
# the CGI's whole answer and END_REQUEST with appStatus 0, no sooner than
# MIN_MS and before MAX_MS.
leave_ends() {
	local t0 t1 out
	t0=$(now_ms)
	out=$(fcgi leave.cgi "$1" -t 15 req:1 read:END_REQUEST)
	t1=$(now_ms)
	echo "$out" | sed 's/^/# /' >&3
	echo "# END_REQUEST after $((t1 - t0)) ms" >&3
	[[ $out == *"STDOUT id=1 "*answered* ]]
	has_line 'END_REQUEST id=1 app=0 proto=0' <<<"$out"
	[ $((t1 - t0)) -ge "$2" ] && [ $((t1 - t0)) -lt "$3" ]
}

@test "leftover: with -t 1, a CGI that exits leaving its stdout open ends at the limit, whole, and its group gets SIGTERM" {
	own_serve t1 -t 1
	leave_ends plain 900 4000
	wait_gone "$(cat "$RUN/leave-plain.pid")" 30
	grep -q 'leave.cgi: timed out after its headers' "$SERVE_LOG"
}

@test "leftover: without -t, the request ends 2 s after the CGI exits, and the process it left gets SIGTERM" {
	own_serve linger
	leave_ends plain 1900 6000
	wait_gone "$(cat "$RUN/leave-plain.pid")" 30
	grep -q 'leave.cgi: the CGI exited 2 s ago, but a process it started still holds its output open' \
	    "$SERVE_LOG"
}

@test "leftover: one that ignores SIGTERM gets SIGKILL 2 s later, and the request ends" {
	own_serve stubborn
	leave_ends stubborn 3900 9000
	wait_gone "$(cat "$RUN/leave-stubborn.pid")" 30
}

@test "leftover: one in a session of its own, out of reach, still lets the request end after the SIGKILL time" {
	own_serve away
	leave_ends away 3900 9000
	# Out of serve's reach, as it should be: still alive.
	alive "$(cat "$RUN/leave-away.pid")"
	[ "$(child_count "$OWN_PID")" -eq 0 ]
}
