/*
 * bench: a FastCGI load generator.  Every request's head (BEGIN_REQUEST and
 * PARAMS) is encoded once, from the same options as `request`, and copied
 * with its id patched per send; its body is framed per send from the text
 * or the file of the options, a record at a time, so that a body of any
 * size takes a record or two of memory.  The connections run on one event
 * loop; latencies go into HdrHistogram's histogram of fixed size, so
 * memory does not grow with the number of requests: one for the run, one
 * for the second under way, which joins the timeline when it ends.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/sockios.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "addr.h"
#include "bench.h"
#include "bench_report.h"
#include "bench_uring.h"
#include "cgi.h"
#include "ev.h"
#include "fcgi.h"
#include "hdr.h"
#include "reqspec.h"
#include "util.h"

#define HEAD_PEEK		1024	/* bytes of STDOUT kept to read Status */
#define STALL_MS		1000
/* How often a connection past its stall wait is looked at again while
 * the application is reading it (a slow answer). */
#define STALL_RECHECK_MS	10
/* The wait before a connection is tried again after it could not be
 * opened: it doubles with each failure, from the first to the last. */
#define RETRY_FIRST_MS		10
#define RETRY_LAST_MS		1000
/* Body bytes a connection queues before it waits for the socket. */
#define BODY_QUEUE		(128 * 1024)

/* The head of one request encoded: BEGIN_REQUEST and PARAMS. */
struct request_bytes {
	uint8_t		*bytes;
	size_t		 len;
	size_t		*id_at;		/* offsets of each record's id */
	size_t		 nid;
	const char	*url;		/* one of bench's urls */
};

struct slot {
	int		 busy;
	uint16_t	 id;
	long long	 start_us;	/* intended send time with -R */
	uint8_t		 head[HEAD_PEEK + 1];	/* + a closing LF */
	size_t		 head_len;
	int		 status;
	int		 counted;	/* sent in the measured period */
};

/* The body stream a connection is queueing, after a request's head. */
enum bconn_stream {
	BS_NONE,	/* none: the next request may be queued */
	BS_STDIN,
	BS_DATA
};

enum bconn_state {
	BC_IDLE,
	BC_CONNECTING,
	BC_OPEN,
	BC_ENDING,	/* answered without keep-alive: awaiting its close */
	BC_STALLED
};

struct bench;

struct bconn {
	struct bench		*b;
	int			 fd;
	enum bconn_state	 state;
	struct slot		*slots;
	int			 busy;
	uint8_t			*wbuf;
	size_t			 wlen;
	size_t			 wcap;
	uint8_t			*rbuf;
	size_t			 rlen;
	uint64_t		 completed;
	long long		 ending_since;
	long long		 retry_at;	/* after a failed connect */
	int			 retry_ms;	/* the next wait */
	/* The request a connection is being opened for: never open one
	 * without, or the application holds a worker for nothing. */
	int			 reserved;
	int			 reserved_counted;
	long long		 reserved_intended;
	/* The request whose body is being queued: its id, the stream and
	 * how much of it is queued. */
	uint16_t		 stream_id;
	enum bconn_stream	 stream;
	long long		 stream_off;
	/* io_uring: wbuf is being sent (and must stay as it is), a
	 * receive into rbuf is in flight. */
	int			 sending;
	int			 recv_posted;
};

/* The engine: what --io asks for, then what runs. */
enum bench_io {
	IO_AUTO,
	IO_EPOLL,
	IO_URING
};

struct bench {
	struct addr		 addr;
	const char		*address;
	struct request_spec	 spec;
	const char		*url;		/* the operand */
	const char		*urls_file;	/* --urls */
	char			**urls;		/* those of --urls, or url */
	size_t			 nurls;
	enum bench_io		 io;
	struct ev		*ev;		/* the epoll engine's loop */
	struct uring		*uring;		/* or the io_uring engine */
	struct request_bytes	*reqs;
	size_t			 nreqs;
	size_t			 next_req;
	struct bconn		*conns;

	long long		 total;		/* -n; 0: duration */
	double			 duration_s;
	double			 warmup_s;
	int			 nconns;
	int			 inflight;
	int			 keep;
	double			 rate;
	double			 timeout_s;
	int			 json;
	int			 progress;
	struct check		*checks;	/* --check */
	size_t			 nchecks;
	const char		*hgrm_path;	/* --hgrm */
	FILE			*hgrm;
	const char		*log_path;	/* --hdr-log */
	FILE			*log;
	int			 merge;		/* --merge: operands are files */
	int			 run_options;	/* any option but those */
	char			**files;	/* of --merge */
	int			 nfiles;

	long long		 t0_us;		/* start of measurement */
	long long		 start_us;	/* start of warm-up */
	long long		 end_us;	/* -D: end of measurement */
	long long		 issued;	/* counted requests sent */
	long long		 rate_sent;	/* for -R: requests sent */
	long long		 done;
	struct results		 res;
	/* The second under way: its start, errors and latencies. */
	long long		 second_us;
	uint64_t		 second_errors;
	struct hdr		 second;
	long long		 last_completion_us;
	int			 mpx_warned;
	int			 failed;	/* an exit status to stop with */
};

static int
buf_append(uint8_t **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
	uint8_t	*grown;
	size_t	 c = *cap ? *cap : 1024;

	while (c < *len + n)
		c *= 2;
	if (c != *cap) {
		if ((grown = realloc(*buf, c)) == NULL)
			return -1;
		*buf = grown;
		*cap = c;
	}
	if (n > 0)
		memcpy(*buf + *len, p, n);
	*len += n;
	return 0;
}

/* Appends the PARAMS stream (with its closing empty record) to the head. */
static int
encode_params(struct request_bytes *rb, size_t *cap, size_t *idcap,
    const uint8_t *data, size_t len)
{
	uint8_t		 hdr[FCGI_HEADER_LEN], pad[8] = { 0 }, padding;
	size_t		 chunk, *grown, off = 0;

	for (;;) {
		chunk = fcgi_pairs_chunk(data - off, len + off, off,
		    FCGI_MAX_PADDED_CONTENT);
		chunk = fcgi_stream_header(hdr, FCGI_PARAMS, 1, chunk, 0,
		    &padding);
		if (rb->nid == *idcap) {
			*idcap = *idcap ? *idcap * 2 : 16;
			if ((grown = reallocarray(rb->id_at, *idcap,
			    sizeof(size_t))) == NULL)
				return -1;
			rb->id_at = grown;
		}
		rb->id_at[rb->nid++] = rb->len + 2;
		if (buf_append(&rb->bytes, &rb->len, cap, hdr, sizeof(hdr)) ||
		    buf_append(&rb->bytes, &rb->len, cap, data, chunk) ||
		    buf_append(&rb->bytes, &rb->len, cap, pad, padding))
			return -1;
		if (chunk == 0)
			return 0;
		data += chunk;
		len -= chunk;
		off += chunk;
	}
}

/* Encodes the head of the request for url; 0 or an exit status (said). */
static int
request_encode(struct request_spec *spec, const char *url, int keep,
    struct request_bytes *rb)
{
	struct cgi_env	 env = { 0 };
	uint8_t		 begin[8], rec[16], *params = NULL;
	size_t		 cap = 0, idcap = 0, plen;
	int		 rc;

	memset(rb, 0, sizeof(*rb));
	if ((rc = request_spec_env(spec, url, &env)) != 0)
		goto done;
	rc = EX_OSERR;
	rb->url = url;
	if ((params = cgi_env_encode(&env, &plen)) == NULL)
		goto done;
	fcgi_begin_request_body(begin, spec->role, keep ? FCGI_KEEP_CONN : 0);
	fcgi_record_pack(rec, sizeof(rec), FCGI_BEGIN_REQUEST, 1, begin,
	    sizeof(begin));
	if ((rb->id_at = calloc(16, sizeof(size_t))) == NULL)
		goto done;
	idcap = 16;
	rb->id_at[rb->nid++] = 2;
	if (buf_append(&rb->bytes, &rb->len, &cap, rec, sizeof(rec)) == -1 ||
	    encode_params(rb, &cap, &idcap, params, plen) == -1)
		goto done;
	rc = 0;
done:
	if (rc == EX_OSERR)
		warn("encoding the request");
	free(params);
	cgi_env_free(&env);
	return rc;
}

static void	bconn_start(struct bconn *);
static void	bconn_on_io(void *, int, int);
static void	bconn_fail(struct bconn *, enum error_kind);

/* c's slot in the io_uring engine. */
static unsigned
bconn_index(const struct bconn *c)
{
	return (unsigned)(c - c->b->conns);
}

static void
bconn_close(struct bconn *c, enum bconn_state next)
{
	int	 i;

	/* With epoll, no EPOLL_CTL_DEL: closing the socket takes it out of
	 * the set, and nothing else (no child, no dup) holds it. */
	if (c->b->uring != NULL)
		uring_close(c->b->uring, bconn_index(c));
	else if (c->fd != -1) {
		ev_close(c->b->ev, c->fd);
		c->fd = -1;
	}
	c->sending = c->recv_posted = 0;
	for (i = 0; i < c->b->inflight; i++)
		c->slots[i].busy = 0;
	c->busy = 0;
	c->wlen = c->rlen = 0;
	c->stream = BS_NONE;
	c->state = next;
}

static int
measuring(struct bench *b, long long now)
{
	return now >= b->t0_us;
}

/* Whether another request may start now; *intended gets its send time. */
static int
may_issue(struct bench *b, long long now, long long *intended)
{
	*intended = now;
	if (b->total > 0 && b->issued >= b->total && measuring(b, now))
		return 0;
	if (b->total == 0 && now >= b->end_us)
		return 0;
	if (b->rate > 0) {
		*intended = b->start_us + (long long)((double)b->rate_sent *
		    1e6 / b->rate);
		return now >= *intended;
	}
	return 1;
}

static void
progress_line(const struct second *s)
{
	fprintf(stderr, "\r%6.0f s %9.1f req/s %7llu errors   ms: p50 %.3f "
	    "p99 %.3f max %.3f   ", s->start_s + s->duration_s,
	    s->duration_s > 0 ? (double)s->requests / s->duration_s : 0.0,
	    (unsigned long long)s->errors, (double)s->p50_us / 1000,
	    (double)s->p99_us / 1000, (double)s->max_us / 1000);
}

/*
 * The second under way ends at end: it joins the timeline, the log of
 * --hdr-log and the progress line, and the next one starts.  0, or an
 * exit status (said).
 */
static int
second_close(struct bench *b, long long end)
{
	struct second	*s;
	double		 start_s = (double)(b->second_us - b->t0_us) / 1e6;
	double		 duration_s = (double)(end - b->second_us) / 1e6;

	if (results_add_second(&b->res, start_s, duration_s, b->second.total,
	    b->second_errors, &b->second) == -1)
		return EX_OSERR;
	s = &b->res.seconds[b->res.nseconds - 1];
	if (b->log != NULL && (fprintf(b->log, "%.3f,%.3f,%.3f,%s\n",
	    start_s, duration_s, (double)s->max_us / 1000,
	    s->histogram) < 0 || fflush(b->log) == EOF)) {
		warn("%s", b->log_path);
		return EX_IOERR;
	}
	if (b->progress)
		progress_line(s);
	hdr_reset(&b->second);
	b->second_errors = 0;
	b->second_us = end;
	return 0;
}

/*
 * Ends the seconds that have passed by now, but never the last one of -D:
 * that one ends with the run, and takes an answer that came a little
 * late, so that the seconds add up to the run.
 */
static void
seconds_pass(struct bench *b, long long now)
{
	long long	 next;
	int		 rc;

	while (now >= (next = b->second_us + 1000000) &&
	    (b->total > 0 || next < b->end_us) && !b->failed)
		if ((rc = second_close(b, next)) != 0)
			b->failed = rc;
}

static void
tally_error(struct bench *b, enum error_kind kind)
{
	seconds_pass(b, now_us());
	b->res.errors[kind]++;
	b->second_errors++;
	b->done++;
}

static void
count_error(struct bench *b, struct slot *s, enum error_kind kind)
{
	if (s->counted)
		tally_error(b, kind);
}

/*
 * Takes one request from the budget: 1 with its intended send time and
 * whether it counts, or 0 when none may start now.
 */
static int
reserve(struct bench *b, long long now, long long *intended, int *counted)
{
	if (!may_issue(b, now, intended))
		return 0;
	*counted = measuring(b, now);
	if (*counted)
		b->issued++;
	b->rate_sent++;
	return 1;
}

/* Lowers *due to t. */
static void
due_by(long long *due, long long t)
{
	if (t < *due)
		*due = t;
}

/*
 * A failed connect uses up the request it was opened for, and the next
 * try waits: an address where nothing listens would else take a request
 * every turn of the loop.
 */
static void
connect_failed(struct bconn *c)
{
	if (c->reserved && c->reserved_counted)
		tally_error(c->b, ERR_CONNECT);
	c->reserved = 0;
	c->retry_at = now_us() + c->retry_ms * 1000LL;
	c->retry_ms = c->retry_ms * 2 < RETRY_LAST_MS ? c->retry_ms * 2 :
	    RETRY_LAST_MS;
}

/* Makes room in c's send buffer for len more bytes; 0, or -1. */
static int
bconn_room(struct bconn *c, size_t len)
{
	uint8_t	*p;

	if (c->wlen + len <= c->wcap)
		return 0;
	if ((p = realloc(c->wbuf, c->wlen + len)) == NULL)
		return -1;
	c->wbuf = p;
	c->wcap = c->wlen + len;
	return 0;
}

/*
 * Queues the head of the next request on c, its body to follow; 0, or -1
 * when none may start.
 */
static int
bconn_issue(struct bconn *c, long long now)
{
	struct bench		*b = c->b;
	struct request_bytes	*rb;
	struct slot		*s = NULL;
	long long		 intended;
	size_t			 i;
	uint8_t			*p;
	int			 k, counted;

	if (c->busy >= b->inflight)
		return -1;
	for (k = 0; k < b->inflight; k++)
		if (!c->slots[k].busy) {
			s = &c->slots[k];
			break;
		}
	if (s == NULL)
		return -1;
	rb = &b->reqs[b->next_req];
	if (bconn_room(c, rb->len) == -1)
		return -1;
	if (c->reserved) {
		intended = c->reserved_intended;
		counted = c->reserved_counted;
		c->reserved = 0;
	} else if (!reserve(b, now, &intended, &counted))
		return -1;
	b->next_req = (b->next_req + 1) % b->nreqs;
	p = c->wbuf + c->wlen;
	memcpy(p, rb->bytes, rb->len);
	for (i = 0; i < rb->nid; i++)
		fcgi_put_be16(p + rb->id_at[i], s->id);
	c->wlen += rb->len;
	c->stream_id = s->id;
	c->stream = b->spec.role == FCGI_AUTHORIZER ? BS_NONE : BS_STDIN;
	c->stream_off = 0;
	s->busy = 1;
	s->start_us = intended;
	s->head_len = 0;
	s->status = 0;
	s->counted = counted;
	c->busy++;
	return 0;
}

/*
 * io_uring: sends what c has queued, in one operation that owns wbuf
 * until it is done, opening the connection first if c has none, with a
 * receive linked after it when none is in flight.  A plain descriptor
 * (not a direct one) where bench_reclaim_stalled asks it with ioctl.
 * 0, or -1 when that failed c.
 */
static int
bconn_flush_uring(struct bconn *c)
{
	struct bench	*b = c->b;
	int		 recv = !c->recv_posted;

	if (c->sending || c->wlen == 0)
		return 0;
	if (uring_send(b->uring, bconn_index(c), !b->keep ||
	    !addr_is_unix(&b->addr), c->wbuf, c->wlen, c->stream == BS_NONE,
	    recv ? c->rbuf + c->rlen : NULL, FCGI_MAX_RECORD - c->rlen) ==
	    -1) {
		bconn_fail(c, ERR_RESET);
		return -1;
	}
	c->sending = 1;
	c->recv_posted = 1;
	return 0;
}

/* Sends what c has queued; 0, or -1 when that failed c. */
static int
bconn_flush(struct bconn *c)
{
	ssize_t	 n;

	if (c->b->uring != NULL)
		return bconn_flush_uring(c);
	if (c->wlen == 0)
		return 0;
	n = send(c->fd, c->wbuf, c->wlen, MSG_NOSIGNAL);
	if (n == -1 && errno != EAGAIN && errno != EINTR) {
		bconn_fail(c, ERR_RESET);
		return -1;
	}
	if (n > 0) {
		if (measuring(c->b, now_us()))
			c->b->res.bytes_out += (uint64_t)n;
		memmove(c->wbuf, c->wbuf + n, c->wlen - (size_t)n);
		c->wlen -= (size_t)n;
	}
	return 0;
}

/*
 * Queues the body of the request that c is sending, a record at a time,
 * until BODY_QUEUE bytes wait or it is all queued: its STDIN stream, then
 * a filter's DATA, each closed by an empty record.  0, or -1 when the run
 * must stop (said, with b->failed set).
 */
static int
bconn_stream(struct bconn *c)
{
	struct bench			*b = c->b;
	const struct request_content	*body;
	uint8_t				 hdr[FCGI_HEADER_LEN], *rec, padding;
	size_t				 chunk;

	while (c->stream != BS_NONE && c->wlen < BODY_QUEUE) {
		body = c->stream == BS_STDIN ? &b->spec.stdin_content :
		    &b->spec.data_content;
		chunk = fcgi_stream_header(hdr, c->stream == BS_STDIN ?
		    FCGI_STDIN : FCGI_DATA, c->stream_id,
		    (size_t)(body->len - c->stream_off), 0, &padding);
		if (bconn_room(c, sizeof(hdr) + chunk + padding) == -1) {
			warn("sending a request");
			b->failed = EX_OSERR;
			return -1;
		}
		rec = c->wbuf + c->wlen;
		memcpy(rec, hdr, sizeof(hdr));
		if (request_content_read(body, c->stream_off,
		    rec + FCGI_HEADER_LEN, chunk) == -1) {
			b->failed = EX_IOERR;
			return -1;
		}
		memset(rec + FCGI_HEADER_LEN + chunk, 0, padding);
		c->wlen += FCGI_HEADER_LEN + chunk + padding;
		c->stream_off += (long long)chunk;
		if (chunk == 0) {
			c->stream = c->stream == BS_STDIN &&
			    b->spec.role == FCGI_FILTER ? BS_DATA : BS_NONE;
			c->stream_off = 0;
		}
	}
	return 0;
}

/*
 * Queues what requests may start on c and sends them at once, so that a
 * request costs no wait for writability and the socket's watch changes
 * only when a send falls short.  A body that waits for room keeps the
 * next request waiting too, and the socket watched for writability.
 */
static void
bconn_fill(struct bconn *c)
{
	long long	 now = now_us();

	/* With io_uring, wbuf stays as it is while it is being sent. */
	if (c->state != BC_OPEN || c->sending)
		return;
	do {
		if (c->stream == BS_NONE && bconn_issue(c, now) == -1)
			break;
		if (bconn_stream(c) == -1)
			return;
	} while (c->stream == BS_NONE && c->b->keep);
	if (bconn_flush(c) == -1 || c->b->uring != NULL)
		return;
	if (ev_set(c->b->ev, c->fd, POLLIN | (c->wlen > 0 ||
	    c->stream != BS_NONE ? POLLOUT : 0), bconn_on_io, c) == -1)
		bconn_fail(c, ERR_RESET);
}

/*
 * Reads the status from the start of the answer that s kept.  A header
 * block longer than that is read up to its last whole line, as if it ended
 * there.  0, or -1 when the answer has no valid CGI headers.
 */
static int
slot_status(struct slot *s, struct cgi_response *resp)
{
	const char	*errstr;
	uint8_t		*nl;
	long		 n;

	n = cgi_response_parse((const char *)s->head, s->head_len, resp,
	    &errstr);
	if (n != 0 || s->head_len < HEAD_PEEK)
		return n > 0 ? 0 : -1;
	nl = memrchr(s->head, '\n', s->head_len);
	if (nl == NULL)
		return -1;
	nl[1] = '\n';
	n = cgi_response_parse((const char *)s->head,
	    (size_t)(nl - s->head) + 2, resp, &errstr);
	return n > 0 ? 0 : -1;
}

/* The request in s has its END_REQUEST. */
static void
slot_complete(struct bconn *c, struct slot *s, uint32_t app_status,
    uint8_t protocol_status)
{
	struct bench		*b = c->b;
	struct cgi_response	 resp;
	long long		 now = now_us();

	s->busy = 0;
	c->busy--;
	c->completed++;
	b->last_completion_us = now;
	if (protocol_status == FCGI_CANT_MPX_CONN) {
		if (!b->mpx_warned)
			warnx("%s: the application does not multiplex "
			    "(FCGI_CANT_MPX_CONN): going on with -m 1",
			    b->address);
		b->mpx_warned = 1;
		b->inflight = 1;
		if (s->counted)
			b->issued--;
		return;
	}
	if (!s->counted)
		return;
	if (protocol_status == FCGI_OVERLOADED) {
		count_error(b, s, ERR_OVERLOADED);
		return;
	}
	if (protocol_status != FCGI_REQUEST_COMPLETE) {
		count_error(b, s, ERR_PROTOCOL);
		return;
	}
	if (app_status != 0) {
		count_error(b, s, ERR_APP_STATUS);
		return;
	}
	if (slot_status(s, &resp) == -1) {
		count_error(b, s, ERR_PROTOCOL);
		return;
	}
	seconds_pass(b, now);
	b->res.status[resp.status]++;
	b->done++;
	hdr_record(&b->res.latency, (uint64_t)(now - s->start_us));
	hdr_record(&b->second, (uint64_t)(now - s->start_us));
}

static struct slot *
bconn_slot(struct bconn *c, uint16_t id)
{
	if (id == 0 || id > c->b->inflight || !c->slots[id - 1].busy)
		return NULL;
	return &c->slots[id - 1];
}

/* Every outstanding request of c fails with kind; c closes. */
static void
bconn_fail(struct bconn *c, enum error_kind kind)
{
	int	 i;

	for (i = 0; i < c->b->inflight; i++)
		if (c->slots[i].busy)
			count_error(c->b, &c->slots[i], kind);
	bconn_close(c, BC_IDLE);
}

/*
 * c has received n bytes into rbuf after the rlen it had (0: the end of
 * the stream, -1: an error): its answers go forward, and the next
 * requests out.
 */
static void
bconn_received(struct bconn *c, ssize_t n)
{
	struct fcgi_record	 rec;
	const char		*errstr;
	struct slot		*s;
	uint32_t		 app;
	uint8_t			 proto;
	size_t			 off = 0, take;
	int			 len;

	if (n <= 0) {
		if (c->state == BC_ENDING && c->busy == 0) {
			bconn_close(c, BC_IDLE);
			return;
		}
		/* A record cut short is malformed; else it closed early. */
		bconn_fail(c, n == 0 && c->rlen > 0 ? ERR_PROTOCOL : ERR_RESET);
		return;
	}
	if (measuring(c->b, now_us()))
		c->b->res.bytes_in += (uint64_t)n;
	c->rlen += (size_t)n;
	while (off < c->rlen) {
		len = fcgi_record_parse(c->rbuf + off, c->rlen - off, &rec,
		    &errstr);
		if (len == -1) {
			bconn_fail(c, ERR_PROTOCOL);
			return;
		}
		if (len == 0)
			break;
		off += (size_t)len;
		if (rec.hdr.request_id == 0)
			continue;
		if ((s = bconn_slot(c, rec.hdr.request_id)) == NULL)
			continue;
		switch (rec.hdr.type) {
		case FCGI_STDOUT:
			take = HEAD_PEEK - s->head_len;
			if (take > rec.hdr.content_length)
				take = rec.hdr.content_length;
			memcpy(s->head + s->head_len, rec.content, take);
			s->head_len += take;
			break;
		case FCGI_STDERR:
			break;
		case FCGI_END_REQUEST:
			fcgi_end_request_fields(&rec, &app, &proto);
			slot_complete(c, s, app, proto);
			break;
		default:
			bconn_fail(c, ERR_PROTOCOL);
			return;
		}
	}
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
	if (!c->b->keep && c->busy == 0 && addr_is_unix(&c->b->addr)) {
		bconn_close(c, BC_IDLE);
		bconn_start(c);
		return;
	}
	if (!c->b->keep && c->busy == 0) {
		/* Over TCP, the application closes first, so that TIME_WAIT
		 * and its hold on a port stay on its side. */
		c->state = BC_ENDING;
		c->ending_since = now_us();
		if (c->b->uring == NULL)
			ev_events(c->b->ev, c->fd, POLLIN);
		return;
	}
	bconn_fill(c);
}

static void
bconn_read(struct bconn *c)
{
	ssize_t	 n;

	n = recv(c->fd, c->rbuf + c->rlen, FCGI_MAX_RECORD - c->rlen, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	bconn_received(c, n);
}

/* io_uring: c's send is done; the rest of it, and what follows, go. */
static void
bconn_sent(struct bconn *c, int res)
{
	c->sending = 0;
	if (res < 0) {
		bconn_fail(c, ERR_RESET);
		return;
	}
	c->retry_ms = RETRY_FIRST_MS;	/* it connected */
	if (measuring(c->b, now_us()))
		c->b->res.bytes_out += (uint64_t)res;
	memmove(c->wbuf, c->wbuf + res, c->wlen - (size_t)res);
	c->wlen -= (size_t)res;
	bconn_fill(c);
}

/*
 * The io_uring engine's completions for c.  A connection that is open,
 * or waiting for the application to close it, always has a receive in
 * flight.
 */
static void
bconn_on_uring(void *arg, enum uring_event event, int res)
{
	struct bconn	*c = arg;

	switch (event) {
	case URING_CONNECT_FAILED:
		connect_failed(c);
		bconn_fail(c, ERR_CONNECT);
		return;
	case URING_SENT:
		bconn_sent(c, res);
		break;
	case URING_RECEIVED:
		c->recv_posted = 0;
		bconn_received(c, res < 0 ? -1 : res);
		break;
	}
	if ((c->state == BC_OPEN || c->state == BC_ENDING) &&
	    !c->recv_posted) {
		if (uring_recv(c->b->uring, bconn_index(c), c->rbuf + c->rlen,
		    FCGI_MAX_RECORD - c->rlen) == -1)
			bconn_fail(c, ERR_RESET);
		else
			c->recv_posted = 1;
	}
}

static void
bconn_on_io(void *arg, int fd, int revents)
{
	struct bconn	*c = arg;

	if (c->state == BC_CONNECTING) {
		if (addr_connect_result(fd) == -1) {
			connect_failed(c);
			bconn_close(c, BC_IDLE);
			return;
		}
		c->state = BC_OPEN;
		c->retry_ms = RETRY_FIRST_MS;
		bconn_fill(c);
		return;
	}
	if ((revents & POLLOUT) && c->stream != BS_NONE) {
		bconn_fill(c);
		if (c->state != BC_OPEN || c->b->failed)
			return;
	} else if ((revents & POLLOUT) && c->wlen > 0) {
		if (bconn_flush(c) == -1)
			return;
		if (c->wlen == 0)
			ev_events(c->b->ev, fd, POLLIN);
	}
	if (revents & (POLLIN | POLLHUP | POLLERR))
		bconn_read(c);
}

/* Opens a connection for c, if a request may start. */
static void
bconn_start(struct bconn *c)
{
	struct bench	*b = c->b;
	long long	 now = now_us();
	int		 in_progress;

	if (b->uring != NULL && !uring_slot_free(b->uring, bconn_index(c)))
		return;
	if (!reserve(b, now, &c->reserved_intended, &c->reserved_counted))
		return;
	c->reserved = 1;
	if (b->uring != NULL) {
		/* The request is queued first: it goes with the connect. */
		c->state = BC_OPEN;
		bconn_fill(c);
		return;
	}
	if ((c->fd = addr_connect_start(&b->addr, &in_progress)) == -1) {
		connect_failed(c);
		return;
	}
	if (!in_progress) {
		c->state = BC_OPEN;
		c->retry_ms = RETRY_FIRST_MS;
		bconn_fill(c);
		return;
	}
	c->state = BC_CONNECTING;
	if (ev_set(b->ev, c->fd, POLLOUT, bconn_on_io, c) == -1) {
		connect_failed(c);
		bconn_close(c, BC_IDLE);
	}
}

/*
 * Whether the application has left c's requests unread.  Over a Unix
 * socket the kernel says so (the bytes sent and not yet read); over TCP
 * they are acknowledged unread, so nothing can be told from them.
 */
static int
bconn_unread(const struct bconn *c)
{
	int	 queued, fd = c->fd;

	if (!addr_is_unix(&c->b->addr))
		return 1;
	if (c->b->uring != NULL)
		fd = uring_fd(c->b->uring, bconn_index(c));
	return fd != -1 && ioctl(fd, SIOCOUTQ, &queued) == 0 && queued > 0;
}

/*
 * With -k, php-fpm and libfcgi serve one connection per process: the
 * connections beyond their process count are accepted by the kernel and
 * then never answered.  One that has completed nothing while others
 * complete, its oldest request waiting well past the usual latency and,
 * over a Unix socket, not even read (a slow answer is not a stall), is
 * set aside and its requests go back to the budget for the others.
 * Lowers *due to when the next one may be.
 */
static void
bench_reclaim_stalled(struct bench *b, long long now, long long *due)
{
	struct bconn	*c;
	long long	 oldest, wait, mean;
	int		 i, k, working = 0;

	if (!b->keep)
		return;
	for (i = 0; i < b->nconns; i++)
		if (b->conns[i].completed > 0)
			working++;
	/* None working: the first completion, an event, comes first. */
	if (working == 0)
		return;
	wait = STALL_MS * 1000LL;
	mean = b->res.latency.total > 0 ? (long long)(b->res.latency.sum /
	    b->res.latency.total) : 0;
	if (4 * mean > wait)
		wait = 4 * mean;
	for (i = 0; i < b->nconns; i++) {
		c = &b->conns[i];
		if (c->completed > 0 || c->busy == 0 || c->state != BC_OPEN)
			continue;
		oldest = now;
		for (k = 0; k < b->inflight; k++)
			if (c->slots[k].busy && c->slots[k].start_us < oldest)
				oldest = c->slots[k].start_us;
		if (now - oldest < wait) {
			due_by(due, oldest + wait);
			continue;
		}
		if (!bconn_unread(c)) {
			due_by(due, now + STALL_RECHECK_MS * 1000LL);
			continue;
		}
		for (k = 0; k < b->inflight; k++)
			if (c->slots[k].busy && c->slots[k].counted)
				b->issued--;
		bconn_close(c, BC_STALLED);
		b->res.stalled++;
	}
}

/*
 * What is due by now: time limits, stalls, connections to open again,
 * requests to send.  Returns when the next of those may be due, so that
 * the loop sleeps until then unless an event comes first.
 */
static long long
bench_tick(struct bench *b, long long now)
{
	struct bconn	*c;
	long long	 limit = (long long)(b->timeout_s * 1e6);
	long long	 due = now + 1000000;
	int		 i, k;

	for (i = 0; i < b->nconns; i++) {
		c = &b->conns[i];
		if (c->state == BC_ENDING) {
			if (now - c->ending_since > limit)
				bconn_close(c, BC_IDLE);
			else
				due_by(&due, c->ending_since + limit + 1);
			continue;
		}
		for (k = 0; k < b->inflight; k++) {
			if (!c->slots[k].busy)
				continue;
			if (now - c->slots[k].start_us > limit) {
				bconn_fail(c, ERR_TIMEOUT);
				break;
			}
			due_by(&due, c->slots[k].start_us + limit + 1);
		}
	}
	bench_reclaim_stalled(b, now, &due);
	for (i = 0; i < b->nconns; i++) {
		c = &b->conns[i];
		if (c->state == BC_IDLE && now >= c->retry_at)
			bconn_start(c);
		else if (c->state == BC_OPEN && c->busy < b->inflight)
			bconn_fill(c);
		/* A connect that failed at once waits from now on. */
		if (c->state == BC_IDLE && c->retry_at > now)
			due_by(&due, c->retry_at);
	}
	return due;
}

static int
bench_busy(struct bench *b)
{
	int	 i;

	for (i = 0; i < b->nconns; i++)
		if (b->conns[i].busy > 0 || b->conns[i].reserved)
			return 1;
	return 0;
}

static int
bench_over(struct bench *b, long long now)
{
	long long	 intended;

	if (may_issue(b, now, &intended) || (b->rate > 0 && (b->total == 0 ?
	    now < b->end_us : b->issued < b->total)))
		return 0;
	if (b->total == 0 && now >= b->end_us) {
		/* Answers still coming after -D do not count. */
		return 1;
	}
	return !bench_busy(b);
}

/* A JSON array of strings. */
static void
json_strings(const char *key, char *const *v, size_t n)
{
	size_t	 i;

	printf(",\"%s\":[", key);
	for (i = 0; i < n; i++) {
		if (i > 0)
			putchar(',');
		json_print_string(stdout, v[i]);
	}
	putchar(']');
}

/* A JSON string, or null. */
static void
json_key_string(const char *key, const char *v)
{
	printf(",\"%s\":", key);
	if (v == NULL)
		printf("null");
	else
		json_print_string(stdout, v);
}

/* The engine that runs: io_uring or epoll. */
static const char *
bench_io_name(const struct bench *b)
{
	return b->uring != NULL ? "uring" : "epoll";
}

/* The "settings" object of the JSON report: every option in effect. */
static void
report_json_settings(void *arg)
{
	const struct bench		*b = arg;
	const struct request_spec	*spec = &b->spec;
	size_t				 i;

	printf(",\"settings\":{\"address\":");
	json_print_string(stdout, b->address);
	printf(",\"urls\":[");
	for (i = 0; i < b->nreqs; i++) {
		printf("%s", i ? "," : "");
		json_print_string(stdout, b->reqs[i].url);
	}
	printf("],\"method\":");
	json_print_string(stdout, spec->url.method ? spec->url.method :
	    spec->body ? "POST" : "GET");
	json_strings("headers", spec->headers, spec->url.nheaders);
	json_strings("params", spec->puts, spec->nputs);
	json_strings("unset", spec->unsets, spec->nunsets);
	json_key_string("body", spec->body);
	json_key_string("docroot", spec->url.docroot);
	json_key_string("script_name", spec->url.script_name);
	json_key_string("role", fcgi_role_name(spec->role));
	json_key_string("data", spec->data);
	printf(",\"requests\":%lld,\"duration_s\":%g,\"warmup_s\":%g,"
	    "\"connections\":%d,\"inflight\":%d,\"keepalive\":%s,"
	    "\"rate\":%g,\"timeout_s\":%g,\"io\":\"%s\"}", b->total,
	    b->duration_s, b->warmup_s, b->nconns, b->inflight,
	    b->keep ? "true" : "false", b->rate, b->timeout_s,
	    bench_io_name(b));
}

/* Asks FCGI_MPXS_CONNS; 1 when the application says it multiplexes. */
static int
probe_mpxs(struct bench *b)
{
	struct fcgi_record	 rec;
	struct fcgi_nv		 nv;
	struct pollfd		 pfd;
	uint8_t			 out[64], pairs[32], in[FCGI_MAX_RECORD];
	const char		*errstr;
	size_t			 len, have = 0, off;
	ssize_t			 n;
	long			 k;
	int			 fd, rc = 0, reclen;

	if ((fd = addr_connect(&b->addr, 2000)) == -1)
		return 0;
	len = fcgi_nv_pack(pairs, sizeof(pairs), "FCGI_MPXS_CONNS", 15, "", 0);
	len = fcgi_record_pack(out, sizeof(out), FCGI_GET_VALUES, 0, pairs,
	    len);
	if (send(fd, out, len, MSG_NOSIGNAL) != (ssize_t)len)
		goto done;
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (poll(&pfd, 1, 2000) == 1) {
		if ((n = recv(fd, in + have, sizeof(in) - have, 0)) <= 0)
			break;
		have += (size_t)n;
		reclen = fcgi_record_parse(in, have, &rec, &errstr);
		if (reclen == -1)
			break;
		if (reclen == 0)
			continue;
		if (rec.hdr.type != FCGI_GET_VALUES_RESULT)
			break;
		for (off = 0; off < rec.hdr.content_length; off += (size_t)k) {
			k = fcgi_nv_parse(rec.content + off,
			    rec.hdr.content_length - off, FCGI_MAX_CONTENT, &nv);
			if (k <= 0)
				break;
			if (fcgi_nv_name_is(&nv, "FCGI_MPXS_CONNS") &&
			    nv.value_len == 1 && nv.value[0] == '1')
				rc = 1;
		}
		break;
	}
done:
	close(fd);
	return rc;
}

static void
usage_bench(FILE *f)
{
	fprintf(f, "usage: fcgi-bridge bench [-k] [--json] [-c conns] "
	    "[-D seconds | -n requests]\n"
	    "\t[-m inflight] [-R rate] [-t seconds] [--urls file] "
	    "[--warmup seconds]\n"
	    "\t[--check expr] [--hdr-log file] [--hgrm file] "
	    "[--io auto | epoll | uring]\n"
	    "\t[-d data | -d @file] [-H 'name: value'] [-p name=value] "
	    "[-r docroot]\n"
	    "\t[--role role] [--data @file] [--script-name name] [-u name] "
	    "[-X method]\n"
	    "\taddress [url]\n"
	    "       fcgi-bridge bench --merge [--json] [--check expr] "
	    "[--hgrm file] file ...\n"
	    "--check expr, as often as needed: figure op number[unit], as "
	    "'p99<50ms',\n"
	    "\t'errors==0', 'error_rate<0.1%%', 'rps>=1000', "
	    "'status_5xx==0'; exit 99 if\n"
	    "\tone fails.  Figures: requests errors error_rate "
	    "errors_KIND rps duration\n"
	    "\tbytes_in bytes_out stalled_connections status_NNN "
	    "status_Nxx min mean max\n"
	    "\tpN (p50, p99.9...); ops < <= > >= == !=; units ms s us "
	    "(latency, duration), %%.\n"
	    "--hgrm file: the percentile spectrum as HdrHistogram prints "
	    "it (wrk2's).\n"
	    "--hdr-log file: an HdrHistogram interval log, one histogram "
	    "a second.\n"
	    "--merge: the union of bench --json reports, exact.\n"
	    "--io: the engine, io_uring or epoll; auto (the default) takes "
	    "io_uring\n"
	    "\twhere the kernel allows it, else epoll.\n");
}

enum bench_longopt {
	OPT_JSON = 256,
	OPT_URLS,
	OPT_WARMUP,
	OPT_CHECK,
	OPT_HGRM,
	OPT_HDR_LOG,
	OPT_MERGE,
	OPT_IO
};

int
bench_urls_parse(const char *buf, size_t len, char ***urls, size_t *n)
{
	const char	*nl, *line;
	char		**grown;
	size_t		 off, next, llen;

	for (off = 0; off < len; off = next) {
		line = buf + off;
		nl = memchr(line, '\n', len - off);
		llen = nl == NULL ? len - off : (size_t)(nl - line);
		next = off + llen + 1;
		/*
		 * A NUL ends the line's text, as it ends the string that is
		 * the URL: it is cut there first, so that what is left is
		 * trimmed and skipped like any line, never an empty URL.
		 */
		llen = strnlen(line, llen);
		while (llen > 0 && (line[llen - 1] == '\r' ||
		    line[llen - 1] == ' '))
			llen--;
		if (llen == 0 || line[0] == '#')
			continue;
		if ((grown = reallocarray(*urls, *n + 1, sizeof(char *))) ==
		    NULL)
			return -1;
		*urls = grown;
		if ((grown[*n] = strndup(line, llen)) == NULL)
			return -1;
		(*n)++;
	}
	return 0;
}

/* Reads --urls FILE whole and takes its URLs (bench_urls_parse). */
static int
read_urls(const char *path, char ***urls, size_t *n)
{
	FILE	*f;
	char	*text = NULL, *grown;
	size_t	 len = 0, cap = 0, got;
	int	 rc = 0;

	if ((f = fopen(path, "re")) == NULL) {
		warn("%s", path);
		return EX_NOINPUT;
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((grown = realloc(text, cap)) == NULL) {
				warn("%s", path);
				rc = EX_OSERR;
				goto done;
			}
			text = grown;
		}
		got = fread(text + len, 1, cap - len, f);
		len += got;
	} while (got > 0);
	if (ferror(f)) {
		warn("%s", path);
		rc = EX_NOINPUT;
	} else if (bench_urls_parse(text, len, urls, n) == -1) {
		warn("%s", path);
		rc = EX_OSERR;
	} else if (*n == 0) {
		warnx("%s: no URL in it", path);
		rc = EX_DATAERR;
	}
done:
	free(text);
	fclose(f);
	return rc;
}

/*
 * bench's operands, address [url], and what the options mean together.
 * 0, or -1 after saying why.
 */
static int
bench_operands(int argc, char **argv, struct bench *b)
{
	if (b->merge && b->run_options) {
		warnx("--merge takes only --check, --hgrm and --json");
		return -1;
	}
	if (b->merge && argc < 1) {
		usage_bench(stderr);
		return -1;
	}
	if (b->merge) {
		b->files = argv;
		b->nfiles = argc;
		return 0;
	}
	if (argc < 1 || argc > 2 || (b->urls_file != NULL && argc == 2)) {
		usage_bench(stderr);
		return -1;
	}
	if (b->total > 0 && b->duration_s > 0) {
		warnx("-n and -D: give one of them");
		return -1;
	}
	if (b->total == 0 && b->duration_s == 0)
		b->duration_s = 10;
	if (b->inflight > 1)
		b->keep = 1;	/* several ids on one connection need it */
	b->address = argv[0];
	b->url = argc == 2 ? argv[1] : "/";
	return 0;
}

/* A bench with its defaults, or NULL (said). */
static struct bench *
bench_new(int argc)
{
	struct bench	*b;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		warn("calloc");
		return NULL;
	}
	if (request_spec_init(&b->spec, argc) == -1) {
		free(b);
		return NULL;
	}
	b->nconns = 1;
	b->inflight = 1;
	b->timeout_s = 30;
	return b;
}

/*
 * Takes bench's command line into b.  Returns 0 when the command is to
 * run, else -1 with *rc the exit status (0 after --help).
 */
static int
bench_options(int argc, char **argv, struct bench *b, int *rc)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "urls", required_argument, NULL, OPT_URLS },
		{ "warmup", required_argument, NULL, OPT_WARMUP },
		{ "check", required_argument, NULL, OPT_CHECK },
		{ "hgrm", required_argument, NULL, OPT_HGRM },
		{ "hdr-log", required_argument, NULL, OPT_HDR_LOG },
		{ "merge", no_argument, NULL, OPT_MERGE },
		{ "io", required_argument, NULL, OPT_IO },
		REQUEST_SPEC_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct check	*checks;
	long long	 v;
	int		 ch;

	*rc = EX_USAGE;
	while ((ch = getopt_long(argc, argv, "c:D:hkm:n:R:t:"
	    REQUEST_SPEC_OPTSTRING, longopts, NULL)) != -1) {
		if (ch != OPT_JSON && ch != OPT_CHECK && ch != OPT_HGRM &&
		    ch != OPT_MERGE && ch != 'h')
			b->run_options = 1;
		switch (request_spec_option(&b->spec, ch, optarg)) {
		case 1:
			continue;
		case -1:
			return -1;
		default:
			break;
		}
		switch (ch) {
		case 'c':
			if (opt_count("-c", optarg, 10000, &v) == -1)
				return -1;
			b->nconns = (int)v;
			break;
		case 'D':
			if (opt_number("-D", optarg, 0, 86400,
			    &b->duration_s) == -1)
				return -1;
			break;
		case 'h':
			usage_bench(stdout);
			*rc = 0;
			return -1;
		case 'k':
			b->keep = 1;
			break;
		case 'm':
			if (opt_count("-m", optarg, 1000, &v) == -1)
				return -1;
			b->inflight = (int)v;
			break;
		case 'n':
			if (opt_count("-n", optarg, LLONG_MAX / 2, &v) == -1)
				return -1;
			b->total = v;
			break;
		case 'R':
			if (opt_number("-R", optarg, 0, 1e7, &b->rate) == -1)
				return -1;
			break;
		case 't':
			if (opt_number("-t", optarg, 0, 86400,
			    &b->timeout_s) == -1)
				return -1;
			break;
		case OPT_JSON:
			b->json = 1;
			break;
		case OPT_URLS:
			b->urls_file = optarg;
			break;
		case OPT_WARMUP:
			if (opt_number("--warmup", optarg, 0, 86400,
			    &b->warmup_s) == -1)
				return -1;
			break;
		case OPT_CHECK:
			if ((checks = reallocarray(b->checks, b->nchecks + 1,
			    sizeof(*checks))) == NULL) {
				warn("--check");
				*rc = EX_OSERR;
				return -1;
			}
			b->checks = checks;
			if (check_parse(optarg, &b->checks[b->nchecks]) == -1)
				return -1;
			b->nchecks++;
			break;
		case OPT_HGRM:
			b->hgrm_path = optarg;
			break;
		case OPT_HDR_LOG:
			b->log_path = optarg;
			break;
		case OPT_MERGE:
			b->merge = 1;
			break;
		case OPT_IO:
			if (strcmp(optarg, "auto") == 0)
				b->io = IO_AUTO;
			else if (strcmp(optarg, "epoll") == 0)
				b->io = IO_EPOLL;
			else if (strcmp(optarg, "uring") == 0)
				b->io = IO_URING;
			else {
				warnx("--io: auto, epoll or uring, not %s",
				    optarg);
				return -1;
			}
			break;
		default:
			usage_bench(stderr);
			return -1;
		}
	}
	return bench_operands(argc - optind, argv + optind, b);
}

/* The URLs to ask for: those of --urls FILE, or the one operand. */
static int
bench_urls(struct bench *b)
{
	if (b->urls_file != NULL)
		return read_urls(b->urls_file, &b->urls, &b->nurls);
	if ((b->urls = calloc(1, sizeof(char *))) == NULL ||
	    (b->urls[0] = strdup(b->url)) == NULL)
		return EX_OSERR;
	b->nurls = 1;
	return 0;
}

/*
 * The engine that --io asks for: io_uring where this kernel gives it
 * (auto falls back to epoll where it does not, and says nothing: a
 * container's seccomp filter, kernel.io_uring_disabled, Linux < 5.19),
 * else epoll.  0, or an exit status (said).
 */
static int
bench_engine(struct bench *b)
{
	const struct sockaddr	*sa = (const struct sockaddr *)&b->addr.ss[0];
	int			 i;

	if (b->io != IO_EPOLL &&
	    (b->uring = uring_new((unsigned)b->nconns, sa,
	    b->addr.sslen[0])) == NULL && b->io == IO_URING) {
		warn("--io uring: io_uring");
		return EX_UNAVAILABLE;
	}
	if (b->uring != NULL) {
		for (i = 0; i < b->nconns; i++)
			uring_slot_init(b->uring, (unsigned)i, bconn_on_uring,
			    &b->conns[i]);
		return 0;
	}
	if ((b->ev = ev_new()) == NULL) {
		warn("epoll");
		return EX_OSERR;
	}
	return 0;
}

/* The connections, none of them open yet; 0, or an exit status. */
static int
bench_connections(struct bench *b)
{
	struct bconn	*c;
	int		 i, k;

	if ((b->conns = calloc(b->nconns, sizeof(*b->conns))) == NULL)
		return EX_OSERR;
	/* All of them closed first, so that bench_free may meet any. */
	for (i = 0; i < b->nconns; i++) {
		b->conns[i].b = b;
		b->conns[i].fd = -1;
		b->conns[i].retry_ms = RETRY_FIRST_MS;
	}
	for (i = 0; i < b->nconns; i++) {
		c = &b->conns[i];
		if ((c->slots = calloc(b->inflight, sizeof(*c->slots))) ==
		    NULL || (c->rbuf = malloc(FCGI_MAX_RECORD)) == NULL)
			return EX_OSERR;
		for (k = 0; k < b->inflight; k++)
			c->slots[k].id = (uint16_t)(k + 1);
	}
	return bench_engine(b);
}

/* Creates the file of --hgrm or --hdr-log; 0, or EX_CANTCREAT (said). */
static int
open_output(const char *path, FILE **f)
{
	if ((*f = fopen(path, "we")) == NULL) {
		warn("%s", path);
		return EX_CANTCREAT;
	}
	return 0;
}

/*
 * What the run needs: the address, the files of the request options and
 * of the output, the requests encoded, the connections.  Returns 0, or an
 * exit status.
 */
static int
bench_prepare(struct bench *b)
{
	char	 err[600];
	size_t	 i;
	int	 rc;

	if (addr_parse(b->address, &b->addr, err, sizeof(err)) == -1) {
		warnx("%s", err);
		return EX_USAGE;
	}
	if ((rc = request_spec_open(&b->spec)) != 0 ||
	    (rc = bench_urls(b)) != 0)
		return rc;
	if ((b->hgrm_path != NULL &&
	    (rc = open_output(b->hgrm_path, &b->hgrm)) != 0) ||
	    (b->log_path != NULL &&
	    (rc = open_output(b->log_path, &b->log)) != 0))
		return rc;
	if ((b->reqs = calloc(b->nurls, sizeof(*b->reqs))) == NULL)
		return EX_OSERR;
	for (i = 0; i < b->nurls; i++)
		if ((rc = request_encode(&b->spec, b->urls[i], b->keep,
		    &b->reqs[b->nreqs++])) != 0)
			return rc;
	if (b->inflight > 1 && !probe_mpxs(b)) {
		warnx("%s: the application does not say FCGI_MPXS_CONNS=1: "
		    "going on with -m 1", b->address);
		b->inflight = 1;
		b->mpx_warned = 1;
	}
	return bench_connections(b);
}

/*
 * The head of the interval log of --hdr-log, as HdrHistogram's
 * HistogramLogWriter writes it: its timestamps are from the start of the
 * measurement, the base time.  0, or EX_IOERR (said).
 */
static int
log_head(struct bench *b)
{
	struct tm	 tm;
	time_t		 t = (time_t)b->res.start_time;
	char		 date[64];

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a %b %d %H:%M:%S %Z %Y", &tm) == 0)
		date[0] = '\0';
	if (fprintf(b->log, "#[Histogram log format version 1.2]\n"
	    "#[StartTime: %.3f (seconds since epoch), %s]\n"
	    "#[BaseTime: %.3f (seconds since epoch)]\n"
	    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
	    "\"Interval_Compressed_Histogram\"\n", b->res.start_time, date,
	    b->res.start_time) < 0 || fflush(b->log) == EOF) {
		warn("%s", b->log_path);
		return EX_IOERR;
	}
	return 0;
}

/*
 * How long the loop may sleep, in ms, when nothing happens: until what
 * bench_tick said is due, the end of the second under way or of -D, or
 * the next send of -R.  At least 1 ms (what is due at once but cannot
 * be done, such as a request of -R with no connection free, waits for an
 * event), at most 1 s.
 */
static int
bench_wait_ms(struct bench *b, long long now, long long due)
{
	if (b->total > 0 || b->second_us + 1000000 < b->end_us)
		due_by(&due, b->second_us + 1000000);
	if (b->total == 0)
		due_by(&due, b->end_us);
	if (b->rate > 0)
		due_by(&due, b->start_us + (long long)((double)b->rate_sent *
		    1e6 / b->rate));
	if (due <= now + 1000)
		return 1;
	return (int)((due - now + 999) / 1000);
}

/*
 * Runs the requests until -n or -D is spent and the answers are in.
 * Returns 0, or an exit status (said).
 */
static int
bench_loop(struct bench *b)
{
	struct timespec	 ts;
	long long	 now, due;
	int		 rc, wait_ms;

	b->progress = isatty(STDERR_FILENO);
	clock_gettime(CLOCK_REALTIME, &ts);
	b->start_us = now_us();
	b->t0_us = b->start_us + (long long)(b->warmup_s * 1e6);
	b->end_us = b->t0_us + (long long)(b->duration_s * 1e6);
	b->last_completion_us = b->start_us;
	b->second_us = b->t0_us;
	b->res.start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 +
	    b->warmup_s;
	if (b->log != NULL && (rc = log_head(b)) != 0)
		return rc;
	for (;;) {
		now = now_us();
		seconds_pass(b, now);
		due = bench_tick(b, now);
		if (bench_over(b, now))
			return 0;
		wait_ms = bench_wait_ms(b, now, due);
		if ((b->uring != NULL ? uring_run_once(b->uring, wait_ms) :
		    ev_run_once(b->ev, wait_ms)) == -1) {
			warn("%s", b->uring != NULL ? "io_uring_enter" :
			    "epoll_wait");
			return EX_OSERR;
		}
		if (b->failed)
			return b->failed;
	}
}

/* Reports the run; returns the exit status it stands for. */
static int
bench_status(struct bench *b)
{
	long long	 end = b->total == 0 ? b->end_us : now_us();
	int		 k, rc;

	for (k = 0; k < b->nconns && b->keep; k++)
		if (b->conns[k].completed == 0 && b->conns[k].busy > 0 &&
		    b->conns[k].state == BC_OPEN &&
		    bconn_unread(&b->conns[k]))
			b->res.stalled++;
	if (end > b->second_us || b->second.total > 0 ||
	    b->second_errors > 0) {
		if ((rc = second_close(b, end)) != 0)
			return rc;
	}
	if (b->progress)
		fputc('\n', stderr);
	if (b->res.stalled > 0)
		warnx("warning: %llu of %d connections completed no request: "
		    "the application accepted them but never answered (with "
		    "-k, php-fpm and libfcgi serve one connection per "
		    "process); their requests went to the others",
		    (unsigned long long)b->res.stalled, b->nconns);
	b->res.duration_s = (double)(end - b->t0_us) / 1e6;
	if (b->json) {
		if ((rc = report_json(&b->res, b->checks, b->nchecks,
		    report_json_settings, b)) != 0)
			return rc;
	} else {
		report_text(&b->res, b->checks, b->nchecks);
		printf("io: %s\n", bench_io_name(b));
	}
	if (b->hgrm != NULL &&
	    (rc = report_hgrm(&b->res, b->hgrm, b->hgrm_path)) != 0)
		return rc;
	if (b->done == 0)
		warnx("%s: no request completed", b->address);
	return report_status(&b->res, b->checks, b->nchecks);
}

/* The runs of a merged report, in its JSON. */
static void
report_json_runs(void *arg)
{
	const struct merged_runs	*runs = arg;
	size_t				 i;

	printf(",\"runs\":[");
	for (i = 0; i < runs->nruns; i++) {
		if (i > 0)
			putchar(',');
		fwrite(runs->settings[i], 1, runs->settings_len[i], stdout);
	}
	putchar(']');
}

/* --merge: reports the union of the reports; returns its exit status. */
static int
bench_merge(struct bench *b)
{
	struct merged_runs	 runs;
	int			 rc;

	if (b->hgrm_path != NULL &&
	    (rc = open_output(b->hgrm_path, &b->hgrm)) != 0)
		return rc;
	if ((rc = merge_reports(b->files, b->nfiles, &b->res, &runs)) != 0)
		goto done;
	if (b->json) {
		if ((rc = report_json(&b->res, b->checks, b->nchecks,
		    report_json_runs, &runs)) != 0)
			goto done;
	} else
		report_text(&b->res, b->checks, b->nchecks);
	if (b->hgrm != NULL &&
	    (rc = report_hgrm(&b->res, b->hgrm, b->hgrm_path)) != 0)
		goto done;
	if (results_requests(&b->res) == 0 && results_errors(&b->res) == 0)
		warnx("no request completed in the runs merged");
	rc = report_status(&b->res, b->checks, b->nchecks);
done:
	merged_runs_free(&runs);
	return rc;
}

static void
bench_free(struct bench *b)
{
	size_t	 i;
	int	 k;

	for (k = 0; b->conns != NULL && k < b->nconns; k++)
		bconn_close(&b->conns[k], BC_IDLE);
	/* Before the buffers that the kernel may still be writing into. */
	uring_free(b->uring);
	for (k = 0; b->conns != NULL && k < b->nconns; k++) {
		free(b->conns[k].slots);
		free(b->conns[k].rbuf);
		free(b->conns[k].wbuf);
	}
	free(b->conns);
	for (i = 0; i < b->nreqs; i++) {
		free(b->reqs[i].bytes);
		free(b->reqs[i].id_at);
	}
	free(b->reqs);
	for (i = 0; i < b->nurls; i++)
		free(b->urls[i]);
	free(b->urls);
	ev_free(b->ev);
	request_spec_free(&b->spec);
	results_free(&b->res);
	free(b->checks);
	if (b->hgrm != NULL)
		fclose(b->hgrm);
	if (b->log != NULL)
		fclose(b->log);
	free(b);
}

int
cmd_bench(int argc, char **argv)
{
	struct bench	*b;
	int		 rc;

	if ((b = bench_new(argc)) == NULL)
		return EX_OSERR;
	if (bench_options(argc, argv, b, &rc) == 0) {
		if (b->merge)
			rc = bench_merge(b);
		else if ((rc = bench_prepare(b)) == 0 &&
		    (rc = bench_loop(b)) == 0)
			rc = bench_status(b);
	}
	bench_free(b);
	return rc;
}
