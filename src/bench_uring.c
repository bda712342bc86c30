#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>

#include "bench_uring.h"

/*
 * Each operation's user_data: the generation of its slot's connection,
 * the slot, whether it always completes with a CQE (counted in the
 * slot's pending), whether such an operation is linked after it, and
 * what it is.  The steps that need no answer when they succeed skip
 * their CQE: a direct socket, connect, cancel, close, and a send with a
 * receive linked after it, whose CQE says that the send went whole.
 */
enum uring_op {
	OP_SOCKET,
	OP_CONNECT,
	OP_SEND,
	OP_RECV,
	OP_CANCEL,
	OP_CLOSE
};
#define UD_OP_MASK	0x7u
#define UD_COUNTED	0x8u
#define UD_LINKED	0x10u
#define UD_SLOT_SHIFT	5
#define UD_SLOT_MASK	0x7ffffffu	/* below the generation */

struct uring_slot {
	uring_fn	*fn;
	void		*arg;
	uint32_t	 gen;		/* older completions are dropped */
	int		 open;		/* a connection, or one being opened */
	int		 direct;
	int		 fd;		/* its plain descriptor, or -1 */
	unsigned	 pending;	/* operations whose CQE is to come */
	size_t		 unsaid;	/* a send that skipped its CQE */
	/* While a plain socket is being made: what follows it. */
	const void	*buf;
	size_t		 len;
	int		 last;
	void		*rbuf;
	size_t		 rlen;
};

struct uring {
	struct io_uring		 ring;
	struct uring_slot	*slots;
	unsigned		 nslots;
	struct sockaddr_storage	 sa;
	socklen_t		 salen;
};

/* The CQEs taken off the ring at a time. */
#define URING_BATCH	256
/* Room in the ring, in operations per slot (a whole opening chain with
 * a close and a cancel before it), and its bounds. */
#define URING_OPS_PER_SLOT	6
#define URING_MIN_ENTRIES	64
#define URING_MAX_ENTRIES	4096

/*
 * The ring with the set-up flags that spare the kernel work (completions
 * run only when bench waits for them, by bench's one thread), or, on a
 * kernel that lacks them (older than 6.1), none.
 */
static int
uring_ring_init(struct uring *u, unsigned entries)
{
	struct io_uring_params	 p;
	int			 rc;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
	    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	if ((rc = io_uring_queue_init_params(entries, &u->ring, &p)) ==
	    -EINVAL) {
		memset(&p, 0, sizeof(p));
		rc = io_uring_queue_init_params(entries, &u->ring, &p);
	}
	return rc;
}

struct uring *
uring_new(unsigned nslots, const struct sockaddr *sa, socklen_t salen)
{
	struct io_uring_probe	*probe;
	struct uring		*u;
	unsigned		 entries, i;
	int			 rc, has_socket;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	if ((u->slots = calloc(nslots, sizeof(*u->slots))) == NULL) {
		free(u);
		return NULL;
	}
	for (i = 0; i < nslots; i++)
		u->slots[i].fd = -1;
	u->nslots = nslots;
	memcpy(&u->sa, sa, salen);
	u->salen = salen;
	entries = nslots > URING_MAX_ENTRIES / URING_OPS_PER_SLOT ?
	    URING_MAX_ENTRIES : nslots * URING_OPS_PER_SLOT;
	if (entries < URING_MIN_ENTRIES)
		entries = URING_MIN_ENTRIES;
	if ((rc = uring_ring_init(u, entries)) < 0)
		goto fail;
	probe = io_uring_get_probe_ring(&u->ring);
	has_socket = probe != NULL &&
	    io_uring_opcode_supported(probe, IORING_OP_SOCKET);
	io_uring_free_probe(probe);
	if (!has_socket)
		rc = -ENOTSUP;
	else
		rc = io_uring_register_files_sparse(&u->ring, nslots);
	if (rc < 0) {
		io_uring_queue_exit(&u->ring);
		goto fail;
	}
	/* Spares each io_uring_enter a look-up of the ring's descriptor;
	 * without it, it only costs a little more. */
	(void)io_uring_register_ring_fd(&u->ring);
	return u;
fail:
	free(u->slots);
	free(u);
	errno = -rc;
	return NULL;
}

/* Makes room for n operations, submitting those queued if need be. */
static int
uring_room(struct uring *u, unsigned n)
{
	if (io_uring_sq_space_left(&u->ring) < n)
		(void)io_uring_submit(&u->ring);
	if (io_uring_sq_space_left(&u->ring) < n) {
		errno = ENOBUFS;
		return -1;
	}
	return 0;
}

/*
 * Takes the next entry (uring_room has made room), to be filled by a
 * prep function and then marked by uring_mark.
 */
static struct io_uring_sqe *
uring_sqe(struct uring *u)
{
	return io_uring_get_sqe(&u->ring);
}

/*
 * Tags sqe as op on slot, with flags (IOSQE_*); on a direct descriptor,
 * an operation on the socket names its slot in the ring's file table.
 */
static void
uring_mark(struct uring *u, struct io_uring_sqe *sqe, unsigned slot,
    enum uring_op op, unsigned flags)
{
	struct uring_slot	*s = &u->slots[slot];
	uint64_t		 ud;

	ud = (uint64_t)s->gen << 32 | (uint64_t)slot << UD_SLOT_SHIFT | op;
	if (s->direct && (op == OP_CONNECT || op == OP_SEND || op == OP_RECV))
		flags |= IOSQE_FIXED_FILE;
	if (!(flags & IOSQE_CQE_SKIP_SUCCESS)) {
		ud |= UD_COUNTED;
		s->pending++;
	}
	if (flags & IOSQE_IO_LINK)
		ud |= UD_LINKED;
	io_uring_sqe_set_data64(sqe, ud);
	sqe->flags |= (uint8_t)flags;
}

/* The descriptor argument of an operation on slot's socket. */
static int
uring_target(const struct uring *u, unsigned slot)
{
	return u->slots[slot].direct ? (int)slot : u->slots[slot].fd;
}

/*
 * Queues a send on slot [-> a receive], after a step linked to it if
 * any.  When it is the last send of what is to be answered (last), the
 * send skips its CQE and the receive's tells that it went whole
 * (uring_received); else the next part of a body waits for that CQE,
 * and the answer for the whole body.
 */
static void
uring_send_recv(struct uring *u, unsigned slot, const void *buf,
    size_t len, int last, void *rbuf, size_t rlen)
{
	struct io_uring_sqe	*sqe;
	int			 fd = uring_target(u, slot);

	sqe = uring_sqe(u);
	io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL | MSG_WAITALL);
	if (rbuf == NULL) {
		uring_mark(u, sqe, slot, OP_SEND, 0);
		return;
	}
	uring_mark(u, sqe, slot, OP_SEND, IOSQE_IO_LINK |
	    (last ? IOSQE_CQE_SKIP_SUCCESS : 0));
	u->slots[slot].unsaid = last ? len : 0;
	sqe = uring_sqe(u);
	io_uring_prep_recv(sqe, fd, rbuf, rlen, 0);
	uring_mark(u, sqe, slot, OP_RECV, 0);
}

/*
 * Queues connect -> send [-> recv] on slot, linked, after the socket when
 * with_socket (a direct one, in the same chain).  0, or -1.
 */
static int
uring_chain(struct uring *u, unsigned slot, int with_socket,
    const void *buf, size_t len, int last, void *rbuf, size_t rlen)
{
	struct io_uring_sqe	*sqe;

	if (uring_room(u, 4) == -1)
		return -1;
	if (with_socket) {
		sqe = uring_sqe(u);
		io_uring_prep_socket_direct(sqe, u->sa.ss_family, SOCK_STREAM,
		    0, slot, 0);
		uring_mark(u, sqe, slot, OP_SOCKET,
		    IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS);
	}
	sqe = uring_sqe(u);
	io_uring_prep_connect(sqe, uring_target(u, slot),
	    (const struct sockaddr *)&u->sa, u->salen);
	uring_mark(u, sqe, slot, OP_CONNECT,
	    IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS);
	uring_send_recv(u, slot, buf, len, last, rbuf, rlen);
	return 0;
}

void
uring_slot_init(struct uring *u, unsigned slot, uring_fn *fn, void *arg)
{
	u->slots[slot].fn = fn;
	u->slots[slot].arg = arg;
}

int
uring_slot_free(const struct uring *u, unsigned slot)
{
	return !u->slots[slot].open && u->slots[slot].pending == 0;
}

int
uring_fd(const struct uring *u, unsigned slot)
{
	return u->slots[slot].fd;
}

/* Opens slot with a plain socket: the rest of the chain waits for it. */
static int
uring_open_plain(struct uring *u, unsigned slot, const void *buf,
    size_t len, int last, void *rbuf, size_t rlen)
{
	struct uring_slot	*s = &u->slots[slot];
	struct io_uring_sqe	*sqe;

	if (uring_room(u, 1) == -1)
		return -1;
	s->buf = buf;
	s->len = len;
	s->last = last;
	s->rbuf = rbuf;
	s->rlen = rlen;
	sqe = uring_sqe(u);
	io_uring_prep_socket(sqe, u->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC,
	    0, 0);
	uring_mark(u, sqe, slot, OP_SOCKET, 0);
	return 0;
}

int
uring_send(struct uring *u, unsigned slot, int direct, const void *buf,
    size_t len, int last, void *rbuf, size_t rlen)
{
	struct uring_slot	*s = &u->slots[slot];

	if (!s->open) {
		if (s->pending > 0) {
			errno = EBUSY;
			return -1;
		}
		s->open = 1;
		s->direct = direct;
		if (direct)
			return uring_chain(u, slot, 1, buf, len, last, rbuf,
			    rlen);
		return uring_open_plain(u, slot, buf, len, last, rbuf, rlen);
	}
	if (!s->direct && s->fd == -1) {
		/* Its socket is still being made: one send at a time. */
		errno = EBUSY;
		return -1;
	}
	if (uring_room(u, 2) == -1)
		return -1;
	uring_send_recv(u, slot, buf, len, last, rbuf, rlen);
	return 0;
}

int
uring_recv(struct uring *u, unsigned slot, void *buf, size_t len)
{
	struct io_uring_sqe	*sqe;

	if (uring_room(u, 1) == -1)
		return -1;
	sqe = uring_sqe(u);
	io_uring_prep_recv(sqe, uring_target(u, slot), buf, len, 0);
	uring_mark(u, sqe, slot, OP_RECV, 0);
	return 0;
}

void
uring_close(struct uring *u, unsigned slot)
{
	struct uring_slot	*s = &u->slots[slot];
	struct io_uring_sqe	*sqe;

	if (!s->open)
		return;
	/*
	 * Out of room, rather than wait inside a callback: a direct socket
	 * stays open until the ring goes, and a plain one is closed at once,
	 * the operations in flight on it holding the file until they end.
	 */
	if (!s->direct && s->fd == -1)
		;	/* its socket is still being made: see uring_complete */
	else if (uring_room(u, 2) == -1) {
		if (!s->direct)
			close(s->fd);
	} else {
		if (s->pending > 0) {
			sqe = uring_sqe(u);
			io_uring_prep_cancel_fd(sqe, uring_target(u, slot),
			    IORING_ASYNC_CANCEL_ALL | (s->direct ?
			    IORING_ASYNC_CANCEL_FD_FIXED : 0));
			uring_mark(u, sqe, slot, OP_CANCEL,
			    IOSQE_CQE_SKIP_SUCCESS);
		}
		sqe = uring_sqe(u);
		if (s->direct)
			io_uring_prep_close_direct(sqe, slot);
		else
			io_uring_prep_close(sqe, s->fd);
		uring_mark(u, sqe, slot, OP_CLOSE, IOSQE_CQE_SKIP_SUCCESS);
	}
	s->open = 0;
	s->fd = -1;
	s->unsaid = 0;
	s->gen++;
}

/* A plain socket is made: the chain goes on, or its opening failed. */
static void
uring_socket_made(struct uring *u, unsigned slot, int res)
{
	struct uring_slot	*s = &u->slots[slot];

	if (res < 0) {
		s->fn(s->arg, URING_CONNECT_FAILED, res);
		return;
	}
	s->fd = res;
	if (uring_chain(u, slot, 0, s->buf, s->len, s->last, s->rbuf,
	    s->rlen) == -1)
		s->fn(s->arg, URING_CONNECT_FAILED, -errno);
}

/* A receive is done, and so the send linked before it, if any. */
static void
uring_received(struct uring *u, unsigned slot, int res)
{
	struct uring_slot	*s = &u->slots[slot];
	uint32_t		 gen = s->gen;
	size_t			 sent = s->unsaid;

	if (sent > 0) {
		s->unsaid = 0;
		s->fn(s->arg, URING_SENT, (int)sent);
		/* The callback may have closed the slot. */
		if (!s->open || s->gen != gen)
			return;
	}
	s->fn(s->arg, URING_RECEIVED, res);
}

/* One completion: to its slot's callback, unless it is of the past. */
static void
uring_complete(struct uring *u, uint64_t ud, int res)
{
	unsigned		 slot = (unsigned)(ud >> UD_SLOT_SHIFT) &
			    UD_SLOT_MASK;
	enum uring_op		 op = (enum uring_op)(ud & UD_OP_MASK);
	struct uring_slot	*s = &u->slots[slot];
	int			 current;

	if (ud & UD_COUNTED)
		s->pending--;
	else if (ud & UD_LINKED)
		/* A step that skips its CQE on success failed: the kernel
		 * posts none for the steps linked after it either, of which
		 * the last, and only it, was counted. */
		s->pending--;
	current = s->open && (uint32_t)(ud >> 32) == s->gen;
	if (op == OP_SOCKET && res >= 0 && !s->direct && !current) {
		/* Made for a connection closed since. */
		close(res);
		return;
	}
	/*
	 * A cancelled step follows a failure that is reported (its link's)
	 * or a close: nothing to tell.
	 */
	if (!current || res == -ECANCELED)
		return;
	switch (op) {
	case OP_SOCKET:
		if (s->direct)
			s->fn(s->arg, URING_CONNECT_FAILED, res);
		else
			uring_socket_made(u, slot, res);
		break;
	case OP_CONNECT:
		s->fn(s->arg, URING_CONNECT_FAILED, res);
		break;
	case OP_SEND:
		if ((ud & UD_LINKED) && !(ud & UD_COUNTED)) {
			/* Short: the receive after it is gone too. */
			s->unsaid = 0;
			res = res < 0 ? res : -EPIPE;
		}
		s->fn(s->arg, URING_SENT, res);
		break;
	case OP_RECV:
		uring_received(u, slot, res);
		break;
	case OP_CANCEL:
	case OP_CLOSE:
		break;
	}
}

/* Takes the completions there are off the ring and runs them; their count. */
static unsigned
uring_reap(struct uring *u)
{
	struct io_uring_cqe	*cqes[URING_BATCH];
	uint64_t		 ud[URING_BATCH];
	int			 res[URING_BATCH];
	unsigned		 n, i, total = 0;

	/* Copied out first: a callback may submit, and the ring's room
	 * for completions is freed before it does. */
	do {
		n = io_uring_peek_batch_cqe(&u->ring, cqes, URING_BATCH);
		for (i = 0; i < n; i++) {
			ud[i] = cqes[i]->user_data;
			res[i] = cqes[i]->res;
		}
		io_uring_cq_advance(&u->ring, n);
		for (i = 0; i < n; i++)
			uring_complete(u, ud[i], res[i]);
		total += n;
	} while (n == URING_BATCH);
	return total;
}

int
uring_run_once(struct uring *u, int timeout_ms)
{
	struct __kernel_timespec	 ts;
	struct io_uring_cqe		*cqe;
	int				 rc;

	ts.tv_sec = timeout_ms / 1000;
	ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
	rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1,
	    timeout_ms < 0 ? NULL : &ts, NULL);
	if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) {
		errno = -rc;
		return -1;
	}
	(void)uring_reap(u);
	return 0;
}

/* The operations of all slots whose CQE is still to come. */
static unsigned
uring_pending(const struct uring *u)
{
	unsigned	 i, n = 0;

	for (i = 0; i < u->nslots; i++)
		n += u->slots[i].pending;
	return n;
}

void
uring_free(struct uring *u)
{
	unsigned	 i, tries;

	if (u == NULL)
		return;
	for (i = 0; i < u->nslots; i++)
		uring_close(u, i);
	/* A receive in flight writes into its buffer: bench frees them
	 * after this, so the kernel lets go of every one first. */
	for (tries = 0; tries < 100 && (uring_pending(u) > 0 ||
	    io_uring_sq_ready(&u->ring) > 0); tries++)
		if (uring_run_once(u, 10) == -1)
			break;
	io_uring_queue_exit(&u->ring);
	free(u->slots);
	free(u);
}
