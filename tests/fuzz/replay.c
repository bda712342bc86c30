/*
 * Replays a fuzz target's committed corpus without libFuzzer, so that
 * `make check` runs every input ever kept (seeds and the regressions of
 * crashes found) with the compiler and sanitizers of the build at hand.
 * Each input runs in a child process of its own, its standard error kept
 * aside and shown only when it fails (a crash, a sanitizer report, a
 * non-zero exit).  Prints one TAP line for the corpus.  The target's name
 * and corpus are built in (FUZZ_NAME, FUZZ_CORPUS, relative to the
 * repository), so that tests/run runs it as it runs a unit test.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <err.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Runs the target on the file at path in the current process. */
static void
run_one(const char *path)
{
	uint8_t	*buf = NULL, *grown;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		err(1, "%s", path);
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			if ((grown = realloc(buf, cap)) == NULL)
				err(1, NULL);
			buf = grown;
		}
		if ((n = read(fd, buf + len, cap - len)) <= 0)
			break;
		len += (size_t)n;
	}
	if (n == -1)
		err(1, "%s", path);
	close(fd);
	(void)LLVMFuzzerTestOneInput(buf, len);
	free(buf);
}

/* Runs one input in a child; 0 when it passed, else shows why. */
static int
replay(const char *path)
{
	char	 log[] = "/tmp/fcgi-bridge-replay.XXXXXX", line[512];
	FILE	*f;
	pid_t	 pid;
	int	 fd, status;

	if ((fd = mkstemp(log)) == -1)
		err(1, "mkstemp");
	if ((pid = fork()) == -1)
		err(1, "fork");
	if (pid == 0) {
		dup2(fd, 2);
		run_one(path);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) == -1)
		err(1, "waitpid");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		close(fd);
		unlink(log);
		return 0;
	}
	printf("# %s: %s %d; its standard error:\n", path,
	    WIFEXITED(status) ? "exit" : "signal", WIFEXITED(status) ?
	    WEXITSTATUS(status) : WTERMSIG(status));
	if ((f = fdopen(fd, "r")) != NULL) {
		rewind(f);
		while (fgets(line, sizeof(line), f) != NULL)
			printf("#   %s", line);
		fclose(f);
	} else
		close(fd);
	unlink(log);
	return -1;
}

int
main(void)
{
	struct dirent	*de;
	DIR		*d;
	char		 path[4096];
	int		 n = 0, failed = 0;

	if ((d = opendir(FUZZ_CORPUS)) == NULL)
		err(1, "%s", FUZZ_CORPUS);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", FUZZ_CORPUS, de->d_name);
		n++;
		if (replay(path) == -1)
			failed++;
	}
	closedir(d);
	printf("%s fuzz corpus %s: %d inputs replayed, %d failed\n",
	    failed == 0 && n > 0 ? "ok 1 -" : "not ok 1 -", FUZZ_NAME, n,
	    failed);
	return failed == 0 && n > 0 ? 0 : 1;
}
