#ifndef REQSPEC_H
#define REQSPEC_H

#include <sys/stat.h>

#include <stdint.h>

#include "cgi.h"

/*
 * The options that describe a request built from a URL, shared by request
 * and bench: -d -H -p -r -u -X --role --data --script-name.
 */
struct request_spec {
	struct cgi_url_request	 url;
	char			**headers;
	char			**puts;
	size_t			 nputs;
	char			**unsets;
	size_t			 nunsets;
	const char		*body;		/* -d */
	const char		*data;		/* --data @FILE */
	uint16_t		 role;
};

#define REQUEST_SPEC_OPTSTRING	"d:H:p:r:u:X:"
enum request_spec_longopt {
	REQUEST_OPT_ROLE = 512,
	REQUEST_OPT_DATA,
	REQUEST_OPT_SCRIPT_NAME
};
#define REQUEST_SPEC_LONGOPTS \
	{ "role", required_argument, NULL, REQUEST_OPT_ROLE }, \
	{ "data", required_argument, NULL, REQUEST_OPT_DATA }, \
	{ "script-name", required_argument, NULL, REQUEST_OPT_SCRIPT_NAME }

/* Room for argc options of each kind; 0, or -1 (said) when out of memory. */
int	 request_spec_init(struct request_spec *, int argc);
void	 request_spec_free(struct request_spec *);
/* 1 when the option is one of the spec's, 0 when not, -1 when bad (said). */
int	 request_spec_option(struct request_spec *, int ch, char *arg);
/*
 * Builds the request's environment for url into env: content_length -1
 * for no body; data_st the FILTER data file's stat, or NULL.  Returns 0,
 * or an exit status (said).
 */
int	 request_spec_env(struct request_spec *, const char *url,
	    long long content_length, const struct stat *data_st,
	    struct cgi_env *);

#endif /* REQSPEC_H */
