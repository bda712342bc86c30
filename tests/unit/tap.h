/*
 * The TAP harness of the C unit tests, and the helpers they share.  A case
 * is a function of CHECKs; tap_run runs each and prints "ok N - name" or
 * "not ok N - name", with what failed as "# " lines before it, as
 * tests/run counts them.
 */
#ifndef TAP_H
#define TAP_H

#include <stddef.h>

struct tap_case {
	void		(*fn)(void);
	const char	*name;
};

/* A "# " line for the running case (the first dozen of them). */
void	 diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Fails the running case, saying why in a "# " line. */
void	 tap_fail(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/* Each returns whether the check held, failing the case when not. */
int	 check_(int ok, int line, const char *expr);
int	 check_eq_(long long a, long long b, int line, const char *ea,
	    const char *eb);
int	 check_mem_(const void *a, const void *b, size_t n, int line,
	    const char *ea, const char *eb);
/* Two strings, either of which may be NULL. */
int	 check_str_(const char *a, const char *b, int line, const char *ea,
	    const char *eb);

#define CHECK(c)		check_((c) != 0, __LINE__, #c)
#define CHECK_EQ(a, b)		check_eq_((long long)(a), (long long)(b), \
				    __LINE__, #a, #b)
#define CHECK_MEM(a, b, n)	check_mem_((a), (b), (n), __LINE__, #a, #b)
#define CHECK_STR(a, b)		check_str_((a), (b), __LINE__, #a, #b)
#define FAIL(...)		tap_fail(__VA_ARGS__)

/*
 * Prints the plan, then runs the n cases in order, a line for each.
 * Returns 1 if any failed, else 0.
 */
int	 tap_run(const struct tap_case *, size_t n);

/*
 * A heap copy of exactly n bytes (one zero byte is allocated for n 0), so
 * that ASan catches a read past what a parser was given.  Pass exact_ptr()
 * to the parser: for n 0 it points past the end of a one-byte array.
 */
void		*dup_exact(const void *, size_t n);
const void	*exact_ptr(const void *copy, size_t n);

/* malloc and realloc that end the test (exit 2) when out of memory. */
void		*xmalloc(size_t);
void		*xrealloc(void *, size_t);

#endif /* TAP_H */
