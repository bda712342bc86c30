# Shared helpers for tests/*.bats.  Load with `load lib/helpers`.
#
# Peers (php-fpm, fcgiwrap, the fake responder) are started in the
# background on Unix sockets inside a per-file temp dir, recorded by PID in
# "$FB_TMP/pids", and stopped by PID only.  Every command that talks to a
# peer runs under `timeout`, and every wait loop is bounded, so a hung peer
# fails a test instead of hanging the suite.

# `run --separate-stderr` needs bats >= 1.5.
bats_require_minimum_version 1.5.0

# FCGI_BRIDGE overrides the binary under test (e.g. another build).
FB="${FCGI_BRIDGE:-$BATS_TEST_DIRNAME/../fcgi-bridge}"
FB_LIB="$BATS_TEST_DIRNAME/lib"
PHP_FPM="${PHP_FPM:-$(command -v php-fpm8.2 || command -v /usr/sbin/php-fpm8.2 || command -v php-fpm || echo /usr/sbin/php-fpm8.2)}"
FCGIWRAP="${FCGIWRAP:-$(command -v fcgiwrap || echo /usr/sbin/fcgiwrap)}"

# Seconds allowed to any one command talking to a peer.
T_CMD=20

# FB_BENCH_IO=epoll or uring: tests/bench*.bats run every bench with --io
# so (tests/run runs those files once more with the engine that auto does
# not take).  BENCH_IO is the option, or nothing.
BENCH_IO=()
[ -z "${FB_BENCH_IO:-}" ] || BENCH_IO=(--io "$FB_BENCH_IO")

# fb_tmp_create: makes the per-file temp dir and exports FB_TMP.  Call from
# setup_file (or from setup when a file has no setup_file).
fb_tmp_create() {
	FB_TMP=$(mktemp -d /tmp/fcgi-bridge-bats.XXXXXX)
	export FB_TMP
	: >"$FB_TMP/pids"
}

# fb_tmp_remove: stops everything still recorded and removes the temp dir.
fb_tmp_remove() {
	[ -n "${FB_TMP:-}" ] && [ -d "$FB_TMP" ] || return 0
	local pid
	if [ -f "$FB_TMP/pids" ]; then
		while read -r pid; do
			[ -n "$pid" ] && stop_pid "$pid"
		done <"$FB_TMP/pids"
	fi
	rm -rf "$FB_TMP"
}

# alive PID: true while PID exists and is not a zombie.
alive() {
	local state
	kill -0 "$1" 2>/dev/null || return 1
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$state" != Z ]
}

# wait_gone PID TENTHS: waits at most TENTHS/10 s for PID to end.
wait_gone() {
	local i
	for ((i = 0; i < $2; i++)); do
		alive "$1" || return 0
		sleep 0.1
	done
	! alive "$1"
}

# descendants PID: prints every descendant of PID (children first).
descendants() {
	local k
	for k in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		echo "$k"
		descendants "$k"
	done
}

# stop_pid PID: SIGTERM, up to 5 s, then SIGKILL; then SIGKILL to whatever
# of its process tree outlived it (php-fpm workers, fcgiwrap's children
# and their CGIs), each by PID.
stop_pid() {
	local pid=$1 kids k
	alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
	kids=$(descendants "$pid")
	kill -TERM "$pid" 2>/dev/null
	if ! wait_gone "$pid" 50; then
		kill -KILL "$pid" 2>/dev/null
		wait_gone "$pid" 20
	fi
	for k in $kids; do
		if alive "$k"; then
			kill -TERM "$k" 2>/dev/null
			wait_gone "$k" 10 || kill -KILL "$k" 2>/dev/null
		fi
	done
	# Reap it when it is our child; harmless otherwise.
	wait "$pid" 2>/dev/null || true
	sed -i "/^$pid\$/d" "$FB_TMP/pids" 2>/dev/null
	return 0
}

# wait_for_path TEST WHAT PATH [TENTHS]: waits (default 10 s) until
# test TEST PATH holds.
wait_for_path() {
	local i n=${4:-100}
	for ((i = 0; i < n; i++)); do
		[ "$1" "$3" ] && return 0
		sleep 0.1
	done
	echo "$2 $3 did not appear" >&2
	return 1
}

# wait_for_socket PATH [TENTHS]: until PATH is a socket.
wait_for_socket() {
	wait_for_path -S socket "$@"
}

# wait_for_file PATH [TENTHS]: until PATH is non-empty.
wait_for_file() {
	wait_for_path -s file "$@"
}

# ---------------------------------------------------------------- php-fpm

# php_fpm_start: php-fpm in the foreground (-F) in the background of this
# shell, with its own config, one static pool of 2 workers on
# "$FPM_SOCK", ping at /ping, docroot "$FPM_ROOT" for the tests' scripts.
php_fpm_start() {
	[ -x "$PHP_FPM" ] || { echo "php-fpm not found ($PHP_FPM)" >&2; return 1; }
	FPM_SOCK="$FB_TMP/php-fpm.sock"
	FPM_ROOT="$FB_TMP/www"
	FPM_LOG="$FB_TMP/php-fpm.log"
	export FPM_SOCK FPM_ROOT FPM_LOG
	mkdir -p "$FPM_ROOT"
	local user="" rflag=""
	if [ "$(id -u)" -eq 0 ]; then
		user=$'user = root\ngroup = root'
		rflag=-R
	fi
	cat >"$FB_TMP/php-fpm.conf" <<EOF
[global]
pid = $FB_TMP/php-fpm.pid
error_log = $FPM_LOG
daemonize = no
log_level = notice

[tests]
$user
listen = $FPM_SOCK
pm = static
pm.max_children = 2
ping.path = /ping
catch_workers_output = yes
php_admin_value[post_max_size] = 200M
php_admin_value[upload_max_filesize] = 200M
php_admin_value[memory_limit] = 256M
php_admin_value[max_execution_time] = 120
php_admin_value[output_buffering] = 0
php_admin_flag[log_errors] = on
EOF
	"$PHP_FPM" -F $rflag -y "$FB_TMP/php-fpm.conf" \
	    >>"$FB_TMP/php-fpm.out" 2>&1 </dev/null 3>&- &
	FPM_PID=$!
	export FPM_PID
	echo "$FPM_PID" >>"$FB_TMP/pids"
	if ! wait_for_socket "$FPM_SOCK"; then
		cat "$FPM_LOG" "$FB_TMP/php-fpm.out" >&2 2>/dev/null
		php_fpm_stop
		return 1
	fi
}

php_fpm_stop() {
	[ -n "${FPM_PID:-}" ] && stop_pid "$FPM_PID"
	FPM_PID=
}

# php_script NAME: writes stdin to "$FPM_ROOT/NAME".
php_script() {
	cat >"$FPM_ROOT/$1"
}

# --------------------------------------------------------------- fcgiwrap

# php_env_script: writes env.php, which prints every param PHP received,
# sorted, one NAME=VALUE per line (minus what PHP adds itself), then the
# body.
php_env_script() {
	php_script env.php <<'EOF'
<?php
header('Content-Type: text/plain');
$skip = ['REQUEST_TIME', 'REQUEST_TIME_FLOAT', 'PHP_SELF', 'argv', 'argc'];
$s = $_SERVER;
ksort($s);
foreach ($s as $k => $v)
	if (!in_array($k, $skip, true))
		echo $k, '=', $v, "\n";
echo 'BODY=', file_get_contents('php://input'), "\n";
EOF
}

# fcgiwrap_start: fcgiwrap on "$FCGIWRAP_SOCK"; it runs SCRIPT_FILENAME,
# scripts live in "$CGI_ROOT" (see cgi_script).
fcgiwrap_start() {
	[ -x "$FCGIWRAP" ] || { echo "fcgiwrap not found ($FCGIWRAP)" >&2; return 1; }
	FCGIWRAP_SOCK="$FB_TMP/fcgiwrap.sock"
	CGI_ROOT="$FB_TMP/cgi"
	export FCGIWRAP_SOCK CGI_ROOT
	mkdir -p "$CGI_ROOT"
	"$FCGIWRAP" -c 2 -s "unix:$FCGIWRAP_SOCK" \
	    >>"$FB_TMP/fcgiwrap.log" 2>&1 </dev/null 3>&- &
	FCGIWRAP_PID=$!
	export FCGIWRAP_PID
	echo "$FCGIWRAP_PID" >>"$FB_TMP/pids"
	if ! wait_for_socket "$FCGIWRAP_SOCK"; then
		cat "$FB_TMP/fcgiwrap.log" >&2
		fcgiwrap_stop
		return 1
	fi
}

fcgiwrap_stop() {
	[ -n "${FCGIWRAP_PID:-}" ] && stop_pid "$FCGIWRAP_PID"
	FCGIWRAP_PID=
}

# cgi_script NAME: writes stdin to "$CGI_ROOT/NAME", executable.
cgi_script() {
	cat >"$CGI_ROOT/$1"
	chmod 755 "$CGI_ROOT/$1"
}

# --------------------------------------------------------- fake responder

# fake_start MODE: starts tests/lib/fake-responder.py in MODE on its own
# socket; sets FAKE_SOCK, FAKE_ADDR (unix:...) and FAKE_PID.
fake_start() {
	local mode=$1
	FAKE_SOCK="$FB_TMP/fake-$mode.sock"
	FAKE_ADDR="unix:$FAKE_SOCK"
	rm -f "$FB_TMP/fake-$mode.pid"
	python3 "$FB_LIB/fake-responder.py" "$FAKE_SOCK" "$mode" \
	    "$FB_TMP/fake-$mode.pid" >>"$FB_TMP/fake-$mode.log" 2>&1 \
	    </dev/null 3>&- &
	echo "$!" >>"$FB_TMP/pids"
	wait_for_file "$FB_TMP/fake-$mode.pid" || return 1
	FAKE_PID=$(cat "$FB_TMP/fake-$mode.pid")
	# The shell's PID and python's are the same unless a shim forked.
	[ "$FAKE_PID" = "$!" ] || echo "$FAKE_PID" >>"$FB_TMP/pids"
	wait_for_socket "$FAKE_SOCK"
}

fake_stop() {
	[ -n "${FAKE_PID:-}" ] && stop_pid "$FAKE_PID"
	FAKE_PID=
}

# ------------------------------------------------------------------ misc

# free_tcp_port: prints a loopback TCP port nobody listens on (bound and
# released just now).
free_tcp_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# now_ms: milliseconds since the epoch.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# md5_of FILE|-: prints the md5 hex digest only.
md5_of() {
	md5sum "$@" | cut -d' ' -f1
}

# j EXPR: the Python expression EXPR over d, the JSON object in $output
# (numbers and strings printed plain, anything else as JSON).
j() {
	python3 -c '
import json, sys
d = json.loads(sys.argv[1])
v = eval(sys.argv[2])
print(v if isinstance(v, (int, float, str)) and not isinstance(v, bool)
      else json.dumps(v, sort_keys=True))' "$output" "$1"
}
