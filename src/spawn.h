#ifndef SPAWN_H
#define SPAWN_H

/* spawn: takes argv from the command name on, returns the exit status. */
int	 cmd_spawn(int, char **);

/*
 * The cgi-fcgi command line (-bind, -start, -connect, -f), argv[0] being
 * the program's name and the rest cgi-fcgi's arguments; returns the exit
 * status.  Used for "fcgi-bridge -connect ..." and under the name cgi-fcgi.
 */
int	 cgi_fcgi_main(int, char **);

#endif /* SPAWN_H */
