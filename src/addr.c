#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "addr.h"
#include "util.h"

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

	const char	*errstr;

	if (strspn(port, "0123456789") != strlen(port) ||
	    (strtonum(port, 1, 65535, &errstr), errstr != NULL)) {
		snprintf(err, errlen, "%s: bad port \"%s\": expected 1 to "
		    "65535", a->text, port);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (*host == '\0')
		host = "127.0.0.1";
	/*
	 * localhost is the loopback address (RFC 6761, 6.3), taken without
	 * the resolver: the static binary runs where there may be no
	 * /etc/hosts, and musl then asks DNS, for 5 s.
	 */
	if (strcasecmp(host, "localhost") == 0)
		host = family == AF_INET6 ? "::1" : "127.0.0.1";
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
addr_connect_start(const struct addr *a, int *in_progress)
{
	int	 fd, saved;

	if ((fd = addr_socket(&a->ss[0])) == -1)
		return -1;
	*in_progress = 0;
	if (connect(fd, (const struct sockaddr *)&a->ss[0], a->sslen[0]) ==
	    -1) {
		if (errno != EINPROGRESS) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		*in_progress = 1;
	}
	return fd;
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

/* Whether a Unix socket file has a live listener behind it. */
static int
unix_socket_live(const struct sockaddr_storage *ss, socklen_t len)
{
	int	 fd, live;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 1;
	live = connect(fd, (const struct sockaddr *)ss, len) == 0 ||
	    errno != ECONNREFUSED;
	close(fd);
	return live;
}

/*
 * Creates a listening, non-blocking, close-on-exec socket.  For a Unix
 * socket, a socket file that nobody listens on any more (left by a dead
 * run) is replaced; one with a live listener is an error.  mode, when not
 * 0, is the socket file's mode; uid and gid, when not -1, its owner.
 * Returns the socket, or -1 with a message in err.
 */
static int
addr_listen(const struct addr *a, int backlog, mode_t mode, uid_t uid,
    gid_t gid, char *err, size_t errlen)
{
	const struct sockaddr_un	*sun;
	struct stat			 st;
	int				 fd, one = 1;

	fd = socket(a->ss[0].ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "%s: socket: %s", a->text,
		    strerror(errno));
		return -1;
	}
	if (addr_is_unix(a)) {
		sun = (const struct sockaddr_un *)&a->ss[0];
		if (lstat(sun->sun_path, &st) == 0) {
			if (!S_ISSOCK(st.st_mode)) {
				snprintf(err, errlen, "%s: exists and is not "
				    "a socket", a->text);
				goto fail;
			}
			if (unix_socket_live(&a->ss[0], a->sslen[0])) {
				snprintf(err, errlen, "%s: another process "
				    "listens on it", a->text);
				goto fail;
			}
			if (unlink(sun->sun_path) == -1) {
				snprintf(err, errlen, "%s: removing the stale "
				    "socket: %s", a->text, strerror(errno));
				goto fail;
			}
		}
	} else
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss[0], a->sslen[0]) == -1) {
		snprintf(err, errlen, "%s: bind: %s", a->text, strerror(errno));
		goto fail;
	}
	if (addr_is_unix(a)) {
		sun = (const struct sockaddr_un *)&a->ss[0];
		if ((mode != 0 && chmod(sun->sun_path, mode) == -1) ||
		    ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
		    chown(sun->sun_path, uid, gid) == -1)) {
			snprintf(err, errlen, "%s: %s", a->text,
			    strerror(errno));
			unlink(sun->sun_path);
			goto fail;
		}
	}
	if (listen(fd, backlog) == -1) {
		snprintf(err, errlen, "%s: listen: %s", a->text,
		    strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static int
is_listening_socket(int fd)
{
	int		 on = 0;
	socklen_t	 len = sizeof(on);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 &&
	    on;
}

int
addr_systemd_socket(void)
{
	const char	*pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char		 self[32];

	snprintf(self, sizeof(self), "%ld", (long)getpid());
	return pid != NULL && fds != NULL && strcmp(pid, self) == 0 &&
	    strcmp(fds, "0") != 0;
}

/*
 * A listening socket handed over by whoever started us: systemd's
 * LISTEN_FDS (fd 3, when LISTEN_PID is ours), else fd 0 when it is a
 * listening socket (FCGI_LISTENSOCK_FILENO).  Returns it, made
 * non-blocking and close-on-exec, or -1 when there is none.
 */
static int
addr_inherited_listener(void)
{
	int	 fd = -1, flags;

	if (addr_systemd_socket() && is_listening_socket(3))
		fd = 3;
	else if (is_listening_socket(0))
		fd = 0;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (fd == -1)
		return -1;
	flags = fcntl(fd, F_GETFL);
	if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		return -1;
	return fd;
}

/* serve's and spawn's: how many connections wait for an accept. */
#define LISTEN_BACKLOG	1024

int
addr_listener_open(struct addr_listener *l, const struct addr *a,
    mode_t mode, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	l->unix_path[0] = '\0';
	if (a == NULL) {
		if ((l->fd = addr_inherited_listener()) == -1) {
			snprintf(err, errlen, "no -s ADDRESS, and no listening "
			    "socket on fd 0 or from systemd (LISTEN_FDS)");
			return -1;
		}
		return 0;
	}
	l->fd = addr_listen(a, LISTEN_BACKLOG, mode, uid, gid, err, errlen);
	if (l->fd == -1)
		return -1;
	if (addr_is_unix(a))
		strlcpy(l->unix_path, ((const struct sockaddr_un *)
		    &a->ss[0])->sun_path, sizeof(l->unix_path));
	return 0;
}

void
addr_format_peer(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char	 host[INET6_ADDRSTRLEN];

	switch (ss->ss_family) {
	case AF_INET:
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
		    host, sizeof(host));
		snprintf(buf, len, "%s:%u", host,
		    ntohs(((const struct sockaddr_in *)ss)->sin_port));
		break;
	case AF_INET6:
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)ss)->sin6_addr, host,
		    sizeof(host));
		snprintf(buf, len, "[%s]:%u", host,
		    ntohs(((const struct sockaddr_in6 *)ss)->sin6_port));
		break;
	default:
		snprintf(buf, len, "unix");
	}
}

/*
 * The IP address of ss as its bytes, with their number (4 or 16) in *len:
 * for an IPv4 address mapped into IPv6, the IPv4 address.  NULL, with
 * *len 0, when ss is not IP.
 */
static const uint8_t *
ip_bytes(const struct sockaddr_storage *ss, size_t *len)
{
	const struct sockaddr_in6	*sin6;

	switch (ss->ss_family) {
	case AF_INET:
		*len = 4;
		return (const uint8_t *)
		    &((const struct sockaddr_in *)ss)->sin_addr;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			*len = 4;
			return sin6->sin6_addr.s6_addr + 12;
		}
		*len = 16;
		return sin6->sin6_addr.s6_addr;
	default:
		*len = 0;
		return NULL;
	}
}

int
addr_is_loopback(const struct sockaddr_storage *ss)
{
	const uint8_t	*ip;
	size_t		 len;

	if (ss->ss_family == AF_UNIX)
		return 1;
	if ((ip = ip_bytes(ss, &len)) == NULL)
		return 0;
	if (len == 4)
		return ip[0] == 127;
	return memcmp(ip, &in6addr_loopback, len) == 0;
}

int
addr_allowlist_parse(const char *list, struct sockaddr_storage **allowed,
    size_t *nallowed, char *err, size_t errlen)
{
	struct sockaddr_storage	*v = NULL, *grown;
	char			*copy, *rest, *word;
	size_t			 n = 0;

	*allowed = NULL;
	*nallowed = 0;
	if ((copy = strdup(list)) == NULL)
		goto nomem;
	for (rest = copy; (word = strsep(&rest, ", \t")) != NULL;) {
		if (*word == '\0')
			continue;
		if ((grown = reallocarray(v, n + 1, sizeof(*v))) == NULL)
			goto nomem;
		v = grown;
		memset(&v[n], 0, sizeof(v[n]));
		if (inet_pton(AF_INET, word,
		    &((struct sockaddr_in *)&v[n])->sin_addr) == 1)
			v[n].ss_family = AF_INET;
		else if (inet_pton(AF_INET6, word,
		    &((struct sockaddr_in6 *)&v[n])->sin6_addr) == 1)
			v[n].ss_family = AF_INET6;
		else {
			snprintf(err, errlen, "%s is not an IP address", word);
			goto fail;
		}
		n++;
	}
	free(copy);
	*allowed = v;
	*nallowed = n;
	return 0;
nomem:
	snprintf(err, errlen, "%s", strerror(errno));
fail:
	free(copy);
	free(v);
	return -1;
}

char *
addr_allowlist_format(const struct sockaddr_storage *allowed,
    size_t nallowed)
{
	const uint8_t	*ip;
	char		*s, *p;
	size_t		 i, len;

	/* Room for each address and a comma or the final NUL. */
	if ((s = reallocarray(NULL, nallowed + 1, INET6_ADDRSTRLEN + 1)) ==
	    NULL)
		return NULL;
	p = s;
	*p = '\0';
	for (i = 0; i < nallowed; i++) {
		ip = ip_bytes(&allowed[i], &len);
		if (i > 0)
			*p++ = ',';
		inet_ntop(len == 4 ? AF_INET : AF_INET6, ip, p,
		    INET6_ADDRSTRLEN);
		p += strlen(p);
	}
	return s;
}

int
addr_peer_allowed(const struct sockaddr_storage *allowed, size_t nallowed,
    const struct sockaddr_storage *peer)
{
	const uint8_t	*ip, *want;
	size_t		 len, wlen, i;

	if (nallowed == 0 || peer->ss_family == AF_UNIX)
		return 1;
	if ((ip = ip_bytes(peer, &len)) == NULL)
		return 0;
	for (i = 0; i < nallowed; i++)
		if ((want = ip_bytes(&allowed[i], &wlen)) != NULL &&
		    wlen == len && memcmp(ip, want, len) == 0)
			return 1;
	return 0;
}
