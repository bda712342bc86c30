#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "cgi.h"
#include "fcgi.h"
#include "version.h"

static struct cgi_var *
cgi_env_find(const struct cgi_env *env, const char *name)
{
	size_t	 i;

	for (i = 0; i < env->n; i++)
		if (strcmp(env->vars[i].name, name) == 0)
			return &env->vars[i];
	return NULL;
}

/* One allocation holds "NAME\0VALUE\0": a variable costs one malloc. */
static char *
cgi_var_make(const char *name, size_t name_len, const char *value,
    size_t value_len)
{
	char	*entry;

	if ((entry = malloc(name_len + value_len + 2)) == NULL)
		return NULL;
	memcpy(entry, name, name_len);
	entry[name_len] = '\0';
	memcpy(entry + name_len + 1, value, value_len);
	entry[name_len + 1 + value_len] = '\0';
	return entry;
}

static int
cgi_env_append(struct cgi_env *env, const char *name, size_t name_len,
    const char *value, size_t value_len)
{
	struct cgi_var	*v, *grown;
	char		*entry;

	if ((entry = cgi_var_make(name, name_len, value, value_len)) == NULL)
		return -1;
	if (env->n == env->cap) {
		grown = reallocarray(env->vars, env->cap ? env->cap * 2 : 64,
		    sizeof(*env->vars));
		if (grown == NULL) {
			free(entry);
			return -1;
		}
		env->vars = grown;
		env->cap = env->cap ? env->cap * 2 : 64;
	}
	v = &env->vars[env->n++];
	v->name = entry;
	v->value = entry + name_len + 1;
	v->value_len = value_len;
	return 0;
}

int
cgi_env_set(struct cgi_env *env, const char *name, const char *value,
    size_t value_len)
{
	struct cgi_var	*v;
	char		*entry;
	size_t		 name_len = strlen(name);

	if ((v = cgi_env_find(env, name)) == NULL)
		return cgi_env_append(env, name, name_len, value, value_len);
	if ((entry = cgi_var_make(name, name_len, value, value_len)) == NULL)
		return -1;
	free(v->name);
	v->name = entry;
	v->value = entry + name_len + 1;
	v->value_len = value_len;
	return 0;
}

int
cgi_env_setstr(struct cgi_env *env, const char *name, const char *value)
{
	return cgi_env_set(env, name, value, strlen(value));
}

int
cgi_env_put(struct cgi_env *env, const char *assignment)
{
	const char	*eq = strchr(assignment, '=');
	char		*name;
	int		 rc;

	if (eq == NULL || eq == assignment) {
		errno = EINVAL;
		return -1;
	}
	if ((name = strndup(assignment, eq - assignment)) == NULL)
		return -1;
	rc = cgi_env_setstr(env, name, eq + 1);
	free(name);
	return rc;
}

/*
 * The process environment, in its order.  Its names are unique, so each
 * is appended without a search: a big environment costs no more than its
 * size.
 */
int
cgi_env_from_environ(struct cgi_env *env, char **envp)
{
	const char	*eq;

	for (; *envp != NULL; envp++) {
		if ((eq = strchr(*envp, '=')) == NULL || eq == *envp)
			continue;
		if (cgi_env_append(env, *envp, (size_t)(eq - *envp), eq + 1,
		    strlen(eq + 1)) == -1)
			return -1;
	}
	return 0;
}

void
cgi_env_unset(struct cgi_env *env, const char *name)
{
	struct cgi_var	*v;

	if ((v = cgi_env_find(env, name)) == NULL)
		return;
	free(v->name);
	memmove(v, v + 1, (env->vars + env->n - v - 1) * sizeof(*v));
	env->n--;
}

const char *
cgi_env_get(const struct cgi_env *env, const char *name)
{
	struct cgi_var	*v = cgi_env_find(env, name);

	return v == NULL ? NULL : v->value;
}

void
cgi_env_free(struct cgi_env *env)
{
	size_t	 i;

	for (i = 0; i < env->n; i++)
		free(env->vars[i].name);
	free(env->vars);
	memset(env, 0, sizeof(*env));
}

uint8_t *
cgi_env_encode(const struct cgi_env *env, size_t *len)
{
	uint8_t	*buf;
	size_t	 i, total = 0, n;

	for (i = 0; i < env->n; i++) {
		n = fcgi_nv_pack(NULL, 0, env->vars[i].name,
		    strlen(env->vars[i].name), env->vars[i].value,
		    env->vars[i].value_len);
		if (n == 0 || total + n < total) {
			errno = E2BIG;
			return NULL;
		}
		total += n;
	}
	if ((buf = malloc(total ? total : 1)) == NULL)
		return NULL;
	*len = 0;
	for (i = 0; i < env->n; i++)
		*len += fcgi_nv_pack(buf + *len, total - *len,
		    env->vars[i].name, strlen(env->vars[i].name),
		    env->vars[i].value, env->vars[i].value_len);
	return buf;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Decodes %XX escapes of a URL path into out (room for len + 3 bytes), then
 * removes "." and ".." segments and doubled slashes, as a web server does
 * before it maps a path to a file.  Returns 0, or -1 for an escape that is
 * not two hex digits or that decodes to NUL, or when out of memory.
 */
static int
url_path_normalise(const char *in, size_t len, char *out)
{
	char	*dec, *seg, *o = out, *slash;
	size_t	 i, n = 0, slen;
	int	 hi, lo, trailing = 0;

	if ((dec = malloc(len + 1)) == NULL)
		return -1;
	for (i = 0; i < len; i++) {
		if (in[i] != '%') {
			dec[n++] = in[i];
			continue;
		}
		if (i + 2 >= len || (hi = hexval(in[i + 1])) == -1 ||
		    (lo = hexval(in[i + 2])) == -1 || (hi | lo) == 0) {
			free(dec);
			return -1;
		}
		dec[n++] = (char)(hi << 4 | lo);
		i += 2;
	}
	dec[n] = '\0';
	*o = '\0';
	for (seg = dec; *seg != '\0'; seg += slen) {
		while (*seg == '/')
			seg++;
		if ((slen = strcspn(seg, "/")) == 0)
			break;
		if (slen == 1 && seg[0] == '.') {
			trailing = 1;
			continue;
		}
		if (slen == 2 && seg[0] == '.' && seg[1] == '.') {
			if ((slash = strrchr(out, '/')) != NULL) {
				*slash = '\0';
				o = slash;
			}
			trailing = 1;
			continue;
		}
		*o++ = '/';
		memcpy(o, seg, slen);
		o += slen;
		*o = '\0';
		trailing = seg[slen] == '/';
	}
	if (o == out || trailing) {
		*o++ = '/';
		*o = '\0';
	}
	free(dec);
	return 0;
}

/*
 * The request path runs no printf: its code and locale data would be most
 * of what a one-shot request maps in.
 */
static char *
str_join(const char *a, const char *b, const char *c)
{
	size_t	 la = strlen(a), lb = strlen(b), lc = strlen(c);
	char	*s;

	if ((s = malloc(la + lb + lc + 1)) == NULL)
		return NULL;
	memcpy(s, a, la);
	memcpy(s + la, b, lb);
	memcpy(s + la + lb, c, lc + 1);
	return s;
}

/* v >= 0 in decimal, in buf (room for 24); returns buf. */
static const char *
decimal(long long v, char *buf)
{
	char	 tmp[24];
	size_t	 n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 && n < sizeof(tmp) - 1);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return buf;
}

/* SCRIPT_NAME's length within path, by the rules the man page gives. */
static size_t
script_name_split(const char *path, const char *docroot, int docroot_given)
{
	struct stat	 st;
	char		 file[PATH_MAX];
	size_t		 len, i;
	const char	*p;

	if (docroot_given) {
		for (len = strlen(path); len > 1; len--) {
			if (len != strlen(path) && path[len] != '/')
				continue;
			if (snprintf(file, sizeof(file), "%s%.*s", docroot,
			    (int)len, path) >= (int)sizeof(file))
				continue;
			if (stat(file, &st) == 0 && S_ISREG(st.st_mode))
				return len;
		}
	}
	for (p = path; (p = strstr(p, ".php")) != NULL; p += 4) {
		i = p - path + 4;
		if (path[i] == '/' || path[i] == '\0')
			return i;
	}
	return strlen(path);
}

static int
header_to_env(struct cgi_env *env, const char *header, char *err,
    size_t errlen)
{
	char		 name[256];
	const char	*colon = strchr(header, ':'), *value;
	size_t		 i, len;
	int		 rc;

	if (colon == NULL || colon == header) {
		snprintf(err, errlen, "header \"%s\": expected 'Name: value'",
		    header);
		return -1;
	}
	len = colon - header;
	if (len + 5 >= sizeof(name)) {
		snprintf(err, errlen, "header name too long");
		return -1;
	}
	value = colon + 1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (len == 12 && strncasecmp(header, "Content-Type", 12) == 0)
		return cgi_env_setstr(env, "CONTENT_TYPE", value);
	if (len == 14 && strncasecmp(header, "Content-Length", 14) == 0)
		return cgi_env_setstr(env, "CONTENT_LENGTH", value);
	memcpy(name, "HTTP_", 5);
	for (i = 0; i < len; i++) {
		unsigned char	 c = header[i];

		if (!isalnum(c) && c != '-' && c != '_') {
			snprintf(err, errlen, "header \"%s\": bad character "
			    "in name", header);
			return -1;
		}
		name[5 + i] = c == '-' ? '_' : (char)toupper(c);
	}
	name[5 + len] = '\0';
	rc = cgi_env_setstr(env, name, value);
	return rc;
}

/* What a URL names beside its path. */
struct url_origin {
	const char	*scheme;	/* "http" or "https" */
	char		 host[512];
	char		 port[16];
};

/*
 * Takes the scheme, host and port off an http:// or https:// URL; a path
 * alone is http://localhost:80.  Returns where the path starts, or NULL
 * with a message in err.
 */
static const char *
url_origin_parse(const char *url, struct url_origin *o, char *err,
    size_t errlen)
{
	const char	*p = url, *q, *end, *rb;
	size_t		 i, n;

	o->scheme = "http";
	strlcpy(o->host, "localhost", sizeof(o->host));
	strlcpy(o->port, "80", sizeof(o->port));
	if (strncasecmp(p, "http://", 7) != 0 &&
	    strncasecmp(p, "https://", 8) != 0) {
		if (*p == '/')
			return p;
		snprintf(err, errlen, "%s: a URL is a path starting with '/' "
		    "or http://HOST[:PORT]/PATH", url);
		return NULL;
	}
	if (tolower((unsigned char)p[4]) == 's') {
		o->scheme = "https";
		strlcpy(o->port, "443", sizeof(o->port));
	}
	p = strstr(p, "//") + 2;
	end = p + strcspn(p, "/?#");
	q = memchr(p, '@', end - p);
	q = q == NULL ? p : q + 1;
	if (*q == '[') {
		rb = memchr(q, ']', end - q);
		i = rb == NULL ? 0 : (size_t)(rb - q) + 1;
	} else
		i = strcspn(q, ":/?#");
	if (i == 0 || i >= sizeof(o->host)) {
		snprintf(err, errlen, "%s: bad host in URL", url);
		return NULL;
	}
	memcpy(o->host, q, i);
	o->host[i] = '\0';
	if (q[i] == ':') {
		n = end - (q + i + 1);
		if (n == 0 || n >= sizeof(o->port) ||
		    strspn(q + i + 1, "0123456789") != n) {
			snprintf(err, errlen, "%s: bad port in URL", url);
			return NULL;
		}
		memcpy(o->port, q + i + 1, n);
		o->port[n] = '\0';
	}
	return end;
}

/*
 * The document root as a web server names it: canonical when it exists,
 * else made absolute; the current directory when none is given; with no
 * trailing '/'.  Returns 0, or -1 with a message in err.
 */
static int
docroot_resolve(const char *given, char *docroot, size_t len, char *err,
    size_t errlen)
{
	char	 cwd[PATH_MAX];
	size_t	 i;

	if (given == NULL) {
		if (getcwd(docroot, len) == NULL) {
			snprintf(err, errlen, "getcwd: %s", strerror(errno));
			return -1;
		}
	} else if (realpath(given, docroot) != NULL) {
		/* An existing root is named as the web server would. */
	} else if (given[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL ||
		    snprintf(docroot, len, "%s/%s", cwd, given) >= (int)len) {
			snprintf(err, errlen, "%s: bad document root", given);
			return -1;
		}
	} else if (strlcpy(docroot, given, len) >= len) {
		snprintf(err, errlen, "%s: document root too long", given);
		return -1;
	}
	for (i = strlen(docroot); i > 1 && docroot[i - 1] == '/'; i--)
		docroot[i - 1] = '\0';
	return 0;
}

/*
 * SCRIPT_NAME and PATH_INFO of the normalised path, split as --script-name
 * says or as script_name_split finds.  0, or -1 when out of memory.
 */
static int
cgi_env_set_script(struct cgi_env *env, const struct cgi_url_request *req,
    const char *path, const char *docroot)
{
	size_t	 slen;

	if (req->script_name != NULL) {
		slen = strlen(req->script_name);
		return cgi_env_setstr(env, "SCRIPT_NAME",
		    req->script_name) == -1 || cgi_env_setstr(env, "PATH_INFO",
		    strncmp(path, req->script_name, slen) == 0 &&
		    path[slen] == '/' ? path + slen : "") == -1 ? -1 : 0;
	}
	slen = script_name_split(path, docroot, req->docroot_given);
	return cgi_env_set(env, "SCRIPT_NAME", path, slen) == -1 ||
	    cgi_env_setstr(env, "PATH_INFO", path + slen) == -1 ? -1 : 0;
}

/*
 * The request's own variables, from REQUEST_METHOD to SCRIPT_FILENAME.
 * p is the URL from its path on, plen the path's length there.  0, or -1
 * when out of memory.
 */
static int
cgi_env_set_request(struct cgi_env *env, const char *method, const char *p,
    size_t plen, const char *path, const char *docroot)
{
	char	*file;
	int	 rc;

	if ((file = str_join(docroot, cgi_env_get(env, "SCRIPT_NAME"),
	    "")) == NULL)
		return -1;
	rc = cgi_env_setstr(env, "GATEWAY_INTERFACE", "CGI/1.1") == -1 ||
	    cgi_env_setstr(env, "SERVER_SOFTWARE", "fcgi-bridge/"
	    FCGI_BRIDGE_VERSION) == -1 ||
	    cgi_env_setstr(env, "REQUEST_METHOD", method) == -1 ||
	    cgi_env_set(env, "REQUEST_URI", p, strcspn(p, "#")) == -1 ||
	    cgi_env_set(env, "QUERY_STRING", p + plen + (p[plen] == '?'),
	    p[plen] == '?' ? strcspn(p + plen + 1, "#") : 0) == -1 ||
	    cgi_env_setstr(env, "DOCUMENT_ROOT", docroot) == -1 ||
	    cgi_env_setstr(env, "DOCUMENT_URI", path) == -1 ||
	    cgi_env_setstr(env, "SCRIPT_FILENAME", file) == -1 ? -1 : 0;
	free(file);
	return rc;
}

/*
 * The variables of the server, the connection and the body, and HTTP_HOST
 * as the URL names it.  0, or -1 when out of memory.
 */
static int
cgi_env_set_server(struct cgi_env *env, const struct cgi_url_request *req,
    const struct url_origin *o)
{
	char	 num[32], *hostport;
	int	 rc;

	if (cgi_env_setstr(env, "SERVER_NAME", o->host) == -1 ||
	    cgi_env_setstr(env, "SERVER_PORT", o->port) == -1 ||
	    cgi_env_setstr(env, "SERVER_ADDR", "127.0.0.1") == -1 ||
	    cgi_env_setstr(env, "SERVER_PROTOCOL", "HTTP/1.1") == -1 ||
	    cgi_env_setstr(env, "REQUEST_SCHEME", o->scheme) == -1 ||
	    cgi_env_setstr(env, "REMOTE_ADDR", "127.0.0.1") == -1 ||
	    cgi_env_setstr(env, "REMOTE_PORT", "0") == -1 ||
	    cgi_env_setstr(env, "REDIRECT_STATUS", "200") == -1)
		return -1;
	if (strcmp(o->scheme, "https") == 0 &&
	    cgi_env_setstr(env, "HTTPS", "on") == -1)
		return -1;
	if (req->content_length >= 0 && (cgi_env_setstr(env, "CONTENT_LENGTH",
	    decimal(req->content_length, num)) == -1 ||
	    cgi_env_setstr(env, "CONTENT_TYPE",
	    "application/x-www-form-urlencoded") == -1))
		return -1;
	if ((strcmp(o->port, "80") == 0 && strcmp(o->scheme, "http") == 0) ||
	    (strcmp(o->port, "443") == 0 && strcmp(o->scheme, "https") == 0))
		return cgi_env_setstr(env, "HTTP_HOST", o->host);
	if ((hostport = str_join(o->host, ":", o->port)) == NULL)
		return -1;
	rc = cgi_env_setstr(env, "HTTP_HOST", hostport);
	free(hostport);
	return rc;
}

int
cgi_env_from_url(struct cgi_env *env, const struct cgi_url_request *req,
    char *err, size_t errlen)
{
	struct url_origin	 o;
	char			 docroot[PATH_MAX], *path;
	const char		*url = req->url ? req->url : "/", *p;
	const char		*method = req->method;
	size_t			 plen, i;
	int			 rc = -1;

	if ((p = url_origin_parse(url, &o, err, errlen)) == NULL)
		return -1;
	plen = strcspn(p, "?#");
	if ((path = malloc(plen + 3)) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	if (url_path_normalise(p, plen, path) == -1) {
		snprintf(err, errlen, "%s: bad %%-escape in path", url);
		goto done;
	}
	if (docroot_resolve(req->docroot, docroot, sizeof(docroot), err,
	    errlen) == -1)
		goto done;
	if (method == NULL)
		method = req->content_length >= 0 ? "POST" : "GET";
	if (cgi_env_set_script(env, req, path, docroot) == -1 ||
	    cgi_env_set_request(env, method, p, plen, path, docroot) == -1 ||
	    cgi_env_set_server(env, req, &o) == -1) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto done;
	}
	for (i = 0; i < req->nheaders; i++)
		if (header_to_env(env, req->headers[i], err, errlen) == -1)
			goto done;
	rc = 0;
done:
	free(path);
	return rc;
}

/* The length of the line at buf, with its LF, or 0 if it has not ended. */
static size_t
line_len(const char *buf, size_t len)
{
	const char	*nl = memchr(buf, '\n', len);

	return nl == NULL ? 0 : (size_t)(nl - buf) + 1;
}

long
cgi_response_parse(const char *buf, size_t len, struct cgi_response *r,
    const char **errstr)
{
	const char	*line, *colon, *value, *errs;
	size_t		 off = 0, n, vlen, nlen;
	char		 code[4];

	memset(r, 0, sizeof(*r));
	*errstr = NULL;
	for (;;) {
		/* A line, the blank one too, must end within the limit. */
		n = line_len(buf + off, len - off);
		if (off + n > CGI_MAX_HEADER_BLOCK ||
		    (n == 0 && len >= CGI_MAX_HEADER_BLOCK)) {
			*errstr = "CGI header block too long";
			return -1;
		}
		if (n == 0)
			return 0;
		line = buf + off;
		off += n;
		vlen = n - 1;
		if (vlen > 0 && line[vlen - 1] == '\r')
			vlen--;
		if (vlen == 0)
			break;
		if ((colon = memchr(line, ':', vlen)) == NULL ||
		    colon == line) {
			*errstr = "CGI header line without a name and colon";
			return -1;
		}
		nlen = colon - line;
		value = colon + 1;
		while (value < line + vlen && (*value == ' ' || *value == '\t'))
			value++;
		if (nlen == 6 && strncasecmp(line, "Status", 6) == 0) {
			if (line + vlen - value < 3 ||
			    (line + vlen - value > 3 && value[3] != ' ')) {
				*errstr = "CGI Status header is not NNN reason";
				return -1;
			}
			memcpy(code, value, 3);
			code[3] = '\0';
			if (strspn(code, "0123456789") != 3) {
				*errstr = "CGI Status header is not NNN reason";
				return -1;
			}
			r->status = (int)strtonum(code, 100, 999, &errs);
			if (errs != NULL) {
				*errstr = "CGI Status code out of range";
				return -1;
			}
			r->has_status = 1;
		} else if (nlen == 8 && strncasecmp(line, "Location", 8) == 0)
			r->has_location = 1;
		else if (nlen == 12 &&
		    strncasecmp(line, "Content-Type", 12) == 0)
			r->has_content_type = 1;
	}
	if (!r->has_status && !r->has_location && !r->has_content_type) {
		*errstr = "CGI response has none of Status, Location and "
		    "Content-Type";
		return -1;
	}
	if (!r->has_status)
		r->status = r->has_location ? 302 : 200;
	return (long)off;
}
