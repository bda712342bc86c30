/*
 * For the musl build only (make static): libbsd's <bsd/string.h>.  musl
 * has strlcpy in <string.h>.
 */
#ifndef COMPAT_BSD_STRING_H
#define COMPAT_BSD_STRING_H

#include <string.h>

#endif
