# Helpers for the `fcgi-bridge serve` tests (tests/serve-*.bats).
# Load after lib/helpers: `load lib/helpers` then `load lib/serve`.
#
# Like helpers.bash: everything lives in "$FB_TMP", every background
# process is recorded in "$FB_TMP/pids" and stopped by PID, every command
# runs under `timeout` and every wait is bounded.

RAW="$FB_LIB/raw-fcgi.py"
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
CGI_FCGI="${CGI_FCGI:-$(command -v cgi-fcgi || echo /usr/bin/cgi-fcgi)}"

# has_line LINE: true when stdin has LINE as a whole line.
has_line() {
	grep -qxF -- "$1"
}

# raw ARGS...: tests/lib/raw-fcgi.py under a timeout (see its usage).
raw() {
	timeout 60 python3 "$RAW" "$@"
}

# ------------------------------------------------------------------ serve

# serve_start SOCK [SERVE-ARGS...]: starts
#   fcgi-bridge serve -s unix:SOCK --allow-root SERVE-ARGS...
# in the background with stderr (its log) appended to SOCK.log, and waits
# (bounded) until it accepts connections.  Sets and exports SERVE_PID and
# SERVE_LOG.  Variables assigned on the same command line
# (`MARK=1 serve_start ...`) reach serve's environment.
serve_start() {
	local sock=$1 i
	shift
	SERVE_LOG="$sock.log"
	export SERVE_LOG
	"$FB" serve -s "unix:$sock" --allow-root "$@" \
	    </dev/null >>"$SERVE_LOG" 2>&1 3>&- &
	SERVE_PID=$!
	export SERVE_PID
	echo "$SERVE_PID" >>"$FB_TMP/pids"
	for ((i = 0; i < 100; i++)); do
		if ! alive "$SERVE_PID"; then
			echo "serve exited at start-up; its log:" >&2
			cat "$SERVE_LOG" >&2
			return 1
		fi
		if [ -S "$sock" ] && timeout 5 python3 "$RAW" -t 2 "unix:$sock" \
		    2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "serve did not accept on $sock within 10 s; its log:" >&2
	cat "$SERVE_LOG" >&2
	return 1
}

# serve_stop PID: stops a serve (SIGTERM, later SIGKILL) and its CGIs.
serve_stop() {
	[ -n "${1:-}" ] && stop_pid "$1"
	return 0
}

# children_of PID: prints "CHILD-PID STATE" for every process whose parent
# is PID (zombies included).
children_of() {
	local parent=$1 f s state ppid
	for f in /proc/[0-9]*/stat; do
		read -r s 2>/dev/null <"$f" || continue
		# After the last ") ": STATE PPID ...
		read -r state ppid _ <<<"${s##*) }"
		[ "$ppid" = "$parent" ] || continue
		f=${f#/proc/}
		echo "${f%/stat} $state"
	done
}

# child_count PID / zombie_count PID: children of PID, all / in state Z.
child_count() {
	children_of "$1" | wc -l
}
zombie_count() {
	children_of "$1" | awk '$2 == "Z"' | wc -l
}

# wait_no_children PID TENTHS: waits until PID has no child at all.
wait_no_children() {
	local i
	for ((i = 0; i < $2; i++)); do
		[ "$(child_count "$1")" -eq 0 ] && return 0
		sleep 0.1
	done
	[ "$(child_count "$1")" -eq 0 ]
}

# fd_count PID: open file descriptors of PID.
fd_count() {
	ls "/proc/$1/fd" | wc -l
}

# vm_hwm_kb PID: peak resident set size of PID in KiB.
vm_hwm_kb() {
	awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status"
}

# proc_gone PID TENTHS: waits until /proc/PID is gone (exited and reaped:
# a zombie still has its /proc entry).
proc_gone() {
	local i
	for ((i = 0; i < $2; i++)); do
		[ -e "/proc/$1" ] || return 0
		sleep 0.1
	done
	[ ! -e "/proc/$1" ]
}

# is_asan_build: true when ./fcgi-bridge was built with SANITIZE=1.
is_asan_build() {
	ldd "$FB" 2>/dev/null | grep -q libasan
}

# ------------------------------------------------------------------ CGIs

# build_c_cgi DEST: compiles the test's C CGI to DEST.  Its mode is argv[1]
# when given, else QUERY_STRING:
#   bytes=N  headers, then N bytes of a fixed pseudo-random pattern
#   raw=N    the same N bytes without headers (to compute the checksum)
#   env      headers, then its environment, one NAME=VALUE per line
#   args     headers, then "argv[I]=ARG" lines and "cwd=DIR"
#   exit=N   headers, a line, then exit status N
#   slurp    reads stdin to EOF, then headers and all of it back (nginx
#            stops sending a request body once the response headers came)
#   (other)  headers, then stdin copied to stdout until EOF (echo)
build_c_cgi() {
	cat >"$FB_TMP/cgi.c" <<'EOF'
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static void
put(const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(1, c, n);
		if (w <= 0)
			exit(70);
		c += w;
		n -= (size_t)w;
	}
}

static void
header(const char *type)
{
	char h[128];
	int n = snprintf(h, sizeof h, "Content-Type: %s\r\n\r\n", type);
	put(h, (size_t)n);
}

static void
pattern(unsigned long long n)
{
	static unsigned char buf[65536];
	uint32_t x = 2463534242u;

	while (n > 0) {
		size_t k = n < sizeof buf ? (size_t)n : sizeof buf;
		for (size_t i = 0; i < k; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			buf[i] = (unsigned char)x;
		}
		put(buf, k);
		n -= k;
	}
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : getenv("QUERY_STRING");
	static char buf[65536];
	ssize_t r;

	if (mode == NULL)
		mode = "";
	if (strncmp(mode, "raw=", 4) == 0) {
		pattern(strtoull(mode + 4, NULL, 10));
		return 0;
	}
	if (strncmp(mode, "bytes=", 6) == 0) {
		header("application/octet-stream");
		pattern(strtoull(mode + 6, NULL, 10));
		return 0;
	}
	if (strcmp(mode, "env") == 0) {
		header("text/plain");
		for (char **e = environ; *e != NULL; e++) {
			put(*e, strlen(*e));
			put("\n", 1);
		}
		return 0;
	}
	if (strcmp(mode, "args") == 0) {
		char cwd[PATH_MAX];
		header("text/plain");
		for (int i = 0; i < argc; i++)
			printf("argv[%d]=%s\n", i, argv[i]);
		printf("cwd=%s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
		fflush(stdout);
		return 0;
	}
	if (strncmp(mode, "exit=", 5) == 0) {
		header("text/plain");
		put("exiting\n", 8);
		return (int)strtol(mode + 5, NULL, 10);
	}
	if (strcmp(mode, "slurp") == 0) {
		char *all = NULL, *grown;
		size_t len = 0, cap = 0;

		while ((r = read(0, buf, sizeof buf)) > 0) {
			if (len + (size_t)r > cap) {
				cap = cap ? cap * 2 : sizeof buf;
				while (cap < len + (size_t)r)
					cap *= 2;
				if ((grown = realloc(all, cap)) == NULL)
					return 71;
				all = grown;
			}
			memcpy(all + len, buf, (size_t)r);
			len += (size_t)r;
		}
		header("application/octet-stream");
		put(all, len);
		return 0;
	}
	header("application/octet-stream");
	while ((r = read(0, buf, sizeof buf)) > 0)
		put(buf, (size_t)r);
	return 0;
}
EOF
	timeout 60 cc -O2 -o "$1" "$FB_TMP/cgi.c"
}

# shell_cgi PATH: writes stdin to PATH, executable (mode 755).
shell_cgi() {
	mkdir -p "$(dirname "$1")"
	cat >"$1"
	chmod 755 "$1"
}

# most_at_once LOG [SKIP]: the most runs under way at once in LOG, where
# each run writes a line "+" as it starts and "-" as it ends, counted from
# start SKIP+1 on (default 0: all of them).
most_at_once() {
	awk -v skip="${2:-0}" '/^\+/ { n++; if (++starts > skip && n > max) max = n }
	    /^-/ { n-- } END { print max + 0 }' "$1"
}

# cgis_setup_file: a test file's temporary directory, with the shared CGIs
# of write_cgis in "$CGI_ROOT" ($FB_TMP/cgi) and their markers in "$RUN".
cgis_setup_file() {
	fb_tmp_create
	CGI_ROOT="$FB_TMP/cgi"
	RUN="$FB_TMP/run"
	export CGI_ROOT RUN
	write_cgis "$CGI_ROOT"
}

# write_cgis DIR: the shell CGIs the serve tests share, in DIR, plus the
# compiled one as DIR/bin.cgi.  Marker and PID files go to "$FB_TMP/run".
# The CGIs get no environment of ours, so paths are written into them.
write_cgis() {
	local d=$1 run="$FB_TMP/run"
	mkdir -p "$d" "$run"
	build_c_cgi "$d/bin.cgi" || return 1

	# Environment, sorted (a shell adds PWD of its own).
	shell_cgi "$d/env.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
env | sort
EOF
	shell_cgi "$d/status.cgi" <<'EOF'
#!/bin/sh
printf 'Status: 201 Created\r\nX-Test-Cgi: status\r\nContent-Type: text/plain\r\n\r\ncreated\n'
EOF
	shell_cgi "$d/redirect.cgi" <<'EOF'
#!/bin/sh
printf 'Location: http://example.test/landed\r\n\r\n'
EOF
	# A body with no header block at all.
	shell_cgi "$d/noheader.cgi" <<'EOF'
#!/bin/sh
echo 'just a body, no headers'
EOF
	# Dies before any output.
	shell_cgi "$d/crash.cgi" <<'EOF'
#!/bin/sh
exit 3
EOF
	# Writes its PID to $FB_TMP/run/QUERY_STRING.pid, then sleeps: no output.
	shell_cgi "$d/slow.cgi" <<EOF
#!/bin/sh
echo \$\$ >"$run/\$QUERY_STRING.pid.tmp"
mv "$run/\$QUERY_STRING.pid.tmp" "$run/\$QUERY_STRING.pid"
exec sleep 30
EOF
	# Headers first, then the same as slow.cgi.
	shell_cgi "$d/slowbody.cgi" <<EOF
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\nfirst part\n'
echo \$\$ >"$run/\$QUERY_STRING.pid.tmp"
mv "$run/\$QUERY_STRING.pid.tmp" "$run/\$QUERY_STRING.pid"
exec sleep 30
EOF
	# Writes its PID, sleeps 1 s, then answers "done".
	shell_cgi "$d/linger.cgi" <<EOF
#!/bin/sh
echo \$\$ >"$run/\$QUERY_STRING.pid.tmp"
mv "$run/\$QUERY_STRING.pid.tmp" "$run/\$QUERY_STRING.pid"
sleep 1
printf 'Content-Type: text/plain\r\n\r\ndone after 1 s\n'
EOF
	shell_cgi "$d/sleep02.cgi" <<'EOF'
#!/bin/sh
sleep 0.2
printf 'Content-Type: text/plain\r\n\r\nslept\n'
EOF
	# Notes its start and its end in $run/overlap.log, 2 s apart: how many
	# ran at once is counted from the log, not from the time they took.
	shell_cgi "$d/overlap.cgi" <<EOF
#!/bin/sh
echo + >>"$run/overlap.log"
sleep 2
echo - >>"$run/overlap.log"
printf 'Content-Type: text/plain\r\n\r\nslept\n'
EOF
	shell_cgi "$d/stderrpart.cgi" <<'EOF'
#!/bin/sh
printf 'half a line' >&2
printf 'Content-Type: text/plain\r\n\r\nok\n'
EOF
	shell_cgi "$d/stderr.cgi" <<'EOF'
#!/bin/sh
echo "cgi-stderr-marker-$QUERY_STRING" >&2
printf 'Content-Type: text/plain\r\n\r\nsee the error log\n'
EOF
	shell_cgi "$d/sub/pwd.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
echo "cwd=$(pwd -P)"
EOF
	# Runs would leave a marker: it must never run (not executable).
	shell_cgi "$d/noexec.cgi" <<EOF
#!/bin/sh
touch "$run/noexec.ran"
printf 'Content-Type: text/plain\r\n\r\nI ran\n'
EOF
	chmod 644 "$d/noexec.cgi"
	# An executable outside the roots, reached through a symlink inside.
	shell_cgi "$FB_TMP/outside/escape.cgi" <<EOF
#!/bin/sh
touch "$run/escape.ran"
printf 'Content-Type: text/plain\r\n\r\nI ran\n'
EOF
	ln -sfn "$FB_TMP/outside/escape.cgi" "$d/escape.cgi"
	mkdir -p "$d/adir"
}

# ------------------------------------------------------------------ nginx

# nginx_run PORT BODY: nginx (master + 1 worker, foreground, run from this
# shell in the background) on 127.0.0.1:PORT (which BODY's server must
# listen on), with BODY inside its http { } block after the temporary
# paths, all under "$FB_TMP/nginx"; waits (bounded) until it answers.  As
# root, its workers run as root too, to reach the sockets in our 0700 temp
# dir.  Sets and exports NGINX_PID, NGINX_URL, NGINX_ERRLOG.
nginx_run() {
	local port=$1 body=$2 dir="$FB_TMP/nginx" i user=""
	[ -x "$NGINX" ] || { echo "nginx not found ($NGINX)" >&2; return 1; }
	mkdir -p "$dir"
	NGINX_URL="http://127.0.0.1:$port"
	NGINX_ERRLOG="$dir/error.log"
	export NGINX_URL NGINX_ERRLOG
	[ "$(id -u)" -eq 0 ] && user="user root;"
	cat >"$dir/nginx.conf" <<NGINXCONF
$user
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $NGINX_ERRLOG info;
events {
	worker_connections 1024;
}
http {
	access_log off;
	client_body_temp_path $dir/client_body;
	fastcgi_temp_path $dir/fastcgi_temp;
	proxy_temp_path $dir/proxy_temp;
	uwsgi_temp_path $dir/uwsgi_temp;
	scgi_temp_path $dir/scgi_temp;
	$body
}
NGINXCONF
	"$NGINX" -e "$NGINX_ERRLOG" -p "$dir/" -c "$dir/nginx.conf" \
	    </dev/null >>"$dir/nginx.out" 2>&1 3>&- &
	NGINX_PID=$!
	export NGINX_PID
	echo "$NGINX_PID" >>"$FB_TMP/pids"
	for ((i = 0; i < 100; i++)); do
		if ! alive "$NGINX_PID"; then
			echo "nginx exited at start-up:" >&2
			cat "$dir/nginx.out" "$NGINX_ERRLOG" >&2
			return 1
		fi
		timeout 2 curl -s -o /dev/null "$NGINX_URL/" && return 0
		sleep 0.1
	done
	echo "nginx did not answer on $NGINX_URL within 10 s" >&2
	cat "$dir/nginx.out" "$NGINX_ERRLOG" >&2
	return 1
}

# nginx_start ROOT SOCK [SOCK2]: nginx_run on a free port, serving ROOT:
#   /        -> fastcgi_pass unix:SOCK, request and response unbuffered
#   /keep/   -> upstream with keepalive, fastcgi_keep_conn on (ROOT/keep
#               is a symlink to ROOT itself)
#   /short/  -> unix:SOCK2 when given (ROOT/short -> ROOT likewise)
nginx_start() {
	local root=$1 sock=$2 sock2=${3:-} port short=""
	local common="include /etc/nginx/fastcgi_params;
			fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
			fastcgi_read_timeout 60s;
			fastcgi_send_timeout 60s;"
	ln -sfn . "$root/keep"
	port=$(free_tcp_port)
	if [ -n "$sock2" ]; then
		ln -sfn . "$root/short"
		short="location /short/ {
			$common
			fastcgi_pass unix:$sock2;
		}"
	fi
	nginx_run "$port" "client_max_body_size 200m;
	upstream serve_keep {
		server unix:$sock;
		keepalive 4;
	}
	server {
		listen 127.0.0.1:$port;
		server_name localhost;
		root $root;
		location / {
			$common
			fastcgi_pass unix:$sock;
			fastcgi_request_buffering off;
			fastcgi_buffering off;
		}
		location /keep/ {
			$common
			fastcgi_pass serve_keep;
			fastcgi_keep_conn on;
		}
		$short
	}"
}

nginx_stop() {
	[ -n "${NGINX_PID:-}" ] && stop_pid "$NGINX_PID"
	NGINX_PID=
}

# hcurl ARGS...: curl under a timeout, quiet, no proxy from the environment.
hcurl() {
	timeout 60 curl -sS --noproxy '*' "$@"
}

# unix_conns SOCK: how many connected sockets (either end) are bound to the
# Unix socket path SOCK, from /proc/net/unix (state 03 = connected).
unix_conns() {
	awk -v p="$1" '$6 == "03" && $8 == p' /proc/net/unix | wc -l
}
