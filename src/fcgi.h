/*
 * The FastCGI 1.0 protocol: constants, record and name-value codecs, and
 * stream framing.  Pure: no I/O, no allocation, no exit, no logging.  Every
 * function works on caller-owned buffers, so client, bench and server share
 * it and the fuzzer can drive it directly.
 */
#ifndef FCGI_H
#define FCGI_H

#include <stddef.h>
#include <stdint.h>

#define FCGI_VERSION_1		1
#define FCGI_HEADER_LEN		8
#define FCGI_MAX_CONTENT	65535
/* The largest content that still fits a record padded to 8 without content
 * plus padding passing 65535, which php-fpm rejects. */
#define FCGI_MAX_PADDED_CONTENT	65528
/* The largest record on the wire: header, content, padding. */
#define FCGI_MAX_RECORD		(FCGI_HEADER_LEN + FCGI_MAX_CONTENT + 255)
/* A name or value length: 31 bits. */
#define FCGI_MAX_NV_LEN		0x7fffffffU

enum fcgi_type {
	FCGI_BEGIN_REQUEST = 1,
	FCGI_ABORT_REQUEST = 2,
	FCGI_END_REQUEST = 3,
	FCGI_PARAMS = 4,
	FCGI_STDIN = 5,
	FCGI_STDOUT = 6,
	FCGI_STDERR = 7,
	FCGI_DATA = 8,
	FCGI_GET_VALUES = 9,
	FCGI_GET_VALUES_RESULT = 10,
	FCGI_UNKNOWN_TYPE = 11
};

enum fcgi_role {
	FCGI_RESPONDER = 1,
	FCGI_AUTHORIZER = 2,
	FCGI_FILTER = 3
};

#define FCGI_KEEP_CONN		1

enum fcgi_protocol_status {
	FCGI_REQUEST_COMPLETE = 0,
	FCGI_CANT_MPX_CONN = 1,
	FCGI_OVERLOADED = 2,
	FCGI_UNKNOWN_ROLE = 3
};

struct fcgi_header {
	uint8_t		 version;
	uint8_t		 type;
	uint16_t	 request_id;
	uint16_t	 content_length;
	uint8_t		 padding_length;
};

/* A parsed record; content points into the caller's buffer. */
struct fcgi_record {
	struct fcgi_header	 hdr;
	const uint8_t		*content;
};

/* One decoded name-value pair; name and value point into the caller's buffer. */
struct fcgi_nv {
	const uint8_t	*name;
	size_t		 name_len;
	const uint8_t	*value;
	size_t		 value_len;
};

uint16_t	 fcgi_get_be16(const uint8_t *);
uint32_t	 fcgi_get_be32(const uint8_t *);
void		 fcgi_put_be16(uint8_t *, uint16_t);
void		 fcgi_put_be32(uint8_t *, uint32_t);

/* Name of a record type ("STDOUT"), role or protocol status; NULL if unknown. */
const char	*fcgi_type_name(unsigned int);
const char	*fcgi_role_name(unsigned int);
const char	*fcgi_protocol_status_name(unsigned int);
/* Types 9-11 travel with request id 0. */
int		 fcgi_type_is_management(unsigned int);

/* Writes an 8-byte header. */
void	 fcgi_header_pack(uint8_t out[FCGI_HEADER_LEN], uint8_t type,
	    uint16_t request_id, uint16_t content_length,
	    uint8_t padding_length);

/*
 * Parses one whole record from the start of buf.  Returns the bytes it
 * spans (header + content + padding), 0 when buf holds only part of it, or
 * -1 when it is malformed, with *errstr saying why.  A record is malformed
 * when its version is not 1, when a fixed-size body (BEGIN_REQUEST,
 * END_REQUEST, UNKNOWN_TYPE) has the wrong length, when a management type
 * has a non-zero request id, or when an application type has id 0.  Types
 * it does not know pass, so that a server can answer UNKNOWN_TYPE.  Callers
 * keep up to FCGI_MAX_RECORD bytes and call again as more arrive, so a
 * record split over any number of reads parses the same.
 */
int	 fcgi_record_parse(const uint8_t *buf, size_t len,
	    struct fcgi_record *rec, const char **errstr);

/*
 * Packs a whole record (header, content, padding to 8) into out, which has
 * room for outsz bytes.  content_length must be at most
 * FCGI_MAX_PADDED_CONTENT.  Returns the record's length, or 0 if it does not
 * fit or is too long.
 */
size_t	 fcgi_record_pack(uint8_t *out, size_t outsz, uint8_t type,
	    uint16_t request_id, const void *content, size_t content_length);

/* Bodies of the three fixed-size records (8 bytes each). */
void	 fcgi_begin_request_body(uint8_t out[8], uint16_t role, uint8_t flags);
void	 fcgi_end_request_body(uint8_t out[8], uint32_t app_status,
	    uint8_t protocol_status);
void	 fcgi_unknown_type_body(uint8_t out[8], uint8_t type);
/* Read the fields of a record that fcgi_record_parse accepted. */
void	 fcgi_begin_request_fields(const struct fcgi_record *,
	    uint16_t *role, uint8_t *flags);
void	 fcgi_end_request_fields(const struct fcgi_record *,
	    uint32_t *app_status, uint8_t *protocol_status);

/*
 * Stream framing.  For len bytes still to send on a stream, returns how many
 * go in the next record (at most max_content, itself at most
 * FCGI_MAX_PADDED_CONTENT), writes that record's header to hdr and its
 * padding length to *padding.  len 0 gives the empty record that ends the
 * stream.  The caller sends hdr, the data, then *padding zero bytes.
 */
size_t	 fcgi_stream_header(uint8_t hdr[FCGI_HEADER_LEN], uint8_t type,
	    uint16_t request_id, size_t len, size_t max_content,
	    uint8_t *padding);

/*
 * Encodes one name-value pair into out.  Returns the encoded size (even
 * when it is larger than outsz, in which case nothing is written, as
 * snprintf does), or 0 if a length passes FCGI_MAX_NV_LEN.
 */
size_t	 fcgi_nv_pack(uint8_t *out, size_t outsz, const void *name,
	    size_t name_len, const void *value, size_t value_len);

/*
 * Decodes one pair from the start of buf.  Returns the bytes it spans, 0
 * when buf holds only part of it, or -1 when a length has no room in
 * max_len (a bound the caller picks, at most FCGI_MAX_NV_LEN).
 */
long	 fcgi_nv_parse(const uint8_t *buf, size_t len, size_t max_len,
	    struct fcgi_nv *nv);

/*
 * Whether a decoded pair's name is name, a C string: 1 or 0.  A name
 * holding a NUL byte is never equal to one.
 */
int	 fcgi_nv_name_is(const struct fcgi_nv *, const char *name);

/*
 * How many bytes of an encoded pair stream (PARAMS, GET_VALUES), from
 * offset off on, go into the next record: the rest of a pair split by the
 * previous record, then as many whole pairs as fit in max_content, so that
 * a pair that fits in one record is never split.  A pair larger than
 * max_content, or a stream that does not decode as pairs, is split at
 * max_content.  The stream is walked from its start, so off may be
 * anywhere.
 */
size_t	 fcgi_pairs_chunk(const uint8_t *stream, size_t len, size_t off,
	    size_t max_content);

#endif /* FCGI_H */
