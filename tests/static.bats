#!/usr/bin/env bats
# The static binary (`make static`, linked with musl) where no C library
# is installed: copied alone into an empty directory used as a chroot,
# with an /etc/passwd and an /etc/group that name a test user and a CGI
# program of its own kind (tests/lib/id-cgi.c, static too, since there is
# no shell either), and no /proc, no /dev, no resolver files.  There it
# serves with -u, answers request, values, bench and cgi-fcgi's -bind
# -connect, resolves localhost, /etc/hosts and DNS names, refuses an
# unknown user as a usage error, and spawn runs an application as the
# user.  Outside the chroot, it asks php-fpm as the dynamic binary does.
#
# Skipped, saying why, without musl-gcc (scripts/install-deps --static);
# the chroot tests also without root or where chroot fails.
#
# setup_file builds ./fcgi-bridge-static with make, and starts in "$ROOT"
# (the chroot, "$FB_TMP/root"):
#   serve -u fbstatic -s unix:/serve.sock -- /id.cgi
#   serve -u fbstatic -s 127.0.0.1:$TCP_PORT -- /id.cgi
# and php-fpm outside it (lib/helpers: php_fpm_start).

load lib/helpers

STATIC="$BATS_TEST_DIRNAME/../fcgi-bridge-static"
MUSL_CC="${MUSL_CC:-musl-gcc}"
CGI_FCGI="${CGI_FCGI:-$(command -v cgi-fcgi || echo /usr/bin/cgi-fcgi)}"

# The test user of the chroot's /etc/passwd, its group, and a second group
# it belongs to through /etc/group only.
TUSER=fbstatic
TUID=4242
TGID=4242
TEXTRA=4243

# in_root ARGS...: the static binary in the chroot, under a timeout, with
# stdout and stderr apart.
in_root() {
	run --separate-stderr timeout "$T_CMD" chroot "$ROOT" \
	    /fcgi-bridge-static "$@"
}

# root_start NAME ARGS...: the static binary in the chroot, in the
# background, its stderr in "$FB_TMP/NAME.log"; sets ROOT_PID, its PID,
# which chroot(8) keeps, having exec'ed it.
root_start() {
	local name=$1
	shift
	chroot "$ROOT" /fcgi-bridge-static "$@" </dev/null \
	    >>"$FB_TMP/$name.log" 2>&1 3>&- &
	ROOT_PID=$!
	echo "$ROOT_PID" >>"$FB_TMP/pids"
}

# answers ADDRESS: until `request ADDRESS` gets an answer (10 s at most).
answers() {
	local i
	for ((i = 0; i < 100; i++)); do
		timeout 5 chroot "$ROOT" /fcgi-bridge-static request "$1" / \
		    >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "nothing answers on $1" >&2
	return 1
}

setup_file() {
	fb_tmp_create
	STATIC_SKIP= CHROOT_SKIP=
	if ! command -v "$MUSL_CC" >/dev/null; then
		STATIC_SKIP="$MUSL_CC not installed (scripts/install-deps --static)"
		export STATIC_SKIP
		return 0
	fi
	make -s -C "$BATS_TEST_DIRNAME/.." static >"$FB_TMP/make.log" 2>&1 ||
	    { cat "$FB_TMP/make.log" >&2; return 1; }

	php_fpm_start

	ROOT="$FB_TMP/root"
	TCP_PORT=$(free_tcp_port)
	export ROOT TCP_PORT
	mkdir -m 755 "$ROOT" "$ROOT/etc"
	cp "$STATIC" "$ROOT/fcgi-bridge-static"
	"$MUSL_CC" -static -O2 -o "$ROOT/id.cgi" "$FB_LIB/id-cgi.c"
	cat >"$ROOT/etc/passwd" <<EOF
root:x:0:0:root:/:/nonexistent
$TUSER:x:$TUID:$TGID:fcgi-bridge static test:/:/nonexistent
EOF
	cat >"$ROOT/etc/group" <<EOF
root:x:0:
$TUSER:x:$TGID:
fbextra:x:$TEXTRA:$TUSER
EOF
	if [ "$(id -u)" -ne 0 ]; then
		CHROOT_SKIP="needs root to chroot"
	elif ! chroot "$ROOT" /fcgi-bridge-static --version >/dev/null 2>&1; then
		CHROOT_SKIP="chroot $ROOT fails here"
	fi
	export CHROOT_SKIP
	[ -z "$CHROOT_SKIP" ] || return 0

	root_start userve serve -u "$TUSER" -s unix:/serve.sock -- /id.cgi
	root_start tserve serve -u "$TUSER" -s "127.0.0.1:$TCP_PORT" -- /id.cgi
	answers unix:/serve.sock && answers "127.0.0.1:$TCP_PORT"
}

teardown_file() {
	fb_tmp_remove
}

setup() {
	[ -z "$STATIC_SKIP" ] || skip "$STATIC_SKIP"
}

teardown() {
	[ -n "${ROOT:-}" ] || return 0
	rm -rf "$ROOT/etc/hosts" "$ROOT/etc/resolv.conf" "$ROOT/dev"
}

# chroot_only: skips a test that needs the chroot where there is none.
chroot_only() {
	[ -z "$CHROOT_SKIP" ] || skip "$CHROOT_SKIP"
}

# show: what the last `run` did, printed only when a test fails.
show() {
	echo "status=$status"
	echo "stdout=[${output:0:3000}]"
	echo "stderr=[${stderr:0:3000}]"
}

# The CGI's answer when it runs as the test user, with query string $1.
as_test_user() {
	printf 'uid=%s gid=%s groups=%s,%s\nquery=%s' "$TUID" "$TGID" \
	    "$TGID" "$TEXTRA" "$1"
}

@test "make static: a statically linked x86-64 executable, no dynamic loader" {
	run file "$STATIC"
	show
	[[ $output == *"ELF 64-bit"*"x86-64"*"statically linked"* ]]
	run ldd "$STATIC"
	show
	[[ $output == *"not a dynamic executable"* ]]
}

@test "chroot: request to serve -u: the CGI runs as the user and groups of /etc/passwd and /etc/group" {
	chroot_only
	in_root request unix:/serve.sock '/?a=1'
	show
	[ "$status" -eq 0 ]
	[ "$output" = "$(as_test_user a=1)" ]
}

@test "chroot: values against serve" {
	chroot_only
	in_root values unix:/serve.sock
	show
	[ "$status" -eq 0 ]
	grep -qxF FCGI_MPXS_CONNS=1 <<<"$output"
}

@test "chroot: bench -n 300 -c 4 against serve: every request a 200, no error" {
	chroot_only
	in_root bench --json -n 300 -c 4 unix:/serve.sock /
	show
	[ "$status" -eq 0 ]
	python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["requests"] == 300 and d["errors"] == 0, d
assert d["status"] == {"200": 300}, d["status"]' "$output"
}

@test "chroot: two benches' JSON, histograms included, merged by the static binary as by the dynamic one" {
	chroot_only
	in_root bench --json -n 200 -c 2 unix:/serve.sock /
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >"$ROOT/a.json"
	in_root bench --json -n 100 -c 3 unix:/serve.sock /
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >"$ROOT/b.json"
	in_root bench --merge --json /a.json /b.json
	show
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >"$ROOT/static-merge.json"
	run --separate-stderr "$FB" bench --merge --json "$ROOT/a.json" \
	    "$ROOT/b.json"
	[ "$status" -eq 0 ]
	python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
d = json.loads(sys.argv[2])
assert s["requests"] == 300 and s["errors"] == 0, s["requests"]
for k in ("requests", "status", "latency_ms", "histogram"):
    assert s.get(k) == d.get(k), (k, s.get(k), d.get(k))' \
	    "$ROOT/static-merge.json" "$output"
}

@test "chroot: cgi-fcgi's -bind -connect form against serve" {
	chroot_only
	run --separate-stderr timeout "$T_CMD" env -i REQUEST_METHOD=GET \
	    QUERY_STRING=b=2 SCRIPT_NAME=/id.cgi "$(command -v chroot)" \
	    "$ROOT" /fcgi-bridge-static -bind -connect /serve.sock </dev/null
	show
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'Content-Type: text/plain\r\n\r\n%s' \
	    "$(as_test_user b=2)")" ]
}

@test "chroot: an unknown user or group for serve -u, serve -g, spawn -u is a usage error (64), not a crash" {
	chroot_only
	in_root serve -u nosuchuser -s unix:/never.sock -- /id.cgi
	show
	[ "$status" -eq 64 ]
	[[ $stderr == *"nosuchuser: no such user"* ]]
	in_root serve -u "$TUSER" -g nosuchgroup -s unix:/never.sock -- /id.cgi
	show
	[ "$status" -eq 64 ]
	[[ $stderr == *"nosuchgroup: no such group"* ]]
	in_root spawn -u nosuchuser -s unix:/never.sock -- /id.cgi
	show
	[ "$status" -eq 64 ]
	[[ $stderr == *"nosuchuser: no such user"* ]]
	[ ! -e "$ROOT/never.sock" ]
}

@test "chroot: localhost with no /etc/hosts or resolv.conf answers at once" {
	chroot_only
	local t0
	t0=$(now_ms)
	in_root request -t 3 "localhost:$TCP_PORT" '/?by=localhost'
	show
	echo "elapsed=$(($(now_ms) - t0)) ms"
	[ "$status" -eq 0 ]
	[ "$output" = "$(as_test_user by=localhost)" ]
	[ $(($(now_ms) - t0)) -lt 2000 ]
}

@test "chroot: a host name from /etc/hosts" {
	chroot_only
	echo "127.0.0.1 hosts-test.fcgi-bridge.test" >"$ROOT/etc/hosts"
	in_root request "hosts-test.fcgi-bridge.test:$TCP_PORT" '/?by=hosts'
	show
	[ "$status" -eq 0 ]
	[ "$output" = "$(as_test_user by=hosts)" ]
}

@test "chroot: a host name from DNS, with resolv.conf and no /etc/hosts" {
	chroot_only
	local ready="$FB_TMP/dns.ready" pid
	if python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))' 2>/dev/null; then :; else
		skip "127.0.0.1:53 is taken: no room for a test DNS server"
	fi
	python3 "$FB_LIB/dns-responder.py" 53 dns-test.fcgi-bridge.test \
	    "$ready" >>"$FB_TMP/dns.log" 2>&1 </dev/null 3>&- &
	pid=$!
	echo "$pid" >>"$FB_TMP/pids"
	wait_for_file "$ready"
	echo "nameserver 127.0.0.1" >"$ROOT/etc/resolv.conf"
	in_root request "dns-test.fcgi-bridge.test:$TCP_PORT" '/?by=dns'
	show
	[ "$status" -eq 0 ]
	[ "$output" = "$(as_test_user by=dns)" ]
	# A name that the server says does not exist: a usage error, at once.
	in_root request -t 3 "nosuch.fcgi-bridge.test:$TCP_PORT" /
	show
	stop_pid "$pid"
	[ "$status" -eq 64 ]
	[[ $stderr == *"nosuch.fcgi-bridge.test:$TCP_PORT: "* ]]
}

@test "chroot: spawn -F -u runs the application as the user; its -P pidfile is held" {
	chroot_only
	local sup
	# What any container runtime provides: spawn gives the application
	# /dev/null for its stdout and stderr.
	mkdir -m 755 "$ROOT/dev"
	mknod -m 666 "$ROOT/dev/null" c 1 3 ||
	    skip "cannot make $ROOT/dev/null (no CAP_MKNOD)"
	# The application: the static binary's own serve, on the socket
	# spawn hands it as fd 0, already running as the user.
	root_start spawn spawn -F -n 2 -u "$TUSER" -s unix:/spawn.sock \
	    -P /spawn.pid -- /fcgi-bridge-static serve -- /id.cgi
	sup=$ROOT_PID
	wait_for_file "$ROOT/spawn.pid"
	answers unix:/spawn.sock
	in_root request unix:/spawn.sock '/?via=spawn'
	show
	[ "$status" -eq 0 ]
	[ "$output" = "$(as_test_user via=spawn)" ]
	[ "$(cat "$ROOT/spawn.pid")" = "$sup" ]
	in_root spawn -u "$TUSER" -s unix:/spawn2.sock -P /spawn.pid \
	    -- /fcgi-bridge-static serve -- /id.cgi
	show
	[ "$status" -eq 73 ]
	[[ $stderr == *"/spawn.pid: already in use by pid $sup"* ]]
	stop_pid "$sup"
	[ ! -e "$ROOT/spawn.pid" ]
	[ ! -e "$ROOT/spawn.sock" ]
}

@test "php-fpm: request /ping answers pong" {
	run --separate-stderr timeout "$T_CMD" "$STATIC" request \
	    "unix:$FPM_SOCK" /ping
	show
	[ "$status" -eq 0 ]
	[ "$output" = pong ]
}

@test "php-fpm: connect answers byte for byte as cgi-fcgi -bind -connect" {
	local env=(REQUEST_METHOD=GET SCRIPT_NAME=/ping SCRIPT_FILENAME=/ping
	    REQUEST_URI=/ping)
	env -i "${env[@]}" timeout "$T_CMD" "$CGI_FCGI" -bind -connect \
	    "$FPM_SOCK" </dev/null >"$FB_TMP/ref.out"
	env -i "${env[@]}" timeout "$T_CMD" "$STATIC" connect "$FPM_SOCK" \
	    </dev/null >"$FB_TMP/static.out"
	cmp "$FB_TMP/ref.out" "$FB_TMP/static.out"
	grep -q pong "$FB_TMP/static.out"
}

@test "php-fpm: values" {
	run --separate-stderr timeout "$T_CMD" "$STATIC" values "unix:$FPM_SOCK"
	show
	[ "$status" -eq 0 ]
	grep -qxF FCGI_MPXS_CONNS=0 <<<"$output"
}
