/*
 * serve: how many CGIs may run at once.  With the cap -c alone, CPU-bound
 * CGIs would all run together and share the cores: no more answers per
 * second, and every answer as late as the slowest.  So serve learns from
 * every CGI that exits how much of its life it spent running, and runs
 * only as many as keep the cores busy, within -c.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "serve_internal.h"
#include "util.h"

/* The CPUs serve may run on, and so its CGIs. */
static size_t
cpus_usable(void)
{
	cpu_set_t	 set;
	int		 n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 &&
	    (n = CPU_COUNT(&set)) > 0)
		return (size_t)n;
	return 1;
}

void
sched_init(struct sched *s, size_t max, int adapt)
{
	s->max = max;
	s->adapt = adapt;
	s->ncpu = cpus_usable();
	s->need = 0;
	s->self_queued = 0;
	s->sampled_us = 0;
	s->nlearnt = 0;
	s->self_stat_fd = adapt ?
	    open("/proc/self/schedstat", O_RDONLY | O_CLOEXEC) : -1;
}

/* The cap of -c, or less when descriptors are short (server_fd_budget). */
void
sched_set_max(struct sched *s, size_t max)
{
	s->max = max;
}

void
sched_free(struct sched *s)
{
	if (s->self_stat_fd != -1)
		close(s->self_stat_fd);
	s->self_stat_fd = -1;
}

/*
 * Three times what the CGIs' mix of running and waiting needs to keep the
 * cores busy (three measured better than two or than no limit, on two
 * cores), within -c.
 */
size_t
sched_limit(const struct sched *s)
{
	double	 lim;

	if (!s->adapt || s->need == 0)
		return s->max;
	lim = 3.0 * (double)s->ncpu * s->need;
	if (lim >= (double)s->max)
		return s->max;
	return lim < 1.0 ? 1 : (size_t)lim + 1;
}

/*
 * Whether another CGI may start, busy CGIs running now.  The count learns
 * only from CGIs that ended; one that has run for over LONG_CGI_MS (a long
 * poll, a slow query) counts against -c alone, so that a few of them
 * cannot hold back every other request until they end.
 */
int
sched_may_start(const struct sched *s, size_t busy, size_t long_running)
{
	return busy < s->max && busy - long_running < sched_limit(s);
}

/* The first two figures of a /proc schedstat file: ns run, ns queued. */
static int
schedstat_read(int fd, unsigned long long *run, unsigned long long *queued)
{
	char	 buf[128], *end;
	ssize_t	 n;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return -1;
	buf[n] = '\0';
	errno = 0;
	*run = strtoull(buf, &end, 10);
	if (errno != 0 || *end != ' ')
		return -1;
	*queued = strtoull(end + 1, &end, 10);
	if (errno != 0 || *end != ' ')
		return -1;
	return 0;
}

/*
 * How long serve itself waited for a CPU since the last call: on a busy
 * machine it sees its children's exits that much late, which would
 * otherwise count as their waiting.
 */
static unsigned long long
sched_lateness(struct sched *s)
{
	unsigned long long	 run, queued, late = 0;

	if (s->self_stat_fd == -1 ||
	    schedstat_read(s->self_stat_fd, &run, &queued) == -1)
		return 0;
	if (queued > s->self_queued)
		late = queued - s->self_queued;
	s->self_queued = queued;
	return late;
}

/*
 * Learns from a CGI that exited, before it is reaped: of its life, the
 * time it ran on a CPU, waited for one (both from /proc/PID/schedstat) and
 * waited for anything else (the rest, less serve's own lateness).
 * (running + other waits) / running is how many such CGIs keep one core
 * busy: about 1 for a CPU-bound one, 34 for one that runs 1.5 ms and
 * sleeps 50.  A moving average of it (from the first CGI seen) sets
 * sched_limit.  Without /proc, nothing is learnt and -c alone holds.
 * Reading /proc costs four system calls, a tenth of a request's, so once
 * the first SCHED_WARMUP CGIs have taught it (from nothing, and while
 * serve starts a burst of them, the first ones may mislead: the next ones
 * correct them at once), one CGI in SCHED_SAMPLE_US at most is learnt
 * from: twenty a second are enough for an average that moves by an eighth
 * a time.  serve's lateness since the last one is then counted in
 * proportion to this CGI's life.
 */
void
sched_learn(struct sched *s, pid_t pid, long long started_us)
{
	char			 path[64];
	unsigned long long	 run, queued, life, busy, late, since;
	long long		 now;
	int			 fd, rc;

	if (!s->adapt)
		return;
	now = now_us();
	if (s->nlearnt >= SCHED_WARMUP &&
	    now - s->sampled_us < SCHED_SAMPLE_US)
		return;
	since = (unsigned long long)(now - (s->sampled_us != 0 ?
	    s->sampled_us : started_us)) * 1000;
	s->sampled_us = now;
	late = sched_lateness(s);
	snprintf(path, sizeof(path), "/proc/%ld/schedstat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	rc = schedstat_read(fd, &run, &queued);
	close(fd);
	if (rc == -1 || run == 0)
		return;
	s->nlearnt++;
	life = (unsigned long long)(now - started_us) * 1000;
	if (since > life)
		late = (unsigned long long)((double)late * (double)life /
		    (double)since);
	life -= late < life ? late : life;
	busy = run + (life > run + queued ? life - run - queued : 0);
	if (s->need == 0)
		s->need = (double)busy / (double)run;
	else
		s->need += ((double)busy / (double)run - s->need) / 8;
}
