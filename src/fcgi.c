#include <string.h>

#include "fcgi.h"

static const char *const type_names[] = {
	NULL, "BEGIN_REQUEST", "ABORT_REQUEST", "END_REQUEST", "PARAMS",
	"STDIN", "STDOUT", "STDERR", "DATA", "GET_VALUES",
	"GET_VALUES_RESULT", "UNKNOWN_TYPE"
};

static const char *const role_names[] = {
	NULL, "RESPONDER", "AUTHORIZER", "FILTER"
};

static const char *const protocol_status_names[] = {
	"REQUEST_COMPLETE", "CANT_MPX_CONN", "OVERLOADED", "UNKNOWN_ROLE"
};

uint16_t
fcgi_get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t
fcgi_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void
fcgi_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

void
fcgi_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

const char *
fcgi_type_name(unsigned int type)
{
	if (type >= sizeof(type_names) / sizeof(type_names[0]))
		return NULL;
	return type_names[type];
}

const char *
fcgi_role_name(unsigned int role)
{
	if (role >= sizeof(role_names) / sizeof(role_names[0]))
		return NULL;
	return role_names[role];
}

const char *
fcgi_protocol_status_name(unsigned int status)
{
	if (status >= sizeof(protocol_status_names) /
	    sizeof(protocol_status_names[0]))
		return NULL;
	return protocol_status_names[status];
}

int
fcgi_type_is_management(unsigned int type)
{
	return type == FCGI_GET_VALUES || type == FCGI_GET_VALUES_RESULT ||
	    type == FCGI_UNKNOWN_TYPE;
}

void
fcgi_header_pack(uint8_t out[FCGI_HEADER_LEN], uint8_t type,
    uint16_t request_id, uint16_t content_length, uint8_t padding_length)
{
	out[0] = FCGI_VERSION_1;
	out[1] = type;
	fcgi_put_be16(out + 2, request_id);
	fcgi_put_be16(out + 4, content_length);
	out[6] = padding_length;
	out[7] = 0;
}

int
fcgi_record_parse(const uint8_t *buf, size_t len, struct fcgi_record *rec,
    const char **errstr)
{
	struct fcgi_header	*h = &rec->hdr;
	size_t			 total;

	*errstr = NULL;
	/* The version byte alone tells a stream that is not FastCGI at all. */
	if (len >= 1 && buf[0] != FCGI_VERSION_1) {
		*errstr = "bad version byte";
		return -1;
	}
	if (len < FCGI_HEADER_LEN)
		return 0;
	h->version = buf[0];
	h->type = buf[1];
	h->request_id = fcgi_get_be16(buf + 2);
	h->content_length = fcgi_get_be16(buf + 4);
	h->padding_length = buf[6];

	switch (h->type) {
	case FCGI_BEGIN_REQUEST:
	case FCGI_END_REQUEST:
	case FCGI_UNKNOWN_TYPE:
		if (h->content_length != 8) {
			*errstr = "fixed-size record body is not 8 bytes";
			return -1;
		}
		break;
	default:
		break;
	}
	if (fcgi_type_is_management(h->type)) {
		if (h->request_id != 0) {
			*errstr = "management record with a non-zero request id";
			return -1;
		}
	} else if (h->type >= FCGI_BEGIN_REQUEST && h->type <= FCGI_DATA &&
	    h->request_id == 0) {
		*errstr = "application record with request id 0";
		return -1;
	}

	total = FCGI_HEADER_LEN + (size_t)h->content_length + h->padding_length;
	if (len < total)
		return 0;
	rec->content = buf + FCGI_HEADER_LEN;
	return (int)total;
}

size_t
fcgi_record_pack(uint8_t *out, size_t outsz, uint8_t type,
    uint16_t request_id, const void *content, size_t content_length)
{
	size_t	 padding, total;

	if (content_length > FCGI_MAX_PADDED_CONTENT)
		return 0;
	padding = (8 - content_length % 8) % 8;
	total = FCGI_HEADER_LEN + content_length + padding;
	if (total > outsz)
		return 0;
	fcgi_header_pack(out, type, request_id, (uint16_t)content_length,
	    (uint8_t)padding);
	if (content_length > 0)
		memcpy(out + FCGI_HEADER_LEN, content, content_length);
	memset(out + FCGI_HEADER_LEN + content_length, 0, padding);
	return total;
}

void
fcgi_begin_request_body(uint8_t out[8], uint16_t role, uint8_t flags)
{
	memset(out, 0, 8);
	fcgi_put_be16(out, role);
	out[2] = flags;
}

void
fcgi_end_request_body(uint8_t out[8], uint32_t app_status,
    uint8_t protocol_status)
{
	memset(out, 0, 8);
	fcgi_put_be32(out, app_status);
	out[4] = protocol_status;
}

void
fcgi_unknown_type_body(uint8_t out[8], uint8_t type)
{
	memset(out, 0, 8);
	out[0] = type;
}

void
fcgi_begin_request_fields(const struct fcgi_record *rec, uint16_t *role,
    uint8_t *flags)
{
	*role = fcgi_get_be16(rec->content);
	*flags = rec->content[2];
}

void
fcgi_end_request_fields(const struct fcgi_record *rec, uint32_t *app_status,
    uint8_t *protocol_status)
{
	*app_status = fcgi_get_be32(rec->content);
	*protocol_status = rec->content[4];
}

size_t
fcgi_stream_header(uint8_t hdr[FCGI_HEADER_LEN], uint8_t type,
    uint16_t request_id, size_t len, size_t max_content, uint8_t *padding)
{
	size_t	 chunk;

	if (max_content == 0 || max_content > FCGI_MAX_PADDED_CONTENT)
		max_content = FCGI_MAX_PADDED_CONTENT;
	chunk = len < max_content ? len : max_content;
	*padding = (uint8_t)((8 - chunk % 8) % 8);
	fcgi_header_pack(hdr, type, request_id, (uint16_t)chunk, *padding);
	return chunk;
}

static size_t
nv_len_size(size_t n)
{
	return n < 128 ? 1 : 4;
}

static uint8_t *
nv_len_put(uint8_t *p, size_t n)
{
	if (n < 128) {
		*p++ = (uint8_t)n;
		return p;
	}
	fcgi_put_be32(p, (uint32_t)n | 0x80000000U);
	return p + 4;
}

size_t
fcgi_nv_pack(uint8_t *out, size_t outsz, const void *name, size_t name_len,
    const void *value, size_t value_len)
{
	size_t	 need;
	uint8_t	*p;

	if (name_len > FCGI_MAX_NV_LEN || value_len > FCGI_MAX_NV_LEN)
		return 0;
	need = nv_len_size(name_len) + nv_len_size(value_len) + name_len +
	    value_len;
	if (need > outsz)
		return need;
	p = nv_len_put(out, name_len);
	p = nv_len_put(p, value_len);
	if (name_len > 0)
		memcpy(p, name, name_len);
	if (value_len > 0)
		memcpy(p + name_len, value, value_len);
	return need;
}

/* Reads one length; returns its size in bytes, 0 if incomplete. */
static size_t
nv_len_get(const uint8_t *p, size_t len, size_t *n)
{
	if (len < 1)
		return 0;
	if ((p[0] & 0x80) == 0) {
		*n = p[0];
		return 1;
	}
	if (len < 4)
		return 0;
	*n = fcgi_get_be32(p) & FCGI_MAX_NV_LEN;
	return 4;
}

long
fcgi_nv_parse(const uint8_t *buf, size_t len, size_t max_len,
    struct fcgi_nv *nv)
{
	size_t	 a, b, name_len, value_len, off;

	if ((a = nv_len_get(buf, len, &name_len)) == 0)
		return 0;
	if ((b = nv_len_get(buf + a, len - a, &value_len)) == 0)
		return 0;
	if (name_len > max_len || value_len > max_len ||
	    name_len + value_len > max_len)
		return -1;
	off = a + b;
	if (len - off < name_len + value_len)
		return 0;
	nv->name = buf + off;
	nv->name_len = name_len;
	nv->value = buf + off + name_len;
	nv->value_len = value_len;
	return (long)(off + name_len + value_len);
}

int
fcgi_nv_name_is(const struct fcgi_nv *nv, const char *name)
{
	size_t	 len = strlen(name);

	return nv->name_len == len && memcmp(nv->name, name, len) == 0;
}

size_t
fcgi_pairs_chunk(const uint8_t *stream, size_t len, size_t off,
    size_t max_content)
{
	struct fcgi_nv	 nv;
	size_t		 pos = 0, used = 0;
	long		 n;

	if (max_content == 0 || max_content > FCGI_MAX_PADDED_CONTENT)
		max_content = FCGI_MAX_PADDED_CONTENT;
	if (off >= len)
		return 0;
	if (len - off <= max_content)
		return len - off;
	/* Find where off stands: between pairs, or inside a split one. */
	while (pos < off) {
		n = fcgi_nv_parse(stream + pos, len - pos, FCGI_MAX_NV_LEN, &nv);
		if (n <= 0)
			return max_content;
		if (pos + (size_t)n > off) {
			used = pos + (size_t)n - off;
			if (used >= max_content)
				return max_content;
			break;
		}
		pos += (size_t)n;
	}
	while (off + used < len) {
		n = fcgi_nv_parse(stream + off + used, len - off - used,
		    FCGI_MAX_NV_LEN, &nv);
		if (n <= 0 || (size_t)n > max_content - used)
			break;
		used += (size_t)n;
	}
	return used > 0 ? used : max_content;
}
