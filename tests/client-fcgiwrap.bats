#!/usr/bin/env bats
# request and connect round trips against fcgiwrap (a real FastCGI
# responder that runs SCRIPT_FILENAME as a CGI program), started once for
# this file on a Unix socket.

load lib/helpers

setup_file() {
	fb_tmp_create
	fcgiwrap_start

	# Echoes its CGI environment and its stdin: CONTENT_LENGTH bytes when
	# set, else everything until EOF.
	cgi_script echo.sh <<'EOF2'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
echo "method=$REQUEST_METHOD"
echo "query=$QUERY_STRING"
echo "script_name=$SCRIPT_NAME"
echo "path_info=$PATH_INFO"
echo "x_test=$HTTP_X_TEST"
echo "content_type=$CONTENT_TYPE"
echo "content_length=$CONTENT_LENGTH"
echo "foo=$FOO"
echo "body:"
if [ -n "$CONTENT_LENGTH" ]; then head -c "$CONTENT_LENGTH"; else cat; fi
EOF2

	cgi_script status.sh <<'EOF2'
#!/bin/sh
printf 'Status: 418 I am a teapot\r\nContent-Type: text/plain\r\nX-Extra: yes\r\n\r\nshort and stout\n'
EOF2

	cgi_script redirect.sh <<'EOF2'
#!/bin/sh
printf 'Location: http://example.org/elsewhere\r\n\r\n'
EOF2
}

teardown_file() {
	fcgiwrap_stop
	fb_tmp_remove
}

show() {
	echo "status=$status"
	echo "stdout=[${output:0:3000}]"
	echo "stderr=[${stderr:0:3000}]"
}

@test "request GET: the CGI's answer body comes back, params as built" {
	run --separate-stderr timeout "$T_CMD" "$FB" request -r "$CGI_ROOT" \
	    -H 'X-Test: yes' "unix:$FCGIWRAP_SOCK" '/echo.sh/extra?q=1'
	show
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' method=GET query=q=1 script_name=/echo.sh \
	    path_info=/extra x_test=yes content_type= content_length= foo= body:)" ]
}

@test "request POST -d: the body reaches the CGI's stdin exactly" {
	run --separate-stderr timeout "$T_CMD" "$FB" request -r "$CGI_ROOT" \
	    -d 'one=1&two=2' "unix:$FCGIWRAP_SOCK" /echo.sh
	show
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = method=POST ]
	[ "${lines[5]}" = content_type=application/x-www-form-urlencoded ]
	[ "${lines[6]}" = content_length=11 ]
	[ "${lines[8]}" = body: ]
	[ "${lines[9]}" = 'one=1&two=2' ]
	[ "${#lines[@]}" -eq 10 ]
}

@test "request -d @FILE: 48 KiB of binary data makes the round trip intact" {
	# fcgiwrap writes the whole body to the CGI before it reads any output,
	# so an echo of more than a pipe's worth (64 KiB) deadlocks in fcgiwrap
	# (cgi-fcgi hangs the same way); 48 KiB stays below that.
	head -c 49152 /dev/urandom >"$FB_TMP/body.bin"
	run --separate-stderr bash -c 'set -o pipefail
	    timeout "$1" "$2" request -r "$3" -d "@$4" "unix:$5" /echo.sh |
	    sed "1,/^body:\$/d" | md5sum | cut -d" " -f1' \
	    bash "$T_CMD" "$FB" "$CGI_ROOT" "$FB_TMP/body.bin" "$FCGIWRAP_SOCK"
	show
	[ "$status" -eq 0 ]
	[ "$output" = "$(md5sum <"$FB_TMP/body.bin" | cut -d' ' -f1)" ]
}

@test "request: Status: 418 from the CGI, -i prints its header block as sent" {
	run --separate-stderr timeout "$T_CMD" "$FB" request -i -r "$CGI_ROOT" \
	    "unix:$FCGIWRAP_SOCK" /status.sh
	show
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'Status: 418 I am a teapot\r\nContent-Type: text/plain\r\nX-Extra: yes\r\n\r\nshort and stout')" ]
}

@test "request --fail: Status: 418 from the CGI exits 22 without the body" {
	run --separate-stderr timeout "$T_CMD" "$FB" request --fail -r "$CGI_ROOT" \
	    "unix:$FCGIWRAP_SOCK" /status.sh
	show
	[ "$status" -eq 22 ]
	[ -z "$output" ]
}

@test "request --fail: fcgiwrap's 403 for a missing script exits 22" {
	run --separate-stderr timeout "$T_CMD" "$FB" request --fail -r "$CGI_ROOT" \
	    "unix:$FCGIWRAP_SOCK" /missing.sh
	show
	[ "$status" -eq 22 ]
	[ -z "$output" ]
}

@test "request --fail: a Location-only answer (302) exits 0" {
	run --separate-stderr timeout "$T_CMD" "$FB" request --fail -i -r "$CGI_ROOT" \
	    "unix:$FCGIWRAP_SOCK" /redirect.sh
	show
	[ "$status" -eq 0 ]
	[[ "$output" == "Location: http://example.org/elsewhere"* ]]
}

@test "connect GET: stdout is the CGI's output byte for byte" {
	env -i SCRIPT_FILENAME="$CGI_ROOT/echo.sh" SCRIPT_NAME=/echo.sh \
	    REQUEST_METHOD=GET QUERY_STRING=a=b HTTP_X_TEST=t FOO=bar \
	    timeout "$T_CMD" "$FB" connect "unix:$FCGIWRAP_SOCK" \
	    </dev/null >"$FB_TMP/out" 2>"$FB_TMP/err"
	cat "$FB_TMP/err"
	printf 'Content-Type: text/plain\r\n\r\nmethod=GET\nquery=a=b\nscript_name=/echo.sh\npath_info=\nx_test=t\ncontent_type=\ncontent_length=\nfoo=bar\nbody:\n' |
	    cmp - "$FB_TMP/out"
	[ ! -s "$FB_TMP/err" ]
}

@test "connect POST with CONTENT_LENGTH: the body reaches the CGI exactly" {
	printf 'line one\nline two\n\0binary\n' >"$FB_TMP/body"
	env -i SCRIPT_FILENAME="$CGI_ROOT/echo.sh" REQUEST_METHOD=POST \
	    CONTENT_LENGTH="$(stat -c %s "$FB_TMP/body")" CONTENT_TYPE=application/octet-stream \
	    timeout "$T_CMD" "$FB" connect "$FCGIWRAP_SOCK" \
	    <"$FB_TMP/body" >"$FB_TMP/out" 2>"$FB_TMP/err"
	cat "$FB_TMP/err"
	{
		printf 'Content-Type: text/plain\r\n\r\nmethod=POST\nquery=\nscript_name=\npath_info=\nx_test=\n'
		printf 'content_type=application/octet-stream\ncontent_length=26\nfoo=\nbody:\n'
		cat "$FB_TMP/body"
	} | cmp - "$FB_TMP/out"
}

@test "connect without CONTENT_LENGTH: all of stdin until EOF is the body" {
	env -i SCRIPT_FILENAME="$CGI_ROOT/echo.sh" REQUEST_METHOD=PUT \
	    timeout "$T_CMD" "$FB" connect "$FCGIWRAP_SOCK" \
	    < <(printf 'streamed\nuntil eof') >"$FB_TMP/out" 2>"$FB_TMP/err"
	cat "$FB_TMP/err"
	tail -n 2 "$FB_TMP/out" | cmp - <(printf 'streamed\nuntil eof')
}

@test "connect: output identical to cgi-fcgi -bind -connect for the same request" {
	printf 'a=1&b=2' >"$FB_TMP/body"
	local envs=(SCRIPT_FILENAME="$CGI_ROOT/echo.sh" REQUEST_METHOD=POST
	    CONTENT_LENGTH=7 QUERY_STRING=z=9 HTTP_X_TEST=same FOO=foo)
	local ref_rc=0 fb_rc=0
	env -i "${envs[@]}" timeout "$T_CMD" cgi-fcgi -bind -connect "$FCGIWRAP_SOCK" \
	    <"$FB_TMP/body" >"$FB_TMP/ref.out" 2>/dev/null || ref_rc=$?
	env -i "${envs[@]}" timeout "$T_CMD" "$FB" connect "$FCGIWRAP_SOCK" \
	    <"$FB_TMP/body" >"$FB_TMP/fb.out" 2>"$FB_TMP/fb.err" || fb_rc=$?
	cat "$FB_TMP/fb.err"
	[ "$fb_rc" -eq "$ref_rc" ]
	grep -q '^a=1&b=2$' "$FB_TMP/fb.out"
	cmp "$FB_TMP/ref.out" "$FB_TMP/fb.out"
}
