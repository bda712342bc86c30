/* fcgi-bridge: argv to one command, the cgi-fcgi forms included. */
#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "bench.h"
#include "cgifcgi.h"
#include "client.h"
#include "serve.h"
#include "spawn.h"
#include "version.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: fcgi-bridge connect [-v] [-t seconds] [-p name=value] "
	    "[-u name] address\n"
	    "       fcgi-bridge request [-iv] [--fail] [-d data | @file | @-] "
	    "[-H 'name: value']\n"
	    "                   [-p name=value] [-r docroot] [--role role] "
	    "[--data @file]\n"
	    "                   [--script-name name] [-t seconds] [-u name] "
	    "[-X method]\n"
	    "                   address [url]\n"
	    "       fcgi-bridge values [-v] [-t seconds] address\n"
	    "       fcgi-bridge bench [-k] [--json] [-c conns] "
	    "[-D seconds | -n requests]\n"
	    "                   [-m inflight] [-R rate] [-t seconds] "
	    "[--urls file]\n"
	    "                   [--warmup seconds] [--check expr] "
	    "[--hdr-log file]\n"
	    "                   [--hgrm file] [request options] "
	    "address [url]\n"
	    "       fcgi-bridge bench --merge [--json] [--check expr] "
	    "[--hgrm file] file ...\n"
	    "       fcgi-bridge serve [-E] [-c n] [-e name=value] [-r dir] "
	    "[-s address]\n"
	    "                   [-t seconds] [-u user] [options] "
	    "[-- program [arg ...]]\n"
	    "       fcgi-bridge spawn [-F] [-a addrs] [-g group] [-G group] "
	    "[-m mode] [-n n]\n"
	    "                   [-P pidfile] [-s address] [-u user] "
	    "[-U user] -- app [arg ...]\n"
	    "       fcgi-bridge -bind -connect address\n"
	    "       fcgi-bridge -connect address app [n]\n"
	    "       fcgi-bridge -start -connect address app [n]\n"
	    "       fcgi-bridge -f file\n"
	    "       fcgi-bridge --help | --version | command --help\n"
	    "\n"
	    "An address is unix:PATH or a PATH with a '/', HOST:PORT, "
	    "[IPV6]:PORT or :PORT.\n"
	    "See fcgi-bridge(1).\n");
}

int
main(int argc, char *argv[])
{
	const char	*name = argc > 0 ? strrchr(argv[0], '/') : NULL;

	/* Writes to a closed peer or pipe fail with EPIPE, said in words. */
	signal(SIGPIPE, SIG_IGN);

	/* Installed as a cgi-fcgi link, it takes cgi-fcgi's command line. */
	if (argc > 0 &&
	    strcmp(name != NULL ? name + 1 : argv[0], "cgi-fcgi") == 0)
		return cgi_fcgi_main(argc, argv);
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
	if (strcmp(argv[1], "spawn") == 0)
		return cmd_spawn(argc - 1, argv + 1);
	if (strcmp(argv[1], "-bind") == 0 || strcmp(argv[1], "-start") == 0 ||
	    strcmp(argv[1], "-connect") == 0 || strcmp(argv[1], "-f") == 0)
		return cgi_fcgi_main(argc, argv);
	warnx("%s: unknown command", argv[1]);
	usage(stderr);
	return EX_USAGE;
}
