#!/usr/bin/env bats
# fcgi-bridge serve as an operator runs it: TCP listeners and
# FCGI_WEB_SERVER_ADDRS (IPv4 and IPv6), the warning for a listener beyond
# loopback, privilege drop, the socket file's mode, a socket inherited on
# fd 0.  Each test starts its own serve and stops it by PID.

load lib/helpers
load lib/serve

setup_file() {
	fb_tmp_create
	# World-readable, so that a CGI run as nobody can be executed.
	WWW=$(mktemp -d /tmp/fcgi-bridge-www.XXXXXX)
	chmod 755 "$WWW"
	cat >"$WWW/id.cgi" <<'CGI'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\nuid=%s\n' "$(id -u)"
CGI
	chmod 755 "$WWW/id.cgi"
	# Burns about 0.1 s of CPU between a "+" and a "-" line in $SPIN_LOG.
	cat >"$WWW/groups.cgi" <<'CGI'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\ngroups=%s\n' "$(id -G)"
CGI
	chmod 755 "$WWW/groups.cgi"
	cat >"$WWW/spin.cgi" <<'CGI'
#!/bin/sh
echo + >>"$SPIN_LOG"
i=0
while [ "$i" -lt 50000 ]; do i=$((i + 1)); done
echo - >>"$SPIN_LOG"
printf 'Content-Type: text/plain\r\n\r\nspun\n'
CGI
	chmod 755 "$WWW/spin.cgi"
	cat >"$WWW/slow.cgi" <<'CGI'
#!/bin/sh
echo + >>"$SPIN_LOG.slow"
sleep 3
echo - >>"$SPIN_LOG.slow"
printf 'Content-Type: text/plain\r\n\r\nslow\n'
CGI
	chmod 755 "$WWW/slow.cgi"
	export WWW
}

teardown_file() {
	rm -rf "${WWW:-/nonexistent}"
	fb_tmp_remove
}

teardown() {
	[ -z "${OWN_PID:-}" ] || stop_pid "$OWN_PID"
}

# own_serve LOG ARGS...: starts serve with ARGS in the background (OWN_PID),
# on the CPUs in $SERVE_CPUS if set, and waits, bounded, for its
# "listening on" log line.
own_serve() {
	local log=$1 i
	local -a on_cpus=()
	shift
	[ -z "${SERVE_CPUS:-}" ] || on_cpus=(taskset -c "$SERVE_CPUS")
	"${on_cpus[@]}" "$FB" serve "$@" </dev/null >>"$log" 2>&1 &
	OWN_PID=$!
	echo "$OWN_PID" >>"$FB_TMP/pids"
	for ((i = 0; i < 100; i++)); do
		grep -q 'listening on' "$log" 2>/dev/null && return 0
		alive "$OWN_PID" || { cat "$log" >&2; return 1; }
		sleep 0.1
	done
	cat "$log" >&2
	return 1
}

# spin_overlap LOG: the most spin.cgi runs at once, counted from the 33rd
# start on (once serve has seen the first CGIs exit).
spin_overlap() {
	most_at_once "$1" 32
}

# spin_run LOG SERVE-ARGS...: serve on at most 2 CPUs, -c 24, loaded with
# 96 spin.cgi requests from 24 connections.  Sets CPUS.
spin_run() {
	local log=$1 cpus=0,1
	shift
	(($(nproc) > 1)) || cpus=0
	CPUS=$(($(nproc) > 1 ? 2 : 1))
	: >"$FB_TMP/spin.lines"
	SERVE_CPUS=$cpus own_serve "$log" --allow-root -c 24 "$@" \
	    -e "SPIN_LOG=$FB_TMP/spin.lines" -s "$FB_TMP/spin.sock" -r "$WWW"
	run timeout 120 "$FB" bench -n 96 -c 24 -r "$WWW" \
	    "$FB_TMP/spin.sock" /spin.cgi
	[ "$status" -eq 0 ]
	[ "$(grep -c '^-' "$FB_TMP/spin.lines")" -eq 96 ]
}

# ask ADDRESS: the id.cgi request through fcgi-bridge request.
ask() {
	run timeout 20 "$FB" request -r "$WWW" "$1" /id.cgi
}

@test "FCGI_WEB_SERVER_ADDRS: a TCP peer in the list is served" {
	port=$(free_tcp_port)
	FCGI_WEB_SERVER_ADDRS=127.0.0.1 own_serve "$FB_TMP/a.log" \
	    --allow-root -s "127.0.0.1:$port" -r "$WWW"
	ask "127.0.0.1:$port"
	[ "$status" -eq 0 ]
	[ "$output" = "uid=$(id -u)" ]
}

@test "FCGI_WEB_SERVER_ADDRS: a TCP peer not in the list is refused, with a log line" {
	port=$(free_tcp_port)
	FCGI_WEB_SERVER_ADDRS=127.0.0.2,10.9.8.7 own_serve "$FB_TMP/b.log" \
	    --allow-root -s "127.0.0.1:$port" -r "$WWW"
	ask "127.0.0.1:$port"
	[ "$status" -eq 76 ]
	grep -q 'refused: not in FCGI_WEB_SERVER_ADDRS' "$FB_TMP/b.log"
}

@test "FCGI_WEB_SERVER_ADDRS: an IPv6 peer in the list is served" {
	port=$(free_tcp_port)
	FCGI_WEB_SERVER_ADDRS=::1 own_serve "$FB_TMP/c.log" \
	    --allow-root -s "[::1]:$port" -r "$WWW"
	ask "[::1]:$port"
	[ "$status" -eq 0 ]
	[ "$output" = "uid=$(id -u)" ]
}

@test "FCGI_WEB_SERVER_ADDRS: an IPv6 peer not in the list is refused" {
	port=$(free_tcp_port)
	FCGI_WEB_SERVER_ADDRS=127.0.0.1 own_serve "$FB_TMP/d.log" \
	    --allow-root -s "[::1]:$port" -r "$WWW"
	ask "[::1]:$port"
	[ "$status" -eq 76 ]
	grep -q '\[::1\]:[0-9]*: refused' "$FB_TMP/d.log"
}

@test "FCGI_WEB_SERVER_ADDRS: a word that is not an address is a usage error" {
	run env FCGI_WEB_SERVER_ADDRS=localhost timeout 10 "$FB" serve \
	    --allow-root -s "$FB_TMP/e.sock" -r "$WWW"
	[ "$status" -eq 64 ]
	[[ "$output" == *"localhost is not an IP address"* ]]
}

@test "a TCP listener beyond loopback without FCGI_WEB_SERVER_ADDRS logs a warning" {
	port=$(free_tcp_port)
	own_serve "$FB_TMP/f.log" --allow-root -s "0.0.0.0:$port" -r "$WWW"
	grep -q 'listening beyond loopback without FCGI_WEB_SERVER_ADDRS' \
	    "$FB_TMP/f.log"
}

@test "a loopback TCP listener logs no such warning" {
	port=$(free_tcp_port)
	own_serve "$FB_TMP/g.log" --allow-root -s "127.0.0.1:$port" -r "$WWW"
	! grep -q 'beyond loopback' "$FB_TMP/g.log"
}

@test "-u nobody: the CGI runs as nobody, after serve bound its socket as root" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to drop privileges"
	own_serve "$FB_TMP/h.log" -u nobody -s "$WWW/h.sock" -r "$WWW"
	ask "$WWW/h.sock"
	[ "$status" -eq 0 ]
	[ "$output" = "uid=$(id -u nobody)" ]
	[ "$(awk '/^Uid:/ { print $2 }' /proc/"$OWN_PID"/status)" = \
	    "$(id -u nobody)" ]
}

@test "-u USER: serve, and so its CGIs, are in USER's supplementary groups too" {
	local user
	[ "$(id -u)" -eq 0 ] || skip "needs root to drop privileges"
	# A user that /etc/group lists as a member of some group.
	user=$(getent group | awk -F: '$4 != "" { split($4, m, ","); print m[1] }' |
	    while read -r u; do id "$u" >/dev/null 2>&1 && echo "$u"; done |
	    head -1)
	[ -n "$user" ] || skip "no user with supplementary groups here"
	own_serve "$FB_TMP/groups.log" -u "$user" -s "$WWW/g.sock" -r "$WWW"
	[ "$(awk '/^Groups:/ { $1 = ""; print }' "/proc/$OWN_PID/status" |
	    tr ' ' '\n' | grep . | sort -n | tr '\n' ' ')" = \
	    "$(id -G "$user" | tr ' ' '\n' | sort -n | tr '\n' ' ')" ]
	run timeout 20 "$FB" request -r "$WWW" "$WWW/g.sock" /groups.cgi
	[ "$status" -eq 0 ]
	[ "$output" = "groups=$(id -G "$user")" ]
}

@test "-u root without --allow-root is refused, exit 64" {
	run timeout 10 "$FB" serve -u root -s "$FB_TMP/i.sock" -r "$WWW"
	[ "$status" -eq 64 ]
	[[ "$output" == *"as root"* ]]
	[ ! -e "$FB_TMP/i.sock" ]
}

@test "-m 600 gives the socket file that mode" {
	own_serve "$FB_TMP/j.log" --allow-root -m 600 -s "$FB_TMP/j.sock" \
	    -r "$WWW"
	[ "$(stat -c %a "$FB_TMP/j.sock")" = 600 ]
}

@test "a listening socket on fd 0 is taken when there is no -s" {
	python3 "$BATS_TEST_DIRNAME/lib/listen-exec.py" "$FB_TMP/k.sock" \
	    "$FB" serve --allow-root -r "$WWW" >>"$FB_TMP/k.log" 2>&1 &
	OWN_PID=$!
	echo "$OWN_PID" >>"$FB_TMP/pids"
	wait_for_socket "$FB_TMP/k.sock"
	ask "$FB_TMP/k.sock"
	[ "$status" -eq 0 ]
	[ "$output" = "uid=$(id -u)" ]
	grep -q 'listening on an inherited socket' "$FB_TMP/k.log"
}

@test "CPU-bound CGIs run about three per core at once, not all that -c allows" {
	spin_run "$FB_TMP/l.log"
	overlap=$(spin_overlap "$FB_TMP/spin.lines")
	echo "# at most $overlap at once on $CPUS CPUs" >&3
	((overlap <= 4 * CPUS + 2))
}

@test "--no-adapt runs as many CGIs at once as -c allows" {
	spin_run "$FB_TMP/m.log" --no-adapt
	overlap=$(spin_overlap "$FB_TMP/spin.lines")
	echo "# at most $overlap at once on $CPUS CPUs" >&3
	((overlap >= 18))
}

@test "CGIs running for over a second do not hold back the others" {
	local slow="$FB_TMP/spin.lines.slow" started ended
	spin_run "$FB_TMP/n.log"	# teaches serve that its CGIs are CPU-bound
	rm -f "$slow"
	"$FB" bench -n 10 -c 10 -r "$WWW" "$FB_TMP/spin.sock" /slow.cgi \
	    >/dev/null 2>&1 &
	echo "$!" >>"$FB_TMP/pids"
	wait_for_file "$slow" 50
	ask "$FB_TMP/spin.sock"
	started=$(grep -c '^+' "$slow" || true)
	ended=$(grep -c '^-' "$slow" || true)
	echo "# when id.cgi answered, $started slow CGIs had started, $ended ended" >&3
	[ "$status" -eq 0 ]
	[ "$output" = "uid=$(id -u)" ]
	# Answered while the slow CGIs still ran (each sleeps 3 s), not held
	# back until one of them ended.
	[ "$ended" -eq 0 ]
}
