#ifndef CLIENT_H
#define CLIENT_H

/* Each takes argv from the command name on and returns the exit status. */
int	 cmd_connect(int, char **);
int	 cmd_request(int, char **);
int	 cmd_values(int, char **);

#endif /* CLIENT_H */
