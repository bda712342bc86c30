/*
 * The client side: connect (CGI -> FastCGI; connect_run serves cgi-fcgi's
 * -bind form too), request (a request built from a URL) and values
 * (FCGI_GET_VALUES).  One request per connection, with id 1; the request is
 * sent while the answer is read, so an application that answers before it
 * has read the whole body never deadlocks us.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "addr.h"
#include "cgi.h"
#include "client.h"
#include "fcgi.h"
#include "reqspec.h"
#include "util.h"

#define REQUEST_ID	1
#define RECORD_ROOM	(FCGI_HEADER_LEN + FCGI_MAX_PADDED_CONTENT + 8)
#define EXIT_FAIL_STATUS 22	/* --fail, as curl */

extern char **environ;

/*
 * Where a request stream (STDIN or DATA) takes its bytes from: what -d or
 * --data gave, or connect's standard input.
 */
struct body_source {
	const struct request_content *content;
	int		 fd;		/* -1: none, or from content */
	long long	 left;		/* -1: until EOF */
	long long	 sent;
	int		 until_eof;
	int		 must_poll;	/* a pipe, socket or terminal */
};

enum send_phase {
	SEND_PARAMS,
	SEND_STDIN,
	SEND_DATA,
	SEND_DONE
};

struct exchange;
/* Takes STDOUT content; returns 0, or an exit status to stop with. */
typedef int stdout_sink(struct exchange *, const uint8_t *, size_t);

/*
 * One request on one connection.  The buffers are sized for the largest
 * record either way, so a record never has to be held in pieces.
 */
struct exchange {
	const char		*addr;
	int			 sock;
	long long		 deadline_ms;	/* 0: none */
	double			 timeout_s;
	int			 trace;
	uint16_t		 role;

	enum send_phase		 phase;
	const uint8_t		*params;
	size_t			 params_len;
	size_t			 params_off;
	size_t			 params_traced;	/* next pair the trace shows */
	struct body_source	 in;
	struct body_source	 data;
	int			 send_closed;	/* the peer stopped reading */
	int			 send_errno;
	/* Records queued to send: room for two of the largest, so that
	 * small ones go out together in one write. */
	uint8_t			 out[2 * RECORD_ROOM];
	size_t			 out_len;
	size_t			 out_off;

	uint8_t			 rbuf[FCGI_MAX_RECORD];
	size_t			 rlen;

	stdout_sink		*on_stdout;
	void			*sink_arg;
	/* Takes records with id 0; returns 0, or an exit status. */
	int			(*on_management)(struct exchange *,
				    const struct fcgi_record *);
	const char		*awaiting;	/* what ends the exchange */
	int			 ended;
	uint32_t		 app_status;
	uint8_t			 protocol_status;
};

/*
 * Whether the application's STDERR, copied to our stderr as it comes, left
 * a line open: the next trace line then starts a line of its own.
 */
static int	trace_midline;

/* Prints bytes from the wire readably: printable ASCII as is, the rest \xNN. */
static void
trace_bytes(const uint8_t *p, size_t len, size_t limit)
{
	size_t	 i;

	for (i = 0; i < len && i < limit; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			fputc(p[i], stderr);
		else
			fprintf(stderr, "\\x%02x", p[i]);
	}
	if (len > limit)
		fprintf(stderr, "... (%zu bytes)", len);
}

static void
trace_pair(const char *dir, const struct fcgi_nv *nv)
{
	fprintf(stderr, "%s   ", dir);
	trace_bytes(nv->name, nv->name_len, 256);
	fputc('=', stderr);
	trace_bytes(nv->value, nv->value_len, 256);
	fputc('\n', stderr);
}

/* One line for a record, then its name-value pairs if it has any. */
static void
trace_record(const char *dir, const struct fcgi_record *r)
{
	struct fcgi_record	 rec = *r;
	const uint8_t		*content = rec.content;
	struct fcgi_nv		 nv;
	const char		*name;
	uint32_t		 app;
	uint16_t		 role;
	uint8_t			 flags, proto;
	size_t			 off;
	long			 n;

	if (trace_midline) {
		fputc('\n', stderr);
		trace_midline = 0;
	}
	if ((name = fcgi_type_name(rec.hdr.type)) != NULL)
		fprintf(stderr, "%s %s", dir, name);
	else
		fprintf(stderr, "%s TYPE%u", dir, rec.hdr.type);
	fprintf(stderr, " id=%u length=%u padding=%u", rec.hdr.request_id,
	    rec.hdr.content_length, rec.hdr.padding_length);
	switch (rec.hdr.type) {
	case FCGI_BEGIN_REQUEST:
		fcgi_begin_request_fields(&rec, &role, &flags);
		name = fcgi_role_name(role);
		if (name != NULL)
			fprintf(stderr, " role=%s", name);
		else
			fprintf(stderr, " role=%u", role);
		fprintf(stderr, " flags=%u\n", flags);
		return;
	case FCGI_END_REQUEST:
		fcgi_end_request_fields(&rec, &app, &proto);
		name = fcgi_protocol_status_name(proto);
		fprintf(stderr, " appStatus=%u protocolStatus=", app);
		if (name != NULL)
			fprintf(stderr, "%s\n", name);
		else
			fprintf(stderr, "%u\n", proto);
		return;
	case FCGI_UNKNOWN_TYPE:
		fprintf(stderr, " type=%u\n", content[0]);
		return;
	case FCGI_GET_VALUES:
	case FCGI_GET_VALUES_RESULT:
		fputc('\n', stderr);
		for (off = 0; off < rec.hdr.content_length; off += (size_t)n) {
			n = fcgi_nv_parse(content + off,
			    rec.hdr.content_length - off, FCGI_MAX_CONTENT, &nv);
			if (n <= 0)
				break;
			trace_pair(dir, &nv);
		}
		return;
	default:
		fputc('\n', stderr);
	}
}

/* Traces a record we packed, len bytes at p. */
static void
trace_sent(const uint8_t *p, size_t len)
{
	struct fcgi_record	 rec;
	const char		*errstr;

	if (fcgi_record_parse(p, len, &rec, &errstr) > 0)
		trace_record(">", &rec);
}

/* Shows the PARAMS pairs that start before byte end of the stream. */
static void
trace_params(struct exchange *x, size_t end)
{
	struct fcgi_nv	 nv;
	long		 n;

	while (x->params_traced < end) {
		n = fcgi_nv_parse(x->params + x->params_traced,
		    x->params_len - x->params_traced, FCGI_MAX_NV_LEN, &nv);
		if (n <= 0)
			break;
		trace_pair(">", &nv);
		x->params_traced += (size_t)n;
	}
}

/* Where the next record goes: after what is queued. */
static uint8_t *
out_tail(struct exchange *x)
{
	return x->out + x->out_len;
}

/* Queues one stream record whose content is already at out_tail + 8. */
static void
queue_stream_record(struct exchange *x, uint8_t type, size_t len)
{
	uint8_t	*rec = out_tail(x), padding;

	fcgi_stream_header(rec, type, REQUEST_ID, len, 0, &padding);
	memset(rec + FCGI_HEADER_LEN + len, 0, padding);
	x->out_len += FCGI_HEADER_LEN + len + padding;
	if (x->trace) {
		trace_sent(rec, FCGI_HEADER_LEN + len + padding);
		if (type == FCGI_PARAMS)
			trace_params(x, x->params_off);
	}
}

static void
queue_next_params(struct exchange *x)
{
	size_t	 chunk;

	chunk = fcgi_pairs_chunk(x->params, x->params_len, x->params_off,
	    FCGI_MAX_PADDED_CONTENT);
	memcpy(out_tail(x) + FCGI_HEADER_LEN, x->params + x->params_off,
	    chunk);
	x->params_off += chunk;
	queue_stream_record(x, FCGI_PARAMS, chunk);
	if (chunk == 0) {
		x->phase = SEND_STDIN;
		/* An authorizer is sent no STDIN stream at all. */
		if (x->role == FCGI_AUTHORIZER)
			x->phase = SEND_DONE;
	}
}

static struct body_source *
current_source(struct exchange *x)
{
	return x->phase == SEND_STDIN ? &x->in : &x->data;
}

static void
end_stream(struct exchange *x)
{
	uint8_t	 type = x->phase == SEND_STDIN ? FCGI_STDIN : FCGI_DATA;

	queue_stream_record(x, type, 0);
	if (x->phase == SEND_STDIN && x->role == FCGI_FILTER)
		x->phase = SEND_DATA;
	else
		x->phase = SEND_DONE;
}

/*
 * Reads the next piece of the current body stream into a record.  Returns
 * 0, or an exit status.
 */
static int
queue_next_body(struct exchange *x)
{
	struct body_source	*src = current_source(x);
	size_t			 want = FCGI_MAX_PADDED_CONTENT;
	ssize_t			 n;

	if (src->left >= 0 && (long long)want > src->left)
		want = (size_t)src->left;
	if (want == 0 || (src->fd == -1 && src->content == NULL)) {
		end_stream(x);
		return 0;
	}
	if (src->content != NULL) {
		if (request_content_read(src->content, src->sent,
		    out_tail(x) + FCGI_HEADER_LEN, want) == -1)
			return EX_IOERR;
		n = (ssize_t)want;
	} else if ((n = read(src->fd, out_tail(x) + FCGI_HEADER_LEN,
	    want)) == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		warn("reading the request body");
		return EX_IOERR;
	}
	if (n == 0) {
		if (!src->until_eof) {
			warnx("the request body ended after %lld of %lld "
			    "bytes", src->sent, src->sent + src->left);
			return EX_IOERR;
		}
		end_stream(x);
		return 0;
	}
	src->sent += n;
	if (src->left > 0)
		src->left -= n;
	queue_stream_record(x, x->phase == SEND_STDIN ? FCGI_STDIN : FCGI_DATA,
	    (size_t)n);
	return 0;
}

static int
protocol_error(struct exchange *x, const char *what)
{
	warnx("%s: %s", x->addr, what);
	return EX_PROTOCOL;
}

/* Acts on one record from the application; 0, or an exit status. */
static int
handle_record(struct exchange *x, const struct fcgi_record *rec)
{
	char	 msg[128];
	int	 rc;

	if (x->trace)
		trace_record("<", rec);
	if (rec->hdr.request_id == 0 && x->on_management != NULL)
		return x->on_management(x, rec);
	if (rec->hdr.request_id == 0)
		return 0;	/* a management record we did not ask for */
	if (rec->hdr.request_id != REQUEST_ID) {
		/* Ours is the one request on the connection: an answer to
		 * another is the application's confusion, as nginx holds. */
		snprintf(msg, sizeof(msg), "%s record for request id %u, not "
		    "ours (%u)", fcgi_type_name(rec->hdr.type) ?
		    fcgi_type_name(rec->hdr.type) : "a", rec->hdr.request_id,
		    REQUEST_ID);
		return protocol_error(x, msg);
	}
	switch (rec->hdr.type) {
	case FCGI_STDOUT:
		if (rec->hdr.content_length > 0 && x->on_stdout != NULL &&
		    (rc = x->on_stdout(x, rec->content,
		    rec->hdr.content_length)) != 0)
			return rc;
		return 0;
	case FCGI_STDERR:
		if (write_all(STDERR_FILENO, rec->content,
		    rec->hdr.content_length) == -1)
			return EX_IOERR;
		if (x->trace && rec->hdr.content_length > 0)
			trace_midline = rec->content[rec->hdr.content_length -
			    1] != '\n';
		return 0;
	case FCGI_END_REQUEST:
		fcgi_end_request_fields(rec, &x->app_status,
		    &x->protocol_status);
		x->ended = 1;
		return 0;
	default:
		snprintf(msg, sizeof(msg), "unexpected %s record from the "
		    "application", fcgi_type_name(rec->hdr.type) ?
		    fcgi_type_name(rec->hdr.type) : "unknown type");
		return protocol_error(x, msg);
	}
}

/* Reads what the socket has and acts on every whole record. */
static int
receive(struct exchange *x, int *eof)
{
	struct fcgi_record	 rec;
	const char		*errstr;
	char			 msg[160];
	size_t			 off = 0;
	ssize_t			 n;
	int			 len, rc;

	n = recv(x->sock, x->rbuf + x->rlen, sizeof(x->rbuf) - x->rlen, 0);
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		if (errno != ECONNRESET) {
			warn("%s: receiving", x->addr);
			return EX_PROTOCOL;
		}
		n = 0;
	}
	if (n == 0)
		*eof = 1;
	x->rlen += (size_t)n;
	while (!x->ended && off < x->rlen) {
		len = fcgi_record_parse(x->rbuf + off, x->rlen - off, &rec,
		    &errstr);
		if (len == -1) {
			snprintf(msg, sizeof(msg), "malformed record: %s",
			    errstr);
			return protocol_error(x, msg);
		}
		if (len == 0)
			break;
		if ((rc = handle_record(x, &rec)) != 0)
			return rc;
		off += (size_t)len;
	}
	memmove(x->rbuf, x->rbuf + off, x->rlen - off);
	x->rlen -= off;
	if (*eof && !x->ended) {
		if (x->rlen > 0) {
			snprintf(msg, sizeof(msg), "truncated record: the "
			    "connection closed %zu bytes into a record",
			    x->rlen);
			return protocol_error(x, msg);
		}
		if (x->send_closed)
			snprintf(msg, sizeof(msg), "connection closed before "
			    "%s (sending the request: %s)", x->awaiting,
			    strerror(x->send_errno));
		else
			snprintf(msg, sizeof(msg), "connection closed before "
			    "%s", x->awaiting);
		return protocol_error(x, msg);
	}
	return 0;
}

static int
send_pending(struct exchange *x)
{
	ssize_t	 n;

	n = send(x->sock, x->out + x->out_off, x->out_len - x->out_off,
	    MSG_NOSIGNAL);
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		/*
		 * The application stopped reading; what it already answered
		 * may still arrive, so go on receiving.
		 */
		x->send_closed = 1;
		x->send_errno = errno;
		x->phase = SEND_DONE;
		x->out_off = x->out_len = 0;
		return 0;
	}
	x->out_off += (size_t)n;
	if (x->out_off == x->out_len)
		x->out_off = x->out_len = 0;
	else if (x->out_off >= RECORD_ROOM) {
		memmove(x->out, x->out + x->out_off, x->out_len - x->out_off);
		x->out_len -= x->out_off;
		x->out_off = 0;
	}
	return 0;
}

/*
 * Queues every record that needs no waiting for input, while the send
 * buffer has room for the largest.  Returns 0, or an exit status.
 */
static int
queue_ready(struct exchange *x)
{
	struct body_source	*src;
	int			 rc;

	while (x->phase != SEND_DONE &&
	    sizeof(x->out) - x->out_len >= RECORD_ROOM) {
		if (x->phase == SEND_PARAMS) {
			queue_next_params(x);
			continue;
		}
		src = current_source(x);
		if (src->fd != -1 && src->left != 0 && src->must_poll)
			break;
		if ((rc = queue_next_body(x)) != 0)
			return rc;
	}
	return 0;
}

/* Whether the body stream now waits for its input to be readable. */
static int
wants_input(struct exchange *x)
{
	struct body_source	*src;

	if (x->phase == SEND_DONE || x->phase == SEND_PARAMS ||
	    sizeof(x->out) - x->out_len < RECORD_ROOM)
		return 0;
	src = current_source(x);
	return src->fd != -1 && src->left != 0 && src->must_poll;
}

/*
 * Runs the exchange until END_REQUEST, an error or the deadline.  Returns 0
 * when END_REQUEST arrived, else an exit status (the message said).
 */
static int
exchange_run(struct exchange *x)
{
	struct pollfd	 pfd[2];
	int		 rc, eof = 0, wait, nfds;

	while (!x->ended) {
		if ((rc = queue_ready(x)) != 0)
			return rc;
		/* A socket usually takes what is queued without a wait. */
		if (x->out_len > x->out_off) {
			if ((rc = send_pending(x)) != 0)
				return rc;
			if (x->out_len == 0 && x->phase != SEND_DONE &&
			    !wants_input(x))
				continue;
		}
		pfd[0].fd = x->sock;
		pfd[0].events = POLLIN | (x->out_len > x->out_off ? POLLOUT : 0);
		pfd[0].revents = 0;
		nfds = 1;
		if (wants_input(x)) {
			pfd[1].fd = current_source(x)->fd;
			pfd[1].events = POLLIN;
			pfd[1].revents = 0;
			nfds = 2;
		}
		wait = -1;
		if (x->deadline_ms != 0) {
			long long left = x->deadline_ms - now_ms();

			if (left <= 0) {
				warnx("%s: no %s within %g s", x->addr,
				    x->awaiting, x->timeout_s);
				return EX_TEMPFAIL;
			}
			wait = left > INT_MAX ? INT_MAX : (int)left;
		}
		if (poll(pfd, nfds, wait) == -1) {
			if (errno == EINTR)
				continue;
			warn("poll");
			return EX_OSERR;
		}
		if (nfds == 2 && pfd[1].revents != 0 &&
		    (rc = queue_next_body(x)) != 0)
			return rc;
		if ((pfd[0].revents & POLLOUT) && (rc = send_pending(x)) != 0)
			return rc;
		if ((pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    (rc = receive(x, &eof)) != 0)
			return rc;
	}
	return 0;
}

/* The exit status that END_REQUEST stands for. */
static int
end_request_status(struct exchange *x)
{
	switch (x->protocol_status) {
	case FCGI_REQUEST_COMPLETE:
		return x->app_status > 255 ? 255 : (int)x->app_status;
	case FCGI_OVERLOADED:
		warnx("%s: the application is overloaded (FCGI_OVERLOADED)",
		    x->addr);
		return EX_TEMPFAIL;
	case FCGI_CANT_MPX_CONN:
		return protocol_error(x, "the application refused the request "
		    "(FCGI_CANT_MPX_CONN)");
	case FCGI_UNKNOWN_ROLE:
		return protocol_error(x, "the application does not take this "
		    "role (FCGI_UNKNOWN_ROLE)");
	default:
		warnx("%s: unknown protocolStatus %u in END_REQUEST", x->addr,
		    x->protocol_status);
		return EX_PROTOCOL;
	}
}

/* Connects to address; 0, or an exit status (said). */
static int
exchange_open(struct exchange *x, const char *address)
{
	struct addr	 a;
	char		 err[600];
	long long	 left;

	x->addr = address;
	if (addr_parse(address, &a, err, sizeof(err)) == -1) {
		warnx("%s", err);
		return EX_USAGE;
	}
	if (x->timeout_s > 0)
		x->deadline_ms = now_ms() + (long long)(x->timeout_s * 1000);
	left = x->deadline_ms ? x->deadline_ms - now_ms() : 0;
	if ((x->sock = addr_connect(&a, left > 0 ? (int)left :
	    x->deadline_ms ? 1 : 0)) == -1) {
		warn("%s: connect", address);
		return EX_UNAVAILABLE;
	}
	if (x->trace)
		fprintf(stderr, "* connected to %s\n", address);
	return 0;
}

/* Queues BEGIN_REQUEST: the first record of a request. */
static void
exchange_begin(struct exchange *x)
{
	uint8_t	 body[8];

	fcgi_begin_request_body(body, x->role, 0);
	x->out_len = fcgi_record_pack(x->out, sizeof(x->out),
	    FCGI_BEGIN_REQUEST, REQUEST_ID, body, sizeof(body));
	if (x->trace)
		trace_sent(x->out, x->out_len);
}

static void
exchange_close(struct exchange *x)
{
	if (x == NULL)
		return;
	if (x->sock != -1)
		close(x->sock);
	x->sock = -1;
}

static struct exchange *
exchange_new(void)
{
	struct exchange	*x;

	if ((x = calloc(1, sizeof(*x))) == NULL) {
		warn("calloc");
		return NULL;
	}
	x->sock = -1;
	x->role = FCGI_RESPONDER;
	x->in.fd = x->data.fd = -1;
	x->awaiting = "END_REQUEST";
	return x;
}

/* Whether reads of fd can block, so that it must wait in poll. */
static int
fd_must_poll(int fd)
{
	struct stat	 st;

	return fstat(fd, &st) == -1 || !(S_ISREG(st.st_mode) ||
	    (S_ISCHR(st.st_mode) && !isatty(fd)));
}

static int
sink_stdout(struct exchange *x, const uint8_t *p, size_t len)
{
	(void)x;
	if (write_all(STDOUT_FILENO, p, len) == -1) {
		warn("writing standard output");
		return EX_IOERR;
	}
	return 0;
}

static void
usage_connect(FILE *f)
{
	fprintf(f, "usage: fcgi-bridge connect [-v] [-t seconds] "
	    "[-p name=value] [-u name] address\n");
}

/*
 * Sends the request: env as PARAMS, then x's streams.  Runs it to its
 * END_REQUEST and returns the exit status that stands for, or another
 * (said).
 */
static int
exchange_request(struct exchange *x, const char *address,
    const struct cgi_env *env)
{
	uint8_t	*params;
	int	 rc;

	if ((params = cgi_env_encode(env, &x->params_len)) == NULL) {
		warn("building the request");
		return EX_OSERR;
	}
	x->params = params;
	if ((rc = exchange_open(x, address)) == 0) {
		exchange_begin(x);
		if ((rc = exchange_run(x)) == 0)
			rc = end_request_status(x);
	}
	x->params = NULL;
	free(params);
	return rc;
}

int
connect_opts_init(struct connect_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->body_to_eof = 1;
	if (cgi_env_from_environ(&o->env, environ) == -1) {
		warn("environment");
		cgi_env_free(&o->env);
		return EX_OSERR;
	}
	return 0;
}

void
connect_opts_free(struct connect_opts *o)
{
	cgi_env_free(&o->env);
}

/*
 * Takes connect's command line into o: -p and -u change o->env in their
 * order.  Returns 0 when the command is to run, else -1 with *rc the exit
 * status (0 after --help).
 */
static int
connect_options(int argc, char **argv, struct connect_opts *o, int *rc)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	*rc = EX_USAGE;
	while ((ch = getopt_long(argc, argv, "+hp:t:u:v", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage_connect(stdout);
			*rc = 0;
			return -1;
		case 'p':
			if (cgi_env_put(&o->env, optarg) == -1) {
				warnx("-p %s: expected NAME=VALUE", optarg);
				return -1;
			}
			break;
		case 't':
			if (opt_number("-t", optarg, 1, 86400 * 365,
			    &o->timeout_s) == -1)
				return -1;
			break;
		case 'u':
			cgi_env_unset(&o->env, optarg);
			break;
		case 'v':
			o->trace = 1;
			break;
		default:
			usage_connect(stderr);
			return -1;
		}
	}
	if (argc - optind != 1) {
		usage_connect(stderr);
		return -1;
	}
	o->address = argv[optind];
	return 0;
}

int
connect_run(const struct connect_opts *o)
{
	struct exchange	*x;
	const char	*cl, *errstr;
	long long	 left = o->body_to_eof ? -1 : 0;
	int		 rc;

	if ((cl = cgi_env_get(&o->env, "CONTENT_LENGTH")) != NULL &&
	    *cl != '\0') {
		left = strtonum(cl, 0, LLONG_MAX, &errstr);
		if (errstr != NULL) {
			warnx("CONTENT_LENGTH \"%s\" is %s", cl, errstr);
			return EX_USAGE;
		}
	}
	if ((x = exchange_new()) == NULL)
		return EX_OSERR;
	x->timeout_s = o->timeout_s;
	x->trace = o->trace;
	x->in.left = left;
	x->in.until_eof = left == -1;
	if (!isatty(STDIN_FILENO)) {
		x->in.fd = STDIN_FILENO;
		x->in.must_poll = fd_must_poll(STDIN_FILENO);
	} else
		x->in.left = 0;
	x->on_stdout = sink_stdout;
	rc = exchange_request(x, o->address, &o->env);
	exchange_close(x);
	free(x);
	return rc;
}

int
cmd_connect(int argc, char **argv)
{
	struct connect_opts	 o;
	int			 rc;

	if ((rc = connect_opts_init(&o)) != 0)
		return rc;
	if (connect_options(argc, argv, &o, &rc) == 0)
		rc = connect_run(&o);
	connect_opts_free(&o);
	return rc;
}

/* What request does with the STDOUT stream. */
struct response_sink {
	uint8_t			*head;		/* grows up to the limit */
	size_t			 head_cap;
	size_t			 head_len;
	int			 head_done;
	int			 malformed;
	struct cgi_response	 resp;
	int			 show_headers;
	int			 fail;		/* --fail */
	int			 failed;	/* --fail and status >= 400 */
};

static int
sink_response(struct exchange *x, const uint8_t *p, size_t len)
{
	struct response_sink	*s = x->sink_arg;
	const char		*errstr;
	size_t			 take;
	long			 n;

	if (s->head_done) {
		if (s->failed)
			return 0;
		return sink_stdout(x, p, len);
	}
	if (s->head_cap - s->head_len < len &&
	    s->head_cap < CGI_MAX_HEADER_BLOCK) {
		size_t	 cap = s->head_cap ? s->head_cap : 4096;
		uint8_t	*grown;

		while (cap - s->head_len < len && cap < CGI_MAX_HEADER_BLOCK)
			cap *= 2;
		if (cap > CGI_MAX_HEADER_BLOCK)
			cap = CGI_MAX_HEADER_BLOCK;
		if ((grown = realloc(s->head, cap)) == NULL) {
			warn("reading the answer");
			return EX_OSERR;
		}
		s->head = grown;
		s->head_cap = cap;
	}
	take = s->head_cap - s->head_len;
	if (take > len)
		take = len;
	memcpy(s->head + s->head_len, p, take);
	s->head_len += take;
	n = cgi_response_parse((const char *)s->head, s->head_len, &s->resp, &errstr);
	if (n == 0 && s->head_len < CGI_MAX_HEADER_BLOCK)
		return 0;
	s->head_done = 1;
	if (n <= 0) {
		warnx("%s: %s; the answer follows unparsed", x->addr,
		    errstr ? errstr : "CGI header block too long");
		s->malformed = 1;
		if (sink_stdout(x, s->head, s->head_len) != 0)
			return EX_IOERR;
		return sink_stdout(x, p + take, len - take);
	}
	if (s->fail && s->resp.status >= 400) {
		s->failed = 1;
		return 0;
	}
	if (s->show_headers && sink_stdout(x, s->head, (size_t)n) != 0)
		return EX_IOERR;
	if (sink_stdout(x, s->head + n, s->head_len - (size_t)n) != 0)
		return EX_IOERR;
	return sink_stdout(x, p + take, len - take);
}

static void
usage_request(FILE *f)
{
	fprintf(f, "usage: fcgi-bridge request [-iv] [--fail] [-d data | "
	    "-d @file | -d @-]\n"
	    "\t[-H 'name: value'] [-p name=value] [-r docroot] "
	    "[--role role]\n"
	    "\t[--data @file] [--script-name name] [-t seconds] [-u name]\n"
	    "\t[-X method] address [url]\n");
}

/* What request's command line asks for. */
struct request_opts {
	struct request_spec	 spec;
	const char		*address;
	const char		*url;
	double			 timeout_s;	/* 0: none */
	int			 trace;		/* -v */
	int			 show_headers;	/* -i */
	int			 fail;		/* --fail */
};

enum request_longopt {
	OPT_FAIL = 256
};

/*
 * Takes request's command line into o.  Returns 0 when the command is to
 * run, else -1 with *rc the exit status (0 after --help).
 */
static int
request_options(int argc, char **argv, struct request_opts *o, int *rc)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "fail", no_argument, NULL, OPT_FAIL },
		REQUEST_SPEC_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	*rc = EX_USAGE;
	while ((ch = getopt_long(argc, argv, "hit:v" REQUEST_SPEC_OPTSTRING,
	    longopts, NULL)) != -1) {
		switch (request_spec_option(&o->spec, ch, optarg)) {
		case 1:
			continue;
		case -1:
			return -1;
		default:
			break;
		}
		switch (ch) {
		case 'h':
			usage_request(stdout);
			*rc = 0;
			return -1;
		case 'i':
			o->show_headers = 1;
			break;
		case 't':
			if (opt_number("-t", optarg, 1, 86400 * 365,
			    &o->timeout_s) == -1)
				return -1;
			break;
		case 'v':
			o->trace = 1;
			break;
		case OPT_FAIL:
			o->fail = 1;
			break;
		default:
			usage_request(stderr);
			return -1;
		}
	}
	if (argc - optind < 1 || argc - optind > 2) {
		usage_request(stderr);
		return -1;
	}
	o->address = argv[optind];
	o->url = argc - optind == 2 ? argv[optind + 1] : "/";
	return 0;
}

/*
 * The exit status of a request whose END_REQUEST said 0: what its answer's
 * CGI header block says (said).
 */
static int
response_status(struct exchange *x, struct response_sink *sink)
{
	if (!sink->head_done) {
		if (sink->head_len == 0 && x->role == FCGI_AUTHORIZER)
			return 0;
		warnx("%s: %s", x->addr, sink->head_len == 0 ?
		    "empty answer: no CGI headers" :
		    "the answer ended inside its CGI headers");
		if (sink_stdout(x, sink->head, sink->head_len) != 0)
			return EX_IOERR;
		return EX_PROTOCOL;
	}
	if (sink->malformed)
		return EX_PROTOCOL;
	if (sink->failed) {
		warnx("%s: the application answered status %d", x->addr,
		    sink->resp.status);
		return EXIT_FAIL_STATUS;
	}
	return 0;
}

/* Sends the request that o describes and prints its answer. */
static int
request_run(struct request_opts *o)
{
	struct cgi_env		 env = { 0 };
	struct response_sink	*sink;
	struct exchange		*x;
	int			 rc;

	if ((x = exchange_new()) == NULL)
		return EX_OSERR;
	if ((sink = calloc(1, sizeof(*sink))) == NULL) {
		warn("calloc");
		free(x);
		return EX_OSERR;
	}
	sink->show_headers = o->show_headers;
	sink->fail = o->fail;
	x->timeout_s = o->timeout_s;
	x->trace = o->trace;
	x->role = o->spec.role;
	x->in.content = &o->spec.stdin_content;
	x->in.left = o->spec.stdin_content.len;
	x->data.content = &o->spec.data_content;
	x->data.left = o->spec.data_content.len;
	x->on_stdout = sink_response;
	x->sink_arg = sink;
	if ((rc = request_spec_env(&o->spec, o->url, &env)) == 0 &&
	    (rc = exchange_request(x, o->address, &env)) == 0)
		rc = response_status(x, sink);
	exchange_close(x);
	cgi_env_free(&env);
	free(sink->head);
	free(sink);
	free(x);
	return rc;
}

int
cmd_request(int argc, char **argv)
{
	struct request_opts	 o;
	int			 rc;

	memset(&o, 0, sizeof(o));
	if (request_spec_init(&o.spec, argc) == -1)
		return EX_OSERR;
	if (request_options(argc, argv, &o, &rc) == 0 &&
	    (rc = request_spec_open(&o.spec)) == 0)
		rc = request_run(&o);
	request_spec_free(&o.spec);
	return rc;
}

static void
usage_values(FILE *f)
{
	fprintf(f, "usage: fcgi-bridge values [-v] [-t seconds] address\n");
}

/* Prints the pairs of a GET_VALUES_RESULT; 0, or an exit status. */
static int
values_print(struct exchange *x, const struct fcgi_record *rec)
{
	struct fcgi_nv	 nv;
	size_t		 off;
	long		 n;

	if (rec->hdr.type == FCGI_UNKNOWN_TYPE)
		return protocol_error(x, "the application does not know "
		    "GET_VALUES (UNKNOWN_TYPE)");
	if (rec->hdr.type != FCGI_GET_VALUES_RESULT)
		return 0;
	for (off = 0; off < rec->hdr.content_length; off += (size_t)n) {
		n = fcgi_nv_parse(rec->content + off,
		    rec->hdr.content_length - off, FCGI_MAX_CONTENT, &nv);
		if (n <= 0)
			return protocol_error(x, "malformed name-value pair "
			    "in GET_VALUES_RESULT");
		fwrite(nv.name, 1, nv.name_len, stdout);
		putchar('=');
		fwrite(nv.value, 1, nv.value_len, stdout);
		putchar('\n');
	}
	if (fflush(stdout) == EOF) {
		warn("writing standard output");
		return EX_IOERR;
	}
	x->ended = 1;
	return 0;
}

/*
 * Takes values' command line into x.  Returns 0 when the command is to
 * run, else -1 with *rc the exit status (0 after --help).
 */
static int
values_options(int argc, char **argv, struct exchange *x, int *rc)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	*rc = EX_USAGE;
	while ((ch = getopt_long(argc, argv, "+ht:v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage_values(stdout);
			*rc = 0;
			return -1;
		case 't':
			if (opt_number("-t", optarg, 1, 86400 * 365,
			    &x->timeout_s) == -1)
				return -1;
			break;
		case 'v':
			x->trace = 1;
			break;
		default:
			usage_values(stderr);
			return -1;
		}
	}
	if (argc - optind != 1) {
		usage_values(stderr);
		return -1;
	}
	x->addr = argv[optind];
	return 0;
}

/* Asks x->addr for the values the specification names, prints them. */
static int
values_run(struct exchange *x)
{
	static const char *const names[] = {
		"FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"
	};
	uint8_t	 pairs[64];
	size_t	 len = 0, i;
	int	 rc;

	if ((rc = exchange_open(x, x->addr)) != 0)
		return rc;
	/* Not a request: the one record replaces BEGIN_REQUEST. */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		len += fcgi_nv_pack(pairs + len, sizeof(pairs) - len, names[i],
		    strlen(names[i]), "", 0);
	x->out_len = fcgi_record_pack(x->out, sizeof(x->out), FCGI_GET_VALUES,
	    0, pairs, len);
	x->phase = SEND_DONE;
	x->awaiting = "GET_VALUES_RESULT";
	x->on_management = values_print;
	if (x->trace)
		trace_sent(x->out, x->out_len);
	return exchange_run(x);
}

int
cmd_values(int argc, char **argv)
{
	struct exchange	*x;
	int		 rc;

	if ((x = exchange_new()) == NULL)
		return EX_OSERR;
	x->timeout_s = 5;
	if (values_options(argc, argv, x, &rc) == 0)
		rc = values_run(x);
	exchange_close(x);
	free(x);
	return rc;
}
