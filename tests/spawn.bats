#!/usr/bin/env bats
# fcgi-bridge spawn: what spawn-fcgi is used for.  The application is
# fcgi-echo, a libfcgi responder built from tests/lib/fcgi-echo.c; the
# children it leaves running are found through the pidfile, the
# supervisor's children or the socket, and stopped by PID.

load lib/helpers
load lib/compat

setup_file() {
	fb_tmp_create
	echo_build
}

teardown_file() {
	fb_tmp_remove
}

setup() {
	CGI_ENV=(GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET
	    SCRIPT_NAME=/x QUERY_STRING=pid)
	SOCK="$FB_TMP/spawn-$BATS_TEST_NUMBER.sock"
	PIDFILE="$FB_TMP/spawn-$BATS_TEST_NUMBER.pid"
	SUP=
}

# Whatever a test left: the supervisor, then what holds the socket.
teardown() {
	if [ -n "$SUP" ]; then
		stop_pid "$SUP"
	fi
	socket_stop "$SOCK"
}

# kids_of PID: its live children, one a line.
kids_of() {
	local k
	for k in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
		if alive "$k"; then
			echo "$k"
		fi
	done
}

# supervise ARGS...: `spawn -F ARGS` in the background, its output in
# "$FB_TMP/sup.log"; sets SUP.
supervise() {
	"$FB" spawn -F "$@" </dev/null >"$FB_TMP/sup.log" 2>&1 3>&- &
	SUP=$!
	echo "$SUP" >>"$FB_TMP/pids"
}

# ask ADDRESS: one request through the socket; prints the answer.
ask() {
	timeout "$T_CMD" env -i "${CGI_ENV[@]}" "$FB" connect "$1" </dev/null
}

# -------------------------------------------------------------- detached

@test "spawn -n 2 -P: exits 0; the pidfile lists 2 children holding the socket on fd 0" {
	run --separate-stderr timeout "$T_CMD" "$FB" spawn -n 2 -P "$PIDFILE" \
	    -s "$SOCK" -- "$ECHO_APP"
	[ "$status" -eq 0 ]
	[ -z "$output" ] && [ -z "$stderr" ]
	[ "$(wc -l <"$PIDFILE")" -eq 2 ]
	[ "$(sort -n "$PIDFILE")" = "$(fd0_pids "$SOCK")" ]
}

@test "spawn: the children answer requests on the socket" {
	timeout "$T_CMD" "$FB" spawn -n 2 -s "$SOCK" -- "$ECHO_APP"
	run ask "$SOCK"
	[ "$status" -eq 0 ]
	[[ $output == *"QUERY_STRING=pid"* ]]
	[[ $output == *"pid="* ]]
}

@test "spawn: children get fds 0-2 only, /dev/null on 1 and 2, their own session, SIGPIPE at default" {
	local pid
	timeout "$T_CMD" "$FB" spawn -n 2 -P "$PIDFILE" -s "$SOCK" -- \
	    "$ECHO_APP" 7>"$FB_TMP/fd7"
	for pid in $(cat "$PIDFILE"); do
		[ "$(ls "/proc/$pid/fd" | sort -n | tr '\n' ' ')" = "0 1 2 " ]
		[ "$(readlink "/proc/$pid/fd/1")" = /dev/null ]
		[ "$(readlink "/proc/$pid/fd/2")" = /dev/null ]
		[ "$(awk '{ print $6 }' "/proc/$pid/stat")" = "$pid" ]
		# SIGPIPE is signal 13: bit 12 of the ignored set.
		(( (0x$(awk '/^SigIgn/ { print $2 }' "/proc/$pid/status") >> 12 & 1) == 0 ))
	done
}

@test "spawn -a ADDRS: the children get FCGI_WEB_SERVER_ADDRS" {
	local pid
	timeout "$T_CMD" "$FB" spawn -a 127.0.0.1,::1 -P "$PIDFILE" -s "$SOCK" \
	    -- "$ECHO_APP"
	pid=$(head -1 "$PIDFILE")
	tr '\0' '\n' <"/proc/$pid/environ" |
	    grep -qx 'FCGI_WEB_SERVER_ADDRS=127.0.0.1,::1'
}

@test "spawn -a \"127.0.0.1, ::1\": the children get the list with commas alone and answer 127.0.0.1" {
	local pid port
	port=$(free_tcp_port)
	SOCK="127.0.0.1:$port"
	timeout "$T_CMD" "$FB" spawn -a "127.0.0.1, ::1" -P "$PIDFILE" \
	    -s "$SOCK" -- "$ECHO_APP"
	pid=$(head -1 "$PIDFILE")
	tr '\0' '\n' <"/proc/$pid/environ" |
	    grep -qx 'FCGI_WEB_SERVER_ADDRS=127.0.0.1,::1'
	run ask "$SOCK"
	[ "$status" -eq 0 ]
	[[ $output == *"pid="* ]]
}

@test "spawn -a \"10.9.8.7, 127.0.0.1\": libfcgi accepts the address after the blank" {
	local port
	port=$(free_tcp_port)
	SOCK="127.0.0.1:$port"
	# libfcgi reads " 127.0.0.1" as no address: spawn must drop the blank.
	timeout "$T_CMD" "$FB" spawn -a "10.9.8.7, 127.0.0.1" -s "$SOCK" -- \
	    "$ECHO_APP"
	run ask "$SOCK"
	[ "$status" -eq 0 ]
	[[ $output == *"pid="* ]]
}

@test "spawn -- NAME ARG...: NAME is looked up in PATH, the arguments reach it" {
	mkdir -p "$FB_TMP/bin"
	cat >"$FB_TMP/bin/echo-app" <<EOF
#!/bin/sh
echo "\$0 \$*" >"$FB_TMP/echo-app.args"
exec "$ECHO_APP"
EOF
	chmod 755 "$FB_TMP/bin/echo-app"
	PATH="$FB_TMP/bin:$PATH" timeout "$T_CMD" "$FB" spawn -s "$SOCK" -- \
	    echo-app one 'two words'
	wait_for_file "$FB_TMP/echo-app.args"
	[ "$(cat "$FB_TMP/echo-app.args")" = "$FB_TMP/bin/echo-app one two words" ]
	run ask "$SOCK"
	[ "$status" -eq 0 ]
}

@test "spawn -s 127.0.0.1:PORT: children listen on TCP and answer" {
	local port
	port=$(free_tcp_port)
	SOCK="127.0.0.1:$port"
	timeout "$T_CMD" "$FB" spawn -n 2 -s "$SOCK" -- "$ECHO_APP"
	[ "$(fd0_pids "$SOCK" | wc -l)" -eq 2 ]
	run ask "$SOCK"
	[ "$status" -eq 0 ]
	[[ $output == *"pid="* ]]
}

@test "spawn -m 660: the socket file gets that mode" {
	timeout "$T_CMD" "$FB" spawn -m 660 -s "$SOCK" -- "$ECHO_APP"
	[ "$(stat -c %a "$SOCK")" = 660 ]
}

@test "spawn without -s: the listening socket inherited on fd 0 goes to the children" {
	timeout "$T_CMD" python3 "$FB_LIB/listen-exec.py" "$SOCK" \
	    "$FB" spawn -n 2 -- "$ECHO_APP" 3>&-
	[ "$(fd0_pids "$SOCK" | wc -l)" -eq 2 ]
	run ask "$SOCK"
	[ "$status" -eq 0 ]
}

@test "spawn -u nobody -g nogroup: the children run as nobody:nogroup" {
	local pid
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	timeout "$T_CMD" "$FB" spawn -u nobody -g nogroup -P "$PIDFILE" \
	    -s "$SOCK" -- sleep 60
	pid=$(cat "$PIDFILE")
	[ "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")" = \
	    "$(id -u nobody) $(id -u nobody) $(id -u nobody) $(id -u nobody)" ]
	[ "$(awk '/^Gid:/ { print $2 }' "/proc/$pid/status")" = \
	    "$(getent group nogroup | cut -d: -f3)" ]
	[ "$(awk '/^Groups:/ { print $2 }' "/proc/$pid/status")" = \
	    "$(getent group nogroup | cut -d: -f3)" ]
	stop_pid "$pid"
}

@test "spawn -u USER: the children are in USER's supplementary groups too" {
	local user pid
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	# A user that /etc/group lists as a member of some group.
	user=$(getent group | awk -F: '$4 != "" { split($4, m, ","); print m[1] }' |
	    while read -r u; do id "$u" >/dev/null 2>&1 && echo "$u"; done |
	    head -1)
	[ -n "$user" ] || skip "no user with supplementary groups here"
	timeout "$T_CMD" "$FB" spawn -u "$user" -P "$PIDFILE" -s "$SOCK" -- \
	    sleep 60
	pid=$(cat "$PIDFILE")
	[ "$(awk '/^Groups:/ { $1 = ""; print }' "/proc/$pid/status" |
	    tr ' ' '\n' | grep . | sort -n | tr '\n' ' ')" = \
	    "$(id -G "$user" | tr ' ' '\n' | sort -n | tr '\n' ' ')" ]
	stop_pid "$pid"
}

# --------------------------------------------------------- -F supervisor

@test "spawn -F: a killed child is started again; the pidfile holds the supervisor" {
	local old new
	supervise -n 2 -P "$PIDFILE" -s "$SOCK" -- "$ECHO_APP"
	wait_for_count 2 50 kids_of "$SUP"
	wait_for_file "$PIDFILE"
	[ "$(cat "$PIDFILE")" = "$SUP" ]
	old=$(kids_of "$SUP" | head -1)
	kill -KILL "$old"
	wait_gone "$old" 50
	wait_for_count 2 50 kids_of "$SUP"
	new=$(kids_of "$SUP")
	[[ " $(echo $new) " != *" $old "* ]]
	grep -q "pid $old was killed by signal 9 (Killed); starting it again" \
	    "$FB_TMP/sup.log"
	run ask "$SOCK"
	[ "$status" -eq 0 ]
}

@test "spawn -F: SIGTERM stops every child, removes socket and pidfile, exits 0" {
	local kids k st=0
	supervise -n 3 -P "$PIDFILE" -s "$SOCK" -- "$ECHO_APP"
	wait_for_count 3 50 kids_of "$SUP"
	wait_for_file "$PIDFILE"
	kids=$(kids_of "$SUP")
	kill -TERM "$SUP"
	# Bounded: stop_pid-like, the supervisor has 5 s to stop its children.
	wait_gone "$SUP" 100
	wait "$SUP" || st=$?
	[ "$st" -eq 0 ]
	for k in $kids; do
		! alive "$k"
	done
	[ ! -e "$SOCK" ] && [ ! -e "$PIDFILE" ]
	[ -z "$(socket_pids "$SOCK")" ]
	SUP=
}

@test "spawn -F: a child that keeps dying is restarted with a growing delay" {
	supervise -s "$SOCK" -- /bin/false
	sleep 2.5
	grep -q 'exited with status 1; starting it again in 0.5 s' "$FB_TMP/sup.log"
	grep -q 'exited with status 1; starting it again in 1.0 s' "$FB_TMP/sup.log"
	# 0.5 + 1 + 2 s: no fourth start within 2.5 s.
	[ "$(grep -c 'starting it again' "$FB_TMP/sup.log")" -le 3 ]
}

@test "spawn -F: the supervisor dying of SIGKILL takes its children with it" {
	local kids k
	supervise -n 2 -s "$SOCK" -- "$ECHO_APP"
	wait_for_count 2 50 kids_of "$SUP"
	kids=$(kids_of "$SUP")
	kill -KILL "$SUP"
	for k in $kids; do
		wait_gone "$k" 50
	done
}

@test "spawn -F -P: a pidfile in use by a running supervisor is refused with 73" {
	supervise -P "$PIDFILE" -s "$SOCK" -- "$ECHO_APP"
	wait_for_file "$PIDFILE"
	run --separate-stderr timeout "$T_CMD" "$FB" spawn -F -P "$PIDFILE" \
	    -s "$FB_TMP/other.sock" -- "$ECHO_APP"
	[ "$status" -eq 73 ]
	[[ $stderr == *"$PIDFILE: already in use by pid $SUP"* ]]
	[ ! -e "$FB_TMP/other.sock" ]
	[ "$(cat "$PIDFILE")" = "$SUP" ]
}

# ---------------------------------------------------------------- errors

@test "spawn: an app that exits at once fails with 69, leaving no socket or pidfile" {
	run --separate-stderr timeout "$T_CMD" "$FB" spawn -P "$PIDFILE" \
	    -s "$SOCK" -- /bin/false
	[ "$status" -eq 69 ]
	[[ $stderr == *"/bin/false: pid "*" exited with status 1 right after it started"* ]]
	[ ! -e "$SOCK" ] && [ ! -e "$PIDFILE" ]
}

@test "spawn -u: an app the user cannot execute fails with 71 saying exec failed" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	# FB_TMP is mode 700: nobody cannot reach the app inside it.
	run --separate-stderr timeout "$T_CMD" "$FB" spawn -u nobody \
	    -s "$SOCK" -- "$ECHO_APP"
	[ "$status" -eq 71 ]
	[[ $stderr == *"$ECHO_APP: exec: Permission denied"* ]]
	[ ! -e "$SOCK" ]
}

@test "spawn -s where another process listens: 73, and that socket is left alone" {
	echo_start "$SOCK"
	run --separate-stderr timeout "$T_CMD" "$FB" spawn -s "$SOCK" -- \
	    "$ECHO_APP"
	[ "$status" -eq 73 ]
	[[ $stderr == *"$SOCK: another process listens on it"* ]]
	[ "$(socket_pids "$SOCK")" = "$ECHO_PID" ]
	run ask "$SOCK"
	[ "$status" -eq 0 ]
}

@test "spawn without -s and no inherited socket: usage error 64" {
	run --separate-stderr timeout "$T_CMD" "$FB" spawn -- "$ECHO_APP" \
	    </dev/null
	[ "$status" -eq 64 ]
	[[ $stderr == *"no -s ADDRESS, and no listening socket on fd 0"* ]]
}

@test "spawn: an app that does not exist is a usage error (64) naming it" {
	run --separate-stderr timeout "$T_CMD" "$FB" spawn -s "$SOCK" -- \
	    "$FB_TMP/no-such-app"
	[ "$status" -eq 64 ]
	[[ $stderr == *"$FB_TMP/no-such-app: cannot execute: No such file or directory"* ]]
	[ ! -e "$SOCK" ]
}

@test "spawn -n 0: usage error 64" {
	run --separate-stderr timeout "$T_CMD" "$FB" spawn -n 0 -s "$SOCK" -- \
	    "$ECHO_APP"
	[ "$status" -eq 64 ]
	[[ $stderr == *"-n 0: expected 1 to 1024 processes"* ]]
}

@test "spawn -a with something other than IP addresses: usage error 64" {
	run --separate-stderr timeout "$T_CMD" "$FB" spawn -a 127.0.0.1,web \
	    -s "$SOCK" -- "$ECHO_APP"
	[ "$status" -eq 64 ]
	[[ $stderr == *"-a 127.0.0.1,web: web is not an IP address"* ]]
}

@test "spawn -a with separators and no address: usage error 64" {
	run --separate-stderr timeout "$T_CMD" "$FB" spawn -a ", " \
	    -s "$SOCK" -- "$ECHO_APP"
	[ "$status" -eq 64 ]
	[[ $stderr == *"-a: no IP address in \", \""* ]]
	[ ! -e "$SOCK" ]
}

@test "spawn -u with an unknown user: usage error 64" {
	run --separate-stderr timeout "$T_CMD" "$FB" spawn -u no-such-user-x \
	    -s "$SOCK" -- "$ECHO_APP"
	[ "$status" -eq 64 ]
	[[ $stderr == *"no-such-user-x: no such user"* ]]
}

@test "spawn with no application: usage error 64" {
	run --separate-stderr timeout "$T_CMD" "$FB" spawn -s "$SOCK"
	[ "$status" -eq 64 ]
	[[ $stderr == *"usage: fcgi-bridge spawn"* ]]
}
