/*
 * bench's report: the text and JSON reports, the checks of --check, the
 * percentile spectrum of --hgrm, and --merge, which reads JSON reports
 * back and adds them up.  Counts add up exactly; latencies add up as
 * histograms, bucket by bucket; nothing is averaged.
 */
#include <err.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <bsd/stdlib.h>

#include "bench_report.h"
#include "hdr.h"
#include "json.h"

const char *const error_names[ERR_KINDS] = {
	"connect", "reset", "timeout", "protocol", "overloaded", "app_status"
};

/* What a figure counts in, which decides the units a check may give. */
enum figure_unit {
	U_COUNT,	/* none */
	U_RATE,		/* none: requests per second */
	U_FRACTION,	/* none, or % */
	U_LATENCY,	/* us; ms (the default), s or us in a check */
	U_SECONDS	/* s (the default), ms or us in a check */
};

static const struct {
	const char		*name;
	enum figure		 figure;
	int			 arg;
	enum figure_unit	 unit;
} figures[] = {
	{ "requests", FIG_REQUESTS, 0, U_COUNT },
	{ "errors", FIG_ERRORS, 0, U_COUNT },
	{ "error_rate", FIG_ERROR_RATE, 0, U_FRACTION },
	{ "errors_connect", FIG_ERRORS_OF_KIND, ERR_CONNECT, U_COUNT },
	{ "errors_reset", FIG_ERRORS_OF_KIND, ERR_RESET, U_COUNT },
	{ "errors_timeout", FIG_ERRORS_OF_KIND, ERR_TIMEOUT, U_COUNT },
	{ "errors_protocol", FIG_ERRORS_OF_KIND, ERR_PROTOCOL, U_COUNT },
	{ "errors_overloaded", FIG_ERRORS_OF_KIND, ERR_OVERLOADED, U_COUNT },
	{ "errors_app_status", FIG_ERRORS_OF_KIND, ERR_APP_STATUS, U_COUNT },
	{ "rps", FIG_RPS, 0, U_RATE },
	{ "duration", FIG_DURATION, 0, U_SECONDS },
	{ "bytes_in", FIG_BYTES_IN, 0, U_COUNT },
	{ "bytes_out", FIG_BYTES_OUT, 0, U_COUNT },
	{ "stalled_connections", FIG_STALLED, 0, U_COUNT },
	{ "min", FIG_MIN, 0, U_LATENCY },
	{ "mean", FIG_MEAN, 0, U_LATENCY },
	{ "max", FIG_MAX, 0, U_LATENCY }
};

static const struct {
	const char	*op;
	enum check_op	 value;
} ops[] = {
	/* The two-character ones first, so that "<=" is not "<". */
	{ "<=", OP_LE }, { ">=", OP_GE }, { "==", OP_EQ }, { "!=", OP_NE },
	{ "<", OP_LT }, { ">", OP_GT }
};

/* Each unit a check may give a figure in: the figure's units in one. */
static const struct {
	enum figure_unit	 of;
	const char		*unit;
	double			 per_unit;
	int			 decimals;
} units[] = {
	{ U_COUNT, "", 1, 0 },
	{ U_RATE, "", 1, 3 },
	{ U_FRACTION, "", 1, 6 },
	{ U_FRACTION, "%", 0.01, 4 },
	{ U_LATENCY, "ms", 1e3, 3 },	/* first: the default */
	{ U_LATENCY, "s", 1e6, 6 },
	{ U_LATENCY, "us", 1, 0 },
	{ U_SECONDS, "s", 1, 6 },	/* first: the default */
	{ U_SECONDS, "ms", 1e-3, 3 },
	{ U_SECONDS, "us", 1e-6, 0 }
};

/* The figure of name (len bytes) into c; its unit kind, or -1. */
static int
figure_named(const char *name, size_t len, struct check *c)
{
	char		 buf[32], *end;
	size_t		 i;
	long long	 n;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, name, len);
	buf[len] = '\0';
	for (i = 0; i < sizeof(figures) / sizeof(figures[0]); i++)
		if (strcmp(buf, figures[i].name) == 0) {
			c->figure = figures[i].figure;
			c->arg = figures[i].arg;
			return figures[i].unit;
		}
	if (len == 10 && strncmp(buf, "status_", 7) == 0 && buf[7] >= '1' &&
	    buf[7] <= '9' && strcmp(buf + 8, "xx") == 0) {
		c->figure = FIG_STATUS_CLASS;
		c->arg = buf[7] - '0';
		return U_COUNT;
	}
	if (len == 10 && strncmp(buf, "status_", 7) == 0) {
		n = strtonum(buf + 7, 100, 999, NULL);
		if (n == 0)
			return -1;
		c->figure = FIG_STATUS;
		c->arg = (int)n;
		return U_COUNT;
	}
	if (buf[0] == 'p' && ((buf[1] >= '0' && buf[1] <= '9') ||
	    buf[1] == '.')) {
		errno = 0;
		c->percentile = strtod(buf + 1, &end);
		if (errno != 0 || *end != '\0' || !(c->percentile > 0) ||
		    c->percentile > 100)
			return -1;
		c->figure = FIG_PERCENTILE;
		return U_LATENCY;
	}
	return -1;
}

int
check_parse(const char *expr, struct check *c)
{
	const char	*p = expr, *name, *unit;
	char		*end;
	size_t		 i, n, name_len;
	int		 kind;

	memset(c, 0, sizeof(*c));
	c->expr = expr;
	while (*p == ' ')
		p++;
	for (name = p; (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
	    *p == '_' || *p == '.'; p++)
		;
	name_len = (size_t)(p - name);
	if ((kind = figure_named(name, name_len, c)) == -1) {
		warnx("--check '%s': no figure named '%.*s' (see "
		    "fcgi-bridge(1), The bench report)", expr, (int)name_len,
		    name);
		return -1;
	}
	while (*p == ' ')
		p++;
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strncmp(p, ops[i].op, strlen(ops[i].op)) == 0)
			break;
	if (i == sizeof(ops) / sizeof(ops[0])) {
		warnx("--check '%s': no operator (< <= > >= == !=) after "
		    "the figure", expr);
		return -1;
	}
	c->op = ops[i].value;
	p += strlen(ops[i].op);
	while (*p == ' ')
		p++;
	errno = 0;
	c->threshold = strtod(p, &end);
	if (end == p || errno != 0 || !isfinite(c->threshold) ||
	    !((*p >= '0' && *p <= '9') || *p == '.' || *p == '-')) {
		warnx("--check '%s': no number to compare with", expr);
		return -1;
	}
	for (unit = p = end; (*p >= 'a' && *p <= 'z') || *p == '%'; p++)
		;
	n = (size_t)(p - unit);
	while (*p == ' ')
		p++;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (units[i].of == (enum figure_unit)kind && (n == 0 ||
		    (strlen(units[i].unit) == n &&
		    strncmp(unit, units[i].unit, n) == 0)))
			break;
	if (*p != '\0' || i == sizeof(units) / sizeof(units[0])) {
		warnx("--check '%s': '%s' is not a unit of '%.*s'", expr, unit,
		    (int)name_len, name);
		return -1;
	}
	c->unit = units[i].unit;
	c->per_unit = units[i].per_unit;
	c->decimals = units[i].decimals;
	c->threshold *= c->per_unit;
	return 0;
}

uint64_t
results_requests(const struct results *r)
{
	uint64_t	 n = 0;
	size_t		 i;

	for (i = 0; i < 1000; i++)
		n += r->status[i];
	return n;
}

uint64_t
results_errors(const struct results *r)
{
	uint64_t	 n = 0;
	size_t		 i;

	for (i = 0; i < ERR_KINDS; i++)
		n += r->errors[i];
	return n;
}

static double
results_rps(const struct results *r)
{
	return r->duration_s > 0 ?
	    (double)results_requests(r) / r->duration_s : 0;
}

/* The figure that c checks, in the figure's own unit. */
static double
figure_value(const struct results *r, const struct check *c)
{
	const struct hdr	*h = &r->latency;
	uint64_t		 n = 0;
	int			 i;

	switch (c->figure) {
	case FIG_REQUESTS:
		return (double)results_requests(r);
	case FIG_ERRORS:
		return (double)results_errors(r);
	case FIG_ERROR_RATE:
		n = results_requests(r) + results_errors(r);
		return n > 0 ? (double)results_errors(r) / (double)n : 0;
	case FIG_ERRORS_OF_KIND:
		return (double)r->errors[c->arg];
	case FIG_STATUS:
		return (double)r->status[c->arg];
	case FIG_STATUS_CLASS:
		for (i = 0; i < 100; i++)
			n += r->status[c->arg * 100 + i];
		return (double)n;
	case FIG_RPS:
		return results_rps(r);
	case FIG_DURATION:
		return r->duration_s;
	case FIG_BYTES_IN:
		return (double)r->bytes_in;
	case FIG_BYTES_OUT:
		return (double)r->bytes_out;
	case FIG_STALLED:
		return (double)r->stalled;
	case FIG_MIN:
		return (double)h->min;
	case FIG_MEAN:
		return h->total > 0 ? (double)h->sum / (double)h->total : 0;
	case FIG_MAX:
		return (double)h->max;
	case FIG_PERCENTILE:
		return (double)hdr_percentile(h, c->percentile);
	}
	return 0;
}

static int
check_passes(const struct check *c, double v)
{
	switch (c->op) {
	case OP_LT:
		return v < c->threshold;
	case OP_LE:
		return v <= c->threshold;
	case OP_GT:
		return v > c->threshold;
	case OP_GE:
		return v >= c->threshold;
	case OP_EQ:
		return v == c->threshold;
	case OP_NE:
		return v != c->threshold;
	}
	return 0;
}

/* The figure of c in the check's unit, as text: "12.345 ms", "0.0100%". */
static void
check_value_text(const struct results *r, const struct check *c, char *buf,
    size_t len)
{
	double	 v = figure_value(r, c) / c->per_unit;

	snprintf(buf, len, "%.*f%s%s", c->decimals, v,
	    *c->unit != '\0' && *c->unit != '%' ? " " : "", c->unit);
}

void
json_print_string(FILE *f, const char *s)
{
	char	 esc[7];

	fputc('"', f);
	for (; *s != '\0'; s++)
		fwrite(esc, 1, json_escape_byte((unsigned char)*s, esc), f);
	fputc('"', f);
}

/* h encoded, with r's encoder: a string to free, or NULL (said). */
static char *
results_encode(struct results *r, const struct hdr *h)
{
	char	*s = NULL;

	if ((r->encoder != NULL ||
	    (r->encoder = hdr_encoder_new()) != NULL))
		s = hdr_encode(r->encoder, h);
	if (s == NULL)
		warnx("encoding a histogram: out of memory");
	return s;
}

int
results_add_second(struct results *r, double start_s, double duration_s,
    uint64_t requests, uint64_t errors, const struct hdr *h)
{
	struct second	*s;
	size_t		 cap;

	if (r->nseconds == r->seconds_cap) {
		cap = r->seconds_cap ? r->seconds_cap * 2 : 64;
		if ((s = reallocarray(r->seconds, cap, sizeof(*s))) == NULL) {
			warn("the timeline");
			return -1;
		}
		r->seconds = s;
		r->seconds_cap = cap;
	}
	s = &r->seconds[r->nseconds];
	s->start_s = start_s;
	s->duration_s = duration_s;
	s->requests = requests;
	s->errors = errors;
	s->max_us = h->max;
	s->p50_us = hdr_percentile(h, 50);
	s->p99_us = hdr_percentile(h, 99);
	if ((s->histogram = results_encode(r, h)) == NULL)
		return -1;
	r->nseconds++;
	return 0;
}

void
results_free(struct results *r)
{
	size_t	 i;

	for (i = 0; i < r->nseconds; i++)
		free(r->seconds[i].histogram);
	free(r->seconds);
	r->seconds = NULL;
	r->nseconds = r->seconds_cap = 0;
	hdr_encoder_free(r->encoder);
	r->encoder = NULL;
}

/* Latency figures in milliseconds, from microseconds. */
static double
ms(uint64_t us)
{
	return (double)us / 1000;
}

void
report_text(const struct results *r, const struct check *checks,
    size_t nchecks)
{
	const struct hdr	*h = &r->latency;
	char			 value[64];
	size_t			 i;

	printf("%llu requests in %.2f s, %.1f req/s, %llu errors\n",
	    (unsigned long long)results_requests(r), r->duration_s,
	    results_rps(r), (unsigned long long)results_errors(r));
	printf("errors:");
	for (i = 0; i < ERR_KINDS; i++)
		printf(" %s %llu", error_names[i],
		    (unsigned long long)r->errors[i]);
	printf("\nstatus:");
	for (i = 0; i < 1000; i++)
		if (r->status[i] > 0)
			printf(" %zu: %llu", i, (unsigned long long)r->status[i]);
	printf("\nbytes: %llu in, %llu out\n", (unsigned long long)r->bytes_in,
	    (unsigned long long)r->bytes_out);
	printf("latency ms: min %.3f mean %.3f p50 %.3f p90 %.3f p99 %.3f "
	    "p99.9 %.3f max %.3f\n", ms(h->min), h->total > 0 ?
	    (double)h->sum / (double)h->total / 1000 : 0.0,
	    ms(hdr_percentile(h, 50)), ms(hdr_percentile(h, 90)),
	    ms(hdr_percentile(h, 99)), ms(hdr_percentile(h, 99.9)),
	    ms(h->max));
	for (i = 0; i < nchecks; i++) {
		check_value_text(r, &checks[i], value, sizeof(value));
		printf("check %s: %s, %s\n", checks[i].expr, value,
		    check_passes(&checks[i], figure_value(r, &checks[i])) ?
		    "pass" : "fail");
	}
}

static void
report_json_timeline(const struct results *r)
{
	const struct second	*s;
	size_t			 i;

	printf("\"timeline\":[");
	for (i = 0; i < r->nseconds; i++) {
		s = &r->seconds[i];
		printf("%s{\"start_s\":%.3f,\"duration_s\":%.3f,"
		    "\"requests\":%llu,\"errors\":%llu,\"p50_ms\":%.3f,"
		    "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"histogram\":\"%s\"}",
		    i ? "," : "", s->start_s, s->duration_s,
		    (unsigned long long)s->requests,
		    (unsigned long long)s->errors, ms(s->p50_us),
		    ms(s->p99_us), ms(s->max_us), s->histogram);
	}
	printf("]");
}

int
report_json(struct results *r, const struct check *checks,
    size_t nchecks, void (*settings)(void *), void *arg)
{
	const struct hdr	*h = &r->latency;
	const char		*sep = "";
	char			*encoded;
	size_t			 i;

	if ((encoded = results_encode(r, h)) == NULL)
		return EX_OSERR;
	printf("{\"requests\":%llu,\"errors\":%llu,\"errors_by_kind\":{",
	    (unsigned long long)results_requests(r),
	    (unsigned long long)results_errors(r));
	for (i = 0; i < ERR_KINDS; i++)
		printf("%s\"%s\":%llu", i ? "," : "", error_names[i],
		    (unsigned long long)r->errors[i]);
	printf("},\"status\":{");
	for (i = 0; i < 1000; i++)
		if (r->status[i] > 0) {
			printf("%s\"%zu\":%llu", sep, i,
			    (unsigned long long)r->status[i]);
			sep = ",";
		}
	printf("},\"start_time\":%.6f,\"duration_s\":%.6f,\"rps\":%.3f,"
	    "\"bytes_in\":%llu,\"bytes_out\":%llu,", r->start_time,
	    r->duration_s, results_rps(r), (unsigned long long)r->bytes_in,
	    (unsigned long long)r->bytes_out);
	printf("\"latency_ms\":{\"min\":%.3f,\"mean\":%.3f,"
	    "\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p99_9\":%.3f,"
	    "\"max\":%.3f},", ms(h->min), h->total > 0 ?
	    (double)h->sum / (double)h->total / 1000 : 0.0,
	    ms(hdr_percentile(h, 50)), ms(hdr_percentile(h, 90)),
	    ms(hdr_percentile(h, 99)), ms(hdr_percentile(h, 99.9)),
	    ms(h->max));
	printf("\"stalled_connections\":%llu,\"checks\":[",
	    (unsigned long long)r->stalled);
	for (i = 0; i < nchecks; i++) {
		printf("%s{\"expression\":", i ? "," : "");
		json_print_string(stdout, checks[i].expr);
		printf(",\"value\":%.*f,\"pass\":%s}", checks[i].decimals,
		    figure_value(r, &checks[i]) / checks[i].per_unit,
		    check_passes(&checks[i], figure_value(r, &checks[i])) ?
		    "true" : "false");
	}
	printf("],");
	report_json_timeline(r);
	printf(",\"histogram\":{\"unit\":\"us\",\"sum\":%llu,"
	    "\"encoded\":\"%s\"}", (unsigned long long)h->sum, encoded);
	free(encoded);
	settings(arg);
	printf("}\n");
	return 0;
}

int
report_status(const struct results *r, const struct check *checks,
    size_t nchecks)
{
	char	 value[64];
	size_t	 i;
	int	 failed = 0;

	for (i = 0; i < nchecks; i++)
		if (!check_passes(&checks[i], figure_value(r, &checks[i]))) {
			check_value_text(r, &checks[i], value, sizeof(value));
			warnx("check failed: %s: %s", checks[i].expr, value);
			failed++;
		}
	if (results_requests(r) == 0)
		return results_errors(r) > 0 &&
		    results_errors(r) == r->errors[ERR_CONNECT] ?
		    EX_UNAVAILABLE : 1;
	if (nchecks > 0)
		return failed ? EX_CHECKS_FAILED : 0;
	return results_errors(r) > 0 ? 1 : 0;
}

int
report_hgrm(const struct results *r, FILE *f, const char *path)
{
	if (hdr_print_spectrum(&r->latency, f, 1000) == -1 ||
	    fflush(f) == EOF) {
		warn("%s", path);
		return EX_IOERR;
	}
	return 0;
}

/* The whole of path, NUL-terminated, into *text; 0, or an exit status. */
static int
read_whole(const char *path, char **text, size_t *len)
{
	FILE	*f;
	char	*buf = NULL, *grown;
	size_t	 cap = 0, n;

	*len = 0;
	if ((f = fopen(path, "re")) == NULL) {
		warn("%s", path);
		return EX_NOINPUT;
	}
	do {
		if (cap - *len < 65536) {
			cap = cap ? cap * 2 : 65536;
			if ((grown = realloc(buf, cap + 1)) == NULL) {
				warn("%s", path);
				free(buf);
				fclose(f);
				return EX_OSERR;
			}
			buf = grown;
		}
		n = fread(buf + *len, 1, cap - *len, f);
		*len += n;
	} while (n > 0);
	if (ferror(f)) {
		warn("%s", path);
		free(buf);
		fclose(f);
		return EX_IOERR;
	}
	fclose(f);
	buf[*len] = '\0';
	*text = buf;
	return 0;
}

/* The member key of v as a whole number, or a number; 0, or -1. */
static int
member_uint(struct json v, const char *key, uint64_t *n)
{
	struct json	 m;

	return json_member(v, key, &m) && json_uint(m, n) == 0 ? 0 : -1;
}

static int
member_number(struct json v, const char *key, double *d)
{
	struct json	 m;

	return json_member(v, key, &m) && json_number(m, d) == 0 ? 0 : -1;
}

/* A latency of the report, in ms to the microsecond, in us. */
static int
member_us(struct json v, const char *key, uint64_t *us)
{
	double	 d;

	if (member_number(v, key, &d) == -1 || d < 0 || d > HDR_HIGHEST)
		return -1;
	*us = (uint64_t)llround(d * 1000);
	return 0;
}

/* The histogram encoded in the member key of v into h; 0, or -1. */
static int
member_histogram(struct json v, const char *key, struct hdr *h)
{
	struct json	 m, s;

	if (!json_member(v, key, &m) || json_plain_string(m, &s) == -1)
		return -1;
	return hdr_decode(s.p, s.len, h);
}

/*
 * Adds an entry e of a run's timeline, that run having started offset
 * seconds after the union, to the union's timeline, kept in the order of
 * the seconds.  tmp and sum are room for two histograms.  0, or -1 when
 * the entry is malformed (or memory ran out).
 */
static int
merge_second(struct results *r, struct json e, double offset,
    struct hdr *tmp, struct hdr *sum)
{
	struct second	*s, moved;
	uint64_t	 requests, errors, max;
	double		 start, duration;
	size_t		 i;

	if (member_number(e, "start_s", &start) == -1 || start < 0 ||
	    member_number(e, "duration_s", &duration) == -1 ||
	    member_uint(e, "requests", &requests) == -1 ||
	    member_uint(e, "errors", &errors) == -1 ||
	    member_us(e, "max_ms", &max) == -1 ||
	    member_histogram(e, "histogram", tmp) == -1 ||
	    tmp->total != requests)
		return -1;
	tmp->max = max;
	/* Seconds that began within half a second of each other are one. */
	start = (double)llround(offset + start);
	for (i = 0; i < r->nseconds && r->seconds[i].start_s < start; i++)
		;
	if (i == r->nseconds || r->seconds[i].start_s != start) {
		/* A second of its own: appended, then moved to its place. */
		if (results_add_second(r, start, duration, requests, errors,
		    tmp) == -1)
			return -1;
		moved = r->seconds[r->nseconds - 1];
		memmove(&r->seconds[i + 1], &r->seconds[i],
		    (r->nseconds - 1 - i) * sizeof(moved));
		r->seconds[i] = moved;
		return 0;
	}
	s = &r->seconds[i];
	if (hdr_decode(s->histogram, strlen(s->histogram), sum) == -1)
		return -1;
	sum->max = s->max_us;
	hdr_add(sum, tmp);
	free(s->histogram);
	if ((s->histogram = results_encode(r, sum)) == NULL)
		return -1;
	s->requests += requests;
	s->errors += errors;
	s->max_us = sum->max;
	if (duration > s->duration_s)
		s->duration_s = duration;
	s->p50_us = hdr_percentile(sum, 50);
	s->p99_us = hdr_percentile(sum, 99);
	return 0;
}

/* Lists a run's settings object m; 0, or EX_OSERR (said). */
static int
add_run(struct merged_runs *runs, struct json m)
{
	const char	**settings;
	size_t		 *lens;

	settings = reallocarray(runs->settings, runs->nruns + 1,
	    sizeof(*settings));
	if (settings != NULL)
		runs->settings = settings;
	lens = reallocarray(runs->settings_len, runs->nruns + 1,
	    sizeof(*lens));
	if (lens != NULL)
		runs->settings_len = lens;
	if (settings == NULL || lens == NULL) {
		warn("--merge");
		return EX_OSERR;
	}
	settings[runs->nruns] = m.p;
	lens[runs->nruns++] = m.len;
	return 0;
}

/* The counts of report d into r; 0, or -1 when one is malformed. */
static int
merge_counts(struct results *r, struct json d)
{
	struct json_iter	 it;
	struct json		 m, k, v;
	uint64_t		 n, requests;
	char			 code[4];
	size_t			 i;
	int			 status;

	if (member_uint(d, "requests", &requests) == -1 ||
	    !json_member(d, "errors_by_kind", &m))
		return -1;
	for (i = 0; i < ERR_KINDS; i++) {
		if (member_uint(m, error_names[i], &n) == -1)
			return -1;
		r->errors[i] += n;
	}
	if (member_uint(d, "bytes_in", &n) == -1)
		return -1;
	r->bytes_in += n;
	if (member_uint(d, "bytes_out", &n) == -1)
		return -1;
	r->bytes_out += n;
	if (member_uint(d, "stalled_connections", &n) == -1)
		return -1;
	r->stalled += n;
	if (!json_member(d, "status", &m) ||
	    json_iter_start(m, '{', &it) == -1)
		return -1;
	while (json_iter_next(&it, &k, &v)) {
		if (k.len != 3 || json_uint(v, &n) == -1)
			return -1;
		memcpy(code, k.p, 3);
		code[3] = '\0';
		if ((status = (int)strtonum(code, 100, 999, NULL)) == 0)
			return -1;
		r->status[status] += n;
		requests -= n;
	}
	return requests == 0 ? 0 : -1;
}

/*
 * Adds the report d (of path) to r, and its runs to runs; tmp and sum are
 * room for two histograms.  0, or an exit status (said).
 */
static int
merge_report(struct results *r, struct json d, const char *path,
    struct merged_runs *runs, struct hdr *tmp, struct hdr *sum)
{
	struct json_iter	 it;
	struct json		 m, v;
	uint64_t		 requests;
	double			 start;
	int			 rc;

	if (merge_counts(r, d) == -1 ||
	    member_number(d, "start_time", &start) == -1)
		goto bad;
	/* The histogram, with the exact figures that the report has too. */
	if (!json_member(d, "histogram", &m) ||
	    member_histogram(m, "encoded", tmp) == -1 ||
	    member_uint(m, "sum", &tmp->sum) == -1 ||
	    !json_member(d, "latency_ms", &v) ||
	    member_us(v, "min", &tmp->min) == -1 ||
	    member_us(v, "max", &tmp->max) == -1 ||
	    member_uint(d, "requests", &requests) == -1)
		goto bad;
	if (tmp->total != requests) {
		warnx("%s: its histogram counts %llu latencies, not one per "
		    "request", path, (unsigned long long)tmp->total);
		return EX_DATAERR;
	}
	hdr_add(&r->latency, tmp);
	if (!json_member(d, "timeline", &m) ||
	    json_iter_start(m, '[', &it) == -1)
		goto bad;
	while (json_iter_next(&it, NULL, &v))
		if (merge_second(r, v, start - r->start_time, tmp, sum) == -1)
			goto bad;
	/* The settings of a run, or the runs of a merged report. */
	if (json_member(d, "runs", &m)) {
		if (json_iter_start(m, '[', &it) == -1)
			goto bad;
		while (json_iter_next(&it, NULL, &v))
			if ((rc = add_run(runs, v)) != 0)
				return rc;
		return 0;
	}
	if (!json_member(d, "settings", &m))
		goto bad;
	return add_run(runs, m);
bad:
	warnx("%s: not a JSON report of fcgi-bridge bench (a key is missing "
	    "or malformed)", path);
	return EX_DATAERR;
}

int
merge_reports(char **files, int nfiles, struct results *r,
    struct merged_runs *runs)
{
	struct hdr	*tmp = NULL, *sum = NULL;
	struct json	*docs = NULL;
	char		**texts;
	double		 start, duration, end = 0;
	size_t		 len;
	int		 i, rc = EX_OSERR;

	memset(runs, 0, sizeof(*runs));
	if ((texts = calloc(nfiles, sizeof(*texts))) == NULL ||
	    (docs = calloc(nfiles, sizeof(*docs))) == NULL ||
	    (tmp = malloc(sizeof(*tmp))) == NULL ||
	    (sum = malloc(sizeof(*sum))) == NULL) {
		warn("--merge");
		goto done;
	}
	runs->texts = texts;
	/* The union runs from the first start to the last end. */
	for (i = 0; i < nfiles; i++) {
		if ((rc = read_whole(files[i], &texts[i], &len)) != 0)
			goto done;
		runs->ntexts++;
		rc = EX_DATAERR;
		if (json_parse(texts[i], len, &docs[i]) == -1) {
			warnx("%s: not JSON", files[i]);
			goto done;
		}
		if (member_number(docs[i], "start_time", &start) == -1 ||
		    member_number(docs[i], "duration_s", &duration) == -1) {
			warnx("%s: no start_time and duration_s: not a JSON "
			    "report of fcgi-bridge bench", files[i]);
			goto done;
		}
		if (i == 0 || start < r->start_time)
			r->start_time = start;
		if (i == 0 || start + duration > end)
			end = start + duration;
	}
	r->duration_s = end - r->start_time;
	for (i = 0; i < nfiles; i++)
		if ((rc = merge_report(r, docs[i], files[i], runs, tmp,
		    sum)) != 0)
			goto done;
	rc = 0;
done:
	free(docs);
	free(tmp);
	free(sum);
	return rc;
}

void
merged_runs_free(struct merged_runs *runs)
{
	size_t	 i;

	for (i = 0; i < runs->ntexts; i++)
		free(runs->texts[i]);
	free(runs->texts);
	free(runs->settings);
	free(runs->settings_len);
}
