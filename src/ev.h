/*
 * The event loop: poll(2) over a set of descriptors, each with a callback.
 * poll rather than epoll because it takes any descriptor (a regular file
 * on stdin included) and the sets here are hundreds, not tens of thousands.
 */
#ifndef EV_H
#define EV_H

struct ev;

/* Called with the poll revents of fd. */
typedef void ev_fn(void *arg, int fd, int revents);

struct ev	*ev_new(void);
void		 ev_free(struct ev *);
/*
 * Watches fd for events (POLLIN, POLLOUT; 0 keeps the callback but stops
 * watching, so that not even a hang-up is reported until events are set
 * again), calling fn(arg, fd, revents).  Adds fd or changes its watch.
 * Returns 0, or -1 when out of memory.
 */
int		 ev_set(struct ev *, int fd, short events, ev_fn *, void *arg);
/* Changes only the events of a registered fd. */
void		 ev_events(struct ev *, int fd, short events);
/* Forgets fd; call before closing it.  Safe inside a callback. */
void		 ev_del(struct ev *, int fd);
/*
 * Waits up to timeout_ms (-1: no limit) and runs the callbacks of the
 * descriptors that are ready.  Returns 0, or -1 on a poll error other than
 * EINTR.
 */
int		 ev_run_once(struct ev *, int timeout_ms);

#endif /* EV_H */
