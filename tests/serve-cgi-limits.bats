#!/usr/bin/env bats
# fcgi-bridge serve and what it lets a CGI do: resource limits (-L), the
# environment names it never passes (and --keep-env, --debug), and CGIs
# killed by a signal before and after their headers (one that cannot be
# executed: tests/serve-spawn.bats, for each way of starting it).  Each
# test starts its own serve and stops it by PID.

load lib/helpers
load lib/serve

setup_file() {
	fb_tmp_create
	# World-readable, so that a CGI run as nobody can be executed.
	WWW=$(mktemp -d /tmp/fcgi-bridge-limits.XXXXXX)
	chmod 755 "$WWW"
	export WWW
	build_c_cgi "$WWW/bin.cgi"
	cat >"$FB_TMP/limits.c" <<'EOF'
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void
header(void)
{
	printf("Content-Type: text/plain\r\n\r\n");
	fflush(stdout);
}

int
main(void)
{
	const char *q = getenv("QUERY_STRING");
	pid_t kids[1000];
	int n = 0, i;

	if (q == NULL)
		q = "";
	if (strcmp(q, "spin") == 0)
		for (;;)
			;
	if (strcmp(q, "alloc") == 0) {
		size_t size = 256u << 20;
		char *p = malloc(size);

		header();
		if (p == NULL) {
			printf("allocation failed: %s\n", strerror(errno));
			return 1;
		}
		memset(p, 1, size);
		printf("allocated\n");
		return 0;
	}
	if (strcmp(q, "fork") == 0) {
		int err = 0;

		for (i = 0; i < 1000; i++) {
			pid_t p = fork();

			if (p == -1) {
				err = errno;
				break;
			}
			if (p == 0) {
				int fd = open("/dev/null", O_RDWR);

				dup2(fd, 1);
				dup2(fd, 2);
				pause();
				_exit(0);
			}
			kids[n++] = p;
		}
		for (i = 0; i < n; i++)
			kill(kids[i], SIGKILL);
		for (i = 0; i < n; i++)
			waitpid(kids[i], NULL, 0);
		header();
		printf("forked=%d error=%s\n", n, err ? strerror(err) : "none");
		return 0;
	}
	if (strcmp(q, "files") == 0) {
		while (open("/dev/null", O_RDONLY) != -1)
			n++;
		header();
		printf("opened=%d error=%s\n", n, strerror(errno));
		return 0;
	}
	if (strcmp(q, "segv-before") == 0)
		raise(SIGSEGV);
	if (strcmp(q, "segv-after") == 0) {
		header();
		printf("partial\n");
		fflush(stdout);
		raise(SIGSEGV);
	}
	header();
	printf("plain\n");
	return 0;
}
EOF
	timeout 60 cc -O2 -o "$WWW/limits.cgi" "$FB_TMP/limits.c"
}

teardown_file() {
	rm -rf "${WWW:-/nonexistent}"
	fb_tmp_remove
}

teardown() {
	[ -n "${OWN_PID:-}" ] && serve_stop "$OWN_PID"
	return 0
}

# own_serve ARGS...: serve on $FB_TMP/s.sock -r $WWW with ARGS.
own_serve() {
	SOCK="$FB_TMP/s.sock"
	serve_start "$SOCK" -r "$WWW" --grace 1 "$@"
	OWN_PID=$SERVE_PID
}

# ask SCRIPT QUERY [ARGS...]: a GET of SCRIPT?QUERY through raw-fcgi.py,
# with more params or steps from ARGS.
ask() {
	local script=$1 query=$2
	shift 2
	raw -t 20 -p REQUEST_METHOD=GET -p SCRIPT_NAME="/$script" \
	    -p SCRIPT_FILENAME="$WWW/$script" -p QUERY_STRING="$query" \
	    "$@" "unix:$SOCK" req:1 read:END_REQUEST
}

# serves_normally: serve is alive and a plain request works.
serves_normally() {
	alive "$OWN_PID"
	run ask limits.cgi plain
	[ "$status" -eq 0 ]
	[[ $output == *plain* ]]
	has_line 'END_REQUEST id=1 app=0 proto=0' <<<"$output"
}

# ----------------------------------------------------------- -L limits

@test "-L cpu=1: a CGI that spins forever is killed by SIGXCPU: a 502 and a log line" {
	own_serve -L cpu=1
	run ask limits.cgi spin
	echo "$output" | sed 's/^/# /' >&3
	[ "$status" -eq 0 ]
	grep -q '^STDOUT id=1 .*text=Status: 502 Bad Gateway' <<<"$output"
	grep -q 'limits.cgi: 502 Bad Gateway: the CGI was killed by signal 24 (CPU time limit exceeded) before its headers' \
	    "$SERVE_LOG"
	serves_normally
}

@test "-L as=64m: a CGI that allocates 256 MiB fails, and serve is unharmed" {
	own_serve -L as=64m
	run ask limits.cgi alloc
	[ "$status" -eq 0 ]
	[[ $output == *"allocation failed: Cannot allocate memory"* ]]
	has_line 'END_REQUEST id=1 app=1 proto=0' <<<"$output"
	serves_normally
	# Without the limit the same CGI gets its memory.
	serve_stop "$OWN_PID"
	own_serve
	run ask limits.cgi alloc
	[[ $output == *allocated* ]]
}

@test "-L nproc=20 with -u nobody: a fork bomb stops at the limit" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to run CGIs as nobody"
	[ "$(pgrep -c -u nobody)" -eq 0 ] || skip "nobody runs processes here"
	own_serve -u nobody -L nproc=20
	run ask limits.cgi fork
	echo "$output" | sed 's/^/# /' >&3
	[ "$status" -eq 0 ]
	# nobody's processes: serve itself, the CGI, and 18 more.
	[[ $output == *"forked=18 error=Resource temporarily unavailable"* ]]
	serves_normally
}

@test "-L nofile=10: a CGI opens 7 files besides its 3 pipes" {
	own_serve -L nofile=10
	run ask limits.cgi files
	[ "$status" -eq 0 ]
	[[ $output == *"opened=7 error=Too many open files"* ]]
}

@test "-L: a bad name or value is a usage error naming it" {
	run timeout 10 "$FB" serve -r "$WWW" -L disk=1
	[ "$status" -eq 64 ]
	[[ $output == *"-L disk=1: expected cpu=SECONDS, as=BYTES, nproc=N or nofile=N"* ]]
	run timeout 10 "$FB" serve -r "$WWW" -L as=12x
	[ "$status" -eq 64 ]
	[[ $output == *"-L as 12x"* ]]
	run timeout 10 "$FB" serve -r "$WWW" -L cpu=0
	[ "$status" -eq 64 ]
	[[ $output == *"-L cpu 0: too small"* ]]
}

# ------------------------------------------------------ signals, exec

@test "a CGI killed by SIGSEGV before its headers: a 502 naming the signal" {
	own_serve
	run ask limits.cgi segv-before
	[ "$status" -eq 0 ]
	grep -q '^STDOUT id=1 .*text=Status: 502 Bad Gateway' <<<"$output"
	grep -q 'limits.cgi: 502 Bad Gateway: the CGI was killed by signal 11 (Segmentation fault) before its headers' \
	    "$SERVE_LOG"
	serves_normally
}

@test "a CGI killed by SIGSEGV after its headers: its output stands, appStatus 139, a log line" {
	own_serve
	run ask limits.cgi segv-after
	[ "$status" -eq 0 ]
	[[ $output == *"STDOUT id=1 "*partial* ]]
	has_line 'END_REQUEST id=1 app=139 proto=0' <<<"$output"
	grep -q 'limits.cgi: the CGI was killed by signal 11 (Segmentation fault) after its headers: the response may be cut' \
	    "$SERVE_LOG"
	serves_normally
}

# ------------------------------------------------------- environment

# The names serve drops, each sent with a marker value.
UNSAFE_NAMES=(LD_PRELOAD LD_LIBRARY_PATH LD_AUDIT LD_DEBUG GCONV_PATH
	GETCONF_DIR HOSTALIASES LOCALDOMAIN LOCPATH MALLOC_CHECK_
	MALLOC_ARENA_MAX NLSPATH RES_OPTIONS TMPDIR TZDIR GLIBC_TUNABLES
	BASH_ENV ENV 'BASH_FUNC_x%%' SHELLOPTS BASHOPTS PS4 IFS PERL5OPT
	PYTHONPATH NODE_OPTIONS)

# ask_env ARGS...: bin.cgi's environment, with every unsafe name and
# SAFE_NAME sent, each with the value marker-NAME.
ask_env() {
	local -a params=(-p SAFE_NAME=marker-SAFE_NAME)
	local n
	for n in "${UNSAFE_NAMES[@]}"; do
		params+=(-p "$n=marker-$n")
	done
	ask bin.cgi env "${params[@]}" "$@"
}

@test "environment: names that change how a program loads or runs never reach the CGI" {
	own_serve
	run ask_env
	[ "$status" -eq 0 ]
	[[ $output == *"SAFE_NAME=marker-SAFE_NAME"* ]]
	local n
	for n in "${UNSAFE_NAMES[@]}"; do
		if [[ $output == *"marker-$n"* ]]; then
			echo "$n reached the CGI" >&2
			return 1
		fi
	done
	# Nor did the CGI's loader see them: it says nothing on stderr.
	[[ $output != *"STDERR id=1"* ]]
	# Not logged without --debug.
	! grep -q 'not passed to the CGI' "$SERVE_LOG"
}

@test "environment: --keep-env passes a named one; -e sets one whatever the request says" {
	own_serve --keep-env TZDIR -e LD_BIND_NOW=1
	run ask_env
	[ "$status" -eq 0 ]
	[[ $output == *"TZDIR=marker-TZDIR"* ]]
	[[ $output == *"LD_BIND_NOW=1"* ]]
	[[ $output != *"marker-LD_PRELOAD"* ]]
}

@test "environment: with --debug, the names dropped are logged once per request" {
	own_serve --debug
	run ask_env
	[ "$status" -eq 0 ]
	[ "$(grep -c 'bin.cgi: not passed to the CGI: LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT' "$SERVE_LOG")" -eq 1 ]
	grep -q 'BASH_FUNC_x%%' "$SERVE_LOG"
}
