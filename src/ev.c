#include <sys/epoll.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "ev.h"

/*
 * One watch per descriptor, indexed by the descriptor.  The kernel's copy
 * of the events is kept so that a change costs a system call only when it
 * changes something.  A descriptor watched for nothing stays registered
 * with EPOLLONESHOT and no events: the kernel may still report one
 * hang-up, which the dispatch drops, and then nothing until it is re-armed.
 *
 * Each event carries the descriptor and the serial of its registration,
 * so that an event gathered for a descriptor that a callback then closed
 * (and perhaps reopened as another) is dropped, not delivered to the new
 * owner.
 */
struct ev_watch {
	ev_fn		*fn;		/* NULL: not watched */
	void		*arg;
	uint32_t	 serial;
	uint32_t	 kernel;	/* the events the kernel has */
	short		 events;	/* the events asked for */
	int		 once;		/* see ev_set_once */
};

#define EV_BATCH	256

struct ev {
	int			 epfd;
	struct ev_watch		*watch;
	size_t			 nwatch;
	struct epoll_event	 ready[EV_BATCH];
};

struct ev *
ev_new(void)
{
	struct ev	*ev;

	if ((ev = calloc(1, sizeof(*ev))) == NULL)
		return NULL;
	if ((ev->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		free(ev);
		return NULL;
	}
	return ev;
}

void
ev_free(struct ev *ev)
{
	if (ev == NULL)
		return;
	close(ev->epfd);
	free(ev->watch);
	free(ev);
}

static uint32_t
ev_kernel_events(short events, int once)
{
	if (once)
		return (uint32_t)events | EPOLLONESHOT;
	return events ? (uint32_t)events : EPOLLONESHOT;
}

static int
ev_watch_grow(struct ev *ev, int fd)
{
	struct ev_watch	*grown;
	size_t		 n = ev->nwatch ? ev->nwatch : 64, i;

	while (n <= (size_t)fd)
		n *= 2;
	if ((grown = reallocarray(ev->watch, n, sizeof(*grown))) == NULL)
		return -1;
	for (i = ev->nwatch; i < n; i++)
		grown[i] = (struct ev_watch){ 0 };
	ev->watch = grown;
	ev->nwatch = n;
	return 0;
}

static int
ev_kernel_set(struct ev *ev, int fd, int op, uint32_t events)
{
	struct epoll_event	 ee;

	ee.events = events;
	ee.data.u64 = (uint64_t)ev->watch[fd].serial << 32 | (uint32_t)fd;
	if (epoll_ctl(ev->epfd, op, fd, &ee) == -1)
		return -1;
	ev->watch[fd].kernel = events;
	return 0;
}

static int
ev_watch_set(struct ev *ev, int fd, short events, int once, ev_fn *fn,
    void *arg)
{
	struct ev_watch	*w;

	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	if ((size_t)fd >= ev->nwatch && ev_watch_grow(ev, fd) == -1)
		return -1;
	w = &ev->watch[fd];
	if (w->fn == NULL) {
		w->serial++;
		w->once = once;
		if (ev_kernel_set(ev, fd, EPOLL_CTL_ADD,
		    ev_kernel_events(events, once)) == -1)
			return -1;
	}
	w->fn = fn;
	w->arg = arg;
	ev_events(ev, fd, events);
	return 0;
}

int
ev_set(struct ev *ev, int fd, short events, ev_fn *fn, void *arg)
{
	return ev_watch_set(ev, fd, events, 0, fn, arg);
}

int
ev_set_once(struct ev *ev, int fd, short events, ev_fn *fn, void *arg)
{
	return ev_watch_set(ev, fd, events, 1, fn, arg);
}

void
ev_events(struct ev *ev, int fd, short events)
{
	struct ev_watch	*w;

	if (fd < 0 || (size_t)fd >= ev->nwatch || ev->watch[fd].fn == NULL)
		return;
	w = &ev->watch[fd];
	w->events = events;
	/*
	 * A modification allocates nothing in the kernel, so it fails only
	 * on a descriptor that is not registered, which the check above
	 * rules out.
	 */
	if (w->kernel != ev_kernel_events(events, w->once))
		(void)ev_kernel_set(ev, fd, EPOLL_CTL_MOD,
		    ev_kernel_events(events, w->once));
}

/* Empties fd's watch, if it has one; 1 when it had. */
static int
ev_forget(struct ev *ev, int fd)
{
	struct ev_watch	*w;

	if (fd < 0 || (size_t)fd >= ev->nwatch || ev->watch[fd].fn == NULL)
		return 0;
	w = &ev->watch[fd];
	w->fn = NULL;
	w->arg = NULL;
	w->events = 0;
	w->kernel = 0;
	w->once = 0;
	return 1;
}

void
ev_del(struct ev *ev, int fd)
{
	if (ev_forget(ev, fd))
		(void)epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL);
}

void
ev_close(struct ev *ev, int fd)
{
	(void)ev_forget(ev, fd);
	close(fd);
}

int
ev_run_once(struct ev *ev, int timeout_ms)
{
	struct ev_watch	*w;
	int		 i, n, fd;
	short		 revents;

	if ((n = epoll_wait(ev->epfd, ev->ready, EV_BATCH, timeout_ms)) == -1)
		return errno == EINTR ? 0 : -1;
	for (i = 0; i < n; i++) {
		fd = (int)(uint32_t)ev->ready[i].data.u64;
		w = &ev->watch[fd];
		if (w->fn == NULL ||
		    w->serial != (uint32_t)(ev->ready[i].data.u64 >> 32))
			continue;
		revents = (short)(ev->ready[i].events &
		    ((uint32_t)w->events | POLLHUP | POLLERR));
		if (w->events == 0 || revents == 0)
			continue;
		if (w->once) {
			/* The kernel has disarmed it. */
			w->kernel = EPOLLONESHOT;
			w->events = 0;
		}
		w->fn(w->arg, fd, revents);
	}
	return 0;
}
