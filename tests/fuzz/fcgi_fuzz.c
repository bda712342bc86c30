/*
 * libFuzzer target for the FastCGI codec (src/fcgi.c).
 *
 * The input is taken as bytes from a peer: records are parsed in a loop,
 * whole and again fed in pieces as a socket reader would; the content of
 * PARAMS, GET_VALUES and GET_VALUES_RESULT records (and the PARAMS stream
 * put back together across records) is decoded as name-value pairs; and
 * fcgi_pairs_chunk splits the input with several maxima.  Every invariant
 * the header promises is checked; a broken one aborts.
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *	    tests/fuzz/fcgi_fuzz.c src/fcgi.c -o /tmp/fcgi_fuzz
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi.h"

#define REQUIRE(c)	do { if (!(c)) abort(); } while (0)

/*
 * The byte-at-a-time pass (1-byte pieces) looks at inputs of this much
 * only, so that big seeds still run fast.
 */
#define SMALL_PREFIX	8192

/*
 * fcgi_pairs_chunk walks the stream's pairs from its start to find where
 * a chunk begins, so splitting n bytes into chunks of a few bytes costs
 * n * n: chunking with tiny maxima looks at this much only.
 */
#define CHUNK_PREFIX	1024

/* The PARAMS stream put back together; longer streams are cut here. */
#define STREAM_MAX	(1024 * 1024)

static uint8_t	 stream[STREAM_MAX];
static uint8_t	 feedbuf[FCGI_MAX_RECORD];
static uint8_t	 packbuf[FCGI_MAX_RECORD];

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Decodes pairs from p until one is incomplete or malformed. */
static void
check_pairs(const uint8_t *p, size_t len, size_t max_len)
{
	struct fcgi_nv	 nv, again;
	size_t		 off = 0, m;
	long		 n;

	while (off < len) {
		n = fcgi_nv_parse(p + off, len - off, max_len, &nv);
		if (n <= 0)
			break;
		REQUIRE((size_t)n <= len - off);
		/* Two lengths of 1 or 4 bytes, then name, then value. */
		REQUIRE(nv.name >= p + off + 2 && nv.name <= p + off + 8);
		REQUIRE(nv.value == nv.name + nv.name_len);
		REQUIRE(nv.value + nv.value_len == p + off + n);
		REQUIRE(nv.name_len <= max_len && nv.value_len <= max_len);
		REQUIRE(nv.name_len + nv.value_len <= max_len);
		REQUIRE(nv.name_len <= FCGI_MAX_NV_LEN &&
		    nv.value_len <= FCGI_MAX_NV_LEN);

		/* Re-encoded canonically it is no longer, at most 6 shorter. */
		m = fcgi_nv_pack(NULL, 0, nv.name, nv.name_len, nv.value,
		    nv.value_len);
		REQUIRE(m <= (size_t)n && m + 6 >= (size_t)n);
		if (m <= sizeof(packbuf)) {
			REQUIRE(fcgi_nv_pack(packbuf, sizeof(packbuf), nv.name,
			    nv.name_len, nv.value, nv.value_len) == m);
			REQUIRE(fcgi_nv_parse(packbuf, m, max_len, &again) ==
			    (long)m);
			REQUIRE(again.name_len == nv.name_len &&
			    again.value_len == nv.value_len);
			REQUIRE(memcmp(again.name, nv.name, nv.name_len) == 0);
			REQUIRE(memcmp(again.value, nv.value,
			    nv.value_len) == 0);
			/* Every strict prefix is "need more". */
			REQUIRE(fcgi_nv_parse(packbuf, m - 1, max_len,
			    &again) == 0);
		}
		off += (size_t)n;
	}
}

/* Checks one record that fcgi_record_parse accepted at buf. */
static void
check_record(const uint8_t *buf, size_t avail, int rc,
    const struct fcgi_record *rec)
{
	const struct fcgi_header	*h = &rec->hdr;
	struct fcgi_record		 r2;
	const char			*errstr;
	uint8_t				*copy;
	uint16_t			 role;
	uint8_t				 flags, ps, pad;
	uint32_t			 app;
	size_t				 total, n;

	total = FCGI_HEADER_LEN + (size_t)h->content_length +
	    h->padding_length;
	REQUIRE(rc > 0 && (size_t)rc == total && total <= avail);
	REQUIRE(total <= FCGI_MAX_RECORD);
	REQUIRE(rec->content == buf + FCGI_HEADER_LEN);
	REQUIRE(h->version == FCGI_VERSION_1 && buf[0] == FCGI_VERSION_1);
	REQUIRE(h->type == buf[1]);
	REQUIRE(h->request_id == fcgi_get_be16(buf + 2));
	REQUIRE(h->content_length == fcgi_get_be16(buf + 4));
	REQUIRE(h->padding_length == buf[6]);
	if (h->type == FCGI_BEGIN_REQUEST || h->type == FCGI_END_REQUEST ||
	    h->type == FCGI_UNKNOWN_TYPE)
		REQUIRE(h->content_length == 8);
	if (fcgi_type_is_management(h->type))
		REQUIRE(h->request_id == 0);
	if (h->type >= FCGI_BEGIN_REQUEST && h->type <= FCGI_DATA)
		REQUIRE(h->request_id != 0);
	REQUIRE((fcgi_type_name(h->type) != NULL) ==
	    (h->type >= 1 && h->type <= 11));

	if (h->type == FCGI_BEGIN_REQUEST) {
		fcgi_begin_request_fields(rec, &role, &flags);
		REQUIRE(role == fcgi_get_be16(rec->content) &&
		    flags == rec->content[2]);
		(void)fcgi_role_name(role);
	}
	if (h->type == FCGI_END_REQUEST) {
		fcgi_end_request_fields(rec, &app, &ps);
		REQUIRE(app == fcgi_get_be32(rec->content) &&
		    ps == rec->content[4]);
		(void)fcgi_protocol_status_name(ps);
	}

	/* The same record alone in a buffer of its size; one byte short. */
	copy = malloc(total);
	REQUIRE(copy != NULL);
	memcpy(copy, buf, total);
	REQUIRE(fcgi_record_parse(copy, total, &r2, &errstr) == rc);
	REQUIRE(errstr == NULL);
	REQUIRE(fcgi_record_parse(copy, total - 1, &r2, &errstr) == 0);
	REQUIRE(errstr == NULL);
	free(copy);

	/* Packed again, it parses back to the same content. */
	n = fcgi_record_pack(packbuf, sizeof(packbuf), h->type, h->request_id,
	    rec->content, h->content_length);
	if (h->content_length > FCGI_MAX_PADDED_CONTENT) {
		REQUIRE(n == 0);
	} else {
		REQUIRE(n == ((FCGI_HEADER_LEN + (size_t)h->content_length +
		    7) & ~(size_t)7));
		REQUIRE(fcgi_record_parse(packbuf, n, &r2, &errstr) ==
		    (int)n);
		REQUIRE(r2.hdr.type == h->type &&
		    r2.hdr.request_id == h->request_id &&
		    r2.hdr.content_length == h->content_length);
		REQUIRE(memcmp(r2.content, rec->content,
		    h->content_length) == 0);
	}

	/* Framing that many stream bytes. */
	n = fcgi_stream_header(packbuf, h->type, h->request_id,
	    h->content_length, h->padding_length, &pad);
	REQUIRE(n <= h->content_length);
	REQUIRE(h->padding_length == 0 || n <= h->padding_length);
	REQUIRE(h->content_length == 0 || n > 0);
	REQUIRE((n + pad) % 8 == 0 && pad < 8);
	REQUIRE(fcgi_get_be16(packbuf + 4) == n && packbuf[6] == pad);
}

/*
 * Parses data record by record.  Returns the offset where parsing stopped;
 * *status is the last return (0 or -1); *count the number of records.
 */
static size_t
parse_whole(const uint8_t *data, size_t size, int *status, size_t *count)
{
	struct fcgi_record	 rec;
	const char		*errstr;
	size_t			 off = 0, slen = 0;
	int			 rc;

	*count = 0;
	for (;;) {
		rc = fcgi_record_parse(data + off, size - off, &rec, &errstr);
		if (rc <= 0)
			break;
		check_record(data + off, size - off, rc, &rec);
		switch (rec.hdr.type) {
		case FCGI_PARAMS:
			if (slen + rec.hdr.content_length <= sizeof(stream)) {
				memcpy(stream + slen, rec.content,
				    rec.hdr.content_length);
				slen += rec.hdr.content_length;
			}
			/* FALLTHROUGH */
		case FCGI_GET_VALUES:
		case FCGI_GET_VALUES_RESULT:
			check_pairs(rec.content, rec.hdr.content_length,
			    FCGI_MAX_NV_LEN);
			check_pairs(rec.content, rec.hdr.content_length, 64);
			break;
		default:
			break;
		}
		off += (size_t)rc;
		(*count)++;
	}
	if (rc < 0)
		REQUIRE(errstr != NULL && *errstr != '\0');
	else
		REQUIRE(errstr == NULL);
	if (rc == 0 && size - off >= FCGI_HEADER_LEN)
		/* Need more: the header's lengths say so. */
		REQUIRE(size - off < FCGI_HEADER_LEN +
		    (size_t)fcgi_get_be16(data + off + 4) + data[off + 6]);
	*status = rc;
	/* Pairs may straddle records: decode the stream put together. */
	check_pairs(stream, slen, FCGI_MAX_NV_LEN);
	return off;
}

/*
 * Feeds data in pieces of piece bytes into a buffer of FCGI_MAX_RECORD
 * bytes, as a reader of a socket does, and requires the records, the stop
 * offset and the final status of parse_whole.
 */
static void
parse_pieces(const uint8_t *data, size_t size, size_t piece,
    size_t want_off, int want_status, size_t want_count)
{
	struct fcgi_record	 rec;
	const char		*errstr;
	size_t			 start = 0, fill = 0, fed = 0, base = 0, n;
	size_t			 count = 0;
	int			 rc;

	for (;;) {
		while ((rc = fcgi_record_parse(feedbuf + start, fill - start,
		    &rec, &errstr)) > 0) {
			REQUIRE(memcmp(feedbuf + start, data + base,
			    (size_t)rc) == 0);
			start += (size_t)rc;
			base += (size_t)rc;
			count++;
		}
		if (rc < 0 || fed == size)
			break;
		if (start > 0) {
			memmove(feedbuf, feedbuf + start, fill - start);
			fill -= start;
			start = 0;
		}
		n = piece;
		if (n > size - fed)
			n = size - fed;
		if (n > sizeof(feedbuf) - fill)
			n = sizeof(feedbuf) - fill;
		/* A record is never larger than the buffer. */
		REQUIRE(n > 0);
		memcpy(feedbuf + fill, data + fed, n);
		fill += n;
		fed += n;
	}
	REQUIRE(base == want_off && count == want_count);
	REQUIRE(rc == want_status);
}

/* Splits data with fcgi_pairs_chunk(max) and checks every chunk. */
static void
check_chunks(const uint8_t *data, size_t size, size_t max)
{
	struct fcgi_nv	 nv;
	size_t		 eff, off = 0, n, p = 0, lim;
	long		 r;

	eff = max == 0 || max > FCGI_MAX_PADDED_CONTENT ?
	    FCGI_MAX_PADDED_CONTENT : max;
	REQUIRE(fcgi_pairs_chunk(data, 0, 0, max) == 0);
	while (off < size) {
		n = fcgi_pairs_chunk(data, size, off, max);
		REQUIRE(n > 0);
		REQUIRE(n <= size - off);
		REQUIRE(n <= eff);
		lim = size - off < eff ? size - off : eff;
		if (n < lim) {
			/*
			 * Short of the limit: the chunk ends where a pair ends
			 * (walking the stream's pairs from its start, as a
			 * chunk may begin with the rest of a split pair: p is
			 * where that walk has reached, so that it is made
			 * once, not once a chunk), and the next pair would not
			 * have fitted.
			 */
			for (; p < off + n; p += (size_t)r) {
				r = fcgi_nv_parse(data + p, size - p,
				    FCGI_MAX_NV_LEN, &nv);
				REQUIRE(r > 0);
			}
			REQUIRE(p == off + n);
			r = fcgi_nv_parse(data + off + n, size - off - n,
			    FCGI_MAX_NV_LEN, &nv);
			REQUIRE(r <= 0 || (size_t)r > eff - n);
		}
		off += n;
	}
	REQUIRE(off == size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t	 tiny[] = { 1, 7, 8, 16, 100 };
	static const size_t	 maxes[] = { 0, 8184, 16384, 65528, 65529,
	    SIZE_MAX };
	size_t			 off, count, i, small;
	int			 status;

	off = parse_whole(data, size, &status, &count);
	REQUIRE(off <= size);
	if (size <= SMALL_PREFIX)
		parse_pieces(data, size, 1, off, status, count);
	parse_pieces(data, size, 7, off, status, count);
	if (size > 0)
		parse_pieces(data, size, 1 + data[size - 1] % 64, off, status,
		    count);

	/* The input itself as a pair stream. */
	check_pairs(data, size, FCGI_MAX_NV_LEN);
	if (size > 0)
		check_pairs(data, size, data[0]);
	small = size < CHUNK_PREFIX ? size : CHUNK_PREFIX;
	for (i = 0; i < sizeof(tiny) / sizeof(tiny[0]); i++)
		check_chunks(data, small, tiny[i]);
	for (i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++)
		check_chunks(data, size, maxes[i]);
	if (size >= 2)
		check_chunks(data, size, fcgi_get_be16(data));
	return 0;
}
