/*
 * For the musl build only (make static): musl's <sys/wait.h> has no
 * W_EXITCODE, which glibc's and the BSDs' have, to make a wait status from
 * an exit code and a signal number.
 */
#ifndef COMPAT_SYS_WAIT_H
#define COMPAT_SYS_WAIT_H

#include_next <sys/wait.h>

#ifndef W_EXITCODE
#define W_EXITCODE(ret, sig)	((ret) << 8 | (sig))
#endif

#endif
