/*
 * serve: which program a request runs, in which directory, with which
 * environment.  The program is the fixed one of "-- PROGRAM", or the
 * script that SCRIPT_FILENAME (or DOCUMENT_ROOT and SCRIPT_NAME) names,
 * canonical and under a -r root; the environment is the PARAMS, less what
 * serve never passes, plus PATH and what -e and -P set.
 */
#include <sys/param.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/openat2.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
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

/* Whether no component of path is empty, "." or "..". */
static int
path_is_plain(const char *path)
{
	const char	*p;

	for (p = path; *p == '/'; p = strchrnul(p + 1, '/'))
		if (p[1] == '/' || p[1] == '\0' ||
		    (p[1] == '.' && (p[2] == '/' || p[2] == '\0' ||
		    (p[2] == '.' && (p[3] == '/' || p[3] == '\0')))))
			return 0;
	return 1;
}

/*
 * Whether the absolute path is canonical as it stands, with st its file's
 * status: no component is empty, "." or "..", and none is a symbolic link
 * (openat2 with RESOLVE_NO_SYMLINKS opens it).  Then realpath would give
 * it back unchanged, with a readlink(2) for every component, where this
 * takes three system calls.  0 when it cannot tell (a symbolic link on
 * the way, no such file, an older kernel): realpath decides.
 */
static int
path_is_canonical(const char *path, struct stat *st)
{
	struct open_how	 how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
	};
	int		 fd, rc;

	if (*path != '/' || !path_is_plain(path))
		return 0;
	if ((fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how,
	    sizeof(how))) == -1)
		return 0;
	rc = fstat(fd, st) == 0;
	close(fd);
	return rc;
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
	int		 canonical;

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
	if ((canonical = path_is_canonical(path, &st)))
		memcpy(real, path, strlen(path) + 1);
	else if (realpath(path, real) == NULL) {
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
	if (!canonical && stat(real, &st) == -1) {
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
/* Unsafe names dropped from a request, for one log line. */
struct dropped {
	char	 names[512];
	size_t	 len;
	int	 full;	/* "..." ends the list */
};

/* Adds a name to the list, bytes outside printable ASCII as '?'. */
static void
dropped_add(struct dropped *d, const struct fcgi_nv *nv)
{
	size_t	 i;

	if (d->full)
		return;
	if (d->len + 2 + nv->name_len + 4 > sizeof(d->names)) {
		memcpy(d->names + d->len, "...", 4);
		d->len += 3;
		d->full = 1;
		return;
	}
	if (d->len > 0) {
		memcpy(d->names + d->len, ", ", 2);
		d->len += 2;
	}
	for (i = 0; i < nv->name_len; i++)
		d->names[d->len++] = nv->name[i] >= 0x20 &&
		    nv->name[i] < 0x7f ? (char)nv->name[i] : '?';
	d->names[d->len] = '\0';
}

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
 * Names that change how a program is loaded or run before its own code
 * does: those that glibc ignores for set-user-ID programs (its
 * unsecvars.h), the shell's start-up files and imported functions, and
 * the interpreters' "load this first".  Through them a request could make
 * a CGI load code of its choosing; --keep-env passes one all the same.
 */
static const char *const unsafe_names[] = {
	"GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES",
	"LOCALDOMAIN", "LOCPATH", "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF",
	"RES_OPTIONS", "TMPDIR", "TZDIR",
	"BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "IFS",
	"PERL5OPT", "PERL5LIB", "PERLLIB", "PYTHONPATH", "PYTHONHOME",
	"PYTHONSTARTUP", "RUBYOPT", "RUBYLIB", "NODE_OPTIONS"
};
static const char *const unsafe_prefixes[] = { "LD_", "MALLOC_",
	"BASH_FUNC_" };

/* Whether the name is one of unsafe_names or starts with unsafe_prefixes. */
static int
env_name_unsafe(const struct fcgi_nv *nv)
{
	size_t	 i, k;

	for (i = 0; i < sizeof(unsafe_names) / sizeof(unsafe_names[0]); i++)
		if (fcgi_nv_name_is(nv, unsafe_names[i]))
			return 1;
	for (i = 0; i < sizeof(unsafe_prefixes) / sizeof(unsafe_prefixes[0]);
	    i++) {
		k = strlen(unsafe_prefixes[i]);
		if (nv->name_len >= k &&
		    memcmp(nv->name, unsafe_prefixes[i], k) == 0)
			return 1;
	}
	return 0;
}

static int
env_keep_has(const struct serve_config *cfg, const struct fcgi_nv *nv)
{
	size_t	 i;

	for (i = 0; i < cfg->nkeep_env; i++)
		if (fcgi_nv_name_is(nv, cfg->keep_env[i]))
			return 1;
	return 0;
}

/*
 * Whether a PARAMS pair goes into the CGI's environment: not a name that
 * is empty or holds '=' or NUL, nor a value with a NUL; never HTTP_PROXY
 * (a client's Proxy: header, "httpoxy") nor PATH; not a name that -e or
 * -P sets, nor one that a split SCRIPT_NAME replaces; not an unsafe one
 * (said in *dropped, when not NULL).
 */
static int
env_pair_wanted(const struct serve_config *cfg, const struct fcgi_nv *nv,
    int split, struct dropped *dropped)
{
	if (nv->name_len == 0 || memchr(nv->name, '=', nv->name_len) ||
	    memchr(nv->name, '\0', nv->name_len) ||
	    memchr(nv->value, '\0', nv->value_len))
		return 0;
	if (fcgi_nv_name_is(nv, "HTTP_PROXY") || fcgi_nv_name_is(nv, "PATH"))
		return 0;
	if (extra_env_has(cfg, (const char *)nv->name, nv->name_len))
		return 0;
	if (split && (fcgi_nv_name_is(nv, "SCRIPT_NAME") ||
	    fcgi_nv_name_is(nv, "PATH_INFO")))
		return 0;
	if (env_name_unsafe(nv) && !env_keep_has(cfg, nv)) {
		if (dropped != NULL)
			dropped_add(dropped, nv);
		return 0;
	}
	return 1;
}

/* The PARAMS pairs: how many, and how many bytes as NAME=VALUE strings. */
static int
env_params_size(struct req *r, size_t *n, size_t *bytes)
{
	struct fcgi_nv	 nv;
	size_t		 off;
	long		 len;

	*n = *bytes = 0;
	for (off = 0; off < r->params_len; off += (size_t)len) {
		len = fcgi_nv_parse(r->params + off, r->params_len - off,
		    r->params_len, &nv);
		if (len <= 0)
			return -1;
		(*n)++;
		*bytes += nv.name_len + nv.value_len + 2;
	}
	return 0;
}

/*
 * Builds the CGI's environment in one allocation: the wanted PARAMS pairs
 * (env_pair_wanted), SCRIPT_NAME and PATH_INFO when SCRIPT_NAME was split,
 * PATH, then what -e and -P add.  Unsafe names dropped are logged the
 * first time.  Returns 0, or -1 with *why.
 */
static int
script_env_build(struct req *r, const char *script_name, const char *path_info,
    const char **why)
{
	const struct serve_config *cfg = r->conn->srv->cfg;
	struct dropped	 dropped = { .len = 0, .full = 0 };
	struct fcgi_nv	 nv;
	size_t		 off, n, bytes, i;
	char		*p;
	long		 len;

	free(r->envp);
	r->envp = NULL;
	if (env_params_size(r, &n, &bytes) == -1) {
		*why = "malformed PARAMS stream";
		return -1;
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
		if (!env_pair_wanted(cfg, &nv, path_info != NULL,
		    path_info == NULL ? &dropped : NULL))
			continue;
		if (fcgi_nv_name_is(&nv, "SCRIPT_NAME")) {
			i = MIN(nv.value_len, sizeof(r->script) - 1);
			memcpy(r->script, nv.value, i);
			r->script[i] = '\0';
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
	if (dropped.len > 0)
		slog(LOG_DEBUG, "%s: not passed to the CGI: %s",
		    r->script[0] ? r->script : "-", dropped.names);
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
