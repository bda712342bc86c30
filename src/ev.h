/*
 * The event loop: epoll(7) over a set of descriptors, each with a
 * callback.  epoll rather than poll because poll re-registers every
 * descriptor on every call, which under load cost bench and serve more
 * than the requests themselves.  Sockets, pipes and the like only: epoll
 * refuses regular files.
 */
#ifndef EV_H
#define EV_H

struct ev;

/* Called with the revents of fd, as poll(2) names them. */
typedef void ev_fn(void *arg, int fd, int revents);

struct ev	*ev_new(void);
void		 ev_free(struct ev *);
/*
 * Watches fd for events (POLLIN, POLLOUT; 0 keeps the callback but stops
 * watching, so that not even a hang-up is reported until events are set
 * again), calling fn(arg, fd, revents).  Adds fd or changes its watch.
 * Returns 0, or -1 with errno set (out of memory, or fd not pollable).
 */
int		 ev_set(struct ev *, int fd, short events, ev_fn *, void *arg);
/*
 * As ev_set, for one event only: once fn has been called, fd is watched
 * for nothing (as with events 0), at no cost of a system call.
 */
int		 ev_set_once(struct ev *, int fd, short events, ev_fn *,
		    void *arg);
/* Changes only the events of a registered fd. */
void		 ev_events(struct ev *, int fd, short events);
/* Forgets fd; call before closing it.  Safe inside a callback. */
void		 ev_del(struct ev *, int fd);
/*
 * Forgets fd and closes it, with no epoll_ctl: closing the last
 * descriptor of a file takes it out of the epoll set.  Only for a file
 * that no other descriptor (a dup, or a child's copy) refers to.  Safe
 * inside a callback.
 */
void		 ev_close(struct ev *, int fd);
/*
 * Waits up to timeout_ms (-1: no limit) and runs the callbacks of the
 * descriptors that are ready.  Returns 0, or -1 on an epoll_wait error
 * other than EINTR.
 */
int		 ev_run_once(struct ev *, int timeout_ms);

#endif /* EV_H */
