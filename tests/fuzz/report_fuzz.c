/*
 * libFuzzer target for what bench --merge reads from files: the JSON
 * reader (src/json.c) and the HdrHistogram decoder (src/hdr.c).
 *
 * The input is taken as a report file: it is parsed, every value is
 * walked, each number read both ways and each plain string decoded as a
 * histogram; a histogram that decodes is encoded again and must decode to
 * the same counts.  The input is also decoded whole as a histogram.  A
 * broken invariant aborts.
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *	    tests/fuzz/report_fuzz.c src/json.c src/hdr.c -lz -lm \
 *	    -o /tmp/report_fuzz
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hdr.h"
#include "json.h"

#define REQUIRE(c)	do { if (!(c)) abort(); } while (0)

static struct hdr	 h, again;
static struct hdr_encoder *encoder;

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Decodes s as a histogram; one that decodes must survive a round trip. */
static void
check_histogram(const char *s, size_t len)
{
	char	*enc;

	if (hdr_decode(s, len, &h) == -1)
		return;
	REQUIRE(h.min <= h.max || h.total == 0);
	if (encoder == NULL)
		REQUIRE((encoder = hdr_encoder_new()) != NULL);
	REQUIRE((enc = hdr_encode(encoder, &h)) != NULL);
	REQUIRE(hdr_decode(enc, strlen(enc), &again) == 0);
	REQUIRE(memcmp(h.count, again.count, sizeof(h.count)) == 0);
	REQUIRE(h.total == again.total);
	hdr_percentile(&h, 99.9);
	free(enc);
}

static void
walk(struct json v, int depth)
{
	struct json_iter	 it;
	struct json		 k, m, s;
	uint64_t		 n;
	double			 d;

	REQUIRE(depth <= 64);
	if (json_iter_start(v, '{', &it) == 0) {
		while (json_iter_next(&it, &k, &m)) {
			REQUIRE(k.p > v.p && k.p + k.len < v.p + v.len);
			walk(m, depth + 1);
		}
		return;
	}
	if (json_iter_start(v, '[', &it) == 0) {
		while (json_iter_next(&it, NULL, &m))
			walk(m, depth + 1);
		return;
	}
	if (json_plain_string(v, &s) == 0) {
		check_histogram(s.p, s.len);
		return;
	}
	if (json_uint(v, &n) == 0)
		REQUIRE(json_number(v, &d) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct json	 v;
	char		*copy;

	/* An exact copy, so that a read past the end is caught. */
	if ((copy = malloc(len ? len : 1)) == NULL)
		return 0;
	memcpy(copy, data, len);
	if (json_parse(copy, len, &v) == 0) {
		REQUIRE(v.p >= copy && v.p + v.len <= copy + len);
		walk(v, 0);
	}
	check_histogram(copy, len);
	free(copy);
	return 0;
}
