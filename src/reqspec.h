#ifndef REQSPEC_H
#define REQSPEC_H

#include <sys/types.h>

#include <stdint.h>
#include <time.h>

#include "cgi.h"

/*
 * What a request stream (STDIN or FILTER data) carries, as an option gives
 * it: the text of -d TEXT, or len bytes of an open file from offset on
 * (-d @FILE, -d @-, --data @FILE).  A file is read a piece at a time with
 * request_content_read, whatever its size, by request as by bench.
 */
struct request_content {
	const char	*name;		/* the file, for messages */
	const char	*text;		/* -d TEXT; NULL: from fd, or none */
	int		 fd;		/* -1: none */
	off_t		 offset;
	long long	 len;		/* 0: none */
	time_t		 mtime;		/* of the --data file */
};

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
	/* What body and data hold, once request_spec_open has run. */
	struct request_content	 stdin_content;
	struct request_content	 data_content;
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
/* Frees the spec and closes the files that request_spec_open opened. */
void	 request_spec_free(struct request_spec *);
/* 1 when the option is one of the spec's, 0 when not, -1 when bad (said). */
int	 request_spec_option(struct request_spec *, int ch, char *arg);
/*
 * Opens what -d and --data name into stdin_content and data_content.
 * -d @- reads all of standard input now, into a temporary file unless it
 * is a regular file, so that its length is known; so does -d @FILE when
 * FILE is not a regular file.  Returns 0, or an exit status (said).
 */
int	 request_spec_open(struct request_spec *);
/*
 * Builds the request's environment for url into env, from the options and
 * what request_spec_open found.  Returns 0, or an exit status (said).
 */
int	 request_spec_env(struct request_spec *, const char *url,
	    struct cgi_env *);
/*
 * Copies len bytes of c from byte off on into buf.  Returns 0, or -1 after
 * saying why (a read error, or a file now shorter than it was).
 */
int	 request_content_read(const struct request_content *, long long off,
	    void *buf, size_t len);

#endif /* REQSPEC_H */
