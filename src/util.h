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

#endif /* UTIL_H */
