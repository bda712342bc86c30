/*
 * bench's io_uring engine: client connections in numbered slots, each
 * opened, written, read and closed by operations submitted together, a
 * batch per turn of the loop, so that a request costs a fraction of one
 * io_uring_enter(2) rather than a system call per step.
 *
 * A slot's connection is opened by a linked chain, socket -> connect ->
 * send -> recv.  With a direct descriptor (the ring's own file table,
 * no file descriptor at all) the chain goes in one submission; with a
 * plain descriptor (wanted where bench asks the socket with ioctl) the
 * socket comes first, and the rest is linked once its descriptor is
 * known.  Closing a slot cancels what is in flight on it and closes the
 * socket; the slot may be opened again once the kernel has answered
 * every operation it had, so that none of them writes into a buffer the
 * slot's next connection uses.
 */
#ifndef BENCH_URING_H
#define BENCH_URING_H

#include <sys/socket.h>

#include <stddef.h>

struct uring;

/* What a completion reports to the slot's callback. */
enum uring_event {
	URING_CONNECT_FAILED,	/* res: -errno of socket or connect */
	URING_SENT,		/* res: bytes sent (all), or -errno */
	URING_RECEIVED		/* res: bytes received, 0 at EOF, or -errno */
};

typedef void uring_fn(void *arg, enum uring_event, int res);

/*
 * A ring for nslots connections to sa, or NULL with errno set when this
 * kernel cannot give one: io_uring missing or disabled
 * (kernel.io_uring_disabled, a seccomp filter), or no IORING_OP_SOCKET
 * (Linux < 5.19), ENOTSUP then.  Copies sa.
 */
struct uring	*uring_new(unsigned nslots, const struct sockaddr *sa,
		    socklen_t salen);
/* Cancels what is in flight, waits for the kernel to let go, frees. */
void		 uring_free(struct uring *);
/* Sets the callback of slot, called with arg for its completions. */
void		 uring_slot_init(struct uring *, unsigned slot, uring_fn *,
		    void *arg);
/* Whether slot may be opened: closed, and nothing of it in flight. */
int		 uring_slot_free(const struct uring *, unsigned slot);
/* The plain descriptor of slot's connection, or -1 (direct, or none). */
int		 uring_fd(const struct uring *, unsigned slot);
/*
 * Sends len bytes of buf on slot, which must stay as they are until
 * URING_SENT, opening the connection first when slot has none (direct:
 * with a direct descriptor).  With rbuf, a receive into rbuf (rlen
 * bytes) is linked after the send; last says that nothing more is to be
 * sent before an answer can come, so that the receive may wait for it
 * and tell of the send too.  0, or -1 when out of room in the ring.
 */
int		 uring_send(struct uring *, unsigned slot, int direct,
		    const void *buf, size_t len, int last, void *rbuf,
		    size_t rlen);
/* Receives up to len bytes into buf on slot's connection; 0 or -1. */
int		 uring_recv(struct uring *, unsigned slot, void *buf,
		    size_t len);
/* Closes slot's connection: nothing more of it is reported. */
void		 uring_close(struct uring *, unsigned slot);
/*
 * Submits what was queued and waits up to timeout_ms for completions,
 * running the callbacks of those that came.  0, or -1 with errno set.
 */
int		 uring_run_once(struct uring *, int timeout_ms);

#endif /* BENCH_URING_H */
