/*
 * The cgi-fcgi command line (-bind, -connect, -start, -f), for
 * "fcgi-bridge -connect ..." and for fcgi-bridge run under the name
 * cgi-fcgi: its arguments, taken in any order as cgi-fcgi takes them, and
 * its command files.  The -start part is spawn's job (spawn_run), the
 * -bind part connect's (connect_run).
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "addr.h"
#include "cgifcgi.h"
#include "client.h"
#include "spawn.h"

#define CMD_FILE_MAX		65536	/* a cgi-fcgi -f file is a line or two */

static void
usage_cgi_fcgi(FILE *f)
{
	const char	*me = getprogname();

	fprintf(f, "usage: %s -bind -connect address\n"
	    "       %s -connect address app [n]\n"
	    "       %s -start -connect address app [n]\n"
	    "       %s -f file\n", me, me, me, me);
}

int
cgi_fcgi_words(struct cgi_fcgi *cf, char *text)
{
	char	*line, *word, *rest, **w;
	int	 n = 0, cap = 0;

	for (rest = text; (line = strsep(&rest, "\n")) != NULL;) {
		if (*line == '#')
			continue;
		while ((word = strsep(&line, " \t\r")) != NULL) {
			if (*word == '\0')
				continue;
			if (n + 1 >= cap) {
				cap = cap ? cap * 2 : 16;
				w = reallocarray(cf->words, cap, sizeof(*w));
				if (w == NULL)
					return -1;
				cf->words = w;
			}
			cf->words[n++] = word;
		}
	}
	return n;
}

/*
 * Reads a cgi-fcgi command file into cf->file and cuts it into cf->words
 * (cgi_fcgi_words).  Returns the number of words (the caller frees both),
 * or -1 after saying why.
 */
static int
read_command_file(struct cgi_fcgi *cf, const char *path)
{
	FILE	*fp;
	size_t	 len;
	int	 n;

	if ((fp = fopen(path, "re")) == NULL) {
		warn("%s", path);
		return -1;
	}
	if ((cf->file = malloc(CMD_FILE_MAX + 1)) == NULL) {
		warn("%s", path);
		goto fail;
	}
	len = fread(cf->file, 1, CMD_FILE_MAX + 1, fp);
	if (ferror(fp)) {
		warn("%s", path);
		goto fail;
	}
	if (len > CMD_FILE_MAX) {
		warnx("%s: longer than %d bytes: not a cgi-fcgi command file",
		    path, CMD_FILE_MAX);
		goto fail;
	}
	cf->file[len] = '\0';
	fclose(fp);
	if ((n = cgi_fcgi_words(cf, cf->file)) == -1)
		warn("%s", path);
	return n;
fail:
	fclose(fp);
	return -1;
}

/*
 * "-f FILE" takes the arguments from FILE instead and, as in cgi-fcgi,
 * ignores the rest of the command line: a "#!" script run as a CGI may be
 * given words of an ISINDEX query there.
 */
int
cgi_fcgi_args(int argc, char **argv, struct cgi_fcgi *cf, int in_file)
{
	const char	*errstr;
	int		 i, n;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0) {
			if (in_file) {
				warnx("-f inside a command file");
				return EX_USAGE;
			}
			if (i + 1 == argc) {
				warnx("-f: no command file");
				return EX_USAGE;
			}
			if ((n = read_command_file(cf, argv[i + 1])) == -1)
				return EX_NOINPUT;
			return cgi_fcgi_args(n, cf->words, cf, 1);
		} else if (strcmp(argv[i], "-start") == 0)
			cf->bind = 0;
		else if (strcmp(argv[i], "-bind") == 0)
			cf->start = 0;
		else if (strcmp(argv[i], "-connect") == 0) {
			if (++i == argc) {
				warnx("-connect: no address");
				return EX_USAGE;
			}
			cf->connect = argv[i];
		} else if (argv[i][0] == '-') {
			warnx("%s: unknown option", argv[i]);
			return EX_USAGE;
		} else if (cf->app == NULL)
			cf->app = argv[i];
		else if (cf->n == 0) {
			cf->n = (int)strtonum(argv[i], 1, SPAWN_MAX_CHILDREN,
			    &errstr);
			if (errstr != NULL) {
				warnx("%s: expected 1 to %d processes, the "
				    "number is %s", argv[i], SPAWN_MAX_CHILDREN,
				    errstr);
				return EX_USAGE;
			}
		} else {
			warnx("%s: one argument too many", argv[i]);
			return EX_USAGE;
		}
	}
	if (cf->connect == NULL) {
		warnx("no -connect address");
		return EX_USAGE;
	}
	if (!cf->bind && !cf->start) {
		warnx("-bind and -start exclude each other");
		return EX_USAGE;
	}
	if (cf->start && cf->app == NULL) {
		warnx("-start, and -connect without -bind, need an application "
		    "to start");
		return EX_USAGE;
	}
	return 0;
}

/*
 * Whether nobody listens at the address, so that -connect should start
 * the application: refused, or no socket file.  Anything else (a full
 * backlog, a timeout, no permission) is the bridge's to report.
 */
static int
nobody_listens(const struct addr *a)
{
	int	 fd;

	if ((fd = addr_connect(a, 0)) != -1) {
		close(fd);
		return 0;
	}
	return errno == ECONNREFUSED || errno == ENOENT;
}

/* The -start part: N detached copies of APP on the socket, as cgi-fcgi. */
static int
cgi_fcgi_start(const struct cgi_fcgi *cf, const struct addr *a)
{
	struct spawn_opts	 o;
	char			*argv[2];
	int			 rc;

	spawn_opts_init(&o);
	o.addr = *a;
	o.n = cf->n > 0 ? cf->n : 1;
	/* cgi-fcgi has no -u or -g: the children keep our credentials. */
	/* cgi-fcgi executes APP as a path, relative or not, with no argument. */
	argv[0] = (char *)cf->app;
	argv[1] = NULL;
	o.argv = argv;
	if ((rc = spawn_find_app(&o, 0)) != 0)
		return rc;
	return spawn_run(&o);
}

/*
 * The -bind part: connect, the request from our environment and stdin.
 * As in CGI and cgi-fcgi, the body is CONTENT_LENGTH bytes and there is
 * none without it, whatever stdin holds (connect would read it to EOF).
 */
static int
cgi_fcgi_bridge(const char *address)
{
	struct connect_opts	 o;
	int			 rc;

	if ((rc = connect_opts_init(&o)) != 0)
		return rc;
	o.address = address;
	o.body_to_eof = 0;
	rc = connect_run(&o);
	connect_opts_free(&o);
	return rc;
}

/*
 * The -connect address in fcgi-bridge's terms, in address (of the size of
 * a->text), and parsed into a.  Returns 0, or EX_USAGE (said).
 */
static int
cgi_fcgi_address(const char *connect, char *address, struct addr *a)
{
	char	 err[600];
	int	 toolong;

	/* cgi-fcgi takes a name with neither ':' nor '/' as a socket path. */
	if (strpbrk(connect, ":/") == NULL)
		toolong = snprintf(address, sizeof(a->text), "unix:%s",
		    connect) >= (int)sizeof(a->text);
	else
		toolong = strlcpy(address, connect, sizeof(a->text)) >=
		    sizeof(a->text);
	if (toolong || addr_parse(address, a, err, sizeof(err)) == -1) {
		warnx("%s", toolong ? "-connect: address too long" : err);
		return EX_USAGE;
	}
	return 0;
}

int
cgi_fcgi_main(int argc, char **argv)
{
	struct cgi_fcgi	 cf;
	struct addr	 a;
	char		 address[sizeof(a.text)];
	int		 rc;

	memset(&cf, 0, sizeof(cf));
	cf.bind = cf.start = 1;
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		usage_cgi_fcgi(stdout);
		return 0;
	}
	if (argc < 2) {
		usage_cgi_fcgi(stderr);
		return EX_USAGE;
	}
	if ((rc = cgi_fcgi_args(argc - 1, argv + 1, &cf, 0)) != 0) {
		if (rc == EX_USAGE)
			usage_cgi_fcgi(stderr);
		goto done;
	}
	if ((rc = cgi_fcgi_address(cf.connect, address, &a)) != 0)
		goto done;
	if (cf.start && (!cf.bind || nobody_listens(&a))) {
		if ((rc = cgi_fcgi_start(&cf, &a)) != 0 || !cf.bind)
			goto done;
	}
	rc = cgi_fcgi_bridge(address);
done:
	free(cf.words);
	free(cf.file);
	return rc;
}
