/*
 * The HdrHistogram layout of a latency histogram, its percentiles, its
 * printed spectrum and its compressed V2 encoding.  Pure: no sockets, no
 * exit, no logging; the encoding goes through zlib.
 *
 * With a lowest discernible value of 1 and 3 significant figures, a value
 * v lies in bucket b = max(0, floor(log2(v)) - 10) at sub-bucket v >> b,
 * and its count at index (b + 1) * 1024 + (v >> b) - 1024: bucket 0
 * holds 0 to 2047 one by one, each later bucket 1024 values of width 2^b.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "hdr.h"

#define SUB_HALF		(HDR_SUB_BUCKETS / 2)
#define SUB_HALF_MAGNITUDE	10

/* HdrHistogram's V2 encoding, and its compressed wrapping.  The 0x10 in
 * the cookie says that the counts are ZigZag LEB128: HdrHistogram masks
 * it off to read the cookie, and sets it to write one. */
#define COOKIE_V2		0x1c849303u
#define COOKIE_V2_COMPRESSED	0x1c849304u
#define COOKIE_FLAGS		0xf0u
#define COOKIE_TLZE		0x10u
#define V2_HEADER_LEN		40
#define COMPRESSED_HEADER_LEN	8
#define LEB128_MAX		9	/* bytes of one count */
#define V2_MAX_LEN		(V2_HEADER_LEN + LEB128_MAX * HDR_COUNTS)

static int
bucket_of(uint64_t v)
{
	return 64 - SUB_HALF_MAGNITUDE - 1 -
	    __builtin_clzll(v | (HDR_SUB_BUCKETS - 1));
}

static size_t
index_of(uint64_t v)
{
	int	 b = bucket_of(v);

	return ((size_t)(b + 1) << SUB_HALF_MAGNITUDE) +
	    (size_t)(v >> b) - SUB_HALF;
}

/* The lowest value that counts at index i. */
static uint64_t
value_at(size_t i)
{
	int		 b = (int)(i >> SUB_HALF_MAGNITUDE) - 1;
	uint64_t	 sub = (i & (SUB_HALF - 1)) + SUB_HALF;

	if (b < 0) {
		sub -= SUB_HALF;
		b = 0;
	}
	return sub << b;
}

static uint64_t
lowest_equivalent(uint64_t v)
{
	int	 b = bucket_of(v);

	return v >> b << b;
}

static uint64_t
range_of(uint64_t v)
{
	return (uint64_t)1 << bucket_of(v);
}

uint64_t
hdr_highest_equivalent(uint64_t v)
{
	return lowest_equivalent(v) + range_of(v) - 1;
}

static uint64_t
median_equivalent(uint64_t v)
{
	return lowest_equivalent(v) + (range_of(v) >> 1);
}

void
hdr_reset(struct hdr *h)
{
	memset(h, 0, sizeof(*h));
}

void
hdr_record(struct hdr *h, uint64_t v)
{
	if (v > HDR_HIGHEST)
		v = HDR_HIGHEST;
	h->count[index_of(v)]++;
	if (h->total == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->total++;
	h->sum += v;
}

void
hdr_add(struct hdr *h, const struct hdr *src)
{
	size_t	 i;

	if (src->total == 0)
		return;
	for (i = 0; i < HDR_COUNTS; i++)
		h->count[i] += src->count[i];
	if (h->total == 0 || src->min < h->min)
		h->min = src->min;
	if (src->max > h->max)
		h->max = src->max;
	h->total += src->total;
	h->sum += src->sum;
}

uint64_t
hdr_percentile(const struct hdr *h, double p)
{
	uint64_t	 want, seen = 0, v;
	size_t		 i;

	if (h->total == 0)
		return 0;
	/* As HdrHistogram: a hair below p, so that 99.9% of 1000 is the
	 * 999th value and not, by rounding, the 1000th. */
	p = fmin(fmax(nextafter(p, -INFINITY), 0), 100);
	want = (uint64_t)ceil(p / 100 * (double)h->total);
	if (want == 0)
		want = 1;
	for (i = 0; i < HDR_COUNTS; i++) {
		seen += h->count[i];
		if (seen >= want)
			break;
	}
	v = i < HDR_COUNTS ? hdr_highest_equivalent(value_at(i)) : h->max;
	return v < h->max ? v : h->max;
}

/* The next percentile level to report after level, as HdrHistogram's
 * percentile iterator steps: ticks levels per halving of the distance
 * to 100%. */
static double
next_level(double level, int ticks)
{
	long long	 halvings;

	halvings = (long long)(log(100.0 / (100.0 - level)) / log(2)) + 1;
	return level + 100.0 / ((double)ticks * pow(2, (double)halvings));
}

int
hdr_print_spectrum(const struct hdr *h, FILE *f, double scale)
{
	double		 level = 0, mean = 0, dev = 0, d;
	uint64_t	 seen = 0, value = 0, weighted = 0;
	size_t		 i;

	fprintf(f, "%12s %12s %12s %12s\n\n", "Value", "Percentile",
	    "TotalCount", "1/(1-Percentile)");
	for (i = 0; i < HDR_COUNTS && seen < h->total; i++) {
		if (h->count[i] == 0)
			continue;
		seen += h->count[i];
		value = hdr_highest_equivalent(value_at(i));
		weighted += h->count[i] * median_equivalent(value_at(i));
		/* The bucket that completes the count gives one level, then
		 * the closing 100% line. */
		while (level < 100 &&
		    100.0 * (double)seen / (double)h->total >= level) {
			fprintf(f, "%12.3f %12f %12llu %12.2f\n",
			    (double)value / scale, level / 100,
			    (unsigned long long)seen,
			    1 / (1 - level / 100));
			level = next_level(level, 5);
			if (seen == h->total)
				break;
		}
	}
	if (h->total > 0) {
		fprintf(f, "%12.3f %12f %12llu %12.2f\n", (double)value / scale,
		    1.0, (unsigned long long)seen, INFINITY);
		mean = (double)weighted / (double)h->total;
		for (i = 0; i < HDR_COUNTS; i++)
			if (h->count[i] > 0) {
				d = (double)median_equivalent(value_at(i)) -
				    mean;
				dev += d * d * (double)h->count[i];
			}
		dev = sqrt(dev / (double)h->total);
	}
	fprintf(f, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n"
	    "#[Max     = %12.3f, Total count    = %12llu]\n"
	    "#[Buckets = %12d, SubBuckets     = %12d]\n", mean / scale,
	    dev / scale, h->total > 0 ?
	    (double)hdr_highest_equivalent(h->max) / scale : 0.0,
	    (unsigned long long)h->total, HDR_BUCKETS, HDR_SUB_BUCKETS);
	return ferror(f) ? -1 : 0;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* ZigZag, then LEB128 of at most 9 bytes, the 9th taking 8 bits. */
static size_t
put_zigzag(uint8_t *p, int64_t v)
{
	uint64_t	 u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	size_t		 n;

	for (n = 0; n < LEB128_MAX - 1; n++) {
		if (u >> 7 == 0) {
			p[n] = (uint8_t)u;
			return n + 1;
		}
		p[n] = (uint8_t)((u & 0x7f) | 0x80);
		u >>= 7;
	}
	p[n] = (uint8_t)u;
	return n + 1;
}

/* Reads one count at *off; 0, or -1 when the bytes end first. */
static int
get_zigzag(const uint8_t *p, size_t len, size_t *off, int64_t *v)
{
	uint64_t	 u = 0;
	int		 n;

	for (n = 0; n < LEB128_MAX; n++) {
		if (*off >= len)
			return -1;
		if (n == LEB128_MAX - 1) {
			u |= (uint64_t)p[(*off)++] << 56;
			break;
		}
		u |= (uint64_t)(p[*off] & 0x7f) << (7 * n);
		if ((p[(*off)++] & 0x80) == 0)
			break;
	}
	*v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
	return 0;
}

/* The V2 encoding, uncompressed, into p (V2_MAX_LEN); returns its length.
 * The counts run to the last that is not 0, a run of zeros as its
 * negated length. */
static size_t
encode_v2(const struct hdr *h, uint8_t *p)
{
	size_t		 i, j, end = 0, len = V2_HEADER_LEN;
	double		 one = 1.0;
	uint64_t	 ratio;

	for (i = 0; i < HDR_COUNTS; i++)
		if (h->count[i] > 0)
			end = i;
	end++;
	for (i = 0; i < end; i = j) {
		for (j = i + 1; h->count[i] == 0 && j < end &&
		    h->count[j] == 0; j++)
			;
		len += put_zigzag(p + len, j - i > 1 ? -(int64_t)(j - i) :
		    (int64_t)h->count[i]);
	}
	memcpy(&ratio, &one, sizeof(ratio));
	put_be32(p, COOKIE_V2 | COOKIE_TLZE);
	put_be32(p + 4, (uint32_t)(len - V2_HEADER_LEN));
	put_be32(p + 8, 0);		/* normalizing index offset */
	put_be32(p + 12, HDR_SIGNIFICANT_FIGURES);
	put_be64(p + 16, HDR_LOWEST);
	put_be64(p + 24, HDR_HIGHEST);
	put_be64(p + 32, ratio);	/* integer to double: 1 */
	return len;
}

static const char	 b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct hdr_encoder {
	z_stream	 z;
	uint8_t		*raw;		/* V2_MAX_LEN */
	uint8_t		*out;		/* the compressed wrapping */
	size_t		 out_cap;
};

struct hdr_encoder *
hdr_encoder_new(void)
{
	struct hdr_encoder	*e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	/* Level 9, as HdrHistogram's HistogramLogWriter compresses. */
	if (deflateInit(&e->z, Z_BEST_COMPRESSION) != Z_OK) {
		free(e);
		return NULL;
	}
	e->out_cap = COMPRESSED_HEADER_LEN + deflateBound(&e->z, V2_MAX_LEN);
	if ((e->raw = malloc(V2_MAX_LEN)) == NULL ||
	    (e->out = malloc(e->out_cap)) == NULL) {
		hdr_encoder_free(e);
		return NULL;
	}
	return e;
}

void
hdr_encoder_free(struct hdr_encoder *e)
{
	if (e == NULL)
		return;
	deflateEnd(&e->z);
	free(e->raw);
	free(e->out);
	free(e);
}

char *
hdr_encode(struct hdr_encoder *e, const struct hdr *h)
{
	uint8_t		*z = e->out;
	char		*s;
	size_t		 rawlen, n, i, k;
	uint32_t	 w;

	rawlen = encode_v2(h, e->raw);
	if (deflateReset(&e->z) != Z_OK)
		return NULL;
	e->z.next_in = e->raw;
	e->z.avail_in = (uInt)rawlen;
	e->z.next_out = z + COMPRESSED_HEADER_LEN;
	e->z.avail_out = (uInt)(e->out_cap - COMPRESSED_HEADER_LEN);
	if (deflate(&e->z, Z_FINISH) != Z_STREAM_END)
		return NULL;
	put_be32(z, COOKIE_V2_COMPRESSED | COOKIE_TLZE);
	put_be32(z + 4, (uint32_t)e->z.total_out);
	n = COMPRESSED_HEADER_LEN + e->z.total_out;
	if ((s = malloc((n + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	for (i = 0, k = 0; i < n; i += 3) {
		w = (uint32_t)z[i] << 16;
		if (i + 1 < n)
			w |= (uint32_t)z[i + 1] << 8;
		if (i + 2 < n)
			w |= z[i + 2];
		s[k++] = b64[w >> 18];
		s[k++] = b64[(w >> 12) & 63];
		s[k++] = i + 1 < n ? b64[(w >> 6) & 63] : '=';
		s[k++] = i + 2 < n ? b64[w & 63] : '=';
	}
	s[k] = '\0';
	return s;
}

/* Base64 of len characters (padded) into out; its length, or -1. */
static long
unbase64(const char *s, size_t len, uint8_t *out)
{
	const char	*c;
	uint32_t	 w = 0;
	size_t		 i, n = 0, pad = 0;

	if (len == 0 || len % 4 != 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] == '=' && i >= len - 2) {
			pad++;
			w <<= 6;
		} else if (pad > 0 || s[i] == '\0' ||
		    (c = strchr(b64, s[i])) == NULL)
			return -1;
		else
			w = w << 6 | (uint32_t)(c - b64);
		if (i % 4 == 3) {
			out[n++] = (uint8_t)(w >> 16);
			out[n++] = (uint8_t)(w >> 8);
			out[n++] = (uint8_t)w;
			w = 0;
		}
	}
	return (long)(n - pad);
}

/* The counts of a V2 encoding into h; 0, or -1. */
static int
decode_v2(const uint8_t *p, size_t len, struct hdr *h)
{
	uint64_t	 highest;
	size_t		 off = V2_HEADER_LEN, end, i = 0, k;
	int64_t		 v;
	int		 first = 1;

	if (len < V2_HEADER_LEN ||
	    (get_be32(p) & ~COOKIE_FLAGS) != COOKIE_V2 ||
	    get_be32(p + 4) > len - V2_HEADER_LEN ||
	    get_be32(p + 8) != 0 ||
	    get_be32(p + 12) != HDR_SIGNIFICANT_FIGURES ||
	    get_be64(p + 16) != HDR_LOWEST)
		return -1;
	highest = get_be64(p + 24);
	if (highest < 2 * HDR_LOWEST)
		return -1;
	end = V2_HEADER_LEN + get_be32(p + 4);
	hdr_reset(h);
	while (off < end) {
		if (get_zigzag(p, end, &off, &v) == -1)
			return -1;
		if (v < 0) {
			if (v == INT64_MIN || (uint64_t)-v > HDR_COUNTS - i)
				return -1;
			i += (size_t)-v;
			continue;
		}
		if (i >= HDR_COUNTS || (uint64_t)v > UINT64_MAX - h->total)
			return -1;
		h->count[i++] = (uint64_t)v;
		h->total += (uint64_t)v;
	}
	for (k = 0; k < HDR_COUNTS; k++) {
		if (h->count[k] == 0)
			continue;
		if (first)
			h->min = value_at(k);
		first = 0;
		h->max = hdr_highest_equivalent(value_at(k));
		h->sum += h->count[k] * median_equivalent(value_at(k));
	}
	return 0;
}

int
hdr_decode(const char *s, size_t len, struct hdr *h)
{
	uint8_t		*bin, *raw = NULL;
	uLongf		 rawlen = V2_MAX_LEN;
	long		 n;
	int		 rc = -1;

	if (len > 4 * V2_MAX_LEN || (bin = malloc(len / 4 * 3 + 3)) == NULL)
		return -1;
	if ((n = unbase64(s, len, bin)) < COMPRESSED_HEADER_LEN ||
	    (get_be32(bin) & ~COOKIE_FLAGS) != COOKIE_V2_COMPRESSED ||
	    get_be32(bin + 4) > (uint32_t)n - COMPRESSED_HEADER_LEN ||
	    (raw = malloc(V2_MAX_LEN)) == NULL)
		goto done;
	if (uncompress(raw, &rawlen, bin + COMPRESSED_HEADER_LEN,
	    get_be32(bin + 4)) != Z_OK)
		goto done;
	rc = decode_v2(raw, rawlen, h);
done:
	free(bin);
	free(raw);
	return rc;
}
