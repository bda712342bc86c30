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
 * Starts a non-blocking connect to the first candidate.  Returns the socket
 * (connected or in progress: wait for POLLOUT, then addr_connect_result),
 * or -1 with errno set.
 */
int	 addr_connect_start(const struct addr *);
/* After POLLOUT on a socket from addr_connect_start: 0, or -1 with errno. */
int	 addr_connect_result(int fd);

#endif /* ADDR_H */
