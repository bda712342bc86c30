#!/usr/bin/env bats
# fcgi-bridge serve scaled out behind one nginx upstream: serve keeps no
# state, so two instances share the load; one killed with SIGKILL under
# load fails only the requests it had in flight, nginx goes on with the
# other, and the instance started again takes traffic again.

load lib/helpers
load lib/serve

setup_file() {
	fb_tmp_create
	CGI_ROOT="$FB_TMP/cgi"
	mkdir -p "$CGI_ROOT"
	# Says which instance ran it (-e INSTANCE=...), after 20 ms.
	shell_cgi "$CGI_ROOT/who.cgi" <<'EOF'
#!/bin/sh
sleep 0.02
printf 'Content-Type: text/plain\r\n\r\n%s\n' "$INSTANCE"
EOF
	# GETs from N threads for D seconds; one line per answer:
	# "T STATUS BODY" (T: seconds since the start; STATUS 0: no answer).
	cat >"$FB_TMP/load.py" <<'EOF'
import sys, threading, time, urllib.error, urllib.request
url, threads, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
t0 = time.monotonic()
out, lock = [], threading.Lock()
def run():
    while time.monotonic() - t0 < seconds:
        t = time.monotonic() - t0
        try:
            r = urllib.request.urlopen(url, timeout=5)
            code, body = r.status, r.read().decode().strip()
        except urllib.error.HTTPError as e:
            code, body = e.code, "-"
        except Exception as e:
            code, body = 0, type(e).__name__
        with lock:
            out.append("%.3f %d %s" % (t, code, body))
ts = [threading.Thread(target=run) for _ in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
print("\n".join(out))
EOF
	export CGI_ROOT
}

teardown_file() {
	fb_tmp_remove
}

teardown() {
	[ -n "${A_PID:-}" ] && serve_stop "$A_PID"
	[ -n "${B_PID:-}" ] && serve_stop "$B_PID"
	nginx_stop
	return 0
}

# start_instance NAME: serve on $FB_TMP/NAME.sock, its CGIs told NAME.
start_instance() {
	serve_start "$FB_TMP/$1.sock" -r "$CGI_ROOT" -e "INSTANCE=$1" --grace 1
}

@test "two serves behind one upstream: SIGKILL one under load, only its requests in flight fail, the other goes on, the restarted one takes traffic again" {
	local port i out before kill_at failed after_a
	start_instance a
	A_PID=$SERVE_PID
	start_instance b
	B_PID=$SERVE_PID
	port=$(free_tcp_port)
	nginx_run "$port" "upstream serves {
		server unix:$FB_TMP/a.sock max_fails=1 fail_timeout=1s;
		server unix:$FB_TMP/b.sock max_fails=1 fail_timeout=1s;
		keepalive 8;
	}
	server {
		listen 127.0.0.1:$port;
		root $CGI_ROOT;
		location ~ \\.cgi\$ {
			include /etc/nginx/fastcgi_params;
			fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
			fastcgi_pass serves;
			fastcgi_keep_conn on;
		}
	}"
	# 8 clients for 8 s; a is killed at 2 s and started again at 4 s.
	timeout 60 python3 "$FB_TMP/load.py" "http://127.0.0.1:$port/who.cgi" \
	    8 8 >"$FB_TMP/load.out" &
	out=$!
	sleep 2
	kill_at=2
	kill -KILL "$A_PID"
	wait_gone "$A_PID" 50
	sed -i "/^$A_PID\$/d" "$FB_TMP/pids"
	sleep 2
	start_instance a
	A_PID=$SERVE_PID
	wait "$out"
	# Both took traffic before the kill.
	before=$(awk -v k=$kill_at '$1 < k - 0.1 && $2 == 200 { print $3 }' \
	    "$FB_TMP/load.out" | sort | uniq -c)
	echo "# before the kill: $(echo $before)" >&3
	[[ $before == *" a"* && $before == *" b"* ]]
	# Failures: only the requests in flight on a when it died, at most
	# one per client, all within a moment of the kill.
	failed=$(awk '$2 != 200' "$FB_TMP/load.out")
	echo "# failed: $(echo "$failed" | grep -c . || true): $(echo $failed)" >&3
	[ "$(grep -c . <<<"$failed" || true)" -le 8 ]
	if [ -n "$failed" ]; then
		awk -v k=$kill_at '$1 < k - 0.5 || $1 > k + 1 { bad = 1 }
		    END { exit bad }' <<<"$failed"
	fi
	# Between the kill and the restart b answered everything.
	[ -z "$(awk -v k=$kill_at '$1 > k + 0.5 && $1 < k + 1.8 && $3 != "b"' \
	    "$FB_TMP/load.out")" ]
	# Started again, a answers again before the end.
	after_a=$(awk -v k=$kill_at '$1 > k + 2.5 && $2 == 200 && $3 == "a"' \
	    "$FB_TMP/load.out" | grep -c . || true)
	echo "# a after its restart: $after_a answers" >&3
	[ "$after_a" -gt 0 ]
	[ "$(awk '$1 > 6.5 && $2 != 200' "$FB_TMP/load.out" | grep -c . || true)" -eq 0 ]
}
