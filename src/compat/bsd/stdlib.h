/*
 * For the musl build only (make static): libbsd's <bsd/stdlib.h>, as much
 * of it as fcgi-bridge uses.  musl has reallocarray; the rest is in
 * src/compat/libbsd.c.
 */
#ifndef COMPAT_BSD_STDLIB_H
#define COMPAT_BSD_STDLIB_H

#include <stdlib.h>

long long	 strtonum(const char *, long long, long long, const char **);
const char	*getprogname(void);

#endif
