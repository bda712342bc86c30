/*
 * serve: CGI processes, from their start to their reaping.  A CGI runs in
 * a process group of its own, so that stopping it reaches whatever it
 * started too.  It is waited for through a pidfd: its exit is an event of
 * the loop, its status is read without reaping it, and it is reaped only
 * once no signal to its group can be due (struct child).
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "ev.h"
#include "serve_internal.h"
#include "util.h"

/* Sends a signal to a CGI's process group, which it leads. */
static void
child_signal(struct child *ch, int sig)
{
	if (kill(-ch->pid, sig) == -1)
		(void)kill(ch->pid, sig);
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
	ev_close(srv->ev, ch->pidfd);
	for (pp = &srv->children; *pp != ch; pp = &(*pp)->next)
		;
	*pp = ch->next;
	free(ch);
}

/* Its request hears no more from the CGI.  ch may be gone on return. */
void
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
 * (once), SIGKILL when the grace time is over (child_tick), and, with
 * detach, its request hears no more from it.  ch may be gone on return
 * when detached.
 */
void
child_stop(struct child *ch, int detach)
{
	if (ch->kill_at == 0 && ch->killed_at == 0) {
		child_signal(ch, SIGTERM);
		ch->kill_at = now_ms() + KILL_GRACE_MS;
	}
	if (detach)
		child_detach(ch);
}

/*
 * A CGI exited: its status is read, but it is not reaped yet (see struct
 * child).  Its request ends once its output has ended too.  A process it
 * left running with its output open gets LINGER_MS more to finish, and
 * then the CGI's process group is stopped (req_tick): without that, a
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
	    -1 || si.si_pid == 0) {
		ev_events(srv->ev, fd, POLLIN);	/* not yet after all */
		return;
	}
	ch->exited = 1;
	if (si.si_code == CLD_EXITED)
		ch->status = W_EXITCODE(si.si_status, 0);
	else
		ch->status = W_EXITCODE(0, si.si_status);
	sched_learn(&srv->sched, ch->pid, ch->started_us);
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
 * Signals that a CGI must get at their default action.  serve sets none
 * to a handler, and SIGPIPE it blocks rather than ignores (serve_open), so
 * only these, when serve was started with them ignored, need a reset in
 * the child: a supervisor may ignore SIGHUP, a shell SIGINT and SIGQUIT
 * for a job in the background.
 */
static const int child_default_signals[] = {
	SIGTERM, SIGINT, SIGHUP, SIGQUIT
};
#define NSIGNALS_DEFAULT	(sizeof(child_default_signals) / \
				    sizeof(child_default_signals[0]))

/* How CGIs start (child_spawn_init), and what each way needs. */
static enum spawn_mode	 spawn_mode;
static int		 child_reset_signals[NSIGNALS_DEFAULT];
static size_t		 child_nreset;
static char		*clone_stack;		/* SPAWN_CLONE */
#define CLONE_STACK_SIZE	(256 * 1024)
static posix_spawnattr_t spawn_attr;		/* SPAWN_POSIX */

/* What the child of clone needs, and what it says back. */
struct spawn_args {
	const struct serve_config *cfg;
	const char	*program;
	char		**argv;
	char		**envp;
	const char	*cwd;
	const int	*fds;
	int		 error;		/* errno of a failed set-up or execve */
};

/*
 * The child of clone, on clone_stack, in serve's memory until execve:
 * system calls only, and its errno left in a->error when one fails.
 * serve is suspended meanwhile (CLONE_VFORK), and no signal can run a
 * handler here, as serve installs none (it reads its signals from a
 * signalfd).
 */
static int
spawn_child(void *arg)
{
	struct spawn_args	*a = arg;
	sigset_t		 none;
	size_t			 i;
	int			 fd;

	for (fd = 0; fd < 3; fd++)
		if (dup2(a->fds[fd], fd) == -1)
			goto fail;
	if (setpgid(0, 0) == -1 || chdir(a->cwd) == -1)
		goto fail;
	for (i = 0; i < child_nreset; i++)
		if (signal(child_reset_signals[i], SIG_DFL) == SIG_ERR)
			goto fail;
	for (i = 0; i < a->cfg->nlimits; i++)
		if (setrlimit(a->cfg->limits[i].resource,
		    &a->cfg->limits[i].value) == -1)
			goto fail;
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) == -1)
		goto fail;
	execve(a->program, a->argv, a->envp);
fail:
	a->error = errno;
	_exit(127);
}

/*
 * clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD): the child borrows serve's
 * memory, on a stack of its own, until execve, and makes the dozen system
 * calls of spawn_child where posix_spawn's child makes nearly two hundred
 * (it resets the action of every signal); its pidfd comes with it.  glibc
 * has no wrapper of clone3 for CLONE_CLEAR_SIGHAND, and a raw clone3 that
 * shares memory needs its entry written in assembly: with no handler to
 * clear, clone does the same.  Returns 0 with *pid and *pidfd, or an
 * errno value: the child's own when its set-up or execve failed.
 */
static int
spawn_clone(struct spawn_args *a, pid_t *pid, int *pidfd)
{
	*pid = clone(spawn_child, clone_stack + CLONE_STACK_SIZE,
	    CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, a, pidfd);
	if (*pid == -1)
		return errno;
	if (a->error != 0) {
		(void)waitpid(*pid, NULL, 0);
		close(*pidfd);
	}
	return a->error;
}

/*
 * posix_spawn, where clone is refused.  It has no resource limits: they
 * are set with prlimit once posix_spawn is back, when the CGI has already
 * been executed, so the program runs without them for that moment (see
 * -L in the manual).  Returns as spawn_clone does.
 */
static int
spawn_posix(struct spawn_args *a, pid_t *pid, int *pidfd)
{
	posix_spawn_file_actions_t	 fa;
	size_t				 i;
	int				 rc, fd;

	*pid = -1;
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		return rc;
	for (fd = 0; fd < 3 && rc == 0; fd++)
		rc = posix_spawn_file_actions_adddup2(&fa, a->fds[fd], fd);
	if (rc == 0)
		rc = posix_spawn_file_actions_addchdir_np(&fa, a->cwd);
	if (rc == 0)
		rc = posix_spawn(pid, a->program, &fa, &spawn_attr, a->argv,
		    a->envp);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		*pid = -1;
		return rc;
	}
	if ((*pidfd = (int)syscall(SYS_pidfd_open, *pid, 0)) == -1)
		rc = errno;
	for (i = 0; i < a->cfg->nlimits && rc == 0; i++)
		if (prlimit(*pid, a->cfg->limits[i].resource,
		    &a->cfg->limits[i].value, NULL) == -1)
			rc = errno;
	if (rc != 0) {
		(void)kill(-*pid, SIGKILL);
		(void)waitpid(*pid, NULL, 0);
		if (*pidfd != -1)
			close(*pidfd);
		*pid = -1;
	}
	return rc;
}

/*
 * Starts program with fds as its descriptors 0, 1 and 2, in the directory
 * cwd, in a process group of its own, with no signal blocked, those of
 * child_default_signals at their default action and the resource limits
 * of -L.  Returns 0 with *pid and *pidfd, or an errno value, with *pid -1
 * when no process could be made (posix_spawn does not tell that from a
 * failed execve).
 */
static int
child_spawn(const struct serve_config *cfg, const char *program, char **argv,
    char **envp, const char *cwd, const int fds[3], pid_t *pid, int *pidfd)
{
	struct spawn_args	 a = { cfg, program, argv, envp, cwd, fds, 0 };

	if (spawn_mode == SPAWN_POSIX)
		return spawn_posix(&a, pid, pidfd);
	return spawn_clone(&a, pid, pidfd);
}

/* The probe of clone at start-up: a child that only exits. */
static int
spawn_probe_child(void *arg)
{
	(void)arg;
	_exit(0);
}

/* Whether clone, as spawn_clone calls it, is allowed here: 0, or errno. */
static int
spawn_clone_probe(void)
{
	pid_t	 pid;
	int	 pidfd;

	pid = clone(spawn_probe_child, clone_stack + CLONE_STACK_SIZE,
	    CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, NULL, &pidfd);
	if (pid == -1)
		return errno;
	(void)waitpid(pid, NULL, 0);
	close(pidfd);
	return 0;
}

/* posix_spawn's attributes, the same for every CGI: see child_spawn. */
static int
spawn_attr_init(void)
{
	sigset_t	 none, reset;
	size_t		 i;
	int		 rc;

	sigemptyset(&none);
	sigemptyset(&reset);
	for (i = 0; i < child_nreset; i++)
		sigaddset(&reset, child_reset_signals[i]);
	if ((rc = posix_spawnattr_init(&spawn_attr)) != 0 ||
	    (rc = posix_spawnattr_setflags(&spawn_attr, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) != 0 ||
	    (rc = posix_spawnattr_setpgroup(&spawn_attr, 0)) != 0 ||
	    (rc = posix_spawnattr_setsigmask(&spawn_attr, &none)) != 0 ||
	    (rc = posix_spawnattr_setsigdefault(&spawn_attr, &reset)) != 0)
		return rc;
	return 0;
}

/*
 * Chooses how CGIs start, once, at start-up, with serve's signals already
 * set: clone unless mode says posix_spawn, or unless clone is refused
 * here (a seccomp filter, a sandbox) and mode leaves the choice to serve.
 * Returns 0, or -1 (said).
 */
int
child_spawn_init(enum spawn_mode mode)
{
	struct sigaction	 sa;
	size_t			 i;
	int			 rc;

	child_nreset = 0;
	for (i = 0; i < NSIGNALS_DEFAULT; i++)
		if (sigaction(child_default_signals[i], NULL, &sa) == -1 ||
		    sa.sa_handler != SIG_DFL)
			child_reset_signals[child_nreset++] =
			    child_default_signals[i];
	spawn_mode = mode;
	if (mode != SPAWN_POSIX) {
		clone_stack = mmap(NULL, CLONE_STACK_SIZE, PROT_READ |
		    PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (clone_stack == MAP_FAILED) {
			warn("serve: a stack for clone");
			return -1;
		}
		if ((rc = spawn_clone_probe()) == 0) {
			spawn_mode = SPAWN_CLONE;
			return 0;
		}
		if (mode == SPAWN_CLONE) {
			warnx("serve: --spawn clone: clone refused: %s",
			    strerror(rc));
			return -1;
		}
		slog(LOG_WARNING, "clone refused (%s): CGIs start with "
		    "posix_spawn", strerror(rc));
		(void)munmap(clone_stack, CLONE_STACK_SIZE);
		clone_stack = NULL;
		spawn_mode = SPAWN_POSIX;
	} else
		slog(LOG_INFO, "CGIs start with posix_spawn (--spawn "
		    "posix_spawn)");
	if ((rc = spawn_attr_init()) != 0) {
		warnx("serve: posix_spawn attributes: %s", strerror(rc));
		return -1;
	}
	return 0;
}

/* A fresh pipe end has no status flag but its access mode, which
 * F_SETFL leaves alone: one call, not a read and a write. */
static void
set_nonblock(int fd)
{
	(void)fcntl(fd, F_SETFL, O_NONBLOCK);
}

static void
close_pipe(int p[2])
{
	if (p[0] != -1) {
		close(p[0]);
		close(p[1]);
	}
}

/*
 * Starts r's CGI, with pipes on 0, 1 and 2, and takes it into the child
 * table.  Returns 0; -2 when descriptors or processes are short for now,
 * before any CGI ran (the request may wait for a later try); or -1
 * (logged).
 */
int
child_start(struct req *r)
{
	static struct log_limit	 short_log;
	struct server		*srv = r->conn->srv;
	struct child		*ch;
	char			*argv_script[2] = { r->program, NULL };
	int			 in[2] = { -1, -1 }, out[2] = { -1, -1 };
	int			 errp[2] = { -1, -1 }, rc, shortage = 0;
	int			 stdin_fd = -1;
	pid_t			 pid = -1;

	if ((ch = calloc(1, sizeof(*ch))) == NULL)
		goto fail;
	ch->pidfd = -1;
	/* A request known to have no body needs no pipe for it. */
	if (r->stdin_ended && !req_stdin_pending(r) && srv->null_fd != -1)
		stdin_fd = srv->null_fd;
	else if (pipe2(in, O_CLOEXEC) == 0)
		stdin_fd = in[0];
	if (stdin_fd == -1 || pipe2(out, O_CLOEXEC) == -1 ||
	    pipe2(errp, O_CLOEXEC) == -1) {
		shortage = errno == EMFILE || errno == ENFILE;
		goto fail;
	}
	if ((rc = child_spawn(srv->cfg, r->program, srv->cfg->fixed_argv !=
	    NULL ? srv->cfg->fixed_argv : argv_script, r->envp, r->cwd,
	    (int[3]){ stdin_fd, out[1], errp[1] }, &pid, &ch->pidfd)) != 0) {
		shortage = pid == -1 && (rc == EAGAIN || rc == ENOMEM);
		errno = rc;
		goto fail;
	}
	if (ev_set_once(srv->ev, ch->pidfd, POLLIN, child_on_exit, ch) ==
	    -1) {
		rc = errno;
		close(ch->pidfd);
		(void)kill(-pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		errno = rc;
		goto fail;
	}
	if (in[0] != -1)
		close(in[0]);
	close(out[1]);
	close(errp[1]);
	r->in_fd = in[1];
	r->out_fd = out[0];
	r->err_fd = errp[0];
	set_nonblock(r->out_fd);
	set_nonblock(r->err_fd);
	ch->srv = srv;
	ch->pid = pid;
	ch->started_us = now_us();
	ch->req = r;
	ch->busy = 1;
	ch->next = srv->children;
	srv->children = ch;
	if (++srv->nbusy > srv->stats.max_active)
		srv->stats.max_active = srv->nbusy;
	r->cgi = ch;
	r->state = REQ_RUNNING;
	/*
	 * Watched from the start for what they will want first, so that a
	 * request costs no change of watch: stdout and stderr for reading;
	 * stdin only once a body waits for room in its pipe (req_update), as
	 * most requests have none.
	 */
	if (!req_stdin_pending(r) && r->stdin_ended)
		req_close_fd(r, &r->in_fd);
	if (ev_set(srv->ev, r->out_fd, POLLIN, req_on_stdout, r) == -1 ||
	    ev_set(srv->ev, r->err_fd, POLLIN, req_on_stderr, r) == -1)
		return -1;
	return 0;
fail:
	if (shortage)
		slog_limited(&short_log, LOG_WARNING, "%s: no CGI can start "
		    "now (%s): the request waits", r->script, strerror(errno));
	else
		slog(LOG_ERR, "%s: starting %s: %s", r->script, r->program,
		    strerror(errno));
	free(ch);
	close_pipe(in);
	close_pipe(out);
	close_pipe(errp);
	return shortage ? -2 : -1;
}

/* SIGKILL at the end of the grace time; CGIs that become long-running. */
void
child_tick(struct server *srv, long long now)
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
 * serve needs pidfds that waitid(2) takes (Linux 5.4): a zombie is the
 * only thing that keeps a CGI's process group ID from reuse until the last
 * signal to the group is sent, and only through a pidfd can the status of
 * one exited CGI be read without reaping it.
 */
int
child_pidfd_check(void)
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
