/*
 * A JSON reader in place, for bench's own reports: json_parse checks the
 * whole document once, and the rest walks text it has accepted.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define JSON_DEPTH	64

static const char *
blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' ||
	    *p == '\r'))
		p++;
	return p;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The end of the string that starts at p (at its '"'), or NULL. */
static const char *
string_end(const char *p, const char *end)
{
	int	 i;

	for (p++; p < end; p++) {
		if (*p == '"')
			return p + 1;
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p != '\\')
			continue;
		if (++p == end)
			return NULL;
		if (*p == 'u') {
			for (i = 0; i < 4; i++)
				if (++p == end || !is_hex(*p))
					return NULL;
		} else if (strchr("\"\\/bfnrt", *p) == NULL || *p == '\0')
			return NULL;
	}
	return NULL;
}

/* The end of the number that starts at p, or NULL. */
static const char *
number_end(const char *p, const char *end)
{
	if (p < end && *p == '-')
		p++;
	if (p == end || !is_digit(*p))
		return NULL;
	if (*p == '0')
		p++;
	else
		while (p < end && is_digit(*p))
			p++;
	if (p < end && *p == '.') {
		if (++p == end || !is_digit(*p))
			return NULL;
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !is_digit(*p))
			return NULL;
		while (p < end && is_digit(*p))
			p++;
	}
	return p;
}

static const char	*value_end(const char *, const char *, int);

/* The end of the object or array that starts at p, or NULL. */
static const char *
container_end(const char *p, const char *end, int depth)
{
	char	 close = *p == '{' ? '}' : ']';

	if (depth >= JSON_DEPTH)
		return NULL;
	p = blanks(p + 1, end);
	if (p < end && *p == close)
		return p + 1;
	for (;;) {
		if (close == '}') {
			if (p == end || *p != '"' ||
			    (p = string_end(p, end)) == NULL)
				return NULL;
			p = blanks(p, end);
			if (p == end || *p != ':')
				return NULL;
			p++;
		}
		if ((p = value_end(p, end, depth + 1)) == NULL)
			return NULL;
		p = blanks(p, end);
		if (p == end)
			return NULL;
		if (*p == close)
			return p + 1;
		if (*p != ',')
			return NULL;
		p = blanks(p + 1, end);
	}
}

/* The end of the value after the blanks at p, or NULL. */
static const char *
value_end(const char *p, const char *end, int depth)
{
	static const char *const words[] = { "true", "false", "null" };
	size_t	 i, n;

	p = blanks(p, end);
	if (p == end)
		return NULL;
	switch (*p) {
	case '{':
	case '[':
		return container_end(p, end, depth);
	case '"':
		return string_end(p, end);
	default:
		break;
	}
	for (i = 0; i < 3; i++) {
		n = strlen(words[i]);
		if ((size_t)(end - p) >= n && memcmp(p, words[i], n) == 0)
			return p + n;
	}
	return number_end(p, end);
}

int
json_parse(const char *s, size_t len, struct json *v)
{
	const char	*start, *end = s + len, *p;

	start = blanks(s, end);
	if ((p = value_end(start, end, 0)) == NULL || blanks(p, end) != end)
		return -1;
	v->p = start;
	v->len = (size_t)(p - start);
	return 0;
}

int
json_iter_start(struct json v, char open, struct json_iter *it)
{
	if (v.len == 0 || v.p[0] != open)
		return -1;
	it->p = v.p + 1;
	it->end = v.p + v.len;
	it->close = open == '{' ? '}' : ']';
	it->first = 1;
	return 0;
}

int
json_iter_next(struct json_iter *it, struct json *key, struct json *v)
{
	const char	*p = blanks(it->p, it->end), *q;

	if (p == it->end || *p == it->close)
		return 0;
	if (!it->first)
		p = blanks(p + 1, it->end);	/* the ',' */
	it->first = 0;
	if (it->close == '}') {
		q = string_end(p, it->end);
		if (key != NULL) {
			key->p = p + 1;
			key->len = (size_t)(q - p) - 2;
		}
		p = blanks(q, it->end) + 1;	/* the ':' */
	}
	p = blanks(p, it->end);
	q = value_end(p, it->end, 0);
	v->p = p;
	v->len = (size_t)(q - p);
	it->p = q;
	return 1;
}

int
json_member(struct json v, const char *key, struct json *out)
{
	struct json_iter	 it;
	struct json		 k;
	size_t			 n = strlen(key);

	if (json_iter_start(v, '{', &it) == -1)
		return 0;
	while (json_iter_next(&it, &k, out))
		if (k.len == n && memcmp(k.p, key, n) == 0)
			return 1;
	return 0;
}

int
json_uint(struct json v, uint64_t *n)
{
	char			 buf[24];
	char			*end;
	unsigned long long	 u;

	if (v.len == 0 || v.len >= sizeof(buf) || !is_digit(v.p[0]))
		return -1;
	memcpy(buf, v.p, v.len);
	buf[v.len] = '\0';
	errno = 0;
	u = strtoull(buf, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*n = u;
	return 0;
}

int
json_number(struct json v, double *d)
{
	char	 buf[64];
	char	*end;

	if (v.len == 0 || v.len >= sizeof(buf) ||
	    number_end(v.p, v.p + v.len) != v.p + v.len)
		return -1;
	memcpy(buf, v.p, v.len);
	buf[v.len] = '\0';
	*d = strtod(buf, &end);
	return isfinite(*d) ? 0 : -1;
}

int
json_plain_string(struct json v, struct json *out)
{
	if (v.len < 2 || v.p[0] != '"' || memchr(v.p, '\\', v.len) != NULL)
		return -1;
	out->p = v.p + 1;
	out->len = v.len - 2;
	return 0;
}

size_t
json_escape_byte(unsigned char ch, char *out)
{
	static const char	 hex[] = "0123456789abcdef";

	if (ch == '"' || ch == '\\') {
		out[0] = '\\';
		out[1] = (char)ch;
		return 2;
	}
	if (ch < 0x20) {
		memcpy(out, "\\u00", 4);
		out[4] = hex[ch >> 4];
		out[5] = hex[ch & 0xf];
		return 6;
	}
	out[0] = (char)ch;
	return 1;
}
