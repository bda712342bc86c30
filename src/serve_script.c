/*
 * serve: which program a request runs, in which directory, with which
 * environment.  The program is the fixed one of "-- PROGRAM", or the
 * script that SCRIPT_FILENAME (or DOCUMENT_ROOT and SCRIPT_NAME) names,
 * canonical and under a -r root; the environment is the PARAMS, less what
 * serve never passes, plus PATH and what -e and -P set.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "fcgi.h"
#include "serve_internal.h"

#define CGI_PATH		"/usr/local/bin:/usr/bin:/bin"

static int
under_root(const char *path, const char *root)
{
	size_t	 len = strlen(root);

	if (strcmp(root, "/") == 0)
		return 1;
	return strncmp(path, root, len) == 0 && path[len] == '/';
}

/*
 * Without SCRIPT_FILENAME, the script is the longest leading part of
 * DOCUMENT_ROOT + SCRIPT_NAME that is a regular file; the rest becomes
 * PATH_INFO, and SCRIPT_NAME loses it (fcgiwrap's rule).  path is cut in
 * place; *tail is set to what was cut from SCRIPT_NAME, or NULL.
 */
static void
script_split(char *path, size_t root_len, char **tail)
{
	struct stat	 st;
	size_t		 len = strlen(path), i;
	char		*slash;

	*tail = NULL;
	while (stat(path, &st) == -1 || !S_ISREG(st.st_mode)) {
		slash = strrchr(path, '/');
		if (slash == NULL || (size_t)(slash - path) <= root_len) {
			*tail = NULL;
			break;
		}
		*slash = '\0';
		*tail = slash;
	}
	/* Put back the cuts after the one that found the file, or all. */
	for (i = *tail ? (size_t)(*tail - path) + 1 : 0; i < len; i++)
		if (path[i] == '\0')
			path[i] = '/';
}

/*
 * Picks the program of a script request: SCRIPT_FILENAME, or DOCUMENT_ROOT
 * and SCRIPT_NAME.  Returns 0, or the HTTP status that refuses it.  When
 * SCRIPT_NAME was split, *path_info gets the rest (the caller frees it).
 */
static int
script_lookup(struct req *r, const char *filename, const char *docroot,
    const char *script_name, char **path_info, const char **why)
{
	const struct serve_config *cfg = r->conn->srv->cfg;
	struct stat	 st;
	char		 path[PATH_MAX], real[PATH_MAX], *slash, *tail;
	size_t		 i;

	if (filename != NULL && strncmp(filename, "proxy:fcgi://", 13) == 0) {
		/* Apache mod_proxy_fcgi: proxy:fcgi://HOST:PORT/path */
		filename = strchr(filename + 13, '/');
		if (filename == NULL) {
			*why = "SCRIPT_FILENAME has no path";
			return 404;
		}
	}
	if (filename != NULL && *filename != '\0') {
		if (strlcpy(path, filename, sizeof(path)) >= sizeof(path)) {
			*why = "SCRIPT_FILENAME too long";
			return 404;
		}
	} else if (docroot != NULL && script_name != NULL) {
		if (snprintf(path, sizeof(path), "%s%s", docroot,
		    script_name) >= (int)sizeof(path)) {
			*why = "DOCUMENT_ROOT and SCRIPT_NAME too long";
			return 404;
		}
		script_split(path, strlen(docroot), &tail);
		if (tail != NULL) {
			if (asprintf(path_info, "/%s", tail + 1) == -1) {
				*path_info = NULL;
				*why = strerror(errno);
				return 502;
			}
		}
	} else {
		*why = "no SCRIPT_FILENAME, nor DOCUMENT_ROOT and SCRIPT_NAME";
		return 404;
	}
	if (realpath(path, real) == NULL) {
		*why = strerror(errno);
		return errno == EACCES ? 403 : 404;
	}
	for (i = 0; i < cfg->nroots; i++)
		if (under_root(real, cfg->roots[i]))
			break;
	if (i == cfg->nroots) {
		*why = "outside every -r root";
		return 403;
	}
	if (stat(real, &st) == -1) {
		*why = strerror(errno);
		return 404;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		return 403;
	}
	if ((st.st_mode & 0111) == 0 || access(real, X_OK) == -1) {
		*why = "not executable";
		return 403;
	}
	if ((r->program = strdup(real)) == NULL ||
	    (r->cwd = strdup(real)) == NULL) {
		*why = strerror(errno);
		return 502;
	}
	slash = strrchr(r->cwd, '/');
	slash[slash == r->cwd ? 1 : 0] = '\0';
	return 0;
}

/* Whether -e or -P sets the variable name, which then wins over PARAMS. */
static int
extra_env_has(const struct serve_config *cfg, const char *name, size_t len)
{
	size_t	 i;

	for (i = 0; i < cfg->nextra_env; i++)
		if (strncmp(cfg->extra_env[i], name, len) == 0 &&
		    cfg->extra_env[i][len] == '=')
			return 1;
	return 0;
}

static char *
env_append(char *p, const char *name, size_t nlen, const char *value,
    size_t vlen)
{
	memcpy(p, name, nlen);
	p += nlen;
	*p++ = '=';
	memcpy(p, value, vlen);
	p += vlen;
	*p++ = '\0';
	return p;
}

/*
 * Builds the CGI's environment from the PARAMS stream: its pairs, PATH,
 * and what -e and -P add; never HTTP_PROXY.  script_name and path_info,
 * when not NULL, replace SCRIPT_NAME and PATH_INFO.  Returns 0, or -1
 * with *why.
 */
static int
script_env_build(struct req *r, const char *script_name, const char *path_info,
    const char **why)
{
	const struct serve_config *cfg = r->conn->srv->cfg;
	struct fcgi_nv	 nv;
	size_t		 off, n = 0, bytes = 0, i;
	char		*p;
	long		 len;

	free(r->envp);
	r->envp = NULL;
	for (off = 0; off < r->params_len; off += (size_t)len) {
		len = fcgi_nv_parse(r->params + off, r->params_len - off,
		    r->params_len, &nv);
		if (len <= 0) {
			*why = "malformed PARAMS stream";
			return -1;
		}
		n++;
		bytes += nv.name_len + nv.value_len + 2;
	}
	for (i = 0; i < cfg->nextra_env; i++)
		bytes += strlen(cfg->extra_env[i]) + 1;
	bytes += sizeof("PATH=" CGI_PATH);
	n += cfg->nextra_env + 2;
	if (path_info != NULL) {
		bytes += sizeof("SCRIPT_NAME=PATH_INFO=") + strlen(script_name) +
		    strlen(path_info) + 1;
		n += 2;
	}
	if ((r->envp = malloc((n * sizeof(char *)) + bytes)) == NULL) {
		*why = strerror(errno);
		return -1;
	}
	p = (char *)(r->envp + n);
	n = 0;
	for (off = 0; off < r->params_len; off += (size_t)len) {
		len = fcgi_nv_parse(r->params + off, r->params_len - off,
		    r->params_len, &nv);
		if (nv.name_len == 0 || memchr(nv.name, '=', nv.name_len) ||
		    memchr(nv.name, '\0', nv.name_len) ||
		    memchr(nv.value, '\0', nv.value_len))
			continue;
		if ((nv.name_len == 10 && memcmp(nv.name, "HTTP_PROXY", 10) ==
		    0) || (nv.name_len == 4 && memcmp(nv.name, "PATH", 4) == 0))
			continue;
		if (extra_env_has(cfg, (const char *)nv.name, nv.name_len))
			continue;
		if (path_info != NULL && ((nv.name_len == 11 &&
		    memcmp(nv.name, "SCRIPT_NAME", 11) == 0) ||
		    (nv.name_len == 9 && memcmp(nv.name, "PATH_INFO", 9) == 0)))
			continue;
		if (nv.name_len == 11 &&
		    memcmp(nv.name, "SCRIPT_NAME", 11) == 0) {
			size_t	 k = nv.value_len < sizeof(r->script) - 1 ?
			    nv.value_len : sizeof(r->script) - 1;

			memcpy(r->script, nv.value, k);
			r->script[k] = '\0';
		}
		r->envp[n++] = p;
		p = env_append(p, (const char *)nv.name, nv.name_len,
		    (const char *)nv.value, nv.value_len);
	}
	if (path_info != NULL) {
		r->envp[n++] = p;
		p = env_append(p, "SCRIPT_NAME", 11, script_name,
		    strlen(script_name));
		r->envp[n++] = p;
		p = env_append(p, "PATH_INFO", 9, path_info, strlen(path_info));
	}
	if (!extra_env_has(cfg, "PATH", 4)) {
		r->envp[n++] = p;
		memcpy(p, "PATH=" CGI_PATH, sizeof("PATH=" CGI_PATH));
		p += sizeof("PATH=" CGI_PATH);
	}
	for (i = 0; i < cfg->nextra_env; i++) {
		r->envp[n++] = p;
		memcpy(p, cfg->extra_env[i], strlen(cfg->extra_env[i]) + 1);
		p += strlen(cfg->extra_env[i]) + 1;
	}
	r->envp[n] = NULL;
	return 0;
}

static const char *
env_lookup(char **envp, const char *name)
{
	size_t	 len = strlen(name);

	for (; *envp != NULL; envp++)
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}

/* The program of "-- PROGRAM", run in its own directory. */
static int
script_fixed(struct req *r, const char **why)
{
	const char	*program = r->conn->srv->cfg->fixed_program;
	char		*slash;

	if ((r->program = strdup(program)) == NULL ||
	    (r->cwd = strdup(program)) == NULL) {
		*why = strerror(errno);
		return 502;
	}
	if ((slash = strrchr(r->cwd, '/')) == NULL)
		strlcpy(r->cwd, ".", 2);
	else
		slash[slash == r->cwd ? 1 : 0] = '\0';
	return 0;
}

/*
 * The PARAMS stream of r is complete: builds the CGI's environment and
 * picks its program.  Returns 0, an HTTP status that refuses the request
 * (with *why), or -1 when the stream is malformed.
 */
int
script_prepare(struct req *r, const char **why)
{
	const char	*sn;
	char		*path_info = NULL, *short_name;
	int		 status;

	if (script_env_build(r, NULL, NULL, why) == -1)
		return -1;
	if (r->conn->srv->cfg->fixed_argv != NULL)
		return script_fixed(r, why);
	sn = env_lookup(r->envp, "SCRIPT_NAME");
	if ((status = script_lookup(r, env_lookup(r->envp, "SCRIPT_FILENAME"),
	    env_lookup(r->envp, "DOCUMENT_ROOT"), sn, &path_info, why)) != 0)
		return status;
	if (path_info == NULL)
		return 0;
	short_name = strndup(sn, strlen(sn) - strlen(path_info));
	status = short_name == NULL ||
	    script_env_build(r, short_name, path_info, why) == -1 ? 502 : 0;
	if (status != 0)
		*why = "out of memory";
	free(short_name);
	free(path_info);
	return status;
}
