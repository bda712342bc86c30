#!/usr/bin/env bats
# fcgi-bridge bench's results for people and CI: --check, the timeline,
# the HdrHistogram files (--hgrm, --hdr-log, the JSON's histogram),
# --merge, the back-off after a failed connect and scripts/plot-bench.
# The histograms are read by HdrHistogram's own Java library (Debian's
# libhdrhistogram-java), through tests/lib/HdrCheck.java, compiled here.
#
# setup_file starts, in "$FB_TMP":
#   serve on serve.sock -r cgi/ -c 8, with cgi/bin.cgi the tests' compiled
#   CGI (lib/serve: build_c_cgi; /bin.cgi?exit=N answers, then exits N)
#                                                            (BSERVE_PID)
# and compiles HdrCheck into java/ when javac and the jar are there.

load lib/helpers
load lib/serve

HDR_JAR=/usr/share/java/hdrhistogram.jar

setup_file() {
	fb_tmp_create
	CGI_ROOT="$FB_TMP/cgi"
	BSOCK="$FB_TMP/serve.sock"
	export CGI_ROOT BSOCK
	mkdir -p "$CGI_ROOT" "$FB_TMP/java"
	build_c_cgi "$CGI_ROOT/bin.cgi"
	serve_start "$BSOCK" -r "$CGI_ROOT" -c 8
	BSERVE_PID=$SERVE_PID
	export BSERVE_PID
	if command -v javac >/dev/null && [ -f "$HDR_JAR" ]; then
		timeout 120 javac -d "$FB_TMP/java" -cp "$HDR_JAR" \
		    "$BATS_TEST_DIRNAME/lib/HdrCheck.java"
	fi
}

teardown_file() {
	serve_stop "${BSERVE_PID:-}"
	fb_tmp_remove
}

# show: what the last `run` did, printed only when a test fails.
show() {
	echo "status=$status"
	echo "stdout=[${output:0:3000}]"
	echo "stderr=[${stderr:0:3000}]"
}

# bench ARGS...: `fcgi-bridge bench ARGS...` under a timeout, stdout and
# stderr apart; with the engine of FB_BENCH_IO, but for --merge.
bench() {
	local io=("${BENCH_IO[@]}")
	[[ " $* " != *" --merge "* ]] || io=()
	run --separate-stderr timeout "$T_CMD" "$FB" bench "${io[@]}" "$@"
}

# need_java: skips, saying why, where HdrHistogram's Java library or javac
# could not be installed.
need_java() {
	[ -f "$FB_TMP/java/HdrCheck.class" ] ||
	    skip "javac or $HDR_JAR missing: scripts/install-deps installs default-jdk-headless and libhdrhistogram-java"
}

# hdrcheck ARGS...: tests/lib/HdrCheck.java's answer, into $FB_TMP/java.out.
hdrcheck() {
	timeout 120 java -cp "$HDR_JAR:$FB_TMP/java" HdrCheck "$@" \
	    >"$FB_TMP/java.out"
	cat "$FB_TMP/java.out"
}

# same_as_java REPORT: the count, max and percentiles of the JSON report
# in file REPORT are HdrHistogram's (in $FB_TMP/java.out): the same count;
# HdrHistogram's max is the highest value equivalent to bench's exact max
# (its "equivalent" line); each percentile is HdrHistogram's, or bench's
# max where that is lower.
same_as_java() {
	python3 - "$1" "$FB_TMP/java.out" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
java, equivalent = {}, {}
for line in open(sys.argv[2]):
    w = line.split()
    if line.startswith("spectrum"):
        break
    if w[0] == "equivalent":
        equivalent[int(w[1])] = int(w[2])
    elif len(w) == 2:
        java[w[0]] = int(w[1])
us = lambda ms: round(ms * 1000)
l = d["latency_ms"]
bad = []
if java["count"] != d["requests"]:
    bad.append("count %d, bench %d" % (java["count"], d["requests"]))
if java["max"] != equivalent[us(l["max"])]:
    bad.append("max %d, bench %d" % (java["max"], us(l["max"])))
for p, key in (("p50", "p50"), ("p90", "p90"), ("p99", "p99"),
               ("p99.9", "p99_9")):
    if min(java[p], us(l["max"])) != us(l[key]):
        bad.append("%s %d, bench %d" % (p, java[p], us(l[key])))
if bad:
    sys.exit("HdrHistogram and bench differ: %s" % bad)
print("same as HdrHistogram: %s" % java)
EOF
}

# ------------------------------------------------------------- --check

@test "--check: every check is printed with its figure; one failing exits 99 and is named on stderr" {
	bench -n 40 -c 2 -r "$CGI_ROOT" --check 'errors==0' \
	    --check 'requests<10' --check 'status_2xx == 40' \
	    --check 'error_rate<0.1%' --check 'p99<30s' \
	    --check 'p99.9 <= 30000ms' "unix:$BSOCK" '/bin.cgi?exit=0'
	show
	[ "$status" -eq 99 ]
	[[ $output == *"check errors==0: 0, pass"* ]]
	[[ $output == *"check requests<10: 40, fail"* ]]
	[[ $output == *"check status_2xx == 40: 40, pass"* ]]
	[[ $output == *"check error_rate<0.1%: 0.0000%, pass"* ]]
	grep -Eq '^check p99<30s: 0\.[0-9]{6} s, pass$' <<<"$output"
	grep -Eq '^check p99\.9 <= 30000ms: [0-9]+\.[0-9]{3} ms, pass$' <<<"$output"
	[ "$(grep -c '^check ' <<<"$output")" -eq 6 ]
	[ "$(printf '%s\n' "$stderr" | grep -c 'check failed')" -eq 1 ]
	[[ $stderr == *"check failed: requests<10: 40"* ]]
}

@test "--check in the JSON: expression, value in its unit, pass; all passing exits 0" {
	bench --json -n 40 -c 2 -r "$CGI_ROOT" --check 'errors==0' \
	    --check 'rps>0' --check 'max<30s' "unix:$BSOCK" '/bin.cgi?exit=0'
	show
	[ "$status" -eq 0 ]
	[ "$(j '[c["expression"] for c in d["checks"]]')" = \
	    '["errors==0", "rps>0", "max<30s"]' ]
	[ "$(j 'all(c["pass"] for c in d["checks"])')" = true ]
	[ "$(j 'd["checks"][0]["value"]')" -eq 0 ]
	[ "$(j 'abs(d["checks"][1]["value"] - d["rps"]) < 0.001')" = true ]
	[ "$(j 'abs(d["checks"][2]["value"] * 1000 - d["latency_ms"]["max"]) < 0.0005')" = true ]
}

@test "--check decides over errors: half the requests failing pass error_rate<60% (exit 0), not error_rate<40% (exit 99)" {
	printf '/bin.cgi?exit=0\n/bin.cgi?exit=3\n' >"$FB_TMP/half.urls"
	bench --json -n 40 -r "$CGI_ROOT" --urls "$FB_TMP/half.urls" \
	    --check 'error_rate<60%' --check 'errors_app_status==20' \
	    "unix:$BSOCK"
	show
	[ "$status" -eq 0 ]
	[ "$(j 'd["errors"]')" -eq 20 ]
	[ "$(j 'd["checks"][0]["value"]')" = 50.0000 ] ||
	    [ "$(j 'd["checks"][0]["value"]')" = 50.0 ]
	bench --json -n 40 -r "$CGI_ROOT" --urls "$FB_TMP/half.urls" \
	    --check 'error_rate<40%' "unix:$BSOCK"
	show
	[ "$status" -eq 99 ]
	[ "$(j 'd["checks"][0]["pass"]')" = false ]
}

@test "--check: a bad expression is a usage error (64) that names it, before anything is sent" {
	local e
	for e in 'p99<50xs' 'latency<5ms' 'p99 50' 'p101<1ms' 'p0<1ms' \
	    'errors<1ms' 'rps>10%' 'p99<' 'p99<ms' 'status_99==0' \
	    'status_6yy==0' 'errors==0 and' 'p99=<50ms'; do
		bench --check "$e" "unix:$FB_TMP/nobody.sock"
		echo "$e: status=$status stderr=$stderr"
		[ "$status" -eq 64 ]
		[[ $stderr == *"--check '$e'"* ]]
		[ -z "$output" ]
	done
}

@test "--check with nothing answered: a missing socket still exits 69, whatever the checks say" {
	bench -n 5 --check 'p99<50ms' "unix:$FB_TMP/nobody.sock"
	show
	[ "$status" -eq 69 ]
}

# ------------------------------------------------------------ timeline

@test "timeline: one entry a second, whose requests, errors and max add up to the totals" {
	printf '/bin.cgi?exit=0\n/bin.cgi?exit=0\n/bin.cgi?exit=3\n' \
	    >"$FB_TMP/third.urls"
	bench --json -D 3 -c 2 -r "$CGI_ROOT" --urls "$FB_TMP/third.urls" \
	    "unix:$BSOCK"
	show
	[ "$status" -eq 1 ]
	[ "$(j '[(t["start_s"], t["duration_s"]) for t in d["timeline"]]')" = \
	    '[[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]]' ]
	[ "$(j 'sum(t["requests"] for t in d["timeline"]) == d["requests"]')" = true ]
	[ "$(j 'sum(t["errors"] for t in d["timeline"]) == d["errors"]')" = true ]
	[ "$(j 'max(t["max_ms"] for t in d["timeline"]) == d["latency_ms"]["max"]')" = true ]
	[ "$(j 'all(t["requests"] > 0 and t["errors"] > 0 and t["p50_ms"] <= t["p99_ms"] <= t["max_ms"] for t in d["timeline"])')" = true ]
	[ "$(j 'abs(d["start_time"] - __import__("time").time()) < 60')" = true ]
}

@test "timeline: -n ends with a shorter last second; the seconds add up to duration_s" {
	bench --json -n 300 -c 2 -r "$CGI_ROOT" "unix:$BSOCK" '/bin.cgi?exit=0'
	show
	[ "$status" -eq 0 ]
	[ "$(j 'abs(sum(t["duration_s"] for t in d["timeline"]) - d["duration_s"]) < 0.002')" = true ]
	[ "$(j 'sum(t["requests"] for t in d["timeline"])')" -eq 300 ]
}

@test "progress: on a terminal, a line a second with that second's req/s, errors, p50, p99 and max; none when stderr is not one" {
	run --separate-stderr timeout "$T_CMD" "$FB" bench "${BENCH_IO[@]}" -D 2 \
	    -r "$CGI_ROOT" "unix:$BSOCK" '/bin.cgi?exit=0'
	[ "$status" -eq 0 ]
	[[ $stderr != *req/s* ]]
	[[ $stderr != *$'\r'* ]]
	# script(1) gives bench a terminal; its output is what was shown.
	run timeout "$T_CMD" script -qec "'$FB' bench -D 2 -r '$CGI_ROOT' \
	    'unix:$BSOCK' '/bin.cgi?exit=0' >/dev/null" /dev/null
	echo "status=$status output=[$output]"
	[ "$status" -eq 0 ]
	[ "$(grep -o $'\r' <<<"$output" | wc -l)" -ge 2 ]
	grep -Eq '^\r? +1 s +[0-9.]+ req/s +0 errors +ms: p50 [0-9.]+ p99 [0-9.]+ max [0-9.]+' \
	    <<<"$(tr '\r' '\n' <<<"$output")"
}

# --------------------------------------------------- connect back-off

@test "a socket nobody listens on: connects are tried again after 10 ms doubling to 1 s, not at once" {
	bench --json -D 2 -c 1 "unix:$FB_TMP/nobody.sock" /
	show
	[ "$status" -eq 69 ]
	# 0, 10, 30, 70, 150, 310, 630, 1270 ms: 8 tries in 2 s (at once,
	# it was about 200 a second).
	local n
	n=$(j 'd["errors_by_kind"]["connect"]')
	echo "connect errors: $n"
	[ "$n" -ge 6 ] && [ "$n" -le 10 ]
}

# ---------------------------------------------- HdrHistogram's reader

@test "--hdr-log: HdrHistogram's HistogramLogReader reads a histogram a second, and the same count, max and percentiles as bench" {
	need_java
	bench --json -D 3 -c 2 -r "$CGI_ROOT" --hdr-log "$FB_TMP/run.hlog" \
	    "unix:$BSOCK" '/bin.cgi?exit=0'
	show
	[ "$status" -eq 0 ]
	echo "$output" >"$FB_TMP/run.json"
	head -4 "$FB_TMP/run.hlog"
	[ "$(sed -n 1p "$FB_TMP/run.hlog")" = '#[Histogram log format version 1.2]' ]
	[ "$(grep -vc '^[#"]' "$FB_TMP/run.hlog")" -eq 3 ]
	hdrcheck log "$FB_TMP/run.hlog" "$(j 'round(d["latency_ms"]["max"] * 1000)')"
	# Each interval: from the start, its length, its count as bench's
	# timeline has it.
	python3 - "$FB_TMP/run.json" "$FB_TMP/java.out" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
got = [l.split()[1:4] for l in open(sys.argv[2]) if l.startswith("interval")]
want = [["%.3f" % t["start_s"], "%.3f" % t["duration_s"], str(t["requests"])]
        for t in d["timeline"]]
sys.exit(0 if got == want else "intervals %s, timeline %s" % (got, want))
EOF
	same_as_java "$FB_TMP/run.json"
}

@test "the JSON's histogram decodes in HdrHistogram to bench's figures, and --hgrm is the spectrum HdrHistogram prints" {
	need_java
	bench --json -n 500 -c 4 -r "$CGI_ROOT" --hgrm "$FB_TMP/run.hgrm" \
	    "unix:$BSOCK" '/bin.cgi?exit=0'
	show
	[ "$status" -eq 0 ]
	echo "$output" >"$FB_TMP/run.json"
	[[ $(j 'd["histogram"]["encoded"]') == HISTFAAA* ]]
	hdrcheck encoded "$(j 'd["histogram"]["encoded"]')" -- \
	    "$(j 'round(d["latency_ms"]["max"] * 1000)')"
	same_as_java "$FB_TMP/run.json"
	cat "$FB_TMP/run.hgrm"
	# Row for row: the value, the percentile (6 decimals here, 12 in
	# Java's own print) and the count; then the footer's figures.
	python3 - "$FB_TMP/run.hgrm" "$FB_TMP/java.out" <<'EOF'
import sys
def rows(lines):
    out, foot = [], []
    for l in lines:
        w = l.replace("[", " ").replace("]", " ").replace(",", " ").split()
        if l.startswith("#"):
            foot += [x for x in w if x[0].isdigit()]
        elif w and w[0][0].isdigit():
            out.append((w[0], round(float(w[1]), 6), w[2]))
    return out, foot
ours = rows(open(sys.argv[1]))
java = open(sys.argv[2]).read().split("spectrum\n", 1)[1].splitlines()
theirs = rows(java)
if ours[0] != theirs[0]:
    sys.exit("spectrum rows differ:\n%s\n%s" % (ours[0], theirs[0]))
if [float(x) for x in ours[1]] != [float(x) for x in theirs[1]]:
    sys.exit("footers differ: %s, %s" % (ours[1], theirs[1]))
print("%d rows, footer %s, as HdrHistogram prints them" % (len(ours[0]), ours[1]))
EOF
	# wrk2's format: HdrHistogram_c's header, and 1/(1-p) inf at 100%.
	[ "$(head -1 "$FB_TMP/run.hgrm")" = '       Value   Percentile   TotalCount 1/(1-Percentile)' ]
	grep -Eq '^ +[0-9.]+ +1\.000000 +500 +inf$' "$FB_TMP/run.hgrm"
}

# --------------------------------------------------------------- merge

@test "--merge: three benches at once against one serve add up, and the union's percentiles are those of the combined histogram" {
	local i
	for i in 1 2 3; do
		timeout "$T_CMD" "$FB" bench "${BENCH_IO[@]}" --json -D 2 -c 2 -r "$CGI_ROOT" \
		    "unix:$BSOCK" '/bin.cgi?exit=0' >"$FB_TMP/m$i.json" &
	done
	wait
	bench --json --merge "$FB_TMP/m1.json" "$FB_TMP/m2.json" \
	    "$FB_TMP/m3.json"
	show
	[ "$status" -eq 0 ]
	echo "$output" >"$FB_TMP/merged.json"
	python3 - "$FB_TMP"/m[123].json "$FB_TMP/merged.json" <<'EOF'
import json, sys
runs = [json.load(open(f)) for f in sys.argv[1:4]]
m = json.load(open(sys.argv[4]))
def same(what, a, b):
    if a != b:
        sys.exit("%s: merged %r, runs %r" % (what, a, b))
for k in ("requests", "errors", "bytes_in", "bytes_out",
          "stalled_connections"):
    same(k, m[k], sum(r[k] for r in runs))
for k in m["errors_by_kind"]:
    same(k, m["errors_by_kind"][k], sum(r["errors_by_kind"][k] for r in runs))
same("status", m["status"], {"200": sum(r["status"]["200"] for r in runs)})
same("timeline", sum(t["requests"] for t in m["timeline"]), m["requests"])
start = min(r["start_time"] for r in runs)
end = max(r["start_time"] + r["duration_s"] for r in runs)
same("start_time", round(m["start_time"], 6), round(start, 6))
assert abs(m["duration_s"] - (end - start)) < 1e-5, m["duration_s"]
assert abs(m["rps"] - m["requests"] / m["duration_s"]) < 0.001, m["rps"]
same("min", m["latency_ms"]["min"], min(r["latency_ms"]["min"] for r in runs))
same("max", m["latency_ms"]["max"], max(r["latency_ms"]["max"] for r in runs))
same("runs", m["runs"], [r["settings"] for r in runs])
print("merged: %d requests in %.3f s" % (m["requests"], m["duration_s"]))
EOF
	need_java
	# HdrHistogram adds the three runs' histograms itself, and reads the
	# union's: both are bench's figures of the union.
	local e1 e2 e3 max
	e1=$(output=$(cat "$FB_TMP/m1.json") j 'd["histogram"]["encoded"]')
	e2=$(output=$(cat "$FB_TMP/m2.json") j 'd["histogram"]["encoded"]')
	e3=$(output=$(cat "$FB_TMP/m3.json") j 'd["histogram"]["encoded"]')
	max=$(j 'round(d["latency_ms"]["max"] * 1000)')
	hdrcheck encoded "$e1" "$e2" "$e3" -- "$max" | head -6
	same_as_java "$FB_TMP/merged.json"
	hdrcheck encoded "$(j 'd["histogram"]["encoded"]')" -- "$max" | head -6
	same_as_java "$FB_TMP/merged.json"
}

@test "--merge of a merged report and a run is the merge of the three runs" {
	local nth	# not i, which bats's run sets
	for nth in 1 2 3; do
		bench --json -n 60 -r "$CGI_ROOT" "unix:$BSOCK" '/bin.cgi?exit=0'
		[ "$status" -eq 0 ]
		echo "$output" >"$FB_TMP/a$nth.json"
	done
	bench --json --merge "$FB_TMP/a1.json" "$FB_TMP/a2.json"
	echo "$output" >"$FB_TMP/a12.json"
	bench --json --merge "$FB_TMP/a12.json" "$FB_TMP/a3.json"
	echo "$output" >"$FB_TMP/a12-3.json"
	bench --json --merge "$FB_TMP/a1.json" "$FB_TMP/a2.json" "$FB_TMP/a3.json"
	show
	[ "$status" -eq 0 ]
	# The same, but for where the seconds fall (each run's are put to the
	# nearest second of the union, which may round twice).
	python3 - "$FB_TMP/a12-3.json" "$output" <<'EOF'
import json, sys
nested, flat = json.load(open(sys.argv[1])), json.loads(sys.argv[2])
for d in nested, flat:
    d["timeline"] = sum(t["requests"] for t in d.pop("timeline"))
sys.exit(0 if nested == flat else "%s\n%s" % (nested, flat))
EOF
	[ "$(j 'd["requests"]')" -eq 180 ]
	[ "$(j 'len(d["runs"])')" -eq 3 ]
}

@test "--merge: the text report, --check and --hgrm on the union" {
	bench --json -n 50 -r "$CGI_ROOT" "unix:$BSOCK" '/bin.cgi?exit=0'
	echo "$output" >"$FB_TMP/t1.json"
	bench --merge --check 'requests==100' --check 'errors>0' 	    --hgrm "$FB_TMP/t.hgrm" "$FB_TMP/t1.json" "$FB_TMP/t1.json"
	show
	[ "$status" -eq 99 ]
	[[ $output == "100 requests in "* ]]
	[[ $output == *"check requests==100: 100, pass"* ]]
	[[ $output == *"check errors>0: 0, fail"* ]]
	grep -Eq '^#\[Max += +[0-9.]+, Total count += +100\]$' "$FB_TMP/t.hgrm"
}

@test "--merge: a file that is not a report is 65, a missing one 66, a run option 64" {
	echo '{"requests": 3}' >"$FB_TMP/not-a-report.json"
	bench --merge "$FB_TMP/not-a-report.json"
	show
	[ "$status" -eq 65 ]
	[[ $stderr == *not-a-report.json* ]]
	echo 'garbage' >"$FB_TMP/garbage.json"
	bench --merge "$FB_TMP/garbage.json"
	[ "$status" -eq 65 ]
	bench --merge "$FB_TMP/missing.json"
	[ "$status" -eq 66 ]
	bench --merge -c 4 "$FB_TMP/not-a-report.json"
	[ "$status" -eq 64 ]
	[[ $stderr == *"--merge takes only"* ]]
	bench --merge
	[ "$status" -eq 64 ]
}

@test "--hgrm and --hdr-log in a directory that does not exist: 73, before anything is sent" {
	bench -n 1 --hgrm "$FB_TMP/no/such/dir/x.hgrm" "unix:$BSOCK" /
	show
	[ "$status" -eq 73 ]
	[ -z "$output" ]
	bench -n 1 --hdr-log "$FB_TMP/no/such/dir/x.hlog" "unix:$BSOCK" /
	[ "$status" -eq 73 ]
}

# ---------------------------------------------------------- plot-bench

@test "scripts/plot-bench: a real run and a merge of two, drawn as a valid PNG and SVG" {
	command -v gnuplot >/dev/null ||
	    skip "gnuplot missing: scripts/install-deps installs gnuplot-nox"
	local nth
	for nth in 1 2; do
		bench --json -D 2 -c "$nth" -r "$CGI_ROOT" "unix:$BSOCK" \
		    '/bin.cgi?exit=0'
		[ "$status" -eq 0 ]
		echo "$output" >"$FB_TMP/p$nth.json"
	done
	bench --json --merge "$FB_TMP/p1.json" "$FB_TMP/p2.json"
	echo "$output" >"$FB_TMP/both.json"
	run timeout 60 "$BATS_TEST_DIRNAME/../scripts/plot-bench" -b "$FB" \
	    -o "$FB_TMP/plot" "$FB_TMP/p1.json" "$FB_TMP/p2.json" \
	    "$FB_TMP/both.json"
	echo "$output"
	[ "$status" -eq 0 ]
	file "$FB_TMP/plot.png" "$FB_TMP/plot.svg"
	[[ $(file -b "$FB_TMP/plot.png") == "PNG image data, 1000 x 1000,"* ]]
	[[ $(file -b "$FB_TMP/plot.svg") == "SVG Scalable Vector Graphics image"* ]]
	# Both plots are in it, with the runs named.
	grep -q 'Latency by percentile' "$FB_TMP/plot.svg"
	grep -q 'both p99' "$FB_TMP/plot.svg"
}

@test "scripts/plot-bench: a file that is not a report is refused, naming it" {
	command -v gnuplot >/dev/null ||
	    skip "gnuplot missing: scripts/install-deps installs gnuplot-nox"
	echo '{}' >"$FB_TMP/empty.json"
	run timeout 60 "$BATS_TEST_DIRNAME/../scripts/plot-bench" -b "$FB" \
	    -o "$FB_TMP/bad" "$FB_TMP/empty.json"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"empty.json: cannot be read as a bench report (exit 65)"* ]]
	[ ! -e "$FB_TMP/bad.png" ]
}

@test "bench --help: the checks, the files and --merge, on stdout, exit 0" {
	run --separate-stderr "$FB" bench --help
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	local opt
	for opt in '--check expr' '--hdr-log file' '--hgrm file' \
	    'bench --merge [--json] [--check expr] [--hgrm file] file ...' \
	    'exit 99' 'status_Nxx' 'p99.9'; do
		[[ $output == *"$opt"* ]] || { echo "missing: $opt"; false; }
	done
}
