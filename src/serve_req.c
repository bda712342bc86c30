/*
 * serve: requests, from BEGIN_REQUEST to END_REQUEST.  A request gathers
 * its PARAMS, waits for a CGI slot or starts its CGI at once, sends the
 * CGI's output back once its header block checks (or an HTTP error of
 * its own), and ends when the CGI has exited and its output has ended, or
 * when its time is up.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "cgi.h"
#include "ev.h"
#include "fcgi.h"
#include "serve_internal.h"
#include "util.h"

void
req_close_fd(struct req *r, int *fd)
{
	if (*fd == -1)
		return;
	ev_close(r->conn->srv->ev, *fd);
	*fd = -1;
}

void
queue_remove(struct server *srv, struct req *r)
{
	struct req	**pp;

	for (pp = &srv->queue_head; *pp != NULL; pp = &(*pp)->qnext) {
		if (*pp != r)
			continue;
		*pp = r->qnext;
		if (srv->queue_tail == r) {
			struct req *t = srv->queue_head;

			while (t != NULL && t->qnext != NULL)
				t = t->qnext;
			srv->queue_tail = t;
		}
		srv->nqueued--;
		r->qnext = NULL;
		return;
	}
}

/* The one destructor of a request: closes its pipes and its body's
 * spool, stops its CGI unless its output is over, and unlinks it from its
 * connection and the queue. */
void
req_free(struct req *r)
{
	struct conn	 *c = r->conn;
	struct req	**pp;

	if (r->state == REQ_WAITING)
		queue_remove(c->srv, r);
	if (r->cgi != NULL) {
		/* Output still open: the CGI, or what it left, runs on. */
		if (!r->exited || r->out_fd != -1 || r->err_fd != -1)
			child_stop(r->cgi, 1);
		else
			child_detach(r->cgi);
	}
	req_close_fd(r, &r->in_fd);
	req_close_fd(r, &r->out_fd);
	req_close_fd(r, &r->err_fd);
	if (r->spool_fd != -1)
		close(r->spool_fd);
	for (pp = &c->reqs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	free(r->params);
	free(r->program);
	free(r->cwd);
	free(r->envp);
	free(r->inbuf);
	free(r->head);
	free(r);
}

struct req *
req_find(struct conn *c, uint16_t id)
{
	struct req	*r;

	for (r = c->reqs; r != NULL; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

/*
 * Sends END_REQUEST (after closing the streams it used) and frees the
 * request.  Without FCGI_KEEP_CONN the connection then closes, once the
 * client has finished sending the request's STDIN.
 */
void
req_end(struct req *r, uint32_t app_status, uint8_t protocol_status)
{
	struct conn	*c = r->conn;
	uint8_t		 body[8];

	if (r->stdout_sent)
		(void)conn_queue(c, FCGI_STDOUT, r->id, NULL, 0);
	if (r->stderr_sent)
		(void)conn_queue(c, FCGI_STDERR, r->id, NULL, 0);
	fcgi_end_request_body(body, app_status, protocol_status);
	(void)conn_queue(c, FCGI_END_REQUEST, r->id, body, sizeof(body));
	status_request_ended(c->srv, r, app_status, protocol_status);
	if (!r->keep_conn) {
		c->closing = 1;
		c->await_stdin = r->stdin_ended ? 0 : r->id;
	}
	req_free(r);
	conn_update(c);
}

const char *
http_reason(int status)
{
	switch (status) {
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Internal Server Error";
	}
}

/* Answers with an HTTP error of our own and ends the request. */
void
req_fail_http(struct req *r, int status, const char *why)
{
	char	 resp[256];
	int	 n;

	slog(LOG_WARNING, "%s: %d %s: %s", r->script[0] ? r->script : "-",
	    status, http_reason(status), why);
	r->http_status = status;
	r->own_answer = 1;
	n = snprintf(resp, sizeof(resp), "Status: %d %s\r\nContent-Type: "
	    "text/plain\r\n\r\n%d %s\n", status, http_reason(status),
	    status, http_reason(status));
	if (conn_queue(r->conn, FCGI_STDOUT, r->id, resp, (size_t)n) == 0)
		r->stdout_sent = 1;
	req_end(r, 0, FCGI_REQUEST_COMPLETE);
}

/*
 * Fails r where everyone can see it: with an HTTP error of ours while none
 * of its answer has gone out, else by closing its connection, the one way
 * left to tell the web server that the answer is not whole.  Returns 0
 * when r alone is gone, -1 when its connection is too.
 */
int
req_fail(struct req *r, int status, const char *why)
{
	char	 line[320];

	if (!r->stdout_sent) {
		req_fail_http(r, status, why);
		return 0;
	}
	snprintf(line, sizeof(line), "%s: %s", r->script[0] ? r->script : "-",
	    why);
	conn_close(r->conn, line);
	return -1;
}

/*
 * The value of a PARAMS name, as a string in buf; NULL when the request
 * has no such name, or its value holds a NUL or is longer than buf.
 */
const char *
req_param(const struct req *r, const char *name, char *buf, size_t len)
{
	struct fcgi_nv	 nv;
	size_t		 off;
	long		 n;

	for (off = 0; off < r->params_len; off += (size_t)n) {
		if ((n = fcgi_nv_parse(r->params + off, r->params_len - off,
		    r->params_len, &nv)) <= 0)
			return NULL;
		if (!fcgi_nv_name_is(&nv, name))
			continue;
		if (nv.value_len >= len || memchr(nv.value, '\0',
		    nv.value_len) != NULL)
			return NULL;
		memcpy(buf, nv.value, nv.value_len);
		buf[nv.value_len] = '\0';
		return buf;
	}
	return NULL;
}

/*
 * Appends PARAMS content.  Returns -1 when the stream passes the limit, or
 * declares a pair that would: a length is checked as soon as it arrives,
 * not when its bytes have.
 */
int
req_add_params(struct req *r, const uint8_t *p, size_t len)
{
	struct fcgi_nv	 nv;
	size_t		 cap, max = r->conn->srv->cfg->max_params;
	uint8_t		*grown;
	long		 n;

	if (r->params_len + len > max)
		return -1;
	if (r->params_len + len > r->params_cap) {
		cap = r->params_cap ? r->params_cap : 4096;
		while (cap < r->params_len + len)
			cap *= 2;
		if ((grown = realloc(r->params, cap)) == NULL)
			return -1;
		r->params = grown;
		r->params_cap = cap;
	}
	memcpy(r->params + r->params_len, p, len);
	r->params_len += len;
	while ((n = fcgi_nv_parse(r->params + r->params_checked,
	    r->params_len - r->params_checked, max, &nv)) > 0)
		r->params_checked += (size_t)n;
	return n == -1 ? -1 : 0;
}

/* A request that BEGIN_REQUEST opened on c, or NULL when out of memory. */
struct req *
req_new(struct conn *c, uint16_t id, int keep_conn)
{
	struct req	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->conn = c;
	r->id = id;
	r->keep_conn = keep_conn;
	r->in_fd = r->out_fd = r->err_fd = r->spool_fd = -1;
	r->begun_ms = now_ms();
	r->deadline = r->begun_ms + c->srv->cfg->timeout_ms;
	r->next = c->reqs;
	c->reqs = r;
	return r;
}

/* Starts the request's CGI now, or queues it, or refuses it. */
static void
req_schedule(struct req *r)
{
	struct server		*srv = r->conn->srv;
	static struct log_limit	 overload_log;
	int			 rc;

	if (srv->queue_head == NULL &&
	    sched_may_start(&srv->sched, srv->nbusy, srv->nlong)) {
		if ((rc = child_start(r)) == 0) {
			req_update(r);
			return;
		}
		if (rc == -1) {
			req_fail_http(r, 502, "the CGI could not be started");
			return;
		}
	}
	if (srv->nqueued >= srv->cfg->max_queue) {
		slog_limited(&overload_log, LOG_WARNING, "%s: overloaded: "
		    "%zu CGIs running, %zu requests waiting: FCGI_OVERLOADED",
		    r->script, srv->nbusy, srv->nqueued);
		req_end(r, 0, FCGI_OVERLOADED);
		return;
	}
	r->state = REQ_WAITING;
	if (srv->queue_tail != NULL)
		srv->queue_tail->qnext = r;
	else
		srv->queue_head = r;
	srv->queue_tail = r;
	srv->nqueued++;
	srv->stats.max_children_reached++;
	if (srv->nqueued > srv->stats.max_waiting)
		srv->stats.max_waiting = srv->nqueued;
}

/* Starts the requests that wait, in order, while slots are free. */
void
req_dispatch_queue(struct server *srv)
{
	struct req	*r;
	int		 rc;

	while (srv->queue_head != NULL &&
	    sched_may_start(&srv->sched, srv->nbusy, srv->nlong)) {
		r = srv->queue_head;
		if ((rc = child_start(r)) == -2 && srv->nbusy > 0)
			return;		/* a CGI's end frees some; the tick */
		queue_remove(srv, r);
		if (rc == -2) {
			/* Nothing running will free any: the connections that
			 * wait hold what is left.  One goes at each try. */
			req_fail_http(r, 503, "no descriptors or processes to "
			    "start the CGI with, and no CGI running to free "
			    "any");
			return;
		}
		if (rc == -1) {
			req_fail_http(r, 502, "the CGI could not be started");
			continue;
		}
		req_update(r);
		conn_update(r->conn);
	}
}

/*
 * The PARAMS stream is complete: choose the program, then run it.
 * Returns 0, or -1 when the connection must close for a bad stream.
 */
int
req_params_done(struct req *r)
{
	const struct serve_config *cfg = r->conn->srv->cfg;
	const char	*why = NULL;
	char		 script_name[256], query[256];
	int		 status;

	if ((cfg->status_path != NULL || cfg->ping_path != NULL) &&
	    status_answer(r, req_param(r, "SCRIPT_NAME", script_name,
	    sizeof(script_name)), req_param(r, "QUERY_STRING", query,
	    sizeof(query))))
		return 0;
	if ((status = script_prepare(r, &why)) == -1)
		return -1;
	if (status != 0) {
		req_fail_http(r, status, why);
		return 0;
	}
	free(r->params);
	r->params = NULL;
	r->params_len = r->params_cap = 0;
	req_schedule(r);
	return 0;
}

/* Queues the checked header block and what followed it, as room allows. */
void
req_flush_head(struct req *r)
{
	struct conn	*c = r->conn;
	size_t		 chunk;

	while (r->head_sent < r->head_len && c->wlen < WBUF_DATA_LIMIT) {
		chunk = r->head_len - r->head_sent;
		if (chunk > FCGI_MAX_PADDED_CONTENT)
			chunk = FCGI_MAX_PADDED_CONTENT;
		if (conn_queue(c, FCGI_STDOUT, r->id, r->head + r->head_sent,
		    chunk) == -1)
			return;
		r->head_sent += chunk;
		r->stdout_sent = 1;
	}
	if (r->head_sent == r->head_len) {
		free(r->head);
		r->head = NULL;
		r->head_len = r->head_sent = 0;
	}
}

/* The CGI's exit status as FastCGI's appStatus: 128+N for signal N. */
static uint32_t
req_app_status(struct req *r)
{
	if (WIFEXITED(r->status))
		return (uint32_t)WEXITSTATUS(r->status);
	if (WIFSIGNALED(r->status))
		return 128 + (uint32_t)WTERMSIG(r->status);
	return 255;
}

/*
 * Why a CGI that ended before its header block was complete gives no
 * answer: the signal that killed it, or what is wrong with its output.
 */
static const char *
req_no_head_reason(struct req *r, char *buf, size_t len)
{
	struct cgi_response	 resp;
	const char		*errstr = NULL;

	if (WIFSIGNALED(r->status)) {
		snprintf(buf, len, "the CGI was killed by signal %d (%s) "
		    "before its headers", WTERMSIG(r->status),
		    strsignal(WTERMSIG(r->status)));
		return buf;
	}
	if (r->head_len == 0)
		return "the CGI ended without a response";
	(void)cgi_response_parse((const char *)r->head, r->head_len, &resp,
	    &errstr);
	return errstr != NULL ? errstr : "the CGI's headers ended early";
}

/* When the CGI is done (exited, stdout and stderr at EOF), ends r. */
void
req_maybe_finish(struct req *r)
{
	char	 why[128];

	if (!r->exited || r->out_fd != -1 || r->err_fd != -1)
		return;
	if (r->aborted) {
		req_end(r, req_app_status(r), FCGI_REQUEST_COMPLETE);
		return;
	}
	if (r->head_ok && r->head != NULL)
		return;
	if (!r->head_ok) {
		if (r->timed_out)
			req_fail_http(r, 504, "timed out before the CGI "
			    "sent its headers");
		else
			req_fail_http(r, 502, req_no_head_reason(r, why,
			    sizeof(why)));
		return;
	}
	if (r->timed_out)
		slog(LOG_WARNING, "%s: timed out after its headers: its "
		    "process group was stopped, and the response may be cut",
		    r->script);
	else if (WIFSIGNALED(r->status))
		slog(LOG_WARNING, "%s: the CGI was killed by signal %d (%s) "
		    "after its headers: the response may be cut", r->script,
		    WTERMSIG(r->status), strsignal(WTERMSIG(r->status)));
	req_end(r, req_app_status(r), FCGI_REQUEST_COMPLETE);
}

/*
 * Reads the CGI's output pipe *fdp into buf.  Returns the bytes read, or
 * 0 when there are none now or at the end of the output, after which the
 * pipe is closed and r may be gone.
 */
static ssize_t
req_read_output(struct req *r, int *fdp, void *buf, size_t len)
{
	ssize_t	 n;

	if ((n = read(*fdp, buf, len)) > 0)
		return n;
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	req_close_fd(r, fdp);
	req_maybe_finish(r);
	return 0;
}

/* Reads and drops what an aborted CGI still writes, until EOF. */
static void
req_drop_output(struct req *r, int *fdp)
{
	uint8_t	 buf[8192];

	(void)req_read_output(r, fdp, buf, sizeof(buf));
}

/*
 * ABORT_REQUEST: a request whose CGI runs ends when the CGI, sent SIGTERM,
 * has exited, with its status; one still waiting ends at once.
 */
void
req_abort(struct req *r)
{
	if (r->cgi == NULL) {
		req_end(r, 0, FCGI_REQUEST_COMPLETE);
		return;
	}
	r->aborted = 1;
	req_drop_stdin(r);
	free(r->head);
	r->head = NULL;
	child_stop(r->cgi, 0);
	req_update(r);
}

/*
 * Gathers the CGI's header block in r->head until it is complete and
 * checks: then it goes out (req_flush_head); a malformed one stops the CGI
 * and makes a 502.
 */
static void
req_read_head(struct req *r)
{
	struct cgi_response	 resp;
	const char		*errstr;
	ssize_t			 n;
	long			 hl;

	if (r->head == NULL &&
	    (r->head = malloc(CGI_MAX_HEADER_BLOCK)) == NULL) {
		r->conn->broken = 1;
		return;
	}
	if ((n = req_read_output(r, &r->out_fd, r->head + r->head_len,
	    CGI_MAX_HEADER_BLOCK - r->head_len)) == 0)
		return;
	r->head_len += (size_t)n;
	hl = cgi_response_parse((const char *)r->head, r->head_len, &resp,
	    &errstr);
	if (hl == 0 && r->head_len < CGI_MAX_HEADER_BLOCK)
		return;
	if (hl <= 0) {
		req_close_fd(r, &r->out_fd);
		if (r->cgi != NULL)
			child_stop(r->cgi, 1);
		r->exited = 1;
		r->status = 0;
		req_close_fd(r, &r->err_fd);
		req_maybe_finish(r);	/* 502 from r->head */
		return;
	}
	r->head_ok = 1;
	r->http_status = resp.status;
	req_flush_head(r);
	req_update(r);
	conn_update(r->conn);
}

/* The CGI's stdout, read straight into STDOUT records in the send buffer. */
void
req_on_stdout(void *arg, int fd, int revents)
{
	struct req	*r = arg;
	struct conn	*c = r->conn;
	uint8_t		 padding;
	ssize_t		 n;

	(void)fd;
	(void)revents;
	if (r->aborted) {
		req_drop_output(r, &r->out_fd);
		return;
	}
	if (!r->head_ok) {
		req_read_head(r);
		return;
	}
	if (!conn_has_room(c)) {
		req_update(r);
		return;
	}
	if (conn_reserve(c, FCGI_HEADER_LEN + READ_CHUNK + 8) == -1) {
		c->broken = 1;
		return;
	}
	if ((n = req_read_output(r, &r->out_fd,
	    c->wbuf + c->wlen + FCGI_HEADER_LEN, READ_CHUNK)) == 0)
		return;
	fcgi_stream_header(c->wbuf + c->wlen, FCGI_STDOUT, r->id, (size_t)n,
	    0, &padding);
	memset(c->wbuf + c->wlen + FCGI_HEADER_LEN + n, 0, padding);
	c->wlen += FCGI_HEADER_LEN + (size_t)n + padding;
	r->stdout_sent = 1;
	req_update(r);
	conn_update(c);
}

void
req_on_stderr(void *arg, int fd, int revents)
{
	struct req	*r = arg;
	uint8_t		 buf[8192];
	ssize_t		 n;

	(void)fd;
	(void)revents;
	if (r->aborted) {
		req_drop_output(r, &r->err_fd);
		return;
	}
	if (!r->conn->srv->cfg->cgi_stderr_own && !conn_has_room(r->conn)) {
		req_update(r);
		return;
	}
	if ((n = req_read_output(r, &r->err_fd, buf, sizeof(buf))) == 0)
		return;
	if (r->conn->srv->cfg->cgi_stderr_own) {
		(void)write(STDERR_FILENO, buf, (size_t)n);
		return;
	}
	if (conn_queue_stream(r->conn, FCGI_STDERR, r->id, buf, (size_t)n) ==
	    -1)
		return;
	r->stderr_sent = 1;
	req_update(r);
	conn_update(r->conn);
}

/* Sets what the request's pipes wait for, from the state of its buffers. */
void
req_update(struct req *r)
{
	struct conn	*c = r->conn;
	struct ev	*ev = c->srv->ev;
	int		 room = conn_has_room(c);

	if (r->head != NULL && r->head_ok)
		req_flush_head(r);
	if (r->in_fd != -1) {
		if (!req_stdin_pending(r) && r->stdin_ended)
			req_close_fd(r, &r->in_fd);
		else if (req_stdin_pending(r)) {
			if (ev_set(ev, r->in_fd, POLLOUT, req_on_stdin, r) ==
			    -1)
				c->broken = 1;
		} else
			ev_events(ev, r->in_fd, 0);
	}
	/* Until its headers check, stdout goes to r->head, not the socket. */
	if (r->out_fd != -1)
		ev_events(ev, r->out_fd, r->aborted || !r->head_ok ||
		    (room && r->head == NULL) ? POLLIN : 0);
	if (r->err_fd != -1)
		ev_events(ev, r->err_fd, r->aborted || room ? POLLIN : 0);
}

/*
 * A request whose CGI's process group got SIGKILL a tick ago: a pipe still
 * open with nothing in it is held by a process outside the group, and is
 * closed; a CGI that has not exited even so (stuck in the kernel) is left
 * to be reaped whenever it ends.  r may be gone on return.
 */
void
req_give_up(struct req *r)
{
	int	 avail;

	/* While a header block waits to go out, stdout is not read. */
	if (r->out_fd != -1 && !(r->head_ok && r->head != NULL) &&
	    ioctl(r->out_fd, FIONREAD, &avail) == 0 && avail == 0)
		req_close_fd(r, &r->out_fd);
	if (r->err_fd != -1 && ioctl(r->err_fd, FIONREAD, &avail) == 0 &&
	    avail == 0)
		req_close_fd(r, &r->err_fd);
	if (!r->exited) {
		r->exited = 1;
		r->status = W_EXITCODE(0, SIGKILL);
		if (r->cgi != NULL)
			child_detach(r->cgi);
	}
	req_maybe_finish(r);
}

/*
 * The time limit of -t.  Before the CGI's header block, the answer is a
 * 504 at once; after it, the CGI is stopped and the output it still
 * writes goes out until it ends.
 */
void
req_time_out(struct req *r)
{
	r->timed_out = 1;
	if (r->state != REQ_RUNNING) {
		req_fail_http(r, 504, r->state == REQ_WAITING ?
		    "no CGI slot in time" :
		    "the request did not arrive in time");
		return;
	}
	if (r->head_ok) {
		if (r->cgi != NULL)
			child_stop(r->cgi, 0);
		return;
	}
	if (r->cgi != NULL)
		child_stop(r->cgi, 1);
	req_close_fd(r, &r->out_fd);
	req_close_fd(r, &r->err_fd);
	free(r->head);
	r->head = NULL;
	r->head_len = 0;
	r->exited = 1;
	req_maybe_finish(r);
}

/*
 * The deadlines of a request: -t, the SIGKILL of its CGI's group (after
 * which it ends without waiting for what is out of reach), and the time a
 * CGI's leftover process may keep its output open.  r may be gone on
 * return.
 */
void
req_tick(struct req *r, long long now)
{
	if (!r->timed_out && now >= r->deadline) {
		req_time_out(r);
		return;
	}
	if (r->giving_up || (r->cgi != NULL && r->cgi->killed_at != 0 &&
	    now >= r->cgi->killed_at + TICK_MS)) {
		r->giving_up = 1;
		req_give_up(r);
		return;
	}
	if (r->cgi != NULL && r->linger_until != 0 && now >= r->linger_until) {
		r->linger_until = 0;
		if (r->cgi->kill_at != 0 || r->cgi->killed_at != 0)
			return;
		slog(LOG_WARNING, "%s: the CGI exited %d s ago, but a process "
		    "it started still holds its output open: stopping its "
		    "process group", r->script, LINGER_MS / 1000);
		child_stop(r->cgi, 0);
	}
}
