/*
 * Unit tests for src/hdr.c, the HdrHistogram layout and encoding, and for
 * src/json.c, which reads bench's reports back.  The golden encodings are
 * what HdrHistogram 2.1.11 (Debian's libhdrhistogram-java) wrote for the
 * same histograms, with encodeIntoCompressedByteBuffer at level 9, as its
 * HistogramLogWriter does, and its percentiles are what its
 * getValueAtPercentile answered.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hdr.h"
#include "json.h"
#include "tap.h"

/* new Histogram(1, 86400000000L, 3), empty. */
static const char	 java_empty[] =
    "HISTFAAAACB42pNpmSzMwMDAyAABzFAaxBeRvZ7AYP8BKgIATXoD4w==";
/* The same, with 1, 3000, 123456 five times and 7000000 recorded. */
static const char	 java_four[] =
    "HISTFAAAACt42pNpmSzMwMDAzQABzFCaEYhFZK8nMNh/gIowbVZnuh7GdTiGCQCHmAcj";

static struct hdr *
hdr_new(void)
{
	struct hdr	*h = xmalloc(sizeof(*h));

	hdr_reset(h);
	return h;
}

static struct hdr *
four(void)
{
	struct hdr	*h = hdr_new();
	int		 i;

	hdr_record(h, 1);
	hdr_record(h, 3000);
	for (i = 0; i < 5; i++)
		hdr_record(h, 123456);
	hdr_record(h, 7000000);
	return h;
}

static void
t_encode_golden(void)
{
	struct hdr_encoder	*e = hdr_encoder_new();
	struct hdr		*h = hdr_new();
	char			*s;

	s = hdr_encode(e, h);
	CHECK_STR(s, java_empty);
	free(s);
	free(h);
	/* The same encoder again: its stream starts anew. */
	h = four();
	s = hdr_encode(e, h);
	CHECK_STR(s, java_four);
	free(s);
	free(h);
	hdr_encoder_free(e);
}

static void
t_decode_golden(void)
{
	struct hdr	*h = hdr_new();

	CHECK_EQ(hdr_decode(java_four, strlen(java_four), h), 0);
	CHECK_EQ(h->total, 8);
	CHECK_EQ(h->min, 1);
	/* From the buckets alone: the highest value of the last one. */
	CHECK_EQ(h->max, 7000063);
	CHECK_EQ(hdr_percentile(h, 50), 123519);
	CHECK_EQ(hdr_decode(java_empty, strlen(java_empty), h), 0);
	CHECK_EQ(h->total, 0);
	free(h);
}

static void
t_round_trip(void)
{
	struct hdr_encoder	*e = hdr_encoder_new();
	struct hdr		*h = hdr_new(), *back = hdr_new();
	uint32_t		 x = 12345;
	char			*s;
	int			 i;

	for (i = 0; i < 100000; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		hdr_record(h, x % 5000000);
	}
	hdr_record(h, HDR_HIGHEST);
	hdr_record(h, (uint64_t)HDR_HIGHEST * 2);	/* counts as HIGHEST */
	s = hdr_encode(e, h);
	CHECK(s != NULL);
	CHECK_EQ(hdr_decode(s, strlen(s), back), 0);
	CHECK_MEM(back->count, h->count, sizeof(h->count));
	CHECK_EQ(back->total, h->total);
	free(s);
	free(h);
	free(back);
	hdr_encoder_free(e);
}

/* Java's getValueAtPercentile on 1..10 and 1..1000, capped at the max. */
static void
t_percentiles(void)
{
	struct hdr	*h = hdr_new();
	int		 i;

	for (i = 1; i <= 10; i++)
		hdr_record(h, (uint64_t)i);
	CHECK_EQ(hdr_percentile(h, 54), 6);
	CHECK_EQ(hdr_percentile(h, 50), 5);
	CHECK_EQ(hdr_percentile(h, 100), 10);
	hdr_reset(h);
	for (i = 1; i <= 1000; i++)
		hdr_record(h, (uint64_t)i);
	CHECK_EQ(hdr_percentile(h, 99.9), 999);
	hdr_reset(h);
	hdr_record(h, 3000);
	/* Java says 3001, the bucket's highest value; the max is 3000. */
	CHECK_EQ(hdr_percentile(h, 99), 3000);
	CHECK_EQ(hdr_highest_equivalent(3000), 3001);
	CHECK_EQ(hdr_highest_equivalent(2047), 2047);
	CHECK_EQ(hdr_highest_equivalent(4096), 4099);
	free(h);
}

/* HdrHistogram_c's classic hdr_percentiles_print of the four values. */
static void
t_spectrum(void)
{
	static const char	 want[] =
	    "       Value   Percentile   TotalCount 1/(1-Percentile)\n\n"
	    "       0.001     0.000000            1         1.00\n"
	    "       0.001     0.100000            1         1.11\n"
	    "       3.001     0.200000            2         1.25\n"
	    "     123.519     0.300000            7         1.43\n"
	    "     123.519     0.400000            7         1.67\n"
	    "     123.519     0.500000            7         2.00\n"
	    "     123.519     0.550000            7         2.22\n"
	    "     123.519     0.600000            7         2.50\n"
	    "     123.519     0.650000            7         2.86\n"
	    "     123.519     0.700000            7         3.33\n"
	    "     123.519     0.750000            7         4.00\n"
	    "     123.519     0.775000            7         4.44\n"
	    "     123.519     0.800000            7         5.00\n"
	    "     123.519     0.825000            7         5.71\n"
	    "     123.519     0.850000            7         6.67\n"
	    "     123.519     0.875000            7         8.00\n"
	    "    7000.063     0.887500            8         8.89\n"
	    "    7000.063     1.000000            8          inf\n"
	    "#[Mean    =      952.307, StdDeviation   =     2285.645]\n"
	    "#[Max     =     7000.063, Total count    =            8]\n"
	    "#[Buckets =           27, SubBuckets     =         2048]\n";
	struct hdr	*h = four();
	char		*buf = NULL;
	size_t		 len = 0;
	FILE		*f;

	f = open_memstream(&buf, &len);
	CHECK(f != NULL);
	CHECK_EQ(hdr_print_spectrum(h, f, 1000), 0);
	fclose(f);
	CHECK_STR(buf, want);
	free(buf);
	free(h);
}

static void
t_decode_malformed(void)
{
	static const char *const bad[] = {
		"", "HISTFAAA", "!!!!", "HISTFAAAACt42pNpmSzMwMDAzQABzFCa",
		/* a V2 encoding not compressed */
		"HISTEwAAAAsAAAAAAAAAAwAAAAAAAAABAAAAFB3XYAA/8AAAAAAAAAACsycC11YKw1wC",
		"HISTFAAAACt42pNpmSzMwMDAzQABzFCaEYhFZK8nMNh/gIowbVZnuh7GdTiGCQCHmAcJ",
		"HISTFAAA=CB42pNpmSzMwMDAyAABzFAaxBeRvZ7AYP8BKgIATXoD4w==",
	};
	struct hdr	*h = hdr_new();
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!CHECK_EQ(hdr_decode(bad[i], strlen(bad[i]), h), -1))
			diag("accepted: %s", bad[i]);
	free(h);
}

static void
t_json(void)
{
	static const char	 doc[] = " {\"a\":1,\"b\":{\"c\":[1,2.5e3,\"x\"],"
	    "\"d\":\"q\\\"\"},\"e\":18446744073709551615,\"f\":-0.5} ";
	static const char *const bad[] = {
		"{\"a\":1,}", "{\"a\" 1}", "[1 2]", "\"\x01\"", "01", "{} {}",
		"\"\\x\"", "[1.]", "-", "tru", "{\"a\":1"
	};
	char			 deep[130];	/* 65 deep: one too many */
	struct json		 v, m, e;
	struct json_iter	 it;
	uint64_t		 n;
	double			 d;
	int			 k = 0;

	CHECK_EQ(json_parse(doc, strlen(doc), &v), 0);
	CHECK(json_member(v, "a", &m) && json_uint(m, &n) == 0 && n == 1);
	CHECK(json_member(v, "e", &m) && json_uint(m, &n) == 0 &&
	    n == UINT64_MAX);
	CHECK(json_member(v, "f", &m) && json_uint(m, &n) == -1 &&
	    json_number(m, &d) == 0 && d == -0.5);
	CHECK(json_member(v, "b", &m) && json_member(m, "c", &e));
	CHECK_EQ(json_iter_start(e, '[', &it), 0);
	while (json_iter_next(&it, NULL, &m))
		k++;
	CHECK_EQ(k, 3);
	CHECK(json_member(v, "b", &m) && json_member(m, "d", &e) &&
	    json_plain_string(e, &m) == -1);
	CHECK(!json_member(v, "z", &m));
	for (k = 0; k < (int)(sizeof(bad) / sizeof(bad[0])); k++)
		if (!CHECK_EQ(json_parse(bad[k], strlen(bad[k]), &v), -1))
			diag("accepted: %s", bad[k]);
	memset(deep, '[', 65);
	memset(deep + 65, ']', 65);
	CHECK_EQ(json_parse(deep, sizeof(deep), &v), -1);
	CHECK_EQ(json_parse(deep + 1, sizeof(deep) - 2, &v), 0);
}

/* Each byte escaped, in a string the reader takes, and the escapes asked. */
static void
t_json_escape(void)
{
	char		 doc[8], out[7];
	struct json	 v;
	size_t		 n;
	int		 ch, bad = 0;

	for (ch = 1; ch < 256; ch++) {
		n = json_escape_byte((unsigned char)ch, out);
		doc[0] = '"';
		memcpy(doc + 1, out, n);
		doc[n + 1] = '"';
		if (json_parse(doc, n + 2, &v) == -1 ||
		    (n == 1) != (ch >= 0x20 && ch != '"' && ch != '\\'))
			bad++;
	}
	CHECK_EQ(bad, 0);
	CHECK(json_escape_byte('"', out) == 2 && memcmp(out, "\\\"", 2) == 0);
	CHECK(json_escape_byte('\\', out) == 2 &&
	    memcmp(out, "\\\\", 2) == 0);
	CHECK(json_escape_byte(0x1f, out) == 6 &&
	    memcmp(out, "\\u001f", 6) == 0);
	CHECK(json_escape_byte(0xe9, out) == 1 && out[0] == (char)0xe9);
}

static const struct tap_case cases[] = {
	{ t_encode_golden, "hdr_encode: HdrHistogram's bytes for an empty "
	    "histogram and for four values" },
	{ t_decode_golden, "hdr_decode: HdrHistogram's encoding read back" },
	{ t_round_trip, "hdr_encode then hdr_decode: 100002 values, every "
	    "count the same" },
	{ t_percentiles, "hdr_percentile: getValueAtPercentile's, capped at "
	    "the exact max" },
	{ t_spectrum, "hdr_print_spectrum: HdrHistogram_c's classic format, "
	    "line for line" },
	{ t_decode_malformed, "hdr_decode: truncated, corrupt, uncompressed "
	    "and badly padded input refused" },
	{ t_json, "json: members, numbers, arrays, escapes; malformed and "
	    "too deep refused" },
	{ t_json_escape, "json_escape_byte: every byte, escaped as the reader "
	    "takes it back" },
};

int
main(void)
{
	return tap_run(cases, sizeof(cases) / sizeof(cases[0]));
}
