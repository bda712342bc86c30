#ifndef BENCH_H
#define BENCH_H

/* Takes argv from the command name on and returns the exit status. */
int	 cmd_bench(int, char **);

#endif /* BENCH_H */
