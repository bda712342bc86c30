/*
 * The request options that request and bench share (-d -H -p -r -u -X
 * --role --data --script-name): parsing them, and the CGI environment they
 * make of a URL.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "cgi.h"
#include "fcgi.h"
#include "reqspec.h"

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
    long long content_length, const struct stat *data_st,
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
	spec->url.content_length = content_length;
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
	if (data_st != NULL) {
		snprintf(num, sizeof(num), "%lld", (long long)data_st->st_size);
		if (cgi_env_setstr(env, "FCGI_DATA_LENGTH", num) == -1)
			goto nomem;
		snprintf(num, sizeof(num), "%lld",
		    (long long)data_st->st_mtime);
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
