/*
 * Fuzz target: serve's request assembly from a byte stream.  The input is
 * what a web server sends on one connection, cut into pieces of sizes the
 * first byte seeds; each piece is written to a socket pair and serve's
 * loop takes a turn.  serve runs its real code for connections, records,
 * requests and bodies; only its CGIs are never started: every slot counts
 * as busy, so that each request either waits (its body held in memory or
 * spooled to a file) or is refused once -q is full.  Whether the program
 * is a fixed one or a script looked up under an empty root, and whether
 * requests may wait at all, also come from the first byte.
 *
 * Checked: whatever serve sends back parses as whole FastCGI records, in
 * any cut; nothing leaks (LeakSanitizer) or touches freed memory.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ev.h"
#include "fcgi.h"
#include "serve_internal.h"
#include "util.h"

#define REQUIRE(c)	do { if (!(c)) abort(); } while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char		*fixed_argv[] = { "/bin/true", NULL };
static char		 fixed_program[] = "/bin/true";
static char		 empty_root[] = "/nonexistent-fcgi-bridge-fuzz-root";
static char		*roots[] = { empty_root };

/* What serve sent back, not yet a whole record. */
static uint8_t		 answer[FCGI_MAX_RECORD];
static size_t		 answer_len;

/* Reads what serve sent and checks that it is whole records. */
static void
drain(int fd)
{
	struct fcgi_record	 rec;
	const char		*errstr;
	ssize_t			 n;
	size_t			 off;
	int			 len;

	while ((n = recv(fd, answer + answer_len, sizeof(answer) - answer_len,
	    MSG_DONTWAIT)) > 0) {
		answer_len += (size_t)n;
		off = 0;
		while ((len = fcgi_record_parse(answer + off, answer_len - off,
		    &rec, &errstr)) > 0)
			off += (size_t)len;
		REQUIRE(len == 0);
		memmove(answer, answer + off, answer_len - off);
		answer_len -= off;
	}
}

static uint32_t
next_cut(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct serve_config	 cfg;
	struct server		 srv;
	struct sockaddr_storage	 peer;
	uint32_t		 x;
	size_t			 off, cut;
	ssize_t			 n;
	int			 sv[2], i;

	if (size < 1)
		return 0;
	memset(&cfg, 0, sizeof(cfg));
	cfg.max_cgi = 1;
	cfg.max_queue = data[0] & 0x40 ? 3 : 0;
	cfg.max_conns = 4;
	cfg.max_params = 64 * 1024;
	cfg.timeout_ms = 60 * 1000;
	cfg.idle_ms = 60 * 1000;
	cfg.grace_ms = 1000;
	cfg.spool_dir = "/tmp";
	if (data[0] & 0x80) {
		cfg.fixed_argv = fixed_argv;
		cfg.fixed_program = fixed_program;
	} else {
		cfg.roots = roots;
		cfg.nroots = 1;
	}
	memset(&srv, 0, sizeof(srv));
	srv.cfg = &cfg;
	srv.listener.fd = srv.sig_fd = srv.null_fd = -1;
	if ((srv.ev = ev_new()) == NULL)
		err(1, "ev_new");
	sched_init(&srv.sched, cfg.max_cgi, 0);
	srv.nbusy = cfg.max_cgi;	/* no CGI ever starts */
	srv.last_tick = now_ms();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1)
		err(1, "socketpair");
	memset(&peer, 0, sizeof(peer));
	peer.ss_family = AF_UNIX;
	REQUIRE(conn_new(&srv, sv[0], &peer) != NULL);
	answer_len = 0;

	x = 2463534242u ^ data[0];
	for (off = 1; off < size; off += (size_t)n) {
		/* A quarter of the cuts tiny, the rest up to the seeded size. */
		cut = next_cut(&x);
		cut = 1 + ((cut & 3) == 0 ? (cut >> 2) % 16 :
		    (cut >> 2) % ((data[0] & 0x3f) * 1024 + 1));
		if (cut > size - off)
			cut = size - off;
		n = send(sv[1], data + off, cut, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0)
			break;	/* serve holds the connection back, or closed it */
		server_turn(&srv, 0);
		drain(sv[1]);
	}
	/* The web server goes away: everything must wind down. */
	close(sv[1]);
	for (i = 0; i < 4 && srv.conns != NULL; i++)
		server_turn(&srv, 0);
	while (srv.conns != NULL)
		conn_close(srv.conns, NULL);
	srv.nbusy = 0;
	REQUIRE(srv.nqueued == 0 && srv.children == NULL);
	sched_free(&srv.sched);
	ev_free(srv.ev);
	return 0;
}
