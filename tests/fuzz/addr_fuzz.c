/*
 * libFuzzer target for addresses as the command line and the environment
 * give them (src/addr.c): addr_parse, and the allow-list of TCP peers
 * (addr_allowlist_parse, addr_allowlist_format, addr_peer_allowed).
 *
 * The input's first line is an address, the rest an allow-list.
 * addr_parse resolves host names, and a fuzzed name must never go out to
 * DNS: this file's getaddrinfo stands in front of libc's and adds
 * AI_NUMERICHOST, so that a name is refused as unknown (EAI_NONAME)
 * without a lookup while a numeric host is parsed by libc as always.
 *
 * Checked: an address parses to what its form says (a Unix path, or 1 to
 * ADDR_MAX_RESOLVED IP candidates of the family the form names, all on
 * one port), and each IP candidate, written by addr_format_peer, parses
 * back to itself; an allow-list written by addr_allowlist_format parses
 * back to the same addresses and is written the same again; each address
 * of a list is allowed by it, a Unix peer by any, any peer by an empty
 * one; a list and its rewriting allow the same candidates.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <dlfcn.h>
#include <netdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

#define REQUIRE(c)	do { if (!(c)) abort(); } while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	getaddrinfo(const char *, const char *, const struct addrinfo *,
	    struct addrinfo **);

int
getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
	static int	(*libc_getaddrinfo)(const char *, const char *,
			    const struct addrinfo *, struct addrinfo **);
	struct addrinfo	 numeric;

	if (libc_getaddrinfo == NULL)
		REQUIRE((libc_getaddrinfo = (int (*)(const char *,
		    const char *, const struct addrinfo *,
		    struct addrinfo **))dlsym(RTLD_NEXT, "getaddrinfo")) !=
		    NULL);
	memset(&numeric, 0, sizeof(numeric));
	if (hints != NULL)
		numeric = *hints;
	numeric.ai_flags |= AI_NUMERICHOST;
	return libc_getaddrinfo(node, service, &numeric, res);
}

static uint16_t
port_of(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ?
	    ntohs(((const struct sockaddr_in *)ss)->sin_port) :
	    ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void
set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* Whether a and b are the same IP address and port (a scope is not). */
static int
same_ip_port(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family || port_of(a) != port_of(b))
		return 0;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		    &((const struct sockaddr_in *)b)->sin_addr,
		    sizeof(struct in_addr)) == 0;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	    &((const struct sockaddr_in6 *)b)->sin6_addr,
	    sizeof(struct in6_addr)) == 0;
}

/* A list of one address, written, parses to a list that allows it. */
static void
check_alone(const struct sockaddr_storage *ss)
{
	struct sockaddr_storage	*one;
	size_t			 n;
	char			*s, err[256];

	REQUIRE((s = addr_allowlist_format(ss, 1)) != NULL);
	REQUIRE(addr_allowlist_parse(s, &one, &n, err, sizeof(err)) == 0);
	REQUIRE(n == 1 && addr_peer_allowed(one, n, ss));
	free(one);
	free(s);
}

/* One IP candidate of addr_parse, written as a peer, parses back. */
static void
check_candidate(const struct sockaddr_storage *ss, socklen_t len)
{
	struct addr	 again;
	char		 text[128], err[600];

	REQUIRE(ss->ss_family == AF_INET || ss->ss_family == AF_INET6);
	REQUIRE(len == (ss->ss_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)));
	REQUIRE(port_of(ss) != 0);
	addr_format_peer(ss, text, sizeof(text));
	REQUIRE(addr_parse(text, &again, err, sizeof(err)) == 0);
	REQUIRE(again.n >= 1 && same_ip_port(&again.ss[0], ss));
	REQUIRE(addr_is_loopback(&again.ss[0]) == addr_is_loopback(ss));
	check_alone(ss);
}

/* Parses s as an address and checks the result against its form. */
static void
check_address(const char *s, struct addr *a)
{
	const struct sockaddr_un	*sun;
	const char			*rest;
	char				 err[600] = "";
	int				 i;

	if (addr_parse(s, a, err, sizeof(err)) == -1) {
		REQUIRE(err[0] != '\0');
		a->n = 0;
		return;
	}
	REQUIRE(strcmp(a->text, s) == 0);
	REQUIRE(a->n >= 1 && a->n <= ADDR_MAX_RESOLVED);
	if (strncmp(s, "unix:", 5) == 0 || (strncmp(s, "tcp:", 4) != 0 &&
	    strncmp(s, "tcp6:", 5) != 0 && strchr(s, '/') != NULL)) {
		REQUIRE(addr_is_unix(a) && a->n == 1);
		sun = (const struct sockaddr_un *)&a->ss[0];
		REQUIRE(strcmp(sun->sun_path, strncmp(s, "unix:", 5) == 0 ?
		    s + 5 : s) == 0);
		return;
	}
	REQUIRE(!addr_is_unix(a));
	rest = strncmp(s, "tcp:", 4) == 0 ? s + 4 :
	    strncmp(s, "tcp6:", 5) == 0 ? s + 5 : s;
	for (i = 0; i < a->n; i++) {
		if (rest[0] == '[' || rest == s + 5)
			REQUIRE(a->ss[i].ss_family == AF_INET6);
		else if (rest == s + 4)
			REQUIRE(a->ss[i].ss_family == AF_INET);
		REQUIRE(port_of(&a->ss[i]) == port_of(&a->ss[0]));
		check_candidate(&a->ss[i], a->sslen[i]);
	}
}

/* Parses list as an allow-list and checks it and its rewriting. */
static void
check_allowlist(const char *list, const struct addr *a)
{
	struct sockaddr_storage	*v, *w, peer;
	size_t			 n, m, i;
	char			*s, *t, err[600] = "";
	int			 k;

	if (addr_allowlist_parse(list, &v, &n, err, sizeof(err)) == -1) {
		REQUIRE(err[0] != '\0' && v == NULL && n == 0);
		return;
	}
	REQUIRE((n == 0) == (v == NULL));
	REQUIRE((s = addr_allowlist_format(v, n)) != NULL);
	REQUIRE(strspn(s, "0123456789abcdef.:,") == strlen(s));
	REQUIRE(s[0] != ',' && strstr(s, ",,") == NULL);
	REQUIRE(addr_allowlist_parse(s, &w, &m, err, sizeof(err)) == 0);
	REQUIRE(m == n);
	REQUIRE((t = addr_allowlist_format(w, m)) != NULL);
	REQUIRE(strcmp(s, t) == 0);

	memset(&peer, 0, sizeof(peer));
	peer.ss_family = AF_UNIX;
	REQUIRE(addr_peer_allowed(v, n, &peer));
	for (i = 0; i < n; i++) {
		REQUIRE(v[i].ss_family == AF_INET ||
		    v[i].ss_family == AF_INET6);
		/* A peer has a port; the list's entries have none. */
		peer = v[i];
		set_port(&peer, 80);
		REQUIRE(addr_peer_allowed(v, n, &peer));
		REQUIRE(addr_peer_allowed(&w[i], 1, &v[i]) &&
		    addr_peer_allowed(&v[i], 1, &w[i]));
	}
	for (k = 0; k < a->n; k++) {
		if (a->ss[k].ss_family == AF_UNIX)
			continue;
		REQUIRE(addr_peer_allowed(v, n, &a->ss[k]) ==
		    addr_peer_allowed(w, m, &a->ss[k]));
		if (n == 0)
			REQUIRE(addr_peer_allowed(v, n, &a->ss[k]));
	}
	free(t);
	free(w);
	free(s);
	free(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 checked_no_dns;
	struct addr	 a;
	char		*text, *list, err[600];

	/*
	 * A name /etc/hosts has on Debian does not resolve here (localhost
	 * would: addr_parse takes it as loopback without the resolver).
	 */
	if (!checked_no_dns) {
		REQUIRE(addr_parse("ip6-localhost:80", &a, err,
		    sizeof(err)) == -1);
		checked_no_dns = 1;
	}
	REQUIRE((text = malloc(size + 1)) != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	list = text;
	strsep(&list, "\n");
	check_address(text, &a);
	check_allowlist(list != NULL ? list : "", &a);
	free(text);
	return 0;
}
