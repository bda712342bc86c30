/* fcgi-bridge: argv to one command, the cgi-fcgi forms included. */
#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "bench.h"
#include "client.h"
#include "serve.h"
#include "version.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: fcgi-bridge connect [-v] [-t seconds] [-p name=value] "
	    "[-u name] address\n"
	    "       fcgi-bridge request [-iv] [--fail] [-d data | -d @file] "
	    "[-H 'name: value']\n"
	    "                   [-p name=value] [-r docroot] [--role role] "
	    "[--data @file]\n"
	    "                   [--script-name name] [-t seconds] [-u name] "
	    "[-X method]\n"
	    "                   address [url]\n"
	    "       fcgi-bridge values [-v] [-t seconds] address\n"
	    "       fcgi-bridge -bind -connect address\n"
	    "       fcgi-bridge --help | --version | command --help\n"
	    "\n"
	    "An address is unix:PATH or a PATH with a '/', HOST:PORT, "
	    "[IPV6]:PORT or :PORT.\n"
	    "See fcgi-bridge(1).\n");
}

int
main(int argc, char *argv[])
{
	static char	 connect_name[] = "connect";
	char		*cgi_fcgi_argv[3];

	/* Writes to a closed peer or pipe fail with EPIPE, said in words. */
	signal(SIGPIPE, SIG_IGN);

	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("fcgi-bridge %s\n", FCGI_BRIDGE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "connect") == 0)
		return cmd_connect(argc - 1, argv + 1);
	if (strcmp(argv[1], "request") == 0)
		return cmd_request(argc - 1, argv + 1);
	if (strcmp(argv[1], "values") == 0)
		return cmd_values(argc - 1, argv + 1);
	if (strcmp(argv[1], "bench") == 0)
		return cmd_bench(argc - 1, argv + 1);
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (argc == 4 && strcmp(argv[1], "-bind") == 0 &&
	    strcmp(argv[2], "-connect") == 0) {
		cgi_fcgi_argv[0] = connect_name;
		cgi_fcgi_argv[1] = argv[3];
		cgi_fcgi_argv[2] = NULL;
		return cmd_connect(2, cgi_fcgi_argv);
	}
	warnx("%s: unknown command", argv[1]);
	usage(stderr);
	return EX_USAGE;
}
