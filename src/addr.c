#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "addr.h"

static int
addr_unix(const char *path, struct addr *a, char *err, size_t errlen)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)&a->ss[0];

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (*path == '\0') {
		snprintf(err, errlen, "%s: empty socket path", a->text);
		return -1;
	}
	if (strlcpy(sun->sun_path, path, sizeof(sun->sun_path)) >=
	    sizeof(sun->sun_path)) {
		snprintf(err, errlen, "%s: socket path longer than %zu bytes",
		    a->text, sizeof(sun->sun_path) - 1);
		return -1;
	}
	a->sslen[0] = sizeof(*sun);
	a->n = 1;
	return 0;
}

static int
addr_inet(const char *host, const char *port, int family, struct addr *a,
    char *err, size_t errlen)
{
	struct addrinfo	 hints, *res, *ai;
	int		 rc;

	if (*port == '\0' || strspn(port, "0123456789") != strlen(port) ||
	    strlen(port) > 5) {
		snprintf(err, errlen, "%s: bad port \"%s\"", a->text, port);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (*host == '\0')
		host = "127.0.0.1";
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", a->text, gai_strerror(rc));
		return -1;
	}
	a->n = 0;
	for (ai = res; ai != NULL && a->n < ADDR_MAX_RESOLVED; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(a->ss[0]))
			continue;
		memcpy(&a->ss[a->n], ai->ai_addr, ai->ai_addrlen);
		a->sslen[a->n] = ai->ai_addrlen;
		a->n++;
	}
	freeaddrinfo(res);
	if (a->n == 0) {
		snprintf(err, errlen, "%s: no usable address", a->text);
		return -1;
	}
	return 0;
}

int
addr_parse(const char *s, struct addr *a, char *err, size_t errlen)
{
	char		 host[256];
	const char	*colon, *close, *rest = s;
	int		 family = AF_UNSPEC;
	size_t		 hlen;

	memset(a, 0, sizeof(*a));
	if (strlcpy(a->text, s, sizeof(a->text)) >= sizeof(a->text)) {
		snprintf(err, errlen, "address too long");
		return -1;
	}
	if (strncmp(s, "unix:", 5) == 0)
		return addr_unix(s + 5, a, err, errlen);
	if (strncmp(s, "tcp:", 4) == 0) {
		rest = s + 4;
		family = AF_INET;
	} else if (strncmp(s, "tcp6:", 5) == 0) {
		rest = s + 5;
		family = AF_INET6;
	} else if (strchr(s, '/') != NULL)
		return addr_unix(s, a, err, errlen);

	if (*rest == '[') {
		if ((close = strchr(rest, ']')) == NULL || close[1] != ':') {
			snprintf(err, errlen, "%s: expected [ADDRESS]:PORT", s);
			return -1;
		}
		hlen = close - rest - 1;
		colon = close + 1;
		rest++;
		family = AF_INET6;
	} else {
		if ((colon = strrchr(rest, ':')) == NULL) {
			snprintf(err, errlen, "%s: expected HOST:PORT, "
			    "[ADDRESS]:PORT, :PORT, unix:PATH or a path", s);
			return -1;
		}
		hlen = colon - rest;
		if (memchr(rest, ':', hlen) != NULL) {
			snprintf(err, errlen, "%s: an IPv6 address needs "
			    "brackets: [ADDRESS]:PORT", s);
			return -1;
		}
	}
	if (hlen >= sizeof(host)) {
		snprintf(err, errlen, "%s: host name too long", s);
		return -1;
	}
	memcpy(host, rest, hlen);
	host[hlen] = '\0';
	if (family == AF_INET6 && hlen == 0) {
		snprintf(err, errlen, "%s: empty IPv6 address", s);
		return -1;
	}
	return addr_inet(host, colon + 1, family, a, err, errlen);
}

int
addr_is_unix(const struct addr *a)
{
	return a->n > 0 && a->ss[0].ss_family == AF_UNIX;
}

static int
addr_socket(const struct sockaddr_storage *ss)
{
	int	 fd, one = 1;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return -1;
	if (ss->ss_family != AF_UNIX)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	return fd;
}

int
addr_connect_result(int fd)
{
	int		 soerr = 0;
	socklen_t	 len = sizeof(soerr);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
		return -1;
	if (soerr != 0) {
		errno = soerr;
		return -1;
	}
	return 0;
}

int
addr_connect_start(const struct addr *a)
{
	int	 fd, saved;

	if ((fd = addr_socket(&a->ss[0])) == -1)
		return -1;
	if (connect(fd, (const struct sockaddr *)&a->ss[0], a->sslen[0]) ==
	    -1 && errno != EINPROGRESS) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
addr_connect(const struct addr *a, int timeout_ms)
{
	struct pollfd	 pfd;
	long long	 deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	int		 i, fd, rc, wait, saved = ECONNREFUSED;

	for (i = 0; i < a->n; i++) {
		if ((fd = addr_socket(&a->ss[i])) == -1)
			return -1;
		if (connect(fd, (const struct sockaddr *)&a->ss[i],
		    a->sslen[i]) == 0)
			return fd;
		if (errno != EINPROGRESS) {
			saved = errno;
			close(fd);
			continue;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		for (;;) {
			wait = -1;
			if (deadline != 0) {
				if (now_ms() >= deadline) {
					close(fd);
					errno = ETIMEDOUT;
					return -1;
				}
				wait = (int)(deadline - now_ms());
			}
			rc = poll(&pfd, 1, wait);
			if (rc == -1 && errno == EINTR)
				continue;
			break;
		}
		if (rc == 1 && addr_connect_result(fd) == 0)
			return fd;
		saved = rc == 0 ? ETIMEDOUT : errno;
		close(fd);
		if (saved == ETIMEDOUT)
			break;
	}
	errno = saved;
	return -1;
}
