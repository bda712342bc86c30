/*
 * Unit tests for the FastCGI codec in src/fcgi.c: golden bytes for every
 * encoder, every branch of the decoders, and the real wire captures in
 * $CAPTURES (default tests/captures, relative to the repository root,
 * where the test is run), whole and fed in pieces as a real reader sees
 * them.
 *
 * Output is TAP, one line per case; diagnostics are "# " lines before the
 * case they belong to.  Exit status 1 if any case failed.
 *
 * Buffers handed to the decoders for "incomplete" cases are heap copies of
 * exactly the length passed, so that ASan catches a read past the end.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi.h"
#include "tap.h"

/* ---- helpers ------------------------------------------------------ */

/* A deterministic PRNG (xorshift32), so that failures reproduce. */
static uint32_t
rnd(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

/* Parses a record from an exact heap copy of len bytes. */
static int
parse_exact(const uint8_t *buf, size_t len, struct fcgi_record *rec,
    const char **errstr)
{
	uint8_t	*copy = dup_exact(buf, len);
	int	 rc;

	rc = fcgi_record_parse(exact_ptr(copy, len), len, rec, errstr);
	/* content must not outlive the copy; callers only use hdr. */
	rec->content = NULL;
	free(copy);
	return rc;
}

static long
nv_parse_exact(const uint8_t *buf, size_t len, size_t max_len,
    struct fcgi_nv *nv)
{
	uint8_t	*copy = dup_exact(buf, len);
	long	 rc;

	rc = fcgi_nv_parse(exact_ptr(copy, len), len, max_len, nv);
	nv->name = nv->value = NULL;
	free(copy);
	return rc;
}

/* A record as seen in a parsed stream: header and offset in the stream. */
struct rec {
	struct fcgi_header	 hdr;
	size_t			 off;
};

struct recs {
	struct rec	*v;
	size_t		 n, cap;
};

static void
recs_push(struct recs *r, const struct fcgi_header *h, size_t off)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->v = xrealloc(r->v, r->cap * sizeof(r->v[0]));
	}
	r->v[r->n].hdr = *h;
	r->v[r->n].off = off;
	r->n++;
}

static void
recs_free(struct recs *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

/*
 * Parses every whole record of data into r.  Returns the bytes consumed;
 * *bad is set when the parser said -1.
 */
static size_t
parse_all(const uint8_t *data, size_t len, struct recs *r, int *bad)
{
	struct fcgi_record	 rec;
	const char		*errstr;
	size_t			 off = 0;
	int			 rc;

	*bad = 0;
	while ((rc = fcgi_record_parse(data + off, len - off, &rec,
	    &errstr)) > 0) {
		if (rec.content != data + off + FCGI_HEADER_LEN)
			*bad = 1;
		recs_push(r, &rec.hdr, off);
		off += (size_t)rc;
	}
	if (rc < 0) {
		*bad = 1;
		diag("parse error at offset %zu: %s", off,
		    errstr ? errstr : "(null)");
	}
	return off;
}

static const uint8_t *
rec_content(const uint8_t *data, const struct rec *r)
{
	return data + r->off + FCGI_HEADER_LEN;
}

/*
 * Concatenates the content of the which-th stream of type in a parsed
 * capture.  A stream ends at its empty record (*closed is then 1) or at the
 * end of the records.  Returns a malloc'd buffer.
 */
static uint8_t *
stream_get(const uint8_t *data, const struct recs *r, uint8_t type,
    unsigned which, size_t *outlen, int *closed)
{
	uint8_t		*out = xmalloc(1);
	size_t		 n = 0, i;
	unsigned	 idx = 0;

	*closed = 0;
	for (i = 0; i < r->n; i++) {
		const struct fcgi_header *h = &r->v[i].hdr;

		if (h->type != type)
			continue;
		if (h->content_length == 0) {
			if (idx++ == which) {
				*closed = 1;
				break;
			}
			continue;
		}
		if (idx != which)
			continue;
		out = xrealloc(out, n + h->content_length);
		memcpy(out + n, rec_content(data, &r->v[i]), h->content_length);
		n += h->content_length;
	}
	*outlen = n;
	return out;
}

#define MAX_PAIRS	64

struct pairs {
	struct fcgi_nv	 v[MAX_PAIRS];
	size_t		 span[MAX_PAIRS];
	size_t		 n;
	int		 bad;
};

/* Decodes a whole pair stream; bad is set if it does not decode exactly. */
static void
pairs_decode(const uint8_t *s, size_t len, struct pairs *p)
{
	size_t	 off = 0;
	long	 rc;

	memset(p, 0, sizeof(*p));
	while (off < len) {
		if (p->n == MAX_PAIRS) {
			p->bad = 1;
			return;
		}
		rc = fcgi_nv_parse(s + off, len - off, FCGI_MAX_NV_LEN,
		    &p->v[p->n]);
		if (rc <= 0) {
			diag("pair %zu at offset %zu: fcgi_nv_parse gave %ld",
			    p->n, off, rc);
			p->bad = 1;
			return;
		}
		p->span[p->n++] = (size_t)rc;
		off += (size_t)rc;
	}
}

static const struct fcgi_nv *
pair_find(const struct pairs *p, const char *name)
{
	size_t	 i;

	for (i = 0; i < p->n; i++)
		if (fcgi_nv_name_is(&p->v[i], name))
			return &p->v[i];
	return NULL;
}

static int
pair_is_(const struct pairs *p, const char *name, const char *value,
    int line)
{
	const struct fcgi_nv	*nv = pair_find(p, name);
	size_t			 n = strlen(value);

	if (nv == NULL) {
		FAIL("line %d: no pair %s", line, name);
		return 0;
	}
	if (nv->value_len != n || memcmp(nv->value, value, n) != 0) {
		FAIL("line %d: %s is \"%.*s\", want \"%s\"", line, name,
		    (int)(nv->value_len > 80 ? 80 : nv->value_len),
		    (const char *)nv->value, value);
		return 0;
	}
	return 1;
}

#define CHECK_PAIR(p, name, value)	pair_is_((p), (name), (value), __LINE__)

/* Whether needle occurs in hay (memmem is not in C11). */
static int
contains(const uint8_t *hay, size_t hlen, const char *needle)
{
	size_t	 n = strlen(needle), i;

	for (i = 0; n <= hlen && i <= hlen - n; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return 1;
	return 0;
}

/* ---- captures ----------------------------------------------------- */

struct spec {
	uint8_t		 type;
	uint16_t	 id;
	uint16_t	 clen;
	uint8_t		 pad;
	unsigned	 count;		/* 0 ends a list */
};

#define R(t, id, c, p, n)	{ (t), (id), (c), (p), (n) }
#define BEGIN			R(FCGI_BEGIN_REQUEST, 1, 8, 0, 1)
#define ENDREQ			R(FCGI_END_REQUEST, 1, 8, 0, 1)
#define PARAMS(c, p)		R(FCGI_PARAMS, 1, (c), (p), 1)
#define STDIN(c, p, n)		R(FCGI_STDIN, 1, (c), (p), (n))
#define STDOUT(c, p, n)		R(FCGI_STDOUT, 1, (c), (p), (n))
#define STDERR(c, p)		R(FCGI_STDERR, 1, (c), (p), 1)
#define GV(c, p)		R(FCGI_GET_VALUES, 0, (c), (p), 1)
#define GVR(c, p)		R(FCGI_GET_VALUES_RESULT, 0, (c), (p), 1)
#define END_SPEC		R(0, 0, 0, 0, 0)
#define REQ_TAIL		PARAMS(0, 0), STDIN(0, 0, 1)

enum peer { NGINX, APACHE, LIGHTTPD, FPM_IN, FPM_OUT };

struct capture {
	const char		*file;
	enum peer		 peer;
	size_t			 size;
	int			 params_pairs;	/* per PARAMS stream, -1: none */
	int			 mgmt_pairs;	/* in GET_VALUES(_RESULT) */
	const struct spec	*recs;
};

static struct capture captures[] = {
	{ "nginx-get.bin", NGINX, 624, 23, -1, (const struct spec[]){
	    BEGIN, PARAMS(581, 3), REQ_TAIL, END_SPEC } },
	{ "nginx-post-100k.bin", NGINX, 103096, 25, -1, (const struct spec[]){
	    BEGIN, PARAMS(619, 5), PARAMS(0, 0), STDIN(32768, 0, 3),
	    STDIN(4096, 0, 1), STDIN(0, 0, 1), END_SPEC } },
	{ "nginx-big-header.bin", NGINX, 9576, 24, -1, (const struct spec[]){
	    BEGIN, PARAMS(9530, 6), REQ_TAIL, END_SPEC } },
	{ "nginx-keep-conn.bin", NGINX, 1136, 23, -1, (const struct spec[]){
	    BEGIN, PARAMS(521, 7), REQ_TAIL,
	    BEGIN, PARAMS(521, 7), REQ_TAIL, END_SPEC } },
	{ "apache-get.bin", APACHE, 719, 23, -1, (const struct spec[]){
	    BEGIN, PARAMS(679, 0), REQ_TAIL, END_SPEC } },
	{ "apache-post-100k.bin", APACHE, 103220, 25, -1,
	    (const struct spec[]){
	    BEGIN, PARAMS(676, 0), PARAMS(0, 0), STDIN(8192, 0, 12),
	    STDIN(4096, 0, 1), STDIN(0, 0, 1), END_SPEC } },
	{ "apache-big-params.bin", APACHE, 80862, 33, -1,
	    (const struct spec[]){
	    BEGIN, PARAMS(16104, 0), R(FCGI_PARAMS, 1, 16034, 0, 3),
	    PARAMS(16373, 0), PARAMS(203, 0), REQ_TAIL, END_SPEC } },
	{ "lighttpd-get.bin", LIGHTTPD, 580, 20, -1, (const struct spec[]){
	    BEGIN, PARAMS(540, 0), REQ_TAIL, END_SPEC } },
	{ "lighttpd-post-100k.bin", LIGHTTPD, 103003, 22, -1,
	    (const struct spec[]){
	    BEGIN, PARAMS(547, 0), PARAMS(0, 0), STDIN(65535, 0, 1),
	    STDIN(36865, 0, 1), STDIN(0, 0, 1), END_SPEC } },
	{ "lighttpd-big-params.bin", LIGHTTPD, 32581, 24, -1,
	    (const struct spec[]){
	    BEGIN, PARAMS(32541, 0), REQ_TAIL, END_SPEC } },
	{ "phpfpm-hello.in.bin", FPM_IN, 352, 12, -1, (const struct spec[]){
	    BEGIN, PARAMS(312, 0), REQ_TAIL, END_SPEC } },
	{ "phpfpm-big-200k.in.bin", FPM_IN, 336, 12, -1,
	    (const struct spec[]){
	    BEGIN, PARAMS(291, 5), REQ_TAIL, END_SPEC } },
	{ "phpfpm-stderr.in.bin", FPM_IN, 344, 12, -1, (const struct spec[]){
	    BEGIN, PARAMS(300, 4), REQ_TAIL, END_SPEC } },
	{ "phpfpm-missing.in.bin", FPM_IN, 344, 12, -1, (const struct spec[]){
	    BEGIN, PARAMS(303, 1), REQ_TAIL, END_SPEC } },
	{ "phpfpm-ping.in.bin", FPM_IN, 328, 12, -1, (const struct spec[]){
	    BEGIN, PARAMS(282, 6), REQ_TAIL, END_SPEC } },
	{ "phpfpm-get-values.in.bin", FPM_IN, 56, -1, 3,
	    (const struct spec[]){ GV(48, 0), END_SPEC } },
	{ "phpfpm-get-values-then-request.in.bin", FPM_IN, 400, 12, 3,
	    (const struct spec[]){
	    GV(48, 0), BEGIN, PARAMS(297, 7), REQ_TAIL, END_SPEC } },
	{ "phpfpm-unknown-role.in.bin", FPM_IN, 344, 12, -1,
	    (const struct spec[]){
	    BEGIN, PARAMS(297, 7), REQ_TAIL, END_SPEC } },
	{ "phpfpm-unknown-type.in.bin", FPM_IN, 16, -1, -1,
	    (const struct spec[]){ R(12, 0, 8, 0, 1), END_SPEC } },
	{ "phpfpm-hello.out.bin", FPM_OUT, 88, -1, -1, (const struct spec[]){
	    STDOUT(61, 3, 1), ENDREQ, END_SPEC } },
	{ "phpfpm-big-200k.out.bin", FPM_OUT, 205072, -1, -1,
	    (const struct spec[]){
	    STDOUT(8184, 0, 25), STDOUT(242, 6, 1), ENDREQ, END_SPEC } },
	{ "phpfpm-stderr.out.bin", FPM_OUT, 248, -1, -1, (const struct spec[]){
	    STDERR(137, 7), STDOUT(65, 7, 1), ENDREQ, END_SPEC } },
	{ "phpfpm-missing.out.bin", FPM_OUT, 144, -1, -1,
	    (const struct spec[]){
	    STDERR(22, 2), STDOUT(81, 7, 1), ENDREQ, END_SPEC } },
	{ "phpfpm-ping.out.bin", FPM_OUT, 176, -1, -1, (const struct spec[]){
	    STDOUT(149, 3, 1), ENDREQ, END_SPEC } },
	{ "phpfpm-get-values.out.bin", FPM_OUT, 32, -1, 1,
	    (const struct spec[]){ GVR(18, 6), END_SPEC } },
	{ "phpfpm-get-values-then-request.out.bin", FPM_OUT, 120, -1, 1,
	    (const struct spec[]){
	    GVR(18, 6), STDOUT(61, 3, 1), ENDREQ, END_SPEC } },
	{ "phpfpm-unknown-role.out.bin", FPM_OUT, 0, -1, -1,
	    (const struct spec[]){ END_SPEC } },
	{ "phpfpm-unknown-type.out.bin", FPM_OUT, 0, -1, -1,
	    (const struct spec[]){ END_SPEC } },
};

#define NCAPTURES	(sizeof(captures) / sizeof(captures[0]))

/* Capture bytes, loaded on first use. */
static uint8_t	*capture_data[NCAPTURES];
static int	 capture_loaded[NCAPTURES];

static const char *
captures_dir(void)
{
	const char	*d = getenv("CAPTURES");

	return d != NULL && *d != '\0' ? d : "tests/captures";
}

/* Reads a whole file; NULL (with a diagnostic) if it cannot. */
static uint8_t *
read_file(const char *name, size_t *len)
{
	char	 path[4096];
	FILE	*fp;
	uint8_t	*buf = NULL;
	size_t	 n = 0, cap = 0, got;
	int	 w;

	w = snprintf(path, sizeof(path), "%s/%s", captures_dir(), name);
	if (w < 0 || (size_t)w >= sizeof(path)) {
		diag("path too long for %s", name);
		return NULL;
	}
	if ((fp = fopen(path, "rb")) == NULL) {
		diag("cannot open %s (set CAPTURES to the captures "
		    "directory)", path);
		return NULL;
	}
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = xrealloc(buf, cap);
		}
		got = fread(buf + n, 1, cap - n, fp);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(fp)) {
		diag("read error on %s", path);
		fclose(fp);
		free(buf);
		return NULL;
	}
	fclose(fp);
	*len = n;
	return buf;
}

static struct capture *
capture_find(const char *file)
{
	size_t	 i;

	for (i = 0; i < NCAPTURES; i++)
		if (strcmp(captures[i].file, file) == 0)
			return &captures[i];
	return NULL;
}

/* Loads a capture (once) and checks its size; NULL with a failure if not. */
static const uint8_t *
capture_load(struct capture *c)
{
	size_t	 len = 0, i = (size_t)(c - captures);

	if (!capture_loaded[i]) {
		capture_loaded[i] = 1;
		capture_data[i] = read_file(c->file, &len);
		if (capture_data[i] != NULL && len != c->size) {
			diag("%s is %zu bytes, want %zu", c->file, len,
			    c->size);
			free(capture_data[i]);
			capture_data[i] = NULL;
		}
	}
	if (capture_data[i] == NULL)
		FAIL("capture %s not available", c->file);
	return capture_data[i];
}

static const uint8_t *
capture_get(const char *file, size_t *len)
{
	struct capture	*c = capture_find(file);

	if (c == NULL) {
		FAIL("no capture %s in the table", file);
		return NULL;
	}
	*len = c->size;
	return capture_load(c);
}

/* Parses a capture whole; returns 0 if it does not parse to the end. */
static int
capture_parse(const char *file, const uint8_t **data, struct recs *r)
{
	size_t	 len, used;
	int	 bad;

	if ((*data = capture_get(file, &len)) == NULL)
		return 0;
	used = parse_all(*data, len, r, &bad);
	if (bad || used != len) {
		FAIL("%s: parsed %zu of %zu bytes", file, used, len);
		return 0;
	}
	return 1;
}

/* ---- helpers and names -------------------------------------------- */

static void
t_be16(void)
{
	uint8_t	 b[2];

	fcgi_put_be16(b, 0x1234);
	CHECK_MEM(b, "\x12\x34", 2);
	CHECK_EQ(fcgi_get_be16(b), 0x1234);
	fcgi_put_be16(b, 0);
	CHECK_MEM(b, "\x00\x00", 2);
	fcgi_put_be16(b, 0xffff);
	CHECK_MEM(b, "\xff\xff", 2);
	CHECK_EQ(fcgi_get_be16(b), 0xffff);
	CHECK_EQ(fcgi_get_be16((const uint8_t *)"\x80\x01"), 0x8001);
	CHECK_EQ(fcgi_get_be16((const uint8_t *)"\x00\xff"), 0x00ff);
}

static void
t_be32(void)
{
	uint8_t	 b[4];

	t_be16();

	fcgi_put_be32(b, 0x12345678);
	CHECK_MEM(b, "\x12\x34\x56\x78", 4);
	CHECK_EQ(fcgi_get_be32(b), 0x12345678);
	fcgi_put_be32(b, 0x80000000U);
	CHECK_MEM(b, "\x80\x00\x00\x00", 4);
	CHECK_EQ(fcgi_get_be32(b), 0x80000000U);
	fcgi_put_be32(b, 0xffffffffU);
	CHECK_MEM(b, "\xff\xff\xff\xff", 4);
	CHECK_EQ(fcgi_get_be32(b), 0xffffffffU);
	fcgi_put_be32(b, 0);
	CHECK_MEM(b, "\x00\x00\x00\x00", 4);
	CHECK_EQ(fcgi_get_be32((const uint8_t *)"\x00\x00\x00\x80"), 128);
}

static void
t_be_roundtrip(void)
{
	uint8_t		 b[4];
	uint32_t	 s = 12345, v;
	unsigned	 i;

	for (i = 0; i < 0x10000; i++) {
		fcgi_put_be16(b, (uint16_t)i);
		if (!CHECK_EQ(fcgi_get_be16(b), i) ||
		    !CHECK_EQ(b[0], i >> 8))
			break;
	}
	for (i = 0; i < 100000; i++) {
		v = rnd(&s);
		fcgi_put_be32(b, v);
		if (!CHECK_EQ(fcgi_get_be32(b), v) || !CHECK_EQ(b[0], v >> 24))
			break;
	}
}

static void
t_type_name(void)
{
	static const char *const want[] = {
		NULL, "BEGIN_REQUEST", "ABORT_REQUEST", "END_REQUEST",
		"PARAMS", "STDIN", "STDOUT", "STDERR", "DATA", "GET_VALUES",
		"GET_VALUES_RESULT", "UNKNOWN_TYPE"
	};
	unsigned	 i;

	for (i = 1; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *got = fcgi_type_name(i);

		if (!CHECK(got != NULL) || !CHECK(strcmp(got, want[i]) == 0))
			diag("type %u: %s", i, got ? got : "(null)");
	}
	CHECK(fcgi_type_name(0) == NULL);
	CHECK(fcgi_type_name(12) == NULL);
	CHECK(fcgi_type_name(255) == NULL);
	CHECK(fcgi_type_name(UINT_MAX) == NULL);
}

static void
t_role_status_name(void)
{
	CHECK(fcgi_role_name(0) == NULL);
	CHECK(fcgi_role_name(FCGI_RESPONDER) != NULL &&
	    strcmp(fcgi_role_name(FCGI_RESPONDER), "RESPONDER") == 0);
	CHECK(fcgi_role_name(FCGI_AUTHORIZER) != NULL &&
	    strcmp(fcgi_role_name(FCGI_AUTHORIZER), "AUTHORIZER") == 0);
	CHECK(fcgi_role_name(FCGI_FILTER) != NULL &&
	    strcmp(fcgi_role_name(FCGI_FILTER), "FILTER") == 0);
	CHECK(fcgi_role_name(4) == NULL);
	CHECK(fcgi_role_name(7) == NULL);
	CHECK(fcgi_role_name(UINT_MAX) == NULL);

	CHECK(fcgi_protocol_status_name(FCGI_REQUEST_COMPLETE) != NULL &&
	    strcmp(fcgi_protocol_status_name(FCGI_REQUEST_COMPLETE),
	    "REQUEST_COMPLETE") == 0);
	CHECK(fcgi_protocol_status_name(FCGI_CANT_MPX_CONN) != NULL &&
	    strcmp(fcgi_protocol_status_name(FCGI_CANT_MPX_CONN),
	    "CANT_MPX_CONN") == 0);
	CHECK(fcgi_protocol_status_name(FCGI_OVERLOADED) != NULL &&
	    strcmp(fcgi_protocol_status_name(FCGI_OVERLOADED),
	    "OVERLOADED") == 0);
	CHECK(fcgi_protocol_status_name(FCGI_UNKNOWN_ROLE) != NULL &&
	    strcmp(fcgi_protocol_status_name(FCGI_UNKNOWN_ROLE),
	    "UNKNOWN_ROLE") == 0);
	CHECK(fcgi_protocol_status_name(4) == NULL);
	CHECK(fcgi_protocol_status_name(UINT_MAX) == NULL);
}

static void
t_type_is_management(void)
{
	unsigned	 t;

	for (t = 0; t < 512; t++) {
		int want = t == 9 || t == 10 || t == 11;

		if (!CHECK_EQ(fcgi_type_is_management(t) != 0, want))
			diag("type %u", t);
	}
	CHECK(!fcgi_type_is_management(UINT_MAX));
	/* The header's enum agrees with the wire numbers. */
	CHECK(fcgi_type_is_management(FCGI_GET_VALUES));
	CHECK(fcgi_type_is_management(FCGI_GET_VALUES_RESULT));
	CHECK(fcgi_type_is_management(FCGI_UNKNOWN_TYPE));
}

/* ---- fixed encoders ----------------------------------------------- */

static void
t_header_pack(void)
{
	uint8_t	 h[FCGI_HEADER_LEN];

	fcgi_header_pack(h, FCGI_STDOUT, 0x1234, 0xabcd, 5);
	CHECK_MEM(h, "\x01\x06\x12\x34\xab\xcd\x05\x00", 8);
	memset(h, 0xee, sizeof(h));
	fcgi_header_pack(h, FCGI_GET_VALUES, 0, 0, 0);
	CHECK_MEM(h, "\x01\x09\x00\x00\x00\x00\x00\x00", 8);
	memset(h, 0xee, sizeof(h));
	fcgi_header_pack(h, 0xff, 0xffff, 0xffff, 0xff);
	CHECK_MEM(h, "\x01\xff\xff\xff\xff\xff\xff\x00", 8);
}

static void
t_begin_request_body(void)
{
	uint8_t	 b[8];

	memset(b, 0xee, sizeof(b));
	fcgi_begin_request_body(b, FCGI_RESPONDER, 0);
	CHECK_MEM(b, "\x00\x01\x00\x00\x00\x00\x00\x00", 8);
	memset(b, 0xee, sizeof(b));
	fcgi_begin_request_body(b, FCGI_RESPONDER, FCGI_KEEP_CONN);
	CHECK_MEM(b, "\x00\x01\x01\x00\x00\x00\x00\x00", 8);
	memset(b, 0xee, sizeof(b));
	fcgi_begin_request_body(b, FCGI_FILTER, 0xff);
	CHECK_MEM(b, "\x00\x03\xff\x00\x00\x00\x00\x00", 8);
	memset(b, 0xee, sizeof(b));
	fcgi_begin_request_body(b, 0x1234, 0);
	CHECK_MEM(b, "\x12\x34\x00\x00\x00\x00\x00\x00", 8);
}

static void
t_end_unknown_body(void)
{
	uint8_t	 b[8];

	memset(b, 0xee, sizeof(b));
	fcgi_end_request_body(b, 0, FCGI_REQUEST_COMPLETE);
	CHECK_MEM(b, "\x00\x00\x00\x00\x00\x00\x00\x00", 8);
	memset(b, 0xee, sizeof(b));
	fcgi_end_request_body(b, 0xdeadbeef, FCGI_UNKNOWN_ROLE);
	CHECK_MEM(b, "\xde\xad\xbe\xef\x03\x00\x00\x00", 8);
	memset(b, 0xee, sizeof(b));
	fcgi_end_request_body(b, 1, FCGI_CANT_MPX_CONN);
	CHECK_MEM(b, "\x00\x00\x00\x01\x01\x00\x00\x00", 8);
	memset(b, 0xee, sizeof(b));
	fcgi_unknown_type_body(b, 12);
	CHECK_MEM(b, "\x0c\x00\x00\x00\x00\x00\x00\x00", 8);
	memset(b, 0xee, sizeof(b));
	fcgi_unknown_type_body(b, 0xff);
	CHECK_MEM(b, "\xff\x00\x00\x00\x00\x00\x00\x00", 8);
}

static void
t_fields_roundtrip(void)
{
	uint8_t			 body[8], rec[32];
	struct fcgi_record	 r;
	const char		*errstr;
	uint16_t		 role;
	uint8_t			 flags, ps;
	uint32_t		 app;
	size_t			 n;

	fcgi_begin_request_body(body, FCGI_AUTHORIZER, FCGI_KEEP_CONN);
	n = fcgi_record_pack(rec, sizeof(rec), FCGI_BEGIN_REQUEST, 7, body, 8);
	CHECK_EQ(n, 16);
	CHECK_EQ(fcgi_record_parse(rec, n, &r, &errstr), 16);
	fcgi_begin_request_fields(&r, &role, &flags);
	CHECK_EQ(role, FCGI_AUTHORIZER);
	CHECK_EQ(flags, FCGI_KEEP_CONN);
	/* Every flag bit and role bit comes back. */
	fcgi_begin_request_body(body, 0xfffe, 0xff);
	n = fcgi_record_pack(rec, sizeof(rec), FCGI_BEGIN_REQUEST, 1, body, 8);
	CHECK_EQ(fcgi_record_parse(rec, n, &r, &errstr), 16);
	fcgi_begin_request_fields(&r, &role, &flags);
	CHECK_EQ(role, 0xfffe);
	CHECK_EQ(flags, 0xff);

	fcgi_end_request_body(body, 0xfffffffeU, FCGI_OVERLOADED);
	n = fcgi_record_pack(rec, sizeof(rec), FCGI_END_REQUEST, 0xffff, body,
	    8);
	CHECK_EQ(n, 16);
	CHECK_EQ(fcgi_record_parse(rec, n, &r, &errstr), 16);
	fcgi_end_request_fields(&r, &app, &ps);
	CHECK_EQ(app, 0xfffffffeU);
	CHECK_EQ(ps, FCGI_OVERLOADED);
	CHECK_EQ(r.hdr.request_id, 0xffff);
}

/* ---- fcgi_record_pack --------------------------------------------- */

static void
t_record_pack_golden(void)
{
	uint8_t	 out[64], body[8];

	memset(out, 0xee, sizeof(out));
	CHECK_EQ(fcgi_record_pack(out, sizeof(out), FCGI_STDOUT, 1, "hello",
	    5), 16);
	CHECK_MEM(out, "\x01\x06\x00\x01\x00\x05\x03\x00hello\x00\x00\x00",
	    16);
	CHECK_EQ(out[16], 0xee);

	fcgi_begin_request_body(body, FCGI_RESPONDER, 0);
	memset(out, 0xee, sizeof(out));
	CHECK_EQ(fcgi_record_pack(out, sizeof(out), FCGI_BEGIN_REQUEST, 1,
	    body, 8), 16);
	CHECK_MEM(out, "\x01\x01\x00\x01\x00\x08\x00\x00"
	    "\x00\x01\x00\x00\x00\x00\x00\x00", 16);

	memset(out, 0xee, sizeof(out));
	CHECK_EQ(fcgi_record_pack(out, sizeof(out), FCGI_STDERR, 0x0102,
	    "0123456789", 10), 24);
	CHECK_MEM(out, "\x01\x07\x01\x02\x00\x0a\x06\x00" "0123456789"
	    "\x00\x00\x00\x00\x00\x00", 24);
}

static void
t_record_pack_empty(void)
{
	uint8_t	 out[16];

	memset(out, 0xee, sizeof(out));
	CHECK_EQ(fcgi_record_pack(out, sizeof(out), FCGI_STDIN, 1, NULL, 0), 8);
	CHECK_MEM(out, "\x01\x05\x00\x01\x00\x00\x00\x00", 8);
	CHECK_EQ(out[8], 0xee);
	/* Exactly 8 bytes of room is enough for an empty record. */
	memset(out, 0xee, sizeof(out));
	CHECK_EQ(fcgi_record_pack(out, 8, FCGI_PARAMS, 2, "", 0), 8);
	CHECK_MEM(out, "\x01\x04\x00\x02\x00\x00\x00\x00", 8);
}

static void
t_record_pack_padding(void)
{
	uint8_t		 out[64], content[17];
	size_t		 len, n, pad, i;

	memset(content, 'x', sizeof(content));
	for (len = 0; len <= sizeof(content); len++) {
		memset(out, 0xee, sizeof(out));
		n = fcgi_record_pack(out, sizeof(out), FCGI_DATA, 1, content,
		    len);
		pad = (8 - len % 8) % 8;
		if (!CHECK_EQ(n, 8 + len + pad))
			continue;
		CHECK_EQ(n % 8, 0);
		CHECK_EQ(fcgi_get_be16(out + 4), len);
		CHECK_EQ(out[6], pad);
		CHECK_MEM(out + 8, content, len);
		for (i = 0; i < pad; i++)
			CHECK_EQ(out[8 + len + i], 0);
		CHECK_EQ(out[n], 0xee);
	}
}

static void
t_record_pack_max(void)
{
	uint8_t		*content, *out;
	size_t		 outsz = FCGI_MAX_RECORD + 16;

	content = xmalloc(FCGI_MAX_CONTENT);
	out = xmalloc(outsz);
	memset(content, 'q', FCGI_MAX_CONTENT);
	CHECK_EQ(fcgi_record_pack(out, outsz, FCGI_STDOUT, 1, content,
	    FCGI_MAX_PADDED_CONTENT), 8 + 65528);
	CHECK_MEM(out, "\x01\x06\x00\x01\xff\xf8\x00\x00", 8);
	/* Just over: content plus padding would pass 65535. */
	memset(out, 0xee, outsz);
	CHECK_EQ(fcgi_record_pack(out, outsz, FCGI_STDOUT, 1, content,
	    FCGI_MAX_PADDED_CONTENT + 1), 0);
	CHECK_EQ(fcgi_record_pack(out, outsz, FCGI_STDOUT, 1, content,
	    FCGI_MAX_CONTENT), 0);
	CHECK_EQ(fcgi_record_pack(out, outsz, FCGI_STDOUT, 1, content,
	    (size_t)FCGI_MAX_CONTENT + 1), 0);
	CHECK_EQ(fcgi_record_pack(out, outsz, FCGI_STDOUT, 1, content,
	    SIZE_MAX), 0);
	CHECK_EQ(out[0], 0xee);
	free(content);
	free(out);
}

static void
t_record_pack_outsz(void)
{
	uint8_t	 out[32];
	size_t	 sz;

	/* 5 bytes of content need 16 bytes with padding. */
	for (sz = 0; sz < 16; sz++) {
		memset(out, 0xee, sizeof(out));
		if (!CHECK_EQ(fcgi_record_pack(out, sz, FCGI_STDOUT, 1,
		    "hello", 5), 0))
			diag("outsz %zu", sz);
		CHECK_EQ(out[0], 0xee);
	}
	CHECK_EQ(fcgi_record_pack(out, 16, FCGI_STDOUT, 1, "hello", 5), 16);
	/* An empty record needs 8. */
	CHECK_EQ(fcgi_record_pack(out, 7, FCGI_STDOUT, 1, NULL, 0), 0);
	CHECK_EQ(fcgi_record_pack(out, 0, FCGI_STDOUT, 1, NULL, 0), 0);
	/* 65528 bytes need 65536. */
	{
		uint8_t	*big = xmalloc(65536), *content = xmalloc(65528);

		memset(content, 1, 65528);
		CHECK_EQ(fcgi_record_pack(big, 65535, FCGI_STDIN, 1, content,
		    65528), 0);
		CHECK_EQ(fcgi_record_pack(big, 65536, FCGI_STDIN, 1, content,
		    65528), 65536);
		free(big);
		free(content);
	}
}

static void
t_record_pack_parse_roundtrip(void)
{
	static const size_t	 lens[] = { 0, 1, 7, 8, 9, 100, 4095, 8184,
	    65527, 65528 };
	static const uint8_t	 types[] = { FCGI_ABORT_REQUEST, FCGI_PARAMS,
	    FCGI_STDIN, FCGI_STDOUT, FCGI_STDERR, FCGI_DATA, 12, 200 };
	uint8_t			*content, *out;
	struct fcgi_record	 r;
	const char		*errstr;
	size_t			 i, j, n;
	uint32_t		 s = 99;

	content = xmalloc(65528);
	out = xmalloc(FCGI_MAX_RECORD);
	for (i = 0; i < 65528; i++)
		content[i] = (uint8_t)rnd(&s);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (j = 0; j < sizeof(types) / sizeof(types[0]); j++) {
			uint16_t id = types[j] > 8 ? 0 : (uint16_t)(i + 1);

			n = fcgi_record_pack(out, FCGI_MAX_RECORD, types[j], id,
			    content, lens[i]);
			if (!CHECK(n > 0))
				continue;
			CHECK_EQ(fcgi_record_parse(out, n, &r, &errstr),
			    (long long)n);
			CHECK(errstr == NULL);
			CHECK_EQ(r.hdr.version, 1);
			CHECK_EQ(r.hdr.type, types[j]);
			CHECK_EQ(r.hdr.request_id, id);
			CHECK_EQ(r.hdr.content_length, lens[i]);
			CHECK(r.content == out + 8);
			CHECK_MEM(r.content, content, lens[i]);
		}
	}
	free(content);
	free(out);
}

/* ---- fcgi_record_parse: records it accepts ------------------------ */

static void
t_parse_minimal(void)
{
	static const uint8_t	 rec[] = "\x01\x05\x00\x01\x00\x00\x00\x00";
	struct fcgi_record	 r;
	const char		*errstr = "stale";

	memset(&r, 0, sizeof(r));
	CHECK_EQ(parse_exact(rec, 8, &r, &errstr), 8);
	CHECK(errstr == NULL);
	CHECK_EQ(r.hdr.version, 1);
	CHECK_EQ(r.hdr.type, FCGI_STDIN);
	CHECK_EQ(r.hdr.request_id, 1);
	CHECK_EQ(r.hdr.content_length, 0);
	CHECK_EQ(r.hdr.padding_length, 0);

	/* The content pointer points into the caller's buffer. */
	CHECK_EQ(fcgi_record_parse(rec, 8, &r, &errstr), 8);
	CHECK(r.content == rec + 8);
	/* The reserved byte is ignored. */
	{
		uint8_t	 b[8];

		memcpy(b, rec, 8);
		b[7] = 0xff;
		CHECK_EQ(parse_exact(b, 8, &r, &errstr), 8);
	}
}

static void
t_parse_fields(void)
{
	uint8_t			 b[8 + 0x0102 + 0x11];
	struct fcgi_record	 r;
	const char		*errstr = "stale";

	memset(b, 'c', sizeof(b));
	fcgi_header_pack(b, FCGI_STDERR, 0xbeef, 0x0102, 0x11);
	CHECK_EQ(parse_exact(b, sizeof(b), &r, &errstr), (long long)sizeof(b));
	CHECK(errstr == NULL);
	CHECK_EQ(r.hdr.type, FCGI_STDERR);
	CHECK_EQ(r.hdr.request_id, 0xbeef);
	CHECK_EQ(r.hdr.content_length, 0x0102);
	CHECK_EQ(r.hdr.padding_length, 0x11);
	/* Padding bytes need not be zero. */
	CHECK_EQ(fcgi_record_parse(b, sizeof(b), &r, &errstr),
	    (long long)sizeof(b));
	CHECK(r.content == b + 8);
}

static void
t_parse_first_of_many(void)
{
	uint8_t			 b[64];
	struct fcgi_record	 r;
	const char		*errstr;
	size_t			 n, m;

	n = fcgi_record_pack(b, sizeof(b), FCGI_STDOUT, 1, "abc", 3);
	m = fcgi_record_pack(b + n, sizeof(b) - n, FCGI_STDOUT, 1, "de", 2);
	CHECK_EQ(n, 16);
	CHECK_EQ(m, 16);
	CHECK_EQ(fcgi_record_parse(b, n + m, &r, &errstr), 16);
	CHECK_MEM(r.content, "abc", 3);
	CHECK_EQ(fcgi_record_parse(b + n, m, &r, &errstr), 16);
	CHECK_MEM(r.content, "de", 2);
	/* A second record that is incomplete does not hide the first. */
	CHECK_EQ(fcgi_record_parse(b, n + 3, &r, &errstr), 16);
	/* Nor does a malformed one. */
	b[n] = 9;
	CHECK_EQ(fcgi_record_parse(b, n + m, &r, &errstr), 16);
	CHECK(errstr == NULL);
}

static void
t_parse_largest(void)
{
	size_t			 total = FCGI_MAX_RECORD;
	uint8_t			*b = xmalloc(total);
	struct fcgi_record	 r;
	const char		*errstr;

	CHECK_EQ(total, 8 + 65535 + 255);
	memset(b, 0x5a, total);
	fcgi_header_pack(b, FCGI_STDIN, 1, 65535, 255);
	CHECK_EQ(fcgi_record_parse(b, total, &r, &errstr), 65798);
	CHECK_EQ(r.hdr.content_length, 65535);
	CHECK_EQ(r.hdr.padding_length, 255);
	CHECK_EQ(fcgi_record_parse(b, total - 1, &r, &errstr), 0);
	CHECK(errstr == NULL);
	free(b);
}

static void
t_parse_app_types(void)
{
	uint8_t			 b[16];
	struct fcgi_record	 r;
	const char		*errstr;
	unsigned		 t;
	static const uint16_t	 ids[] = { 1, 2, 0x100, 0xffff };
	size_t			 i;

	for (t = FCGI_BEGIN_REQUEST; t <= FCGI_DATA; t++) {
		for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
			int fixed = t == FCGI_BEGIN_REQUEST ||
			    t == FCGI_END_REQUEST;

			memset(b, 0, sizeof(b));
			fcgi_header_pack(b, (uint8_t)t, ids[i], fixed ? 8 : 3,
			    fixed ? 0 : 5);
			if (!CHECK_EQ(parse_exact(b, 16, &r, &errstr), 16))
				diag("type %u id %u: %s", t, ids[i],
				    errstr ? errstr : "");
			CHECK_EQ(r.hdr.request_id, ids[i]);
		}
	}
	/* ABORT_REQUEST and streams take any length. */
	fcgi_header_pack(b, FCGI_ABORT_REQUEST, 1, 0, 0);
	CHECK_EQ(parse_exact(b, 8, &r, &errstr), 8);
}

static void
t_parse_management_id0(void)
{
	uint8_t			 b[32];
	struct fcgi_record	 r;
	const char		*errstr = "stale";

	memset(b, 0, sizeof(b));
	fcgi_header_pack(b, FCGI_GET_VALUES, 0, 0, 0);
	CHECK_EQ(parse_exact(b, 8, &r, &errstr), 8);
	CHECK(errstr == NULL);
	fcgi_header_pack(b, FCGI_GET_VALUES, 0, 17, 7);
	CHECK_EQ(parse_exact(b, 32, &r, &errstr), 32);
	fcgi_header_pack(b, FCGI_GET_VALUES_RESULT, 0, 18, 6);
	CHECK_EQ(parse_exact(b, 32, &r, &errstr), 32);
	fcgi_header_pack(b, FCGI_UNKNOWN_TYPE, 0, 8, 0);
	CHECK_EQ(parse_exact(b, 16, &r, &errstr), 16);
	CHECK_EQ(r.hdr.type, FCGI_UNKNOWN_TYPE);
}

static void
t_parse_unknown_types(void)
{
	static const uint8_t	 types[] = { 0, 12, 13, 100, 254, 255 };
	static const uint16_t	 ids[] = { 0, 1, 0xffff };
	static const uint16_t	 lens[] = { 0, 3, 8, 9 };
	uint8_t			 b[8 + 9 + 7];
	struct fcgi_record	 r;
	const char		*errstr;
	size_t			 i, j, k, total;

	for (i = 0; i < sizeof(types); i++)
		for (j = 0; j < sizeof(ids) / sizeof(ids[0]); j++)
			for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
				memset(b, 0, sizeof(b));
				fcgi_header_pack(b, types[i], ids[j], lens[k],
				    7);
				total = 8 + lens[k] + 7;
				if (!CHECK_EQ(parse_exact(b, total, &r,
				    &errstr), (long long)total))
					diag("type %u id %u len %u: %s",
					    types[i], ids[j], lens[k],
					    errstr ? errstr : "");
				CHECK_EQ(r.hdr.type, types[i]);
			}
}

/* ---- fcgi_record_parse: malformed and incomplete records ---------- */

static int
is_malformed(const uint8_t *b, size_t len)
{
	struct fcgi_record	 r;
	const char		*errstr = NULL;
	int			 rc;

	rc = parse_exact(b, len, &r, &errstr);
	if (rc != -1) {
		diag("returned %d, want -1", rc);
		return 0;
	}
	if (errstr == NULL || *errstr == '\0') {
		diag("-1 without an errstr");
		return 0;
	}
	return 1;
}

static void
t_parse_bad_version_1byte(void)
{
	static const uint8_t	 bad[] = { 0, 2, 3, 0x10, 0x80, 0xff };
	size_t			 i;

	for (i = 0; i < sizeof(bad); i++)
		if (!CHECK(is_malformed(&bad[i], 1)))
			diag("version byte 0x%02x", bad[i]);
	/* The right version byte alone is just incomplete. */
	{
		struct fcgi_record	 r;
		const char		*errstr = "stale";

		CHECK_EQ(parse_exact((const uint8_t *)"\x01", 1, &r, &errstr),
		    0);
		CHECK(errstr == NULL);
	}
}

static void
t_parse_bad_version_full(void)
{
	uint8_t	 b[24];
	size_t	 len;

	memset(b, 0, sizeof(b));
	fcgi_header_pack(b, FCGI_STDOUT, 1, 5, 3);
	b[0] = 0;
	for (len = 1; len <= 16; len++)
		if (!CHECK(is_malformed(b, len)))
			diag("len %zu", len);
	/* Version 2 on an otherwise perfect BEGIN_REQUEST. */
	fcgi_header_pack(b, FCGI_BEGIN_REQUEST, 1, 8, 0);
	b[0] = 2;
	CHECK(is_malformed(b, 16));
	/* An HTTP request sent to a FastCGI port. */
	CHECK(is_malformed((const uint8_t *)"GET / HTTP/1.1\r\n", 16));
}


/* A fixed-size type with every wrong length, known from the header alone. */
static void
check_fixed_size(uint8_t type, uint16_t id)
{
	static const uint16_t	 bad[] = { 0, 1, 7, 9, 16, 0xffff };
	uint8_t			 b[32];
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(b, 0, sizeof(b));
		fcgi_header_pack(b, type, id, bad[i], 0);
		if (!CHECK(is_malformed(b, 8)))
			diag("type %u length %u, header only", type, bad[i]);
		if (bad[i] <= 16 && !CHECK(is_malformed(b, 8 + bad[i])))
			diag("type %u length %u, whole record", type, bad[i]);
	}
	/* Padding does not count: 8 bytes with 8 padding is fine. */
	fcgi_header_pack(b, type, id, 8, 8);
	CHECK_EQ(parse_exact(b, 24, &(struct fcgi_record){ 0 },
	    &(const char *){ NULL }), 24);
}

static void
t_parse_begin_wrong_len(void)
{
	check_fixed_size(FCGI_BEGIN_REQUEST, 1);
}

static void
t_parse_end_wrong_len(void)
{
	check_fixed_size(FCGI_END_REQUEST, 1);
}

static void
t_parse_unknown_type_wrong_len(void)
{
	check_fixed_size(FCGI_UNKNOWN_TYPE, 0);
}

static void
t_parse_management_nonzero_id(void)
{
	static const uint16_t	 ids[] = { 1, 2, 0x100, 0xffff };
	uint8_t			 b[16];
	unsigned		 t;
	size_t			 i;

	for (t = FCGI_GET_VALUES; t <= FCGI_UNKNOWN_TYPE; t++)
		for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
			memset(b, 0, sizeof(b));
			fcgi_header_pack(b, (uint8_t)t, ids[i], 8, 0);
			if (!CHECK(is_malformed(b, 8)) ||
			    !CHECK(is_malformed(b, 16)))
				diag("type %u id %u", t, ids[i]);
		}
}

static void
t_parse_app_id0(void)
{
	uint8_t		 b[16];
	unsigned	 t;

	for (t = FCGI_BEGIN_REQUEST; t <= FCGI_DATA; t++) {
		int fixed = t == FCGI_BEGIN_REQUEST || t == FCGI_END_REQUEST;

		memset(b, 0, sizeof(b));
		fcgi_header_pack(b, (uint8_t)t, 0, fixed ? 8 : 0, 0);
		if (!CHECK(is_malformed(b, 8)) ||
		    !CHECK(is_malformed(b, fixed ? 16 : 8)))
			diag("type %u id 0", t);
	}
}

static void
t_parse_incomplete_header(void)
{
	uint8_t			 b[16];
	struct fcgi_record	 r;
	const char		*errstr;
	size_t			 len;
	unsigned		 t;

	errstr = "stale";
	CHECK_EQ(parse_exact((const uint8_t *)"", 0, &r, &errstr), 0);
	CHECK(errstr == NULL);
	for (t = 0; t < 14; t++) {
		memset(b, 0, sizeof(b));
		/* Even headers that will turn out malformed: unknown yet. */
		fcgi_header_pack(b, (uint8_t)t, 0, 8, 0);
		for (len = 1; len < 8; len++) {
			errstr = "stale";
			if (!CHECK_EQ(parse_exact(b, len, &r, &errstr), 0))
				diag("type %u, %zu header bytes", t, len);
			CHECK(errstr == NULL);
		}
	}
}

static void
t_parse_incomplete_content(void)
{
	static const uint16_t	 lens[] = { 1, 8, 13, 300 };
	uint8_t			 b[8 + 300 + 4];
	struct fcgi_record	 r;
	const char		*errstr;
	size_t			 i, cut;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		memset(b, 'k', sizeof(b));
		fcgi_header_pack(b, FCGI_STDOUT, 1, lens[i], 0);
		for (cut = 8; cut < 8 + (size_t)lens[i]; cut++) {
			errstr = "stale";
			if (!CHECK_EQ(parse_exact(b, cut, &r, &errstr), 0)) {
				diag("length %u cut at %zu", lens[i], cut);
				break;
			}
			CHECK(errstr == NULL);
		}
		CHECK_EQ(parse_exact(b, 8 + lens[i], &r, &errstr),
		    8 + lens[i]);
	}
	/* A BEGIN_REQUEST whose body has not all arrived. */
	fcgi_header_pack(b, FCGI_BEGIN_REQUEST, 1, 8, 0);
	for (cut = 8; cut < 16; cut++)
		CHECK_EQ(parse_exact(b, cut, &r, &errstr), 0);
}

static void
t_parse_incomplete_padding(void)
{
	uint8_t			 b[8 + 5 + 255];
	struct fcgi_record	 r;
	const char		*errstr;
	size_t			 cut;

	memset(b, 0, sizeof(b));
	fcgi_header_pack(b, FCGI_STDOUT, 1, 5, 3);
	for (cut = 13; cut < 16; cut++) {
		errstr = "stale";
		CHECK_EQ(parse_exact(b, cut, &r, &errstr), 0);
		CHECK(errstr == NULL);
	}
	CHECK_EQ(parse_exact(b, 16, &r, &errstr), 16);
	/* Padding on an empty record, and the largest padding. */
	fcgi_header_pack(b, FCGI_STDIN, 1, 0, 255);
	for (cut = 8; cut < 8 + 255; cut++)
		if (!CHECK_EQ(parse_exact(b, cut, &r, &errstr), 0))
			break;
	CHECK_EQ(parse_exact(b, 8 + 255, &r, &errstr), 8 + 255);
	fcgi_header_pack(b, FCGI_STDIN, 1, 5, 255);
	CHECK_EQ(parse_exact(b, 8 + 5 + 254, &r, &errstr), 0);
	CHECK_EQ(parse_exact(b, 8 + 5 + 255, &r, &errstr), 8 + 5 + 255);
}

/* ---- fcgi_stream_header ------------------------------------------- */

static void
t_stream_header_empty(void)
{
	uint8_t	 h[8];
	uint8_t	 pad = 0xee;

	memset(h, 0xee, sizeof(h));
	CHECK_EQ(fcgi_stream_header(h, FCGI_STDIN, 1, 0, 0, &pad), 0);
	CHECK_EQ(pad, 0);
	CHECK_MEM(h, "\x01\x05\x00\x01\x00\x00\x00\x00", 8);
	pad = 0xee;
	CHECK_EQ(fcgi_stream_header(h, FCGI_PARAMS, 0x0203, 0, 16, &pad), 0);
	CHECK_EQ(pad, 0);
	CHECK_MEM(h, "\x01\x04\x02\x03\x00\x00\x00\x00", 8);
}

static void
t_stream_header_max(void)
{
	uint8_t	 h[8];
	uint8_t	 pad;

	CHECK_EQ(FCGI_MAX_PADDED_CONTENT, 65528);
	CHECK_EQ(fcgi_stream_header(h, FCGI_STDOUT, 1, 100000, 0, &pad),
	    65528);
	CHECK_EQ(pad, 0);
	CHECK_MEM(h, "\x01\x06\x00\x01\xff\xf8\x00\x00", 8);
	CHECK_EQ(fcgi_stream_header(h, FCGI_STDOUT, 1, 65528, 0, &pad), 65528);
	CHECK_EQ(fcgi_stream_header(h, FCGI_STDOUT, 1, 65529, 0, &pad), 65528);
	CHECK_EQ(fcgi_stream_header(h, FCGI_STDOUT, 1, 65535, 0, &pad), 65528);
	CHECK_EQ(fcgi_stream_header(h, FCGI_STDOUT, 1, SIZE_MAX, 0, &pad),
	    65528);
	CHECK_EQ(pad, 0);
	/* A maximum above the limit is clamped to it. */
	CHECK_EQ(fcgi_stream_header(h, FCGI_STDOUT, 1, 100000, 65529, &pad),
	    65528);
	CHECK_EQ(fcgi_stream_header(h, FCGI_STDOUT, 1, 100000, 65535, &pad),
	    65528);
	CHECK_EQ(fcgi_stream_header(h, FCGI_STDOUT, 1, 100000, SIZE_MAX,
	    &pad), 65528);
	CHECK_MEM(h, "\x01\x06\x00\x01\xff\xf8\x00\x00", 8);
	/* 65527 bytes get 1 byte of padding: 65528 still. */
	CHECK_EQ(fcgi_stream_header(h, FCGI_STDOUT, 1, 65527, 0, &pad), 65527);
	CHECK_EQ(pad, 1);
	CHECK_MEM(h, "\x01\x06\x00\x01\xff\xf7\x01\x00", 8);
}

static void
t_stream_header_padding(void)
{
	uint8_t		 h[8];
	uint8_t		 pad;
	size_t		 len, n;

	for (len = 1; len <= 64; len++) {
		n = fcgi_stream_header(h, FCGI_STDERR, 9, len, 0, &pad);
		CHECK_EQ(n, len);
		CHECK_EQ(pad, (8 - len % 8) % 8);
		CHECK_EQ((n + pad) % 8, 0);
		CHECK_EQ(h[0], 1);
		CHECK_EQ(h[1], FCGI_STDERR);
		CHECK_EQ(fcgi_get_be16(h + 2), 9);
		CHECK_EQ(fcgi_get_be16(h + 4), len);
		CHECK_EQ(h[6], pad);
		CHECK_EQ(h[7], 0);
	}
}

static void
t_stream_header_clamp(void)
{
	uint8_t	 h[8];
	uint8_t	 pad;

	CHECK_EQ(fcgi_stream_header(h, FCGI_STDOUT, 1, 1000, 100, &pad), 100);
	CHECK_EQ(pad, 4);
	CHECK_MEM(h, "\x01\x06\x00\x01\x00\x64\x04\x00", 8);
	CHECK_EQ(fcgi_stream_header(h, FCGI_STDOUT, 1, 99, 100, &pad), 99);
	CHECK_EQ(pad, 5);
	CHECK_EQ(fcgi_stream_header(h, FCGI_STDOUT, 1, 100, 100, &pad), 100);
	CHECK_EQ(fcgi_stream_header(h, FCGI_STDOUT, 1, 1000, 1, &pad), 1);
	CHECK_EQ(pad, 7);
	CHECK_EQ(fcgi_stream_header(h, FCGI_STDOUT, 1, 1000, 8, &pad), 8);
	CHECK_EQ(pad, 0);
	CHECK_EQ(fcgi_stream_header(h, FCGI_STDIN, 1, 100000, 32768, &pad),
	    32768);
	CHECK_MEM(h, "\x01\x05\x00\x01\x80\x00\x00\x00", 8);
}

/* Frames payload as a stream with max, then parses it back. */
static void
frame_and_reparse(const uint8_t *payload, size_t len, size_t max)
{
	size_t			 cap = len + (len / 1 + 2) * 16 + 64;
	uint8_t			*wire, *back, pad;
	size_t			 off = 0, w = 0, n, got = 0, eff;
	struct fcgi_record	 r;
	const char		*errstr;
	int			 rc, ended = 0, nrec = 0;

	eff = max == 0 || max > FCGI_MAX_PADDED_CONTENT ?
	    FCGI_MAX_PADDED_CONTENT : max;
	wire = xmalloc(cap);
	back = xmalloc(len);
	for (;;) {
		n = fcgi_stream_header(wire + w, FCGI_STDOUT, 3, len - off, max,
		    &pad);
		if (!CHECK(n <= eff) || !CHECK(n <= len - off))
			goto done;
		if (off < len && !CHECK(n > 0))
			goto done;
		w += 8;
		memcpy(wire + w, payload + off, n);
		w += n;
		memset(wire + w, 0, pad);
		w += pad;
		off += n;
		if (n == 0)
			break;
	}
	CHECK_EQ(off, len);
	for (off = 0; off < w; off += (size_t)rc) {
		rc = fcgi_record_parse(wire + off, w - off, &r, &errstr);
		if (!CHECK(rc > 0))
			goto done;
		nrec++;
		CHECK_EQ(r.hdr.type, FCGI_STDOUT);
		CHECK_EQ(r.hdr.request_id, 3);
		CHECK_EQ(rc % 8, 0);
		if (r.hdr.content_length == 0) {
			ended = 1;
			CHECK_EQ(off + (size_t)rc, w);
		}
		memcpy(back + got, r.content, r.hdr.content_length);
		got += r.hdr.content_length;
	}
	CHECK(ended);
	CHECK_EQ(got, len);
	CHECK_MEM(back, payload, len);
	CHECK_EQ(nrec, (len + eff - 1) / eff + 1);
done:
	free(wire);
	free(back);
}

static void
t_stream_framing_roundtrip(void)
{
	static const size_t	 maxes[] = { 0, 1, 8, 100, 8184, 32768, 65528,
	    70000 };
	static const size_t	 lens[] = { 0, 1, 7, 8, 65528, 65529, 100000 };
	uint8_t			*payload;
	uint32_t		 s = 7;
	size_t			 i, j;

	payload = xmalloc(100000);
	for (i = 0; i < 100000; i++)
		payload[i] = (uint8_t)rnd(&s);
	for (i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++)
		for (j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			if (maxes[i] == 1 && lens[j] > 70000)
				continue;
			frame_and_reparse(payload, lens[j], maxes[i]);
		}
	free(payload);
}

/*
 * Frames payload as fcgi_stream_header would and compares each record with
 * the next records of that type in a capture, bytes and all.
 */
static void
check_reframe(const uint8_t *data, const struct recs *r, uint8_t type,
    uint16_t id, const uint8_t *payload, size_t len, size_t max,
    int with_empty)
{
	uint8_t		 hdr[8], pad;
	size_t		 off = 0, i = 0, n, k;

	for (;;) {
		if (off == len && !with_empty)
			break;
		n = fcgi_stream_header(hdr, type, id, len - off, max, &pad);
		while (i < r->n && r->v[i].hdr.type != type)
			i++;
		if (!CHECK(i < r->n))
			return;
		if (!CHECK_MEM(data + r->v[i].off, hdr, 8)) {
			diag("record %zu at offset %zu", i, r->v[i].off);
			return;
		}
		CHECK_MEM(rec_content(data, &r->v[i]), payload + off, n);
		for (k = 0; k < pad; k++)
			CHECK_EQ(data[r->v[i].off + 8 + n + k], 0);
		i++;
		off += n;
		if (n == 0)
			break;
	}
	/* No further record of that type. */
	while (i < r->n)
		CHECK(r->v[i++].hdr.type != type);
}

static void
t_stream_reproduces_nginx_apache_stdin(void)
{
	static const struct {
		const char	*bin, *body;
		size_t		 max;
	} c[] = {
		{ "nginx-post-100k.bin", "nginx-post-100k.body", 32768 },
		{ "apache-post-100k.bin", "apache-post-100k.body", 8192 },
	};
	size_t	 i, blen;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct recs	 r = { 0 };
		const uint8_t	*data;
		uint8_t		*body;

		if ((body = read_file(c[i].body, &blen)) == NULL) {
			FAIL("no %s", c[i].body);
			continue;
		}
		if (capture_parse(c[i].bin, &data, &r))
			check_reframe(data, &r, FCGI_STDIN, 1, body, blen,
			    c[i].max, 1);
		free(body);
		recs_free(&r);
	}
}

static void
t_stream_reproduces_phpfpm_stdout(void)
{
	struct recs	 r = { 0 };
	const uint8_t	*data;
	uint8_t		*out;
	size_t		 len;
	int		 closed;

	if (!capture_parse("phpfpm-big-200k.out.bin", &data, &r))
		return;
	out = stream_get(data, &r, FCGI_STDOUT, 0, &len, &closed);
	CHECK_EQ(len, 204842);
	/* php-fpm sends no empty STDOUT record: END_REQUEST ends it. */
	check_reframe(data, &r, FCGI_STDOUT, 1, out, len, 8184, 0);
	free(out);
	recs_free(&r);
}

/* ---- fcgi_nv_pack ------------------------------------------------- */

static void
t_nv_pack_short(void)
{
	uint8_t	 out[64];

	memset(out, 0xee, sizeof(out));
	CHECK_EQ(fcgi_nv_pack(out, sizeof(out), "A", 1, "b", 1), 4);
	CHECK_MEM(out, "\x01\x01" "Ab", 4);
	CHECK_EQ(out[4], 0xee);
	CHECK_EQ(fcgi_nv_pack(out, sizeof(out), "REQUEST_METHOD", 14, "GET",
	    3), 19);
	CHECK_MEM(out, "\x0e\x03REQUEST_METHODGET", 19);
}

static void
t_nv_pack_empty(void)
{
	uint8_t	 out[8];

	memset(out, 0xee, sizeof(out));
	CHECK_EQ(fcgi_nv_pack(out, sizeof(out), "", 0, "", 0), 2);
	CHECK_MEM(out, "\x00\x00", 2);
	CHECK_EQ(out[2], 0xee);
	CHECK_EQ(fcgi_nv_pack(out, sizeof(out), NULL, 0, NULL, 0), 2);
	CHECK_EQ(fcgi_nv_pack(out, sizeof(out), "FCGI_MAX_CONNS", 0, NULL, 0),
	    2);
	memset(out, 0xee, sizeof(out));
	CHECK_EQ(fcgi_nv_pack(out, sizeof(out), "NAME", 4, NULL, 0), 6);
	CHECK_MEM(out, "\x04\x00NAME", 6);
}

static void
t_nv_pack_127_128(void)
{
	uint8_t	 name[300], value[300], out[700];

	memset(name, 'n', sizeof(name));
	memset(value, 'v', sizeof(value));

	/* 127: one length byte. */
	CHECK_EQ(fcgi_nv_pack(out, sizeof(out), name, 127, value, 1),
	    1 + 1 + 127 + 1);
	CHECK_MEM(out, "\x7f\x01", 2);
	CHECK_MEM(out + 2, name, 127);
	CHECK_EQ(out[129], 'v');
	/* 128: four bytes, top bit set. */
	CHECK_EQ(fcgi_nv_pack(out, sizeof(out), name, 128, value, 1),
	    4 + 1 + 128 + 1);
	CHECK_MEM(out, "\x80\x00\x00\x80\x01", 5);
	CHECK_MEM(out + 5, name, 128);
	CHECK_EQ(out[133], 'v');
	/* The same on the value side. */
	CHECK_EQ(fcgi_nv_pack(out, sizeof(out), name, 1, value, 127),
	    1 + 1 + 1 + 127);
	CHECK_MEM(out, "\x01\x7f" "n", 3);
	CHECK_EQ(fcgi_nv_pack(out, sizeof(out), name, 1, value, 128),
	    1 + 4 + 1 + 128);
	CHECK_MEM(out, "\x01\x80\x00\x00\x80" "n", 6);
	CHECK_MEM(out + 6, value, 128);
	/* Both long. */
	CHECK_EQ(fcgi_nv_pack(out, sizeof(out), name, 300, value, 256),
	    4 + 4 + 300 + 256);
	CHECK_MEM(out, "\x80\x00\x01\x2c\x80\x00\x01\x00", 8);
	CHECK_MEM(out + 8, name, 300);
	CHECK_MEM(out + 308, value, 256);
}

static void
t_nv_pack_outsz(void)
{
	uint8_t	 out[32];
	size_t	 sz;

	for (sz = 0; sz < 19; sz++) {
		memset(out, 0xee, sizeof(out));
		CHECK_EQ(fcgi_nv_pack(out, sz, "REQUEST_METHOD", 14, "GET", 3),
		    19);
		CHECK_EQ(out[0], 0xee);
		CHECK_EQ(out[sz > 0 ? sz - 1 : 0], 0xee);
	}
	/* Like snprintf, a NULL buffer of size 0 asks for the size. */
	CHECK_EQ(fcgi_nv_pack(NULL, 0, "REQUEST_METHOD", 14, "GET", 3), 19);
	CHECK_EQ(fcgi_nv_pack(NULL, 0, "x", 1, "y", 200), 1 + 4 + 1 + 200);
	memset(out, 0xee, sizeof(out));
	CHECK_EQ(fcgi_nv_pack(out, 19, "REQUEST_METHOD", 14, "GET", 3), 19);
	CHECK_EQ(out[19], 0xee);
}

static void
t_nv_pack_limits(void)
{
	uint8_t	 out[16];

	memset(out, 0xee, sizeof(out));
	/* Above 31 bits: refused, nothing read or written. */
	CHECK_EQ(fcgi_nv_pack(out, sizeof(out), "x", 0x80000000UL, "y", 1), 0);
	CHECK_EQ(fcgi_nv_pack(out, sizeof(out), "x", 1, "y", 0x80000000UL), 0);
	CHECK_EQ(fcgi_nv_pack(out, sizeof(out), "x", SIZE_MAX, "y", 1), 0);
	CHECK_EQ(fcgi_nv_pack(out, sizeof(out), "x", 1, "y", SIZE_MAX), 0);
	CHECK_EQ(out[0], 0xee);
	/* 2^31-1 is allowed: the size is reported, nothing is written. */
	CHECK_EQ(fcgi_nv_pack(out, sizeof(out), "x", FCGI_MAX_NV_LEN, "y", 0),
	    4 + 1 + (size_t)FCGI_MAX_NV_LEN);
	CHECK_EQ(fcgi_nv_pack(out, sizeof(out), "x", 1, "y", FCGI_MAX_NV_LEN),
	    1 + 4 + 1 + (size_t)FCGI_MAX_NV_LEN);
	CHECK_EQ(out[0], 0xee);
}

static void
t_nv_pack_get_values_golden(void)
{
	static const char *const names[] = {
		"FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"
	};
	uint8_t		 pairs[64], rec[128], *p = pairs;
	size_t		 i, n, len;
	const uint8_t	*want;

	for (i = 0; i < 3; i++) {
		n = fcgi_nv_pack(p, sizeof(pairs) - (size_t)(p - pairs),
		    names[i], strlen(names[i]), NULL, 0);
		CHECK_EQ(n, 2 + strlen(names[i]));
		p += n;
	}
	n = fcgi_record_pack(rec, sizeof(rec), FCGI_GET_VALUES, 0, pairs,
	    (size_t)(p - pairs));
	CHECK_EQ(n, 56);
	if ((want = capture_get("phpfpm-get-values.in.bin", &len)) != NULL &&
	    CHECK_EQ(n, len))
		CHECK_MEM(rec, want, len);

	/* php-fpm's answer. */
	n = fcgi_nv_pack(pairs, sizeof(pairs), "FCGI_MPXS_CONNS", 15, "0", 1);
	CHECK_EQ(n, 18);
	n = fcgi_record_pack(rec, sizeof(rec), FCGI_GET_VALUES_RESULT, 0,
	    pairs, n);
	CHECK_EQ(n, 32);
	if ((want = capture_get("phpfpm-get-values.out.bin", &len)) != NULL &&
	    CHECK_EQ(n, len))
		CHECK_MEM(rec, want, len);
}

/* ---- fcgi_nv_parse ------------------------------------------------ */

static void
t_nv_parse_short(void)
{
	static const uint8_t	 b[] = "\x0e\x03REQUEST_METHODGETtrailing";
	struct fcgi_nv		 nv;

	CHECK_EQ(fcgi_nv_parse(b, sizeof(b) - 1, FCGI_MAX_NV_LEN, &nv), 19);
	CHECK(nv.name == b + 2);
	CHECK_EQ(nv.name_len, 14);
	CHECK(nv.value == b + 16);
	CHECK_EQ(nv.value_len, 3);
	CHECK_EQ(nv_parse_exact(b, 19, FCGI_MAX_NV_LEN, &nv), 19);
}

static void
t_nv_parse_long_lengths(void)
{
	uint8_t		 b[4 + 4 + 128 + 300];
	struct fcgi_nv	 nv;

	memset(b, 'z', sizeof(b));
	memcpy(b, "\x80\x00\x00\x80\x80\x00\x01\x2c", 8);
	CHECK_EQ(nv_parse_exact(b, sizeof(b), FCGI_MAX_NV_LEN, &nv),
	    (long long)sizeof(b));
	CHECK_EQ(fcgi_nv_parse(b, sizeof(b), FCGI_MAX_NV_LEN, &nv),
	    (long long)sizeof(b));
	CHECK_EQ(nv.name_len, 128);
	CHECK_EQ(nv.value_len, 300);
	CHECK(nv.name == b + 8);
	CHECK(nv.value == b + 8 + 128);
	/* Mixed: short name, long value. */
	memcpy(b, "\x05\x80\x00\x00\x80", 5);
	CHECK_EQ(nv_parse_exact(b, 5 + 5 + 128, FCGI_MAX_NV_LEN, &nv),
	    5 + 5 + 128);
	CHECK_EQ(nv.name_len, 5);
	CHECK_EQ(nv.value_len, 128);
	/* The 4-byte form of a small length is accepted as written. */
	memcpy(b, "\x80\x00\x00\x02\x80\x00\x00\x00", 8);
	CHECK_EQ(nv_parse_exact(b, 10, FCGI_MAX_NV_LEN, &nv), 10);
	CHECK_EQ(nv.name_len, 2);
	CHECK_EQ(nv.value_len, 0);
	/* 127 in one byte is the largest short length. */
	memcpy(b, "\x7f\x00", 2);
	CHECK_EQ(nv_parse_exact(b, 2 + 127, FCGI_MAX_NV_LEN, &nv), 129);
	CHECK_EQ(nv.name_len, 127);
}

static void
t_nv_parse_empty(void)
{
	struct fcgi_nv	 nv;

	CHECK_EQ(nv_parse_exact((const uint8_t *)"\x00\x00", 2,
	    FCGI_MAX_NV_LEN, &nv), 2);
	CHECK_EQ(nv.name_len, 0);
	CHECK_EQ(nv.value_len, 0);
	CHECK_EQ(nv_parse_exact((const uint8_t *)"\x04\x00NAME", 6,
	    FCGI_MAX_NV_LEN, &nv), 6);
	CHECK_EQ(nv.name_len, 4);
	CHECK_EQ(nv.value_len, 0);
	CHECK_EQ(nv_parse_exact((const uint8_t *)"\x00\x01x", 3,
	    FCGI_MAX_NV_LEN, &nv), 3);
	CHECK_EQ(nv.value_len, 1);
	/* A 0 max_len still takes empty pairs. */
	CHECK_EQ(nv_parse_exact((const uint8_t *)"\x00\x00", 2, 0, &nv), 2);
	CHECK_EQ(nv_parse_exact((const uint8_t *)"\x01\x00x", 3, 0, &nv), -1);
}

static void
t_nv_name_is(void)
{
	static const uint8_t	 b[] = "SCRIPT_NAMEx\0";
	struct fcgi_nv		 nv = { b, 11, NULL, 0 };

	CHECK(fcgi_nv_name_is(&nv, "SCRIPT_NAME"));
	CHECK(!fcgi_nv_name_is(&nv, "script_name"));
	CHECK(!fcgi_nv_name_is(&nv, "SCRIPT_NAM"));
	CHECK(!fcgi_nv_name_is(&nv, "SCRIPT_NAMEx"));
	CHECK(!fcgi_nv_name_is(&nv, ""));
	/* A NUL inside the name: never equal to a C string. */
	nv.name_len = 13;
	CHECK(!fcgi_nv_name_is(&nv, "SCRIPT_NAMEx"));
	nv.name_len = 0;
	CHECK(fcgi_nv_name_is(&nv, ""));
	CHECK(!fcgi_nv_name_is(&nv, "S"));
}

/* Every strict prefix of an encoded pair is "need more". */
static void
check_every_cut(const uint8_t *pair, size_t n)
{
	struct fcgi_nv	 nv;
	size_t		 cut;

	for (cut = 0; cut < n; cut++)
		if (!CHECK_EQ(nv_parse_exact(pair, cut, FCGI_MAX_NV_LEN, &nv),
		    0)) {
			diag("pair of %zu bytes cut at %zu", n, cut);
			return;
		}
	CHECK_EQ(nv_parse_exact(pair, n, FCGI_MAX_NV_LEN, &nv), (long long)n);
}

static void
t_nv_parse_every_cut(void)
{
	static const size_t	 lens[][2] = {
		{ 0, 0 }, { 1, 0 }, { 0, 1 }, { 3, 5 }, { 127, 127 },
		{ 128, 0 }, { 0, 128 }, { 128, 129 }, { 14, 300 }, { 300, 2 }
	};
	uint8_t			 name[300], value[300], out[700];
	size_t			 i, n;

	memset(name, 'N', sizeof(name));
	memset(value, 'V', sizeof(value));
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		n = fcgi_nv_pack(out, sizeof(out), name, lens[i][0], value,
		    lens[i][1]);
		if (CHECK(n > 0 && n <= sizeof(out)))
			check_every_cut(out, n);
	}
	/* 4-byte lengths cut inside themselves, with huge declared lengths. */
	{
		struct fcgi_nv	 nv;
		const uint8_t	*b = (const uint8_t *)
		    "\x81\x00\x00\x00\x82\x00\x00\x00";

		for (n = 0; n <= 8; n++)
			if (!CHECK_EQ(nv_parse_exact(b, n, FCGI_MAX_NV_LEN,
			    &nv), 0))
				diag("cut at %zu", n);
	}
}

static void
t_nv_parse_max_len(void)
{
	uint8_t		 b[8 + 200];
	struct fcgi_nv	 nv;

	memset(b, 'm', sizeof(b));
	/* name 100, value 50: passes with max 150, not with 149 or 99. */
	memcpy(b, "\x64\x32", 2);
	CHECK_EQ(nv_parse_exact(b, 152, 150, &nv), 152);
	CHECK_EQ(nv_parse_exact(b, 152, 149, &nv), -1);
	CHECK_EQ(nv_parse_exact(b, 152, 100, &nv), -1);
	CHECK_EQ(nv_parse_exact(b, 152, 99, &nv), -1);
	/* -1 comes as soon as both lengths are known, content or not. */
	CHECK_EQ(nv_parse_exact(b, 2, 99, &nv), -1);
	CHECK_EQ(nv_parse_exact(b, 2, 150, &nv), 0);
	/* Same with 4-byte lengths. */
	memcpy(b, "\x80\x00\x00\xc8\x00", 5);
	CHECK_EQ(nv_parse_exact(b, 5 + 200, 200, &nv), 205);
	CHECK_EQ(nv_parse_exact(b, 5 + 200, 199, &nv), -1);
	CHECK_EQ(nv_parse_exact(b, 5, 199, &nv), -1);
	CHECK_EQ(nv_parse_exact(b, 4, 199, &nv), 0);
}

static void
t_nv_parse_31bit_bound(void)
{
	struct fcgi_nv	 nv;

	/* The top bit is the marker: 0xffffffff is a length of 2^31-1. */
	CHECK_EQ(nv_parse_exact((const uint8_t *)"\xff\xff\xff\xff\x00", 5,
	    FCGI_MAX_NV_LEN, &nv), 0);
	CHECK_EQ(nv_parse_exact((const uint8_t *)"\xff\xff\xff\xff\x00", 5,
	    FCGI_MAX_NV_LEN - 1, &nv), -1);
	CHECK_EQ(nv_parse_exact((const uint8_t *)"\x00\xff\xff\xff\xff", 5,
	    FCGI_MAX_NV_LEN, &nv), 0);
	CHECK_EQ(nv_parse_exact((const uint8_t *)"\x00\xff\xff\xff\xff", 5,
	    FCGI_MAX_NV_LEN - 1, &nv), -1);
	/* Both at 2^31-1: their sum has no room in the 31-bit bound. */
	CHECK_EQ(nv_parse_exact((const uint8_t *)
	    "\xff\xff\xff\xff\xff\xff\xff\xff", 8, FCGI_MAX_NV_LEN, &nv), -1);
	CHECK_EQ(nv_parse_exact((const uint8_t *)
	    "\xff\xff\xff\xff\x01x", 6, FCGI_MAX_NV_LEN, &nv), -1);
	/* 0x80000000 is a length of 0. */
	CHECK_EQ(nv_parse_exact((const uint8_t *)
	    "\x80\x00\x00\x00\x80\x00\x00\x00", 8, 0, &nv), 8);
	CHECK_EQ(nv.name_len, 0);
	CHECK_EQ(nv.value_len, 0);
	/* max_len larger than the protocol allows does not break it. */
	CHECK_EQ(nv_parse_exact((const uint8_t *)"\x01\x01xy", 4, SIZE_MAX,
	    &nv), 4);
}

static void
t_nv_roundtrip(void)
{
	static const size_t	 lens[] = { 0, 1, 2, 126, 127, 128, 129, 255,
	    256, 1000, 70000 };
	size_t			 nl = sizeof(lens) / sizeof(lens[0]);
	uint8_t			*name, *value, *out;
	size_t			 i, j, n, outsz = 2 * 70000 + 8;
	struct fcgi_nv		 nv;
	uint32_t		 s = 3;

	name = xmalloc(70000);
	value = xmalloc(70000);
	out = xmalloc(outsz);
	for (i = 0; i < 70000; i++) {
		name[i] = (uint8_t)rnd(&s);
		value[i] = (uint8_t)rnd(&s);
	}
	for (i = 0; i < nl; i++)
		for (j = 0; j < nl; j++) {
			n = fcgi_nv_pack(out, outsz, name, lens[i], value,
			    lens[j]);
			CHECK_EQ(n, (lens[i] < 128 ? 1 : 4) +
			    (lens[j] < 128 ? 1 : 4) + lens[i] + lens[j]);
			if (!CHECK_EQ(fcgi_nv_parse(out, n, FCGI_MAX_NV_LEN,
			    &nv), (long long)n))
				continue;
			CHECK_EQ(nv.name_len, lens[i]);
			CHECK_EQ(nv.value_len, lens[j]);
			CHECK_MEM(nv.name, name, lens[i]);
			CHECK_MEM(nv.value, value, lens[j]);
		}
	free(name);
	free(value);
	free(out);
}

/* ---- fcgi_pairs_chunk --------------------------------------------- */

/* Appends a pair to a growing stream. */
static size_t
stream_add(uint8_t *s, size_t off, size_t cap, size_t nlen, size_t vlen,
    int fill)
{
	static uint8_t	 bytes[100000];
	size_t		 n;

	if (nlen > sizeof(bytes) || vlen > sizeof(bytes)) {
		FAIL("pair too large for the test");
		return off;
	}
	memset(bytes, fill, nlen > vlen ? nlen : vlen);
	n = fcgi_nv_pack(s + off, cap - off, bytes, nlen, bytes, vlen);
	if (n > cap - off) {
		FAIL("test stream too small");
		return off;
	}
	return off + n;
}

static void
t_pairs_chunk_fits(void)
{
	uint8_t	 s[64];
	size_t	 len;

	len = stream_add(s, 0, sizeof(s), 5, 5, 'a');
	len = stream_add(s, len, sizeof(s), 5, 5, 'b');
	CHECK_EQ(len, 24);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 24), 24);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 100), 24);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 0), 24);
	CHECK_EQ(fcgi_pairs_chunk(s, 0, 0, 16), 0);
	CHECK_EQ(fcgi_pairs_chunk(s, 0, 0, 0), 0);
	CHECK_EQ(fcgi_pairs_chunk(s, 1, 0, 1), 1);
	/* A stream that fits goes whole, decodable or not, even at max. */
	CHECK_EQ(fcgi_pairs_chunk((const uint8_t *)"\xff\xff", 2, 0, 8), 2);
	CHECK_EQ(fcgi_pairs_chunk((const uint8_t *)"\x01\x01xy\x7f", 5, 0, 5),
	    5);
	CHECK_EQ(fcgi_pairs_chunk((const uint8_t *)"\x01\x01xy\x7f", 5, 0, 4),
	    4);
}

static void
t_pairs_chunk_whole_pairs(void)
{
	uint8_t	 s[256];
	size_t	 len, i;

	/* Five 12-byte pairs. */
	for (len = 0, i = 0; i < 5; i++)
		len = stream_add(s, len, sizeof(s), 5, 5, 'a' + (int)i);
	CHECK_EQ(len, 60);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 59), 48);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 48), 48);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 47), 36);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 25), 24);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 24), 24);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 23), 12);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 12), 12);
	/* Uneven pairs: 4, 30, 4. */
	len = stream_add(s, 0, sizeof(s), 1, 1, 'x');
	len = stream_add(s, len, sizeof(s), 10, 18, 'y');
	len = stream_add(s, len, sizeof(s), 1, 1, 'z');
	CHECK_EQ(len, 38);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 33), 4);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 34), 34);
	CHECK_EQ(fcgi_pairs_chunk(s + 4, len - 4, 0, 33), 30);
}

static void
t_pairs_chunk_big_pair(void)
{
	uint8_t	 s[512];
	size_t	 len;

	/* One pair of 1 + 4 + 4 + 200 = 209 bytes. */
	len = stream_add(s, 0, sizeof(s), 4, 200, 'b');
	CHECK_EQ(len, 209);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 16), 16);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 8), 8);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 1), 1);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 208), 208);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 209), 209);
	/* Small pairs ahead of a big one go first, on their own. */
	len = stream_add(s, 0, sizeof(s), 2, 2, 'a');		/* 6 */
	len = stream_add(s, len, sizeof(s), 2, 2, 'a');		/* 12 */
	len = stream_add(s, len, sizeof(s), 4, 200, 'b');	/* 221 */
	len = stream_add(s, len, sizeof(s), 2, 2, 'c');		/* 227 */
	CHECK_EQ(len, 227);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 16), 12);
	CHECK_EQ(fcgi_pairs_chunk(s + 12, len - 12, 0, 16), 16);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 100), 12);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 221), 221);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 226), 221);
}

static void
t_pairs_chunk_undecodable(void)
{
	uint8_t	 s[100];

	/* Lengths that no bound allows. */
	memset(s, 0xff, sizeof(s));
	CHECK_EQ(fcgi_pairs_chunk(s, sizeof(s), 0, 16), 16);
	/* A pair that claims more bytes than the stream has. */
	memset(s, 'x', sizeof(s));
	s[0] = 0x7f;
	s[1] = 0x7f;
	CHECK_EQ(fcgi_pairs_chunk(s, sizeof(s), 0, 16), 16);
	/* Whole pairs, then a truncated one. */
	memcpy(s, "\x01\x01xy\x01\x01xy\x7f\x7f", 10);
	CHECK_EQ(fcgi_pairs_chunk(s, 60, 0, 16), 8);
}

static void
t_pairs_chunk_max_clamp(void)
{
	uint8_t	*s;
	size_t	 len = 0, cap = 200000, i;

	s = xmalloc(cap);
	/* 100 pairs of 1 + 4 + 10 + 1000 = 1015 bytes. */
	for (i = 0; i < 100; i++)
		len = stream_add(s, len, cap, 10, 1000, 'a' + (int)(i % 26));
	CHECK_EQ(len, 101500);
	/* 64 pairs = 64960 <= 65528 < 65 pairs. */
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 0), 64960);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 65528), 64960);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 65535), 64960);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 1000000), 64960);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, SIZE_MAX), 64960);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 2030), 2030);
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 2029), 1015);
	/* One 70000-byte pair is split at the clamped maximum. */
	len = stream_add(s, 0, cap, 10, 35000, 'a');
	len = stream_add(s, len, cap, 0, 35000, 'b');
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 0), 35015);
	len = stream_add(s, 0, cap, 10, 39990, 'q');
	len = stream_add(s, len, cap, 10, 39990, 'r');
	CHECK_EQ(fcgi_pairs_chunk(s, len, 0, 0), 40005);
	memset(s, 0xff, 70000);
	CHECK_EQ(fcgi_pairs_chunk(s, 70000, 0, 0), 65528);
	CHECK_EQ(fcgi_pairs_chunk(s, 70000, 0, 70000), 65528);
	free(s);
}

/*
 * Splits stream with fcgi_pairs_chunk(max) and checks that the chunks put
 * back together give the stream, that each is within bounds, and that as
 * long as chunks start on a pair boundary, a pair that fits is never split
 * and as many whole pairs as fit are taken.
 */
static void
check_chunking(const uint8_t *stream, size_t len, size_t max)
{
	size_t		 eff, off = 0, n, nchunks = 0, p, q;
	uint8_t		*joined;
	int		 aligned = 1;
	struct fcgi_nv	 nv;
	long		 rc;

	eff = max == 0 || max > FCGI_MAX_PADDED_CONTENT ?
	    FCGI_MAX_PADDED_CONTENT : max;
	joined = xmalloc(len);
	while (off < len) {
		n = fcgi_pairs_chunk(stream, len, off, max);
		if (!CHECK(n > 0) || !CHECK(n <= len - off) ||
		    !CHECK(n <= eff)) {
			diag("max %zu, offset %zu of %zu: chunk %zu", max, off,
			    len, n);
			goto done;
		}
		if (aligned) {
			rc = fcgi_nv_parse(stream + off, len - off,
			    FCGI_MAX_NV_LEN, &nv);
			if (rc > 0 && (size_t)rc <= eff) {
				/* Whole pairs, as many as fit. */
				for (p = 0; p < n; p += (size_t)rc) {
					rc = fcgi_nv_parse(stream + off + p,
					    n - p, FCGI_MAX_NV_LEN, &nv);
					if (rc <= 0)
						break;
				}
				if (!CHECK_EQ(p, n))
					diag("max %zu: chunk at %zu splits a "
					    "pair", max, off);
				q = off + n;
				rc = fcgi_nv_parse(stream + q, len - q,
				    FCGI_MAX_NV_LEN, &nv);
				if (q < len && rc > 0 && !CHECK((size_t)rc >
				    eff - n))
					diag("max %zu: chunk at %zu stops "
					    "early", max, off);
			} else {
				CHECK_EQ(n, len - off < eff ? len - off : eff);
				aligned = 0;
			}
		}
		memcpy(joined + off, stream + off, n);
		off += n;
		nchunks++;
	}
	CHECK_EQ(off, len);
	CHECK_MEM(joined, stream, len);
	CHECK(nchunks >= (len + eff - 1) / eff);
done:
	free(joined);
}

static void
t_pairs_chunk_reassemble_synthetic(void)
{
	static const size_t	 maxes[] = { 0, 65528, 1000, 100, 16, 8, 1 };
	uint8_t			*s;
	size_t			 len = 0, cap = 300000, i, k;
	uint32_t		 seed = 5;

	s = xmalloc(cap);
	for (i = 0; i < 300; i++) {
		size_t nlen = rnd(&seed) % 40, vlen;

		switch (rnd(&seed) % 4) {
		case 0:
			vlen = rnd(&seed) % 130;
			break;
		case 1:
			vlen = rnd(&seed) % 2000;
			break;
		case 2:
			vlen = 0;
			break;
		default:
			vlen = rnd(&seed) % 12;
			break;
		}
		if (i == 150)
			vlen = 70000;	/* larger than any record */
		if (i == 151 || i == 152)
			vlen = 30000;
		len = stream_add(s, len, cap, nlen, vlen, 'a' + (int)(i % 26));
	}
	for (k = 0; k < sizeof(maxes) / sizeof(maxes[0]); k++)
		check_chunking(s, len, maxes[k]);
	free(s);
}

/*
 * Reruns the chunking checks over every PARAMS and GET_VALUES stream in the
 * captures, with the real maximum and with tiny ones so that big pairs are
 * split.
 */
static void
t_pairs_chunk_reassemble_captures(void)
{
	static const size_t	 maxes[] = { 0, 16384, 1024, 16, 8 };
	size_t			 ci, k;
	unsigned		 which;

	for (ci = 0; ci < NCAPTURES; ci++) {
		struct recs	 r = { 0 };
		const uint8_t	*data;
		uint8_t		*s;
		size_t		 len;
		int		 closed;

		if (captures[ci].params_pairs < 0 &&
		    captures[ci].mgmt_pairs < 0)
			continue;
		if (!capture_parse(captures[ci].file, &data, &r))
			continue;
		for (which = 0; which < 2; which++) {
			s = stream_get(data, &r, FCGI_PARAMS, which, &len,
			    &closed);
			for (k = 0; k < sizeof(maxes) / sizeof(maxes[0]); k++)
				check_chunking(s, len, maxes[k]);
			free(s);
		}
		s = stream_get(data, &r, FCGI_GET_VALUES, 0, &len, &closed);
		for (k = 0; k < sizeof(maxes) / sizeof(maxes[0]); k++)
			check_chunking(s, len, maxes[k]);
		free(s);
		recs_free(&r);
	}
}

/* Apache splits its params between pairs at 16 KiB, as fcgi_pairs_chunk. */
static void
t_pairs_chunk_matches_apache(void)
{
	struct recs	 r = { 0 };
	const uint8_t	*data;
	uint8_t		*s;
	size_t		 len, off = 0, i, n;
	int		 closed;

	if (!capture_parse("apache-big-params.bin", &data, &r))
		return;
	s = stream_get(data, &r, FCGI_PARAMS, 0, &len, &closed);
	CHECK_EQ(len, 80782);
	CHECK(closed);
	for (i = 0; i < r.n && off < len; i++) {
		if (r.v[i].hdr.type != FCGI_PARAMS)
			continue;
		n = fcgi_pairs_chunk(s, len, off, 16384);
		if (!CHECK_EQ(n, r.v[i].hdr.content_length))
			diag("PARAMS record %zu", i);
		off += r.v[i].hdr.content_length;
	}
	CHECK_EQ(off, len);
	free(s);
	recs_free(&r);
}

/* ---- captures: whole ---------------------------------------------- */

static void
check_capture_records(struct capture *c)
{
	struct recs		 r = { 0 };
	const uint8_t		*data;
	const struct spec	*sp;
	size_t			 i = 0;
	unsigned		 k;

	if (!capture_parse(c->file, &data, &r))
		goto done;
	for (sp = c->recs; sp->count != 0; sp++)
		for (k = 0; k < sp->count; k++, i++) {
			const struct fcgi_header *h;

			if (i >= r.n) {
				FAIL("%s: %zu records, want more", c->file,
				    r.n);
				goto done;
			}
			h = &r.v[i].hdr;
			if (h->version != 1 || h->type != sp->type ||
			    h->request_id != sp->id ||
			    h->content_length != sp->clen ||
			    h->padding_length != sp->pad)
				FAIL("%s record %zu: type %u id %u %u(+%u), "
				    "want type %u id %u %u(+%u)", c->file, i,
				    h->type, h->request_id, h->content_length,
				    h->padding_length, sp->type, sp->id,
				    sp->clen, sp->pad);
		}
	if (i != r.n)
		FAIL("%s: %zu records, want %zu", c->file, r.n, i);
done:
	recs_free(&r);
}

static void
check_peer_records(enum peer peer)
{
	size_t	 i, n = 0;

	for (i = 0; i < NCAPTURES; i++)
		if (captures[i].peer == peer) {
			check_capture_records(&captures[i]);
			n++;
		}
	CHECK(n > 0);
}

static void t_capture_records_nginx(void) { check_peer_records(NGINX); }
static void t_capture_records_apache(void) { check_peer_records(APACHE); }
static void t_capture_records_lighttpd(void) { check_peer_records(LIGHTTPD); }
static void t_capture_records_fpm_in(void) { check_peer_records(FPM_IN); }
static void t_capture_records_fpm_out(void) { check_peer_records(FPM_OUT); }

static void
t_capture_begin_end_fields(void)
{
	size_t		 ci, i;
	uint16_t	 role;
	uint8_t		 flags, ps;
	uint32_t	 app;

	for (ci = 0; ci < NCAPTURES; ci++) {
		struct capture	*c = &captures[ci];
		struct recs	 r = { 0 };
		const uint8_t	*data;

		if (!capture_parse(c->file, &data, &r))
			continue;
		for (i = 0; i < r.n; i++) {
			struct fcgi_record rec;

			rec.hdr = r.v[i].hdr;
			rec.content = rec_content(data, &r.v[i]);
			if (rec.hdr.type == FCGI_BEGIN_REQUEST) {
				uint16_t want_role = strcmp(c->file,
				    "phpfpm-unknown-role.in.bin") == 0 ? 7 : 1;
				uint8_t want_flags = strcmp(c->file,
				    "nginx-keep-conn.bin") == 0;

				fcgi_begin_request_fields(&rec, &role, &flags);
				if (!CHECK_EQ(role, want_role) ||
				    !CHECK_EQ(flags, want_flags))
					diag("%s record %zu", c->file, i);
				/* The reserved bytes are zero. */
				CHECK_MEM(rec.content + 3, "\0\0\0\0\0", 5);
			}
			if (rec.hdr.type == FCGI_END_REQUEST) {
				fcgi_end_request_fields(&rec, &app, &ps);
				if (!CHECK_EQ(app, 0) ||
				    !CHECK_EQ(ps, FCGI_REQUEST_COMPLETE))
					diag("%s record %zu", c->file, i);
			}
		}
		recs_free(&r);
	}
}

/*
 * Every PARAMS stream decodes into the expected number of pairs and ends
 * with an empty record; GET_VALUES(_RESULT) records decode whole.
 */
static void
t_capture_pair_counts(void)
{
	size_t		 ci, i, len, total;
	unsigned	 which, nstreams;
	struct pairs	*p = xmalloc(sizeof(*p));

	for (ci = 0; ci < NCAPTURES; ci++) {
		struct capture	*c = &captures[ci];
		struct recs	 r = { 0 };
		const uint8_t	*data;
		uint8_t		*s;
		int		 closed;

		if (!capture_parse(c->file, &data, &r))
			continue;
		for (nstreams = 0, i = 0; i < r.n; i++)
			if (r.v[i].hdr.type == FCGI_PARAMS &&
			    r.v[i].hdr.content_length == 0)
				nstreams++;
		if (c->params_pairs < 0)
			CHECK_EQ(nstreams, 0);
		for (which = 0; which < nstreams; which++) {
			s = stream_get(data, &r, FCGI_PARAMS, which, &len,
			    &closed);
			pairs_decode(s, len, p);
			if (!CHECK(!p->bad) || !CHECK(closed) ||
			    !CHECK_EQ(p->n, c->params_pairs))
				diag("%s PARAMS stream %u", c->file, which);
			free(s);
		}
		for (total = 0, i = 0; i < r.n; i++) {
			uint8_t t = r.v[i].hdr.type;

			if (t != FCGI_GET_VALUES &&
			    t != FCGI_GET_VALUES_RESULT)
				continue;
			pairs_decode(rec_content(data, &r.v[i]),
			    r.v[i].hdr.content_length, p);
			CHECK(!p->bad);
			total += p->n;
		}
		if (c->mgmt_pairs >= 0 && !CHECK_EQ(total, c->mgmt_pairs))
			diag("%s", c->file);
		recs_free(&r);
	}
	free(p);
}

/* Decodes the first PARAMS stream of a capture into p. */
static int
capture_params(const char *file, struct pairs *p, uint8_t **stream,
    size_t *len)
{
	struct recs	 r = { 0 };
	const uint8_t	*data;
	int		 closed;

	*stream = NULL;
	if (!capture_parse(file, &data, &r)) {
		recs_free(&r);
		return 0;
	}
	*stream = stream_get(data, &r, FCGI_PARAMS, 0, len, &closed);
	recs_free(&r);
	pairs_decode(*stream, *len, p);
	return CHECK(closed) && CHECK(!p->bad);
}

static void
t_capture_nginx_get_params(void)
{
	struct pairs	*p = xmalloc(sizeof(*p));
	uint8_t		*s;
	size_t		 len;

	if (capture_params("nginx-get.bin", p, &s, &len)) {
		CHECK_EQ(len, 581);
		CHECK_EQ(p->n, 23);
		CHECK_PAIR(p, "SCRIPT_FILENAME",
		    "/tmp/fcgicap-run/www/hello.php");
		CHECK_PAIR(p, "QUERY_STRING",
		    "a=1&b=two%20words&empty=&c=%C3%A9");
		CHECK_PAIR(p, "REQUEST_METHOD", "GET");
		CHECK_PAIR(p, "CONTENT_TYPE", "");
		CHECK_PAIR(p, "CONTENT_LENGTH", "");
		CHECK_PAIR(p, "REMOTE_USER", "");
		CHECK_PAIR(p, "REDIRECT_STATUS", "200");
		CHECK_PAIR(p, "HTTP_HOST", "127.0.0.1");
		CHECK_PAIR(p, "SERVER_SOFTWARE", "nginx/1.22.1");
		CHECK_PAIR(p, "HTTP_USER_AGENT", "curl/7.88.1");
		/* Order as sent: QUERY_STRING first, HTTP_ACCEPT last. */
		CHECK(fcgi_nv_name_is(&p->v[0], "QUERY_STRING"));
		CHECK(fcgi_nv_name_is(&p->v[22], "HTTP_ACCEPT"));
	}
	free(s);
	free(p);
}

static void
t_capture_apache_lighttpd_get_params(void)
{
	struct pairs	*p = xmalloc(sizeof(*p));
	uint8_t		*s;
	size_t		 len;

	if (capture_params("apache-get.bin", p, &s, &len)) {
		CHECK_EQ(len, 679);
		CHECK_EQ(p->n, 23);
		CHECK_PAIR(p, "SCRIPT_FILENAME",
		    "proxy:fcgi://127.0.0.1:39100/hello.php");
		CHECK_PAIR(p, "PATH",
		    "/bin:/usr/bin:/usr/ucb:/usr/bsd:/usr/local/bin");
		CHECK_PAIR(p, "SERVER_SIGNATURE", "");
		CHECK_PAIR(p, "CONTEXT_PREFIX", "");
		CHECK_PAIR(p, "HTTP_HOST", "127.0.0.1:39202");
		CHECK_PAIR(p, "QUERY_STRING",
		    "a=1&b=two%20words&empty=&c=%C3%A9");
		CHECK(pair_find(p, "REDIRECT_STATUS") == NULL);
	}
	free(s);
	if (capture_params("lighttpd-get.bin", p, &s, &len)) {
		CHECK_EQ(len, 540);
		CHECK_EQ(p->n, 20);
		CHECK_PAIR(p, "SCRIPT_FILENAME",
		    "/tmp/fcgicap-run/www/hello.php");
		CHECK_PAIR(p, "CONTENT_LENGTH", "0");
		CHECK_PAIR(p, "SERVER_SOFTWARE", "lighttpd/1.4.69");
		CHECK_PAIR(p, "REQUEST_URI",
		    "/hello.php?a=1&b=two%20words&empty=&c=%C3%A9");
	}
	free(s);
	if (capture_params("phpfpm-hello.in.bin", p, &s, &len)) {
		CHECK_EQ(p->n, 12);
		CHECK_PAIR(p, "SERVER_SOFTWARE", "fpmclient");
		CHECK_PAIR(p, "QUERY_STRING", "a=1&b=2");
	}
	free(s);
	free(p);
}

static void
t_capture_nginx_big_cookie(void)
{
	struct pairs		*p = xmalloc(sizeof(*p));
	const struct fcgi_nv	*nv;
	uint8_t			*s;
	size_t			 len, i, off;

	if (capture_params("nginx-big-header.bin", p, &s, &len)) {
		CHECK_EQ(len, 9530);
		CHECK_EQ(p->n, 24);
		nv = pair_find(p, "HTTP_COOKIE");
		if (CHECK(nv != NULL)) {
			CHECK_EQ(nv->value_len, 9000);
			CHECK_MEM(nv->value, "big=ccc", 7);
			for (i = 4; i < nv->value_len; i++)
				if (!CHECK_EQ(nv->value[i], 'c'))
					break;
			/* 1-byte name length, 4-byte value length. */
			off = (size_t)(nv->name - s) - 5;
			CHECK_MEM(s + off, "\x0b\x80\x00\x23\x28", 5);
			CHECK_EQ(p->span[p->n - 1], 1 + 4 + 11 + 9000);
		}
		CHECK_PAIR(p, "SCRIPT_FILENAME",
		    "/tmp/fcgicap-run/www/hello.php");
	}
	free(s);
	free(p);
}

static void
t_capture_big_params(void)
{
	struct pairs		*p = xmalloc(sizeof(*p));
	const struct fcgi_nv	*nv;
	uint8_t			*s;
	size_t			 len, i, j;
	char			 name[16];

	if (capture_params("apache-big-params.bin", p, &s, &len)) {
		CHECK_EQ(len, 80782);
		CHECK_EQ(p->n, 33);
		for (i = 0; i < 10; i++) {
			snprintf(name, sizeof(name), "HTTP_X_BIG_%zu", i);
			if (!CHECK((nv = pair_find(p, name)) != NULL))
				continue;
			CHECK_EQ(nv->value_len, 8000);
			for (j = 0; j < nv->value_len; j++)
				if (!CHECK_EQ(nv->value[j], 'a' + i))
					break;
		}
		CHECK_PAIR(p, "SCRIPT_FILENAME",
		    "proxy:fcgi://127.0.0.1:39100/hello.php");
	}
	free(s);
	if (capture_params("lighttpd-big-params.bin", p, &s, &len)) {
		CHECK_EQ(len, 32541);
		CHECK_EQ(p->n, 24);
		nv = pair_find(p, "HTTP_X_BIG_3");
		if (CHECK(nv != NULL))
			CHECK_EQ(nv->value_len, 8000);
		CHECK_PAIR(p, "CONTENT_LENGTH", "0");
	}
	free(s);
	free(p);
}

/* Apache's PARAMS records each hold whole pairs (none straddles). */
static void
t_capture_apache_records_whole_pairs(void)
{
	struct recs	 r = { 0 };
	const uint8_t	*data;
	struct pairs	*p = xmalloc(sizeof(*p));
	size_t		 i, n = 0, nrec = 0;

	if (capture_parse("apache-big-params.bin", &data, &r)) {
		for (i = 0; i < r.n; i++) {
			if (r.v[i].hdr.type != FCGI_PARAMS ||
			    r.v[i].hdr.content_length == 0)
				continue;
			pairs_decode(rec_content(data, &r.v[i]),
			    r.v[i].hdr.content_length, p);
			CHECK(!p->bad);
			n += p->n;
			nrec++;
		}
		CHECK_EQ(nrec, 6);
		CHECK_EQ(n, 33);
	}
	recs_free(&r);
	free(p);
}

static void
t_capture_keep_conn_two_streams(void)
{
	struct recs	 r = { 0 };
	const uint8_t	*data;
	struct pairs	*p = xmalloc(sizeof(*p));
	uint8_t		*s;
	size_t		 len;
	int		 closed;

	if (capture_parse("nginx-keep-conn.bin", &data, &r)) {
		s = stream_get(data, &r, FCGI_PARAMS, 0, &len, &closed);
		pairs_decode(s, len, p);
		CHECK(closed);
		CHECK_EQ(p->n, 23);
		CHECK_PAIR(p, "QUERY_STRING", "n=1");
		free(s);
		s = stream_get(data, &r, FCGI_PARAMS, 1, &len, &closed);
		pairs_decode(s, len, p);
		CHECK(closed);
		CHECK_EQ(p->n, 23);
		CHECK_PAIR(p, "QUERY_STRING", "n=2");
		CHECK_PAIR(p, "REQUEST_URI", "/hello.php?n=2");
		free(s);
		/* Both STDIN streams are empty and closed. */
		s = stream_get(data, &r, FCGI_STDIN, 1, &len, &closed);
		CHECK(closed);
		CHECK_EQ(len, 0);
		free(s);
	}
	recs_free(&r);
	free(p);
}

static void
t_capture_get_values(void)
{
	struct recs	 r = { 0 };
	const uint8_t	*data;
	struct pairs	*p = xmalloc(sizeof(*p));

	if (capture_parse("phpfpm-get-values.in.bin", &data, &r) &&
	    CHECK_EQ(r.n, 1)) {
		pairs_decode(rec_content(data, &r.v[0]),
		    r.v[0].hdr.content_length, p);
		CHECK_EQ(p->n, 3);
		CHECK_PAIR(p, "FCGI_MAX_CONNS", "");
		CHECK_PAIR(p, "FCGI_MAX_REQS", "");
		CHECK_PAIR(p, "FCGI_MPXS_CONNS", "");
	}
	recs_free(&r);
	if (capture_parse("phpfpm-get-values-then-request.out.bin", &data,
	    &r) && CHECK_EQ(r.n, 3)) {
		CHECK_EQ(r.v[0].hdr.type, FCGI_GET_VALUES_RESULT);
		CHECK_EQ(r.v[0].hdr.request_id, 0);
		pairs_decode(rec_content(data, &r.v[0]),
		    r.v[0].hdr.content_length, p);
		CHECK_EQ(p->n, 1);
		CHECK_PAIR(p, "FCGI_MPXS_CONNS", "0");
	}
	recs_free(&r);
	free(p);
}

static void
check_stdin_body(const char *bin, const char *body)
{
	struct recs	 r = { 0 };
	const uint8_t	*data;
	uint8_t		*want, *got;
	size_t		 wlen, glen;
	int		 closed;

	if ((want = read_file(body, &wlen)) == NULL) {
		FAIL("no %s", body);
		return;
	}
	CHECK_EQ(wlen, 102400);
	if (capture_parse(bin, &data, &r)) {
		got = stream_get(data, &r, FCGI_STDIN, 0, &glen, &closed);
		CHECK(closed);
		if (CHECK_EQ(glen, wlen))
			CHECK_MEM(got, want, wlen);
		free(got);
	}
	recs_free(&r);
	free(want);
}

static void
t_capture_stdin(void)
{
	check_stdin_body("nginx-post-100k.bin", "nginx-post-100k.body");
	check_stdin_body("apache-post-100k.bin", "apache-post-100k.body");
	check_stdin_body("lighttpd-post-100k.bin", "lighttpd-post-100k.body");
}

static void	t_capture_phpfpm_stderr(void);

static void
t_capture_phpfpm_stdout(void)
{
	static const char	 hdr[] =
	    "Content-type: text/plain;charset=UTF-8\r\n\r\n";
	struct recs		 r = { 0 };
	const uint8_t		*data;
	uint8_t			*out;
	char			 line[32];
	size_t			 len, off, i;
	int			 closed;

	if (!capture_parse("phpfpm-big-200k.out.bin", &data, &r))
		return;
	t_capture_phpfpm_stderr();
	out = stream_get(data, &r, FCGI_STDOUT, 0, &len, &closed);
	CHECK(!closed);		/* END_REQUEST, not an empty record, ends it */
	CHECK_EQ(r.v[r.n - 1].hdr.type, FCGI_END_REQUEST);
	if (CHECK_EQ(len, 42 + 204800) && CHECK_MEM(out, hdr, 42)) {
		for (off = 42, i = 0; i < 12800; i++, off += 16) {
			snprintf(line, sizeof(line), "%015zu\n", i);
			if (!CHECK_MEM(out + off, line, 16)) {
				diag("line %zu", i);
				break;
			}
		}
	}
	free(out);
	recs_free(&r);
}

static void
t_capture_phpfpm_stderr(void)
{
	static const char	 unknown[] = "Primary script unknown";
	struct recs		 r = { 0 };
	const uint8_t		*data;
	uint8_t			*s;
	size_t			 len;
	int			 closed;

	if (capture_parse("phpfpm-missing.out.bin", &data, &r)) {
		s = stream_get(data, &r, FCGI_STDERR, 0, &len, &closed);
		if (CHECK_EQ(len, 22))
			CHECK_MEM(s, unknown, 22);
		free(s);
		s = stream_get(data, &r, FCGI_STDOUT, 0, &len, &closed);
		CHECK(contains(s, len, "Status: 404 Not Found"));
		CHECK(len >= 16 && memcmp(s + len - 16, "File not found.\n",
		    16) == 0);
		free(s);
	}
	recs_free(&r);
	if (capture_parse("phpfpm-stderr.out.bin", &data, &r)) {
		s = stream_get(data, &r, FCGI_STDERR, 0, &len, &closed);
		CHECK_EQ(len, 137);
		CHECK(contains(s, len, "PHP message: "));
		free(s);
	}
	recs_free(&r);
	if (capture_parse("phpfpm-ping.out.bin", &data, &r)) {
		s = stream_get(data, &r, FCGI_STDOUT, 0, &len, &closed);
		CHECK(len >= 4 && memcmp(s + len - 4, "pong", 4) == 0);
		free(s);
	}
	recs_free(&r);
}

/*
 * nginx and php-fpm pad every record to 8 with zeros, as fcgi_record_pack
 * does, so re-encoding each record must give the captured bytes.  Apache
 * and lighttpd do not pad: there only the header is compared.
 */
static void
t_capture_reencode_records(void)
{
	uint8_t		*out = xmalloc(FCGI_MAX_RECORD);
	uint8_t		 hdr[8];
	size_t		 ci, i, n, nrec = 0;

	for (ci = 0; ci < NCAPTURES; ci++) {
		struct capture	*c = &captures[ci];
		struct recs	 r = { 0 };
		const uint8_t	*data;

		if (!capture_parse(c->file, &data, &r))
			continue;
		for (i = 0; i < r.n; i++) {
			const struct fcgi_header *h = &r.v[i].hdr;

			fcgi_header_pack(hdr, h->type, h->request_id,
			    h->content_length, h->padding_length);
			if (!CHECK_MEM(hdr, data + r.v[i].off, 8))
				diag("%s record %zu", c->file, i);
			if (c->peer == APACHE || c->peer == LIGHTTPD)
				continue;
			n = fcgi_record_pack(out, FCGI_MAX_RECORD, h->type,
			    h->request_id, rec_content(data, &r.v[i]),
			    h->content_length);
			if (!CHECK_EQ(n, 8 + h->content_length +
			    h->padding_length) ||
			    !CHECK_MEM(out, data + r.v[i].off, n))
				diag("%s record %zu", c->file, i);
			nrec++;
		}
		recs_free(&r);
	}
	CHECK(nrec > 50);
	free(out);
}

/* Every sender encodes lengths canonically: nv_pack gives the same bytes. */
static void
t_capture_reencode_pairs(void)
{
	struct pairs	*p = xmalloc(sizeof(*p));
	uint8_t		*out = xmalloc(100000);
	size_t		 ci, i, w, n, checked = 0;

	for (ci = 0; ci < NCAPTURES; ci++) {
		uint8_t	*s;
		size_t	 len;

		if (captures[ci].params_pairs < 0)
			continue;
		if (!capture_params(captures[ci].file, p, &s, &len)) {
			free(s);
			continue;
		}
		for (w = 0, i = 0; i < p->n; i++) {
			n = fcgi_nv_pack(out + w, 100000 - w, p->v[i].name,
			    p->v[i].name_len, p->v[i].value, p->v[i].value_len);
			if (!CHECK_EQ(n, p->span[i]))
				break;
			w += n;
		}
		if (CHECK_EQ(w, len) && !CHECK_MEM(out, s, len))
			diag("%s", captures[ci].file);
		checked++;
		free(s);
	}
	CHECK_EQ(checked, 17);
	free(out);
	free(p);
}

/* ---- captures: fed in pieces -------------------------------------- */

/*
 * Feeds data to the parser as a reader of a socket would: append what
 * arrived (next() bytes at a time) to a buffer of FCGI_MAX_RECORD bytes,
 * parse every whole record, keep the rest, move it to the front, repeat.
 * Each record's content is compared with the stream right away, as the
 * buffer is reused.  Returns 0 on a parse error or if bytes are left over.
 */
static int
feed(const uint8_t *data, size_t len, size_t (*next)(void *), void *arg,
    struct recs *out)
{
	uint8_t			*buf = xmalloc(FCGI_MAX_RECORD);
	size_t			 start = 0, fill = 0, fed = 0, base = 0, n;
	struct fcgi_record	 rec;
	const char		*errstr;
	int			 rc, ok = 0;

	for (;;) {
		while ((rc = fcgi_record_parse(buf + start, fill - start, &rec,
		    &errstr)) > 0) {
			if (rec.content != buf + start + FCGI_HEADER_LEN ||
			    memcmp(rec.content, data + base + FCGI_HEADER_LEN,
			    rec.hdr.content_length) != 0) {
				diag("content of record at %zu differs", base);
				goto done;
			}
			recs_push(out, &rec.hdr, base);
			start += (size_t)rc;
			base += (size_t)rc;
		}
		if (rc < 0) {
			diag("error at %zu: %s", base, errstr);
			goto done;
		}
		if (errstr != NULL) {
			diag("errstr set on a 0 return");
			goto done;
		}
		if (fed == len)
			break;
		if (start > 0) {
			memmove(buf, buf + start, fill - start);
			fill -= start;
			start = 0;
		}
		n = next(arg);
		if (n > len - fed)
			n = len - fed;
		if (n > FCGI_MAX_RECORD - fill)
			n = FCGI_MAX_RECORD - fill;
		if (n == 0) {
			diag("buffer full without a whole record");
			goto done;
		}
		memcpy(buf + fill, data + fed, n);
		fill += n;
		fed += n;
	}
	if (fill != start)
		diag("%zu bytes left over", fill - start);
	else
		ok = 1;
done:
	free(buf);
	return ok;
}

static size_t
piece_fixed(void *arg)
{
	return *(size_t *)arg;
}

static size_t
piece_random(void *arg)
{
	uint32_t	*s = arg;
	uint32_t	 r = rnd(s);

	switch (r % 10) {
	case 0: case 1: case 2: case 3: case 4:
		return 1 + (rnd(s) % 16);
	case 5: case 6: case 7:
		return 1 + (rnd(s) % 1024);
	default:
		return 1 + (rnd(s) % 70000);
	}
}

static void
check_feed_all(size_t (*next)(void *), void *arg, const char *how)
{
	size_t	 ci, i;

	for (ci = 0; ci < NCAPTURES; ci++) {
		struct capture	*c = &captures[ci];
		struct recs	 whole = { 0 }, pieces = { 0 };
		const uint8_t	*data;

		if (!capture_parse(c->file, &data, &whole))
			continue;
		if (!CHECK(feed(data, c->size, next, arg, &pieces))) {
			diag("%s fed %s", c->file, how);
		} else if (!CHECK_EQ(pieces.n, whole.n)) {
			diag("%s fed %s", c->file, how);
		} else {
			for (i = 0; i < whole.n; i++) {
				const struct fcgi_header *a = &whole.v[i].hdr,
				    *b = &pieces.v[i].hdr;

				if (a->type != b->type ||
				    a->request_id != b->request_id ||
				    a->content_length != b->content_length ||
				    a->padding_length != b->padding_length ||
				    whole.v[i].off != pieces.v[i].off) {
					FAIL("%s fed %s: record %zu differs",
					    c->file, how, i);
					break;
				}
			}
		}
		recs_free(&whole);
		recs_free(&pieces);
	}
}

static void
t_feed_1byte(void)
{
	size_t	 one = 1;

	check_feed_all(piece_fixed, &one, "1 byte at a time");
}

static void
t_feed_7bytes(void)
{
	size_t	 seven = 7, eight = 8, page = 4096;

	check_feed_all(piece_fixed, &seven, "7 bytes at a time");
	check_feed_all(piece_fixed, &eight, "8 bytes at a time");
	check_feed_all(piece_fixed, &page, "4096 bytes at a time");
}

static void
t_feed_random(void)
{
	static const uint32_t	 seeds[] = { 1, 42, 0xdeadbeef, 20240601 };
	size_t			 i;
	char			 how[64];

	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		uint32_t s = seeds[i];

		snprintf(how, sizeof(how), "in random pieces (seed %u)",
		    (unsigned)seeds[i]);
		check_feed_all(piece_random, &s, how);
	}
}

/*
 * Every prefix of the small captures, in a buffer of exactly that size,
 * gives the records that end within it and then 0, never -1.
 */
static void
t_capture_every_prefix_small(void)
{
	size_t		 ci, k, i, nwant;

	for (ci = 0; ci < NCAPTURES; ci++) {
		struct capture	*c = &captures[ci];
		struct recs	 whole = { 0 };
		const uint8_t	*data;

		if (c->size > 1200)
			continue;
		if (!capture_parse(c->file, &data, &whole))
			continue;
		for (k = 0; k <= c->size; k++) {
			struct recs	 part = { 0 };
			uint8_t		*copy = dup_exact(data, k);
			size_t		 used;
			int		 bad;

			used = parse_all(exact_ptr(copy, k), k, &part, &bad);
			for (nwant = 0, i = 0; i < whole.n; i++)
				if (whole.v[i].off + 8 +
				    whole.v[i].hdr.content_length +
				    whole.v[i].hdr.padding_length <= k)
					nwant++;
			if (bad || part.n != nwant ||
			    (nwant < whole.n && used != whole.v[nwant].off)) {
				FAIL("%s cut at %zu: %zu records, want %zu",
				    c->file, k, part.n, nwant);
				k = c->size;
			}
			free(copy);
			recs_free(&part);
		}
		recs_free(&whole);
	}
}

/* For every record of the big captures: cuts near its start and end. */
static void
t_capture_record_cuts_big(void)
{
	struct fcgi_record	 rec;
	const char		*errstr;
	size_t			 ci, i, cut, total;

	for (ci = 0; ci < NCAPTURES; ci++) {
		struct capture	*c = &captures[ci];
		struct recs	 r = { 0 };
		const uint8_t	*data;

		if (c->size <= 1200)
			continue;
		if (!capture_parse(c->file, &data, &r))
			continue;
		for (i = 0; i < r.n; i++) {
			const uint8_t *p = data + r.v[i].off;

			total = 8 + (size_t)r.v[i].hdr.content_length +
			    r.v[i].hdr.padding_length;
			for (cut = 0; cut < total; cut++) {
				if (cut == 40 && total > 80)
					cut = total - 40;
				if (parse_exact(p, cut, &rec, &errstr) != 0) {
					FAIL("%s record %zu cut at %zu is not "
					    "\"need more\"", c->file, i, cut);
					break;
				}
			}
			if (parse_exact(p, total, &rec, &errstr) != (int)total)
				FAIL("%s record %zu whole", c->file, i);
		}
		recs_free(&r);
	}
}

/* ---- main --------------------------------------------------------- */

static const struct tap_case cases[] = {
	{ t_be32, "fcgi_put_be16/32 and fcgi_get_be16/32 golden bytes" },
	{ t_be_roundtrip, "big-endian helpers round-trip every 16-bit value "
	    "and random 32-bit ones" },
	{ t_type_name, "fcgi_type_name names types 1-11, NULL otherwise" },
	{ t_role_status_name, "fcgi_role_name and fcgi_protocol_status_name, "
	    "NULL when unknown" },
	{ t_type_is_management, "fcgi_type_is_management is true for 9-11 "
	    "only" },
	{ t_header_pack, "fcgi_header_pack golden bytes" },
	{ t_begin_request_body, "fcgi_begin_request_body golden bytes" },
	{ t_end_unknown_body, "fcgi_end_request_body and "
	    "fcgi_unknown_type_body golden bytes" },
	{ t_fields_roundtrip, "begin/end request fields read back what the "
	    "bodies wrote" },
	{ t_record_pack_golden, "fcgi_record_pack golden bytes with padding "
	    "to 8" },
	{ t_record_pack_empty, "fcgi_record_pack of an empty record is the "
	    "8-byte header" },
	{ t_record_pack_padding, "fcgi_record_pack pads every length 0-17 to "
	    "8 with zeros" },
	{ t_record_pack_max, "fcgi_record_pack takes 65528 bytes, refuses "
	    "65529 and up" },
	{ t_record_pack_outsz, "fcgi_record_pack returns 0 and writes nothing "
	    "when outsz is too small" },
	{ t_record_pack_parse_roundtrip, "fcgi_record_pack output parses back "
	    "for many types and lengths" },
	{ t_parse_minimal, "fcgi_record_parse: empty record, errstr reset, "
	    "content points into buf" },
	{ t_parse_fields, "fcgi_record_parse decodes every header field" },
	{ t_parse_first_of_many, "fcgi_record_parse spans only the first "
	    "record" },
	{ t_parse_largest, "fcgi_record_parse: largest record (65535 + 255 "
	    "padding)" },
	{ t_parse_app_types, "fcgi_record_parse accepts types 1-8 with "
	    "non-zero ids" },
	{ t_parse_management_id0, "fcgi_record_parse accepts management "
	    "types with id 0" },
	{ t_parse_unknown_types, "fcgi_record_parse passes unknown types "
	    "with any id and length" },
	{ t_parse_bad_version_1byte, "fcgi_record_parse: bad version byte is "
	    "-1 with only 1 byte" },
	{ t_parse_bad_version_full, "fcgi_record_parse: bad version byte is "
	    "-1 at every length" },
	{ t_parse_begin_wrong_len, "fcgi_record_parse: BEGIN_REQUEST body "
	    "not 8 bytes is -1" },
	{ t_parse_end_wrong_len, "fcgi_record_parse: END_REQUEST body not 8 "
	    "bytes is -1" },
	{ t_parse_unknown_type_wrong_len, "fcgi_record_parse: UNKNOWN_TYPE "
	    "body not 8 bytes is -1" },
	{ t_parse_management_nonzero_id, "fcgi_record_parse: management type "
	    "with non-zero id is -1" },
	{ t_parse_app_id0, "fcgi_record_parse: application types 1-8 with id "
	    "0 are -1" },
	{ t_parse_incomplete_header, "fcgi_record_parse: incomplete header "
	    "(0-7 bytes) is 0" },
	{ t_parse_incomplete_content, "fcgi_record_parse: incomplete content "
	    "is 0 at every cut" },
	{ t_parse_incomplete_padding, "fcgi_record_parse: incomplete padding "
	    "is 0" },
	{ t_stream_header_empty, "fcgi_stream_header: len 0 gives the empty "
	    "record" },
	{ t_stream_header_max, "fcgi_stream_header: at most 65528 bytes per "
	    "record" },
	{ t_stream_header_padding, "fcgi_stream_header pads every record to "
	    "8" },
	{ t_stream_header_clamp, "fcgi_stream_header clamps to max_content" },
	{ t_stream_framing_roundtrip, "fcgi_stream_header framing parses back "
	    "to the payload" },
	{ t_stream_reproduces_nginx_apache_stdin, "fcgi_stream_header "
	    "reproduces nginx and Apache STDIN byte for byte" },
	{ t_stream_reproduces_phpfpm_stdout, "fcgi_stream_header reproduces "
	    "php-fpm STDOUT byte for byte" },
	{ t_nv_pack_short, "fcgi_nv_pack golden bytes, short lengths" },
	{ t_nv_pack_empty, "fcgi_nv_pack of empty names and values" },
	{ t_nv_pack_127_128, "fcgi_nv_pack: 127 takes 1 length byte, 128 "
	    "takes 4" },
	{ t_nv_pack_outsz, "fcgi_nv_pack reports the size and writes nothing "
	    "when short of room" },
	{ t_nv_pack_limits, "fcgi_nv_pack refuses lengths above 0x7fffffff" },
	{ t_nv_pack_get_values_golden, "fcgi_nv_pack + fcgi_record_pack "
	    "rebuild php-fpm GET_VALUES captures" },
	{ t_nv_parse_short, "fcgi_nv_parse decodes a short pair in place" },
	{ t_nv_parse_long_lengths, "fcgi_nv_parse decodes 4-byte lengths" },
	{ t_nv_parse_empty, "fcgi_nv_parse of empty names and values" },
	{ t_nv_name_is, "fcgi_nv_name_is: exact, case-sensitive, NUL "
	    "inside" },
	{ t_nv_parse_every_cut, "fcgi_nv_parse: incomplete pairs are 0 at "
	    "every cut point" },
	{ t_nv_parse_max_len, "fcgi_nv_parse is -1 when a length passes "
	    "max_len" },
	{ t_nv_parse_31bit_bound, "fcgi_nv_parse at the 0x7fffffff bound" },
	{ t_nv_roundtrip, "fcgi_nv_pack output parses back for lengths 0 to "
	    "70000" },
	{ t_pairs_chunk_fits, "fcgi_pairs_chunk: a stream that fits goes "
	    "whole" },
	{ t_pairs_chunk_whole_pairs, "fcgi_pairs_chunk keeps whole pairs "
	    "together" },
	{ t_pairs_chunk_big_pair, "fcgi_pairs_chunk splits a pair larger "
	    "than max at max" },
	{ t_pairs_chunk_undecodable, "fcgi_pairs_chunk splits an undecodable "
	    "stream at max" },
	{ t_pairs_chunk_max_clamp, "fcgi_pairs_chunk clamps max to 65528" },
	{ t_pairs_chunk_reassemble_synthetic, "fcgi_pairs_chunk chunks "
	    "reassemble a synthetic stream (max 65528..1)" },
	{ t_pairs_chunk_reassemble_captures, "fcgi_pairs_chunk chunks "
	    "reassemble every captured pair stream (max 65528..8)" },
	{ t_pairs_chunk_matches_apache, "fcgi_pairs_chunk(16384) splits as "
	    "Apache did" },
	{ t_capture_records_nginx, "nginx captures parse to the expected "
	    "records" },
	{ t_capture_records_apache, "Apache captures parse to the expected "
	    "records" },
	{ t_capture_records_lighttpd, "lighttpd captures parse to the "
	    "expected records" },
	{ t_capture_records_fpm_in, "php-fpm request captures parse to the "
	    "expected records" },
	{ t_capture_records_fpm_out, "php-fpm answer captures parse to the "
	    "expected records" },
	{ t_capture_begin_end_fields, "captured BEGIN_REQUEST and "
	    "END_REQUEST fields" },
	{ t_capture_pair_counts, "captured PARAMS and GET_VALUES streams "
	    "decode to the expected pairs" },
	{ t_capture_nginx_get_params, "nginx GET params: known names and "
	    "values" },
	{ t_capture_apache_lighttpd_get_params, "Apache, lighttpd and "
	    "fpmclient GET params" },
	{ t_capture_nginx_big_cookie, "nginx 9000-byte HTTP_COOKIE with a "
	    "4-byte length" },
	{ t_capture_big_params, "Apache and lighttpd 8000-byte header "
	    "params" },
	{ t_capture_apache_records_whole_pairs, "Apache PARAMS records hold "
	    "whole pairs" },
	{ t_capture_keep_conn_two_streams, "nginx kept connection: two "
	    "requests, two PARAMS streams" },
	{ t_capture_get_values, "php-fpm GET_VALUES and GET_VALUES_RESULT "
	    "pairs" },
	{ t_capture_stdin, "nginx, Apache and lighttpd STDIN reassemble to "
	    "the POST bodies" },
	{ t_capture_phpfpm_stdout, "php-fpm STDOUT (200k script output, 404, "
	    "ping) and STDERR contents" },
	{ t_capture_reencode_records, "fcgi_record_pack re-encodes nginx and "
	    "php-fpm records byte for byte" },
	{ t_capture_reencode_pairs, "fcgi_nv_pack re-encodes every captured "
	    "PARAMS stream byte for byte" },
	{ t_feed_1byte, "every capture fed 1 byte at a time parses the "
	    "same" },
	{ t_feed_7bytes, "every capture fed 7, 8 and 4096 bytes at a time "
	    "parses the same" },
	{ t_feed_random, "every capture fed in random pieces parses the "
	    "same" },
	{ t_capture_every_prefix_small, "every prefix of the small captures "
	    "is whole records then 0" },
	{ t_capture_record_cuts_big, "records of the big captures cut short "
	    "are 0" },
};

int
main(void)
{
	size_t	 i;
	int	 failed;

	failed = tap_run(cases, sizeof(cases) / sizeof(cases[0]));
	for (i = 0; i < NCAPTURES; i++)
		free(capture_data[i]);
	return failed;
}
