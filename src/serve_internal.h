/*
 * What the files of serve share, and nothing else includes.
 *
 *   serve.c         the command: options into a serve_config, start-up
 *                   (listener, privileges, signals), run, free
 *   serve_server.c  the loop: accepting, signals, shut-down, the tick and
 *                   the work deferred to the loop's next turn
 *   serve_conn.c    connections: reading records and acting on each type,
 *                   queueing records to send
 *   serve_req.c     requests: from BEGIN_REQUEST to END_REQUEST, the CGI's
 *                   output, errors of our own, time limits
 *   serve_body.c    request bodies: STDIN records to the CGI's stdin, kept
 *                   while the CGI cannot take them
 *   serve_script.c  which program a request runs, and its environment
 *   serve_child.c   CGI processes: started, stopped, waited for
 *   serve_sched.c   how many CGIs may run at once
 *
 * Ownership: the server owns its connections and its CGI processes; a
 * connection owns its requests; a request owns its pipes and its body's
 * spool.  A request and its CGI point at each other until one lets go
 * (child_detach), so that a request can go away while its process is
 * still being stopped and waited for.
 */
#ifndef SERVE_INTERNAL_H
#define SERVE_INTERNAL_H

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "addr.h"
#include "fcgi.h"

#define READ_CHUNK		FCGI_MAX_PADDED_CONTENT
/* Data records are queued only below this; control records always fit. */
#define WBUF_DATA_LIMIT		(128 * 1024)
#define WBUF_SIZE		(WBUF_DATA_LIMIT + FCGI_HEADER_LEN + \
				    READ_CHUNK + 8)
#define KILL_GRACE_MS		2000
#define LINGER_MS		2000	/* see child_on_exit */
#define DRAIN_MS		2000
#define TICK_MS			200
#define LONG_CGI_MS		1000	/* see sched_may_start */
#define SCHED_SAMPLE_US		50000	/* see sched_learn */
#define SCHED_WARMUP		64	/* see sched_learn */

/* A resource limit that every CGI gets (-L). */
struct cgi_limit {
	int		 resource;	/* RLIMIT_* */
	struct rlimit	 value;
};

/* How CGIs start (--spawn): see child_spawn_init. */
enum spawn_mode {
	SPAWN_AUTO,	/* clone, or posix_spawn where clone is refused */
	SPAWN_CLONE,
	SPAWN_POSIX
};

/* The command line, as parsed; read-only once serve runs. */
struct serve_config {
	const char	*address;	/* -s, or NULL: inherited socket */
	char		**fixed_argv;	/* -- PROGRAM ARGS, or NULL */
	char		*fixed_program;	/* fixed_argv[0], canonical */
	char		**roots;	/* -r, canonical */
	size_t		 nroots;
	char		**extra_env;	/* -e and -P, NAME=VALUE */
	size_t		 nextra_env;
	char		**keep_env;	/* --keep-env */
	size_t		 nkeep_env;
	int		 debug;		/* --debug: LOG_DEBUG lines too */
	const char	*status_path;	/* --status */
	const char	*ping_path;	/* --ping */
	struct cgi_limit limits[4];	/* -L */
	size_t		 nlimits;
	int		 cgi_stderr_own; /* -E */
	int		 use_syslog;	/* -l syslog */
	int		 adapt;		/* not --no-adapt */
	enum spawn_mode	 spawn;		/* --spawn */
	int		 allow_root;
	mode_t		 sock_mode;	/* -m, or 0 */
	const char	*user;		/* -u */
	const char	*group;		/* -g */
	const char	*sock_user;	/* -U */
	const char	*sock_group;	/* -G */
	const char	*spool_dir;	/* TMPDIR: see req_hold_stdin */
	size_t		 max_cgi;	/* -c */
	size_t		 max_queue;	/* -q */
	size_t		 max_conns;
	size_t		 max_params;
	long long	 timeout_ms;	/* -t */
	long long	 idle_ms;
	long long	 grace_ms;
};

/* serve's counters, for --status: see serve_status.c. */
#define STATUS_BUCKETS	12
struct serve_stats {
	time_t			 start_time;
	unsigned long long	 accepted_conns;
	unsigned long long	 requests;
	unsigned long long	 cgi_exit_zero;
	unsigned long long	 cgi_exit_other;
	unsigned long long	 refused_403;
	unsigned long long	 refused_404;
	unsigned long long	 timeouts;
	unsigned long long	 aborted;
	unsigned long long	 overloaded;
	unsigned long long	 protocol_errors;
	unsigned long long	 by_class[6];	/* by HTTP status / 100 */
	unsigned long long	 bytes_in;
	unsigned long long	 bytes_out;
	unsigned long long	 max_active;
	unsigned long long	 max_waiting;
	unsigned long long	 max_children_reached;
	unsigned long long	 queue_len;	/* -q */
	unsigned long long	 duration_buckets[STATUS_BUCKETS];
	double			 duration_sum;
};

/* The adaptive CGI count: see serve_sched.c. */
struct sched {
	size_t			 max;		/* -c */
	int			 adapt;
	size_t			 ncpu;
	double			 need;		/* 0: nothing learnt yet */
	int			 self_stat_fd;	/* /proc/self/schedstat, or -1 */
	unsigned long long	 self_queued;
	long long		 sampled_us;	/* the last CGI learnt from */
	unsigned long		 nlearnt;	/* CGIs learnt from */
};

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
	int		 in_nonblock;	/* see stdin_write */
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

	long long	 begun_ms;	/* BEGIN_REQUEST came then */
	int		 http_status;	/* of the answer, once known */
	int		 own_answer;	/* serve answered, not a CGI */
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
	int		 resume;	/* ...and may go on: server_run_deferred */
	int		 flush_due;	/* wbuf to send: server_run_deferred */
	int		 close_due;	/* done: close it there */
	int		 want_write;	/* the socket was full: wait for POLLOUT */
	struct conn	*due_next;	/* in srv->due: there iff resume,
					   flush_due or close_due */
	long long	 drain_until;
};

struct server {
	const struct serve_config *cfg;
	struct ev	*ev;
	struct addr_listener listener;
	int		 sig_fd;
	int		 null_fd;	/* /dev/null: see child_start */
	struct sockaddr_storage *allowed;	/* FCGI_WEB_SERVER_ADDRS */
	size_t		 nallowed;
	struct sched	 sched;
	struct serve_stats stats;

	struct conn	*conns;
	size_t		 nconns;
	size_t		 max_conns;	/* within --max-conns: server_fd_budget */
	int		 accept_paused;	/* out of descriptors: see the tick */
	struct req	*queue_head;
	struct req	*queue_tail;
	size_t		 nqueued;
	struct child	*children;
	size_t		 nbusy;		/* CGIs that count against -c */
	size_t		 nlong;		/* busy ones older than LONG_CGI_MS */
	struct conn	*due;		/* connections with work deferred */
	int		 dispatch_due;	/* see server_dispatch_soon */

	int		 stopping;
	long long	 stop_at;
	long long	 last_tick;
};

/* A log line that may come in floods: once a second at most. */
struct log_limit {
	long long	 last_ms;
	unsigned long	 suppressed;
};

/* serve.c */
void	 slog(int prio, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 slog_limited(struct log_limit *, int prio, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* serve_server.c */
void	 server_fd_budget(struct server *);
void	 server_on_accept(void *, int, int);
void	 server_on_signal(void *, int, int);
void	 server_dispatch_soon(struct server *);
void	 server_turn(struct server *, int wait_ms);
void	 server_run(struct server *);

/* serve_conn.c */
void		 conn_due(struct conn *, int *flag);
struct conn	*conn_new(struct server *, int fd,
		    const struct sockaddr_storage *peer);
void		 conn_close(struct conn *, const char *why);
void		 conn_update(struct conn *);
int		 conn_process(struct conn *);
int		 conn_send(struct conn *);
int		 conn_has_room(struct conn *);
int		 conn_reserve(struct conn *, size_t);
int		 conn_queue(struct conn *, uint8_t type, uint16_t id,
		    const void *, size_t);
int		 conn_queue_stream(struct conn *, uint8_t type, uint16_t id,
		    const uint8_t *, size_t);
void		 conn_tick(struct conn *, long long now);

/* serve_req.c */
struct req	*req_new(struct conn *, uint16_t id, int keep_conn);
void		 req_free(struct req *);
struct req	*req_find(struct conn *, uint16_t id);
void		 req_end(struct req *, uint32_t app_status,
		    uint8_t protocol_status);
void		 req_fail_http(struct req *, int status, const char *why);
int		 req_fail(struct req *, int status, const char *why);
void		 req_close_fd(struct req *, int *);
int		 req_add_params(struct req *, const uint8_t *, size_t);
const char	*req_param(const struct req *, const char *name, char *buf,
		    size_t len);
int		 req_params_done(struct req *);
void		 req_dispatch_queue(struct server *);
void		 req_maybe_finish(struct req *);
void		 req_abort(struct req *);
void		 req_update(struct req *);
void		 req_on_stdout(void *, int, int);
void		 req_on_stderr(void *, int, int);
void		 req_tick(struct req *, long long now);

/* serve_body.c */
int		 req_stdin_pending(const struct req *);
int		 req_stdin_blocks(const struct req *);
int		 req_feed_stdin(struct req *, const uint8_t *, size_t,
		    const char **why);
void		 req_drop_stdin(struct req *);
void		 req_on_stdin(void *, int, int);

/* serve_script.c */
int		 script_prepare(struct req *, const char **why);

/* serve_child.c */
int		 child_start(struct req *);
void		 child_stop(struct child *, int detach);
void		 child_detach(struct child *);
void		 child_tick(struct server *, long long now);
int		 child_pidfd_check(void);
int		 child_spawn_init(enum spawn_mode);

/* serve_status.c */
void		 status_request_ended(struct server *, const struct req *,
		    uint32_t app_status, uint8_t protocol_status);
void		 status_request_dropped(struct server *);
int		 status_answer(struct req *, const char *script_name,
		    const char *query);

/* serve_sched.c */
void		 sched_init(struct sched *, size_t max, int adapt);
void		 sched_set_max(struct sched *, size_t);
void		 sched_free(struct sched *);
size_t		 sched_limit(const struct sched *);
int		 sched_may_start(const struct sched *, size_t busy,
		    size_t long_running);
void		 sched_learn(struct sched *, pid_t, long long started_us);

#endif /* SERVE_INTERNAL_H */
