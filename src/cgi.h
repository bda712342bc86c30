/*
 * What CGI/1.1 (RFC 3875) means here: the environment a request carries,
 * built from the process environment or from a URL, and the header block
 * that starts a CGI response.  Shared by request, bench and serve.
 */
#ifndef CGI_H
#define CGI_H

#include <stddef.h>
#include <stdint.h>

struct cgi_var {
	char	*name;		/* owns the allocation */
	char	*value;		/* inside it, after the name's NUL */
	size_t	 value_len;
};

/* An ordered set of variables; setting a name that exists replaces it. */
struct cgi_env {
	struct cgi_var	*vars;
	size_t		 n;
	size_t		 cap;
};

/* Each returns 0, or -1 when out of memory. */
int		 cgi_env_set(struct cgi_env *, const char *name,
		    const char *value, size_t value_len);
int		 cgi_env_setstr(struct cgi_env *, const char *name,
		    const char *value);
/* "NAME=VALUE"; -1 with errno EINVAL when there is no '=' or no name. */
int		 cgi_env_put(struct cgi_env *, const char *assignment);
int		 cgi_env_from_environ(struct cgi_env *, char **envp);
void		 cgi_env_unset(struct cgi_env *, const char *name);
const char	*cgi_env_get(const struct cgi_env *, const char *name);
void		 cgi_env_free(struct cgi_env *);
/*
 * The variables as a FastCGI name-value stream, in a buffer the caller
 * frees; NULL when out of memory.
 */
uint8_t		*cgi_env_encode(const struct cgi_env *, size_t *len);

/* What a URL and the request options make of a CGI request. */
struct cgi_url_request {
	const char	*method;	/* NULL: GET, or POST with a body */
	const char	*url;		/* a path, or http(s)://host[:port]/path */
	const char	*docroot;	/* NULL: the current directory */
	int		 docroot_given;	/* -r: look up the script on disk */
	const char	*script_name;	/* NULL: split the path */
	char *const	*headers;	/* "Name: value" */
	size_t		 nheaders;
	long long	 content_length; /* -1: no body */
};

/*
 * Adds the CGI/1.1 variables of the request to env.  Returns 0, or -1 with
 * a message in err.
 */
int	 cgi_env_from_url(struct cgi_env *, const struct cgi_url_request *,
	    char *err, size_t errlen);

struct cgi_response {
	int	 status;		/* Status:, or 302 for Location, or 200 */
	int	 has_status;
	int	 has_location;
	int	 has_content_type;
};

#define CGI_MAX_HEADER_BLOCK	65536

/*
 * Parses the CGI header block at the start of buf (lines ending in LF or
 * CRLF, up to a blank line).  Returns the block's length including the
 * blank line, 0 when the blank line has not arrived yet (never when len is
 * CGI_MAX_HEADER_BLOCK or more), or -1 when the block is malformed (a line
 * without a colon, a bad Status, none of Content-Type, Location and
 * Status, longer than CGI_MAX_HEADER_BLOCK), with *errstr saying why.
 */
long	 cgi_response_parse(const char *buf, size_t len,
	    struct cgi_response *, const char **errstr);

#endif /* CGI_H */
