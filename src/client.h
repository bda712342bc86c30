#ifndef CLIENT_H
#define CLIENT_H

#include "cgi.h"

/* Each takes argv from the command name on and returns the exit status. */
int	 cmd_connect(int, char **);
int	 cmd_request(int, char **);
int	 cmd_values(int, char **);

/*
 * What connect sends, and where: env as the request's PARAMS, and standard
 * input as its body: CONTENT_LENGTH bytes of it, or when env has none, all
 * of it (body_to_eof) or nothing, as a CGI has.
 */
struct connect_opts {
	const char	*address;
	struct cgi_env	 env;
	double		 timeout_s;	/* 0: none */
	int		 trace;		/* -v */
	int		 body_to_eof;
};

/*
 * connect's defaults, with env taken from our environment; 0, or an exit
 * status (said).
 */
int	 connect_opts_init(struct connect_opts *);
void	 connect_opts_free(struct connect_opts *);
/* Runs the request; returns the exit status (said). */
int	 connect_run(const struct connect_opts *);

#endif /* CLIENT_H */
