#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "util.h"

long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
std_fds_open(void)
{
	int	 fd;

	for (fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) == -1 &&
		    open("/dev/null", O_RDWR) != fd)
			return -1;
	return 0;
}

int
user_lookup(const char *name, struct passwd **pw)
{
	const char	*errstr;
	uid_t		 uid;

	if ((*pw = getpwnam(name)) == NULL) {
		uid = (uid_t)strtonum(name, 0, UINT_MAX - 1, &errstr);
		if (errstr == NULL)
			*pw = getpwuid(uid);
	}
	if (*pw == NULL) {
		warnx("%s: no such user", name);
		return -1;
	}
	return 0;
}

int
group_lookup(const char *name, gid_t *gid)
{
	struct group	*gr;
	const char	*errstr;

	if ((gr = getgrnam(name)) == NULL) {
		*gid = (gid_t)strtonum(name, 0, UINT_MAX - 1, &errstr);
		if (errstr == NULL)
			gr = getgrgid(*gid);
	}
	if (gr == NULL) {
		warnx("%s: no such group", name);
		return -1;
	}
	*gid = gr->gr_gid;
	return 0;
}

int
credentials_resolve(const char *user, const char *group,
    struct credentials *c)
{
	struct passwd	*pw;
	gid_t		*grown;
	int		 room = 16, want;

	c->uid = (uid_t)-1;
	c->gid = (gid_t)-1;
	c->groups = NULL;
	c->ngroups = -1;
	if (group != NULL && group_lookup(group, &c->gid) == -1)
		return EX_USAGE;
	if (user == NULL) {
		if (group == NULL)
			return 0;
		if ((c->groups = calloc(1, sizeof(*c->groups))) == NULL) {
			warn("%s", group);
			return EX_OSERR;
		}
		c->groups[0] = c->gid;
		c->ngroups = 1;
		return 0;
	}
	if (user_lookup(user, &pw) == -1)
		return EX_USAGE;
	c->uid = pw->pw_uid;
	if (group == NULL)
		c->gid = pw->pw_gid;
	for (;;) {
		grown = reallocarray(c->groups, room, sizeof(*c->groups));
		if (grown == NULL) {
			warn("%s", user);
			goto fail;
		}
		c->groups = grown;
		want = room;
		if (getgrouplist(pw->pw_name, c->gid, c->groups, &want) != -1) {
			c->ngroups = want;
			return 0;
		}
		/* Too small: want is now the number of groups. */
		if (want <= room || room > 65536) {
			warnx("%s: cannot list the user's groups", user);
			goto fail;
		}
		room = want;
	}
fail:
	credentials_free(c);
	return EX_OSERR;
}

const char *
credentials_apply(const struct credentials *c)
{
	if (c->ngroups >= 0 && setgroups(c->ngroups, c->groups) == -1)
		return "setgroups";
	if (c->gid != (gid_t)-1 && setgid(c->gid) == -1)
		return "setgid";
	if (c->uid != (uid_t)-1 && setuid(c->uid) == -1)
		return "setuid";
	return NULL;
}

void
credentials_free(struct credentials *c)
{
	free(c->groups);
	c->groups = NULL;
	c->ngroups = -1;
}

int
opt_number(const char *opt, const char *s, int zero_ok, double max,
    double *v)
{
	char	*end;

	errno = 0;
	*v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(*v >= 0) ||
	    (*v == 0 && !zero_ok) || *v > max) {
		warnx("%s %s: expected a number %s 0, at most %g", opt, s,
		    zero_ok ? "from" : "above", max);
		return -1;
	}
	return 0;
}

int
opt_count(const char *opt, const char *s, long long max, long long *v)
{
	const char	*errstr;

	*v = strtonum(s, 1, max, &errstr);
	if (errstr != NULL) {
		warnx("%s %s: %s (1 to %lld)", opt, s, errstr, max);
		return -1;
	}
	return 0;
}

int
opt_size(const char *opt, const char *s, long long max, long long *v)
{
	char		 digits[32];
	const char	*errstr;
	size_t		 len = strlen(s);
	int		 shift = 0;

	if (len > 0 && strchr("kKmMgG", s[len - 1]) != NULL) {
		shift = strchr("kK", s[len - 1]) ? 10 :
		    strchr("mM", s[len - 1]) ? 20 : 30;
		len--;
	}
	if (len == 0 || len >= sizeof(digits)) {
		warnx("%s %s: expected a size in bytes, with k, m or g for "
		    "KiB, MiB or GiB", opt, s);
		return -1;
	}
	memcpy(digits, s, len);
	digits[len] = '\0';
	*v = strtonum(digits, 1, max >> shift, &errstr);
	if (errstr != NULL) {
		warnx("%s %s: %s (1 to %lld bytes)", opt, s, errstr, max);
		return -1;
	}
	*v <<= shift;
	return 0;
}

int
opt_mode(const char *opt, const char *s, mode_t *mode)
{
	size_t	 len = strlen(s);

	if (len == 0 || len > 5 || strspn(s, "01234567") != len ||
	    (*mode = (mode_t)strtoul(s, NULL, 8)) == 0 || *mode > 07777) {
		warnx("%s %s: expected an octal mode such as 660", opt, s);
		return -1;
	}
	return 0;
}
