/*
 * libFuzzer target for bench's --urls file (bench_urls_parse, src/bench.c):
 * the input is the file's text.
 *
 * Checked: each URL is a line of the text, in order, up to a NUL in it and
 * with its trailing CRs and spaces cut off; none is empty, starts with '#', or ends with a
 * CR or a space; the lines skipped are exactly those blank or starting
 * with '#'; nothing leaks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define REQUIRE(c)	do { if (!(c)) abort(); } while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*text = (const char *)data, *line, *nl;
	char		**urls = NULL;
	size_t		 n = 0, i, off, len, ulen;

	REQUIRE(bench_urls_parse(text, size, &urls, &n) == 0);
	REQUIRE((n == 0) == (urls == NULL));
	/* Walk the lines again, matching each one kept with its URL. */
	i = 0;
	for (off = 0; off < size; off += len + 1) {
		line = text + off;
		nl = memchr(line, '\n', size - off);
		len = nl == NULL ? size - off : (size_t)(nl - line);
		ulen = strnlen(line, len);
		while (ulen > 0 && (line[ulen - 1] == '\r' ||
		    line[ulen - 1] == ' '))
			ulen--;
		if (ulen == 0 || line[0] == '#')
			continue;
		REQUIRE(i < n);
		REQUIRE(strlen(urls[i]) == ulen);
		REQUIRE(memcmp(urls[i], line, ulen) == 0);
		i++;
	}
	REQUIRE(i == n);
	for (i = 0; i < n; i++) {
		ulen = strlen(urls[i]);
		REQUIRE(ulen > 0 && urls[i][0] != '#');
		REQUIRE(urls[i][ulen - 1] != '\r' && urls[i][ulen - 1] != ' ');
		REQUIRE(strchr(urls[i], '\n') == NULL);
		free(urls[i]);
	}
	free(urls);
	return 0;
}
