#ifndef SERVE_H
#define SERVE_H

/* Takes argv from the command name on and returns the exit status. */
int	 cmd_serve(int, char **);

#endif /* SERVE_H */
