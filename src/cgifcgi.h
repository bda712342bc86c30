#ifndef CGIFCGI_H
#define CGIFCGI_H

/*
 * The cgi-fcgi command line (-bind, -start, -connect, -f), argv[0] being
 * the program's name and the rest cgi-fcgi's arguments; returns the exit
 * status.  Used for "fcgi-bridge -connect ..." and under the name cgi-fcgi.
 */
int	 cgi_fcgi_main(int, char **);

#endif /* CGIFCGI_H */
