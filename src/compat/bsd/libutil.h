/*
 * For the musl build only (make static): the pidfile functions of libbsd's
 * <bsd/libutil.h>, FreeBSD's pidfile(3) (src/compat/libbsd.c).
 */
#ifndef COMPAT_BSD_LIBUTIL_H
#define COMPAT_BSD_LIBUTIL_H

#include <sys/types.h>

struct pidfh;

struct pidfh	*pidfile_open(const char *, mode_t, pid_t *);
int		 pidfile_write(struct pidfh *);
int		 pidfile_close(struct pidfh *);
int		 pidfile_remove(struct pidfh *);
int		 pidfile_fileno(const struct pidfh *);

#endif
