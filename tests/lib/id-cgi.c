/*
 * A CGI program for the chroot of tests/static.bats, built there with
 * musl-gcc -static, since that chroot has no C library and no shell.  It
 * answers with the credentials it runs with and its query string.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int
main(void)
{
	gid_t		 groups[64];
	const char	*query = getenv("QUERY_STRING");
	int		 i, n;

	if ((n = getgroups(64, groups)) == -1)
		n = 0;
	printf("Content-Type: text/plain\r\n\r\n");
	printf("uid=%ld gid=%ld groups=", (long)getuid(), (long)getgid());
	for (i = 0; i < n; i++)
		printf("%s%ld", i > 0 ? "," : "", (long)groups[i]);
	printf("\nquery=%s\n", query != NULL ? query : "");
	return 0;
}
