/*
 * serve: a FastCGI responder that runs a plain CGI program per request.
 *
 * One process, one event loop.  A connection owns its requests; a request
 * owns its CGI's pipes; the child table owns the CGI processes, so that a
 * request can go away (abort, hang-up) while its process is still being
 * killed and reaped.  Bodies stream both ways through bounded buffers: the
 * socket is not read while a request holds a STDIN record its CGI has not
 * taken (or that waits for its CGI to start), and a CGI's stdout is not
 * read while the connection's send buffer is full.  The one exception is
 * in req_hold_stdin.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "addr.h"
#include "cgi.h"
#include "ev.h"
#include "fcgi.h"
#include "serve.h"
#include "util.h"

#define CGI_PATH		"/usr/local/bin:/usr/bin:/bin"
#define READ_CHUNK		FCGI_MAX_PADDED_CONTENT
/* Data records are queued only below this; control records always fit. */
#define WBUF_DATA_LIMIT		(128 * 1024)
#define WBUF_SIZE		(WBUF_DATA_LIMIT + FCGI_HEADER_LEN + \
				    READ_CHUNK + 8)
#define KILL_GRACE_MS		2000
#define LINGER_MS		2000	/* see child_on_exit */
#define DRAIN_MS		2000
#define TICK_MS			200
#define LONG_CGI_MS		1000	/* see cgi_may_start */

extern char **environ;

struct server;
struct conn;

enum req_state {
	REQ_PARAMS,	/* reading PARAMS */
	REQ_WAITING,	/* params complete, waiting for a CGI slot */
	REQ_RUNNING	/* the CGI runs */
};

struct req {
	struct conn	*conn;
	struct req	*next;		/* in conn->reqs */
	struct req	*qnext;		/* in the server's waiting queue */
	uint16_t	 id;
	int		 keep_conn;
	enum req_state	 state;

	uint8_t		*params;
	size_t		 params_len;
	size_t		 params_cap;
	size_t		 params_checked;	/* pairs whose lengths passed */
	char		 script[256];	/* SCRIPT_NAME, for log lines */
	char		*program;
	char		*cwd;
	char		**envp;		/* one block with the strings */

	int		 stdin_ended;	/* the empty STDIN record came */
	uint8_t		*inbuf;		/* STDIN not yet taken by the CGI */
	size_t		 inlen;
	size_t		 inoff;
	int		 spool_fd;	/* see req_hold_stdin, or -1 */
	off_t		 spool_len;
	off_t		 spool_off;	/* read back up to here */

	struct child	*cgi;		/* NULL until it runs, or detached */
	int		 in_fd;
	int		 out_fd;
	int		 err_fd;
	int		 exited;	/* the CGI exited, with status */
	int		 status;
	long long	 linger_until;	/* see child_on_exit; 0: none */
	int		 giving_up;	/* see req_give_up */

	uint8_t		*head;		/* stdout until its headers check */
	size_t		 head_len;
	size_t		 head_sent;
	int		 head_ok;
	int		 stdout_sent;	/* a STDOUT record went out */
	int		 stderr_sent;

	long long	 deadline;
	int		 timed_out;
	int		 aborted;	/* ABORT_REQUEST: the CGI is being killed */
};

/*
 * A CGI process until it is reaped.  It is reaped only when no signal to
 * its process group can be needed any more: until then its zombie keeps
 * its process ID, and so its group's, from being reused.
 */
struct child {
	struct server	*srv;
	struct child	*next;
	pid_t		 pid;
	int		 pidfd;		/* readable once it has exited */
	struct req	*req;		/* NULL once detached */
	long long	 kill_at;	/* SIGKILL then, if not 0 */
	long long	 killed_at;	/* SIGKILL was sent then, if not 0 */
	long long	 started_us;
	int		 exited;
	int		 status;	/* as waitpid(2) gives it */
	int		 busy;		/* counted in nbusy, against -c */
	int		 long_running;	/* counted in nlong */
};

struct conn {
	struct server	*srv;
	struct conn	*next;
	int		 fd;
	char		 peer[64];
	uint8_t		*rbuf;
	size_t		 rlen;
	uint8_t		*wbuf;
	size_t		 wlen;
	size_t		 wcap;
	struct req	*reqs;
	long long	 last_active;
	int		 closing;	/* close once the send buffer drains */
	int		 await_stdin;	/* ...and the STDIN of this id ended */
	int		 draining;	/* write side shut; reading to EOF */
	int		 broken;	/* out of memory: closed at the tick */
	int		 stalled;	/* whole records wait in rbuf */
	int		 resume;	/* ...and may go on: see server_resume */
	long long	 drain_until;
};

struct server {
	struct ev	*ev;
	int		 listen_fd;
	int		 sig_fd;
	char		 unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int		 use_syslog;

	char		**fixed_argv;
	char		*fixed_program;	/* fixed_argv[0], canonical */
	char		**roots;
	size_t		 nroots;
	char		**extra_env;
	size_t		 nextra_env;
	int		 cgi_stderr_own;
	const char	*spool_dir;	/* for bodies: see req_hold_stdin */

	size_t		 max_cgi;
	int		 adapt;		/* run fewer when CGIs are CPU-bound */
	size_t		 ncpu;
	double		 cgi_need;	/* see cgi_learn; 0: none seen */
	int		 self_stat_fd;	/* /proc/self/schedstat, or -1 */
	unsigned long long self_queued;
	size_t		 max_queue;
	size_t		 max_conns;
	size_t		 max_params;
	long long	 timeout_ms;
	long long	 idle_ms;
	long long	 grace_ms;

	struct conn	*conns;
	size_t		 nconns;
	struct req	*queue_head;
	struct req	*queue_tail;
	size_t		 nqueued;
	struct child	*children;
	size_t		 nbusy;		/* CGIs that count against -c */
	size_t		 nlong;		/* busy ones older than LONG_CGI_MS */
	size_t		 nresume;	/* connections with resume set */
	int		 dispatch_due;	/* see server_dispatch_soon */

	struct sockaddr_storage *allowed;
	size_t		 nallowed;

	int		 stopping;
	long long	 stop_at;
	long long	 last_tick;
};

static void	conn_close(struct conn *, const char *);
static void	conn_update(struct conn *);
static void	req_update(struct req *);
static void	server_dispatch_queue(struct server *);

static int	 log_to_syslog;

static void
slog(int prio, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	if (log_to_syslog)
		vsyslog(prio, fmt, ap);
	else {
		fprintf(stderr, "fcgi-bridge: serve: ");
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

/* Sends a signal to a CGI's process group, which it leads. */
static void
child_signal(struct child *ch, int sig)
{
	if (kill(-ch->pid, sig) == -1)
		(void)kill(ch->pid, sig);
}

/* Deferred to the loop's next turn: see server_run_deferred. */
static void
server_dispatch_soon(struct server *srv)
{
	srv->dispatch_due = 1;
}

/*
 * Frees the slot of a CGI that has exited once no request waits on it,
 * and reaps it once no signal to its group can be due: its request is
 * done and no SIGKILL is pending.  ch may be gone on return.
 */
static void
child_settle(struct child *ch)
{
	struct server	 *srv = ch->srv;
	struct child	**pp;
	siginfo_t	  si;

	if (!ch->exited)
		return;
	if (ch->busy && ch->req == NULL) {
		ch->busy = 0;
		srv->nbusy--;
		if (ch->long_running)
			srv->nlong--;
		server_dispatch_soon(srv);
	}
	if (ch->req != NULL || ch->kill_at != 0)
		return;
	(void)waitid(P_PIDFD, (id_t)ch->pidfd, &si, WEXITED | WNOHANG);
	ev_del(srv->ev, ch->pidfd);
	close(ch->pidfd);
	for (pp = &srv->children; *pp != ch; pp = &(*pp)->next)
		;
	*pp = ch->next;
	free(ch);
}

/* Its request hears no more from the CGI.  ch may be gone on return. */
static void
child_detach(struct child *ch)
{
	if (ch->req != NULL) {
		ch->req->cgi = NULL;
		ch->req = NULL;
	}
	child_settle(ch);
}

/*
 * The one way serve gives up on a CGI: SIGTERM to its process group now
 * (once), SIGKILL when the grace time is over (server_tick), and, with
 * detach, its request hears no more from it.  ch may be gone on return
 * when detached.
 */
static void
child_stop(struct child *ch, int detach)
{
	if (ch->kill_at == 0 && ch->killed_at == 0) {
		child_signal(ch, SIGTERM);
		ch->kill_at = now_ms() + KILL_GRACE_MS;
	}
	if (detach)
		child_detach(ch);
}

/* Makes room for len more bytes; the send buffer grows only for control
 * records, data waits for space instead. */
static int
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
static int
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

static int
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

static int
conn_has_room(struct conn *c)
{
	return !c->draining && !c->broken && c->wlen < WBUF_DATA_LIMIT;
}

static void
req_close_fd(struct req *r, int *fd)
{
	if (*fd == -1)
		return;
	ev_del(r->conn->srv->ev, *fd);
	close(*fd);
	*fd = -1;
}

static void
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
static void
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

static struct req *
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
static void
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
	if (!r->keep_conn) {
		c->closing = 1;
		c->await_stdin = r->stdin_ended ? 0 : r->id;
	}
	req_free(r);
	conn_update(c);
}

static const char *
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
static void
req_fail_http(struct req *r, int status, const char *why)
{
	char	 resp[256];
	int	 n;

	slog(LOG_WARNING, "%s: %d %s: %s", r->script[0] ? r->script : "-",
	    status, http_reason(status), why);
	n = snprintf(resp, sizeof(resp), "Status: %d %s\r\nContent-Type: "
	    "text/plain\r\n\r\n%d %s\n", status, http_reason(status),
	    status, http_reason(status));
	if (conn_queue(r->conn, FCGI_STDOUT, r->id, resp, (size_t)n) == 0)
		r->stdout_sent = 1;
	req_end(r, 0, FCGI_REQUEST_COMPLETE);
}

/* A fresh pipe end has no status flag but its access mode, which
 * F_SETFL leaves alone: one call, not a read and a write. */
static void
set_nonblock(int fd)
{
	(void)fcntl(fd, F_SETFL, O_NONBLOCK);
}

static void	req_maybe_finish(struct req *);
static int	req_stdin_pending(const struct req *);
static void	req_on_stdin(void *, int, int);
static void	req_on_stdout(void *, int, int);
static void	req_on_stderr(void *, int, int);

/* The CPUs serve may run on, and so its CGIs. */
static size_t
cpus_usable(void)
{
	cpu_set_t	 set;
	int		 n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 &&
	    (n = CPU_COUNT(&set)) > 0)
		return (size_t)n;
	return 1;
}

/*
 * How many CGIs may run at once.  With the cap -c alone, CPU-bound CGIs
 * would all run together and share the cores: no more answers per second,
 * and every answer as late as the slowest.  So serve runs enough of them
 * to keep the cores busy: three times what the CGIs' mix of running and
 * waiting needs (cgi_need; three measured better than two or than no
 * limit, on two cores), within -c.
 */
static size_t
cgi_limit(const struct server *srv)
{
	double	 lim;

	if (!srv->adapt || srv->cgi_need == 0)
		return srv->max_cgi;
	lim = 3.0 * (double)srv->ncpu * srv->cgi_need;
	if (lim >= (double)srv->max_cgi)
		return srv->max_cgi;
	return lim < 1.0 ? 1 : (size_t)lim + 1;
}

/*
 * Whether another CGI may start.  The adaptive count learns only from CGIs
 * that ended; one that has run for over LONG_CGI_MS (a long poll, a slow
 * query) counts against -c alone, so that a few of them cannot hold back
 * every other request until they end.
 */
static int
cgi_may_start(const struct server *srv)
{
	return srv->nbusy < srv->max_cgi &&
	    srv->nbusy - srv->nlong < cgi_limit(srv);
}

/* The first two figures of a /proc schedstat file: ns run, ns queued. */
static int
schedstat_read(int fd, unsigned long long *run, unsigned long long *queued)
{
	char	 buf[128], *end;
	ssize_t	 n;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return -1;
	buf[n] = '\0';
	errno = 0;
	*run = strtoull(buf, &end, 10);
	if (errno != 0 || *end != ' ')
		return -1;
	*queued = strtoull(end + 1, &end, 10);
	if (errno != 0 || *end != ' ')
		return -1;
	return 0;
}

/*
 * How long serve itself waited for a CPU since the last call: on a busy
 * machine it reaps its children that much late, which would otherwise
 * count as their waiting.
 */
static unsigned long long
server_lateness(struct server *srv)
{
	unsigned long long	 run, queued, late = 0;

	if (srv->self_stat_fd == -1 ||
	    schedstat_read(srv->self_stat_fd, &run, &queued) == -1)
		return 0;
	if (queued > srv->self_queued)
		late = queued - srv->self_queued;
	srv->self_queued = queued;
	return late;
}

/*
 * Learns from a CGI that exited, before it is reaped: of its life, the
 * time it ran on a CPU, waited for one (both from /proc/PID/schedstat) and
 * waited for anything else (the rest, less serve's own lateness).
 * (running + other waits) / running is how many such CGIs keep one core
 * busy: about 1 for a CPU-bound one, 34 for one that runs 1.5 ms and
 * sleeps 50.  A moving average of it (from the first CGI seen) sets
 * cgi_limit.  Without /proc, nothing is learnt and -c alone holds.
 */
static void
cgi_learn(struct server *srv, const struct child *c, unsigned long long late)
{
	char			 path[64];
	unsigned long long	 run, queued, life, busy;
	int			 fd, rc;

	snprintf(path, sizeof(path), "/proc/%ld/schedstat", (long)c->pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	rc = schedstat_read(fd, &run, &queued);
	close(fd);
	if (rc == -1 || run == 0)
		return;
	life = (unsigned long long)(now_us() - c->started_us) * 1000;
	life -= late < life ? late : life;
	busy = run + (life > run + queued ? life - run - queued : 0);
	if (srv->cgi_need == 0)
		srv->cgi_need = (double)busy / (double)run;
	else
		srv->cgi_need += ((double)busy / (double)run -
		    srv->cgi_need) / 8;
}

/*
 * A CGI exited: its status is read, but it is not reaped yet (see struct
 * child).  Its request ends once its output has ended too.  A process it
 * left running with its output open gets LINGER_MS more to finish, and
 * then the CGI's process group is stopped (server_tick): without that, a
 * background job that kept the CGI's stdout would hold the request open.
 */
static void
child_on_exit(void *arg, int fd, int revents)
{
	struct child	*ch = arg;
	struct server	*srv = ch->srv;
	struct req	*r;
	siginfo_t	 si;

	(void)revents;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG | WNOWAIT) ==
	    -1 || si.si_pid == 0)
		return;
	ev_del(srv->ev, fd);
	ch->exited = 1;
	if (si.si_code == CLD_EXITED)
		ch->status = W_EXITCODE(si.si_status, 0);
	else
		ch->status = W_EXITCODE(0, si.si_status);
	if (srv->adapt)
		cgi_learn(srv, ch, server_lateness(srv));
	if ((r = ch->req) == NULL) {
		child_settle(ch);
		return;
	}
	r->exited = 1;
	r->status = ch->status;
	if (ch->kill_at == 0 && ch->killed_at == 0)
		r->linger_until = now_ms() + LINGER_MS;
	req_maybe_finish(r);
}

/*
 * Starts the CGI with pipes on 0, 1 and 2, in a process group of its own
 * so that a kill reaches what it started too.  Returns 0, or -1 (logged).
 */
static int
req_spawn(struct req *r)
{
	struct server			*srv = r->conn->srv;
	struct child			*ch = NULL;
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	sigset_t			 none, dflt;
	char				*argv_script[2];
	char				**argv;
	int				 in[2] = { -1, -1 }, out[2] = { -1, -1 };
	int				 errp[2] = { -1, -1 }, rc;
	pid_t				 pid;

	if ((ch = calloc(1, sizeof(*ch))) == NULL)
		goto fail;
	ch->pidfd = -1;
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1 ||
	    pipe2(errp, O_CLOEXEC) == -1)
		goto fail;
	if (posix_spawn_file_actions_init(&fa) != 0)
		goto fail;
	if (posix_spawnattr_init(&attr) != 0)
		goto fail_fa;
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	sigaddset(&dflt, SIGCHLD);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGINT);
	sigaddset(&dflt, SIGHUP);
	if (posix_spawn_file_actions_adddup2(&fa, in[0], 0) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, out[1], 1) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, errp[1], 2) != 0 ||
	    posix_spawn_file_actions_addchdir_np(&fa, r->cwd) != 0 ||
	    posix_spawnattr_setsigmask(&attr, &none) != 0 ||
	    posix_spawnattr_setsigdefault(&attr, &dflt) != 0 ||
	    posix_spawnattr_setpgroup(&attr, 0) != 0 ||
	    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP) != 0)
		goto fail_attr;
	if (srv->fixed_argv != NULL)
		argv = srv->fixed_argv;
	else {
		argv_script[0] = r->program;
		argv_script[1] = NULL;
		argv = argv_script;
	}
	rc = posix_spawn(&pid, r->program, &fa, &attr, argv, r->envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		errno = rc;
		goto fail;
	}
	if ((ch->pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) == -1 ||
	    ev_set(srv->ev, ch->pidfd, POLLIN, child_on_exit, ch) == -1) {
		rc = errno;
		if (ch->pidfd != -1)
			close(ch->pidfd);
		(void)kill(-pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		errno = rc;
		goto fail;
	}
	close(in[0]);
	close(out[1]);
	close(errp[1]);
	r->in_fd = in[1];
	r->out_fd = out[0];
	r->err_fd = errp[0];
	set_nonblock(r->in_fd);
	set_nonblock(r->out_fd);
	set_nonblock(r->err_fd);
	ch->srv = srv;
	ch->pid = pid;
	ch->started_us = now_us();
	ch->req = r;
	ch->busy = 1;
	ch->next = srv->children;
	srv->children = ch;
	srv->nbusy++;
	r->cgi = ch;
	r->state = REQ_RUNNING;
	/*
	 * Watched from the start for what they will want first, so that a
	 * request costs no change of watch: stdout and stderr for reading,
	 * and stdin not at all when the whole body (often none) is in.
	 */
	if (!req_stdin_pending(r) && r->stdin_ended)
		req_close_fd(r, &r->in_fd);
	else if (ev_set(srv->ev, r->in_fd, 0, req_on_stdin, r) == -1)
		return -1;	/* the caller ends r; req_free kills the CGI */
	if (ev_set(srv->ev, r->out_fd, POLLIN, req_on_stdout, r) == -1 ||
	    ev_set(srv->ev, r->err_fd, POLLIN, req_on_stderr, r) == -1)
		return -1;
	return 0;
fail_attr:
	posix_spawnattr_destroy(&attr);
fail_fa:
	posix_spawn_file_actions_destroy(&fa);
fail:
	slog(LOG_ERR, "%s: starting %s: %s", r->script, r->program,
	    strerror(errno));
	free(ch);
	if (in[0] != -1) {
		close(in[0]);
		close(in[1]);
	}
	if (out[0] != -1) {
		close(out[0]);
		close(out[1]);
	}
	if (errp[0] != -1) {
		close(errp[0]);
		close(errp[1]);
	}
	return -1;
}

/* Starts the request's CGI now, or queues it, or refuses it. */
static void
req_schedule(struct req *r)
{
	struct server	*srv = r->conn->srv;

	if (cgi_may_start(srv) && srv->queue_head == NULL) {
		if (req_spawn(r) == -1) {
			req_fail_http(r, 502, "the CGI could not be started");
			return;
		}
		req_update(r);
		return;
	}
	if (srv->nqueued >= srv->max_queue) {
		slog(LOG_WARNING, "%s: overloaded: %zu CGIs running, %zu "
		    "requests waiting", r->script, srv->nbusy,
		    srv->nqueued);
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
}

static void
server_dispatch_queue(struct server *srv)
{
	struct req	*r;

	while (srv->queue_head != NULL && cgi_may_start(srv)) {
		r = srv->queue_head;
		queue_remove(srv, r);
		if (req_spawn(r) == -1) {
			req_fail_http(r, 502, "the CGI could not be started");
			continue;
		}
		req_update(r);
		conn_update(r->conn);
	}
}

static int
under_root(const char *path, const char *root)
{
	size_t	 len = strlen(root);

	if (strcmp(root, "/") == 0)
		return 1;
	return strncmp(path, root, len) == 0 && path[len] == '/';
}

/*
 * Without SCRIPT_FILENAME, the script is the longest leading part of
 * DOCUMENT_ROOT + SCRIPT_NAME that is a regular file; the rest becomes
 * PATH_INFO, and SCRIPT_NAME loses it (fcgiwrap's rule).  path is cut in
 * place; *tail is set to what was cut from SCRIPT_NAME, or NULL.
 */
static void
script_split(char *path, size_t root_len, char **tail)
{
	struct stat	 st;
	size_t		 len = strlen(path), i;
	char		*slash;

	*tail = NULL;
	while (stat(path, &st) == -1 || !S_ISREG(st.st_mode)) {
		slash = strrchr(path, '/');
		if (slash == NULL || (size_t)(slash - path) <= root_len) {
			*tail = NULL;
			break;
		}
		*slash = '\0';
		*tail = slash;
	}
	/* Put back the cuts after the one that found the file, or all. */
	for (i = *tail ? (size_t)(*tail - path) + 1 : 0; i < len; i++)
		if (path[i] == '\0')
			path[i] = '/';
}

/*
 * Picks the program of a script request: SCRIPT_FILENAME, or DOCUMENT_ROOT
 * and SCRIPT_NAME.  Returns 0, or the HTTP status that refuses it.  When
 * SCRIPT_NAME was split, *path_info gets the rest (the caller frees it).
 */
static int
req_find_script(struct req *r, const char *filename, const char *docroot,
    const char *script_name, char **path_info, const char **why)
{
	struct server	*srv = r->conn->srv;
	struct stat	 st;
	char		 path[PATH_MAX], real[PATH_MAX], *slash, *tail;
	size_t		 i;

	if (filename != NULL && strncmp(filename, "proxy:fcgi://", 13) == 0) {
		/* Apache mod_proxy_fcgi: proxy:fcgi://HOST:PORT/path */
		filename = strchr(filename + 13, '/');
		if (filename == NULL) {
			*why = "SCRIPT_FILENAME has no path";
			return 404;
		}
	}
	if (filename != NULL && *filename != '\0') {
		if (strlcpy(path, filename, sizeof(path)) >= sizeof(path)) {
			*why = "SCRIPT_FILENAME too long";
			return 404;
		}
	} else if (docroot != NULL && script_name != NULL) {
		if (snprintf(path, sizeof(path), "%s%s", docroot,
		    script_name) >= (int)sizeof(path)) {
			*why = "DOCUMENT_ROOT and SCRIPT_NAME too long";
			return 404;
		}
		script_split(path, strlen(docroot), &tail);
		if (tail != NULL) {
			if (asprintf(path_info, "/%s", tail + 1) == -1) {
				*path_info = NULL;
				*why = strerror(errno);
				return 502;
			}
		}
	} else {
		*why = "no SCRIPT_FILENAME, nor DOCUMENT_ROOT and SCRIPT_NAME";
		return 404;
	}
	if (realpath(path, real) == NULL) {
		*why = strerror(errno);
		return errno == EACCES ? 403 : 404;
	}
	for (i = 0; i < srv->nroots; i++)
		if (under_root(real, srv->roots[i]))
			break;
	if (i == srv->nroots) {
		*why = "outside every -r root";
		return 403;
	}
	if (stat(real, &st) == -1) {
		*why = strerror(errno);
		return 404;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		return 403;
	}
	if ((st.st_mode & 0111) == 0 || access(real, X_OK) == -1) {
		*why = "not executable";
		return 403;
	}
	if ((r->program = strdup(real)) == NULL ||
	    (r->cwd = strdup(real)) == NULL) {
		*why = strerror(errno);
		return 502;
	}
	slash = strrchr(r->cwd, '/');
	slash[slash == r->cwd ? 1 : 0] = '\0';
	return 0;
}

/* Whether -e or -P sets the variable name, which then wins over PARAMS. */
static int
extra_env_has(struct server *srv, const char *name, size_t len)
{
	size_t	 i;

	for (i = 0; i < srv->nextra_env; i++)
		if (strncmp(srv->extra_env[i], name, len) == 0 &&
		    srv->extra_env[i][len] == '=')
			return 1;
	return 0;
}

static char *
env_append(char *p, const char *name, size_t nlen, const char *value,
    size_t vlen)
{
	memcpy(p, name, nlen);
	p += nlen;
	*p++ = '=';
	memcpy(p, value, vlen);
	p += vlen;
	*p++ = '\0';
	return p;
}

/*
 * Builds the CGI's environment from the PARAMS stream: its pairs, PATH,
 * and what -e and -P add; never HTTP_PROXY.  script_name and path_info,
 * when not NULL, replace SCRIPT_NAME and PATH_INFO.  Returns 0, or -1
 * with *why.
 */
static int
req_build_env(struct req *r, const char *script_name, const char *path_info,
    const char **why)
{
	struct server	*srv = r->conn->srv;
	struct fcgi_nv	 nv;
	size_t		 off, n = 0, bytes = 0, i;
	char		*p;
	long		 len;

	free(r->envp);
	r->envp = NULL;
	for (off = 0; off < r->params_len; off += (size_t)len) {
		len = fcgi_nv_parse(r->params + off, r->params_len - off,
		    r->params_len, &nv);
		if (len <= 0) {
			*why = "malformed PARAMS stream";
			return -1;
		}
		n++;
		bytes += nv.name_len + nv.value_len + 2;
	}
	for (i = 0; i < srv->nextra_env; i++)
		bytes += strlen(srv->extra_env[i]) + 1;
	bytes += sizeof("PATH=" CGI_PATH);
	n += srv->nextra_env + 2;
	if (path_info != NULL) {
		bytes += sizeof("SCRIPT_NAME=PATH_INFO=") + strlen(script_name) +
		    strlen(path_info) + 1;
		n += 2;
	}
	if ((r->envp = malloc((n * sizeof(char *)) + bytes)) == NULL) {
		*why = strerror(errno);
		return -1;
	}
	p = (char *)(r->envp + n);
	n = 0;
	for (off = 0; off < r->params_len; off += (size_t)len) {
		len = fcgi_nv_parse(r->params + off, r->params_len - off,
		    r->params_len, &nv);
		if (nv.name_len == 0 || memchr(nv.name, '=', nv.name_len) ||
		    memchr(nv.name, '\0', nv.name_len) ||
		    memchr(nv.value, '\0', nv.value_len))
			continue;
		if ((nv.name_len == 10 && memcmp(nv.name, "HTTP_PROXY", 10) ==
		    0) || (nv.name_len == 4 && memcmp(nv.name, "PATH", 4) == 0))
			continue;
		if (extra_env_has(srv, (const char *)nv.name, nv.name_len))
			continue;
		if (path_info != NULL && ((nv.name_len == 11 &&
		    memcmp(nv.name, "SCRIPT_NAME", 11) == 0) ||
		    (nv.name_len == 9 && memcmp(nv.name, "PATH_INFO", 9) == 0)))
			continue;
		if (nv.name_len == 11 &&
		    memcmp(nv.name, "SCRIPT_NAME", 11) == 0) {
			size_t	 k = nv.value_len < sizeof(r->script) - 1 ?
			    nv.value_len : sizeof(r->script) - 1;

			memcpy(r->script, nv.value, k);
			r->script[k] = '\0';
		}
		r->envp[n++] = p;
		p = env_append(p, (const char *)nv.name, nv.name_len,
		    (const char *)nv.value, nv.value_len);
	}
	if (path_info != NULL) {
		r->envp[n++] = p;
		p = env_append(p, "SCRIPT_NAME", 11, script_name,
		    strlen(script_name));
		r->envp[n++] = p;
		p = env_append(p, "PATH_INFO", 9, path_info, strlen(path_info));
	}
	if (!extra_env_has(srv, "PATH", 4)) {
		r->envp[n++] = p;
		memcpy(p, "PATH=" CGI_PATH, sizeof("PATH=" CGI_PATH));
		p += sizeof("PATH=" CGI_PATH);
	}
	for (i = 0; i < srv->nextra_env; i++) {
		r->envp[n++] = p;
		memcpy(p, srv->extra_env[i], strlen(srv->extra_env[i]) + 1);
		p += strlen(srv->extra_env[i]) + 1;
	}
	r->envp[n] = NULL;
	return 0;
}

static const char *
env_lookup(char **envp, const char *name)
{
	size_t	 len = strlen(name);

	for (; *envp != NULL; envp++)
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}

/*
 * The PARAMS stream is complete: choose the program, then run it.
 * Returns 0, or -1 when the connection must close for a bad stream.
 */
static int
req_params_done(struct req *r)
{
	struct server	*srv = r->conn->srv;
	const char	*why = NULL, *sn = NULL;
	char		*slash, *path_info = NULL, *short_name = NULL;
	int		 status;

	if (req_build_env(r, NULL, NULL, &why) == -1)
		return -1;
	if (srv->fixed_argv != NULL) {
		if ((r->program = strdup(srv->fixed_program)) == NULL ||
		    (r->cwd = strdup(srv->fixed_program)) == NULL) {
			req_fail_http(r, 502, strerror(errno));
			return 0;
		}
		if ((slash = strrchr(r->cwd, '/')) == NULL)
			strlcpy(r->cwd, ".", 2);
		else
			slash[slash == r->cwd ? 1 : 0] = '\0';
	} else if ((status = req_find_script(r, env_lookup(r->envp,
	    "SCRIPT_FILENAME"), env_lookup(r->envp, "DOCUMENT_ROOT"),
	    sn = env_lookup(r->envp, "SCRIPT_NAME"), &path_info, &why)) != 0) {
		req_fail_http(r, status, why);
		return 0;
	}
	if (path_info != NULL) {
		short_name = strndup(sn, strlen(sn) - strlen(path_info));
		if (short_name == NULL ||
		    req_build_env(r, short_name, path_info, &why) == -1) {
			free(short_name);
			free(path_info);
			req_fail_http(r, 502, "out of memory");
			return 0;
		}
		free(short_name);
		free(path_info);
	}
	free(r->params);
	r->params = NULL;
	r->params_len = r->params_cap = 0;
	req_schedule(r);
	return 0;
}

/*
 * Appends PARAMS content.  Returns -1 when the stream passes the limit, or
 * declares a pair that would: a length is checked as soon as it arrives,
 * not when its bytes have.
 */
static int
req_add_params(struct req *r, const uint8_t *p, size_t len)
{
	struct fcgi_nv	 nv;
	size_t		 cap, max = r->conn->srv->max_params;
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

/* Body bytes that wait to go to the CGI. */
static int
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
static int
req_stdin_blocks(const struct req *r)
{
	return req_stdin_pending(r) &&
	    !(r->state == REQ_WAITING && r->spool_fd != -1);
}

/* An unlinked temporary file in the spool directory, or -1. */
static int
spool_open(const struct server *srv)
{
	char	 path[PATH_MAX];
	int	 fd;

	fd = open(srv->spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd != -1 || (errno != EOPNOTSUPP && errno != EISDIR &&
	    errno != EINVAL))
		return fd;
	/* A file system without O_TMPFILE. */
	if (snprintf(path, sizeof(path), "%s/fcgi-bridge-body.XXXXXX",
	    srv->spool_dir) >= (int)sizeof(path)) {
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
		    (r->spool_fd = spool_open(c->srv)) == -1) {
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
 * Hands body bytes to the CGI, or keeps them until it can take them.  Once
 * the CGI has closed its standard input the rest is dropped.  Returns 0,
 * or -1 with *why.
 */
static int
req_feed_stdin(struct req *r, const uint8_t *p, size_t len, const char **why)
{
	ssize_t	 n = 0;

	if (r->state == REQ_RUNNING && r->in_fd == -1)
		return 0;
	if (r->state == REQ_RUNNING && !req_stdin_pending(r)) {
		n = write(r->in_fd, p, len);
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
static void
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

/*
 * Fails r where everyone can see it: with an HTTP error of ours while none
 * of its answer has gone out, else by closing its connection, the one way
 * left to tell the web server that the answer is not whole.  Returns 0
 * when r alone is gone, -1 when its connection is too.
 */
static int
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

static void
req_on_stdin(void *arg, int fd, int revents)
{
	struct req	*r = arg;
	ssize_t		 n;

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
		n = write(fd, r->inbuf + r->inoff, r->inlen - r->inoff);
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

/* Queues the checked header block and what followed it, as room allows. */
static void
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

/* When the CGI is done (exited, stdout and stderr at EOF), ends r. */
static void
req_maybe_finish(struct req *r)
{
	const char	*errstr;

	if (!r->exited || r->out_fd != -1 || r->err_fd != -1)
		return;
	if (r->aborted) {
		req_end(r, req_app_status(r), FCGI_REQUEST_COMPLETE);
		return;
	}
	if (r->head_ok && r->head != NULL)
		return;
	if (!r->head_ok) {
		if (r->timed_out) {
			req_fail_http(r, 504, "timed out before the CGI "
			    "sent its headers");
			return;
		}
		if (r->head_len == 0)
			errstr = "the CGI ended without a response";
		else {
			struct cgi_response resp;

			(void)cgi_response_parse((const char *)r->head,
			    r->head_len, &resp, &errstr);
			if (errstr == NULL)
				errstr = "the CGI's headers ended early";
		}
		req_fail_http(r, 502, errstr);
		return;
	}
	if (r->timed_out)
		slog(LOG_WARNING, "%s: timed out after its headers: its "
		    "process group was stopped, and the response may be cut",
		    r->script);
	req_end(r, req_app_status(r), FCGI_REQUEST_COMPLETE);
}

/* Reads and drops what an aborted CGI still writes, until EOF. */
static void
req_drop_output(struct req *r, int *fd)
{
	uint8_t	 buf[8192];
	ssize_t	 n;

	n = read(*fd, buf, sizeof(buf));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		req_close_fd(r, fd);
		req_maybe_finish(r);
	}
}

/*
 * ABORT_REQUEST: a request whose CGI runs ends when the CGI, sent SIGTERM,
 * has exited, with its status; one still waiting ends at once.
 */
static void
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

static void
req_on_stdout(void *arg, int fd, int revents)
{
	struct req	*r = arg;
	struct conn	*c = r->conn;
	struct cgi_response resp;
	const char	*errstr;
	uint8_t		 padding;
	ssize_t		 n;
	long		 hl;

	(void)revents;
	if (r->aborted) {
		req_drop_output(r, &r->out_fd);
		return;
	}
	if (!r->head_ok) {
		if (r->head == NULL &&
		    (r->head = malloc(CGI_MAX_HEADER_BLOCK)) == NULL) {
			c->broken = 1;
			return;
		}
		n = read(fd, r->head + r->head_len,
		    CGI_MAX_HEADER_BLOCK - r->head_len);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			req_close_fd(r, &r->out_fd);
			req_maybe_finish(r);
			return;
		}
		r->head_len += (size_t)n;
		hl = cgi_response_parse((const char *)r->head, r->head_len,
		    &resp, &errstr);
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
		req_flush_head(r);
		req_update(r);
		conn_update(c);
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
	n = read(fd, c->wbuf + c->wlen + FCGI_HEADER_LEN, READ_CHUNK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		req_close_fd(r, &r->out_fd);
		req_maybe_finish(r);
		return;
	}
	fcgi_stream_header(c->wbuf + c->wlen, FCGI_STDOUT, r->id, (size_t)n,
	    0, &padding);
	memset(c->wbuf + c->wlen + FCGI_HEADER_LEN + n, 0, padding);
	c->wlen += FCGI_HEADER_LEN + (size_t)n + padding;
	r->stdout_sent = 1;
	req_update(r);
	conn_update(c);
}

static void
req_on_stderr(void *arg, int fd, int revents)
{
	struct req	*r = arg;
	uint8_t		 buf[8192];
	ssize_t		 n;

	(void)revents;
	if (r->aborted) {
		req_drop_output(r, &r->err_fd);
		return;
	}
	if (!r->conn->srv->cgi_stderr_own && !conn_has_room(r->conn)) {
		req_update(r);
		return;
	}
	n = read(fd, buf, sizeof(buf));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		req_close_fd(r, &r->err_fd);
		req_maybe_finish(r);
		return;
	}
	if (r->conn->srv->cgi_stderr_own) {
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
static void
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
		else
			ev_events(ev, r->in_fd, req_stdin_pending(r) ?
			    POLLOUT : 0);
	}
	/* Until its headers check, stdout goes to r->head, not the socket. */
	if (r->out_fd != -1)
		ev_events(ev, r->out_fd, r->aborted || !r->head_ok ||
		    (room && r->head == NULL) ? POLLIN : 0);
	if (r->err_fd != -1)
		ev_events(ev, r->err_fd, r->aborted || room ? POLLIN : 0);
}

static void
conn_free(struct conn *c)
{
	struct server	 *srv = c->srv;
	struct conn	**pp;

	while (c->reqs != NULL)
		req_free(c->reqs);
	ev_del(srv->ev, c->fd);
	close(c->fd);
	for (pp = &srv->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	srv->nconns--;
	if (c->resume)
		srv->nresume--;
	free(c->rbuf);
	free(c->wbuf);
	free(c);
	if (srv->listen_fd != -1 && !srv->stopping)
		ev_events(srv->ev, srv->listen_fd, POLLIN);
}

/* Closes a connection at once, killing its requests' CGIs (logged). */
static void
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
	shutdown(c->fd, SHUT_WR);
	c->draining = 1;
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
		if (nv.name_len == 14 && memcmp(nv.name, "FCGI_MAX_CONNS",
		    14) == 0)
			snprintf(val, sizeof(val), "%zu", srv->max_conns);
		else if (nv.name_len == 13 && memcmp(nv.name, "FCGI_MAX_REQS",
		    13) == 0)
			snprintf(val, sizeof(val), "%zu", srv->max_cgi);
		else if (nv.name_len == 15 && memcmp(nv.name,
		    "FCGI_MPXS_CONNS", 15) == 0)
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
 * Acts on one record.  Returns 0, or -1 when the connection was closed
 * (c is then gone).
 */
static int
conn_record(struct conn *c, const struct fcgi_record *rec)
{
	struct req	*r;
	const char	*errstr;
	uint16_t	 role;
	uint8_t		 flags, body[8];
	char		 why[96];

	if (rec->hdr.request_id == 0) {
		if (rec->hdr.type == FCGI_GET_VALUES)
			conn_answer_values(c, rec);
		else {
			fcgi_unknown_type_body(body, rec->hdr.type);
			(void)conn_queue(c, FCGI_UNKNOWN_TYPE, 0, body,
			    sizeof(body));
		}
		return 0;
	}
	r = req_find(c, rec->hdr.request_id);
	switch (rec->hdr.type) {
	case FCGI_BEGIN_REQUEST:
		if (r != NULL) {
			snprintf(why, sizeof(why), "BEGIN_REQUEST for request "
			    "%u, which is live", rec->hdr.request_id);
			conn_close(c, why);
			return -1;
		}
		if (c->closing) {
			conn_close(c, "BEGIN_REQUEST after a request without "
			    "FCGI_KEEP_CONN");
			return -1;
		}
		fcgi_begin_request_fields(rec, &role, &flags);
		if (role != FCGI_RESPONDER) {
			slog(LOG_WARNING, "%s: role %u refused "
			    "(FCGI_UNKNOWN_ROLE)", c->peer, role);
			fcgi_end_request_body(body, 0, FCGI_UNKNOWN_ROLE);
			(void)conn_queue(c, FCGI_END_REQUEST,
			    rec->hdr.request_id, body, sizeof(body));
			if (!(flags & FCGI_KEEP_CONN)) {
				c->closing = 1;
				c->await_stdin = rec->hdr.request_id;
			}
			return 0;
		}
		if ((r = calloc(1, sizeof(*r))) == NULL) {
			conn_close(c, "out of memory");
			return -1;
		}
		r->conn = c;
		r->id = rec->hdr.request_id;
		r->keep_conn = flags & FCGI_KEEP_CONN;
		r->in_fd = r->out_fd = r->err_fd = r->spool_fd = -1;
		r->deadline = now_ms() + c->srv->timeout_ms;
		r->next = c->reqs;
		c->reqs = r;
		return 0;
	case FCGI_PARAMS:
		if (r == NULL)
			return 0;
		if (r->state != REQ_PARAMS || r->envp != NULL) {
			conn_close(c, "PARAMS after the PARAMS stream ended");
			return -1;
		}
		if (rec->hdr.content_length == 0) {
			if (req_params_done(r) == -1) {
				conn_close(c, "malformed PARAMS stream");
				return -1;
			}
			return 0;
		}
		if (req_add_params(r, rec->content,
		    rec->hdr.content_length) == -1) {
			snprintf(why, sizeof(why), "PARAMS over %zu bytes",
			    c->srv->max_params);
			conn_close(c, why);
			return -1;
		}
		return 0;
	case FCGI_STDIN:
		if (r == NULL) {
			if (c->await_stdin == rec->hdr.request_id &&
			    rec->hdr.content_length == 0)
				c->await_stdin = 0;
			return 0;
		}
		if (r->envp == NULL) {
			conn_close(c, "STDIN before the PARAMS stream ended");
			return -1;
		}
		if (r->stdin_ended)
			return 0;
		if (rec->hdr.content_length == 0)
			r->stdin_ended = 1;
		else if (req_feed_stdin(r, rec->content,
		    rec->hdr.content_length, &errstr) == -1)
			return req_fail(r, 503, errstr);
		req_update(r);
		return 0;
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
		conn_close(c, why);
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

static void
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
	if (c->stalled && !blocked && !c->resume) {
		c->resume = 1;
		c->srv->nresume++;
	}
	if (!blocked)
		events |= POLLIN;
	if (c->wlen > 0)
		events |= POLLOUT;
	ev_events(c->srv->ev, c->fd, events);
}

static int	conn_process(struct conn *);

static void
conn_on_io(void *arg, int fd, int revents)
{
	struct conn		*c = arg;
	ssize_t			 n;
	struct req		*r, *next;

	c->last_active = now_ms();
	if (c->draining) {
		uint8_t	 sink[4096];

		n = read(fd, sink, sizeof(sink));
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			conn_close(c, NULL);
		return;
	}
	if (revents & POLLOUT) {
		n = send(fd, c->wbuf, c->wlen, MSG_NOSIGNAL);
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			conn_close(c, c->reqs ? "the web server hung up" :
			    NULL);
			return;
		}
		if (n > 0) {
			memmove(c->wbuf, c->wbuf + n, c->wlen - (size_t)n);
			c->wlen -= (size_t)n;
			for (r = c->reqs; r != NULL; r = next) {
				next = r->next;
				req_update(r);
			}
		}
	}
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
				conn_close(c, "truncated record at "
				    "end of connection");
			else
				conn_close(c, NULL);
			return;
		}
		c->rlen += (size_t)n;
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
static int
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
			conn_close(c, why);
			return -1;
		}
		if (len == 0)
			break;
		off += (size_t)len;
		if (conn_record(c, &rec) == -1)
			return -1;
	}
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
	return 0;
}

static int
peer_allowed(struct server *srv, const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6	*a6, *b6;
	const struct sockaddr_in	*a4, *b4;
	struct in_addr			 mapped;
	size_t				 i;

	if (srv->nallowed == 0 || ss->ss_family == AF_UNIX)
		return 1;
	for (i = 0; i < srv->nallowed; i++) {
		const struct sockaddr_storage *al = &srv->allowed[i];

		if (ss->ss_family == AF_INET6) {
			a6 = (const struct sockaddr_in6 *)ss;
			if (al->ss_family == AF_INET6) {
				b6 = (const struct sockaddr_in6 *)al;
				if (memcmp(&a6->sin6_addr, &b6->sin6_addr,
				    sizeof(b6->sin6_addr)) == 0)
					return 1;
			} else if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
				b4 = (const struct sockaddr_in *)al;
				memcpy(&mapped, &a6->sin6_addr.s6_addr[12], 4);
				if (mapped.s_addr == b4->sin_addr.s_addr)
					return 1;
			}
		} else if (ss->ss_family == AF_INET &&
		    al->ss_family == AF_INET) {
			a4 = (const struct sockaddr_in *)ss;
			b4 = (const struct sockaddr_in *)al;
			if (a4->sin_addr.s_addr == b4->sin_addr.s_addr)
				return 1;
		}
	}
	return 0;
}

static void
server_on_accept(void *arg, int fd, int revents)
{
	struct server		*srv = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	struct conn		*c;
	int			 s;

	(void)revents;
	while (srv->nconns < srv->max_conns) {
		len = sizeof(ss);
		s = accept4(fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				slog(LOG_ERR, "accept: %s", strerror(errno));
			return;
		}
		if (!peer_allowed(srv, &ss)) {
			char	 peer[64];

			addr_format_peer(&ss, peer, sizeof(peer));
			slog(LOG_WARNING, "%s: refused: not in "
			    "FCGI_WEB_SERVER_ADDRS", peer);
			close(s);
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    (c->rbuf = malloc(FCGI_MAX_RECORD)) == NULL ||
		    (c->wbuf = malloc(WBUF_SIZE)) == NULL) {
			slog(LOG_ERR, "accept: %s", strerror(errno));
			if (c != NULL)
				free(c->rbuf);
			free(c);
			close(s);
			return;
		}
		c->srv = srv;
		c->fd = s;
		c->wcap = WBUF_SIZE;
		c->last_active = now_ms();
		addr_format_peer(&ss, c->peer, sizeof(c->peer));
		if (ev_set(srv->ev, s, POLLIN, conn_on_io, c) == -1) {
			slog(LOG_ERR, "accept: out of memory");
			free(c->rbuf);
			free(c->wbuf);
			free(c);
			close(s);
			return;
		}
		c->next = srv->conns;
		srv->conns = c;
		srv->nconns++;
	}
	/* Full: leave the rest in the listen queue until one closes. */
	ev_events(srv->ev, fd, 0);
}

static void
server_stop(struct server *srv, const char *why)
{
	struct conn	*c, *next;

	if (srv->stopping)
		return;
	slog(LOG_INFO, "%s: no longer accepting; %zu CGIs running", why,
	    srv->nbusy);
	srv->stopping = 1;
	srv->stop_at = now_ms() + srv->grace_ms;
	if (srv->listen_fd != -1) {
		ev_del(srv->ev, srv->listen_fd);
		close(srv->listen_fd);
		srv->listen_fd = -1;
	}
	if (srv->unix_path[0] != '\0')
		unlink(srv->unix_path);
	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		if (c->reqs == NULL && c->wlen == 0)
			conn_close(c, NULL);
	}
}

static void
server_on_signal(void *arg, int fd, int revents)
{
	struct server			*srv = arg;
	struct signalfd_siginfo		 si[8];
	ssize_t				 n;
	size_t				 i;

	(void)revents;
	/* Pending signals of one kind are one: a short read drained them. */
	do {
		n = read(fd, si, sizeof(si));
		for (i = 0; n > 0 && i < (size_t)n / sizeof(si[0]); i++) {
			if (si[i].ssi_signo == SIGTERM)
				server_stop(srv, "SIGTERM");
			else if (si[i].ssi_signo == SIGINT)
				server_stop(srv, "SIGINT");
		}
	} while (n == (ssize_t)sizeof(si));
}

/* SIGKILL at the end of the grace time; CGIs that become long-running. */
static void
server_tick_children(struct server *srv, long long now)
{
	struct child	*ch, *next;

	for (ch = srv->children; ch != NULL; ch = next) {
		next = ch->next;
		if (ch->busy && !ch->long_running &&
		    now * 1000 - ch->started_us >= LONG_CGI_MS * 1000LL) {
			ch->long_running = 1;
			srv->nlong++;
			server_dispatch_soon(srv);
		}
		if (ch->kill_at != 0 && now >= ch->kill_at) {
			child_signal(ch, SIGKILL);
			ch->kill_at = 0;
			ch->killed_at = now;
			child_settle(ch);
		}
	}
}

/*
 * A request whose CGI's process group got SIGKILL a tick ago: a pipe still
 * open with nothing in it is held by a process outside the group, and is
 * closed; a CGI that has not exited even so (stuck in the kernel) is left
 * to be reaped whenever it ends.  r may be gone on return.
 */
static void
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
static void
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

/* The deadlines of a connection's requests. */
static void
conn_tick_requests(struct conn *c, long long now)
{
	struct req	*r, *next;

	for (r = c->reqs; r != NULL; r = next) {
		next = r->next;
		if (!r->timed_out && now >= r->deadline) {
			req_time_out(r);
			continue;
		}
		if (r->giving_up || (r->cgi != NULL && r->cgi->killed_at != 0 &&
		    now >= r->cgi->killed_at + TICK_MS)) {
			r->giving_up = 1;
			req_give_up(r);
			continue;
		}
		if (r->cgi != NULL && r->linger_until != 0 &&
		    now >= r->linger_until) {
			r->linger_until = 0;
			if (r->cgi->kill_at != 0 || r->cgi->killed_at != 0)
				continue;
			slog(LOG_WARNING, "%s: the CGI exited %d s ago, but a "
			    "process it started still holds its output open: "
			    "stopping its process group", r->script,
			    LINGER_MS / 1000);
			child_stop(r->cgi, 0);
		}
	}
}

/* Deadlines: of CGIs, of requests, of idle and draining connections. */
static void
server_tick(struct server *srv)
{
	struct conn	*c, *cnext;
	long long	 now = now_ms();

	server_tick_children(srv, now);
	for (c = srv->conns; c != NULL; c = cnext) {
		cnext = c->next;
		if (c->broken) {
			conn_close(c, "out of memory");
			continue;
		}
		if (c->draining) {
			if (now >= c->drain_until)
				conn_close(c, NULL);
			continue;
		}
		if (c->reqs == NULL && (now - c->last_active >= srv->idle_ms ||
		    (srv->stopping && c->wlen == 0))) {
			conn_close(c, srv->stopping ? NULL : "idle");
			continue;
		}
		conn_tick_requests(c, now);
	}
	if (srv->stopping && now >= srv->stop_at)
		for (c = srv->conns; c != NULL; c = cnext) {
			cnext = c->next;
			conn_close(c, "still running at the end of the grace "
			    "period");
		}
}

/*
 * Work that must not run inside the callbacks that make it due, where the
 * connection or request being handled could be freed under them: starting
 * queued requests once slots are free, and acting on the records that a
 * connection read while one of its requests held it back.
 */
static void
server_run_deferred(struct server *srv)
{
	struct conn	*c, *next;

	while (srv->dispatch_due || srv->nresume > 0) {
		if (srv->dispatch_due) {
			srv->dispatch_due = 0;
			server_dispatch_queue(srv);
		}
		for (c = srv->conns; c != NULL && srv->nresume > 0; c = next) {
			next = c->next;
			if (!c->resume)
				continue;
			c->resume = 0;
			srv->nresume--;
			if (conn_process(c) == 0)
				conn_update(c);
		}
	}
}

static int
parse_allowed(struct server *srv, const char *list)
{
	char	*copy, *tok, *save;
	struct sockaddr_storage *ss;

	if ((copy = strdup(list)) == NULL)
		return -1;
	for (tok = strtok_r(copy, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		ss = reallocarray(srv->allowed, srv->nallowed + 1,
		    sizeof(*ss));
		if (ss == NULL)
			goto fail;
		srv->allowed = ss;
		ss = &srv->allowed[srv->nallowed];
		memset(ss, 0, sizeof(*ss));
		if (inet_pton(AF_INET, tok,
		    &((struct sockaddr_in *)ss)->sin_addr) == 1)
			ss->ss_family = AF_INET;
		else if (inet_pton(AF_INET6, tok,
		    &((struct sockaddr_in6 *)ss)->sin6_addr) == 1)
			ss->ss_family = AF_INET6;
		else {
			warnx("FCGI_WEB_SERVER_ADDRS: %s is not an IP "
			    "address", tok);
			goto fail;
		}
		srv->nallowed++;
	}
	free(copy);
	return 0;
fail:
	free(copy);
	return -1;
}

static int
is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr)
		    >> 24) == 127;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(
		    &((const struct sockaddr_in6 *)ss)->sin6_addr);
	return 1;
}

/*
 * serve needs pidfds that waitid(2) takes (Linux 5.4): a zombie is the
 * only thing that keeps a CGI's process group ID from reuse until the last
 * signal to the group is sent, and only through a pidfd can the status of
 * one exited CGI be read without reaping it.
 */
static int
pidfd_check(void)
{
	siginfo_t	 si;
	int		 fd;

	if ((fd = (int)syscall(SYS_pidfd_open, getpid(), 0)) == -1) {
		warn("serve needs Linux 5.4 or later: pidfd_open");
		return -1;
	}
	/* Not our child: ECHILD where P_PIDFD is known, EINVAL where not. */
	if (waitid(P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) == -1 &&
	    errno == EINVAL) {
		warnx("serve needs Linux 5.4 or later: waitid P_PIDFD");
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static void
usage_serve(FILE *f)
{
	fprintf(f, "usage: fcgi-bridge serve [-E] [-c n] [-e name=value] "
	    "[-g group] [-G group]\n"
	    "\t[-l stderr|syslog] [-m mode] [-P name] [-q n] [-r dir] "
	    "[-s address]\n"
	    "\t[-t seconds] [-u user] [-U user] [--allow-root] "
	    "[--grace seconds]\n"
	    "\t[--idle seconds] [--max-conns n] [--max-params bytes] "
	    "[--no-adapt]\n"
	    "\t[-- program [arg ...]]\n");
}

enum serve_longopt {
	OPT_ALLOW_ROOT = 256,
	OPT_GRACE,
	OPT_IDLE,
	OPT_MAX_CONNS,
	OPT_MAX_PARAMS,
	OPT_NO_ADAPT
};

int
cmd_serve(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "allow-root", no_argument, NULL, OPT_ALLOW_ROOT },
		{ "grace", required_argument, NULL, OPT_GRACE },
		{ "idle", required_argument, NULL, OPT_IDLE },
		{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
		{ "max-params", required_argument, NULL, OPT_MAX_PARAMS },
		{ "no-adapt", no_argument, NULL, OPT_NO_ADAPT },
		{ NULL, 0, NULL, 0 }
	};
	struct server	 srv;
	struct passwd	*pw;
	long long	 num;
	double		 d;
	struct addr	 a;
	sigset_t	 sigs;
	char		 errbuf[600], real[PATH_MAX], *user = NULL;
	char		*group = NULL, *sock_user = NULL, *sock_group = NULL;
	const char	*address = NULL, *webaddrs;
	mode_t		 mode = 0;
	uid_t		 uid = (uid_t)-1, sock_uid = (uid_t)-1;
	gid_t		 gid = (gid_t)-1, sock_gid = (gid_t)-1;
	int		 ch, allow_root = 0, wait, rc;
	size_t		 i;

	memset(&srv, 0, sizeof(srv));
	srv.listen_fd = srv.sig_fd = srv.self_stat_fd = -1;
	srv.max_cgi = 32;
	srv.adapt = 1;
	srv.max_queue = 256;
	srv.max_conns = 1024;
	srv.max_params = 1024 * 1024;
	srv.timeout_ms = 60 * 1000;
	srv.idle_ms = 60 * 1000;
	srv.grace_ms = 10 * 1000;
	if ((srv.roots = calloc(argc, sizeof(char *))) == NULL ||
	    (srv.extra_env = calloc(argc, sizeof(char *))) == NULL)
		err(EX_OSERR, NULL);

	while ((ch = getopt_long(argc, argv, "+c:e:Eg:G:hl:m:P:q:r:s:t:u:U:",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			if (opt_count("-c", optarg, 100000, &num) == -1)
				goto usage;
			srv.max_cgi = (size_t)num;
			break;
		case 'e':
			if (strchr(optarg, '=') == NULL || *optarg == '=') {
				warnx("-e %s: expected NAME=VALUE", optarg);
				goto usage;
			}
			if ((srv.extra_env[srv.nextra_env++] =
			    strdup(optarg)) == NULL)
				err(EX_OSERR, NULL);
			break;
		case 'E':
			srv.cgi_stderr_own = 1;
			break;
		case 'g':
			group = optarg;
			break;
		case 'G':
			sock_group = optarg;
			break;
		case 'h':
			usage_serve(stdout);
			rc = 0;
			goto done;
		case 'l':
			if (strcmp(optarg, "syslog") == 0)
				srv.use_syslog = 1;
			else if (strcmp(optarg, "stderr") != 0) {
				warnx("-l %s: expected stderr or syslog",
				    optarg);
				goto usage;
			}
			break;
		case 'm':
			if (opt_mode("-m", optarg, &mode) == -1)
				goto usage;
			break;
		case 'P': {
			const char	*v = getenv(optarg);
			char		*kv;

			if (v == NULL)
				break;
			if (asprintf(&kv, "%s=%s", optarg, v) == -1)
				err(EX_OSERR, NULL);
			srv.extra_env[srv.nextra_env++] = kv;
			break;
		}
		case 'q':
			if (opt_count("-q", optarg, 1000000, &num) == -1)
				goto usage;
			srv.max_queue = (size_t)num;
			break;
		case 'r':
			if (realpath(optarg, real) == NULL) {
				warn("-r %s", optarg);
				goto usage;
			}
			if ((srv.roots[srv.nroots++] = strdup(real)) == NULL)
				err(EX_OSERR, NULL);
			break;
		case 's':
			address = optarg;
			break;
		case 't':
			if (opt_number("-t", optarg, 0, 86400, &d) == -1)
				goto usage;
			srv.timeout_ms = (long long)(d * 1000);
			break;
		case 'u':
			user = optarg;
			break;
		case 'U':
			sock_user = optarg;
			break;
		case OPT_ALLOW_ROOT:
			allow_root = 1;
			break;
		case OPT_GRACE:
			if (opt_number("--grace", optarg, 0, 86400, &d) == -1)
				goto usage;
			srv.grace_ms = (long long)(d * 1000);
			break;
		case OPT_IDLE:
			if (opt_number("--idle", optarg, 0, 86400, &d) == -1)
				goto usage;
			srv.idle_ms = (long long)(d * 1000);
			break;
		case OPT_MAX_CONNS:
			if (opt_count("--max-conns", optarg, 100000, &num) == -1)
				goto usage;
			srv.max_conns = (size_t)num;
			break;
		case OPT_MAX_PARAMS:
			if (opt_count("--max-params", optarg, 1 << 30, &num) == -1)
				goto usage;
			srv.max_params = (size_t)num;
			break;
		case OPT_NO_ADAPT:
			srv.adapt = 0;
			break;
		default:
			usage_serve(stderr);
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	/*
	 * Whatever descriptors we were started with, but a systemd socket at
	 * 3 that is ours to take, must not reach a CGI.
	 */
	closefrom(address == NULL && addr_systemd_socket() ? 4 : 3);
	if (argc > 0)
		srv.fixed_argv = argv;
	else if (srv.nroots == 0) {
		warnx("serve: nothing to run: give -r DIR for the scripts "
		    "that SCRIPT_FILENAME names, or -- PROGRAM");
		usage_serve(stderr);
		goto usage;
	}
	/* Found now: the CGI's working directory is not ours. */
	if (srv.fixed_argv != NULL &&
	    (realpath(srv.fixed_argv[0], real) == NULL ||
	    access(real, X_OK) == -1 ||
	    (srv.fixed_program = strdup(real)) == NULL)) {
		warn("%s", srv.fixed_argv[0]);
		goto usage;
	}
	if (user != NULL) {
		if (user_lookup(user, &pw) == -1)
			goto usage;
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (group != NULL && group_lookup(group, &gid) == -1)
		goto usage;
	if (sock_user != NULL) {
		if (user_lookup(sock_user, &pw) == -1)
			goto usage;
		sock_uid = pw->pw_uid;
	}
	if (sock_group != NULL && group_lookup(sock_group, &sock_gid) == -1)
		goto usage;
	if ((user != NULL ? uid : geteuid()) == 0 && !allow_root) {
		warnx("serve: CGIs would run as root: give -u USER, or "
		    "--allow-root");
		goto usage;
	}
	if ((webaddrs = getenv("FCGI_WEB_SERVER_ADDRS")) != NULL &&
	    parse_allowed(&srv, webaddrs) == -1)
		goto usage;
	log_to_syslog = srv.use_syslog;
	if (log_to_syslog)
		openlog("fcgi-bridge", LOG_PID | LOG_NDELAY, LOG_DAEMON);

	if (address != NULL) {
		if (addr_parse(address, &a, errbuf, sizeof(errbuf)) == -1) {
			warnx("%s", errbuf);
			goto usage;
		}
		if (std_fds_open() == -1)
			err(EX_OSERR, "/dev/null");
		srv.listen_fd = addr_listen(&a, 1024, mode, sock_uid, sock_gid,
		    errbuf, sizeof(errbuf));
		if (srv.listen_fd == -1) {
			warnx("%s", errbuf);
			rc = EX_UNAVAILABLE;
			goto done;
		}
		if (addr_is_unix(&a))
			strlcpy(srv.unix_path, ((struct sockaddr_un *)
			    &a.ss[0])->sun_path, sizeof(srv.unix_path));
		else if (srv.nallowed == 0 && !is_loopback(&a.ss[0]))
			slog(LOG_WARNING, "%s: listening beyond loopback "
			    "without FCGI_WEB_SERVER_ADDRS: any host may "
			    "run CGIs", address);
	} else if ((srv.listen_fd = addr_inherited_listener()) == -1) {
		warnx("serve: no -s ADDRESS, and no listening socket on fd 0 "
		    "or from systemd (LISTEN_FDS)");
		usage_serve(stderr);
		goto usage;
	} else {
		/* fd 0 was the socket: the CGIs' stdin comes from pipes. */
		if (srv.listen_fd == 0) {
			int	 moved = fcntl(0, F_DUPFD_CLOEXEC, 3);

			if (moved == -1 || close(0) == -1 ||
			    open("/dev/null", O_RDONLY) != 0)
				err(EX_OSERR, "moving the inherited socket");
			srv.listen_fd = moved;
		}
		if (std_fds_open() == -1)
			err(EX_OSERR, "/dev/null");
	}

	if (gid != (gid_t)-1 && (setgroups(1, &gid) == -1 ||
	    setgid(gid) == -1))
		err(EX_OSERR, "setgid %u", (unsigned int)gid);
	if (uid != (uid_t)-1 && setuid(uid) == -1)
		err(EX_OSERR, "setuid %u", (unsigned int)uid);

	/* CGIs are waited for through pidfds (child_on_exit): SIGCHLD must
	 * not be ignored, which would reap them before their status is read. */
	if (signal(SIGCHLD, SIG_DFL) == SIG_ERR || pidfd_check() == -1)
		goto usage;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL) == -1 ||
	    (srv.sig_fd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) ==
	    -1)
		err(EX_OSERR, "signalfd");
	if ((srv.ev = ev_new()) == NULL ||
	    ev_set(srv.ev, srv.sig_fd, POLLIN, server_on_signal, &srv) == -1 ||
	    ev_set(srv.ev, srv.listen_fd, POLLIN, server_on_accept, &srv) == -1)
		err(EX_OSERR, "event loop");

	srv.spool_dir = getenv("TMPDIR");
	if (srv.spool_dir == NULL || *srv.spool_dir != '/')
		srv.spool_dir = "/tmp";
	srv.ncpu = cpus_usable();
	srv.self_stat_fd = open("/proc/self/schedstat", O_RDONLY | O_CLOEXEC);
	slog(LOG_INFO, "listening on %s, up to %zu CGIs at once, %s",
	    address ? address : "an inherited socket", srv.max_cgi,
	    srv.fixed_argv ? srv.fixed_argv[0] : "scripts under -r");
	while (!srv.stopping || srv.conns != NULL || srv.children != NULL) {
		wait = srv.conns != NULL || srv.children != NULL ? TICK_MS : -1;
		if (ev_run_once(srv.ev, wait) == -1)
			err(EX_OSERR, "epoll_wait");
		if (now_ms() - srv.last_tick >= TICK_MS) {
			server_tick(&srv);
			srv.last_tick = now_ms();
		}
		server_run_deferred(&srv);
		if (srv.stopping && srv.conns == NULL && srv.children != NULL &&
		    now_ms() >= srv.stop_at + KILL_GRACE_MS) {
			struct child *c;

			for (c = srv.children; c != NULL; c = c->next)
				child_signal(c, SIGKILL);
		}
	}
	slog(LOG_INFO, "stopped");
	rc = 0;
	goto done;
usage:
	rc = EX_USAGE;
done:
	if (srv.self_stat_fd != -1)
		close(srv.self_stat_fd);
	ev_free(srv.ev);
	if (srv.sig_fd != -1)
		close(srv.sig_fd);
	if (srv.listen_fd != -1)
		close(srv.listen_fd);
	for (i = 0; i < srv.nroots; i++)
		free(srv.roots[i]);
	free(srv.roots);
	for (i = 0; i < srv.nextra_env; i++)
		free(srv.extra_env[i]);
	free(srv.extra_env);
	free(srv.allowed);
	free(srv.fixed_program);
	return rc;
}
