#ifndef SPAWN_H
#define SPAWN_H

#include <sys/types.h>

#include <limits.h>

#include "addr.h"
#include "util.h"

#define SPAWN_MAX_CHILDREN	1024

/* What spawn_run starts, and how: spawn's options, or cgi-fcgi -start's. */
struct spawn_opts {
	struct addr	 addr;
	int		 inherited;	/* no address: the socket we were given */
	char		 path[PATH_MAX];	/* what is executed */
	char	       **argv;
	int		 n;
	int		 foreground;	/* -F: supervise instead of exiting */
	int		 check_early;
	const char	*pidfile;
	mode_t		 mode;
	uid_t		 sock_uid;
	gid_t		 sock_gid;
	struct credentials creds;	/* the children's */
};

/* spawn: takes argv from the command name on, returns the exit status. */
int	 cmd_spawn(int, char **);

/* One copy, on a socket of its own, every credential kept. */
void	 spawn_opts_init(struct spawn_opts *);
/*
 * Finds what to execute for o->argv[0] into o->path: itself when it holds
 * a '/' or when search is 0, else the first executable file of that name
 * in $PATH.  Returns 0, or EX_USAGE (said).
 */
int	 spawn_find_app(struct spawn_opts *, int search);
/*
 * Creates the socket, starts o->n children on it and, with foreground,
 * keeps them running until told to stop; without, leaves them running,
 * detached, and returns.  Returns the exit status (said).
 */
int	 spawn_run(const struct spawn_opts *);

#endif /* SPAWN_H */
