/*
 * libFuzzer target for the CGI response header block (cgi_response_parse,
 * src/cgi.c): the bytes a CGI writes first on its standard output.
 *
 * The input is parsed as it is, then again at the end of header lines
 * that bring the whole near CGI_MAX_HEADER_BLOCK, so that the limit is
 * met on every side.  Checked, on each: the contract cgi.h states (a
 * length no more than len and the limit, 0 only while under the limit, a
 * reason with -1), that an accepted block really is one (header lines
 * with a name and colon, then a blank line, the status in range and as
 * the headers make it), and that the prefixes of the input go 0, 0, ...
 * then settle on the input's own answer: a parse never changes its mind
 * as more bytes arrive.  Every parse reads an exact heap copy, so that
 * ASan sees a read past its end.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cgi.h"

#define REQUIRE(c)	do { if (!(c)) abort(); } while (0)

/* Inputs up to this long have every prefix parsed; longer ones, some. */
#define ALL_PREFIXES	512
#define SOME_PREFIXES	64

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Parses an exact heap copy of buf's first len bytes. */
static long
parse_exact(const char *buf, size_t len, struct cgi_response *r,
    const char **errstr)
{
	char	*copy;
	long	 rc;

	REQUIRE((copy = malloc(len ? len : 1)) != NULL);
	memcpy(copy, buf, len);
	rc = cgi_response_parse(copy, len, r, errstr);
	free(copy);
	return rc;
}

/* Whether the line at p, n bytes without its LF, is blank but for a CR. */
static int
blank(const char *p, size_t n)
{
	return n == 0 || (n == 1 && p[0] == '\r');
}

/*
 * The block that the parse accepted, len bytes at buf, checked line by
 * line against r.
 */
static void
check_block(const char *buf, size_t len, const struct cgi_response *r)
{
	const char	*line = buf, *nl, *colon, *value, *end;
	size_t		 n;
	int		 status = 0, location = 0, content_type = 0;

	REQUIRE(len > 0 && buf[len - 1] == '\n');
	for (;;) {
		nl = memchr(line, '\n', buf + len - line);
		REQUIRE(nl != NULL);
		n = nl - line;
		if (blank(line, n))
			break;
		end = n > 0 && line[n - 1] == '\r' ? nl - 1 : nl;
		colon = memchr(line, ':', end - line);
		REQUIRE(colon != NULL && colon != line);
		value = colon + 1;
		while (value < end && (*value == ' ' || *value == '\t'))
			value++;
		if (colon - line == 6 && strncasecmp(line, "Status", 6) == 0) {
			/* "NNN" or "NNN reason"; the last one counts. */
			REQUIRE(end - value == 3 ||
			    (end - value > 3 && value[3] == ' '));
			REQUIRE(isdigit((unsigned char)value[0]) &&
			    isdigit((unsigned char)value[1]) &&
			    isdigit((unsigned char)value[2]));
			status = (value[0] - '0') * 100 + (value[1] - '0') * 10 +
			    (value[2] - '0');
		} else if (colon - line == 8 &&
		    strncasecmp(line, "Location", 8) == 0)
			location = 1;
		else if (colon - line == 12 &&
		    strncasecmp(line, "Content-Type", 12) == 0)
			content_type = 1;
		line = nl + 1;
	}
	/* The first blank line ends the block. */
	REQUIRE(nl == buf + len - 1);
	REQUIRE(status != 0 || location || content_type);
	REQUIRE(r->has_status == (status != 0));
	REQUIRE(r->has_location == location);
	REQUIRE(r->has_content_type == content_type);
	REQUIRE(r->status >= 100 && r->status <= 999);
	REQUIRE(r->status == (status != 0 ? status : location ? 302 : 200));
}

/* Parses buf and checks what cgi.h promises; returns the parse's answer. */
static long
check_parse(const char *buf, size_t len)
{
	struct cgi_response	 r;
	const char		*errstr;
	long			 rc;

	rc = parse_exact(buf, len, &r, &errstr);
	REQUIRE(rc >= -1);
	REQUIRE(rc <= (long)len && rc <= CGI_MAX_HEADER_BLOCK);
	if (rc == -1)
		REQUIRE(errstr != NULL && *errstr != '\0');
	else
		REQUIRE(errstr == NULL);
	if (rc == 0)
		REQUIRE(len < CGI_MAX_HEADER_BLOCK);
	if (rc > 0)
		check_block(buf, (size_t)rc, &r);
	return rc;
}

/*
 * Prefixes of buf, in increasing length, answer 0 until they answer
 * whole_rc, the answer for all of buf, and then keep answering it.
 */
static void
check_prefixes(const char *buf, size_t len, long whole_rc)
{
	struct cgi_response	 r;
	const char		*errstr;
	size_t			 k, step;
	long			 rc, settled = 0;

	step = len <= ALL_PREFIXES ? 1 : len / SOME_PREFIXES;
	for (k = 0; k < len; k += step) {
		rc = parse_exact(buf, k, &r, &errstr);
		REQUIRE(rc == 0 || rc == whole_rc);
		REQUIRE(settled == 0 || rc == settled);
		settled = rc;
		/* A block's answer comes with its last byte, not before. */
		if (whole_rc > 0)
			REQUIRE((rc != 0) == (k >= (size_t)whole_rc));
	}
	/* Longer inputs: a block is "need more" up to its last byte. */
	if (whole_rc > 0 && step > 1) {
		REQUIRE(parse_exact(buf, whole_rc - 1, &r, &errstr) == 0);
		REQUIRE(parse_exact(buf, whole_rc, &r, &errstr) == whole_rc);
	}
}

/*
 * The input after header lines that fill the block up to the limit, give
 * or take a few bytes as the input's first byte says.
 */
static void
check_near_limit(const uint8_t *data, size_t size)
{
	char	*buf;
	size_t	 pad, len, off, n;

	pad = CGI_MAX_HEADER_BLOCK - 4 + (data[0] % 8);
	if (pad <= size + 3)
		return;
	pad -= size;
	len = pad + size;
	REQUIRE((buf = malloc(len)) != NULL);
	/* Lines "x:yyy...y\n" of 3 to 1000 bytes, none blank. */
	for (off = 0; off < pad; off += n) {
		n = pad - off <= 1000 ? pad - off : pad - off - 1000 < 3 ?
		    500 : 1000;
		memset(buf + off, 'y', n);
		buf[off] = 'x';
		buf[off + 1] = ':';
		buf[off + n - 1] = '\n';
	}
	memcpy(buf + pad, data, size);
	(void)check_parse(buf, len);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*buf = (const char *)data;

	check_prefixes(buf, size, check_parse(buf, size));
	if (size > 0)
		check_near_limit(data, size);
	return 0;
}
