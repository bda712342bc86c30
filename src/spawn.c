/*
 * Starting FastCGI applications on a listening socket: the spawn command
 * (what spawn-fcgi is used for), and spawn_run for cgi-fcgi's -start form,
 * which is the same job.  An application finds the socket on its fd 0
 * (FCGI_LISTENSOCK_FILENO) and accepts on it itself; when several copies
 * share it, the kernel gives each connection to one of them.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <bsd/libutil.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <bsd/unistd.h>

#include "addr.h"
#include "spawn.h"
#include "util.h"

#define STOP_GRACE_MS		5000	/* from SIGTERM to SIGKILL */
#define EARLY_EXIT_MS		200	/* spawn watches new children this long */
#define HEALTHY_MS		10000	/* a child this old restarts at once */
#define BACKOFF_FIRST_MS	500
#define BACKOFF_MAX_MS		30000

extern char **environ;

struct child {
	pid_t		 pid;		/* 0: not running */
	long long	 started_ms;
	long long	 restart_ms;	/* when to start it again */
	int		 backoff_ms;
};

/* One run of spawn_run: its options, and what it holds while it runs. */
struct spawn {
	const struct spawn_opts	*o;
	struct addr_listener	 listener;
	struct pidfh	*pfh;
	pid_t		 self;
	struct child	*kids;
};

/*
 * What a child reports when it cannot exec the application: the step
 * that failed, as a string constant, which is at the same address in the
 * parent since the child is its copy, and errno.
 */
struct exec_failure {
	const char	*step;
	int		 error;
};

static void
sleep_ms(long ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * Whether path can be executed: a regular file with execute permission.
 * Returns 0 and copies it into out, or -1 with errno set.
 */
static int
executable(const char *path, char *out, size_t outlen)
{
	struct stat	 st;

	if (stat(path, &st) == -1)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EACCES;
		return -1;
	}
	if (access(path, X_OK) == -1)
		return -1;
	if (strlcpy(out, path, outlen) >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * Finds what to execute for name: name itself when it holds a '/' or when
 * search is 0, else the first executable file of that name in $PATH, as a
 * shell would find it (but no shell is ever run).  Returns 0 with the
 * path in out, or -1 with errno set.
 */
static int
resolve_app(const char *name, int search, char *out, size_t outlen)
{
	const char	*dirs, *p, *end;
	char		 cand[PATH_MAX];
	int		 n, saved = ENOENT;

	if (!search || strchr(name, '/') != NULL)
		return executable(name, out, outlen);
	if ((dirs = getenv("PATH")) == NULL || *dirs == '\0')
		dirs = "/usr/local/bin:/usr/bin:/bin";
	for (p = dirs;; p = end + 1) {
		end = strchrnul(p, ':');
		n = end == p ? snprintf(cand, sizeof(cand), "./%s", name) :
		    snprintf(cand, sizeof(cand), "%.*s/%s", (int)(end - p), p,
		    name);
		if (n > 0 && (size_t)n < sizeof(cand)) {
			if (executable(cand, out, outlen) == 0)
				return 0;
			if (errno == EACCES)
				saved = EACCES;
		}
		if (*end == '\0')
			break;
	}
	errno = saved;
	return -1;
}

/*
 * In a new child: the listening socket on fd 0, nothing else open but
 * stdout and stderr, credentials dropped, then the application.  Never
 * returns.  A failure is written to report_fd, which is close-on-exec: a
 * successful exec reports by closing it.
 */
static void __attribute__((noreturn))
child_exec(const struct spawn *sp, int report_fd)
{
	const struct spawn_opts	*o = sp->o;
	struct exec_failure	 f;
	sigset_t		 none;
	int			 null;

	/* Detached children must outlive our session and terminal. */
	f.step = "setsid";
	if (!o->foreground && setsid() == -1)
		goto fail;

	/* We ignore SIGPIPE and, under -F, block signals: they do not. */
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	f.step = "setting up descriptors";
	if (sp->listener.fd != 0 && dup2(sp->listener.fd, 0) == -1)
		goto fail;
	/* dup2 onto itself keeps FD_CLOEXEC: clear it in every case. */
	if (fcntl(0, F_SETFD, 0) == -1)
		goto fail;
	if (!o->foreground) {
		if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1 ||
		    dup2(null, 1) == -1 || dup2(null, 2) == -1)
			goto fail;
	}
	if (report_fd != 3) {
		if (dup3(report_fd, 3, O_CLOEXEC) == -1)
			goto fail;
		report_fd = 3;
	}
	closefrom(4);

	if ((f.step = credentials_apply(&o->creds)) != NULL)
		goto fail;

	/*
	 * A supervisor's children end with it, even when it is SIGKILLed.
	 * Set after setuid, which clears it.
	 */
	f.step = "prctl";
	if (o->foreground) {
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
			goto fail;
		if (getppid() != sp->self)
			_exit(0);
	}

	f.step = "exec";
	execve(o->path, o->argv, environ);
fail:
	f.error = errno;
	while (write(report_fd, &f, sizeof(f)) == -1 && errno == EINTR)
		continue;
	_exit(127);
}

/*
 * Forks and executes one copy of the application.  Returns its pid once
 * the exec has succeeded, or -1 with a message in err (having reaped the
 * child, if there was one).
 */
static pid_t
start_child(const struct spawn *sp, char *err, size_t errlen)
{
	const char		*app = sp->o->argv[0];
	struct exec_failure	 f;
	ssize_t			 got;
	pid_t			 pid;
	int			 report[2], status;

	if (pipe2(report, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "%s: pipe: %s", app, strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "%s: fork: %s", app, strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		close(report[0]);
		child_exec(sp, report[1]);
	}
	close(report[1]);
	while ((got = read(report[0], &f, sizeof(f))) == -1 && errno == EINTR)
		continue;
	close(report[0]);
	if (got == 0)
		return pid;
	if (got == (ssize_t)sizeof(f))
		snprintf(err, errlen, "%s: %s: %s", app, f.step,
		    strerror(f.error));
	else
		snprintf(err, errlen, "%s: no word from the new process: %s",
		    app, got == -1 ? strerror(errno) : "short read");
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		continue;
	return -1;
fail:
	close(report[0]);
	close(report[1]);
	return -1;
}

static struct child *
find_child(struct spawn *sp, pid_t pid)
{
	int	 i;

	for (i = 0; i < sp->o->n; i++)
		if (sp->kids[i].pid == pid)
			return &sp->kids[i];
	return NULL;
}

/* How a child ended, for a log line. */
static void
status_text(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "ended with wait status %#x", status);
}

/*
 * Reaps the children that have ended, without waiting.  Returns how many
 * are still running.
 */
static int
reap_quietly(struct spawn *sp)
{
	struct child	*c;
	pid_t		 pid;
	int		 i, status, left = 0;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if ((c = find_child(sp, pid)) != NULL)
			c->pid = 0;
	for (i = 0; i < sp->o->n; i++)
		if (sp->kids[i].pid > 0)
			left++;
	return left;
}

/*
 * Stops every running child: SIGTERM, then SIGKILL to those still there
 * after STOP_GRACE_MS; returns once all are reaped (or, should one not
 * die even of SIGKILL, after as long again).
 */
static void
stop_children(struct spawn *sp)
{
	long long	 deadline = now_ms() + STOP_GRACE_MS;
	int		 i, killed = 0;

	if (sp->kids == NULL)
		return;
	for (i = 0; i < sp->o->n; i++)
		if (sp->kids[i].pid > 0)
			kill(sp->kids[i].pid, SIGTERM);
	while (reap_quietly(sp) > 0) {
		if (now_ms() >= deadline) {
			if (killed)
				break;
			for (i = 0; i < sp->o->n; i++)
				if (sp->kids[i].pid > 0)
					kill(sp->kids[i].pid, SIGKILL);
			killed = 1;
			deadline = now_ms() + STOP_GRACE_MS;
		}
		sleep_ms(10);
	}
}

/*
 * Watches the new children for EARLY_EXIT_MS: one that has ended by then
 * could not start (a bad configuration, a missing library).  Returns 0,
 * or EX_UNAVAILABLE after saying which one ended and how.
 */
static int
early_exits(struct spawn *sp)
{
	struct child	*c;
	long long	 deadline = now_ms() + EARLY_EXIT_MS;
	pid_t		 pid;
	char		 how[96];
	int		 status;

	for (;;) {
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if ((c = find_child(sp, pid)) == NULL)
				continue;
			c->pid = 0;
			status_text(status, how, sizeof(how));
			warnx("%s: pid %ld %s right after it started",
			    sp->o->argv[0], (long)pid, how);
			return EX_UNAVAILABLE;
		}
		if (now_ms() >= deadline)
			return 0;
		sleep_ms(10);
	}
}

/* When a child that died should start again: at once after a long life. */
static void
schedule_restart(struct child *c, long long now)
{
	if (now - c->started_ms >= HEALTHY_MS)
		c->backoff_ms = 0;
	else if (c->backoff_ms == 0)
		c->backoff_ms = BACKOFF_FIRST_MS;
	else if ((c->backoff_ms *= 2) > BACKOFF_MAX_MS)
		c->backoff_ms = BACKOFF_MAX_MS;
	c->restart_ms = now + c->backoff_ms;
}

/*
 * Keeps the o->n children running until SIGTERM, SIGINT or SIGHUP (all of
 * them blocked by the caller, with SIGCHLD, and taken here with
 * sigtimedwait), then stops them.  Returns the exit status, 0.
 */
static int
supervise(struct spawn *sp, const sigset_t *sigs)
{
	const struct spawn_opts	*o = sp->o;
	struct timespec		 ts;
	struct child		*c;
	long long		 now, next;
	pid_t			 pid;
	char			 how[96], err[700];
	int			 i, sig, status;

	for (;;) {
		now = now_ms();
		/* Once a second at least, so reaping never hangs on a signal. */
		next = now + 1000;
		for (i = 0; i < o->n; i++)
			if (sp->kids[i].pid == 0 && sp->kids[i].restart_ms < next)
				next = sp->kids[i].restart_ms;
		if (next < now)
			next = now;
		ts.tv_sec = (next - now) / 1000;
		ts.tv_nsec = (next - now) % 1000 * 1000000L;
		sig = sigtimedwait(sigs, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
			warnx("%s: stopping %d processes on signal %d (%s)",
			    o->argv[0], o->n, sig, strsignal(sig));
			break;
		}

		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if ((c = find_child(sp, pid)) == NULL)
				continue;
			c->pid = 0;
			now = now_ms();
			schedule_restart(c, now);
			status_text(status, how, sizeof(how));
			warnx("%s: pid %ld %s; starting it again in %.1f s",
			    o->argv[0], (long)pid, how, c->backoff_ms / 1000.0);
		}

		now = now_ms();
		for (i = 0; i < o->n; i++) {
			c = &sp->kids[i];
			if (c->pid != 0 || c->restart_ms > now)
				continue;
			c->started_ms = now;
			if ((pid = start_child(sp, err, sizeof(err))) > 0) {
				c->pid = pid;
				continue;
			}
			schedule_restart(c, now);
			warnx("%s; trying again in %.1f s", err,
			    c->backoff_ms / 1000.0);
		}
	}
	stop_children(sp);
	return 0;
}

/* Writes the children's pids to the pidfile, one a line. */
static int
write_child_pids(struct spawn *sp)
{
	int	 i, fd = pidfile_fileno(sp->pfh);

	if (ftruncate(fd, 0) == -1)
		return -1;
	for (i = 0; i < sp->o->n; i++)
		if (dprintf(fd, "%ld\n", (long)sp->kids[i].pid) < 0)
			return -1;
	return 0;
}

/*
 * The listening socket, made blocking: applications accept on it with
 * blocking calls (libfcgi does) and the flag belongs to the socket that
 * they all share.  Returns 0 or an exit status.
 */
static int
open_listener(struct spawn *sp)
{
	const struct spawn_opts	*o = sp->o;
	char			 err[600];
	int			 flags;

	if (addr_listener_open(&sp->listener, o->inherited ? NULL : &o->addr,
	    o->mode, o->sock_uid, o->sock_gid, err, sizeof(err)) == -1) {
		if (o->inherited) {
			warnx("spawn: %s", err);
			return EX_USAGE;
		}
		warnx("%s", err);
		return EX_CANTCREAT;
	}
	if ((flags = fcntl(sp->listener.fd, F_GETFL)) == -1 ||
	    fcntl(sp->listener.fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
		warn("%s: fcntl", o->inherited ? "inherited socket" :
		    o->addr.text);
		return EX_OSERR;
	}
	return 0;
}

/*
 * What a run needs before its first child: standard descriptors, the
 * socket, the pidfile and, with -F, the signals it waits for blocked.
 * Returns 0 or an exit status (said).
 */
static int
spawn_open(struct spawn *sp, sigset_t *sigs)
{
	const struct spawn_opts	*o = sp->o;
	pid_t			 other;
	int			 rc;

	if (std_fds_open() == -1) {
		warn("/dev/null");
		return EX_OSERR;
	}
	if ((sp->kids = calloc(o->n, sizeof(*sp->kids))) == NULL) {
		warn("spawn");
		return EX_OSERR;
	}
	if ((rc = open_listener(sp)) != 0)
		return rc;
	if (o->pidfile != NULL &&
	    (sp->pfh = pidfile_open(o->pidfile, 0644, &other)) == NULL) {
		if (errno == EEXIST)
			warnx("%s: already in use by pid %ld", o->pidfile,
			    (long)other);
		else
			warn("%s", o->pidfile);
		return EX_CANTCREAT;
	}
	sigemptyset(sigs);
	sigaddset(sigs, SIGCHLD);
	sigaddset(sigs, SIGTERM);
	sigaddset(sigs, SIGINT);
	sigaddset(sigs, SIGHUP);
	if (o->foreground && sigprocmask(SIG_BLOCK, sigs, NULL) == -1) {
		warn("sigprocmask");
		return EX_OSERR;
	}
	return 0;
}

/* Starts the o->n children; 0, or EX_OSERR (said). */
static int
start_children(struct spawn *sp)
{
	char	 err[700];
	int	 i;

	for (i = 0; i < sp->o->n; i++) {
		sp->kids[i].started_ms = now_ms();
		if ((sp->kids[i].pid = start_child(sp, err, sizeof(err))) ==
		    -1) {
			sp->kids[i].pid = 0;
			warnx("%s", err);
			return EX_OSERR;
		}
	}
	return 0;
}

/*
 * Leaves the children running, detached, once none has ended at once, and
 * writes their pids to the pidfile.  Returns 0 or an exit status (said).
 */
static int
spawn_detach(struct spawn *sp)
{
	int	 rc;

	if (sp->o->check_early && (rc = early_exits(sp)) != 0)
		return rc;
	if (sp->pfh != NULL && write_child_pids(sp) == -1) {
		warn("%s", sp->o->pidfile);
		return EX_CANTCREAT;
	}
	return 0;
}

/* -F: writes our pid to the pidfile and supervises the children. */
static int
spawn_foreground(struct spawn *sp, const sigset_t *sigs)
{
	if (sp->pfh != NULL && pidfile_write(sp->pfh) == -1) {
		warn("%s", sp->o->pidfile);
		return EX_CANTCREAT;
	}
	return supervise(sp, sigs);
}

/*
 * Ends a run: unless its children are to keep running, stops them and
 * removes the socket file and the pidfile.
 */
static void
spawn_close(struct spawn *sp, int keep)
{
	if (!keep) {
		stop_children(sp);
		if (sp->listener.unix_path[0] != '\0')
			unlink(sp->listener.unix_path);
		if (sp->pfh != NULL)
			pidfile_remove(sp->pfh);
	} else if (sp->pfh != NULL)
		pidfile_close(sp->pfh);
	if (sp->listener.fd != -1)
		close(sp->listener.fd);
	free(sp->kids);
	sp->kids = NULL;
}

int
spawn_run(const struct spawn_opts *o)
{
	struct spawn	 sp;
	sigset_t	 sigs;
	int		 rc, keep = 0;

	memset(&sp, 0, sizeof(sp));
	sp.o = o;
	sp.self = getpid();
	sp.listener.fd = -1;
	if ((rc = spawn_open(&sp, &sigs)) == 0 &&
	    (rc = start_children(&sp)) == 0) {
		if (o->foreground)
			rc = spawn_foreground(&sp, &sigs);
		else
			keep = (rc = spawn_detach(&sp)) == 0;
	}
	spawn_close(&sp, keep);
	return rc;
}

/*
 * -a: the peers the application accepts, checked here because a typo
 * there fails only at the first request, and far from this command line.
 * The application gets the list with commas alone: libfcgi and php-cgi
 * split it at commas and read no blanks, so that of "a, b" they would drop
 * b.  A list of no address is refused, as they disagree on what it means
 * (libfcgi: any peer; php-cgi: none).  Returns 0 with the list as the
 * application gets it in *canonical (which the caller frees), or an exit
 * status after saying why.
 */
static int
web_server_addrs(const char *list, char **canonical)
{
	struct sockaddr_storage	*allowed;
	size_t			 nallowed;
	char			 err[600];
	int			 rc = 0;

	if (addr_allowlist_parse(list, &allowed, &nallowed, err,
	    sizeof(err)) == -1) {
		warnx("-a %s: %s", list, err);
		return EX_USAGE;
	}
	if (nallowed == 0) {
		warnx("-a: no IP address in \"%s\"", list);
		rc = EX_USAGE;
	} else if ((*canonical = addr_allowlist_format(allowed, nallowed)) ==
	    NULL) {
		warn("-a");
		rc = EX_OSERR;
	}
	free(allowed);
	return rc;
}

static void
usage_spawn(FILE *f)
{
	fprintf(f, "usage: fcgi-bridge spawn [-F] [-a addrs] [-g group] "
	    "[-G group] [-m mode] [-n n]\n"
	    "\t[-P pidfile] [-s address] [-u user] [-U user] "
	    "-- app [arg ...]\n");
}

void
spawn_opts_init(struct spawn_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->n = 1;
	o->sock_uid = (uid_t)-1;
	o->sock_gid = (gid_t)-1;
	/* With neither user nor group, nothing to look up and nothing held. */
	(void)credentials_resolve(NULL, NULL, &o->creds);
}

int
spawn_find_app(struct spawn_opts *o, int search)
{
	if (resolve_app(o->argv[0], search, o->path, sizeof(o->path)) == -1) {
		warn("%s: cannot execute", o->argv[0]);
		return EX_USAGE;
	}
	return 0;
}

/* What spawn's command line names, for spawn_prepare to look up. */
struct spawn_names {
	const char	*address;	/* -s */
	char		*webaddrs;	/* -a, as the application gets it */
	const char	*user;		/* -u */
	const char	*group;		/* -g */
};

/*
 * Takes spawn's command line into o and names.  Returns 0 when the
 * command is to run, else -1 with *rc the exit status (0 after --help).
 */
static int
spawn_options(int argc, char **argv, struct spawn_opts *o,
    struct spawn_names *names, int *rc)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct passwd	*pw;
	const char	*errstr;
	int		 ch, arc;

	*rc = EX_USAGE;
	while ((ch = getopt_long(argc, argv, "+a:Fg:G:hm:n:P:s:u:U:",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			free(names->webaddrs);
			names->webaddrs = NULL;
			if ((arc = web_server_addrs(optarg,
			    &names->webaddrs)) != 0) {
				*rc = arc;
				return -1;
			}
			break;
		case 'F':
			o->foreground = 1;
			break;
		case 'g':
			names->group = optarg;
			break;
		case 'G':
			if (group_lookup(optarg, &o->sock_gid) == -1)
				return -1;
			break;
		case 'h':
			usage_spawn(stdout);
			*rc = 0;
			return -1;
		case 'm':
			if (opt_mode("-m", optarg, &o->mode) == -1)
				return -1;
			break;
		case 'n':
			o->n = (int)strtonum(optarg, 1, SPAWN_MAX_CHILDREN,
			    &errstr);
			if (errstr != NULL) {
				warnx("-n %s: expected 1 to %d processes, "
				    "the number is %s", optarg,
				    SPAWN_MAX_CHILDREN, errstr);
				return -1;
			}
			break;
		case 'P':
			o->pidfile = optarg;
			break;
		case 's':
			names->address = optarg;
			break;
		case 'u':
			names->user = optarg;
			break;
		case 'U':
			if (user_lookup(optarg, &pw) == -1)
				return -1;
			o->sock_uid = pw->pw_uid;
			break;
		default:
			usage_spawn(stderr);
			return -1;
		}
	}
	if (optind >= argc) {
		warnx("spawn: no application to start");
		usage_spawn(stderr);
		return -1;
	}
	o->argv = argv + optind;
	return 0;
}

/*
 * Looks up what the command line names: the address, the application in
 * $PATH, the children's credentials and FCGI_WEB_SERVER_ADDRS.  Returns 0,
 * or an exit status (said).
 */
static int
spawn_prepare(struct spawn_opts *o, const struct spawn_names *names)
{
	char	 err[600];
	int	 rc;

	if (names->address == NULL)
		o->inherited = 1;
	else if (addr_parse(names->address, &o->addr, err, sizeof(err)) ==
	    -1) {
		warnx("%s", err);
		return EX_USAGE;
	}
	if (o->inherited && (o->mode != 0 || o->sock_uid != (uid_t)-1 ||
	    o->sock_gid != (gid_t)-1)) {
		warnx("spawn: -m, -U and -G need -s: they are for the socket "
		    "file that spawn creates");
		return EX_USAGE;
	}
	if ((rc = spawn_find_app(o, 1)) != 0 ||
	    (rc = credentials_resolve(names->user, names->group,
	    &o->creds)) != 0)
		return rc;
	if (names->webaddrs != NULL &&
	    setenv("FCGI_WEB_SERVER_ADDRS", names->webaddrs, 1) == -1) {
		warn("-a");
		return EX_OSERR;
	}
	return 0;
}

int
cmd_spawn(int argc, char **argv)
{
	struct spawn_opts	 o;
	struct spawn_names	 names = { 0 };
	int			 rc;

	spawn_opts_init(&o);
	o.check_early = 1;
	if (spawn_options(argc, argv, &o, &names, &rc) == 0 &&
	    (rc = spawn_prepare(&o, &names)) == 0)
		rc = spawn_run(&o);
	credentials_free(&o.creds);
	free(names.webaddrs);
	return rc;
}
