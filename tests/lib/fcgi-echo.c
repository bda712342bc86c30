/*
 * A libfcgi responder for tests/compat.bats and tests/spawn.bats, built by
 * them with `cc -o fcgi-echo fcgi-echo.c -lfcgi`.  It answers each request
 * with every param in the order received, then the body, and takes its
 * variations from QUERY_STRING:
 *
 *	status=N	end the request with appStatus N
 *	big=N		append N lines of 64 bytes
 *	stderr		write a line to FCGI_STDERR
 *	pid		print the pid that answered
 */
#include <fcgi_stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static long
query_number(const char *query, const char *name)
{
	const char	*p;

	if (query == NULL || (p = strstr(query, name)) == NULL)
		return -1;
	return strtol(p + strlen(name), NULL, 10);
}

int
main(void)
{
	const char	*query, *cl;
	char		 buf[8192];
	char		**e;
	long		 left, i;
	size_t		 n;

	while (FCGI_Accept() >= 0) {
		query = getenv("QUERY_STRING");
		printf("Content-Type: text/plain\r\n\r\n");
		for (e = environ; *e != NULL; e++)
			printf("%s\n", *e);
		printf("BODY=");
		cl = getenv("CONTENT_LENGTH");
		left = cl != NULL ? strtol(cl, NULL, 10) : 0;
		while (left > 0 && (n = fread(buf, 1, left < (long)sizeof(buf) ?
		    (size_t)left : sizeof(buf), stdin)) > 0) {
			fwrite(buf, 1, n, stdout);
			left -= (long)n;
		}
		printf("\n");
		for (i = 0; i < query_number(query, "big="); i++)
			printf("%063ld\n", i);
		if (query != NULL && strstr(query, "pid") != NULL)
			printf("pid=%ld\n", (long)getpid());
		if (query != NULL && strstr(query, "stderr") != NULL)
			fprintf(stderr, "fcgi-echo: a line on FCGI_STDERR\n");
		/* libfcgi keeps the last status for the next request. */
		i = query_number(query, "status=");
		FCGI_SetExitStatus(i >= 0 ? (int)i : 0);
	}
	return 0;
}
