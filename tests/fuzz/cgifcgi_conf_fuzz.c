/*
 * libFuzzer target for cgi-fcgi's command files (-f FILE, src/cgifcgi.c):
 * the input is the file's text, cut into words by cgi_fcgi_words and then
 * taken as arguments by cgi_fcgi_args, as read_command_file and
 * cgi_fcgi_main do.  Nothing is connected to or started.
 *
 * Checked: the words are those of the text, in order and in place: the
 * runs of characters other than space, tab, CR and LF, outside the lines
 * that start with '#', up to a NUL; the arguments are refused with
 * EX_USAGE, or say what to do (an address, -bind or -start or both, an
 * application when there is something to start, 1 to SPAWN_MAX_CHILDREN
 * processes); nothing leaks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cgifcgi.h"
#include "spawn.h"

#define REQUIRE(c)	do { if (!(c)) abort(); } while (0)

#define BLANKS		" \t\r"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Whether p points into the words. */
static int
is_word(const struct cgi_fcgi *cf, int n, const char *p)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (cf->words[i] == p)
			return 1;
	return 0;
}

/*
 * The words of text, as the original (orig, len bytes up to a NUL)
 * has them: each at the same offset in text as in orig.
 */
static void
check_words(const struct cgi_fcgi *cf, int n, const char *text,
    const char *orig, size_t len)
{
	size_t	 off = 0, wlen;
	int	 i = 0, line_start = 1;

	len = strnlen(orig, len);
	while (off < len) {
		if (line_start && orig[off] == '#') {
			while (off < len && orig[off] != '\n')
				off++;
			continue;
		}
		line_start = orig[off] == '\n';
		if (line_start || strchr(BLANKS, orig[off]) != NULL) {
			off++;
			continue;
		}
		wlen = strcspn(orig + off, BLANKS "\n");
		REQUIRE(i < n);
		REQUIRE(cf->words[i] == text + off);
		REQUIRE(strlen(cf->words[i]) == wlen);
		REQUIRE(memcmp(cf->words[i], orig + off, wlen) == 0);
		off += wlen;
		i++;
	}
	REQUIRE(i == n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cgi_fcgi	 cf;
	char		*text, *orig;
	int		 n, rc;

	REQUIRE((text = malloc(size + 1)) != NULL);
	REQUIRE((orig = malloc(size + 1)) != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	memcpy(orig, text, size + 1);

	memset(&cf, 0, sizeof(cf));
	cf.bind = cf.start = 1;
	n = cgi_fcgi_words(&cf, text);
	REQUIRE(n >= 0);
	check_words(&cf, n, text, orig, size);

	rc = cgi_fcgi_args(n, cf.words, &cf, 1);
	REQUIRE(rc == 0 || rc == EX_USAGE);
	if (rc == 0) {
		REQUIRE(cf.connect != NULL && is_word(&cf, n, cf.connect));
		REQUIRE(cf.bind || cf.start);
		REQUIRE(!cf.start || cf.app != NULL);
		REQUIRE(cf.app == NULL || is_word(&cf, n, cf.app));
		REQUIRE(cf.n >= 0 && cf.n <= SPAWN_MAX_CHILDREN);
		REQUIRE(cf.file == NULL);
	}
	free(cf.words);
	free(orig);
	free(text);
	return 0;
}
