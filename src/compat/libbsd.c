/*
 * For the musl build only (make static): what fcgi-bridge takes from
 * libbsd and musl does not have.  libbsd is built for glibc alone, and the
 * glibc build keeps using it; the Makefile compiles this file into
 * ./fcgi-bridge-static and nothing else.  Each function behaves as
 * libbsd's does, as far as fcgi-bridge can tell.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/libutil.h>
#include <bsd/stdlib.h>
#include <bsd/unistd.h>

/*
 * OpenBSD's strtonum(3): the decimal number in the whole of s, between
 * minval and maxval; else 0, with *errstr "invalid", "too small" or "too
 * large" (NULL on success; errstr itself may be NULL, as OpenBSD allows)
 * and errno EINVAL or ERANGE.
 */
long long
strtonum(const char *s, long long minval, long long maxval,
    const char **errstr)
{
	long long	 n = 0;
	char		*end;
	const char	*why = NULL;
	int		 saved = errno;

	errno = 0;
	if (minval > maxval)
		why = "invalid";
	else {
		n = strtoll(s, &end, 10);
		if (end == s || *end != '\0')
			why = "invalid";
		else if ((n == LLONG_MIN && errno == ERANGE) || n < minval)
			why = "too small";
		else if ((n == LLONG_MAX && errno == ERANGE) || n > maxval)
			why = "too large";
	}
	if (errstr != NULL)
		*errstr = why;
	if (why == NULL) {
		errno = saved;
		return n;
	}
	errno = why[0] == 'i' ? EINVAL : ERANGE;
	return 0;
}

/* The name the program was run as, without its directory. */
const char *
getprogname(void)
{
	return program_invocation_short_name;
}

/*
 * Closes every descriptor from lowfd up: close_range(2) where the kernel
 * has it (Linux 5.9), else one close per descriptor the limit allows,
 * since /proc/self/fd may not exist where this binary runs.
 */
void
closefrom(int lowfd)
{
	long	 fd, max;

	if (syscall(SYS_close_range, (unsigned int)lowfd, ~0U, 0) == 0)
		return;
	if ((max = sysconf(_SC_OPEN_MAX)) == -1)
		max = INT_MAX;
	for (fd = lowfd; fd < max; fd++)
		(void)close((int)fd);
}

/*
 * FreeBSD's pidfile(3), as libbsd has it: the file is created or reused,
 * and held with an exclusive flock(2) for as long as it is open, so that a
 * second instance learns that it is in use, and by which pid.
 */
struct pidfh {
	int	 fd;
	char	*path;
};

/*
 * The pid written in a pidfile that another process holds: 0 with *pid
 * set, EAGAIN while the file is still empty, or another errno.
 */
static int
pidfile_read(const char *path, pid_t *pid)
{
	char		 buf[32];
	const char	*errstr;
	ssize_t		 n;
	int		 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno;
	n = read(fd, buf, sizeof(buf) - 1);
	saved = errno;
	close(fd);
	if (n == -1)
		return saved;
	if (n == 0)
		return EAGAIN;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	*pid = (pid_t)strtonum(buf, 1, INT_MAX, &errstr);
	return errstr == NULL ? 0 : EINVAL;
}

/*
 * Opens and locks path, empty, for the caller to write its pid in.  NULL
 * with errno EEXIST when another process holds it, its pid then in
 * *other (-1 if it has not written one within 100 ms).
 */
struct pidfh *
pidfile_open(const char *path, mode_t mode, pid_t *other)
{
	const struct timespec	 pause = { 0, 5 * 1000 * 1000 };
	struct pidfh		*pfh;
	struct stat		 named, held;
	int			 fd, tries, rc, saved;

	if ((pfh = malloc(sizeof(*pfh))) == NULL)
		return NULL;
	if ((pfh->path = strdup(path)) == NULL)
		goto fail;
	for (;;) {
		if ((fd = open(path, O_WRONLY | O_CREAT | O_NONBLOCK |
		    O_CLOEXEC, mode)) == -1)
			goto fail;
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			saved = errno;
			close(fd);
			if (saved != EWOULDBLOCK) {
				errno = saved;
				goto fail;
			}
			for (tries = 0; (rc = pidfile_read(path, other)) ==
			    EAGAIN && tries < 20; tries++)
				nanosleep(&pause, NULL);
			if (rc != 0)
				*other = -1;
			errno = EEXIST;
			goto fail;
		}
		/*
		 * The holder removes the file before it lets go of the lock:
		 * the file locked must still be the one named path.
		 */
		if (stat(path, &named) == 0 && fstat(fd, &held) == 0 &&
		    named.st_dev == held.st_dev && named.st_ino == held.st_ino)
			break;
		close(fd);
	}
	if (ftruncate(fd, 0) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		goto fail;
	}
	pfh->fd = fd;
	return pfh;

fail:
	saved = errno;
	free(pfh->path);
	free(pfh);
	errno = saved;
	return NULL;
}

/* Writes our pid in the pidfile, in place of what it held. */
int
pidfile_write(struct pidfh *pfh)
{
	char	 buf[32];
	int	 len;

	if (ftruncate(pfh->fd, 0) == -1)
		return -1;
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (pwrite(pfh->fd, buf, (size_t)len, 0) != len)
		return -1;
	return 0;
}

/* Lets go of the pidfile, leaving it in place. */
int
pidfile_close(struct pidfh *pfh)
{
	int	 rc = close(pfh->fd);

	free(pfh->path);
	free(pfh);
	return rc;
}

/* Removes the pidfile, then lets go of it. */
int
pidfile_remove(struct pidfh *pfh)
{
	int	 rc = unlink(pfh->path);

	if (pidfile_close(pfh) == -1)
		rc = -1;
	return rc;
}

int
pidfile_fileno(const struct pidfh *pfh)
{
	return pfh->fd;
}
