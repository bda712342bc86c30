/*
 * Unit tests for src/cgi.c: the CGI response header block
 * (cgi_response_parse) and the environment that request builds from a URL
 * (cgi_env_from_url), whose DOCUMENT_URI is the URL's path as
 * url_path_normalise leaves it.
 *
 * Buffers handed to cgi_response_parse are heap copies of exactly the
 * length passed, so that ASan catches a read past the end.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgi.h"
#include "tap.h"
#include "version.h"

/* ---- cgi_response_parse ------------------------------------------- */

/* Parses an exact heap copy of the first len bytes of block. */
static long
response_parse(const char *block, size_t len, struct cgi_response *r,
    const char **errstr)
{
	char	*copy = dup_exact(block, len);
	long	 rc;

	rc = cgi_response_parse(exact_ptr(copy, len), len, r, errstr);
	free(copy);
	return rc;
}

/* Whether the whole of block parses as a block of its length. */
static int
block_ok_(const char *block, int status, int line)
{
	struct cgi_response	 r;
	const char		*errstr;
	long			 rc;

	rc = response_parse(block, strlen(block), &r, &errstr);
	if (rc != (long)strlen(block) || r.status != status) {
		FAIL("line %d: got %ld, status %d (%s), want %zu, status %d",
		    line, rc, r.status, errstr ? errstr : "no error",
		    strlen(block), status);
		return 0;
	}
	return 1;
}

/* Whether block is malformed, with errstr saying why. */
static int
block_bad_(const char *block, int line)
{
	struct cgi_response	 r;
	const char		*errstr = NULL;
	long			 rc;

	rc = response_parse(block, strlen(block), &r, &errstr);
	if (rc != -1 || errstr == NULL) {
		FAIL("line %d: got %ld, want -1 with a reason", line, rc);
		return 0;
	}
	return 1;
}

#define BLOCK_OK(block, status)	block_ok_((block), (status), __LINE__)
#define BLOCK_BAD(block)	block_bad_((block), __LINE__)

static void
t_response_status_bounds(void)
{
	BLOCK_OK("Status: 100\n\n", 100);
	BLOCK_OK("Status: 999\n\n", 999);
	BLOCK_OK("Status: 200 OK\n\n", 200);
	BLOCK_OK("Status:404 Not Found\n\n", 404);
	BLOCK_OK("status: 418\n\n", 418);
	BLOCK_BAD("Status: 099\n\n");
	BLOCK_BAD("Status: 000\n\n");
	BLOCK_BAD("Status: 1000\n\n");
	BLOCK_BAD("Status: 99\n\n");
	BLOCK_BAD("Status: \n\n");
	BLOCK_BAD("Status: 2x0\n\n");
	BLOCK_BAD("Status: -10\n\n");
	BLOCK_BAD("Status: 200OK\n\n");
	BLOCK_BAD("Status: 200\tOK\n\n");
}

static void
t_response_status_fields(void)
{
	struct cgi_response	 r;
	const char		*errstr;
	static const char	 b[] = "Status: 201 Created\r\n"
	    "Content-Type: text/plain\r\nLocation: /new\r\n\r\n";

	CHECK_EQ(response_parse(b, sizeof(b) - 1, &r, &errstr),
	    sizeof(b) - 1);
	CHECK_EQ(r.status, 201);
	CHECK(r.has_status && r.has_location && r.has_content_type);
	CHECK(errstr == NULL);
}

static void
t_response_line_ends(void)
{
	BLOCK_OK("Content-Type: text/html\n\n", 200);
	BLOCK_OK("Content-Type: text/html\r\n\r\n", 200);
	BLOCK_OK("Content-Type: text/html\r\nX-A: 1\n\r\n", 200);
	BLOCK_OK("Content-Type: text/html\nX-A: 1\r\n\n", 200);
	BLOCK_OK("Status: 204\r\n\n", 204);
}

static void
t_response_body_not_counted(void)
{
	struct cgi_response	 r;
	const char		*errstr;
	static const char	 b[] = "Content-Type: text/plain\n\nbody\n\n";

	CHECK_EQ(response_parse(b, sizeof(b) - 1, &r, &errstr), 26);
	CHECK_EQ(r.status, 200);
}

static void
t_response_location(void)
{
	BLOCK_OK("Location: http://example.com/\n\n", 302);
	BLOCK_OK("location: /elsewhere\r\n\r\n", 302);
	BLOCK_OK("Location: /x\nStatus: 301 Moved Permanently\n\n", 301);
	BLOCK_OK("Status: 303\nLocation: /x\n\n", 303);
	BLOCK_OK("Location: /x\nContent-Type: text/html\n\n", 302);
}

static void
t_response_needs_a_known_header(void)
{
	BLOCK_BAD("\n");
	BLOCK_BAD("\r\n");
	BLOCK_BAD("X-Powered-By: PHP\n\n");
	BLOCK_BAD("Content-Length: 0\r\n\r\n");
	BLOCK_BAD("Content-Typ: text/plain\n\n");
	BLOCK_OK("CONTENT-TYPE: text/plain\n\n", 200);
}

static void
t_response_line_without_colon(void)
{
	BLOCK_BAD("Content-Type text/plain\n\n");
	BLOCK_BAD("Content-Type: text/plain\nno colon\n\n");
	BLOCK_BAD(": no name\nContent-Type: text/plain\n\n");
	BLOCK_BAD("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
	BLOCK_OK("Content-Type: text/plain\nX-Empty:\n\n", 200);
}

/*
 * Every prefix of a valid block is "not yet", 0, never -1 nor a length;
 * the whole is its length.
 */
static void
t_response_every_prefix(void)
{
	static const char *const blocks[] = {
		"Content-Type: text/html\n\n",
		"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\n",
		"Location: /x\r\nStatus: 301 Moved\n\r\n",
		"X-A: 1\nX-B:\nContent-Type: a/b\r\nStatus: 500\n\n",
	};
	struct cgi_response	 r;
	const char		*errstr;
	size_t			 i, cut, len;
	long			 rc;

	for (i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
		len = strlen(blocks[i]);
		for (cut = 0; cut < len; cut++) {
			rc = response_parse(blocks[i], cut, &r, &errstr);
			if (rc != 0) {
				FAIL("block %zu cut at %zu of %zu: got %ld, "
				    "want 0", i, cut, len, rc);
				break;
			}
		}
		CHECK_EQ(response_parse(blocks[i], len, &r, &errstr), len);
	}
}

/*
 * A valid block of n bytes (n well above 2000): Content-Type, then X-Pad
 * lines, then the blank line, all ending in eol.  In a buffer the caller
 * frees.
 */
static char *
block_of(size_t n, const char *eol)
{
	static const char	 head[] = "Content-Type: text/plain";
	size_t			 el = strlen(eol), off, rest, line;
	char			*b = xmalloc(n);

	memcpy(b, head, sizeof(head) - 1);
	off = sizeof(head) - 1;
	memcpy(b + off, eol, el);
	off += el;
	while ((rest = n - off - el) > 0) {
		/* Lines of 1000 bytes, and one of 1001 to 2000 to end. */
		line = rest > 2000 ? 1000 : rest;
		memcpy(b + off, "X-Pad: ", 7);
		memset(b + off + 7, 'x', line - 7 - el);
		memcpy(b + off + line - el, eol, el);
		off += line;
	}
	memcpy(b + off, eol, el);
	return b;
}

static void
t_response_size_limit(void)
{
	static const char *const eols[] = { "\n", "\r\n" };
	struct cgi_response	 r;
	const char		*errstr;
	char			*b;
	size_t			 i, n;

	for (i = 0; i < 2; i++) {
		n = CGI_MAX_HEADER_BLOCK;
		b = block_of(n, eols[i]);
		CHECK_EQ(response_parse(b, n, &r, &errstr), n);
		CHECK_EQ(response_parse(b, n - 1, &r, &errstr), 0);
		free(b);

		n = CGI_MAX_HEADER_BLOCK + 1;
		b = block_of(n, eols[i]);
		errstr = NULL;
		if (!CHECK_EQ(response_parse(b, n, &r, &errstr), -1))
			diag("line ends %s", i == 0 ? "LF" : "CRLF");
		CHECK(errstr != NULL);
		/* Without the end, all that a caller may hold is too long. */
		CHECK_EQ(response_parse(b, CGI_MAX_HEADER_BLOCK, &r, &errstr),
		    -1);
		CHECK_EQ(response_parse(b, CGI_MAX_HEADER_BLOCK - 1, &r,
		    &errstr), 0);
		free(b);
	}
}

static void
t_response_one_long_line(void)
{
	struct cgi_response	 r;
	const char		*errstr = NULL;
	char			*b = xmalloc(CGI_MAX_HEADER_BLOCK);

	memcpy(b, "X-Long: ", 8);
	memset(b + 8, 'y', CGI_MAX_HEADER_BLOCK - 8);
	CHECK_EQ(response_parse(b, CGI_MAX_HEADER_BLOCK - 1, &r, &errstr), 0);
	CHECK_EQ(response_parse(b, CGI_MAX_HEADER_BLOCK, &r, &errstr), -1);
	CHECK(errstr != NULL);
	free(b);
}

/* ---- cgi_env_from_url --------------------------------------------- */

#define ROOT	"/nonexistent-fcgi-bridge-root"
#define SOFTWARE	"SERVER_SOFTWARE=fcgi-bridge/" FCGI_BRIDGE_VERSION

/*
 * Whether env is exactly want, "NAME=VALUE" strings in order, ending
 * with NULL.
 */
static int
env_is_(const struct cgi_env *env, const char *const *want, int line)
{
	char	 have[1024];
	size_t	 i;
	int	 ok = 1;

	for (i = 0; i < env->n || want[i] != NULL; i++) {
		if (i < env->n)
			snprintf(have, sizeof(have), "%s=%s",
			    env->vars[i].name, env->vars[i].value);
		if (i >= env->n)
			FAIL("line %d: variable %zu: missing, want %s", line,
			    i, want[i]);
		else if (want[i] == NULL)
			FAIL("line %d: variable %zu: %s, want no more", line,
			    i, have);
		else if (strcmp(have, want[i]) != 0)
			FAIL("line %d: variable %zu: %s, want %s", line, i,
			    have, want[i]);
		else
			continue;
		ok = 0;
		if (i >= env->n || want[i] == NULL)
			break;
	}
	return ok;
}

#define ENV_IS(env, ...)	env_is_((env), \
				    (const char *const[]){ __VA_ARGS__, NULL }, \
				    __LINE__)

/* The variables of req, in env (freed by the caller); 0 or -1. */
static int
env_from(struct cgi_env *env, const struct cgi_url_request *req, char *err,
    size_t errlen)
{
	memset(env, 0, sizeof(*env));
	err[0] = '\0';
	return cgi_env_from_url(env, req, err, errlen);
}

static void
t_env_path_with_query(void)
{
	struct cgi_url_request	 req = { .url = "/index.php/extra?a=1&b=2",
	    .docroot = ROOT "/", .content_length = -1 };
	struct cgi_env		 env;
	char			 err[256];

	CHECK_EQ(env_from(&env, &req, err, sizeof(err)), 0);
	ENV_IS(&env,
	    "SCRIPT_NAME=/index.php",
	    "PATH_INFO=/extra",
	    "GATEWAY_INTERFACE=CGI/1.1",
	    SOFTWARE,
	    "REQUEST_METHOD=GET",
	    "REQUEST_URI=/index.php/extra?a=1&b=2",
	    "QUERY_STRING=a=1&b=2",
	    "DOCUMENT_ROOT=" ROOT,
	    "DOCUMENT_URI=/index.php/extra",
	    "SCRIPT_FILENAME=" ROOT "/index.php",
	    "SERVER_NAME=localhost",
	    "SERVER_PORT=80",
	    "SERVER_ADDR=127.0.0.1",
	    "SERVER_PROTOCOL=HTTP/1.1",
	    "REQUEST_SCHEME=http",
	    "REMOTE_ADDR=127.0.0.1",
	    "REMOTE_PORT=0",
	    "REDIRECT_STATUS=200",
	    "HTTP_HOST=localhost");
	cgi_env_free(&env);
}

static void
t_env_http_url_body_headers(void)
{
	char *const		 headers[] = { "Content-Type: text/plain",
	    "X-Forwarded-For: 10.0.0.1", "accept-language:   en" };
	struct cgi_url_request	 req = {
	    .url = "http://example.com:8080/cgi-bin/app?x=1#frag",
	    .docroot = ROOT, .headers = headers, .nheaders = 3,
	    .content_length = 5 };
	struct cgi_env		 env;
	char			 err[256];

	CHECK_EQ(env_from(&env, &req, err, sizeof(err)), 0);
	ENV_IS(&env,
	    "SCRIPT_NAME=/cgi-bin/app",
	    "PATH_INFO=",
	    "GATEWAY_INTERFACE=CGI/1.1",
	    SOFTWARE,
	    "REQUEST_METHOD=POST",
	    "REQUEST_URI=/cgi-bin/app?x=1",
	    "QUERY_STRING=x=1",
	    "DOCUMENT_ROOT=" ROOT,
	    "DOCUMENT_URI=/cgi-bin/app",
	    "SCRIPT_FILENAME=" ROOT "/cgi-bin/app",
	    "SERVER_NAME=example.com",
	    "SERVER_PORT=8080",
	    "SERVER_ADDR=127.0.0.1",
	    "SERVER_PROTOCOL=HTTP/1.1",
	    "REQUEST_SCHEME=http",
	    "REMOTE_ADDR=127.0.0.1",
	    "REMOTE_PORT=0",
	    "REDIRECT_STATUS=200",
	    "CONTENT_LENGTH=5",
	    "CONTENT_TYPE=text/plain",
	    "HTTP_HOST=example.com:8080",
	    "HTTP_X_FORWARDED_FOR=10.0.0.1",
	    "HTTP_ACCEPT_LANGUAGE=en");
	cgi_env_free(&env);
}

static void
t_env_https_ipv6_host(void)
{
	char *const		 headers[] = { "Host: other.example" };
	struct cgi_url_request	 req = { .url = "https://[::1]/x.php",
	    .method = "PUT", .docroot = ROOT, .headers = headers,
	    .nheaders = 1, .content_length = 0 };
	struct cgi_env		 env;
	char			 err[256];

	CHECK_EQ(env_from(&env, &req, err, sizeof(err)), 0);
	ENV_IS(&env,
	    "SCRIPT_NAME=/x.php",
	    "PATH_INFO=",
	    "GATEWAY_INTERFACE=CGI/1.1",
	    SOFTWARE,
	    "REQUEST_METHOD=PUT",
	    "REQUEST_URI=/x.php",
	    "QUERY_STRING=",
	    "DOCUMENT_ROOT=" ROOT,
	    "DOCUMENT_URI=/x.php",
	    "SCRIPT_FILENAME=" ROOT "/x.php",
	    "SERVER_NAME=[::1]",
	    "SERVER_PORT=443",
	    "SERVER_ADDR=127.0.0.1",
	    "SERVER_PROTOCOL=HTTP/1.1",
	    "REQUEST_SCHEME=https",
	    "REMOTE_ADDR=127.0.0.1",
	    "REMOTE_PORT=0",
	    "REDIRECT_STATUS=200",
	    "HTTPS=on",
	    "CONTENT_LENGTH=0",
	    "CONTENT_TYPE=application/x-www-form-urlencoded",
	    "HTTP_HOST=other.example");
	cgi_env_free(&env);
}

/* Picks one variable out of the environment of req; NULL on error. */
static char *
var_of(const struct cgi_url_request *req, const char *name)
{
	struct cgi_env	 env;
	char		 err[256], *v = NULL;
	const char	*got;

	if (env_from(&env, req, err, sizeof(err)) == -1)
		FAIL("%s: %s", req->url, err);
	else if ((got = cgi_env_get(&env, name)) != NULL &&
	    (v = strdup(got)) == NULL) {
		perror("strdup");
		exit(2);
	}
	cgi_env_free(&env);
	return v;
}

/* Whether variable name of req is want. */
static int
var_is_(const struct cgi_url_request *req, const char *name,
    const char *want, int line)
{
	char	*got = var_of(req, name);
	int	 ok = got != NULL && strcmp(got, want) == 0;

	if (!ok)
		FAIL("line %d: %s of %s: got %s, want %s", line, name,
		    req->url, got ? got : "none", want);
	free(got);
	return ok;
}

#define VAR_IS(req, name, want)	var_is_((req), (name), (want), __LINE__)

static void
t_env_host_and_port_forms(void)
{
	struct cgi_url_request	 req = { .docroot = ROOT,
	    .content_length = -1 };

	req.url = "http://user:secret@host:81/";
	VAR_IS(&req, "SERVER_NAME", "host");
	VAR_IS(&req, "SERVER_PORT", "81");
	VAR_IS(&req, "HTTP_HOST", "host:81");
	req.url = "HTTP://Example.COM/a";
	VAR_IS(&req, "SERVER_NAME", "Example.COM");
	VAR_IS(&req, "SERVER_PORT", "80");
	VAR_IS(&req, "REQUEST_URI", "/a");
	req.url = "https://h:443/";
	VAR_IS(&req, "HTTP_HOST", "h");
	req.url = "https://h:80/";
	VAR_IS(&req, "HTTP_HOST", "h:80");
	req.url = "http://[2001:db8::1]:9000/q?z";
	VAR_IS(&req, "SERVER_NAME", "[2001:db8::1]");
	VAR_IS(&req, "SERVER_PORT", "9000");
	VAR_IS(&req, "HTTP_HOST", "[2001:db8::1]:9000");
	VAR_IS(&req, "QUERY_STRING", "z");
}

static void
t_env_query_forms(void)
{
	struct cgi_url_request	 req = { .docroot = ROOT,
	    .content_length = -1 };

	req.url = "/x?";
	VAR_IS(&req, "QUERY_STRING", "");
	VAR_IS(&req, "REQUEST_URI", "/x?");
	req.url = "/x#frag?not-a-query";
	VAR_IS(&req, "QUERY_STRING", "");
	VAR_IS(&req, "REQUEST_URI", "/x");
	req.url = "/x?q=%2F&r=a+b";
	VAR_IS(&req, "QUERY_STRING", "q=%2F&r=a+b");
	VAR_IS(&req, "DOCUMENT_URI", "/x");
}

static void
t_env_script_name_given(void)
{
	struct cgi_url_request	 req = { .url = "/app/items/7",
	    .script_name = "/app", .docroot = ROOT, .content_length = -1 };

	VAR_IS(&req, "SCRIPT_NAME", "/app");
	VAR_IS(&req, "PATH_INFO", "/items/7");
	VAR_IS(&req, "SCRIPT_FILENAME", ROOT "/app");
	req.url = "/application";
	VAR_IS(&req, "PATH_INFO", "");
	req.url = "/other";
	VAR_IS(&req, "PATH_INFO", "");
}

static void
t_env_php_split(void)
{
	struct cgi_url_request	 req = { .docroot = ROOT,
	    .content_length = -1 };

	req.url = "/dir/index.php/a/b";
	VAR_IS(&req, "SCRIPT_NAME", "/dir/index.php");
	VAR_IS(&req, "PATH_INFO", "/a/b");
	req.url = "/a.phpx/b.php";
	VAR_IS(&req, "SCRIPT_NAME", "/a.phpx/b.php");
	VAR_IS(&req, "PATH_INFO", "");
	req.url = "/cgi/app/more";
	VAR_IS(&req, "SCRIPT_NAME", "/cgi/app/more");
}

static void
t_env_docroot_forms(void)
{
	struct cgi_url_request	 req = { .url = "/s", .content_length = -1 };
	char			 cwd[PATH_MAX], want[PATH_MAX + 32];

	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		FAIL("getcwd failed");
		return;
	}
	VAR_IS(&req, "DOCUMENT_ROOT", cwd);
	snprintf(want, sizeof(want), "%s/s", cwd);
	VAR_IS(&req, "SCRIPT_FILENAME", want);
	req.docroot = "no-such-dir-fcgi-bridge/www//";
	snprintf(want, sizeof(want), "%s/no-such-dir-fcgi-bridge/www", cwd);
	VAR_IS(&req, "DOCUMENT_ROOT", want);
	req.docroot = "/";
	VAR_IS(&req, "DOCUMENT_ROOT", "/");
}

/* -r: SCRIPT_NAME is the longest path prefix that is a file there. */
static void
t_env_docroot_given(void)
{
	struct cgi_url_request	 req = { .docroot_given = 1,
	    .content_length = -1 };
	char			 dir[] = "/tmp/cgi_test.XXXXXX";
	char			 root[PATH_MAX], path[PATH_MAX + 32];
	char			 want[PATH_MAX + 32];
	int			 fd;

	if (mkdtemp(dir) == NULL || realpath(dir, root) == NULL) {
		FAIL("mkdtemp failed");
		return;
	}
	snprintf(path, sizeof(path), "%s/sub", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/sub/app.cgi", dir);
	if ((fd = open(path, O_CREAT | O_WRONLY, 0700)) != -1)
		close(fd);
	req.docroot = dir;

	req.url = "/sub/app.cgi/more/path";
	VAR_IS(&req, "DOCUMENT_ROOT", root);
	VAR_IS(&req, "SCRIPT_NAME", "/sub/app.cgi");
	VAR_IS(&req, "PATH_INFO", "/more/path");
	snprintf(want, sizeof(want), "%s/sub/app.cgi", root);
	VAR_IS(&req, "SCRIPT_FILENAME", want);
	req.url = "/sub/app.cgi";
	VAR_IS(&req, "PATH_INFO", "");
	/* A directory is not a script: the whole path is SCRIPT_NAME. */
	req.url = "/sub/missing";
	VAR_IS(&req, "SCRIPT_NAME", "/sub/missing");
	VAR_IS(&req, "PATH_INFO", "");

	unlink(path);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
}

static void
t_env_errors(void)
{
	static const char *const bad_urls[] = {
		"ftp://host/x", "relative/path", "", "http:///x",
		"http://:80/", "http://h:/x", "http://h:8o/x",
		"http://h:12345678901234567/", "http://[::1/x", "/x%zz",
		"/x%4", "/x%", "/x%00y", "/%G0",
	};
	char *const		 no_colon[] = { "NoColon" };
	char *const		 bad_name[] = { "Bad Name: v" };
	char *const		 empty_name[] = { ": v" };
	struct cgi_url_request	 req = { .docroot = ROOT,
	    .content_length = -1 };
	struct cgi_env		 env;
	char			 err[256];
	size_t			 i;

	for (i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
		req.url = bad_urls[i];
		if (!CHECK_EQ(env_from(&env, &req, err, sizeof(err)), -1))
			diag("url \"%s\"", bad_urls[i]);
		else if (!CHECK(err[0] != '\0'))
			diag("url \"%s\": no message", bad_urls[i]);
		cgi_env_free(&env);
	}
	req.url = "/x";
	req.nheaders = 1;
	req.headers = no_colon;
	CHECK_EQ(env_from(&env, &req, err, sizeof(err)), -1);
	CHECK(strstr(err, "NoColon") != NULL);
	cgi_env_free(&env);
	req.headers = bad_name;
	CHECK_EQ(env_from(&env, &req, err, sizeof(err)), -1);
	CHECK(strstr(err, "bad character") != NULL);
	cgi_env_free(&env);
	req.headers = empty_name;
	CHECK_EQ(env_from(&env, &req, err, sizeof(err)), -1);
	cgi_env_free(&env);
}

/* ---- url_path_normalise, through DOCUMENT_URI ---------------------- */

static void
t_path_normalise(void)
{
	static const struct {
		const char	*url, *path;
	} cases[] = {
		{ "/", "/" },
		{ "/a/b", "/a/b" },
		{ "/a/b/", "/a/b/" },
		{ "//a///b", "/a/b" },
		{ "/a//", "/a/" },
		{ "/a/./b", "/a/b" },
		{ "/a/.", "/a/" },
		{ "/./", "/" },
		{ "/a/b/../c", "/a/c" },
		{ "/a/b/..", "/a/" },
		{ "/a/..", "/" },
		{ "/a/../../..", "/" },
		{ "/../../etc/passwd", "/etc/passwd" },
		{ "/a/.../b", "/a/.../b" },
		{ "/a/..b/.c", "/a/..b/.c" },
		{ "/%61%62c", "/abc" },
		{ "/%7euser/%7Eu", "/~user/~u" },
		{ "/a/%2e%2e/b", "/b" },
		{ "/%2e%2e/%2E%2E/etc", "/etc" },
		{ "/a%2Fb", "/a/b" },
		{ "/a%2F..%2Fb", "/b" },
		{ "/a+b%20c", "/a+b c" },
		{ "/d/?q=/../x", "/d/" },
	};
	struct cgi_url_request	 req = { .docroot = ROOT,
	    .content_length = -1 };
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		req.url = cases[i].url;
		VAR_IS(&req, "DOCUMENT_URI", cases[i].path);
	}
}

static const struct tap_case cases[] = {
	{ t_response_status_bounds, "cgi_response_parse: Status 100 to 999, "
	    "three digits then a space or the end" },
	{ t_response_status_fields, "cgi_response_parse: the fields of a "
	    "block with all three headers" },
	{ t_response_line_ends, "cgi_response_parse: LF, CRLF and mixed line "
	    "ends" },
	{ t_response_body_not_counted, "cgi_response_parse: the length stops "
	    "at the blank line" },
	{ t_response_location, "cgi_response_parse: Location alone is 302, "
	    "Status overrides it" },
	{ t_response_needs_a_known_header, "cgi_response_parse: none of "
	    "Content-Type, Location and Status is an error" },
	{ t_response_line_without_colon, "cgi_response_parse: a line without "
	    "a name and colon is an error" },
	{ t_response_every_prefix, "cgi_response_parse: every prefix of a "
	    "valid block is 0" },
	{ t_response_size_limit, "cgi_response_parse: a block of "
	    "CGI_MAX_HEADER_BLOCK bytes parses, one byte more does not" },
	{ t_response_one_long_line, "cgi_response_parse: an unended line of "
	    "CGI_MAX_HEADER_BLOCK bytes is an error" },
	{ t_env_path_with_query, "cgi_env_from_url: a path with PATH_INFO and "
	    "a query, every variable" },
	{ t_env_http_url_body_headers, "cgi_env_from_url: http://host:port, "
	    "a body, headers as HTTP_*, every variable" },
	{ t_env_https_ipv6_host, "cgi_env_from_url: https://[::1], a method, "
	    "Host replacing HTTP_HOST, every variable" },
	{ t_env_host_and_port_forms, "cgi_env_from_url: user@host, case of "
	    "the scheme, default and other ports, IPv6" },
	{ t_env_query_forms, "cgi_env_from_url: empty query, fragment, query "
	    "left encoded" },
	{ t_env_script_name_given, "cgi_env_from_url: a given SCRIPT_NAME "
	    "and the PATH_INFO after it" },
	{ t_env_php_split, "cgi_env_from_url: SCRIPT_NAME ends at .php" },
	{ t_env_docroot_forms, "cgi_env_from_url: no docroot, a relative one, "
	    "trailing slashes, /" },
	{ t_env_docroot_given, "cgi_env_from_url: with -r, SCRIPT_NAME is the "
	    "file found on disk" },
	{ t_env_errors, "cgi_env_from_url: bad URLs, escapes and headers are "
	    "errors with a message" },
	{ t_path_normalise, "url_path_normalise: dot segments, doubled "
	    "slashes, escapes, trailing slash, no climbing above /" },
};

int
main(void)
{
	return tap_run(cases, sizeof(cases) / sizeof(cases[0]));
}
