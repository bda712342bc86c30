/*
 * Unit tests for src/addr.c: every address form that addr_parse takes and
 * the ones it refuses, the peer allow-list (FCGI_WEB_SERVER_ADDRS, spawn
 * -a), addr_is_loopback, and addr_listener_open on a Unix socket.  No test
 * asks DNS: hosts are numeric, or localhost.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "tap.h"

/* ---- addr_parse ----------------------------------------------------- */

/* Whether s parses to one first candidate of family, text and port. */
static int
parses_to_(const char *s, int family, const char *host, unsigned port,
    int line)
{
	struct addr	 a;
	char		 err[600], got[INET6_ADDRSTRLEN];
	const void	*ip;
	unsigned	 got_port;

	if (addr_parse(s, &a, err, sizeof(err)) == -1) {
		FAIL("line %d: %s: %s", line, s, err);
		return 0;
	}
	if (a.n < 1 || a.ss[0].ss_family != family) {
		FAIL("line %d: %s: %d candidates, family %d, want %d", line, s,
		    a.n, a.n > 0 ? a.ss[0].ss_family : -1, family);
		return 0;
	}
	if (strcmp(a.text, s) != 0) {
		FAIL("line %d: %s: text is %s", line, s, a.text);
		return 0;
	}
	if (family == AF_UNIX) {
		if (!addr_is_unix(&a) || strcmp(((struct sockaddr_un *)
		    &a.ss[0])->sun_path, host) != 0) {
			FAIL("line %d: %s: path %s, want %s", line, s,
			    ((struct sockaddr_un *)&a.ss[0])->sun_path, host);
			return 0;
		}
		return 1;
	}
	if (family == AF_INET) {
		ip = &((struct sockaddr_in *)&a.ss[0])->sin_addr;
		got_port = ntohs(((struct sockaddr_in *)&a.ss[0])->sin_port);
	} else {
		ip = &((struct sockaddr_in6 *)&a.ss[0])->sin6_addr;
		got_port = ntohs(((struct sockaddr_in6 *)&a.ss[0])->sin6_port);
	}
	inet_ntop(family, ip, got, sizeof(got));
	if (addr_is_unix(&a) || strcmp(got, host) != 0 || got_port != port) {
		FAIL("line %d: %s: %s port %u, want %s port %u", line, s, got,
		    got_port, host, port);
		return 0;
	}
	return 1;
}

/* Whether s is refused, with a message holding want. */
static int
refused_(const char *s, const char *want, int line)
{
	struct addr	 a;
	char		 err[600] = "";

	if (addr_parse(s, &a, err, sizeof(err)) != -1) {
		FAIL("line %d: %s: parsed, want an error", line, s);
		return 0;
	}
	if (strstr(err, want) == NULL) {
		FAIL("line %d: %s: \"%s\", want \"%s\" in it", line, s, err,
		    want);
		return 0;
	}
	return 1;
}

#define PARSES_TO(s, family, host, port) \
	parses_to_((s), (family), (host), (port), __LINE__)
#define REFUSED(s, want)	refused_((s), (want), __LINE__)

static void
t_parse_unix(void)
{
	char	 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char	 s[sizeof(path) + 16];

	PARSES_TO("unix:/run/app.sock", AF_UNIX, "/run/app.sock", 0);
	PARSES_TO("unix:app.sock", AF_UNIX, "app.sock", 0);
	PARSES_TO("/run/app.sock", AF_UNIX, "/run/app.sock", 0);
	PARSES_TO("./app.sock", AF_UNIX, "./app.sock", 0);
	PARSES_TO("run/a:b.sock", AF_UNIX, "run/a:b.sock", 0);
	/* The longest path that fits, and one byte more. */
	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	snprintf(s, sizeof(s), "unix:%s", path);
	PARSES_TO(s, AF_UNIX, path, 0);
	snprintf(s, sizeof(s), "unix:%sp", path);
	REFUSED(s, "socket path longer than");
	snprintf(s, sizeof(s), "%sp", path);
	REFUSED(s, "socket path longer than");
	REFUSED("unix:", "empty socket path");
}

static void
t_parse_tcp(void)
{
	PARSES_TO("127.0.0.1:9000", AF_INET, "127.0.0.1", 9000);
	PARSES_TO("10.1.2.3:1", AF_INET, "10.1.2.3", 1);
	PARSES_TO("0.0.0.0:65535", AF_INET, "0.0.0.0", 65535);
	PARSES_TO("[::1]:9000", AF_INET6, "::1", 9000);
	PARSES_TO("[2001:db8::5]:80", AF_INET6, "2001:db8::5", 80);
	PARSES_TO(":9000", AF_INET, "127.0.0.1", 9000);
	PARSES_TO("tcp:127.0.0.1:9000", AF_INET, "127.0.0.1", 9000);
	PARSES_TO("tcp::9000", AF_INET, "127.0.0.1", 9000);
	PARSES_TO("tcp6:[::1]:9000", AF_INET6, "::1", 9000);
	PARSES_TO("tcp6:[fe80::1]:9", AF_INET6, "fe80::1", 9);
}

/* localhost is loopback without the resolver, whatever /etc/hosts says. */
static void
t_parse_localhost(void)
{
	PARSES_TO("localhost:8080", AF_INET, "127.0.0.1", 8080);
	PARSES_TO("LocalHost:8080", AF_INET, "127.0.0.1", 8080);
	PARSES_TO("tcp:localhost:8080", AF_INET, "127.0.0.1", 8080);
	PARSES_TO("tcp6:localhost:8080", AF_INET6, "::1", 8080);
}

static void
t_parse_errors(void)
{
	char	 longhost[300], s[400];

	REFUSED("127.0.0.1", "expected HOST:PORT");
	REFUSED("garbage", "expected HOST:PORT");
	REFUSED("", "expected HOST:PORT");
	REFUSED("127.0.0.1:", "bad port \"\"");
	REFUSED(":0", "bad port \"0\"");
	REFUSED(":65536", "bad port \"65536\"");
	REFUSED(":99999999999999999999", "bad port");
	REFUSED(":+80", "bad port");
	REFUSED(":-1", "bad port");
	REFUSED(":80x", "bad port");
	REFUSED(":http", "bad port");
	REFUSED("[::1]:0", "bad port");
	REFUSED("[]:80", "empty IPv6 address");
	REFUSED("tcp6:[]:80", "empty IPv6 address");
	REFUSED("[::1]80", "expected [ADDRESS]:PORT");
	REFUSED("[::1", "expected [ADDRESS]:PORT");
	REFUSED("::1:80", "needs brackets");
	REFUSED("tcp:::1:80", "needs brackets");
	REFUSED("[::1:80", "expected [ADDRESS]:PORT");
	memset(longhost, 'h', sizeof(longhost) - 1);
	longhost[sizeof(longhost) - 1] = '\0';
	snprintf(s, sizeof(s), "%s:80", longhost);
	REFUSED(s, "host name too long");
}

static void
t_parse_too_long(void)
{
	struct addr	 a;
	char		 s[sizeof(a.text) + 1], err[600];

	memset(s, '/', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	CHECK_EQ(addr_parse(s, &a, err, sizeof(err)), -1);
	CHECK_STR(err, "address too long");
}

/* ---- addr_is_loopback ------------------------------------------------ */

/* A sockaddr_storage of an IP address written as text. */
static struct sockaddr_storage
ip(const char *text, unsigned port)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	} else {
		fprintf(stderr, "ip: %s is no address\n", text);
		exit(2);
	}
	return ss;
}

static struct sockaddr_storage
unix_peer(void)
{
	struct sockaddr_storage	 ss;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	return ss;
}

static void
t_loopback(void)
{
	static const char *const yes[] = {
		"127.0.0.1", "127.255.255.254", "127.0.0.0", "::1",
		"::ffff:127.0.0.1", "::ffff:127.9.9.9",
	};
	static const char *const no[] = {
		"128.0.0.1", "126.255.255.255", "0.0.0.0", "10.0.0.1", "::",
		"::2", "::ffff:10.0.0.1", "::127.0.0.1", "2001:db8::1",
		"fe80::1",
	};
	struct sockaddr_storage	 ss;
	size_t			 i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		ss = ip(yes[i], 80);
		if (!CHECK(addr_is_loopback(&ss)))
			diag("%s", yes[i]);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		ss = ip(no[i], 80);
		if (!CHECK(!addr_is_loopback(&ss)))
			diag("%s", no[i]);
	}
	ss = unix_peer();
	CHECK(addr_is_loopback(&ss));
}

/* ---- the allow-list -------------------------------------------------- */

/*
 * Whether list parses to the addresses that want lists, with commas
 * alone, as addr_allowlist_format writes them.
 */
static int
allowlist_is_(const char *list, size_t n, const char *want, int line)
{
	struct sockaddr_storage	*allowed;
	size_t			 nallowed;
	char			 err[600], *got;
	int			 ok;

	if (addr_allowlist_parse(list, &allowed, &nallowed, err,
	    sizeof(err)) == -1) {
		FAIL("line %d: \"%s\": %s", line, list, err);
		return 0;
	}
	if ((got = addr_allowlist_format(allowed, nallowed)) == NULL) {
		perror("addr_allowlist_format");
		exit(2);
	}
	ok = nallowed == n && strcmp(got, want) == 0 &&
	    (n > 0) == (allowed != NULL);
	if (!ok)
		FAIL("line %d: \"%s\": %zu addresses \"%s\", want %zu \"%s\"",
		    line, list, nallowed, got, n, want);
	free(got);
	free(allowed);
	return ok;
}

/* Whether list is refused, with a message naming word. */
static int
allowlist_bad_(const char *list, const char *word, int line)
{
	struct sockaddr_storage	*allowed = (struct sockaddr_storage *)1;
	size_t			 nallowed = 1;
	char			 err[600] = "", want[300];

	snprintf(want, sizeof(want), "%s is not an IP address", word);
	if (addr_allowlist_parse(list, &allowed, &nallowed, err,
	    sizeof(err)) != -1 || strcmp(err, want) != 0 ||
	    allowed != NULL || nallowed != 0) {
		FAIL("line %d: \"%s\": \"%s\", want \"%s\"", line, list, err,
		    want);
		return 0;
	}
	return 1;
}

#define ALLOWLIST_IS(list, n, want) \
	allowlist_is_((list), (n), (want), __LINE__)
#define ALLOWLIST_BAD(list, word)	allowlist_bad_((list), (word), __LINE__)

static void
t_allowlist_separators(void)
{
	ALLOWLIST_IS("127.0.0.1", 1, "127.0.0.1");
	ALLOWLIST_IS("::1", 1, "::1");
	ALLOWLIST_IS("127.0.0.1,::1", 2, "127.0.0.1,::1");
	ALLOWLIST_IS("127.0.0.1, ::1", 2, "127.0.0.1,::1");
	ALLOWLIST_IS("127.0.0.1 ,::1", 2, "127.0.0.1,::1");
	ALLOWLIST_IS("127.0.0.1 , ::1", 2, "127.0.0.1,::1");
	ALLOWLIST_IS("127.0.0.1  ,\t ::1", 2, "127.0.0.1,::1");
	ALLOWLIST_IS("127.0.0.1 ::1", 2, "127.0.0.1,::1");
	ALLOWLIST_IS("127.0.0.1\t::1", 2, "127.0.0.1,::1");
	ALLOWLIST_IS(" 10.0.0.1,10.0.0.2, ", 2, "10.0.0.1,10.0.0.2");
	ALLOWLIST_IS("10.0.0.1,,10.0.0.2", 2, "10.0.0.1,10.0.0.2");
	ALLOWLIST_IS("10.0.0.1, 10.0.0.2, 2001:db8::1", 3,
	    "10.0.0.1,10.0.0.2,2001:db8::1");
}

static void
t_allowlist_forms(void)
{
	ALLOWLIST_IS("", 0, "");
	ALLOWLIST_IS(" , ,", 0, "");
	ALLOWLIST_IS("::ffff:10.0.0.1", 1, "10.0.0.1");
	ALLOWLIST_IS("2001:DB8:0:0::1", 1, "2001:db8::1");
	ALLOWLIST_IS("10.0.0.1,10.0.0.1", 2, "10.0.0.1,10.0.0.1");
}

static void
t_allowlist_bad_word(void)
{
	ALLOWLIST_BAD("127.0.0.1,web", "web");
	ALLOWLIST_BAD("localhost", "localhost");
	ALLOWLIST_BAD("10.0.0.256", "10.0.0.256");
	ALLOWLIST_BAD("10.0.0.1, 10.0.0.0/8", "10.0.0.0/8");
	ALLOWLIST_BAD("fe80::1%eth0", "fe80::1%eth0");
	ALLOWLIST_BAD("[::1]", "[::1]");
	ALLOWLIST_BAD("127.0.0.1:80", "127.0.0.1:80");
	ALLOWLIST_BAD("127.0.0.1;::1", "127.0.0.1;::1");
}

/* Whether a peer at text is allowed by the list. */
static int
peer_allowed(const char *list, const char *text)
{
	struct sockaddr_storage	*allowed, peer;
	size_t			 nallowed;
	char			 err[600];
	int			 yes;

	if (addr_allowlist_parse(list, &allowed, &nallowed, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "peer_allowed: %s\n", err);
		exit(2);
	}
	peer = text == NULL ? unix_peer() : ip(text, 4321);
	yes = addr_peer_allowed(allowed, nallowed, &peer);
	free(allowed);
	return yes;
}

static void
t_allowlist_match(void)
{
	static const char	 list[] = "10.0.0.1, 2001:db8::1";

	CHECK(peer_allowed(list, "10.0.0.1"));
	CHECK(!peer_allowed(list, "10.0.0.2"));
	CHECK(!peer_allowed(list, "127.0.0.1"));
	CHECK(peer_allowed(list, "2001:db8::1"));
	CHECK(!peer_allowed(list, "2001:db8::2"));
	CHECK(!peer_allowed(list, "::1"));
	/* An IPv4 peer of an IPv6 socket. */
	CHECK(peer_allowed(list, "::ffff:10.0.0.1"));
	CHECK(!peer_allowed(list, "::ffff:10.0.0.2"));
	/* Not mapped: another IPv6 address. */
	CHECK(!peer_allowed(list, "::10.0.0.1"));
	/* A mapped address in the list is the IPv4 one. */
	CHECK(peer_allowed("::ffff:10.0.0.1", "10.0.0.1"));
	CHECK(peer_allowed("::ffff:10.0.0.1", "::ffff:10.0.0.1"));
	CHECK(!peer_allowed("::1", "127.0.0.1"));
	CHECK(!peer_allowed("127.0.0.1", "::1"));
}

static void
t_allowlist_unix_and_empty(void)
{
	CHECK(peer_allowed("10.0.0.1", NULL));
	CHECK(peer_allowed("", NULL));
	CHECK(peer_allowed("", "192.0.2.7"));
	CHECK(peer_allowed("", "2001:db8::7"));
	CHECK(peer_allowed(" , ", "192.0.2.7"));
}

/* ---- addr_listener_open ---------------------------------------------- */

static void
t_listener_unix(void)
{
	struct addr_listener	 l, again;
	struct addr		 a;
	char			 dir[] = "/tmp/addr_test.XXXXXX", s[64];
	char			 err[600];

	if (mkdtemp(dir) == NULL) {
		FAIL("mkdtemp failed");
		return;
	}
	snprintf(s, sizeof(s), "unix:%s/l.sock", dir);
	if (!CHECK_EQ(addr_parse(s, &a, err, sizeof(err)), 0))
		return;
	if (!CHECK_EQ(addr_listener_open(&l, &a, 0600, (uid_t)-1, (gid_t)-1,
	    err, sizeof(err)), 0)) {
		diag("%s", err);
		return;
	}
	CHECK(l.fd > 2);
	CHECK_STR(l.unix_path, s + 5);
	CHECK(access(l.unix_path, F_OK) == 0);
	/* A live listener's socket file is not taken over. */
	CHECK_EQ(addr_listener_open(&again, &a, 0, (uid_t)-1, (gid_t)-1,
	    err, sizeof(err)), -1);
	CHECK(strstr(err, "another process listens on it") != NULL);
	close(l.fd);
	/* A dead one's is. */
	CHECK_EQ(addr_listener_open(&again, &a, 0, (uid_t)-1, (gid_t)-1,
	    err, sizeof(err)), 0);
	close(again.fd);
	unlink(l.unix_path);
	rmdir(dir);
}

static void
t_listener_tcp_has_no_path(void)
{
	struct addr_listener	 l;
	struct addr		 a;
	char			 s[32], err[600] = "";
	int			 port;

	/* Some port in the dynamic range that nobody has. */
	for (port = 49152 + getpid() % 10000; port < 65536; port += 97) {
		snprintf(s, sizeof(s), "127.0.0.1:%d", port);
		if (addr_parse(s, &a, err, sizeof(err)) == -1)
			break;
		if (addr_listener_open(&l, &a, 0, (uid_t)-1, (gid_t)-1, err,
		    sizeof(err)) == 0) {
			CHECK_STR(l.unix_path, "");
			close(l.fd);
			return;
		}
	}
	FAIL("no port to listen on: %s", err);
}

static const struct tap_case cases[] = {
	{ t_parse_unix, "addr_parse: unix:PATH and paths with a '/', up to "
	    "the longest that fits" },
	{ t_parse_tcp, "addr_parse: HOST:PORT, [V6]:PORT, :PORT, tcp: and "
	    "tcp6: forms" },
	{ t_parse_localhost, "addr_parse: localhost resolves to loopback "
	    "candidates" },
	{ t_parse_errors, "addr_parse: no port, port 0 and 65536, empty or "
	    "unbracketed IPv6, garbage" },
	{ t_parse_too_long, "addr_parse: an address longer than struct addr "
	    "holds" },
	{ t_loopback, "addr_is_loopback: 127/8, ::1, mapped 127/8, Unix; "
	    "nothing else" },
	{ t_allowlist_separators, "addr_allowlist_parse: commas, blanks, or "
	    "both; written back with commas alone" },
	{ t_allowlist_forms, "addr_allowlist_parse: empty lists, mapped "
	    "IPv4, IPv6 written canonically" },
	{ t_allowlist_bad_word, "addr_allowlist_parse: a word that is not an "
	    "IP address is named" },
	{ t_allowlist_match, "addr_peer_allowed: IPv4, IPv6, mapped IPv4 on "
	    "either side" },
	{ t_allowlist_unix_and_empty, "addr_peer_allowed: Unix peers always, "
	    "any peer for an empty list" },
	{ t_listener_unix, "addr_listener_open: a Unix socket, its path, a "
	    "live one refused, a stale one replaced" },
	{ t_listener_tcp_has_no_path, "addr_listener_open: TCP leaves no "
	    "socket file to remove" },
};

int
main(void)
{
	return tap_run(cases, sizeof(cases) / sizeof(cases[0]));
}
