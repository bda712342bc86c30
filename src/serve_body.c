/*
 * serve: request bodies, from FCGI_STDIN records to the CGI's standard
 * input, every byte in order.  Bytes the CGI cannot take yet (its pipe is
 * full, or it has not started) are kept: one record in memory while the
 * connection is not read, or a file for a request that waits for a slot
 * on a multiplexed connection (req_hold_stdin).
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fcgi.h"
#include "serve_internal.h"

/* Body bytes that wait to go to the CGI. */
int
req_stdin_pending(const struct req *r)
{
	return r->inlen > r->inoff || r->spool_off < r->spool_len;
}

/*
 * Whether r's waiting body holds back the reading of its connection.  It
 * does, so that the rest of the body waits in the socket's buffers, not in
 * memory, except while r waits for a slot with its body spooled (see
 * req_hold_stdin).
 */
int
req_stdin_blocks(const struct req *r)
{
	return req_stdin_pending(r) &&
	    !(r->state == REQ_WAITING && r->spool_fd != -1);
}

/* An unlinked temporary file in the spool directory, or -1. */
static int
spool_open(const char *dir)
{
	char	 path[PATH_MAX];
	int	 fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd != -1 || (errno != EOPNOTSUPP && errno != EISDIR &&
	    errno != EINVAL))
		return fd;
	/* A file system without O_TMPFILE. */
	if (snprintf(path, sizeof(path), "%s/fcgi-bridge-body.XXXXXX",
	    dir) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkostemp(path, O_CLOEXEC)) != -1)
		unlink(path);
	return fd;
}

/*
 * Keeps body bytes that the CGI cannot take yet: it has not started, or
 * its pipe is full.  They wait in memory, one record at most, while the
 * connection is not read (req_stdin_blocks); but a request waiting for a
 * slot on a connection that carries other requests cannot hold them up,
 * since one of them may be the CGI whose end would free the slot: its
 * body goes to a temporary file instead, read back once its CGI runs.
 * Returns 0, or -1 with *why.
 */
static int
req_hold_stdin(struct req *r, const uint8_t *p, size_t len, const char **why)
{
	struct conn	*c = r->conn;
	ssize_t		 n;

	if (r->state == REQ_WAITING &&
	    (r->spool_fd != -1 || c->reqs != r || r->next != NULL)) {
		if (r->spool_fd == -1 &&
		    (r->spool_fd = spool_open(c->srv->cfg->spool_dir)) == -1) {
			*why = "cannot create a file to keep the body in";
			return -1;
		}
		while (len > 0) {
			if ((n = pwrite(r->spool_fd, p, len, r->spool_len)) ==
			    -1 && errno == EINTR)
				continue;
			if (n <= 0) {
				*why = "cannot write the body to its file";
				return -1;
			}
			p += n;
			len -= (size_t)n;
			r->spool_len += n;
		}
		return 0;
	}
	if (r->inbuf == NULL && (r->inbuf = malloc(FCGI_MAX_CONTENT)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	memmove(r->inbuf, r->inbuf + r->inoff, r->inlen - r->inoff);
	r->inlen -= r->inoff;
	r->inoff = 0;
	if (len > FCGI_MAX_CONTENT - r->inlen) {
		/* req_stdin_blocks keeps this from happening. */
		*why = "body buffer overrun";
		return -1;
	}
	memcpy(r->inbuf + r->inlen, p, len);
	r->inlen += len;
	return 0;
}

/*
 * Writes to the CGI's standard input, non-blocking from the first write
 * on: most requests have no body, and their pipe is closed unwritten
 * without this fcntl.
 */
static ssize_t
stdin_write(struct req *r, const void *p, size_t len)
{
	if (!r->in_nonblock) {
		(void)fcntl(r->in_fd, F_SETFL, O_NONBLOCK);
		r->in_nonblock = 1;
	}
	return write(r->in_fd, p, len);
}

/*
 * Hands body bytes to the CGI, or keeps them until it can take them.  Once
 * the CGI has closed its standard input the rest is dropped.  Returns 0,
 * or -1 with *why.
 */
int
req_feed_stdin(struct req *r, const uint8_t *p, size_t len, const char **why)
{
	ssize_t	 n = 0;

	if (r->state == REQ_RUNNING && r->in_fd == -1)
		return 0;
	if (r->state == REQ_RUNNING && !req_stdin_pending(r)) {
		n = stdin_write(r, p, len);
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			req_close_fd(r, &r->in_fd);
			return 0;
		}
		if (n == -1)
			n = 0;
	}
	if ((size_t)n == len)
		return 0;
	return req_hold_stdin(r, p + n, len - (size_t)n, why);
}

/* Drops the body that the CGI will never take. */
void
req_drop_stdin(struct req *r)
{
	r->inlen = r->inoff = 0;
	if (r->spool_fd != -1) {
		close(r->spool_fd);
		r->spool_fd = -1;
	}
	r->spool_len = r->spool_off = 0;
	req_close_fd(r, &r->in_fd);
}

void
req_on_stdin(void *arg, int fd, int revents)
{
	struct req	*r = arg;
	ssize_t		 n;

	(void)fd;
	(void)revents;
	if (r->inlen == r->inoff && r->spool_off < r->spool_len) {
		if (r->inbuf == NULL &&
		    (r->inbuf = malloc(FCGI_MAX_CONTENT)) == NULL) {
			(void)req_fail(r, 503, "out of memory");
			return;
		}
		n = pread(r->spool_fd, r->inbuf, FCGI_MAX_CONTENT,
		    r->spool_off);
		if (n <= 0) {
			(void)req_fail(r, 502, "cannot read the body back from "
			    "its file");
			return;
		}
		r->inoff = 0;
		r->inlen = (size_t)n;
		r->spool_off += n;
		if (r->spool_off == r->spool_len) {
			close(r->spool_fd);
			r->spool_fd = -1;
			r->spool_len = r->spool_off = 0;
		}
	}
	if (r->inlen > r->inoff) {
		n = stdin_write(r, r->inbuf + r->inoff, r->inlen - r->inoff);
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			req_drop_stdin(r);
		else if (n > 0)
			r->inoff += (size_t)n;
		if (r->inoff == r->inlen)
			r->inoff = r->inlen = 0;
	}
	req_update(r);
	conn_update(r->conn);
}
