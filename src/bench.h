#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>

/* Takes argv from the command name on and returns the exit status. */
int	 cmd_bench(int, char **);

/*
 * The URLs of a --urls file whose text is buf (len bytes): one a line, up
 * to a NUL in it and with trailing CRs and spaces cut off; blank lines and
 * lines that start with '#' skipped.  Appends each to *urls as a string,
 * counting them in *n; the caller frees the strings and *urls, those
 * appended before a failure too.  Returns 0, or -1 with errno set when out
 * of memory.
 */
int	 bench_urls_parse(const char *buf, size_t len, char ***urls,
	    size_t *n);

#endif /* BENCH_H */
