#ifndef JSON_H
#define JSON_H

#include <stddef.h>
#include <stdint.h>

/*
 * A reader of JSON text (RFC 8259) in place: a value is the span of its
 * text, and nothing is copied; and the escaping of a string's bytes.  Pure: no I/O, no allocation.
 */
struct json {
	const char	*p;
	size_t		 len;
};

/* Members of an object, or elements of an array, one at a time. */
struct json_iter {
	const char	*p;
	const char	*end;
	char		 close;		/* '}' or ']' */
	int		 first;
};

/*
 * The document of len bytes: one value, blanks around it.  0 with *v its
 * span, or -1 when it is not well-formed JSON (nested at most 64 deep).
 */
int	 json_parse(const char *, size_t len, struct json *v);
/* The value of member key of object v: 1 found, 0 not (or not an object). */
int	 json_member(struct json v, const char *key, struct json *out);
/* Starts on the members ('{') or elements ('[') of v; 0, or -1 if not. */
int	 json_iter_start(struct json v, char open, struct json_iter *);
/*
 * The next member (its key, unquoted, in *key unless key is NULL) or
 * element: 1, or 0 at the end.  Only for a value json_parse accepted.
 */
int	 json_iter_next(struct json_iter *, struct json *key, struct json *);
/* A whole number from 0 to UINT64_MAX: 0, or -1 if v is not one. */
int	 json_uint(struct json v, uint64_t *);
/* A number: 0, or -1 if v is not one. */
int	 json_number(struct json v, double *);
/* A string without escapes, unquoted: 0, or -1 if v is not one. */
int	 json_plain_string(struct json v, struct json *out);

/*
 * The JSON text of one byte of a string, in out (7 bytes at least): the
 * byte, or its escape (\" \\ and \u00XX for a control character); its
 * length.  Bytes from 0x80 up pass unchanged: UTF-8 stays UTF-8.
 */
size_t	 json_escape_byte(unsigned char, char *out);

#endif /* JSON_H */
