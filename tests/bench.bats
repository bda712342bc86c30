#!/usr/bin/env bats
# fcgi-bridge bench: against a real php-fpm (one static pool of two
# workers), against `fcgi-bridge serve` wrapping shell CGIs that leave a
# trace per request, against a closed port and a missing socket, and
# against tests/lib/fake-responder.py in its `silent` mode (accepts, reads
# the request, never answers).  Every figure is read from --json, parsed
# with python3 (jq is not a dependency).
#
# setup_file starts, in "$FB_TMP":
#   php-fpm (lib/helpers: php_fpm_start) on "$FPM_SOCK", scripts in
#       "$FPM_ROOT"                                          (FPM_PID)
#   serve on serve.sock -r cgi/ -c 8                         (BSERVE_PID)
# Timings are asserted only where the behaviour is about time (-D, -R,
# -t), with generous bounds; req/s figures belong to scripts/bench-load.

load lib/helpers
load lib/serve

setup_file() {
	fb_tmp_create
	php_fpm_start

	RUN="$FB_TMP/run"
	CGI_ROOT="$FB_TMP/cgi"
	BSOCK="$FB_TMP/serve.sock"
	export RUN CGI_ROOT BSOCK
	mkdir -p "$RUN" "$CGI_ROOT"

	php_script hello.php <<'EOF'
<?php
header('Content-Type: text/plain');
echo "hello\n";
EOF
	# a.php and b.php: one line per hit in $RUN/a.hits, $RUN/b.hits.
	local s
	for s in a b; do
		php_script "$s.php" <<EOF
<?php
file_put_contents('$RUN/$s.hits', "hit\n", FILE_APPEND | LOCK_EX);
header('Content-Type: text/plain');
echo "$s\n";
EOF
	done
	# 201 with a header block of more than 2 KiB (a big cookie, a CSP...).
	php_script bighead.php <<'EOF'
<?php
http_response_code(201);
header('X-Large: ' . str_repeat('a', 2500));
header('Content-Type: text/plain');
echo "created\n";
EOF

	# count.cgi: one line per request in $RUN/hits-QUERY_STRING.
	shell_cgi "$CGI_ROOT/count.cgi" <<EOF
#!/bin/sh
echo "\$\$" >>"$RUN/hits-\$QUERY_STRING"
printf 'Content-Type: text/plain\r\n\r\ncounted\n'
EOF
	# firstslow.cgi: the first request for a QUERY_STRING takes 2.5 s,
	# the others none.
	shell_cgi "$CGI_ROOT/firstslow.cgi" <<EOF
#!/bin/sh
mkdir "$RUN/firstslow-\$QUERY_STRING" 2>/dev/null && sleep 2.5
printf 'Content-Type: text/plain\r\n\r\ndone\n'
EOF
	# bytes.cgi: CONTENT_LENGTH and the bytes of the body it read, one
	# line per request in $RUN/bytes-QUERY_STRING.
	shell_cgi "$CGI_ROOT/bytes.cgi" <<EOF
#!/bin/sh
echo "\$CONTENT_LENGTH \$(wc -c)" >>"$RUN/bytes-\$QUERY_STRING"
printf 'Content-Type: text/plain\r\n\r\nread\n'
EOF
	# exit3.cgi: valid headers and body, then exit status 3.
	shell_cgi "$CGI_ROOT/exit3.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\nexiting with 3\n'
exit 3
EOF
	serve_start "$BSOCK" -r "$CGI_ROOT" -c 8
	BSERVE_PID=$SERVE_PID
	export BSERVE_PID
}

teardown_file() {
	serve_stop "${BSERVE_PID:-}"
	php_fpm_stop
	fb_tmp_remove
}

teardown() {
	if [ -n "${FAKE_PID:-}" ]; then
		fake_stop
	fi
}

# show: what the last `run` did, printed only when a test fails.
show() {
	echo "status=$status"
	echo "stdout=[${output:0:3000}]"
	echo "stderr=[${stderr:0:3000}]"
}

# bench ARGS...: `fcgi-bridge bench --json ARGS...` under a timeout, run
# with stdout and stderr apart.  T (seconds) overrides the timeout.
bench() {
	run --separate-stderr timeout "${T:-$T_CMD}" "$FB" bench "${BENCH_IO[@]}" --json "$@"
}

# json_ok: $output is one line, one JSON object with every documented key,
# and its counts add up (status counts sum to requests, errors_by_kind to
# errors).  Says what is wrong on stderr.
json_ok() {
	[ "$(printf '%s\n' "$output" | wc -l)" -eq 1 ] ||
	    { echo "stdout is not one line" >&2; return 1; }
	python3 - "$output" <<'EOF'
import json, sys
d = json.loads(sys.argv[1])
want = ["requests", "errors", "errors_by_kind", "status", "start_time",
        "duration_s", "rps", "bytes_in", "bytes_out", "latency_ms",
        "stalled_connections", "checks", "timeline", "histogram",
        "settings"]
missing = [k for k in want if k not in d]
missing += ["errors_by_kind." + k for k in ("connect", "reset", "timeout",
            "protocol", "overloaded", "app_status")
            if k not in d.get("errors_by_kind", {})]
missing += ["latency_ms." + k for k in ("min", "mean", "p50", "p90", "p99",
            "p99_9", "max") if k not in d.get("latency_ms", {})]
missing += ["settings." + k for k in ("address", "urls", "method",
            "requests", "duration_s", "warmup_s", "connections",
            "inflight", "keepalive", "rate", "timeout_s")
            if k not in d.get("settings", {})]
if missing:
    sys.exit("missing keys: %s" % missing)
if sum(d["status"].values()) != d["requests"]:
    sys.exit("status counts %s do not add up to requests %d"
             % (d["status"], d["requests"]))
if sum(d["errors_by_kind"].values()) != d["errors"]:
    sys.exit("errors_by_kind %s do not add up to errors %d"
             % (d["errors_by_kind"], d["errors"]))
l = d["latency_ms"]
if d["requests"] > 0 and not (l["min"] <= l["p50"] <= l["p90"] <= l["p99"]
                              <= l["p99_9"] <= l["max"]):
    sys.exit("latency percentiles out of order: %s" % l)
EOF
}

# hits FILE: lines in FILE (0 when it does not exist).
hits() {
	if [ -f "$1" ]; then
		wc -l <"$1"
	else
		echo 0
	fi
}

# --------------------------------------------------------------- php-fpm

@test "php-fpm: -n 2000 -c 8 completes exactly 2000 requests, no error, JSON adds up" {
	bench -n 2000 -c 8 "unix:$FPM_SOCK" /ping
	show
	[ "$status" -eq 0 ]
	json_ok
	[ "$(j 'd["requests"]')" -eq 2000 ]
	[ "$(j 'd["errors"]')" -eq 0 ]
	[ "$(j 'd["status"]')" = '{"200": 2000}' ]
	[ "$(j 'd["settings"]["requests"]')" -eq 2000 ]
	[ "$(j 'd["settings"]["connections"]')" -eq 8 ]
	[ "$(j 'd["bytes_in"] > 0 and d["bytes_out"] > 0')" = true ]
}

# uring_allowed: whether this kernel lets bench use io_uring (not before
# Linux 5.19, nor with kernel.io_uring_disabled, nor under a seccomp
# filter that refuses it).
uring_allowed() {
	timeout "$T_CMD" "$FB" bench --io uring -n 1 "unix:$FPM_SOCK" /ping \
	    >/dev/null 2>&1
}

# engine_run IO ARGS...: bench --json --io IO ARGS..., its figures that
# do not depend on timing on one line, into "$FB_TMP/engine.IO".
engine_run() {
	local io=$1
	shift
	run --separate-stderr timeout "$T_CMD" "$FB" bench --json --io "$io" "$@"
	show
	[ "$status" -eq 0 ]
	python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["settings"]["io"] == sys.argv[2], d["settings"]["io"]
print(d["requests"], d["errors"], sorted(d["status"].items()),
      d["bytes_in"], d["bytes_out"], d["settings"]["keepalive"],
      d["stalled_connections"])' "$output" "$io" >"$FB_TMP/engine.$io"
}

@test "--io epoll and --io uring: the same requests, statuses and bytes, connections closed and kept" {
	uring_allowed || skip "io_uring is not allowed on this kernel"
	local args
	for args in "-n 400 -c 4" "-k -n 400 -c 2" "-m 3 -n 300 -c 2"; do
		# shellcheck disable=SC2086
		engine_run epoll $args -r "$FPM_ROOT" "unix:$FPM_SOCK" /hello.php
		# shellcheck disable=SC2086
		engine_run uring $args -r "$FPM_ROOT" "unix:$FPM_SOCK" /hello.php
		cat "$FB_TMP/engine.epoll" "$FB_TMP/engine.uring"
		cmp "$FB_TMP/engine.epoll" "$FB_TMP/engine.uring"
	done
}

@test "--io auto takes io_uring where it is allowed; the text report's last line names the engine" {
	local want=epoll
	uring_allowed && want=uring
	run --separate-stderr timeout "$T_CMD" "$FB" bench -n 20 "unix:$FPM_SOCK" /ping
	show
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "io: $want" ]
	run --separate-stderr timeout "$T_CMD" "$FB" bench --io epoll -n 20 "unix:$FPM_SOCK" /ping
	[ "${lines[-1]}" = "io: epoll" ]
}

@test "--io auto falls back to epoll where a seccomp filter refuses io_uring_setup; --io uring there exits 69" {
	cc -O2 -o "$FB_TMP/refuse-syscall" "$FB_LIB/refuse-syscall.c" ||
	    skip "no C compiler for tests/lib/refuse-syscall.c"
	"$FB_TMP/refuse-syscall" io-uring true ||
	    skip "refuse-syscall: no seccomp filter here (exit $?)"
	run --separate-stderr timeout "$T_CMD" "$FB_TMP/refuse-syscall" io-uring "$FB" bench \
	    --json -n 200 -c 4 -r "$FPM_ROOT" "unix:$FPM_SOCK" /hello.php
	show
	[ "$status" -eq 0 ]
	[ "$(j 'd["settings"]["io"]')" = epoll ]
	[ "$(j 'd["status"]')" = '{"200": 200}' ]
	[ "$(j 'd["errors"]')" -eq 0 ]
	run --separate-stderr timeout "$T_CMD" "$FB_TMP/refuse-syscall" io-uring "$FB" bench \
	    --io uring -n 20 "unix:$FPM_SOCK" /ping
	show
	[ "$status" -eq 69 ]
	[[ $stderr == *io_uring* ]]
	[ -z "$output" ]
}

@test "--io with another engine is a usage error (64), before anything is sent" {
	run --separate-stderr timeout "$T_CMD" "$FB" bench --io poll -n 20 "unix:$FPM_SOCK" /ping
	show
	[ "$status" -eq 64 ]
	[[ $stderr == *"--io: auto, epoll or uring, not poll"* ]]
	[ -z "$output" ]
}

@test "php-fpm: a 404 is counted as status 404, not as an error" {
	bench -n 50 -c 2 -r "$FPM_ROOT" "unix:$FPM_SOCK" /missing.php
	show
	[ "$status" -eq 0 ]
	json_ok
	[ "$(j 'd["status"]')" = '{"404": 50}' ]
	[ "$(j 'd["errors"]')" -eq 0 ]
}

@test "php-fpm: a header block larger than 1 KiB still counts its status" {
	bench -n 20 -r "$FPM_ROOT" "unix:$FPM_SOCK" /bighead.php
	show
	json_ok
	[ "$(j 'd["errors_by_kind"]["protocol"]')" -eq 0 ]
	[ "$(j 'd["status"]')" = '{"201": 20}' ]
	[ "$status" -eq 0 ]
}

@test "php-fpm: -m 4 falls back to one request per connection, with one warning" {
	bench -m 4 -c 2 -n 500 -r "$FPM_ROOT" "unix:$FPM_SOCK" /hello.php
	show
	[ "$status" -eq 0 ]
	json_ok
	[ "$(j 'd["requests"]')" -eq 500 ]
	[ "$(j 'd["errors"]')" -eq 0 ]
	[ "$(j 'd["settings"]["inflight"]')" -eq 1 ]
	[ "$(j 'd["settings"]["keepalive"]')" = true ]
	# One line on stderr, and it names what the application lacks.
	[ "$(printf '%s\n' "$stderr" | grep -c .)" -eq 1 ]
	grep -q 'FCGI_MPXS_CONNS' <<<"$stderr"
}

@test "php-fpm: -k -c 8 with 2 workers detects 6 stalled connections and completes every request" {
	bench -k -c 8 -n 2000 "unix:$FPM_SOCK" /ping
	show
	[ "$status" -eq 0 ]
	json_ok
	[ "$(j 'd["requests"]')" -eq 2000 ]
	[ "$(j 'd["errors"]')" -eq 0 ]
	[ "$(j 'd["stalled_connections"]')" -eq 6 ]
	[ "$(printf '%s\n' "$stderr" | grep -c 'connections completed no request')" -eq 1 ]
}

@test "php-fpm: -k -c 8 -D with 2 workers: stalled connections are not counted as timeouts" {
	# Each stalled request would reach -t 1.5 well before the end of -D 3:
	# detected after 1 s, it is given back rather than failed.
	bench -k -c 8 -t 1.5 -D 3 "unix:$FPM_SOCK" /ping
	show
	json_ok
	[ "$(j 'd["errors_by_kind"]["timeout"]')" -eq 0 ]
	[ "$(j 'd["stalled_connections"]')" -eq 6 ]
	[ "$(j 'd["requests"] > 0')" = true ]
	[ "$status" -eq 0 ]
}

@test "php-fpm: --urls FILE goes round-robin over its URLs" {
	rm -f "$RUN/a.hits" "$RUN/b.hits"
	printf '# two scripts\n/a.php\n\n/b.php\n' >"$FB_TMP/urls"
	bench -n 101 -c 3 -r "$FPM_ROOT" --urls "$FB_TMP/urls" "unix:$FPM_SOCK"
	show
	[ "$status" -eq 0 ]
	json_ok
	[ "$(j 'd["status"]')" = '{"200": 101}' ]
	[ "$(j 'd["settings"]["urls"]')" = '["/a.php", "/b.php"]' ]
	echo "a.hits=$(hits "$RUN/a.hits") b.hits=$(hits "$RUN/b.hits")"
	[ "$(hits "$RUN/a.hits")" -eq 51 ]
	[ "$(hits "$RUN/b.hits")" -eq 50 ]
}

@test "php-fpm: -R 200 -D 1 sends about 200 requests" {
	bench -R 200 -D 1 "unix:$FPM_SOCK" /ping
	show
	[ "$status" -eq 0 ]
	json_ok
	local n
	n=$(j 'd["requests"]')
	echo "requests=$n"
	[ "$n" -ge 150 ] && [ "$n" -le 260 ]
	[ "$(j 'd["settings"]["rate"]')" -eq 200 ]
}

@test "php-fpm: -R with more connections than workers does not queue requests behind idle connections" {
	# 20 requests at 20/s over up to 8 connections: about 1 s.  A
	# connection opened before it has a request to send holds a php-fpm
	# worker (PHP waits 5 s for the first record) while the request waits
	# in the listen queue.
	local t0 t1
	t0=$(now_ms)
	bench -R 20 -n 20 -c 8 "unix:$FPM_SOCK" /ping
	t1=$(now_ms)
	show
	echo "wall=$((t1 - t0)) ms"
	[ "$status" -eq 0 ]
	json_ok
	[ "$(j 'd["requests"]')" -eq 20 ]
	[ "$(j 'd["latency_ms"]["max"] < 1000')" = true ]
	[ $((t1 - t0)) -lt 3000 ]
}

@test "php-fpm: peak RSS does not grow with -n (1000 vs 100000, -k -c 2)" {
	local n rss_small rss_big
	for n in 1000 100000; do
		run --separate-stderr timeout 120 /usr/bin/time -f %M \
		    -o "$FB_TMP/rss.$n" "$FB" bench "${BENCH_IO[@]}" --json -k -c 2 -n "$n" \
		    "unix:$FPM_SOCK" /ping
		show
		[ "$status" -eq 0 ]
		[ "$(j 'd["requests"]')" -eq "$n" ]
	done
	rss_small=$(tail -n 1 "$FB_TMP/rss.1000")
	rss_big=$(tail -n 1 "$FB_TMP/rss.100000")
	echo "peak RSS: -n 1000 ${rss_small} KiB, -n 100000 ${rss_big} KiB"
	[ $((rss_big - rss_small)) -lt 1024 ]
}

# ----------------------------------------------------------------- serve

@test "serve: -n 500 -c 4 -k runs the CGI exactly 500 times" {
	rm -f "$RUN/hits-n500"
	bench -n 500 -c 4 -k -r "$CGI_ROOT" "unix:$BSOCK" '/count.cgi?n500'
	show
	[ "$status" -eq 0 ]
	json_ok
	[ "$(j 'd["status"]')" = '{"200": 500}' ]
	[ "$(j 'd["errors"]')" -eq 0 ]
	echo "lines=$(hits "$RUN/hits-n500")"
	[ "$(hits "$RUN/hits-n500")" -eq 500 ]
}

@test "serve: -k, a connection whose first answer is slow is not taken for stalled" {
	rm -rf "$RUN/firstslow-k"
	bench -n 40 -c 2 -k -r "$CGI_ROOT" "unix:$BSOCK" '/firstslow.cgi?k'
	show
	[ "$status" -eq 0 ]
	json_ok
	[ "$(j 'd["requests"]')" -eq 40 ]
	[ "$(j 'd["stalled_connections"]')" -eq 0 ]
	[[ $stderr != *"completed no request"* ]]
	[ "$(j 'd["latency_ms"]["max"] >= 2400')" = true ]
}

@test "serve: -D 2 stops after about 2 s" {
	local t0 t1
	t0=$(now_ms)
	bench -D 2 -c 4 -r "$CGI_ROOT" "unix:$BSOCK" '/count.cgi?d2'
	t1=$(now_ms)
	show
	echo "wall=$((t1 - t0)) ms"
	[ "$status" -eq 0 ]
	json_ok
	[ $((t1 - t0)) -ge 1800 ] && [ $((t1 - t0)) -le 4000 ]
	[ "$(j 'd["requests"] > 0 and d["errors"] == 0')" = true ]
	[ "$(j '1.9 <= d["duration_s"] <= 2.1')" = true ]
	[ "$(j 'd["settings"]["duration_s"]')" -eq 2 ]
}

@test "serve: a CGI exiting 3 after valid headers counts app_status errors, exit 1" {
	bench -n 20 -c 2 -r "$CGI_ROOT" "unix:$BSOCK" /exit3.cgi
	show
	[ "$status" -eq 1 ]
	json_ok
	[ "$(j 'd["errors_by_kind"]["app_status"]')" -eq 20 ]
	[ "$(j 'd["errors"]')" -eq 20 ]
	[ "$(j 'd["requests"]')" -eq 0 ]
}

@test "serve: a 20 MiB -d @FILE body is sent whole every time, and bench's RSS does not grow with it" {
	local n=$((20 * 1024 * 1024)) size rss_small rss_big
	head -c "$n" /dev/urandom >"$FB_TMP/body.big"
	printf x >"$FB_TMP/body.small"
	for size in small big; do
		rm -f "$RUN/bytes-$size"
		run --separate-stderr timeout 120 /usr/bin/time -f %M \
		    -o "$FB_TMP/rss.body.$size" "$FB" bench "${BENCH_IO[@]}" --json -n 3 \
		    -d "@$FB_TMP/body.$size" -r "$CGI_ROOT" "unix:$BSOCK" \
		    "/bytes.cgi?$size"
		show
		[ "$status" -eq 0 ]
		json_ok
		[ "$(j 'd["requests"]')" -eq 3 ]
	done
	cat "$RUN/bytes-big"
	[ "$(grep -cx "$n $n" "$RUN/bytes-big")" -eq 3 ]
	[ "$(j "d['bytes_out'] > 3 * $n")" = true ]
	rss_small=$(tail -n 1 "$FB_TMP/rss.body.small")
	rss_big=$(tail -n 1 "$FB_TMP/rss.body.big")
	echo "peak RSS: 1-byte body ${rss_small} KiB, 20 MiB body ${rss_big} KiB"
	[ $((rss_big - rss_small)) -lt 4096 ]
}

@test "serve: a 20 MiB -d @- body from a pipe is read once and sent whole every time" {
	local n=$((20 * 1024 * 1024))
	rm -f "$RUN/bytes-pipe"
	run --separate-stderr bash -c 'set -o pipefail
	    head -c "$1" /dev/zero |
	    timeout 120 "$2" bench "${@:5}" --json -n 2 -d @- -r "$3" \
	        "unix:$4" /bytes.cgi?pipe' bash "$n" "$FB" "$CGI_ROOT" "$BSOCK" \
	    "${BENCH_IO[@]}"
	show
	[ "$status" -eq 0 ]
	json_ok
	[ "$(j 'd["requests"]')" -eq 2 ]
	cat "$RUN/bytes-pipe"
	[ "$(grep -cx "$n $n" "$RUN/bytes-pipe")" -eq 2 ]
}

# ----------------------------------------------------------- no answer

@test "a missing Unix socket: every request is a connect error, exit 69" {
	bench -n 50 -c 4 "unix:$FB_TMP/nobody-here.sock" /ping
	show
	[ "$status" -eq 69 ]
	json_ok
	[ "$(j 'd["requests"]')" -eq 0 ]
	[ "$(j 'd["errors"]')" -eq 50 ]
	[ "$(j 'd["errors_by_kind"]["connect"]')" -eq 50 ]
}

@test "a closed TCP port: every request is a connect error, exactly -n of them, exit 69" {
	local port
	port=$(free_tcp_port)
	bench -n 5 -c 4 "127.0.0.1:$port" /ping
	show
	[ "$status" -eq 69 ]
	json_ok
	[ "$(j 'd["requests"]')" -eq 0 ]
	[ "$(j 'd["errors"] == d["errors_by_kind"]["connect"]')" = true ]
	[ "$(j 'd["errors"]')" -eq 5 ]
}

@test "a responder that never answers: -t 1 -n 3 -c 1 counts 3 timeouts, exit 1" {
	fake_start silent
	local t0 t1
	t0=$(now_ms)
	bench -t 1 -n 3 -c 1 "$FAKE_ADDR" /
	t1=$(now_ms)
	show
	echo "wall=$((t1 - t0)) ms"
	[ "$status" -eq 1 ]
	json_ok
	[ "$(j 'd["errors_by_kind"]["timeout"]')" -eq 3 ]
	[ "$(j 'd["errors"]')" -eq 3 ]
	[ "$(j 'd["requests"]')" -eq 0 ]
	[ $((t1 - t0)) -lt 6000 ]
}
