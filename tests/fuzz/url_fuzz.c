/*
 * libFuzzer target for the CGI environment built from a URL
 * (cgi_env_from_url, src/cgi.c), and so for url_path_normalise, whose
 * result is DOCUMENT_URI: what request and bench make of a URL and the
 * options -X, --script-name, -H and -r.
 *
 * The input is a flag byte, then lines: the URL, the method, the script
 * name, then headers, one a line.  The flag byte says which of the method
 * and script name count, whether there is a body, and the document root:
 * none (the current directory, never looked in) or one that does not
 * exist, looked in for the script (-r) or not, so that no file decides
 * anything.
 *
 * Checked: DOCUMENT_URI starts with '/' and has no "." or ".." segment and
 * no doubled slash; SCRIPT_NAME and PATH_INFO put together are
 * DOCUMENT_URI; REQUEST_URI is the URL's end, but for a fragment (#...),
 * and QUERY_STRING the end of REQUEST_URI; no value holds a NUL; the
 * environment encodes and decodes back to itself; nothing leaks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgi.h"
#include "fcgi.h"

#define REQUIRE(c)	do { if (!(c)) abort(); } while (0)

#define MAX_HEADERS	64

/* Flag byte. */
#define F_ROOT		0x03	/* 0: none, 1: missing, 2: missing with -r */
#define F_METHOD	0x04
#define F_SCRIPT_NAME	0x08
#define F_BODY		0x10

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char	 missing_root[] = "/nonexistent-fcgi-bridge-fuzz-root";

/* Whether s ends with suffix. */
static int
ends_with(const char *s, const char *suffix)
{
	size_t	 n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const char *
get(const struct cgi_env *env, const char *name)
{
	const char	*v = cgi_env_get(env, name);

	REQUIRE(v != NULL);
	return v;
}

/* The environment, encoded as FastCGI pairs, decodes to itself. */
static void
check_encoding(const struct cgi_env *env)
{
	struct fcgi_nv	 nv;
	uint8_t		*buf;
	size_t		 len, off = 0, i;
	long		 n;

	REQUIRE((buf = cgi_env_encode(env, &len)) != NULL);
	for (i = 0; i < env->n; i++) {
		n = fcgi_nv_parse(buf + off, len - off, FCGI_MAX_NV_LEN, &nv);
		REQUIRE(n > 0);
		REQUIRE(nv.name_len == strlen(env->vars[i].name) &&
		    memcmp(nv.name, env->vars[i].name, nv.name_len) == 0);
		REQUIRE(nv.value_len == env->vars[i].value_len &&
		    memcmp(nv.value, env->vars[i].value, nv.value_len) == 0);
		off += (size_t)n;
	}
	REQUIRE(off == len);
	free(buf);
}

static void
check_env(const struct cgi_env *env, const struct cgi_url_request *req)
{
	const char	*uri, *script, *info, *ruri, *query, *url, *q;
	size_t		 i, n;
	int		 found = 0;

	for (i = 0; i < env->n; i++) {
		REQUIRE(env->vars[i].name[0] != '\0');
		REQUIRE(strchr(env->vars[i].name, '=') == NULL);
		REQUIRE(memchr(env->vars[i].value, '\0',
		    env->vars[i].value_len) == NULL);
		REQUIRE(env->vars[i].value[env->vars[i].value_len] == '\0');
	}

	uri = get(env, "DOCUMENT_URI");
	REQUIRE(uri[0] == '/');
	REQUIRE(strstr(uri, "//") == NULL);
	REQUIRE(strstr(uri, "/./") == NULL && !ends_with(uri, "/."));
	REQUIRE(strstr(uri, "/../") == NULL && !ends_with(uri, "/.."));

	script = get(env, "SCRIPT_NAME");
	info = get(env, "PATH_INFO");
	if (req->script_name == NULL) {
		n = strlen(script);
		REQUIRE(strncmp(uri, script, n) == 0 &&
		    strcmp(uri + n, info) == 0);
	} else {
		REQUIRE(strcmp(script, req->script_name) == 0);
		REQUIRE(*info == '\0' || ends_with(uri, info));
	}

	/* REQUEST_URI is where the URL ends, or where its fragment starts. */
	url = req->url;
	ruri = get(env, "REQUEST_URI");
	n = strlen(ruri);
	REQUIRE(strchr(ruri, '#') == NULL);
	for (q = url; !found && (q = strstr(q, ruri)) != NULL; q++)
		found = q[n] == '\0' || q[n] == '#';
	REQUIRE(found);
	query = get(env, "QUERY_STRING");
	REQUIRE(*query == '\0' || (n > strlen(query) &&
	    ends_with(ruri, query) && ruri[n - strlen(query) - 1] == '?'));

	REQUIRE(strcmp(get(env, "REQUEST_METHOD"), req->method != NULL ?
	    req->method : req->content_length >= 0 ? "POST" : "GET") == 0);
	REQUIRE(*get(env, "SERVER_NAME") != '\0');
	n = strlen(get(env, "SERVER_PORT"));
	REQUIRE(n > 0 && strspn(get(env, "SERVER_PORT"), "0123456789") == n);
	check_encoding(env);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cgi_url_request	 req;
	struct cgi_env		 env;
	char			*text, *fields[3 + MAX_HEADERS], *rest;
	char			 err[256];
	size_t			 nfields = 0;
	int			 flags, rc;

	if (size < 1)
		return 0;
	flags = data[0];
	REQUIRE((text = malloc(size)) != NULL);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	for (rest = text; rest != NULL && nfields < 3 + MAX_HEADERS;)
		fields[nfields++] = strsep(&rest, "\n");

	memset(&req, 0, sizeof(req));
	req.url = fields[0];
	if (nfields > 1 && (flags & F_METHOD))
		req.method = fields[1];
	if (nfields > 2 && (flags & F_SCRIPT_NAME))
		req.script_name = fields[2];
	if (nfields > 3) {
		req.headers = fields + 3;
		req.nheaders = nfields - 3;
	}
	req.content_length = flags & F_BODY ? (long long)size : -1;
	switch (flags & F_ROOT) {
	case 0:
		break;
	case 2:
		req.docroot_given = 1;
		/* FALLTHROUGH */
	default:
		req.docroot = missing_root;
	}

	memset(&env, 0, sizeof(env));
	err[0] = '\0';
	rc = cgi_env_from_url(&env, &req, err, sizeof(err));
	REQUIRE(rc == 0 || rc == -1);
	if (rc == 0)
		check_env(&env, &req);
	else
		REQUIRE(err[0] != '\0' && memchr(err, '\0', sizeof(err)));
	cgi_env_free(&env);
	free(text);
	return 0;
}
