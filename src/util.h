/* Small helpers that several commands share. */
#ifndef UTIL_H
#define UTIL_H

#include <sys/types.h>

#include <pwd.h>
#include <stddef.h>

/* The monotonic clock, in milliseconds and in microseconds. */
long long	 now_ms(void);
long long	 now_us(void);

/* Writes all of buf to fd, through EINTR; 0, or -1 with errno set. */
int		 write_all(int, const void *, size_t);

/*
 * Opens /dev/null on whichever of fds 0, 1 and 2 is closed, so that no
 * socket or pipe of ours lands there.  0, or -1 with errno set.
 */
int		 std_fds_open(void);

/* A user or group by name or number; 0, or -1 after saying so. */
int		 user_lookup(const char *, struct passwd **);
int		 group_lookup(const char *, gid_t *);

/*
 * Whom serve and spawn become for -u USER and -g GROUP: USER's uid,
 * GROUP's gid or else USER's primary one, and USER's supplementary groups
 * from the group database, as initgroups(3) sets them.  Those groups are
 * what an operator expects: login, su, php-fpm for its pool user and
 * spawn-fcgi all give them, and making www-data a member of a group (of
 * git's repositories for cgit, say) is how a web server's CGIs are let
 * in.  slowcgi's setgroups(1, &gid) fits its chroot, where there is
 * nothing else to reach; CGIs here see the whole file system, as the
 * user's other processes do.  Either option replaces the groups that we
 * started with (root's) in full.
 */
struct credentials {
	uid_t		 uid;		/* (uid_t)-1: keep ours */
	gid_t		 gid;		/* (gid_t)-1: keep ours */
	gid_t		*groups;	/* the supplementary groups */
	int		 ngroups;	/* -1: keep ours */
};

/*
 * Resolves user and group, either of which may be NULL, into c: with
 * group alone, that group is the only one; with neither, c keeps ours.
 * Everything is looked up here, the group list too, so that a child
 * between fork and exec can apply c.  Returns 0, or an exit status
 * (EX_USAGE for an unknown name) after saying why.
 */
int		 credentials_resolve(const char *user, const char *group,
		    struct credentials *c);

/*
 * Becomes c: setgroups, setgid, then setuid, each when c sets it.  It
 * makes system calls only, so that a child may call it between fork and
 * exec.  Returns NULL, or the name of the call that failed, with errno
 * set.
 */
const char	*credentials_apply(const struct credentials *);

void		 credentials_free(struct credentials *);

/*
 * Option values, each checked whole, with a message naming the option
 * when they are not right: 0, or -1 after saying so.
 * opt_number: a decimal number above 0 (or 0 too, with zero_ok), at most
 * max.  opt_count: a whole number from 1 to max.  opt_size: the same
 * with an optional k, m or g (KiB, MiB, GiB).  opt_mode: an octal file
 * mode from 1 to 07777.
 */
int		 opt_number(const char *opt, const char *, int zero_ok,
		    double max, double *);
int		 opt_count(const char *opt, const char *, long long max,
		    long long *);
int		 opt_size(const char *opt, const char *, long long max,
		    long long *);
int		 opt_mode(const char *opt, const char *, mode_t *);

#endif /* UTIL_H */
