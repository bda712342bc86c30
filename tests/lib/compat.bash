# Helpers for tests/compat.bats and tests/spawn.bats: the libfcgi
# responder, cgi-fcgi and fcgi-bridge run side by side, and the processes
# that hold a listening socket (how the tests find, and stop by PID, the
# applications that -start and spawn leave running).  Load after
# lib/helpers.

CGI_FCGI="${CGI_FCGI:-/usr/bin/cgi-fcgi}"
FB_ABS="$(realpath "$FB")"

# echo_build: compiles tests/lib/fcgi-echo.c against libfcgi into
# "$FB_TMP/fcgi-echo"; sets ECHO_APP.
echo_build() {
	ECHO_APP="$FB_TMP/fcgi-echo"
	export ECHO_APP
	[ -x "$ECHO_APP" ] && return 0
	cc -O2 -o "$ECHO_APP" "$FB_LIB/fcgi-echo.c" -lfcgi
}

# listen_inodes ADDRESS: prints the inode of each socket listening on
# ADDRESS: a Unix socket path (or unix:PATH), or [HOST]:PORT on IPv4.
listen_inodes() {
	local a=${1#unix:} port
	case $a in
	*/*)
		awk -v p="$a" '$4 == "00010000" && $8 == p { print $7 }' \
		    /proc/net/unix
		;;
	*)
		port=$(printf ':%04X' "${a##*:}")
		awk -v p="$port" '$4 == "0A" &&
		    substr($2, length($2) - 4) == p { print $10 }' /proc/net/tcp
		;;
	esac
}

# socket_pids ADDRESS: prints, one a line, the PIDs of the live processes
# that hold a socket listening on ADDRESS.
socket_pids() {
	local inode
	for inode in $(listen_inodes "$1"); do
		find /proc/[0-9]*/fd -maxdepth 1 -lname "socket:\\[$inode\\]" \
		    2>/dev/null
	done | cut -d/ -f3 | sort -un | while read -r pid; do
		if alive "$pid"; then
			echo "$pid"
		fi
	done
}

# fd0_pids ADDRESS: like socket_pids, but only the processes that have the
# socket on fd 0 (FCGI_LISTENSOCK_FILENO).
fd0_pids() {
	local inode pid
	inode=$(listen_inodes "$1" | head -1)
	[ -n "$inode" ] || return 0
	for pid in $(socket_pids "$1"); do
		if [ "$(readlink "/proc/$pid/fd/0")" = "socket:[$inode]" ]; then
			echo "$pid"
		fi
	done
}

# socket_stop ADDRESS: stops, by PID, every process holding a socket that
# listens on ADDRESS.
socket_stop() {
	local pid
	for pid in $(socket_pids "$1"); do
		stop_pid "$pid"
	done
}

# wait_for_listener ADDRESS [TENTHS]: waits (default 10 s) until something
# listens on ADDRESS.
wait_for_listener() {
	local i n=${2:-100}
	for ((i = 0; i < n; i++)); do
		[ -n "$(listen_inodes "$1")" ] && return 0
		sleep 0.1
	done
	echo "nothing listens on $1" >&2
	return 1
}

# wait_for_count N TENTHS COMMAND...: waits until COMMAND prints N lines.
wait_for_count() {
	local n=$1 tenths=$2 i
	shift 2
	for ((i = 0; i < tenths; i++)); do
		[ "$("$@" | wc -l)" -eq "$n" ] && return 0
		sleep 0.1
	done
	echo "expected $n lines from $*, got: $("$@" | tr '\n' ' ')" >&2
	return 1
}

# echo_start ADDRESS: the libfcgi responder, handed a socket listening on
# ADDRESS on its fd 0 by tests/lib/listen-exec.py; sets ECHO_PID.
echo_start() {
	python3 "$FB_LIB/listen-exec.py" "$1" "$ECHO_APP" \
	    >>"$FB_TMP/fcgi-echo.log" 2>&1 3>&- &
	ECHO_PID=$!
	echo "$ECHO_PID" >>"$FB_TMP/pids"
	wait_for_listener "$1"
}

# no_fds COMMAND...: executes COMMAND with no descriptor open but 0, 1
# and 2.  For what leaves applications running: cgi-fcgi's inherit every
# descriptor, and one holding bats' pipes would hang the suite.
no_fds() {
	local fd
	for fd in $(ls /proc/$BASHPID/fd); do
		if ((fd > 2)); then
			eval "exec $fd>&-"
		fi
	done
	exec "$@"
}

# side_by_side NAME ARGS...: runs cgi-fcgi, then fcgi-bridge (or
# "$BRIDGE"), with ARGS, each in an environment of exactly the words of
# the array CGI_ENV, stdin from "$CGI_STDIN" (default /dev/null), and only
# descriptors 0-2.  In ARGS, @SOCK@ becomes a socket path of each one's
# own: "$FB_TMP/NAME.ref.sock" and "$FB_TMP/NAME.fb.sock".  Output goes to
# "$FB_TMP/NAME.ref.out", ".ref.err", ".fb.out", ".fb.err"; the exit
# statuses to REF_STATUS and FB_STATUS.
side_by_side() {
	local name=$1 who prog status
	shift
	for who in ref fb; do
		if [ "$who" = ref ]; then
			prog=$CGI_FCGI
		else
			prog=${BRIDGE:-$FB_ABS}
		fi
		local args=("${@//@SOCK@/$FB_TMP/$name.$who.sock}")
		status=0
		(no_fds timeout "$T_CMD" env -i "${CGI_ENV[@]}" "$prog" \
		    "${args[@]}") <"${CGI_STDIN:-/dev/null}" \
		    >"$FB_TMP/$name.$who.out" 2>"$FB_TMP/$name.$who.err" ||
		    status=$?
		if [ "$who" = ref ]; then
			REF_STATUS=$status
		else
			FB_STATUS=$status
		fi
	done
}

# same_output NAME: the stdout of both runs of side_by_side NAME is the
# same, byte for byte, and not empty; on failure, shows the difference.
same_output() {
	local ref="$FB_TMP/$1.ref.out" fb="$FB_TMP/$1.fb.out"
	if ! [ -s "$ref" ]; then
		echo "cgi-fcgi wrote nothing; its stderr:" >&2
		cat "$FB_TMP/$1.ref.err" >&2
		return 1
	fi
	if ! cmp "$ref" "$fb" >&2; then
		diff <(od -c "$ref") <(od -c "$fb") | head -20 >&2
		echo "fcgi-bridge's stderr:" >&2
		cat "$FB_TMP/$1.fb.err" >&2
		return 1
	fi
}

# same_status: both runs of the last side_by_side exited alike.
same_status() {
	if [ "$REF_STATUS" -ne "$FB_STATUS" ]; then
		echo "cgi-fcgi exited $REF_STATUS, fcgi-bridge $FB_STATUS" >&2
		return 1
	fi
}
