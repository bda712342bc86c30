#!/usr/bin/env bats
# fcgi-bridge serve's two ways of starting a CGI, each through the same
# checks: clone (the default), posix_spawn (--spawn posix_spawn), and
# posix_spawn chosen by serve itself where a seccomp filter refuses its
# clone (tests/lib/refuse-syscall.c, x86-64 only).  A CGI gets its
# descriptors, its directory, a process group of its own, no signal
# blocked or ignored, the limits of -L, and one that cannot be executed
# gives the same answer and log line either way.  Then what serve does
# before a start, which it keeps lean: the script's path made canonical
# (with openat2 where no symbolic link is on the way, else realpath) before
# any check, and /dev/null as the standard input of a request known to
# have no body.  Each test starts its own serve and stops it by PID.

load lib/helpers
load lib/serve

setup_file() {
	fb_tmp_create
	WWW="$FB_TMP/www"
	RUN="$FB_TMP/run"
	export WWW RUN
	mkdir -p "$WWW/sub" "$RUN"
	build_c_cgi "$WWW/bin.cgi"
	# It waits 300 ms first: with posix_spawn the limits are set once the
	# program runs, and what it does before then is not held (-L in the
	# manual); a loaded machine may leave serve that long to set them.
	cat >"$FB_TMP/limits.c" <<'CEOF'
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
main(void)
{
	const char *q = getenv("QUERY_STRING");
	struct timespec pause = { 0, 300000000 };
	int n = 0;

	nanosleep(&pause, NULL);
	printf("Content-Type: text/plain\r\n\r\n");
	if (q != NULL && strcmp(q, "alloc") == 0) {
		char *p = malloc(256u << 20);

		printf("%s\n", p == NULL ? strerror(errno) : "allocated");
		return 0;
	}
	while (open("/dev/null", O_RDONLY) != -1)
		n++;
	printf("opened=%d\n", n);
	return 0;
}
CEOF
	timeout 60 cc -O2 -o "$WWW/limits.cgi" "$FB_TMP/limits.c"
	# Where it runs and what it got: directory, process group, signals.
	shell_cgi "$WWW/sub/state.cgi" <<'SEOF'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
echo "cwd=$(pwd -P)"
echo "stdin=$(readlink /proc/$$/fd/0)"
exec awk '/^(Pid|NSpgid|SigBlk|SigIgn):/ { print $1 $2 }' /proc/self/status
SEOF
	# Leaves a process in its group, writes both PIDs, then waits.
	shell_cgi "$WWW/group.cgi" <<SEOF
#!/bin/sh
sleep 30 &
echo "\$! \$\$" >"$RUN/\$QUERY_STRING.tmp"
mv "$RUN/\$QUERY_STRING.tmp" "$RUN/\$QUERY_STRING.pids"
wait
SEOF
	printf '#!/nonexistent/interpreter\n' >"$WWW/badinterp.cgi"
	chmod 755 "$WWW/badinterp.cgi"
	printf '#!/bin/sh\necho ran\n' >"$WWW/noexec.cgi"
	chmod 644 "$WWW/noexec.cgi"
	# serve under the filter, through a wrapper that serve_start can run
	# as "$FB".
	NO_CLONE=
	if timeout 60 cc -O2 -o "$FB_TMP/refuse-syscall" \
	    "$FB_LIB/refuse-syscall.c" &&
	    "$FB_TMP/refuse-syscall" clone-pidfd true; then
		NO_CLONE="$FB_TMP/fcgi-bridge-no-clone"
		printf '#!/bin/sh\nexec "%s" clone-pidfd "%s" "$@"\n' \
		    "$FB_TMP/refuse-syscall" "$(readlink -f "$FB")" >"$NO_CLONE"
		chmod 755 "$NO_CLONE"
	fi
	export NO_CLONE
}

teardown_file() {
	fb_tmp_remove
}

teardown() {
	[ -n "${OWN_PID:-}" ] && serve_stop "$OWN_PID"
	return 0
}

# spawn_serve WAY ARGS...: serve on $FB_TMP/s.sock -r $WWW with ARGS, its
# CGIs started the WAY said: clone, posix_spawn, or fallback (posix_spawn
# because clone is refused).  Checks that serve says which, or says
# nothing for clone.
spawn_serve() {
	local way=$1
	shift
	SOCK="$FB_TMP/s.sock"
	rm -f "$SOCK" "$SOCK.log"
	case $way in
	clone)
		serve_start "$SOCK" -r "$WWW" --grace 1 --spawn clone "$@"
		OWN_PID=$SERVE_PID
		[ "$(grep -c posix_spawn "$SERVE_LOG")" -eq 0 ]
		;;
	posix_spawn)
		serve_start "$SOCK" -r "$WWW" --grace 1 --spawn posix_spawn "$@"
		OWN_PID=$SERVE_PID
		grep -q 'CGIs start with posix_spawn (--spawn posix_spawn)' \
		    "$SERVE_LOG"
		;;
	fallback)
		[ -n "$NO_CLONE" ] || skip "no seccomp filter here (x86-64 only)"
		FB=$NO_CLONE serve_start "$SOCK" -r "$WWW" --grace 1 "$@"
		OWN_PID=$SERVE_PID
		grep -q 'clone refused (Operation not permitted): CGIs start with posix_spawn' \
		    "$SERVE_LOG"
		;;
	esac
}

# ask SCRIPT QUERY [ARGS...]: a GET of SCRIPT?QUERY, more params or steps
# from ARGS (req:1 read:END_REQUEST when none).
ask() {
	local script=$1 query=$2
	shift 2
	[ $# -gt 0 ] || set -- req:1 read:END_REQUEST
	raw -t 20 -p REQUEST_METHOD=GET -p SCRIPT_NAME="/$script" \
	    -p SCRIPT_FILENAME="$WWW/$script" -p QUERY_STRING="$query" \
	    -p SAFE_NAME=marker-safe "unix:$SOCK" "$@"
}

# check_process WAY: the CGI's environment, directory, process group and
# signals.  serve is started with SIGINT and SIGQUIT ignored (bash ignores
# them in a job started with &), which the CGI must not inherit.
check_process() {
	local blk ign
	spawn_serve "$1"
	(( 16#$(awk '$1 == "SigIgn:" { print $2 }' "/proc/$OWN_PID/status") & (2 | 4) ))
	run ask bin.cgi env
	[ "$status" -eq 0 ]
	[[ $output == *"SAFE_NAME=marker-safe"* ]]
	[[ $output == *"SCRIPT_FILENAME=$WWW/bin.cgi"* ]]
	has_line 'END_REQUEST id=1 app=0 proto=0' <<<"$output"
	run ask sub/state.cgi x
	[ "$status" -eq 0 ]
	echo "$output" | sed 's/^/# /' >&3
	[[ $output == *"cwd=$WWW/sub"* ]]
	# raw-fcgi.py's req: sends the empty STDIN with the PARAMS.
	[[ $output == *"stdin=/dev/null"* ]]
	# Pid and NSpgid: the program leads a group of its own.
	[[ $output =~ Pid:([0-9]+).*NSpgid:([0-9]+) ]]
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
	blk=$(grep -o 'SigBlk:[0-9a-f]*' <<<"$output")
	ign=$(grep -o 'SigIgn:[0-9a-f]*' <<<"$output")
	[ "$blk" = SigBlk:0000000000000000 ]
	# SIGHUP 1, SIGINT 2, SIGQUIT 3, SIGPIPE 13, SIGTERM 15: none ignored.
	(( (16#${ign#SigIgn:} & (1 | 2 | 4 | 1 << 12 | 1 << 14)) == 0 ))
}

# check_stdin_exit WAY: a body reaches the CGI's stdin whole; its exit
# status becomes appStatus.
check_stdin_exit() {
	spawn_serve "$1"
	run ask bin.cgi echo begin:1 params:1 'stdin:1:a body for the CGI' \
	    read:END_REQUEST
	[ "$status" -eq 0 ]
	[[ $output == *"STDOUT id=1 "*"\\r\\n\\r\\na body for the CGI"* ]]
	run ask sub/state.cgi x begin:1 params:1 stdin:1:body read:END_REQUEST
	[[ $output == *"stdin=pipe:"* ]]
	run ask bin.cgi exit=3
	[ "$status" -eq 0 ]
	[[ $output == *exiting* ]]
	has_line 'END_REQUEST id=1 app=3 proto=0' <<<"$output"
}

# check_cannot_run WAY: not executable: 403 before any start; a missing
# interpreter: 502 and the log line of a failed execve.
check_cannot_run() {
	spawn_serve "$1"
	run ask noexec.cgi x
	[ "$status" -eq 0 ]
	grep -q '^STDOUT id=1 .*text=Status: 403 Forbidden' <<<"$output"
	grep -q 'noexec.cgi: 403 Forbidden: not executable' "$SERVE_LOG"
	run ask badinterp.cgi x
	[ "$status" -eq 0 ]
	grep -q '^STDOUT id=1 .*text=Status: 502 Bad Gateway' <<<"$output"
	grep -q "badinterp.cgi: starting $WWW/badinterp.cgi: No such file or directory" \
	    "$SERVE_LOG"
	grep -q 'badinterp.cgi: 502 Bad Gateway: the CGI could not be started' \
	    "$SERVE_LOG"
	# And serve goes on.
	run ask bin.cgi exit=0
	has_line 'END_REQUEST id=1 app=0 proto=0' <<<"$output"
}

# check_limits WAY: -L nofile and -L as hold for what the CGI does.
check_limits() {
	spawn_serve "$1" -L nofile=10 -L as=64m
	run ask limits.cgi files
	[ "$status" -eq 0 ]
	[[ $output == *"opened=7"* ]]
	run ask limits.cgi alloc
	[ "$status" -eq 0 ]
	[[ $output == *"Cannot allocate memory"* ]]
}

# check_group_stopped WAY: at -t, the CGI and what it left in its group
# are stopped.
check_group_stopped() {
	local kid cgi
	spawn_serve "$1" -t 1
	run ask group.cgi "$1"
	[ "$status" -eq 0 ]
	grep -q '^END_REQUEST id=1 ' <<<"$output"
	read -r kid cgi <"$RUN/$1.pids"
	wait_gone "$cgi" 50
	wait_gone "$kid" 50
	grep -q 'group.cgi: .*timed out' "$SERVE_LOG"
}

@test "clone: environment, directory, own process group, no signal blocked or ignored" {
	check_process clone
}
@test "posix_spawn: environment, directory, own process group, no signal blocked or ignored" {
	check_process posix_spawn
}
@test "clone refused: environment, directory, own process group, no signal blocked or ignored" {
	check_process fallback
}

@test "clone: the body on stdin, the exit status as appStatus" {
	check_stdin_exit clone
}
@test "posix_spawn: the body on stdin, the exit status as appStatus" {
	check_stdin_exit posix_spawn
}
@test "clone refused: the body on stdin, the exit status as appStatus" {
	check_stdin_exit fallback
}

@test "clone: not executable is a 403, a failed execve a 502 with its reason logged" {
	check_cannot_run clone
}
@test "posix_spawn: not executable is a 403, a failed execve a 502 with its reason logged" {
	check_cannot_run posix_spawn
}
@test "clone refused: not executable is a 403, a failed execve a 502 with its reason logged" {
	check_cannot_run fallback
}

@test "clone: -L nofile and as hold" {
	check_limits clone
}
@test "posix_spawn: -L nofile and as hold" {
	check_limits posix_spawn
}
@test "clone refused: -L nofile and as hold" {
	check_limits fallback
}

@test "clone: at -t, the CGI's process group is stopped" {
	check_group_stopped clone
}
@test "posix_spawn: at -t, the CGI's process group is stopped" {
	check_group_stopped posix_spawn
}
@test "clone refused: at -t, the CGI's process group is stopped" {
	check_group_stopped fallback
}

# ------------------------------------------------- the script's path

@test "path: '.', '..' and '//' are resolved before the -r check: inside runs, outside is a 403" {
	spawn_serve clone
	run ask sub/../bin.cgi exit=5 set:SCRIPT_FILENAME="$WWW/sub/..//./bin.cgi" \
	    req:1 read:END_REQUEST
	[ "$status" -eq 0 ]
	has_line 'END_REQUEST id=1 app=5 proto=0' <<<"$output"
	printf '#!/bin/sh\ntouch "%s/above.ran"\n' "$RUN" >"$FB_TMP/above.cgi"
	chmod 755 "$FB_TMP/above.cgi"
	run ask above.cgi x set:SCRIPT_FILENAME="$WWW/../above.cgi" req:1 \
	    read:END_REQUEST
	[ "$status" -eq 0 ]
	grep -q '^STDOUT id=1 .*text=Status: 403 Forbidden' <<<"$output"
	grep -q 'above.cgi: 403 Forbidden: outside every -r root' "$SERVE_LOG"
	[ ! -e "$RUN/above.ran" ]
}

@test "path: a symbolic link inside the root is followed; one out of it is a 403 and never runs" {
	ln -sfn sub "$WWW/linked"
	printf '#!/bin/sh\ntouch "%s/out.ran"\n' "$RUN" >"$FB_TMP/out.cgi"
	chmod 755 "$FB_TMP/out.cgi"
	ln -sfn "$FB_TMP/out.cgi" "$WWW/out.cgi"
	spawn_serve clone
	run ask linked/state.cgi x
	[ "$status" -eq 0 ]
	# Run by its real path, in its real directory.
	[[ $output == *"cwd=$WWW/sub"* ]]
	run ask out.cgi x
	[ "$status" -eq 0 ]
	grep -q '^STDOUT id=1 .*text=Status: 403 Forbidden' <<<"$output"
	grep -q 'out.cgi: 403 Forbidden: outside every -r root' "$SERVE_LOG"
	[ ! -e "$RUN/out.ran" ]
}

@test "--spawn clone where clone is refused: serve does not start, and says why" {
	[ -n "$NO_CLONE" ] || skip "no seccomp filter here (x86-64 only)"
	run timeout 20 "$NO_CLONE" serve --allow-root -s "unix:$FB_TMP/no.sock" \
	    -r "$WWW" --spawn clone
	[ "$status" -eq 71 ]
	[[ $output == *"--spawn clone: clone refused: Operation not permitted"* ]]
}

@test "--spawn: anything but clone or posix_spawn is a usage error" {
	run timeout 10 "$FB" serve -r "$WWW" --spawn vfork
	[ "$status" -eq 64 ]
	[[ $output == *"--spawn vfork: expected clone or posix_spawn"* ]]
}
