#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>

#include "ev.h"

struct ev_watch {
	ev_fn	*fn;		/* NULL: a freed slot */
	void	*arg;
	int	 fd;
};

/*
 * pfd[i] and watch[i] describe slot i; slot_of[fd] is fd's slot, or -1.
 * A slot freed during a dispatch is marked (no fn) and packed away after
 * it, so that the slots being walked never move under the walk.  A
 * descriptor watched for no event has pfd.fd -1, which poll skips: even a
 * hang-up, which poll reports whatever the events, then waits.
 */
struct ev {
	struct pollfd	*pfd;
	struct ev_watch	*watch;
	size_t		 n;
	size_t		 cap;
	int		*slot_of;
	size_t		 nslot_of;
	int		 dispatching;
	int		 dead;
};

struct ev *
ev_new(void)
{
	return calloc(1, sizeof(struct ev));
}

void
ev_free(struct ev *ev)
{
	if (ev == NULL)
		return;
	free(ev->pfd);
	free(ev->watch);
	free(ev->slot_of);
	free(ev);
}

static int
slot_of_grow(struct ev *ev, int fd)
{
	size_t	 n = ev->nslot_of ? ev->nslot_of : 64, i;
	int	*grown;

	while (n <= (size_t)fd)
		n *= 2;
	if ((grown = reallocarray(ev->slot_of, n, sizeof(int))) == NULL)
		return -1;
	for (i = ev->nslot_of; i < n; i++)
		grown[i] = -1;
	ev->slot_of = grown;
	ev->nslot_of = n;
	return 0;
}

int
ev_set(struct ev *ev, int fd, short events, ev_fn *fn, void *arg)
{
	struct pollfd	*pfd;
	struct ev_watch	*watch;
	size_t		 cap;
	int		 slot;

	if ((size_t)fd >= ev->nslot_of && slot_of_grow(ev, fd) == -1)
		return -1;
	if ((slot = ev->slot_of[fd]) == -1) {
		if (ev->n == ev->cap) {
			cap = ev->cap ? ev->cap * 2 : 64;
			if ((pfd = reallocarray(ev->pfd, cap,
			    sizeof(*pfd))) == NULL)
				return -1;
			ev->pfd = pfd;
			if ((watch = reallocarray(ev->watch, cap,
			    sizeof(*watch))) == NULL)
				return -1;
			ev->watch = watch;
			ev->cap = cap;
		}
		slot = (int)ev->n++;
		ev->slot_of[fd] = slot;
		ev->pfd[slot].revents = 0;
	}
	ev->pfd[slot].fd = events ? fd : -1;
	ev->pfd[slot].events = events;
	ev->watch[slot].fn = fn;
	ev->watch[slot].arg = arg;
	ev->watch[slot].fd = fd;
	return 0;
}

void
ev_events(struct ev *ev, int fd, short events)
{
	int	 slot;

	if ((size_t)fd >= ev->nslot_of || (slot = ev->slot_of[fd]) == -1)
		return;
	ev->pfd[slot].fd = events ? fd : -1;
	ev->pfd[slot].events = events;
}

static void
ev_pack(struct ev *ev)
{
	size_t	 i, j = 0;

	for (i = 0; i < ev->n; i++) {
		if (ev->watch[i].fn == NULL)
			continue;
		ev->pfd[j] = ev->pfd[i];
		ev->watch[j] = ev->watch[i];
		ev->slot_of[ev->watch[j].fd] = (int)j;
		j++;
	}
	ev->n = j;
	ev->dead = 0;
}

void
ev_del(struct ev *ev, int fd)
{
	int	 slot;

	if ((size_t)fd >= ev->nslot_of || (slot = ev->slot_of[fd]) == -1)
		return;
	ev->slot_of[fd] = -1;
	ev->pfd[slot].fd = -1;
	ev->pfd[slot].revents = 0;
	ev->watch[slot].fn = NULL;
	ev->dead = 1;
	if (!ev->dispatching)
		ev_pack(ev);
}

int
ev_run_once(struct ev *ev, int timeout_ms)
{
	size_t	 i, n = ev->n;
	int	 rc;

	if ((rc = poll(ev->pfd, n, timeout_ms)) == -1)
		return errno == EINTR ? 0 : -1;
	ev->dispatching = 1;
	for (i = 0; i < n && rc > 0; i++) {
		short	 revents = ev->pfd[i].revents;

		if (revents == 0)
			continue;
		rc--;
		ev->pfd[i].revents = 0;
		if (ev->watch[i].fn != NULL)
			ev->watch[i].fn(ev->watch[i].arg, ev->watch[i].fd,
			    revents);
	}
	ev->dispatching = 0;
	if (ev->dead)
		ev_pack(ev);
	return 0;
}
