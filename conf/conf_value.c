/*
 * The forms a single value may take: IP literals, host names, host:port
 * targets, paths, PostgreSQL and OS user names, pg_hba methods. Pure
 * functions: a NULL return means "acceptable", anything else is the
 * "expected ..." half of an error message.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "conf/conf_int.h"

bool
is_ipv4(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1;
}

bool
is_ipv6(const char *s)
{
	struct in6_addr a;

	return inet_pton(AF_INET6, s, &a) == 1;
}

/* RFC 1123 host name: dot-separated labels of letters, digits, hyphens. */
bool
is_hostname(const char *s)
{
	size_t len = strlen(s), label = 0;
	bool only_digits_dots = true;

	if (len == 0 || len > 253 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum(ch) && ch != '-')
			return false;
		if (ch == '-' && label == 0)
			return false;
		if (!isdigit(ch))
			only_digits_dots = false;
		if (++label > 63)
			return false;
	}
	/* "10.0.0.300" is a broken address, not a name to resolve. */
	return s[len - 1] != '-' && !only_digits_dots;
}

const char *
check_ip(const char *s)
{
	if (is_ipv4(s) || is_ipv6(s))
		return NULL;
	return "expected an IPv4 or IPv6 address";
}

const char *
check_bind_address(const char *s)
{
	if (is_ipv4(s) || is_ipv6(s))
		return NULL;
	return "expected an IP address of this host, 0.0.0.0 or ::";
}

const char *
check_host(const char *s)
{
	if (is_ipv4(s) || is_ipv6(s) || is_hostname(s))
		return NULL;
	return "expected a host name or an IP address";
}

/* libpq's host: a name, an address, or the directory of a unix socket. */
const char *
check_pg_host(const char *s)
{
	if (s[0] == '/' || is_ipv4(s) || is_ipv6(s) || is_hostname(s))
		return NULL;
	return "expected a host name, an IP address or a socket directory";
}

/* The name gRPC checks in the peer's certificate (may be a wildcard-free
 * DNS name or an address). */
const char *
check_tls_name(const char *s)
{
	if (s[0] == '\0' || is_ipv4(s) || is_ipv6(s) || is_hostname(s))
		return NULL;
	return "expected a host name or an IP address (the name in the "
	    "peers' certificate)";
}

const char *
check_abs_path(const char *s)
{
	size_t len = strlen(s);

	if (s[0] != '/' || len >= PATH_MAX)
		return "expected an absolute path";
	if (s[len - 1] == '/')
		return "expected an absolute path to a file, not a directory";
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20)
			return "expected an absolute path without control characters";
	return NULL;
}

const char *
check_socket_path(const char *s)
{
	struct sockaddr_un sun;
	const char *why = check_abs_path(s);

	if (why != NULL)
		return why;
	if (strlen(s) >= sizeof(sun.sun_path))
		return "expected an absolute path shorter than 108 bytes "
		    "(a unix socket address)";
	return NULL;
}

/*
 * harepd writes `host <user> <user> <ip>/32 <method>`: the name is both the
 * database and the user column of pg_hba.conf, unquoted. So no blanks,
 * commas, quotes or '#', no '+' (group) or '@' (file) prefix, and none of
 * pg_hba's keywords, which would widen the rule to other users.
 */
const char *
check_pg_name(const char *s)
{
	static const char *const keywords[] = { "all", "sameuser", "samerole",
	    "samegroup", "replication", NULL };
	const char *why = "expected a PostgreSQL role name without blanks, "
	    "commas, quotes or '#'";

	if (s[0] == '\0')
		return "expected a non-empty PostgreSQL role name";
	if (strlen(s) > CONF_NAME_MAX)
		return "expected a PostgreSQL role name of at most 63 bytes";
	if (s[0] == '+' || s[0] == '@')
		return "expected a PostgreSQL role name not starting with '+' "
		    "or '@' (group and file references in pg_hba.conf)";
	for (const char *p = s; *p != '\0'; p++)
		if (isspace((unsigned char)*p) || (unsigned char)*p < 0x20 ||
		    strchr(",\"'#\\/", *p) != NULL)
			return why;
	for (size_t i = 0; keywords[i] != NULL; i++)
		if (strcmp(s, keywords[i]) == 0)
			return "expected a PostgreSQL role name that is not a "
			    "pg_hba.conf keyword (all, sameuser, samerole, "
			    "samegroup, replication)";
	return NULL;
}

/* Unix user names as useradd accepts them (no ':' or ',' or blanks). */
const char *
check_os_user(const char *s)
{
	if (s[0] == '\0' || strlen(s) > 32 || s[0] == '-')
		return "expected a system user name";
	for (const char *p = s; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("._-$", *p) == NULL)
			return "expected a system user name (letters, digits, "
			    "'.', '_', '-')";
	return NULL;
}

/* repmgr.conf node_name: PostgreSQL's application_name, at most 63 bytes. */
const char *
check_node_name(const char *s)
{
	if (s[0] == '\0')
		return "expected the node_name of repmgr.conf, not empty";
	if (strlen(s) > CONF_NAME_MAX)
		return "expected the node_name of repmgr.conf (at most 63 bytes)";
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return "expected the node_name of repmgr.conf, without "
			    "control characters";
	return NULL;
}

/* Authentication methods PostgreSQL 15 accepts on a `host` line. */
const char *
check_hba_method(const char *s)
{
	static const char *const methods[] = { "trust", "reject", "md5",
	    "password", "scram-sha-256", "gss", "sspi", "ident", "pam", "ldap",
	    "radius", "cert", NULL };

	for (size_t i = 0; methods[i] != NULL; i++)
		if (strcmp(s, methods[i]) == 0)
			return NULL;
	return "expected a pg_hba.conf method (md5, scram-sha-256, password, "
	    "trust, reject, ...)";
}

static const char *
target_port(const char *s, int *port)
{
	char *end;
	long v;

	if (*s == '\0' || !isdigit((unsigned char)*s))
		return "expected a port 1-65535 after ':'";
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < 1 || v > 65535)
		return "expected a port 1-65535 after ':'";
	*port = (int)v;
	return NULL;
}

/* Split "host[:port]" / "[v6][:port]" / bare v6 into host and port text. */
static const char *
target_split(const char *s, char *host, size_t hsize, const char **port)
{
	const char *colon;
	size_t len;

	*port = NULL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL)
			return "expected ']' after an IPv6 address";
		len = (size_t)(close - s - 1);
		if (close[1] == ':')
			*port = close + 2;
		else if (close[1] != '\0')
			return "expected ':port' or nothing after ']'";
		if (len >= hsize)
			return "expected a shorter host";
		memcpy(host, s + 1, len);
		host[len] = '\0';
		return is_ipv6(host) ? NULL : "expected an IPv6 address in [ ]";
	}
	/* Two colons or more: an IPv6 address without brackets, no port. */
	colon = strchr(s, ':');
	if (colon != NULL && strchr(colon + 1, ':') == NULL) {
		len = (size_t)(colon - s);
		*port = colon + 1;
	} else
		len = strlen(s);
	if (len >= hsize)
		return "expected a shorter host";
	memcpy(host, s, len);
	host[len] = '\0';
	return NULL;
}

const char *
target_parse(const char *s, int default_port, struct conf_target *t)
{
	char host[256], text[300];
	const char *port_text, *why;
	int port = default_port;
	bool v6;

	if ((why = target_split(s, host, sizeof(host), &port_text)) != NULL)
		return why;
	if (host[0] == '\0')
		return "expected a host before ':'";
	v6 = is_ipv6(host);
	if (!v6 && !is_ipv4(host) && !is_hostname(host))
		return "expected host:port, [IPv6]:port, or a host alone "
		    "(port = bindPort)";
	if (port_text != NULL && (why = target_port(port_text, &port)) != NULL)
		return why;
	snprintf(text, sizeof(text), v6 ? "[%s]:%d" : "%s:%d", host, port);
	t->host = xstrdup(host);
	t->port = port;
	t->text = xstrdup(text);
	return NULL;
}

const char *
conf_listen_parse(const char *s, char *host, size_t hsize, int *port)
{
	static const char want[] = "expected IPv4:port or [IPv6]:port, "
	    "an IP address of this host and a port 1024-65535";
	const char *port_text;

	if (target_split(s, host, hsize, &port_text) != NULL ||
	    port_text == NULL || target_port(port_text, port) != NULL)
		return want;
	if (!is_ipv4(host) && !(s[0] == '[' && is_ipv6(host)))
		return want;
	if (*port < 1024)
		return "expected a port 1024-65535: the metrics worker binds it "
		    "as an unprivileged user";
	return NULL;
}

const char *
check_listen(const char *s)
{
	char host[256];
	int port;

	return conf_listen_parse(s, host, sizeof(host), &port);
}
