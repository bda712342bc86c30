/*
 * Socket addresses as the command line names them, and the sockets made
 * from them.  The one place that parses an address.
 */
#ifndef ADDR_H
#define ADDR_H

#include <sys/socket.h>
#include <sys/un.h>

#define ADDR_MAX_RESOLVED	8

struct addr {
	char			 text[512];	/* as given, for messages */
	int			 n;		/* resolved candidates */
	struct sockaddr_storage	 ss[ADDR_MAX_RESOLVED];
	socklen_t		 sslen[ADDR_MAX_RESOLVED];
};

/*
 * Parses and resolves an address: "unix:PATH" or anything with a '/'
 * (Unix socket), "HOST:PORT", "[V6]:PORT", ":PORT" (loopback),
 * "tcp:HOST:PORT" and "tcp6:[V6]:PORT" (fcgiwrap's forms).  Returns 0, or
 * -1 with a message in err.
 */
int	 addr_parse(const char *, struct addr *, char *err, size_t errlen);

int	 addr_is_unix(const struct addr *);

/*
 * Connects to the address, trying each resolved candidate, waiting at most
 * timeout_ms in all (0: no limit).  Returns a connected, non-blocking,
 * close-on-exec socket, or -1 with errno set (ETIMEDOUT when time ran out).
 */
int	 addr_connect(const struct addr *, int timeout_ms);

/*
 * Starts a non-blocking connect to the first candidate.  Returns the
 * socket, with *in_progress 0 when it is connected already (a Unix socket
 * usually is) or 1 when it is not (wait for POLLOUT, then
 * addr_connect_result), or -1 with errno set.
 */
int	 addr_connect_start(const struct addr *, int *in_progress);
/* After POLLOUT on a socket from addr_connect_start: 0, or -1 with errno. */
int	 addr_connect_result(int fd);


#include <sys/types.h>

/* Whether systemd's LISTEN_PID and LISTEN_FDS hand this process fd 3. */
int	 addr_systemd_socket(void);

/*
 * The socket that serve and spawn listen on, and the socket file to remove
 * when they are done with it.
 */
struct addr_listener {
	int	 fd;
	/* The socket file made for fd; "" for TCP or an inherited socket. */
	char	 unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/*
 * Opens l: a new socket on a (addr_listen, with a backlog of 1024), or,
 * when a is NULL, the socket that whoever started us handed over
 * (addr_inherited_listener).  Returns 0, or -1 with a message in err.
 */
int	 addr_listener_open(struct addr_listener *l, const struct addr *a,
	    mode_t mode, uid_t uid, gid_t gid, char *err, size_t errlen);

/*
 * Whether only this host can reach the address: a Unix socket, or a
 * loopback IP address (127.0.0.0/8, ::1, or 127.0.0.0/8 mapped into IPv6).
 */
int	 addr_is_loopback(const struct sockaddr_storage *);

/*
 * The allow-list of TCP peers: FCGI_WEB_SERVER_ADDRS for serve, -a for
 * spawn.  It is IP addresses separated by commas, blanks, or both:
 * libfcgi, whose variable it is, takes commas alone and no blanks, and
 * serve has always taken blanks too.  An IPv4 address mapped into IPv6
 * (::ffff:a.b.c.d) is that IPv4 address, as a peer or in the list.
 */

/*
 * Parses list into a new array of *nallowed addresses (*allowed, NULL for
 * a list of none), which the caller frees.  Returns 0, or -1 with a message
 * in err naming the word that is not an IP address.
 */
int	 addr_allowlist_parse(const char *list,
	    struct sockaddr_storage **allowed, size_t *nallowed, char *err,
	    size_t errlen);

/*
 * A list that addr_allowlist_parse made, as libfcgi and php-cgi read it:
 * the addresses separated by commas alone, a mapped IPv4 address written
 * as IPv4.  Returns a string the caller frees, or NULL when out of memory.
 */
char	*addr_allowlist_format(const struct sockaddr_storage *allowed,
	    size_t nallowed);

/*
 * Whether a peer may connect: a Unix socket peer always, any peer when the
 * list is empty, else an IP peer whose address is in it.
 */
int	 addr_peer_allowed(const struct sockaddr_storage *allowed,
	    size_t nallowed, const struct sockaddr_storage *peer);

/* Formats a peer address ("127.0.0.1:5555", "[::1]:80", "unix") into buf. */
void	 addr_format_peer(const struct sockaddr_storage *, char *buf,
	    size_t len);

#endif /* ADDR_H */
