/*
 * serve: a FastCGI responder that runs a plain CGI program per request.
 * This file is the command: its options (struct serve_config), start-up
 * (the listener, privileges, signals), the loop (serve_server.c) and the
 * end.  serve_internal.h says which file owns what.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <syslog.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <bsd/unistd.h>

#include "addr.h"
#include "ev.h"
#include "serve.h"
#include "serve_internal.h"
#include "util.h"

static int	 log_to_syslog;
static int	 log_debug;

void
slog(int prio, const char *fmt, ...)
{
	va_list	 ap;

	if (prio == LOG_DEBUG && !log_debug)
		return;
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

/*
 * As slog, for a line that can repeat many times a second (a flood of
 * refusals): at most one a second, the next saying how many were left out.
 */
void
slog_limited(struct log_limit *l, int prio, const char *fmt, ...)
{
	char		 line[512];
	va_list		 ap;
	long long	 now = now_ms();

	if (now - l->last_ms < 1000) {
		l->suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (l->suppressed > 0)
		slog(prio, "%s (and %lu more like it in the last %lld s)", line,
		    l->suppressed, (now - l->last_ms) / 1000);
	else
		slog(prio, "%s", line);
	l->last_ms = now;
	l->suppressed = 0;
}

static void
usage_serve(FILE *f)
{
	fprintf(f, "usage: fcgi-bridge serve [-E] [-c n] [-e name=value] "
	    "[-g group] [-G group]\n"
	    "\t[-L name=value] [-l stderr|syslog] [-m mode] [-P name] "
	    "[-q n] [-r dir]\n"
	    "\t[-s address] "
	    "[-t seconds] [-u user] [-U user] [--allow-root] [--debug]\n"
	    "\t[--grace seconds] "
	    "[--idle seconds] [--keep-env name] [--max-conns n]\n"
	    "\t[--max-params bytes] [--no-adapt] [--ping path] "
	    "[--spawn clone|posix_spawn]\n"
	    "\t[--status path]\n"
	    "\t[-- program [arg ...]]\n");
}

enum serve_longopt {
	OPT_ALLOW_ROOT = 256,
	OPT_GRACE,
	OPT_IDLE,
	OPT_MAX_CONNS,
	OPT_MAX_PARAMS,
	OPT_NO_ADAPT,
	OPT_KEEP_ENV,
	OPT_DEBUG,
	OPT_STATUS,
	OPT_PING,
	OPT_SPAWN
};

static const struct option serve_longopts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "allow-root", no_argument, NULL, OPT_ALLOW_ROOT },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "idle", required_argument, NULL, OPT_IDLE },
	{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
	{ "max-params", required_argument, NULL, OPT_MAX_PARAMS },
	{ "no-adapt", no_argument, NULL, OPT_NO_ADAPT },
	{ "keep-env", required_argument, NULL, OPT_KEEP_ENV },
	{ "debug", no_argument, NULL, OPT_DEBUG },
	{ "status", required_argument, NULL, OPT_STATUS },
	{ "ping", required_argument, NULL, OPT_PING },
	{ "spawn", required_argument, NULL, OPT_SPAWN },
	{ NULL, 0, NULL, 0 }
};

/* Options that take a number, each checked whole.  0, or -1 (said). */
static int
serve_number_option(struct serve_config *cfg, int ch, const char *arg)
{
	long long	 num;
	double		 d;

	switch (ch) {
	case 'c':
		if (opt_count("-c", arg, 100000, &num) == -1)
			return -1;
		cfg->max_cgi = (size_t)num;
		return 0;
	case 'q':
		if (opt_count("-q", arg, 1000000, &num) == -1)
			return -1;
		cfg->max_queue = (size_t)num;
		return 0;
	case 't':
		if (opt_number("-t", arg, 0, 86400, &d) == -1)
			return -1;
		cfg->timeout_ms = (long long)(d * 1000);
		return 0;
	case OPT_GRACE:
		if (opt_number("--grace", arg, 0, 86400, &d) == -1)
			return -1;
		cfg->grace_ms = (long long)(d * 1000);
		return 0;
	case OPT_IDLE:
		if (opt_number("--idle", arg, 0, 86400, &d) == -1)
			return -1;
		cfg->idle_ms = (long long)(d * 1000);
		return 0;
	case OPT_MAX_CONNS:
		if (opt_count("--max-conns", arg, 100000, &num) == -1)
			return -1;
		cfg->max_conns = (size_t)num;
		return 0;
	default:	/* OPT_MAX_PARAMS */
		if (opt_count("--max-params", arg, 1 << 30, &num) == -1)
			return -1;
		cfg->max_params = (size_t)num;
		return 0;
	}
}

/* -e NAME=VALUE, or -P NAME (copied when serve has it). 0, or -1 (said). */
static int
serve_env_option(struct serve_config *cfg, int ch, const char *arg)
{
	const char	*v;
	char		*kv;

	if (ch == 'e') {
		if (strchr(arg, '=') == NULL || *arg == '=') {
			warnx("-e %s: expected NAME=VALUE", arg);
			return -1;
		}
		if ((kv = strdup(arg)) == NULL)
			err(EX_OSERR, NULL);
	} else {
		if ((v = getenv(arg)) == NULL)
			return 0;
		if (asprintf(&kv, "%s=%s", arg, v) == -1)
			err(EX_OSERR, NULL);
	}
	cfg->extra_env[cfg->nextra_env++] = kv;
	return 0;
}

/*
 * -L NAME=VALUE: a resource limit for every CGI, as Apache's RLimitCPU,
 * RLimitMEM and RLimitNPROC set for its CGIs.  The CPU limit is soft, with
 * a hard one 2 seconds above it: SIGXCPU first, SIGKILL if that is
 * ignored.  0, or -1 (said).
 */
static int
serve_limit_option(struct serve_config *cfg, const char *arg)
{
	static const struct {
		const char	*name;
		int		 resource;
		long long	 max;
	} names[] = {
		{ "cpu", RLIMIT_CPU, 365LL * 86400 },
		{ "as", RLIMIT_AS, 1LL << 46 },
		{ "nproc", RLIMIT_NPROC, 1 << 22 },
		{ "nofile", RLIMIT_NOFILE, 1 << 20 }
	};
	struct cgi_limit	*l;
	const char		*eq = strchr(arg, '=');
	char			 label[16];
	long long		 v;
	size_t			 i, len = eq != NULL ? (size_t)(eq - arg) : 0;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == len &&
		    strncmp(arg, names[i].name, len) == 0)
			break;
	if (eq == NULL || i == sizeof(names) / sizeof(names[0])) {
		warnx("-L %s: expected cpu=SECONDS, as=BYTES, nproc=N or "
		    "nofile=N", arg);
		return -1;
	}
	snprintf(label, sizeof(label), "-L %s", names[i].name);
	if ((names[i].resource == RLIMIT_AS ? opt_size(label, eq + 1,
	    names[i].max, &v) : opt_count(label, eq + 1, names[i].max,
	    &v)) == -1)
		return -1;
	for (l = cfg->limits; l < cfg->limits + cfg->nlimits; l++)
		if (l->resource == names[i].resource)
			break;
	if (l == cfg->limits + cfg->nlimits)
		cfg->nlimits++;
	l->resource = names[i].resource;
	l->value.rlim_cur = (rlim_t)v;
	l->value.rlim_max = (rlim_t)v + (l->resource == RLIMIT_CPU ? 2 : 0);
	return 0;
}

/* One option other than -h.  0, or -1 (said). */
static int
serve_option(struct serve_config *cfg, int ch, const char *arg)
{
	char	 real[PATH_MAX];

	switch (ch) {
	case 'c': case 'q': case 't': case OPT_GRACE: case OPT_IDLE:
	case OPT_MAX_CONNS: case OPT_MAX_PARAMS:
		return serve_number_option(cfg, ch, arg);
	case 'e': case 'P':
		return serve_env_option(cfg, ch, arg);
	case 'E':
		cfg->cgi_stderr_own = 1;
		return 0;
	case 'g':
		cfg->group = arg;
		return 0;
	case 'G':
		cfg->sock_group = arg;
		return 0;
	case 'L':
		return serve_limit_option(cfg, arg);
	case 'l':
		if (strcmp(arg, "syslog") == 0)
			cfg->use_syslog = 1;
		else if (strcmp(arg, "stderr") != 0) {
			warnx("-l %s: expected stderr or syslog", arg);
			return -1;
		}
		return 0;
	case 'm':
		return opt_mode("-m", arg, &cfg->sock_mode);
	case 'r':
		if (realpath(arg, real) == NULL) {
			warn("-r %s", arg);
			return -1;
		}
		if ((cfg->roots[cfg->nroots++] = strdup(real)) == NULL)
			err(EX_OSERR, NULL);
		return 0;
	case 's':
		cfg->address = arg;
		return 0;
	case 'u':
		cfg->user = arg;
		return 0;
	case 'U':
		cfg->sock_user = arg;
		return 0;
	case OPT_ALLOW_ROOT:
		cfg->allow_root = 1;
		return 0;
	case OPT_NO_ADAPT:
		cfg->adapt = 0;
		return 0;
	case OPT_KEEP_ENV:
		cfg->keep_env[cfg->nkeep_env++] = (char *)arg;
		return 0;
	case OPT_DEBUG:
		cfg->debug = 1;
		return 0;
	case OPT_SPAWN:
		if (strcmp(arg, "clone") == 0)
			cfg->spawn = SPAWN_CLONE;
		else if (strcmp(arg, "posix_spawn") == 0)
			cfg->spawn = SPAWN_POSIX;
		else {
			warnx("--spawn %s: expected clone or posix_spawn", arg);
			return -1;
		}
		return 0;
	case OPT_STATUS:
	case OPT_PING:
		if (*arg != '/') {
			warnx("%s %s: expected a path starting with '/', as "
			    "SCRIPT_NAME has it", ch == OPT_STATUS ?
			    "--status" : "--ping", arg);
			return -1;
		}
		*(ch == OPT_STATUS ? &cfg->status_path : &cfg->ping_path) = arg;
		return 0;
	default:
		usage_serve(stderr);
		return -1;
	}
}

/*
 * The command line into cfg, with the defaults.  Returns 0, 1 after
 * --help, or -1 on a usage error (said).
 */
static int
serve_config_parse(struct serve_config *cfg, int argc, char **argv)
{
	char	 real[PATH_MAX];
	int	 ch;

	memset(cfg, 0, sizeof(*cfg));
	cfg->max_cgi = 32;
	cfg->adapt = 1;
	cfg->max_queue = 256;
	cfg->max_conns = 1024;
	cfg->max_params = 1024 * 1024;
	cfg->timeout_ms = 60 * 1000;
	cfg->idle_ms = 60 * 1000;
	cfg->grace_ms = 10 * 1000;
	if ((cfg->roots = calloc(argc, sizeof(char *))) == NULL ||
	    (cfg->extra_env = calloc(argc, sizeof(char *))) == NULL ||
	    (cfg->keep_env = calloc(argc, sizeof(char *))) == NULL)
		err(EX_OSERR, NULL);
	while ((ch = getopt_long(argc, argv, "+c:e:Eg:G:hl:L:m:P:q:r:s:t:u:U:",
	    serve_longopts, NULL)) != -1) {
		if (ch == 'h') {
			usage_serve(stdout);
			return 1;
		}
		if (serve_option(cfg, ch, optarg) == -1)
			return -1;
	}
	argc -= optind;
	argv += optind;
	if (argc > 0)
		cfg->fixed_argv = argv;
	else if (cfg->nroots == 0) {
		warnx("serve: nothing to run: give -r DIR for the scripts "
		    "that SCRIPT_FILENAME names, or -- PROGRAM");
		usage_serve(stderr);
		return -1;
	}
	/* Found now: the CGI's working directory is not ours. */
	if (cfg->fixed_argv != NULL &&
	    (realpath(cfg->fixed_argv[0], real) == NULL ||
	    access(real, X_OK) == -1 ||
	    (cfg->fixed_program = strdup(real)) == NULL)) {
		warn("%s", cfg->fixed_argv[0]);
		return -1;
	}
	cfg->spool_dir = getenv("TMPDIR");
	if (cfg->spool_dir == NULL || *cfg->spool_dir != '/')
		cfg->spool_dir = "/tmp";
	return 0;
}

static void
serve_config_free(struct serve_config *cfg)
{
	size_t	 i;

	for (i = 0; i < cfg->nroots; i++)
		free(cfg->roots[i]);
	free(cfg->roots);
	for (i = 0; i < cfg->nextra_env; i++)
		free(cfg->extra_env[i]);
	free(cfg->extra_env);
	free(cfg->keep_env);
	free(cfg->fixed_program);
}

/* Who owns the socket file: -U and -G.  0, or -1 (said). */
static int
serve_socket_owner(const struct serve_config *cfg, uid_t *uid, gid_t *gid)
{
	struct passwd	*pw;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (cfg->sock_user != NULL) {
		if (user_lookup(cfg->sock_user, &pw) == -1)
			return -1;
		*uid = pw->pw_uid;
	}
	if (cfg->sock_group != NULL && group_lookup(cfg->sock_group, gid) == -1)
		return -1;
	return 0;
}

/*
 * The listening socket: -s's, or the one we were handed.  Returns 0, or an
 * exit status (said).
 */
static int
serve_listen(struct server *srv)
{
	const struct serve_config *cfg = srv->cfg;
	struct addr	 a;
	char		 errbuf[600];
	uid_t		 uid;
	gid_t		 gid;
	int		 moved;

	if (serve_socket_owner(cfg, &uid, &gid) == -1)
		return EX_USAGE;
	if (cfg->address != NULL &&
	    addr_parse(cfg->address, &a, errbuf, sizeof(errbuf)) == -1) {
		warnx("%s", errbuf);
		return EX_USAGE;
	}
	if (cfg->address != NULL && std_fds_open() == -1)
		err(EX_OSERR, "/dev/null");
	if (addr_listener_open(&srv->listener, cfg->address != NULL ? &a :
	    NULL, cfg->sock_mode, uid, gid, errbuf, sizeof(errbuf)) == -1) {
		if (cfg->address != NULL) {
			warnx("%s", errbuf);
			return EX_UNAVAILABLE;
		}
		warnx("serve: %s", errbuf);
		usage_serve(stderr);
		return EX_USAGE;
	}
	if (cfg->address == NULL) {
		/* fd 0 was the socket: the CGIs' stdin comes from pipes. */
		if (srv->listener.fd == 0) {
			if ((moved = fcntl(0, F_DUPFD_CLOEXEC, 3)) == -1 ||
			    close(0) == -1 || open("/dev/null", O_RDONLY) != 0)
				err(EX_OSERR, "moving the inherited socket");
			srv->listener.fd = moved;
		}
		if (std_fds_open() == -1)
			err(EX_OSERR, "/dev/null");
	} else if (srv->nallowed == 0 && !addr_is_loopback(&a.ss[0]))
		slog(LOG_WARNING, "%s: listening beyond loopback without "
		    "FCGI_WEB_SERVER_ADDRS: any host may run CGIs",
		    cfg->address);
	return 0;
}

/*
 * A connection and a CGI each take descriptors: take all that the hard
 * limit allows, as nginx's worker_rlimit_nofile does (systemd starts
 * services with a soft limit of 1024 and a hard one far above).
 */
static void
serve_raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * glibc gives the top of the heap back to the kernel when more than
 * twice its mmap threshold is free there, and that threshold follows the
 * largest block freed, here a connection's write buffer (WBUF_SIZE): the
 * buffers of the connections in flight come and go by more than that,
 * and the heap shrank and grew again, 0.2 brk calls a request.  Both
 * thresholds fixed, the buffers stay on the heap and up to 4 MiB free at
 * its top is kept; what serve holds at most is bounded by -c and its
 * connections anyway.  (musl's malloc has no such settings.)
 */
static void
serve_keep_heap(void)
{
#ifdef __GLIBC__
	(void)mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
	(void)mallopt(M_TRIM_THRESHOLD, 4 * 1024 * 1024);
#endif
}

/*
 * Everything up to the loop: the peers allowed, the log, the listener,
 * the privileges dropped, the signals.  Returns 0, or an exit status.
 */
static int
serve_open(struct server *srv)
{
	const struct serve_config *cfg = srv->cfg;
	struct credentials creds;
	const char	*webaddrs, *call;
	char		 errbuf[600];
	sigset_t	 sigs;
	int		 rc;

	/*
	 * Whatever descriptors we were started with, but a systemd socket at
	 * 3 that is ours to take, must not reach a CGI.
	 */
	closefrom(cfg->address == NULL && addr_systemd_socket() ? 4 : 3);
	if ((rc = credentials_resolve(cfg->user, cfg->group, &creds)) != 0)
		return rc;
	if ((creds.uid != (uid_t)-1 ? creds.uid : geteuid()) == 0 &&
	    !cfg->allow_root) {
		warnx("serve: CGIs would run as root: give -u USER, or "
		    "--allow-root");
		rc = EX_USAGE;
		goto done;
	}
	if ((webaddrs = getenv("FCGI_WEB_SERVER_ADDRS")) != NULL &&
	    addr_allowlist_parse(webaddrs, &srv->allowed, &srv->nallowed,
	    errbuf, sizeof(errbuf)) == -1) {
		warnx("FCGI_WEB_SERVER_ADDRS: %s", errbuf);
		rc = EX_USAGE;
		goto done;
	}
	log_to_syslog = cfg->use_syslog;
	log_debug = cfg->debug;
	if (log_to_syslog)
		openlog("fcgi-bridge", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	if ((rc = serve_listen(srv)) != 0)
		goto done;
	if ((call = credentials_apply(&creds)) != NULL)
		err(EX_OSERR, "%s", call);
	/* CGIs are waited for through pidfds (serve_child.c): SIGCHLD must
	 * not be ignored, which would reap them before their status is read. */
	if (signal(SIGCHLD, SIG_DFL) == SIG_ERR || child_pidfd_check() == -1) {
		rc = EX_USAGE;
		goto done;
	}
	/*
	 * SIGPIPE is blocked rather than ignored (a write to a pipe whose
	 * reader left fails with EPIPE all the same): a CGI, whose mask is
	 * reset anyway, then needs no reset of its action.
	 */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGPIPE);
	if (signal(SIGPIPE, SIG_DFL) == SIG_ERR ||
	    sigprocmask(SIG_BLOCK, &sigs, NULL) == -1)
		err(EX_OSERR, "SIGPIPE");
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL) == -1 ||
	    (srv->sig_fd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) ==
	    -1)
		err(EX_OSERR, "signalfd");
	/* Standard input of the CGIs of requests without a body. */
	srv->null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (child_spawn_init(cfg->spawn) == -1) {
		rc = EX_OSERR;
		goto done;
	}
	if ((srv->ev = ev_new()) == NULL ||
	    ev_set(srv->ev, srv->sig_fd, POLLIN, server_on_signal, srv) == -1 ||
	    ev_set(srv->ev, srv->listener.fd, POLLIN, server_on_accept, srv) ==
	    -1)
		err(EX_OSERR, "event loop");
	sched_init(&srv->sched, cfg->max_cgi, cfg->adapt);
	srv->stats.start_time = time(NULL);
	srv->stats.queue_len = cfg->max_queue;
	serve_raise_nofile();
	serve_keep_heap();
	server_fd_budget(srv);
done:
	credentials_free(&creds);
	return rc;
}

static void
serve_close(struct server *srv)
{
	sched_free(&srv->sched);
	ev_free(srv->ev);
	if (srv->sig_fd != -1)
		close(srv->sig_fd);
	if (srv->null_fd != -1)
		close(srv->null_fd);
	if (srv->listener.fd != -1)
		close(srv->listener.fd);
	free(srv->allowed);
}

int
cmd_serve(int argc, char **argv)
{
	struct serve_config	 cfg;
	struct server		 srv;
	int			 rc;

	memset(&srv, 0, sizeof(srv));
	srv.cfg = &cfg;
	srv.listener.fd = srv.sig_fd = srv.null_fd = -1;
	srv.sched.self_stat_fd = -1;
	switch (serve_config_parse(&cfg, argc, argv)) {
	case 1:
		rc = 0;
		goto done;
	case -1:
		rc = EX_USAGE;
		goto done;
	}
	if ((rc = serve_open(&srv)) != 0)
		goto done;
	slog(LOG_INFO, "listening on %s, up to %zu CGIs at once, %s",
	    cfg.address ? cfg.address : "an inherited socket", cfg.max_cgi,
	    cfg.fixed_argv ? cfg.fixed_argv[0] : "scripts under -r");
	server_run(&srv);
	slog(LOG_INFO, "stopped");
done:
	serve_close(&srv);
	serve_config_free(&cfg);
	return rc;
}
