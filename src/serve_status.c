/*
 * serve: what an operator can ask serve about itself, without a CGI.
 * --ping PATH answers "pong"; --status PATH answers with serve's counters,
 * in php-fpm's plain text by default, ?json, or ?openmetrics (OpenMetrics
 * 1.0, for Prometheus).  The counters are kept here too: every request
 * ends through req_end, which hands it to status_request_ended.
 */
#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fcgi.h"
#include "json.h"
#include "serve_internal.h"
#include "util.h"

/* Upper bounds of the request duration histogram, in seconds:
 * Prometheus's default buckets. */
static const double status_bounds[STATUS_BUCKETS - 1] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};

/* php-fpm's headers for its status page: never cached. */
#define NO_CACHE	"Expires: Thu, 01 Jan 1970 00:00:00 GMT\r\n" \
			"Cache-Control: no-cache, no-store, must-revalidate, " \
			"max-age=0\r\n"

/* A request gone without END_REQUEST: its connection went. */
void
status_request_dropped(struct server *srv)
{
	srv->stats.requests++;
	srv->stats.aborted++;
}

void
status_request_ended(struct server *srv, const struct req *r,
    uint32_t app_status, uint8_t protocol_status)
{
	struct serve_stats	*st = &srv->stats;
	double			 s;
	size_t			 i;

	st->requests++;
	if (protocol_status == FCGI_OVERLOADED)
		st->overloaded++;
	else if (r->aborted)
		st->aborted++;
	else {
		if (r->http_status >= 100 && r->http_status <= 599)
			st->by_class[r->http_status / 100]++;
		if (r->own_answer && r->http_status == 403)
			st->refused_403++;
		else if (r->own_answer && r->http_status == 404)
			st->refused_404++;
		else if (!r->own_answer && app_status == 0)
			st->cgi_exit_zero++;
		else if (!r->own_answer)
			st->cgi_exit_other++;
		if (r->timed_out)
			st->timeouts++;
	}
	s = (double)(now_ms() - r->begun_ms) / 1000;
	for (i = 0; i < STATUS_BUCKETS - 1 && s > status_bounds[i]; i++)
		;
	st->duration_buckets[i]++;
	st->duration_sum += s;
}

/* A growing text, for an answer of a few KiB. */
struct text {
	char	*buf;
	size_t	 len;
	size_t	 cap;
	int	 failed;
};

static void __attribute__((format(printf, 2, 3)))
text_add(struct text *t, const char *fmt, ...)
{
	va_list	 ap;
	char	*grown;
	int	 n;

	for (;;) {
		if (t->failed)
			return;
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = 1;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		if ((grown = realloc(t->buf, t->cap + (size_t)n + 1024)) ==
		    NULL) {
			t->failed = 1;
			return;
		}
		t->buf = grown;
		t->cap += (size_t)n + 1024;
	}
}

/* The figures of the moment, as every format shows them. */
struct status_now {
	const struct serve_stats *st;
	const char	*address;
	long long	 since;		/* seconds since the start */
	size_t		 active, waiting, limit;
};

static void
status_now(const struct server *srv, struct status_now *n)
{
	n->st = &srv->stats;
	n->address = srv->cfg->address != NULL ? srv->cfg->address :
	    "an inherited socket";
	n->since = (long long)(time(NULL) - srv->stats.start_time);
	n->active = srv->nbusy;
	n->waiting = srv->nqueued;
	n->limit = sched_limit(&srv->sched);
}

/* The counters that are one figure each: name as php-fpm would say it,
 * OpenMetrics name (counters without their _total), whether a counter. */
struct status_field {
	const char	*text;
	const char	*metric;
	int		 counter;
	const char	*help;
};

static const struct status_field status_fields[] = {
	{ "accepted conn", "accepted_connections", 1,
	    "Connections accepted." },
	{ "listen queue", "listen_queue", 0,
	    "Requests waiting for a CGI slot." },
	{ "max listen queue", "max_listen_queue", 0,
	    "The most requests waiting for a CGI slot at once." },
	{ "listen queue len", "listen_queue_len", 0,
	    "How many requests may wait for a CGI slot (-q)." },
	{ "active processes", "active_processes", 0,
	    "CGI programs running." },
	{ "max active processes", "max_active_processes", 0,
	    "The most CGI programs running at once." },
	{ "max children reached", "max_children_reached", 1,
	    "Requests that had to wait for a CGI slot." },
	{ "process limit", "process_limit", 0,
	    "CGI programs that may run at once now (-c, or less: adaptive)." },
	{ "bytes in", "received_bytes", 1,
	    "FastCGI bytes received from the web server." },
	{ "bytes out", "sent_bytes", 1,
	    "FastCGI bytes sent to the web server." },
	{ "protocol errors", "protocol_errors", 1,
	    "Connections closed for a malformed or unexpected record." }
};
#define NFIELDS	(sizeof(status_fields) / sizeof(status_fields[0]))

static unsigned long long
status_field_value(const struct status_now *n, size_t i)
{
	const struct serve_stats *st = n->st;

	switch (i) {
	case 0:
		return st->accepted_conns;
	case 1:
		return n->waiting;
	case 2:
		return st->max_waiting;
	case 3:
		return st->queue_len;
	case 4:
		return n->active;
	case 5:
		return st->max_active;
	case 6:
		return st->max_children_reached;
	case 7:
		return n->limit;
	case 8:
		return st->bytes_in;
	case 9:
		return st->bytes_out;
	default:
		return st->protocol_errors;
	}
}

/* Requests by outcome: label value, text name. */
static const char *const status_outcomes[][2] = {
	{ "cgi_exit_zero", "requests cgi exit 0" },
	{ "cgi_exit_other", "requests cgi exit other" },
	{ "refused_403", "requests refused 403" },
	{ "refused_404", "requests refused 404" },
	{ "timeout", "requests timed out" },
	{ "aborted", "requests aborted" },
	{ "overloaded", "requests overloaded" }
};
#define NOUTCOMES	(sizeof(status_outcomes) / sizeof(status_outcomes[0]))

static unsigned long long
status_outcome_value(const struct serve_stats *st, size_t i)
{
	const unsigned long long v[NOUTCOMES] = { st->cgi_exit_zero,
	    st->cgi_exit_other, st->refused_403, st->refused_404,
	    st->timeouts, st->aborted, st->overloaded };

	return v[i];
}

/* "name:", padded to php-fpm's column, then the value. */
static void
text_field(struct text *t, const char *name, const char *value)
{
	int	 pad = 25 - (int)strlen(name);

	text_add(t, "%s:%*s%s\n", name, pad > 1 ? pad : 1, "", value);
}

static void
text_count(struct text *t, const char *name, unsigned long long v)
{
	char	 num[32];

	snprintf(num, sizeof(num), "%llu", v);
	text_field(t, name, num);
}

static void
status_text(struct text *t, const struct status_now *n)
{
	char		 buf[64];
	struct tm	 tm;
	size_t		 i;
	time_t		 start = n->st->start_time;

	text_field(t, "address", n->address);
	strftime(buf, sizeof(buf), "%d/%b/%Y:%H:%M:%S %z",
	    localtime_r(&start, &tm));
	text_field(t, "start time", buf);
	text_count(t, "start since", (unsigned long long)n->since);
	for (i = 0; i < NFIELDS; i++)
		text_count(t, status_fields[i].text, status_field_value(n, i));
	text_count(t, "requests", n->st->requests);
	for (i = 0; i < NOUTCOMES; i++)
		text_count(t, status_outcomes[i][1],
		    status_outcome_value(n->st, i));
	for (i = 1; i <= 5; i++) {
		snprintf(buf, sizeof(buf), "requests %zuxx", i);
		text_count(t, buf, n->st->by_class[i]);
	}
	snprintf(buf, sizeof(buf), "%.6f", n->st->duration_sum);
	text_field(t, "request duration sum", buf);
}

/* A JSON string's text, for the address (a path may hold anything). */
static void
json_string(struct text *t, const char *s)
{
	char	 esc[7];

	text_add(t, "\"");
	for (; *s != '\0'; s++)
		text_add(t, "%.*s", (int)json_escape_byte((unsigned char)*s,
		    esc), esc);
	text_add(t, "\"");
}

static void
status_json(struct text *t, const struct status_now *n)
{
	unsigned long long	 count = 0;
	size_t			 i;

	text_add(t, "{\"address\":");
	json_string(t, n->address);
	text_add(t, ",\"start time\":%lld,\"start since\":%lld",
	    (long long)n->st->start_time, n->since);
	for (i = 0; i < NFIELDS; i++)
		text_add(t, ",\"%s\":%llu", status_fields[i].text,
		    status_field_value(n, i));
	text_add(t, ",\"requests\":%llu,\"requests by outcome\":{",
	    n->st->requests);
	for (i = 0; i < NOUTCOMES; i++)
		text_add(t, "%s\"%s\":%llu", i ? "," : "", status_outcomes[i][0],
		    status_outcome_value(n->st, i));
	text_add(t, "},\"requests by status\":{");
	for (i = 1; i <= 5; i++)
		text_add(t, "%s\"%zuxx\":%llu", i > 1 ? "," : "", i,
		    n->st->by_class[i]);
	text_add(t, "},\"request duration seconds\":{\"buckets\":[");
	for (i = 0; i < STATUS_BUCKETS; i++) {
		count += n->st->duration_buckets[i];
		if (i < STATUS_BUCKETS - 1)
			text_add(t, "%s{\"le\":%g,\"count\":%llu}", i ? "," : "",
			    status_bounds[i], n->st->duration_buckets[i]);
		else
			text_add(t, ",{\"le\":null,\"count\":%llu}",
			    n->st->duration_buckets[i]);
	}
	text_add(t, "],\"sum\":%.6f,\"count\":%llu}}\n", n->st->duration_sum,
	    count);
}

static void
om_family(struct text *t, const char *name, const char *type,
    const char *help)
{
	text_add(t, "# TYPE fcgi_bridge_%s %s\n# HELP fcgi_bridge_%s %s\n",
	    name, type, name, help);
}

/*
 * OpenMetrics 1.0: a counter's samples end in _total, a histogram's
 * buckets are cumulative and end with +Inf, then _sum and _count, and the
 * text ends with # EOF.
 */
static void
status_openmetrics(struct text *t, const struct status_now *n)
{
	unsigned long long	 cum = 0;
	size_t			 i;

	om_family(t, "start_time_seconds", "gauge",
	    "When serve started, in seconds since the epoch.");
	text_add(t, "fcgi_bridge_start_time_seconds %lld\n",
	    (long long)n->st->start_time);
	for (i = 0; i < NFIELDS; i++) {
		om_family(t, status_fields[i].metric,
		    status_fields[i].counter ? "counter" : "gauge",
		    status_fields[i].help);
		text_add(t, "fcgi_bridge_%s%s %llu\n", status_fields[i].metric,
		    status_fields[i].counter ? "_total" : "",
		    status_field_value(n, i));
	}
	om_family(t, "requests", "counter", "Requests ended, by outcome.");
	for (i = 0; i < NOUTCOMES; i++)
		text_add(t, "fcgi_bridge_requests_total{outcome=\"%s\"} %llu\n",
		    status_outcomes[i][0], status_outcome_value(n->st, i));
	om_family(t, "responses", "counter",
	    "Responses, by the class of their HTTP status.");
	for (i = 1; i <= 5; i++)
		text_add(t, "fcgi_bridge_responses_total{class=\"%zuxx\"} "
		    "%llu\n", i, n->st->by_class[i]);
	om_family(t, "request_duration_seconds", "histogram",
	    "From BEGIN_REQUEST to END_REQUEST.");
	for (i = 0; i < STATUS_BUCKETS; i++) {
		cum += n->st->duration_buckets[i];
		if (i < STATUS_BUCKETS - 1)
			text_add(t, "fcgi_bridge_request_duration_seconds_bucket"
			    "{le=\"%g\"} %llu\n", status_bounds[i], cum);
		else
			text_add(t, "fcgi_bridge_request_duration_seconds_bucket"
			    "{le=\"+Inf\"} %llu\n", cum);
	}
	text_add(t, "fcgi_bridge_request_duration_seconds_sum %.6f\n"
	    "fcgi_bridge_request_duration_seconds_count %llu\n# EOF\n",
	    n->st->duration_sum, cum);
}

/* Whether the query string holds the key (alone, or with a value). */
static int
query_has(const char *query, const char *key)
{
	size_t	 len = strlen(key), n;

	while (query != NULL && *query != '\0') {
		n = strcspn(query, "&=");
		if (n == len && strncmp(query, key, len) == 0)
			return 1;
		query = strchr(query, '&');
		if (query != NULL)
			query++;
	}
	return 0;
}

/* Sends head and body as r's answer, and ends r. */
static void
status_send(struct req *r, const char *head, const char *body, size_t len)
{
	r->http_status = 200;
	r->own_answer = 1;
	if (conn_queue_stream(r->conn, FCGI_STDOUT, r->id,
	    (const uint8_t *)head, strlen(head)) == 0 &&
	    conn_queue_stream(r->conn, FCGI_STDOUT, r->id,
	    (const uint8_t *)body, len) == 0)
		r->stdout_sent = 1;
	req_end(r, 0, FCGI_REQUEST_COMPLETE);
}

/*
 * Answers r itself when its SCRIPT_NAME is the path of --ping or
 * --status.  Returns 1 when it did (r is gone), 0 when r is for a CGI.
 */
int
status_answer(struct req *r, const char *script_name, const char *query)
{
	const struct serve_config *cfg = r->conn->srv->cfg;
	struct status_now	 n;
	struct text		 t = { NULL, 0, 0, 0 };
	const char		*head;

	if (script_name == NULL)
		return 0;
	if (cfg->ping_path != NULL && strcmp(script_name, cfg->ping_path) == 0) {
		status_send(r, "Content-Type: text/plain\r\n" NO_CACHE "\r\n",
		    "pong\n", 5);
		return 1;
	}
	if (cfg->status_path == NULL || strcmp(script_name, cfg->status_path))
		return 0;
	status_now(r->conn->srv, &n);
	if (query_has(query, "openmetrics")) {
		head = "Content-Type: application/openmetrics-text; "
		    "version=1.0.0; charset=utf-8\r\n" NO_CACHE "\r\n";
		status_openmetrics(&t, &n);
	} else if (query_has(query, "json")) {
		head = "Content-Type: application/json\r\n" NO_CACHE "\r\n";
		status_json(&t, &n);
	} else {
		head = "Content-Type: text/plain\r\n" NO_CACHE "\r\n";
		status_text(&t, &n);
	}
	if (t.failed)
		req_fail_http(r, 503, "out of memory for the status page");
	else
		status_send(r, head, t.buf, t.len);
	free(t.buf);
	return 1;
}
