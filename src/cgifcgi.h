#ifndef CGIFCGI_H
#define CGIFCGI_H

/*
 * The cgi-fcgi command line (-bind, -start, -connect, -f), argv[0] being
 * the program's name and the rest cgi-fcgi's arguments; returns the exit
 * status.  Used for "fcgi-bridge -connect ..." and under the name cgi-fcgi.
 */
int	 cgi_fcgi_main(int, char **);

/*
 * cgi-fcgi's arguments, with its meaning (doBind, doStart); cgi_fcgi_main
 * starts from one zeroed but for bind and start, which are 1.
 */
struct cgi_fcgi {
	int		 bind;
	int		 start;
	const char	*connect;
	const char	*app;
	int		 n;
	char		*file;		/* the -f file's text, words in place */
	char	       **words;
};

/*
 * Cuts text, a cgi-fcgi command file's contents as a string, into words
 * in place: those of its lines that do not start with '#', split at
 * spaces, tabs and CRs.  Returns their number, with cf->words pointing at
 * them (the caller frees cf->words), or -1 with errno set when out of
 * memory.
 */
int	 cgi_fcgi_words(struct cgi_fcgi *, char *text);

/*
 * Takes cgi-fcgi's arguments into cf, in any order as cgi-fcgi does; with
 * in_file, they are a command file's words, where -f may not appear.
 * Returns 0 or an exit status (said).
 */
int	 cgi_fcgi_args(int argc, char **argv, struct cgi_fcgi *, int in_file);

#endif /* CGIFCGI_H */
