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
