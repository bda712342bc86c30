#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "hdr.h"

/*
 * What bench reports, from a run or from the union of several runs'
 * JSON reports (--merge): the counts, the latencies of the requests that
 * succeeded, second by second too, and the checks of --check on them.
 */

/* The exit status of a run or a merge whose checks failed (as k6's). */
#define EX_CHECKS_FAILED	99

enum error_kind {
	ERR_CONNECT,
	ERR_RESET,
	ERR_TIMEOUT,
	ERR_PROTOCOL,
	ERR_OVERLOADED,
	ERR_APP_STATUS,
	ERR_KINDS
};

extern const char *const error_names[ERR_KINDS];

/* One second of the measurement (the last one may be shorter). */
struct second {
	double		 start_s;	/* from the start of the measurement */
	double		 duration_s;
	uint64_t	 requests;	/* that succeeded in it */
	uint64_t	 errors;
	uint64_t	 max_us;
	uint64_t	 p50_us;
	uint64_t	 p99_us;
	char		*histogram;	/* its latencies, hdr_encode'd */
};

struct results {
	uint64_t	 errors[ERR_KINDS];
	uint64_t	 status[1000];	/* requests that succeeded, by status */
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
	uint64_t	 stalled;
	double		 start_time;	/* of the measurement, since the epoch */
	double		 duration_s;
	struct hdr	 latency;	/* in us */
	struct second	*seconds;
	size_t		 nseconds;
	size_t		 seconds_cap;
	struct hdr_encoder *encoder;	/* made at the first use */
};

enum figure {
	FIG_REQUESTS,
	FIG_ERRORS,
	FIG_ERROR_RATE,
	FIG_ERRORS_OF_KIND,
	FIG_STATUS,
	FIG_STATUS_CLASS,
	FIG_RPS,
	FIG_DURATION,
	FIG_BYTES_IN,
	FIG_BYTES_OUT,
	FIG_STALLED,
	FIG_MIN,
	FIG_MEAN,
	FIG_MAX,
	FIG_PERCENTILE
};

enum check_op { OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE };

/* One --check: a figure, an operator and a threshold in a unit. */
struct check {
	const char	*expr;		/* as given */
	enum figure	 figure;
	int		 arg;		/* the kind, status or status class */
	double		 percentile;	/* of FIG_PERCENTILE */
	enum check_op	 op;
	double		 threshold;	/* in the figure's own unit */
	const char	*unit;		/* the expression's, to show values in */
	double		 per_unit;	/* the figure's units in one of those */
	int		 decimals;	/* to show a value in that unit */
};

/* s as a JSON string, quoted and escaped. */
void	 json_print_string(FILE *, const char *s);

/* Parses a --check expression into c; 0, or -1 after saying why. */
int	 check_parse(const char *, struct check *c);

/*
 * Appends a second to r's timeline, with the latencies of h, whose max
 * is that second's exact max.  0, or -1 when out of memory (said).
 */
int	 results_add_second(struct results *r, double start_s,
	    double duration_s, uint64_t requests, uint64_t errors,
	    const struct hdr *h);
void	 results_free(struct results *);
uint64_t results_requests(const struct results *);
uint64_t results_errors(const struct results *);

/* The text report on stdout, with a line per check. */
void	 report_text(const struct results *, const struct check *, size_t);
/*
 * The JSON report, one line on stdout; settings prints what ends it (a
 * key and its value, or several, after a ',').  0, or EX_OSERR (said).
 */
int	 report_json(struct results *, const struct check *, size_t,
	    void (*settings)(void *), void *arg);
/*
 * Says on stderr which checks failed, and returns the exit status that
 * the results and the checks stand for (see the manual's EXIT STATUS);
 * what says that no request completed is the caller's.
 */
int	 report_status(const struct results *, const struct check *, size_t);
/* The percentile spectrum into f, named path; 0, or an exit status. */
int	 report_hgrm(const struct results *, FILE *f, const char *path);

/*
 * --merge: reads the JSON reports of bench in files into the union r;
 * *runs gets the text of each run's settings (or of the runs a merged
 * file lists), pointing into *texts.  0, or an exit status (said).
 */
struct merged_runs {
	char		**texts;	/* the files read */
	size_t		  ntexts;
	const char	**settings;	/* a run's settings object */
	size_t		 *settings_len;
	size_t		  nruns;
};

int	 merge_reports(char **files, int nfiles, struct results *r,
	    struct merged_runs *runs);
void	 merged_runs_free(struct merged_runs *);

#endif /* BENCH_REPORT_H */
