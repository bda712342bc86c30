/*
 * For the musl build only (make static): libbsd's <bsd/unistd.h>, as much
 * of it as fcgi-bridge uses (src/compat/libbsd.c).
 */
#ifndef COMPAT_BSD_UNISTD_H
#define COMPAT_BSD_UNISTD_H

#include <unistd.h>

void	 closefrom(int);

#endif
