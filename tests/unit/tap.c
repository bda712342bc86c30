#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#define MAX_DIAGS	12

static int	case_failed;
static int	case_diags;

static void
vdiag(const char *fmt, va_list ap)
{
	if (case_diags++ == MAX_DIAGS) {
		printf("#   (more diagnostics suppressed)\n");
		return;
	}
	if (case_diags > MAX_DIAGS)
		return;
	printf("#   ");
	vprintf(fmt, ap);
	printf("\n");
}

void
diag(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vdiag(fmt, ap);
	va_end(ap);
}

void
tap_fail(const char *fmt, ...)
{
	va_list	 ap;

	case_failed = 1;
	va_start(ap, fmt);
	vdiag(fmt, ap);
	va_end(ap);
}

int
check_(int ok, int line, const char *expr)
{
	if (!ok)
		tap_fail("line %d: failed: %s", line, expr);
	return ok;
}

int
check_eq_(long long a, long long b, int line, const char *ea, const char *eb)
{
	if (a != b)
		tap_fail("line %d: %s == %s: got %lld, want %lld", line, ea,
		    eb, a, b);
	return a == b;
}

int
check_mem_(const void *a, const void *b, size_t n, int line, const char *ea,
    const char *eb)
{
	const uint8_t	*p = a, *q = b;
	size_t		 i;

	for (i = 0; i < n; i++)
		if (p[i] != q[i])
			break;
	if (i < n) {
		tap_fail("line %d: %s and %s differ at byte %zu of %zu: "
		    "0x%02x, want 0x%02x", line, ea, eb, i, n, p[i], q[i]);
		return 0;
	}
	return 1;
}

int
check_str_(const char *a, const char *b, int line, const char *ea,
    const char *eb)
{
	if (a == NULL || b == NULL ? a == b : strcmp(a, b) == 0)
		return 1;
	tap_fail("line %d: %s == %s: got %s%s%s, want %s%s%s", line, ea, eb,
	    a ? "\"" : "", a ? a : "NULL", a ? "\"" : "",
	    b ? "\"" : "", b ? b : "NULL", b ? "\"" : "");
	return 0;
}

int
tap_run(const struct tap_case *cases, size_t n)
{
	size_t	 i;
	int	 failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("1..%zu\n", n);
	for (i = 0; i < n; i++) {
		case_failed = 0;
		case_diags = 0;
		cases[i].fn();
		printf("%s %zu - %s\n", case_failed ? "not ok" : "ok", i + 1,
		    cases[i].name);
		failed |= case_failed;
	}
	return failed;
}

void *
dup_exact(const void *p, size_t n)
{
	uint8_t	*q = xmalloc(n);

	if (n > 0)
		memcpy(q, p, n);
	else
		q[0] = 0;
	return q;
}

static const uint8_t	 nothing[1];

const void *
exact_ptr(const void *copy, size_t n)
{
	return n > 0 ? copy : nothing + 1;
}

void *
xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n > 0 ? n : 1)) == NULL) {
		perror("malloc");
		exit(2);
	}
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n > 0 ? n : 1)) == NULL) {
		perror("realloc");
		exit(2);
	}
	return p;
}
