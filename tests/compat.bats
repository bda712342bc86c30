#!/usr/bin/env bats
# fcgi-bridge as a drop-in for cgi-fcgi: each form run side by side with
# libfcgi's own /usr/bin/cgi-fcgi, same arguments, environment and stdin,
# against the same responders (php-fpm, and fcgi-echo, a libfcgi program
# built from tests/lib/fcgi-echo.c); stdout must match byte for byte and
# the exit status must match, except for the failures where fcgi-bridge
# exits with its documented code instead of a raw errno.

load lib/helpers
load lib/compat

setup_file() {
	fb_tmp_create
	php_fpm_start
	php_env_script
	php_script bigenv.php <<'EOF'
<?php
header('Content-Type: text/plain');
echo 'BIG=', strlen($_SERVER['BIG'] ?? ''), "\n";
echo 'V050=', $_SERVER['V050'] ?? '(unset)', "\n";
EOF
	echo_build
	echo_start "$FB_TMP/echo.sock"
	mkdir -p "$FB_TMP/bin"
	ln -s "$FB_ABS" "$FB_TMP/bin/cgi-fcgi"
}

teardown_file() {
	fb_tmp_remove
}

setup() {
	CGI_ENV=(GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET
	    SCRIPT_NAME=/env.php "SCRIPT_FILENAME=$FPM_ROOT/env.php"
	    QUERY_STRING=a=1 SERVER_PROTOCOL=HTTP/1.1 REMOTE_ADDR=127.0.0.1)
	CGI_STDIN=/dev/null
	BRIDGE=
}

# Applications a test left running (the -connect and -start forms start
# them detached, on purpose) are stopped by PID, found by their socket.
teardown() {
	local a
	if [ -f "$FB_TMP/stop-sockets" ]; then
		while read -r a; do
			socket_stop "$a"
		done <"$FB_TMP/stop-sockets"
		rm -f "$FB_TMP/stop-sockets"
	fi
}

# stop_later ADDRESS...: teardown stops what listens on each ADDRESS.
stop_later() {
	printf '%s\n' "$@" >>"$FB_TMP/stop-sockets"
}

# ----------------------------------------------------------------- -bind

@test "-bind -connect php-fpm, GET: stdout and status as cgi-fcgi's" {
	side_by_side get -bind -connect "$FPM_SOCK"
	same_output get
	same_status
	[ "$FB_STATUS" -eq 0 ]
	grep -q '^QUERY_STRING=a=1$' "$FB_TMP/get.fb.out"
}

@test "-bind -connect php-fpm, POST with CONTENT_LENGTH: body sent as cgi-fcgi sends it" {
	printf 'name=value&x=%%41\n(and a line past the form)' >"$FB_TMP/post.in"
	CGI_ENV+=(REQUEST_METHOD=POST "CONTENT_LENGTH=$(stat -c %s "$FB_TMP/post.in")"
	    CONTENT_TYPE=application/x-www-form-urlencoded)
	CGI_STDIN="$FB_TMP/post.in"
	side_by_side post -bind -connect "$FPM_SOCK"
	same_output post
	same_status
	grep -q '^BODY=name=value&x=%41$' "$FB_TMP/post.fb.out"
}

@test "-bind -connect libfcgi app: every param in order, then the body, as cgi-fcgi" {
	head -c 20000 /dev/urandom | base64 -w 76 >"$FB_TMP/echo.in"
	CGI_ENV+=("CONTENT_LENGTH=$(stat -c %s "$FB_TMP/echo.in")")
	CGI_STDIN="$FB_TMP/echo.in"
	side_by_side echo -bind -connect "$FB_TMP/echo.sock"
	same_output echo
	same_status
	grep -q '^SCRIPT_NAME=/env.php$' "$FB_TMP/echo.fb.out"
}

@test "-bind -connect: stdin without CONTENT_LENGTH is no body, as in cgi-fcgi" {
	echo "this is not a request body" >"$FB_TMP/nocl.in"
	CGI_STDIN="$FB_TMP/nocl.in"
	side_by_side nocl -bind -connect "$FB_TMP/echo.sock"
	same_output nocl
	same_status
	grep -qx 'BODY=' "$FB_TMP/nocl.fb.out"
}

@test "-bind -connect: a 1 MiB answer comes through byte for byte as cgi-fcgi's" {
	CGI_ENV+=(QUERY_STRING=big=16384)
	side_by_side big -bind -connect "$FB_TMP/echo.sock"
	same_output big
	same_status
	[ "$(stat -c %s "$FB_TMP/big.fb.out")" -gt $((1024 * 1024)) ]
}

@test "-bind -connect: FCGI_STDERR goes to stderr, stdout stays as cgi-fcgi's" {
	CGI_ENV+=(QUERY_STRING=stderr)
	side_by_side stderr -bind -connect "$FB_TMP/echo.sock"
	same_output stderr
	same_status
	grep -q 'a line on FCGI_STDERR' "$FB_TMP/stderr.ref.err"
	grep -q 'a line on FCGI_STDERR' "$FB_TMP/stderr.fb.err"
	! grep -q 'FCGI_STDERR' "$FB_TMP/stderr.fb.out"
}

@test "-bind -connect: the app's appStatus 7 is the exit status, as in cgi-fcgi" {
	CGI_ENV+=(QUERY_STRING=status=7)
	side_by_side status -bind -connect "$FB_TMP/echo.sock"
	same_output status
	same_status
	[ "$FB_STATUS" -eq 7 ]
}

@test "-bind -connect localhost:PORT: TCP by name, as cgi-fcgi" {
	local port
	port=$(free_tcp_port)
	echo_start "127.0.0.1:$port"
	stop_later ":$port"
	side_by_side tcpname -bind -connect "localhost:$port"
	same_output tcpname
	same_status
}

@test "-bind -connect :PORT: TCP on the local host, as cgi-fcgi" {
	local port
	port=$(free_tcp_port)
	echo_start "127.0.0.1:$port"
	stop_later ":$port"
	side_by_side tcpport -bind -connect ":$port"
	same_output tcpport
	same_status
}

@test "-bind -connect NAME (no '/' or ':'): a socket in the working directory, as cgi-fcgi" {
	cd "$FB_TMP"
	side_by_side relative -bind -connect echo.sock
	same_output relative
	same_status
}

@test "-bind -connect: a 20 KB environment reaches php-fpm whole (no pair split across records)" {
	local i
	CGI_ENV+=("SCRIPT_FILENAME=$FPM_ROOT/bigenv.php" "BIG=$(printf 'x%.0s' {1..12000})")
	for i in $(seq -w 0 99); do
		CGI_ENV+=("V0$i=value number $i, long enough to fill PARAMS records")
	done
	side_by_side bigenv -bind -connect "$FPM_SOCK"
	[ "$FB_STATUS" -eq 0 ]
	grep -qx 'BIG=12000' "$FB_TMP/bigenv.fb.out"
	grep -qx 'V050=value number 50, long enough to fill PARAMS records' \
	    "$FB_TMP/bigenv.fb.out"
}

# -------------------------------------------------------------- -connect

@test "-connect ADDR APP with nothing listening: starts APP, answers as cgi-fcgi" {
	stop_later "$FB_TMP/start1.ref.sock" "$FB_TMP/start1.fb.sock"
	side_by_side start1 -connect @SOCK@ "$ECHO_APP"
	same_output start1
	same_status
	[ "$(fd0_pids "$FB_TMP/start1.fb.sock" | wc -l)" -eq 1 ]
}

@test "-connect ADDR APP 2 with nothing listening: 2 copies left running on the socket" {
	stop_later "$FB_TMP/start2.ref.sock" "$FB_TMP/start2.fb.sock"
	side_by_side start2 -connect @SOCK@ "$ECHO_APP" 2
	same_output start2
	same_status
	[ "$(fd0_pids "$FB_TMP/start2.ref.sock" | wc -l)" -eq 2 ]
	[ "$(fd0_pids "$FB_TMP/start2.fb.sock" | wc -l)" -eq 2 ]
}

@test "-connect ADDR APP with APP already listening: connects, starts nothing" {
	local before after
	before=$(socket_pids "$FB_TMP/echo.sock")
	side_by_side running -connect "$FB_TMP/echo.sock" "$ECHO_APP"
	same_output running
	same_status
	after=$(socket_pids "$FB_TMP/echo.sock")
	[ "$before" = "$after" ]
}

@test "-connect ADDR APP over a stale socket file (dead app): starts APP afresh" {
	local sock="$FB_TMP/stale.sock"
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])' "$sock"
	[ -S "$sock" ]
	stop_later "$sock"
	(no_fds timeout "$T_CMD" env -i "${CGI_ENV[@]}" "$FB_ABS" -connect \
	    "$sock" "$ECHO_APP") </dev/null >"$FB_TMP/stale.out"
	grep -q '^SCRIPT_NAME=/env.php$' "$FB_TMP/stale.out"
	[ "$(fd0_pids "$sock" | wc -l)" -eq 1 ]
}

# ---------------------------------------------------------------- -start

@test "-start -connect ADDR APP 3: exits 0 silently like cgi-fcgi, 3 processes share the socket as fd 0" {
	stop_later "$FB_TMP/three.ref.sock" "$FB_TMP/three.fb.sock"
	side_by_side three -start -connect @SOCK@ "$ECHO_APP" 3
	same_status
	[ "$FB_STATUS" -eq 0 ]
	[ ! -s "$FB_TMP/three.ref.out" ] && [ ! -s "$FB_TMP/three.fb.out" ]
	[ ! -s "$FB_TMP/three.fb.err" ]
	wait_for_count 3 50 fd0_pids "$FB_TMP/three.ref.sock"
	wait_for_count 3 50 fd0_pids "$FB_TMP/three.fb.sock"
	run timeout "$T_CMD" env -i "${CGI_ENV[@]}" "$FB" -bind -connect \
	    "$FB_TMP/three.fb.sock"
	[ "$status" -eq 0 ]
	[[ $output == *"SCRIPT_NAME=/env.php"* ]]
}

@test "-start: the apps have only the socket, /dev/null on 1 and 2, and sessions of their own" {
	local sock="$FB_TMP/alone.sock" pid
	stop_later "$sock"
	# An extra open descriptor that the apps must not inherit.
	timeout "$T_CMD" "$FB" -start -connect "$sock" "$ECHO_APP" 2 \
	    </dev/null 3>&- 7>"$FB_TMP/alone.fd7"
	wait_for_count 2 50 fd0_pids "$sock"
	for pid in $(fd0_pids "$sock"); do
		[ "$(ls "/proc/$pid/fd" | sort -n | tr '\n' ' ')" = "0 1 2 " ]
		[ "$(readlink "/proc/$pid/fd/1")" = /dev/null ]
		[ "$(readlink "/proc/$pid/fd/2")" = /dev/null ]
		# Session id (field 6 of stat) is the pid: a session leader.
		[ "$(awk '{ print $6 }' "/proc/$pid/stat")" = "$pid" ]
	done
}

@test "-start never kills the apps it started: they outlive the caller's whole process group" {
	local sock="$FB_TMP/outlive.sock"
	stop_later "$sock"
	# The caller and everything in its group get SIGTERM right after.
	timeout "$T_CMD" setsid bash -c '"$1" -start -connect "$2" "$3" 2
	    kill -TERM 0' _ "$FB_ABS" "$sock" "$ECHO_APP" </dev/null 3>&- || true
	sleep 0.3
	[ "$(fd0_pids "$sock" | wc -l)" -eq 2 ]
	run timeout "$T_CMD" env -i "${CGI_ENV[@]}" "$FB" -bind -connect "$sock"
	[ "$status" -eq 0 ]
}

@test "-start -connect :PORT: the apps listen on loopback TCP and answer" {
	local port
	port=$(free_tcp_port)
	stop_later ":$port"
	timeout "$T_CMD" "$FB" -start -connect ":$port" "$ECHO_APP" </dev/null 3>&-
	wait_for_count 1 50 fd0_pids ":$port"
	grep -qi "0100007F:$(printf '%04X' "$port") 00000000:0000 0A" /proc/net/tcp
	run timeout "$T_CMD" env -i "${CGI_ENV[@]}" "$FB" -bind -connect ":$port"
	[ "$status" -eq 0 ]
	[[ $output == *"SCRIPT_NAME=/env.php"* ]]
}

# -------------------------------------------------------------------- -f

@test "-f: an executable #! command file answers as cgi-fcgi's does" {
	local who st
	for who in ref fb; do
		if [ "$who" = ref ]; then
			echo "#!$CGI_FCGI -f"
		else
			echo "#!$FB_ABS -f"
		fi >"$FB_TMP/script.$who"
		cat >>"$FB_TMP/script.$who" <<EOF
# A comment line, skipped.
-connect $FB_TMP/script.$who.sock $ECHO_APP
EOF
		chmod 755 "$FB_TMP/script.$who"
		stop_later "$FB_TMP/script.$who.sock"
		st=0
		(no_fds timeout "$T_CMD" env -i "${CGI_ENV[@]}" \
		    "$FB_TMP/script.$who") </dev/null \
		    >"$FB_TMP/script.$who.out" 2>"$FB_TMP/script.$who.err" ||
		    st=$?
		if [ "$who" = ref ]; then REF_STATUS=$st; else FB_STATUS=$st; fi
	done
	same_output script
	same_status
	[ "$FB_STATUS" -eq 0 ]
}

@test "-f: arguments after FILE (an ISINDEX query) are ignored, as cgi-fcgi ignores them" {
	printf '%s\n' "#!$FB_ABS -f" "-bind -connect $FB_TMP/echo.sock" \
	    >"$FB_TMP/isindex"
	chmod 755 "$FB_TMP/isindex"
	run --separate-stderr timeout "$T_CMD" env -i "${CGI_ENV[@]}" \
	    "$FB_TMP/isindex" word1 word2 </dev/null
	[ "$status" -eq 0 ]
	[[ $output == *"SCRIPT_NAME=/env.php"* ]]
}

@test "-f: words split on any run of blanks, blank and # lines skipped" {
	printf '%s\n' "# the socket" "" \
	    "  -bind	  -connect   $FB_TMP/echo.sock  " "# trailing" \
	    >"$FB_TMP/blanks"
	run --separate-stderr timeout "$T_CMD" env -i "${CGI_ENV[@]}" \
	    "$FB" -f "$FB_TMP/blanks" </dev/null
	[ "$status" -eq 0 ]
	[[ $output == *"SCRIPT_NAME=/env.php"* ]]
}

@test "-f FILE that cannot be read: 66, naming the file" {
	run --separate-stderr timeout "$T_CMD" "$FB" -f "$FB_TMP/missing.cmd"
	[ "$status" -eq 66 ]
	[[ $stderr == *"$FB_TMP/missing.cmd: No such file or directory"* ]]
}

# ---------------------------------------------------- the cgi-fcgi name

@test "under the name cgi-fcgi (a symlink): -bind -connect as cgi-fcgi" {
	BRIDGE="$FB_TMP/bin/cgi-fcgi"
	side_by_side symlink -bind -connect "$FB_TMP/echo.sock"
	same_output symlink
	same_status
}

@test "under the name cgi-fcgi: -connect ADDR APP starts the app as cgi-fcgi does" {
	BRIDGE="$FB_TMP/bin/cgi-fcgi"
	stop_later "$FB_TMP/symstart.ref.sock" "$FB_TMP/symstart.fb.sock"
	side_by_side symstart -connect @SOCK@ "$ECHO_APP"
	same_output symstart
	same_status
}

@test "under the name cgi-fcgi: no arguments is a usage error (64) listing cgi-fcgi's forms" {
	run --separate-stderr timeout "$T_CMD" "$FB_TMP/bin/cgi-fcgi"
	[ "$status" -eq 64 ]
	[ -z "$output" ]
	[[ $stderr == *"cgi-fcgi -bind -connect address"* ]]
	[[ $stderr == *"cgi-fcgi -start -connect address app [n]"* ]]
	[[ $stderr == *"cgi-fcgi -f file"* ]]
}

@test "make install INSTALL_CGI_FCGI_LINK=1 installs a cgi-fcgi link that works" {
	local root="$FB_TMP/root"
	# -o: install what is built; never relink it under the running suite.
	run make -s -C "$BATS_TEST_DIRNAME/.." -o fcgi-bridge install \
	    DESTDIR="$root" PREFIX=/usr INSTALL_CGI_FCGI_LINK=1
	[ "$status" -eq 0 ]
	[ "$(readlink "$root/usr/bin/cgi-fcgi")" = fcgi-bridge ]
	BRIDGE="$root/usr/bin/cgi-fcgi"
	side_by_side installed -bind -connect "$FB_TMP/echo.sock"
	same_output installed
	same_status
}

@test "make install without INSTALL_CGI_FCGI_LINK installs no cgi-fcgi" {
	local root="$FB_TMP/root-nolink"
	run make -s -C "$BATS_TEST_DIRNAME/.." -o fcgi-bridge install \
	    DESTDIR="$root" PREFIX=/usr
	[ "$status" -eq 0 ]
	[ -x "$root/usr/bin/fcgi-bridge" ]
	[ ! -e "$root/usr/bin/cgi-fcgi" ] && [ ! -L "$root/usr/bin/cgi-fcgi" ]
}

# ------------------------------------------- where cgi-fcgi is not copied

@test "a missing socket: exit 69 and a message, where cgi-fcgi exits with raw errno 2" {
	side_by_side nosock -bind -connect "$FB_TMP/nobody.sock"
	[ "$REF_STATUS" -eq 2 ]
	[ "$FB_STATUS" -eq 69 ]
	[ ! -s "$FB_TMP/nosock.fb.out" ]
	grep -q "fcgi-bridge: $FB_TMP/nobody.sock: connect: No such file or directory" \
	    "$FB_TMP/nosock.fb.err"
}

@test "a refused TCP port: exit 69, where cgi-fcgi exits with raw errno 111" {
	local port
	port=$(free_tcp_port)
	side_by_side refused -bind -connect "127.0.0.1:$port"
	[ "$REF_STATUS" -eq 111 ]
	[ "$FB_STATUS" -eq 69 ]
	grep -q "127.0.0.1:$port: connect: Connection refused" \
	    "$FB_TMP/refused.fb.err"
}

@test "FCGI_OVERLOADED: exit 75, where cgi-fcgi exits 253" {
	fake_start overloaded
	side_by_side overloaded -bind -connect "$FAKE_SOCK"
	fake_stop
	[ "$REF_STATUS" -eq 253 ]
	[ "$FB_STATUS" -eq 75 ]
}

@test "record headers split across reads are read right (cgi-fcgi misreads them)" {
	fake_start bytewise
	side_by_side bytewise -bind -connect "$FAKE_SOCK"
	fake_stop
	[ "$FB_STATUS" -eq 0 ]
	[ "$(cat "$FB_TMP/bytewise.fb.out")" = "$(printf 'Content-Type: text/plain\r\n\r\nhello')" ]
	[ "$REF_STATUS" -ne 0 ]
}

@test "bad arguments: usage error 64, where cgi-fcgi exits 1" {
	side_by_side badargs -connect "$FB_TMP/x.sock" "$ECHO_APP" 2 extra
	[ "$REF_STATUS" -eq 1 ]
	[ "$FB_STATUS" -eq 64 ]
	grep -q "extra: one argument too many" "$FB_TMP/badargs.fb.err"
}

@test "-start of an APP that cannot be executed: 64 naming it, nothing left behind" {
	side_by_side noexec -start -connect @SOCK@ "$FB_TMP/no-such-app"
	[ "$REF_STATUS" -ne 0 ]
	[ "$FB_STATUS" -eq 64 ]
	grep -q "$FB_TMP/no-such-app: cannot execute: No such file or directory" \
	    "$FB_TMP/noexec.fb.err"
	[ ! -e "$FB_TMP/noexec.fb.sock" ]
}
