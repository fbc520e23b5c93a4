/*
 * harepdctl: the operator's end of harepd's control socket
 * (docs/CONTROL.md). It finds the socket the way harepd does: from the
 * config file (-f, default CONF_DEFAULT_PATH) or directly (-s). Every
 * failure has its own exit status so scripts can tell "not running" from
 * "not allowed" from "bad command".
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "conf/conf.h"
#include "util/version.h"
#include "util/xmalloc.h"

/* Exit statuses, documented in docs/CONTROL.md and usage(). */
#define EX_OK		0
#define EX_FAILED	1	/* harepd refused the command (reload error) */
#define EX_NOT_RUNNING	3	/* no harepd on that socket */
#define EX_DENIED	4	/* the caller may not do that */
#define EX_USAGE	64	/* bad command line, unknown command */
#define EX_PROTOCOL	76	/* harepd's reply made no sense */
#define EX_CONF		78	/* -f FILE does not load */
/* check: the Nagios plugin convention; any failure to ask is UNKNOWN */
#define EX_NAGIOS_UNKNOWN 3

static bool nagios;	/* the command is check */

static const struct {
	const char	*name;
	const char	*request;
	const char	*request_json;	/* NULL: no --json */
} commands[] = {
	{ "status", "status\n", "status json\n" },
	{ "stop-client", "stop-client\n", NULL },
	{ "start-client", "start-client\n", NULL },
	{ "reload", "reload\n", NULL },
	{ "stop", "stop\n", NULL },
	{ "metrics", "metrics\n", NULL },
	{ "reopen-logs", "reopen-logs\n", NULL },
	{ "check", "check\n", NULL },
};

/* -h asks for it: stdout, exit 0; a mistake: stderr, exit 64. */
static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr,
	    "usage: harepdctl [-f file | -s socket] command\n"
	    "       harepdctl --version\n"
	    "commands:\n"
	    "  status [--json]  what harepd sees, decided and did\n"
	    "  stop-client      stop deciding and editing pg_hba.conf "
	    "(gRPC keeps answering)\n"
	    "  start-client     decide again\n"
	    "  reload           re-read the configuration\n"
	    "  stop             stop harepd and wait until it is gone\n"
	    "  metrics          OpenMetrics text, for Prometheus or node_exporter\n"
	    "  reopen-logs      open the log file again (after logrotate)\n"
	    "  check            one line for Nagios/Icinga: exit 0 ok, 1 warning, "
	    "2 critical,\n"
	    "                   3 unknown (also when harepd cannot be asked)\n"
	    "exit status: 0 ok, 1 command failed, 3 harepd not running, "
	    "4 permission denied,\n"
	    "  64 usage or unknown command, 76 protocol error, "
	    "78 config file error\n");
	exit(status);
}

/*
 * A failure: on stderr, and for check also as the one line a monitoring
 * system shows, with the plugin's UNKNOWN status.
 */
static void __attribute__((noreturn, format(printf, 2, 3)))
fail(int ex, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "harepdctl: %s\n", msg);
	if (nagios) {
		printf("HAREPD UNKNOWN - %s\n", msg);
		exit(EX_NAGIOS_UNKNOWN);
	}
	exit(ex);
}

static const char *
request_for(int argc, char **argv)
{
	bool json = false;

	if (argc < 1)
		usage(EX_USAGE);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
			json = true;
		else
			usage(EX_USAGE);
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[0], commands[i].name) != 0)
			continue;
		if (json && commands[i].request_json == NULL)
			usage(EX_USAGE);
		nagios = strcmp(argv[0], "check") == 0;
		return json ? commands[i].request_json : commands[i].request;
	}
	fprintf(stderr, "harepdctl: unknown command \"%s\"\n", argv[0]);
	usage(EX_USAGE);
}

/* The socket named in the config; the default config may be absent or
 * unreadable for an ordinary user: then the default socket. */
static char *
socket_from_config(const char *path, bool explicit)
{
	struct conf_diag diag = { 0 };
	struct conf *c;
	char *sock;

	if (!explicit && access(path, R_OK) == -1)
		return xstrdup(CONF_DEFAULT_SOCKET);
	if ((c = conf_load(path, &diag)) == NULL && !explicit) {
		/* status must work while the file on disk is being edited */
		conf_diag_free(&diag);
		fprintf(stderr, "harepdctl: %s does not load, trying %s\n",
		    path, CONF_DEFAULT_SOCKET);
		return xstrdup(CONF_DEFAULT_SOCKET);
	}
	if (c == NULL) {
		for (size_t i = 0; i < diag.n_errors; i++)
			fprintf(stderr, "%s\n", diag.errors[i]);
		conf_diag_free(&diag);
		fail(EX_CONF, "cannot read %s", path);
	}
	conf_diag_free(&diag);
	sock = xstrdup(c->control_socket ? c->control_socket :
	    CONF_DEFAULT_SOCKET);
	conf_free(c);
	return sock;
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		fail(EX_USAGE, "%s: path too long", path);
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fail(EX_FAILED, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
	if (errno == EACCES || errno == EPERM)
		fail(EX_DENIED, "%s: %s", path, strerror(errno));
	fail(EX_NOT_RUNNING, "harepd is not running (%s: %s)", path,
	    strerror(errno));
}

static void
send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			fail(EX_NOT_RUNNING, "send: %s", strerror(errno));
		buf += n;
		len -= (size_t)n;
	}
}

/* The whole reply: harepd closes the connection when it is done. */
static char *
read_all(int fd, size_t *lenp)
{
	size_t len = 0, cap = 8192;
	char *buf = xmalloc(cap);
	ssize_t n;

	for (;;) {
		if (len + 1 >= cap)
			buf = xreallocarray(buf, cap *= 2, 1);
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/* check's line: "HAREPD <LEVEL> - ...", its level the exit status. */
static int
print_check(const char *body)
{
	static const char *const levels[] = { "OK", "WARNING", "CRITICAL",
	    "UNKNOWN" };
	const char *nl = strchr(body, '\n');
	int len = nl != NULL ? (int)(nl - body) : (int)strlen(body);

	for (int i = 0; i < 4; i++) {
		size_t n = strlen(levels[i]);

		if (strncmp(body, "HAREPD ", 7) == 0 &&
		    strncmp(body + 7, levels[i], n) == 0 && body[7 + n] == ' ') {
			printf("%.*s\n", len, body);
			return fflush(stdout) == 0 ? i : EX_NAGIOS_UNKNOWN;
		}
	}
	fail(EX_PROTOCOL, "unexpected check reply: %.*s", len, body);
}

/* "ok\n<body>" or "error <kind>: <message>\n" */
static int
print_reply(const char *r, size_t len)
{
	const char *nl = memchr(r, '\n', len);
	static const struct { const char *kind; int ex; } kinds[] = {
		{ "error denied:", EX_DENIED },
		{ "error unknown:", EX_USAGE },
		{ "error failed:", EX_FAILED },
		{ "error bad-request:", EX_PROTOCOL },
		{ "error busy:", EX_FAILED },
	};

	if (nl == NULL)
		fail(EX_PROTOCOL, "no reply from harepd");
	if (strncmp(r, "ok\n", 3) == 0 && nagios)
		return print_check(nl + 1);
	if (strncmp(r, "ok\n", 3) == 0) {
		fwrite(nl + 1, 1, len - (size_t)(nl + 1 - r), stdout);
		return fflush(stdout) == 0 ? EX_OK : EX_FAILED;
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strncmp(r, kinds[i].kind, strlen(kinds[i].kind)) == 0)
			fail(kinds[i].ex, "%.*s", (int)(nl - r -
			    strlen(kinds[i].kind) - 1), r +
			    strlen(kinds[i].kind) + 1);
	fail(EX_PROTOCOL, "unexpected reply: %.*s", (int)(nl - r), r);
}

int
main(int argc, char *argv[])
{
	const char *conf_path = CONF_DEFAULT_PATH, *sock_opt = NULL, *req;
	bool conf_given = false;
	/* static: still reachable when fail() exits (LeakSanitizer) */
	static char *sock, *r;
	size_t len;
	int ch, fd, rc;

	/* '+': stop at the command, so "status --json" is its argument */
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("harepdctl %s (git %s)\n", harepd_version(),
		    harepd_git_hash());
		return 0;
	}
	while ((ch = getopt(argc, argv, "+f:s:h")) != -1) {
		switch (ch) {
		case 'f': conf_path = optarg; conf_given = true; break;
		case 's': sock_opt = optarg; break;
		case 'h': usage(0);
		default: usage(EX_USAGE);
		}
	}
	if (conf_given && sock_opt != NULL)
		usage(EX_USAGE);
	req = request_for(argc - optind, argv + optind);
	sock = sock_opt ? xstrdup(sock_opt) :
	    socket_from_config(conf_path, conf_given);
	fd = connect_to(sock);
	send_all(fd, req, strlen(req));
	shutdown(fd, SHUT_WR);
	r = read_all(fd, &len);
	close(fd);
	rc = print_reply(r, len);
	free(r);
	free(sock);
	return rc;
}
