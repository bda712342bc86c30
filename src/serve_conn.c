/*
 * serve: connections.  Records are read into a buffer of one record's
 * size and acted on one by one, each type by a function of its own; the
 * answers are queued in a send buffer that grows only for control
 * records, so that a CGI's output waits in its pipe rather than in memory
 * when the web server reads slowly.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <bsd/string.h>

#include "addr.h"
#include "ev.h"
#include "fcgi.h"
#include "serve_internal.h"
#include "util.h"

static void	conn_on_io(void *, int, int);

/* Closes a connection whose peer broke the protocol (logged, counted). */
static void
conn_close_bad(struct conn *c, const char *why)
{
	c->srv->stats.protocol_errors++;
	conn_close(c, why);
}

/*
 * A connection for the accepted socket s, watched for reading.  Returns
 * it, or NULL (logged; s is then closed).
 */
struct conn *
conn_new(struct server *srv, int s, const struct sockaddr_storage *peer)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->rbuf = malloc(FCGI_MAX_RECORD)) == NULL ||
	    (c->wbuf = malloc(WBUF_SIZE)) == NULL ||
	    ev_set(srv->ev, s, POLLIN, conn_on_io, c) == -1) {
		slog(LOG_ERR, "accept: %s", strerror(errno));
		if (c != NULL) {
			free(c->rbuf);
			free(c->wbuf);
		}
		free(c);
		close(s);
		return NULL;
	}
	c->srv = srv;
	c->fd = s;
	c->wcap = WBUF_SIZE;
	c->last_active = now_ms();
	addr_format_peer(peer, c->peer, sizeof(c->peer));
	c->next = srv->conns;
	srv->conns = c;
	srv->nconns++;
	srv->stats.accepted_conns++;
	return c;
}


/* Makes room for len more bytes; the send buffer grows only for control
 * records, data waits for space instead. */
int
conn_reserve(struct conn *c, size_t len)
{
	uint8_t	*grown;
	size_t	 cap;

	if (c->wlen + len <= c->wcap)
		return 0;
	cap = c->wlen + len;
	if ((grown = realloc(c->wbuf, cap)) == NULL)
		return -1;
	c->wbuf = grown;
	c->wcap = cap;
	return 0;
}

/* Queues a whole record (content at most FCGI_MAX_PADDED_CONTENT). */
int
conn_queue(struct conn *c, uint8_t type, uint16_t id, const void *content,
    size_t len)
{
	size_t	 n;

	if (c->broken)
		return -1;
	if (conn_reserve(c, FCGI_HEADER_LEN + len + 8) == -1) {
		c->broken = 1;
		return -1;
	}
	n = fcgi_record_pack(c->wbuf + c->wlen, c->wcap - c->wlen, type, id,
	    content, len);
	c->wlen += n;
	return 0;
}

int
conn_queue_stream(struct conn *c, uint8_t type, uint16_t id,
    const uint8_t *data, size_t len)
{
	size_t	 chunk;

	do {
		chunk = len > FCGI_MAX_PADDED_CONTENT ?
		    FCGI_MAX_PADDED_CONTENT : len;
		if (conn_queue(c, type, id, data, chunk) == -1)
			return -1;
		data += chunk;
		len -= chunk;
	} while (len > 0);
	return 0;
}

int
conn_has_room(struct conn *c)
{
	return !c->draining && !c->broken && c->wlen < WBUF_DATA_LIMIT;
}

static void
conn_free(struct conn *c)
{
	struct server	 *srv = c->srv;
	struct conn	**pp;

	while (c->reqs != NULL) {
		status_request_dropped(srv);
		req_free(c->reqs);
	}
	ev_close(srv->ev, c->fd);
	for (pp = &srv->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	srv->nconns--;
	if (c->resume || c->flush_due || c->close_due) {
		for (pp = &srv->due; *pp != c; pp = &(*pp)->due_next)
			;
		*pp = c->due_next;
	}
	free(c->rbuf);
	free(c->wbuf);
	free(c);
	if (srv->listener.fd != -1 && !srv->stopping && !srv->accept_paused)
		ev_events(srv->ev, srv->listener.fd, POLLIN);
}

/* Closes a connection at once, killing its requests' CGIs (logged). */
void
conn_close(struct conn *c, const char *why)
{
	if (why != NULL)
		slog(LOG_WARNING, "%s: closing the connection: %s", c->peer,
		    why);
	conn_free(c);
}

/*
 * After the last answer on a connection without FCGI_KEEP_CONN: half-close
 * and read what the client still sends, so that it sees an orderly end
 * rather than a reset.
 */
static void
conn_start_drain(struct conn *c)
{
	uint8_t	 b;
	ssize_t	 n;

	c->draining = 1;
	/* Nothing more to read: a close is orderly already. */
	n = recv(c->fd, &b, 1, MSG_DONTWAIT | MSG_PEEK);
	if (n == 0 || (n == -1 && errno == EAGAIN)) {
		conn_due(c, &c->close_due);
		return;
	}
	shutdown(c->fd, SHUT_WR);
	c->drain_until = now_ms() + DRAIN_MS;
	ev_events(c->srv->ev, c->fd, POLLIN);
}

static void
conn_answer_values(struct conn *c, const struct fcgi_record *rec)
{
	struct server	*srv = c->srv;
	struct fcgi_nv	 nv;
	uint8_t		 out[256];
	char		 val[32];
	size_t		 off, len = 0, n;
	long		 k;

	for (off = 0; off < rec->hdr.content_length; off += (size_t)k) {
		k = fcgi_nv_parse(rec->content + off,
		    rec->hdr.content_length - off, FCGI_MAX_CONTENT, &nv);
		if (k <= 0)
			break;
		if (fcgi_nv_name_is(&nv, "FCGI_MAX_CONNS"))
			snprintf(val, sizeof(val), "%zu", srv->cfg->max_conns);
		else if (fcgi_nv_name_is(&nv, "FCGI_MAX_REQS"))
			snprintf(val, sizeof(val), "%zu", srv->cfg->max_cgi);
		else if (fcgi_nv_name_is(&nv, "FCGI_MPXS_CONNS"))
			strlcpy(val, "1", sizeof(val));
		else
			continue;
		n = fcgi_nv_pack(out + len, sizeof(out) - len, nv.name,
		    nv.name_len, val, strlen(val));
		if (n > sizeof(out) - len)
			break;
		len += n;
	}
	(void)conn_queue(c, FCGI_GET_VALUES_RESULT, 0, out, len);
}

/*
 * Records for request id 0: GET_VALUES is answered, any other type gets
 * UNKNOWN_TYPE.
 */
static void
conn_on_management(struct conn *c, const struct fcgi_record *rec)
{
	uint8_t		 body[8];

	if (rec->hdr.type == FCGI_GET_VALUES) {
		conn_answer_values(c, rec);
		return;
	}
	fcgi_unknown_type_body(body, rec->hdr.type);
	(void)conn_queue(c, FCGI_UNKNOWN_TYPE, 0, body, sizeof(body));
}

/*
 * BEGIN_REQUEST: a new request, or END_REQUEST with UNKNOWN_ROLE for a
 * role other than the responder's.  Returns 0, or -1 when the connection
 * was closed.
 */
static int
conn_on_begin(struct conn *c, const struct fcgi_record *rec)
{
	uint16_t	 id = rec->hdr.request_id, role;
	uint8_t		 flags, body[8];
	char		 why[96];

	if (req_find(c, id) != NULL) {
		snprintf(why, sizeof(why), "BEGIN_REQUEST for request %u, "
		    "which is live", id);
		conn_close_bad(c, why);
		return -1;
	}
	if (c->closing) {
		conn_close_bad(c, "BEGIN_REQUEST after a request without "
		    "FCGI_KEEP_CONN");
		return -1;
	}
	fcgi_begin_request_fields(rec, &role, &flags);
	if (role != FCGI_RESPONDER) {
		slog(LOG_WARNING, "%s: role %u refused (FCGI_UNKNOWN_ROLE)",
		    c->peer, role);
		fcgi_end_request_body(body, 0, FCGI_UNKNOWN_ROLE);
		(void)conn_queue(c, FCGI_END_REQUEST, id, body, sizeof(body));
		if (!(flags & FCGI_KEEP_CONN)) {
			c->closing = 1;
			c->await_stdin = id;
		}
		return 0;
	}
	if (req_new(c, id, flags & FCGI_KEEP_CONN) == NULL) {
		conn_close(c, "out of memory");
		return -1;
	}
	return 0;
}

/* PARAMS: gathered until the empty record.  Returns 0, or -1 (closed). */
static int
conn_on_params(struct conn *c, struct req *r, const struct fcgi_record *rec)
{
	char	 why[96];

	if (r->state != REQ_PARAMS || r->envp != NULL) {
		conn_close_bad(c, "PARAMS after the PARAMS stream ended");
		return -1;
	}
	if (rec->hdr.content_length == 0) {
		if (req_params_done(r) == -1) {
			conn_close_bad(c, "malformed PARAMS stream");
			return -1;
		}
		return 0;
	}
	if (req_add_params(r, rec->content, rec->hdr.content_length) == -1) {
		snprintf(why, sizeof(why), "PARAMS over %zu bytes",
		    c->srv->cfg->max_params);
		conn_close_bad(c, why);
		return -1;
	}
	return 0;
}

/*
 * STDIN: the body, to the CGI (serve_body.c).  The STDIN of a request that
 * has ended already is dropped, but for its end, which a connection
 * without FCGI_KEEP_CONN waits for before it closes.  Returns 0, or -1
 * (closed).
 */
static int
conn_on_stdin(struct conn *c, struct req *r, const struct fcgi_record *rec)
{
	const char	*why;

	if (r == NULL) {
		if (c->await_stdin == rec->hdr.request_id &&
		    rec->hdr.content_length == 0)
			c->await_stdin = 0;
		return 0;
	}
	if (r->envp == NULL) {
		conn_close_bad(c, "STDIN before the PARAMS stream ended");
		return -1;
	}
	if (r->stdin_ended)
		return 0;
	if (rec->hdr.content_length == 0)
		r->stdin_ended = 1;
	else if (req_feed_stdin(r, rec->content, rec->hdr.content_length,
	    &why) == -1)
		return req_fail(r, 503, why);
	req_update(r);
	return 0;
}

/*
 * Whether the record after rec, the end of a request's PARAMS, is already
 * here and ends its STDIN at once: then the request has no body, known
 * before its CGI starts, which gets /dev/null as its standard input rather
 * than a pipe that would be closed unwritten (child_start).
 */
static void
conn_peek_stdin_end(struct conn *c, const struct fcgi_record *rec, size_t off)
{
	struct fcgi_record	 next;
	struct req		*r;
	const char		*errstr;

	if (rec->hdr.type != FCGI_PARAMS || rec->hdr.content_length != 0 ||
	    fcgi_record_parse(c->rbuf + off, c->rlen - off, &next,
	    &errstr) <= 0)
		return;
	if (next.hdr.type == FCGI_STDIN && next.hdr.content_length == 0 &&
	    next.hdr.request_id == rec->hdr.request_id &&
	    (r = req_find(c, rec->hdr.request_id)) != NULL &&
	    r->state == REQ_PARAMS && r->envp == NULL)
		r->stdin_ended = 1;
}

/*
 * Acts on one record.  Records for a request that does not exist (ended,
 * or never begun) are dropped.  Returns 0, or -1 when the connection was
 * closed (c is then gone).
 */
static int
conn_record(struct conn *c, const struct fcgi_record *rec)
{
	struct req	*r;
	char		 why[96];

	if (rec->hdr.request_id == 0) {
		conn_on_management(c, rec);
		return 0;
	}
	if (rec->hdr.type == FCGI_BEGIN_REQUEST)
		return conn_on_begin(c, rec);
	r = req_find(c, rec->hdr.request_id);
	switch (rec->hdr.type) {
	case FCGI_PARAMS:
		return r == NULL ? 0 : conn_on_params(c, r, rec);
	case FCGI_STDIN:
		return conn_on_stdin(c, r, rec);
	case FCGI_ABORT_REQUEST:
		if (r == NULL)
			return 0;
		slog(LOG_INFO, "%s: aborted by the web server",
		    r->script[0] ? r->script : "-");
		r->stdin_ended = 1;
		req_abort(r);
		return 0;
	case FCGI_DATA:
		return 0;
	default:
		snprintf(why, sizeof(why), "unexpected record type %u",
		    rec->hdr.type);
		conn_close_bad(c, why);
		return -1;
	}
}

/* Whether some request of c holds the reading of c back. */
static int
conn_stdin_blocked(struct conn *c)
{
	struct req	*r;

	for (r = c->reqs; r != NULL; r = r->next)
		if (req_stdin_blocks(r))
			return 1;
	return 0;
}

void
conn_update(struct conn *c)
{
	short	 events = 0;
	int	 blocked;

	if (c->draining || c->broken)
		return;
	if (c->closing && c->wlen == 0 && c->await_stdin == 0 &&
	    c->reqs == NULL) {
		conn_start_drain(c);
		return;
	}
	blocked = conn_stdin_blocked(c);
	/* Records already read wait for no event of the socket's. */
	if (c->stalled && !blocked)
		conn_due(c, &c->resume);
	/* Sent at the loop's next turn, all the records queued by then in
	 * one call; POLLOUT is waited for only when the socket is full. */
	if (c->wlen > 0 && !c->want_write)
		conn_due(c, &c->flush_due);
	if (!blocked)
		events |= POLLIN;
	if (c->want_write)
		events |= POLLOUT;
	ev_events(c->srv->ev, c->fd, events);
}

/* Sets one of c's flags of work for server_run_deferred. */
void
conn_due(struct conn *c, int *flag)
{
	if (*flag)
		return;
	if (!c->resume && !c->flush_due && !c->close_due) {
		c->due_next = c->srv->due;
		c->srv->due = c;
	}
	*flag = 1;
}

/*
 * Sends as much of the send buffer as the socket takes now.  Returns 0,
 * or -1 when the connection was closed (c is then gone).
 */
int
conn_send(struct conn *c)
{
	struct req	*r, *next;
	ssize_t		 n;

	n = send(c->fd, c->wbuf, c->wlen, MSG_NOSIGNAL);
	if (n == -1 && errno != EAGAIN && errno != EINTR) {
		conn_close(c, c->reqs ? "the web server hung up" : NULL);
		return -1;
	}
	c->want_write = n == -1 || (size_t)n < c->wlen;
	if (n > 0) {
		c->srv->stats.bytes_out += (size_t)n;
		memmove(c->wbuf, c->wbuf + n, c->wlen - (size_t)n);
		c->wlen -= (size_t)n;
		for (r = c->reqs; r != NULL; r = next) {
			next = r->next;
			req_update(r);
		}
	}
	return 0;
}

static void
conn_on_io(void *arg, int fd, int revents)
{
	struct conn		*c = arg;
	ssize_t			 n;

	c->last_active = now_ms();
	if (c->draining) {
		uint8_t	 sink[4096];

		n = read(fd, sink, sizeof(sink));
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			conn_close(c, NULL);
		return;
	}
	if ((revents & POLLOUT) && conn_send(c) == -1)
		return;
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		if (conn_stdin_blocked(c) && !(revents & (POLLHUP | POLLERR))) {
			conn_update(c);
			return;
		}
		n = recv(fd, c->rbuf + c->rlen, FCGI_MAX_RECORD - c->rlen, 0);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			goto out;
		if (n <= 0) {
			if (c->reqs != NULL)
				conn_close(c, "the web server hung up");
			else if (c->rlen > 0)
				conn_close_bad(c, "truncated record at "
				    "end of connection");
			else
				conn_close(c, NULL);
			return;
		}
		c->rlen += (size_t)n;
		c->srv->stats.bytes_in += (size_t)n;
		if (conn_process(c) == -1)
			return;
	}
out:
	conn_update(c);
}

/*
 * Acts on the whole records in the receive buffer, stopping while a
 * request holds the connection back (conn_stdin_blocked); the rest waits
 * for server_run_deferred.  Returns 0, or -1 when the connection was
 * closed.
 */
int
conn_process(struct conn *c)
{
	struct fcgi_record	 rec;
	const char		*errstr;
	char			 why[128];
	size_t			 off = 0;
	int			 len;

	c->stalled = 0;
	while (off < c->rlen && !c->draining) {
		if (conn_stdin_blocked(c)) {
			c->stalled = 1;
			break;
		}
		len = fcgi_record_parse(c->rbuf + off, c->rlen - off, &rec,
		    &errstr);
		if (len == -1) {
			snprintf(why, sizeof(why), "malformed record: %s",
			    errstr);
			conn_close_bad(c, why);
			return -1;
		}
		if (len == 0)
			break;
		off += (size_t)len;
		conn_peek_stdin_end(c, &rec, off);
		if (conn_record(c, &rec) == -1)
			return -1;
	}
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
	return 0;
}

/* The deadlines of a connection and of its requests. */
void
conn_tick(struct conn *c, long long now)
{
	struct server	*srv = c->srv;
	struct req	*r, *next;

	if (c->broken) {
		conn_close(c, "out of memory");
		return;
	}
	if (c->draining) {
		if (now >= c->drain_until)
			conn_close(c, NULL);
		return;
	}
	if (c->reqs == NULL && (now - c->last_active >= srv->cfg->idle_ms ||
	    (srv->stopping && c->wlen == 0))) {
		conn_close(c, srv->stopping ? NULL : "idle");
		return;
	}
	for (r = c->reqs; r != NULL; r = next) {
		next = r->next;
		req_tick(r, now);
	}
}
