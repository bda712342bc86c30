#ifndef HDR_H
#define HDR_H

#include <stdint.h>
#include <stdio.h>

/*
 * A latency histogram laid out as HdrHistogram lays out one of values from
 * 1 to 86400 s in microseconds with 3 significant figures, as wrk2 does:
 * exact to the microsecond below 2048, then 1024 buckets per power of two
 * (within 1/1024 of the value), 27 powers.  Its counts are HdrHistogram's
 * counts, index for index, so that HdrHistogram's own tools read its
 * encoding and its percentiles are theirs; min, max and sum are kept exact
 * besides.  Fixed size: 28672 counts.
 */
#define HDR_SIGNIFICANT_FIGURES	3
#define HDR_LOWEST		1
#define HDR_HIGHEST		86400000000LL	/* -t at most, in us */
#define HDR_SUB_BUCKETS		2048
#define HDR_BUCKETS		27
#define HDR_COUNTS		((HDR_BUCKETS + 1) * (HDR_SUB_BUCKETS / 2))

struct hdr {
	uint64_t	 count[HDR_COUNTS];
	uint64_t	 total;
	uint64_t	 min;
	uint64_t	 max;
	uint64_t	 sum;
};

void		 hdr_reset(struct hdr *);
/* Counts v; a value above HDR_HIGHEST counts as HDR_HIGHEST. */
void		 hdr_record(struct hdr *, uint64_t v);
/* Adds the counts, totals and sums of src to h. */
void		 hdr_add(struct hdr *h, const struct hdr *src);
/* The largest value that counts the same as v. */
uint64_t	 hdr_highest_equivalent(uint64_t v);
/*
 * The value at percentile p (0 to 100) as HdrHistogram's
 * getValueAtPercentile gives it: the highest value equivalent to the
 * ceil(p% of total)th, but no more than the exact max.  0 when empty.
 */
uint64_t	 hdr_percentile(const struct hdr *, double p);
/*
 * Writes the percentile spectrum as HdrHistogram_c's classic
 * hdr_percentiles_print (and so wrk2) prints it, 5 ticks per half
 * distance, values divided by scale.  0, or -1 when writing failed.
 */
int		 hdr_print_spectrum(const struct hdr *, FILE *, double scale);
/*
 * What encoding needs, kept from one histogram to the next: the buffers
 * and zlib's stream, whose state is some 256 KiB, so that a histogram a
 * second costs no allocation of it.  NULL when out of memory.
 */
struct hdr_encoder;
struct hdr_encoder	*hdr_encoder_new(void);
void		 hdr_encoder_free(struct hdr_encoder *);
/*
 * The histogram as HdrHistogram's compressed V2 encoding, in base64: a
 * NUL-terminated string to free, or NULL when out of memory.
 */
char		*hdr_encode(struct hdr_encoder *, const struct hdr *);
/*
 * Reads what hdr_encode writes (len bytes of base64), from HdrHistogram
 * too when its layout is this one, into h: its counts and total, with
 * min, max and sum as the buckets tell them (the lowest value of the
 * first, the highest of the last, the sum of their middles).  0, or -1
 * when it is malformed or laid out otherwise.
 */
int		 hdr_decode(const char *, size_t len, struct hdr *h);

#endif /* HDR_H */
