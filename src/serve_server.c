/*
 * serve: the loop.  It accepts connections (from allowed peers, within
 * --max-conns), reads the signals that stop serve, runs the tick that
 * times things out, and the work that the callbacks defer to a safe point
 * (server_run_deferred).  It ends when serve has stopped and its last
 * connection and CGI are gone.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <syslog.h>
#include <sysexits.h>
#include <unistd.h>

#include "addr.h"
#include "ev.h"
#include "serve_internal.h"
#include "util.h"

static struct log_limit	 accept_log;

/* Descriptors that serve needs whatever its load: the standard three, the
 * listener, epoll, the signalfd, /proc/self/schedstat, /dev/null, and some
 * slack. */
#define FD_RESERVE	16
/* A running CGI's: three pipe ends, its pidfd, a spooled body. */
#define FD_PER_CGI	5

/*
 * Shares the descriptor limit, read again at every tick (it can be changed
 * under a running serve with prlimit), between connections and CGIs, so
 * that accepted connections never leave no descriptor to start their
 * CGIs with: connections get what -c CGIs leave, but at least half.
 */
void
server_fd_budget(struct server *srv)
{
	const struct serve_config *cfg = srv->cfg;
	struct rlimit	 rl;
	size_t		 spare, conns, cgis;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY)
		rl.rlim_cur = 1 << 20;
	spare = rl.rlim_cur > FD_RESERVE ? rl.rlim_cur - FD_RESERVE : 0;
	conns = spare > FD_PER_CGI * cfg->max_cgi + 8 ?
	    spare - FD_PER_CGI * cfg->max_cgi - 8 : 0;
	if (conns < spare / 2)
		conns = spare / 2;
	if (conns > cfg->max_conns)
		conns = cfg->max_conns;
	cgis = (spare - conns) / FD_PER_CGI;
	if (cgis > cfg->max_cgi)
		cgis = cfg->max_cgi;
	conns = conns > 0 ? conns : 1;
	cgis = cgis > 0 ? cgis : 1;
	if ((conns < cfg->max_conns || cgis < cfg->max_cgi) &&
	    (conns != srv->max_conns || cgis != srv->sched.max))
		slog(LOG_WARNING, "the descriptor limit, %llu, allows %zu "
		    "connections and %zu CGIs at once", (unsigned long long)
		    rl.rlim_cur, conns, cgis);
	srv->max_conns = conns;
	sched_set_max(&srv->sched, cgis);
}

/* Deferred to the loop's next turn: see server_run_deferred. */
void
server_dispatch_soon(struct server *srv)
{
	srv->dispatch_due = 1;
}

/*
 * One connection a turn of the loop: the listener is level-triggered, so
 * while more wait the next turn takes the next, and no accept is made
 * only to learn that none is left.
 */
void
server_on_accept(void *arg, int fd, int revents)
{
	struct server		*srv = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	char			 peer[64];
	int			 s;

	(void)revents;
	s = accept4(fd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (s == -1 && (errno == EMFILE || errno == ENFILE ||
	    errno == ENOBUFS || errno == ENOMEM)) {
		/* Watched on, it would wake the loop at once, again and
		 * again.  The tick tries again. */
		slog_limited(&accept_log, LOG_ERR, "accept: %s: the others "
		    "wait in the listen queue", strerror(errno));
		srv->accept_paused = 1;
		ev_events(srv->ev, fd, 0);
		return;
	}
	if (s == -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			slog(LOG_ERR, "accept: %s", strerror(errno));
		return;
	}
	if (!addr_peer_allowed(srv->allowed, srv->nallowed, &ss)) {
		addr_format_peer(&ss, peer, sizeof(peer));
		slog(LOG_WARNING, "%s: refused: not in FCGI_WEB_SERVER_ADDRS",
		    peer);
		close(s);
		return;
	}
	(void)conn_new(srv, s, &ss);
	/* Full: leave the rest in the listen queue until one closes. */
	if (srv->nconns >= srv->max_conns)
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
	srv->stop_at = now_ms() + srv->cfg->grace_ms;
	if (srv->listener.fd != -1) {
		ev_del(srv->ev, srv->listener.fd);
		close(srv->listener.fd);
		srv->listener.fd = -1;
	}
	if (srv->listener.unix_path[0] != '\0')
		unlink(srv->listener.unix_path);
	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		if (c->reqs == NULL && c->wlen == 0)
			conn_close(c, NULL);
	}
}

void
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

/* Deadlines: of CGIs, of connections and their requests, of shut-down. */
static void
server_tick(struct server *srv)
{
	struct conn	*c, *next;
	long long	 now = now_ms();

	server_fd_budget(srv);
	if (srv->accept_paused && srv->listener.fd != -1) {
		srv->accept_paused = 0;
		ev_events(srv->ev, srv->listener.fd, POLLIN);
	}
	server_dispatch_soon(srv);
	child_tick(srv, now);
	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		conn_tick(c, now);
	}
	if (srv->stopping && now >= srv->stop_at)
		for (c = srv->conns; c != NULL; c = next) {
			next = c->next;
			conn_close(c, "still running at the end of the grace "
			    "period");
		}
}

/*
 * Work that must not run inside the callbacks that make it due, where the
 * connection or request being handled could be freed under them: starting
 * queued requests once slots are free, acting on the records that a
 * connection read while one of its requests held it back, and sending
 * what was queued to send.
 */
static void
server_run_deferred(struct server *srv)
{
	struct conn	*c;
	int		 resume, close_due;

	while (srv->dispatch_due || srv->due != NULL) {
		if (srv->dispatch_due) {
			srv->dispatch_due = 0;
			req_dispatch_queue(srv);
		}
		while ((c = srv->due) != NULL) {
			/* Off the list, and so its flags are cleared. */
			srv->due = c->due_next;
			resume = c->resume;
			close_due = c->close_due;
			c->resume = c->flush_due = c->close_due = 0;
			if (close_due) {
				conn_close(c, NULL);
				continue;
			}
			if (resume && conn_process(c) == -1)
				continue;
			if (c->resume || c->flush_due || c->close_due)
				continue;	/* due again: its turn comes */
			if (c->wlen > 0 && !c->want_write && conn_send(c) == -1)
				continue;
			conn_update(c);
		}
	}
}

/*
 * One turn of the loop: the events ready within wait_ms (-1: no limit),
 * the tick when it is due, then the deferred work.
 */
void
server_turn(struct server *srv, int wait_ms)
{
	if (ev_run_once(srv->ev, wait_ms) == -1)
		err(EX_OSERR, "epoll_wait");
	if (now_ms() - srv->last_tick >= TICK_MS) {
		server_tick(srv);
		srv->last_tick = now_ms();
	}
	server_run_deferred(srv);
}

/*
 * Runs until serve has stopped (SIGTERM, SIGINT) and its last connection
 * and CGI are gone.
 */
void
server_run(struct server *srv)
{
	while (!srv->stopping || srv->conns != NULL || srv->children != NULL)
		server_turn(srv, srv->conns != NULL || srv->children != NULL ?
		    TICK_MS : -1);
}
