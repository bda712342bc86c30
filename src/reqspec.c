/*
 * The request options that request and bench share (-d -H -p -r -u -X
 * --role --data --script-name): parsing them, opening the body and FILTER
 * data files they name and reading those a piece at a time, and the CGI
 * environment they make of a URL.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "cgi.h"
#include "fcgi.h"
#include "reqspec.h"
#include "util.h"

static int
role_parse(const char *s, uint16_t *role)
{
	if (strcasecmp(s, "responder") == 0)
		*role = FCGI_RESPONDER;
	else if (strcasecmp(s, "authorizer") == 0)
		*role = FCGI_AUTHORIZER;
	else if (strcasecmp(s, "filter") == 0)
		*role = FCGI_FILTER;
	else {
		warnx("--role %s: expected responder, authorizer or filter", s);
		return -1;
	}
	return 0;
}

int
request_spec_init(struct request_spec *spec, int argc)
{
	memset(spec, 0, sizeof(*spec));
	spec->stdin_content.fd = spec->data_content.fd = -1;
	spec->url.content_length = -1;
	spec->role = FCGI_RESPONDER;
	if ((spec->headers = calloc(argc, sizeof(char *))) == NULL ||
	    (spec->puts = calloc(argc, sizeof(char *))) == NULL ||
	    (spec->unsets = calloc(argc, sizeof(char *))) == NULL) {
		warn("calloc");
		request_spec_free(spec);
		return -1;
	}
	spec->url.headers = spec->headers;
	return 0;
}

void
request_spec_free(struct request_spec *spec)
{
	free(spec->headers);
	free(spec->puts);
	free(spec->unsets);
	spec->headers = spec->puts = spec->unsets = NULL;
	if (spec->stdin_content.fd != -1)
		close(spec->stdin_content.fd);
	if (spec->data_content.fd != -1)
		close(spec->data_content.fd);
	spec->stdin_content.fd = spec->data_content.fd = -1;
}

int
request_spec_option(struct request_spec *spec, int ch, char *arg)
{
	switch (ch) {
	case 'd':
		spec->body = arg;
		return 1;
	case 'H':
		spec->headers[spec->url.nheaders++] = arg;
		return 1;
	case 'p':
		if (strchr(arg, '=') == NULL || arg[0] == '=') {
			warnx("-p %s: expected NAME=VALUE", arg);
			return -1;
		}
		spec->puts[spec->nputs++] = arg;
		return 1;
	case 'r':
		spec->url.docroot = arg;
		spec->url.docroot_given = 1;
		return 1;
	case 'u':
		spec->unsets[spec->nunsets++] = arg;
		return 1;
	case 'X':
		spec->url.method = arg;
		return 1;
	case REQUEST_OPT_ROLE:
		return role_parse(arg, &spec->role) == -1 ? -1 : 1;
	case REQUEST_OPT_DATA:
		if (arg[0] != '@') {
			warnx("--data %s: expected @FILE", arg);
			return -1;
		}
		spec->data = arg;
		return 1;
	case REQUEST_OPT_SCRIPT_NAME:
		spec->url.script_name = arg;
		return 1;
	default:
		return 0;
	}
}

int
request_spec_env(struct request_spec *spec, const char *url,
    struct cgi_env *env)
{
	char	 err[600], num[32];
	size_t	 i;

	if (spec->role == FCGI_AUTHORIZER && spec->body != NULL) {
		warnx("-d: an authorizer is sent no request body");
		return EX_USAGE;
	}
	if ((spec->data != NULL) != (spec->role == FCGI_FILTER)) {
		warnx(spec->data ? "--data goes with --role filter" :
		    "--role filter needs --data @FILE");
		return EX_USAGE;
	}
	spec->url.url = url;
	spec->url.content_length = spec->body != NULL ?
	    spec->stdin_content.len : -1;
	if (cgi_env_from_url(env, &spec->url, err, sizeof(err)) == -1) {
		warnx("%s", err);
		return EX_USAGE;
	}
	if (spec->role == FCGI_AUTHORIZER) {
		/* FastCGI 1.0, 6.3: an authorizer is not given these. */
		cgi_env_unset(env, "CONTENT_LENGTH");
		cgi_env_unset(env, "PATH_INFO");
		cgi_env_unset(env, "PATH_TRANSLATED");
		cgi_env_unset(env, "SCRIPT_NAME");
	}
	if (spec->data != NULL) {
		snprintf(num, sizeof(num), "%lld", spec->data_content.len);
		if (cgi_env_setstr(env, "FCGI_DATA_LENGTH", num) == -1)
			goto nomem;
		snprintf(num, sizeof(num), "%lld",
		    (long long)spec->data_content.mtime);
		if (cgi_env_setstr(env, "FCGI_DATA_LAST_MOD", num) == -1)
			goto nomem;
	}
	for (i = 0; i < spec->nputs; i++)
		if (cgi_env_put(env, spec->puts[i]) == -1)
			goto nomem;
	for (i = 0; i < spec->nunsets; i++)
		cgi_env_unset(env, spec->unsets[i]);
	return 0;
nomem:
	warn("building the request");
	return EX_OSERR;
}

/*
 * Copies all of fd (a pipe, a terminal...) into a temporary file that
 * becomes c's, so that the body's length is known before it is sent.
 * Returns 0, or an exit status (said).
 */
static int
content_copy(struct request_content *c, int fd)
{
	char	 buf[65536];
	ssize_t	 n;

	if ((c->fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC,
	    0600)) == -1) {
		warn("temporary file for %s", c->name);
		return EX_OSERR;
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			warn("reading %s", c->name);
			return EX_IOERR;
		}
		if (write_all(c->fd, buf, (size_t)n) == -1) {
			warn("temporary file for %s", c->name);
			return EX_IOERR;
		}
		c->len += n;
	}
	return 0;
}

/*
 * Opens the body that -d names: "@-" (standard input, from where it
 * stands), "@FILE", or the text itself.  Returns 0, or an exit status
 * (said).
 */
static int
content_open_body(struct request_content *c, const char *arg)
{
	struct stat	 st;
	off_t		 pos;
	int		 fd, rc;

	if (arg[0] != '@') {
		c->text = arg;
		c->len = (long long)strlen(arg);
		return 0;
	}
	c->name = arg + 1;
	/* A descriptor of our own, closed as the others are. */
	if (strcmp(arg, "@-") == 0)
		fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
	else
		fd = open(c->name, O_RDONLY | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1) {
		warn("%s", c->name);
		if (fd != -1)
			close(fd);
		return EX_NOINPUT;
	}
	if (S_ISREG(st.st_mode)) {
		pos = lseek(fd, 0, SEEK_CUR);
		c->fd = fd;
		c->offset = pos > 0 ? pos : 0;
		c->len = st.st_size > c->offset ? st.st_size - c->offset : 0;
		return 0;
	}
	rc = content_copy(c, fd);
	close(fd);
	return rc;
}

/* Opens the --data file: its size is what is sent, whatever its type. */
static int
content_open_data(struct request_content *c, const char *path)
{
	struct stat	 st;

	c->name = path;
	if ((c->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(c->fd, &st) == -1) {
		warn("%s", path);
		return EX_NOINPUT;
	}
	c->len = st.st_size;
	c->mtime = st.st_mtime;
	return 0;
}

int
request_spec_open(struct request_spec *spec)
{
	int	 rc;

	if (spec->body != NULL &&
	    (rc = content_open_body(&spec->stdin_content, spec->body)) != 0)
		return rc;
	if (spec->data != NULL)
		return content_open_data(&spec->data_content, spec->data + 1);
	return 0;
}

int
request_content_read(const struct request_content *c, long long off,
    void *buf, size_t len)
{
	size_t	 got = 0;
	ssize_t	 n;

	if (c->text != NULL) {
		memcpy(buf, c->text + off, len);
		return 0;
	}
	while (got < len) {
		n = pread(c->fd, (char *)buf + got, len - got,
		    c->offset + off + (off_t)got);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			warn("reading %s", c->name);
			return -1;
		}
		if (n == 0) {
			warnx("%s: the file ended after %lld of its %lld bytes",
			    c->name, off + (long long)got, c->len);
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}
