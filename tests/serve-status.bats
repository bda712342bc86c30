#!/usr/bin/env bats
# fcgi-bridge serve --status and --ping: the counters move by exactly the
# requests sent, of each outcome; the JSON parses; the OpenMetrics text is
# taken by promtool, by python3-prometheus-client's strict parser, and by a
# real Prometheus server scraping serve through nginx.

load lib/helpers
load lib/serve

# Debian's python3, which has the prometheus_client package (python3 on
# PATH may be another one).
DEBIAN_PY=/usr/bin/python3
PROMETHEUS=${PROMETHEUS:-$(command -v prometheus || echo /usr/bin/prometheus)}
PROMTOOL=${PROMTOOL:-$(command -v promtool || echo /usr/bin/promtool)}

setup_file() {
	cgis_setup_file
}

teardown_file() {
	fb_tmp_remove
}

teardown() {
	[ -n "${OWN_PID:-}" ] && serve_stop "$OWN_PID"
	nginx_stop
	[ -n "${PROM_PID:-}" ] && stop_pid "$PROM_PID"
	return 0
}

# own_serve NAME ARGS...: serve on $FB_TMP/NAME.sock with --status
# /status --ping /ping and ARGS.
own_serve() {
	local name=$1
	shift
	SOCK="$FB_TMP/$name.sock"
	serve_start "$SOCK" -r "$CGI_ROOT" --grace 1 --status /status \
	    --ping /ping "$@"
	OWN_PID=$SERVE_PID
}

# fcgi SCRIPT QUERY ARGS...: raw-fcgi.py on $SOCK, a GET of SCRIPT.
fcgi() {
	local script=$1 query=$2
	shift 2
	raw -p REQUEST_METHOD=GET -p SCRIPT_NAME="/$script" \
	    -p SCRIPT_FILENAME="$CGI_ROOT/$script" -p QUERY_STRING="$query" \
	    "unix:$SOCK" "$@"
}

# status_json: the status page as JSON, through fcgi-bridge request.
status_json() {
	timeout "$T_CMD" "$FB" request --fail "unix:$SOCK" '/status?json'
}

# field JSON KEY...: the value at that path of the JSON document.
field() {
	local json=$1
	shift
	python3 -c 'import json, sys
v = json.loads(sys.argv[1])
for k in sys.argv[2:]:
    v = v[k]
print(v)' "$json" "$@"
}

@test "ping: --ping answers pong, 200, text/plain, no CGI; request --fail -t 2 exits 0" {
	own_serve ping
	run timeout "$T_CMD" "$FB" request -i -t 2 --fail "unix:$SOCK" /ping
	[ "$status" -eq 0 ]
	[[ $output == *"Content-Type: text/plain"* ]]
	[[ $output == *"Cache-Control: no-cache, no-store, must-revalidate, max-age=0"* ]]
	[ "${lines[-1]}" = pong ]
	[ "$(child_count "$OWN_PID")" -eq 0 ]
}

@test "status: the counters move by exactly the requests sent, of each outcome" {
	local json0 json
	own_serve counts -c 1 -q 1 -t 2 --no-adapt
	json0=$(status_json)
	[ "$(field "$json0" requests)" -eq 0 ]
	# 2 CGIs that exit 0, 1 that exits 3, a 404, a 403.
	fcgi bin.cgi exit=0 req:1 read:END_REQUEST >/dev/null
	fcgi bin.cgi exit=0 req:1 read:END_REQUEST >/dev/null
	fcgi bin.cgi exit=3 req:1 read:END_REQUEST >/dev/null
	fcgi nothere.cgi x req:1 read:END_REQUEST >/dev/null
	fcgi noexec.cgi x req:1 read:END_REQUEST >/dev/null
	# A timeout: a 504 at -t 2.
	fcgi slow.cgi t -t 10 req:1 read:END_REQUEST >/dev/null
	# An ABORT_REQUEST.
	rm -f "$RUN/ab.pid"
	fcgi slow.cgi ab -t 10 req:1:1 waitfile:"$RUN/ab.pid" abort:1 \
	    read:END_REQUEST >/dev/null
	# 1 holds the one slot, 2 waits in the queue of one, 3 is refused
	# with FCGI_OVERLOADED; then the web server hangs up on 1 and 2.
	rm -f "$RUN/q.pid"
	fcgi slow.cgi q -t 10 req:1:1 waitfile:"$RUN/q.pid" req:2:1 req:3:1 \
	    read:END_REQUEST close >/dev/null
	# Garbage: a protocol error.
	raw "unix:$SOCK" rec:2:1:1:0000000000000000 eof >/dev/null || true
	json=$(status_json)
	echo "# $json" >&3
	[ "$(field "$json" 'requests by outcome' cgi_exit_zero)" -eq 2 ]
	[ "$(field "$json" 'requests by outcome' cgi_exit_other)" -eq 1 ]
	[ "$(field "$json" 'requests by outcome' refused_404)" -eq 1 ]
	[ "$(field "$json" 'requests by outcome' refused_403)" -eq 1 ]
	[ "$(field "$json" 'requests by outcome' timeout)" -eq 1 ]
	[ "$(field "$json" 'requests by outcome' aborted)" -eq 3 ]
	[ "$(field "$json" 'requests by outcome' overloaded)" -eq 1 ]
	[ "$(field "$json" 'protocol errors')" -eq 1 ]
	# The first status request, and the 10 above.
	[ "$(field "$json" requests)" -eq 11 ]
	# 2xx: the status page, two exit 0 and one exit 3 (it still said
	# 200); 4xx: the 404 and the 403; 5xx: the 504.
	[ "$(field "$json" 'requests by status' 2xx)" -eq 4 ]
	[ "$(field "$json" 'requests by status' 4xx)" -eq 2 ]
	[ "$(field "$json" 'requests by status' 5xx)" -eq 1 ]
	# Those that ended with END_REQUEST: all but the 2 hung up on.
	[ "$(field "$json" 'request duration seconds' count)" -eq 9 ]
	# 9 connections above, and this status request's own.
	[ "$(field "$json" 'accepted conn')" -eq \
	    $(($(field "$json0" 'accepted conn') + 10)) ]
	[ "$(field "$json" 'max active processes')" -eq 1 ]
	[ "$(field "$json" 'max listen queue')" -eq 1 ]
	[ "$(field "$json" 'max children reached')" -eq 1 ]
	[ "$(field "$json" 'listen queue len')" -eq 1 ]
	[ "$(field "$json" 'start since')" -ge 0 ]
	wait_no_children "$OWN_PID" 50
	json=$(status_json)
	[ "$(field "$json" 'active processes')" -eq 0 ]
	[ "$(field "$json" 'listen queue')" -eq 0 ]
}

@test "status: plain text in php-fpm's form by default, with php-fpm's no-cache headers" {
	own_serve text
	run timeout "$T_CMD" "$FB" request -i --fail "unix:$SOCK" /status
	[ "$status" -eq 0 ]
	[[ $output == *"Content-Type: text/plain"* ]]
	[[ $output == *"Expires: Thu, 01 Jan 1970 00:00:00 GMT"* ]]
	grep -qE '^accepted conn: +[1-9][0-9]*$' <<<"$output"
	grep -qE '^active processes: +0$' <<<"$output"
	grep -qE '^start since: +[0-9]+$' <<<"$output"
	grep -qE "^address: +unix:$SOCK\$" <<<"$output"
}

# openmetrics: the status page in OpenMetrics, after some requests.
openmetrics() {
	fcgi bin.cgi exit=0 req:1 read:END_REQUEST >/dev/null
	fcgi nothere.cgi x req:1 read:END_REQUEST >/dev/null
	timeout "$T_CMD" "$FB" request -i --fail "unix:$SOCK" \
	    '/status?openmetrics'
}

@test "status ?openmetrics: OpenMetrics 1.0 that python3-prometheus-client's strict parser takes" {
	[ -x "$DEBIAN_PY" ] && "$DEBIAN_PY" -c 'import prometheus_client' ||
	    skip "python3-prometheus-client is not installed (scripts/install-deps)"
	own_serve om
	run openmetrics
	[ "$status" -eq 0 ]
	[[ $output == *"Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8"* ]]
	[ "${lines[-1]}" = "# EOF" ]
	sed '1,/^\r\{0,1\}$/d' <<<"$output" >"$FB_TMP/om.txt"
	run "$DEBIAN_PY" -c 'import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
assert fams["fcgi_bridge_requests"].type == "counter"
assert fams["fcgi_bridge_request_duration_seconds"].type == "histogram"
for s in fams["fcgi_bridge_requests"].samples:
    print(s.name, s.labels["outcome"], int(s.value))' "$FB_TMP/om.txt"
	echo "$output" | sed 's/^/# /' >&3
	[ "$status" -eq 0 ]
	has_line "fcgi_bridge_requests_total cgi_exit_zero 1" <<<"$output"
	has_line "fcgi_bridge_requests_total refused_404 1" <<<"$output"
}

@test "status ?openmetrics: promtool check metrics parses it, and finds nothing to say but OpenMetrics's own counter names" {
	[ -x "$PROMTOOL" ] || skip "promtool is not installed (scripts/install-deps)"
	own_serve promtool
	run openmetrics
	[ "$status" -eq 0 ]
	sed '1,/^\r\{0,1\}$/d' <<<"$output" >"$FB_TMP/om.txt"
	run "$PROMTOOL" check metrics <"$FB_TMP/om.txt"
	echo "$output" | sed 's/^/# promtool: /' >&3
	# 0: clean; 3: lint remarks.  promtool reads the Prometheus text
	# format, where a counter's TYPE and HELP carry the _total that
	# OpenMetrics leaves off them: it says "no help text" for each
	# counter's _total samples, and must say nothing else.
	[ "$status" -eq 0 ] || [ "$status" -eq 3 ]
	if [ -n "$output" ]; then
		! grep -v -E '^fcgi_bridge_[a-z_]+_total no help text$' <<<"$output"
	fi
}

@test "status: a real Prometheus scrapes serve's OpenMetrics through nginx; its query API has up and the counters" {
	local port prom_port i out
	[ -x "$PROMETHEUS" ] || skip "prometheus is not installed (scripts/install-deps)"
	own_serve prom
	# nginx: /status to serve, as the shipped snippet routes it.
	port=$(free_tcp_port)
	nginx_run "$port" "server {
		listen 127.0.0.1:$port;
		location = /status {
			allow 127.0.0.1;
			deny all;
			include /etc/nginx/fastcgi_params;
			fastcgi_pass unix:$SOCK;
		}
	}"
	# Some traffic to count: two CGIs that exit 0.
	fcgi bin.cgi exit=0 req:1 read:END_REQUEST >/dev/null
	fcgi bin.cgi exit=0 req:1 read:END_REQUEST >/dev/null
	prom_port=$(free_tcp_port)
	cat >"$FB_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: fcgi-bridge
    metrics_path: /status
    params:
      openmetrics: ['']
    static_configs:
      - targets: ['127.0.0.1:$port']
EOF
	"$PROMETHEUS" --config.file="$FB_TMP/prometheus.yml" \
	    --storage.tsdb.path="$FB_TMP/prom-data" \
	    --web.listen-address="127.0.0.1:$prom_port" \
	    </dev/null >>"$FB_TMP/prometheus.log" 2>&1 &
	PROM_PID=$!
	echo "$PROM_PID" >>"$FB_TMP/pids"
	# Bounded: up to 30 s for a scrape to land.
	for ((i = 0; i < 150; i++)); do
		out=$(curl -s "http://127.0.0.1:$prom_port/api/v1/query?query=fcgi_bridge_requests_total%7Boutcome%3D%22cgi_exit_zero%22%7D" || true)
		[[ $out == *'"value":['*',"2"]'* ]] && break
		sleep 0.2
	done
	echo "# $out" >&3
	[[ $out == *'"value":['*',"2"]'* ]] || {
		tail -n 20 "$FB_TMP/prometheus.log" >&2
		return 1
	}
	out=$(curl -s "http://127.0.0.1:$prom_port/api/v1/query?query=up")
	echo "# $out" >&3
	[[ $out == *'"job":"fcgi-bridge"'*'"value":['*',"1"]'* ]]
	out=$(curl -s "http://127.0.0.1:$prom_port/api/v1/query?query=fcgi_bridge_request_duration_seconds_count")
	[[ $out == *'"value":['*'"'[0-9]*'"]'* ]]
}

@test "--status and --ping take a path as SCRIPT_NAME has it: one without '/' is a usage error" {
	run timeout 10 "$FB" serve -r "$CGI_ROOT" --status status
	[ "$status" -eq 64 ]
	[[ $output == *"--status status: expected a path starting with '/'"* ]]
}
