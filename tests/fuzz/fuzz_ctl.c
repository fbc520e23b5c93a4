/*
 * The control socket's request parser (supervisor/control.c): the input
 * is what a local client writes to the control socket.
 *
 *   1. ctl_parse() on the input as one line (NUL-terminated copy): a
 *      command it accepts must be exactly a command's name, and only the
 *      status commands are open to everyone (ctl_permitted);
 *   2. the whole serving path: a client connects to a real listening
 *      socket (control_listen), writes the input and closes its side;
 *      one round of control_events() (never blocking) accepts, reads,
 *      parses and checks the request. A request it refuses is answered
 *      with one "error ..." line; one control_next() passes on is
 *      answered here with "ok" as the supervisor would. Either way no
 *      connection is left open.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "supervisor/sup.h"
#include "tests/fuzz/fuzz.h"

static struct control ctl;
static struct sockaddr_un sun = { .sun_family = AF_UNIX };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/harepd-fuzz-ctl.XXXXXX", why[256];
	int fd;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/ctl.sock", dir);
	if ((fd = control_listen(sun.sun_path, why, sizeof(why))) == -1) {
		fprintf(stderr, "control_listen: %s\n", why);
		exit(1);
	}
	control_init(&ctl, fd);
	return 0;
}

static void
parse_line(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	enum ctl_cmd c;

	memcpy(line, data, size);
	line[size] = '\0';
	c = ctl_parse(line);
	if (c != CTL_BAD)
		FUZZ_CHECK(strcmp(ctl_cmd_name(c), line) == 0,
		    "\"%s\" parsed as %s", line, ctl_cmd_name(c));
	/* what only reads may be asked by anyone; nothing else */
	FUZZ_CHECK(ctl_permitted(c, 4242, 4243) ==
	    (c == CTL_STATUS || c == CTL_STATUS_JSON || c == CTL_METRICS ||
	    c == CTL_CHECK),
	    "%s permitted to anyone", ctl_cmd_name(c));
	FUZZ_CHECK(ctl_permitted(c, 0, 4243) == (c != CTL_BAD),
	    "root may not %s", ctl_cmd_name(c));
	free(line);
}

static void
serve(const uint8_t *data, size_t size)
{
	struct pollfd pfd[CTL_NPOLL];
	struct ctl_request req;
	char reply[1024];
	size_t got = 0;
	ssize_t n;
	int cl;
	bool passed;

	FUZZ_CHECK((cl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1,
	    "socket: %s", strerror(errno));
	FUZZ_CHECK(connect(cl, (struct sockaddr *)&sun, sizeof(sun)) == 0,
	    "connect: %s", strerror(errno));
	/* the socket buffer takes this much at once; the reader stops sooner */
	if (size > 0)
		FUZZ_CHECK(send(cl, data, size, MSG_NOSIGNAL | MSG_DONTWAIT) ==
		    (ssize_t)size, "send: %s", strerror(errno));
	shutdown(cl, SHUT_WR);
	/* the line and EOF are there: one round serves it, never waiting */
	control_pollfds(&ctl, pfd);
	FUZZ_CHECK(poll(pfd, CTL_NPOLL, 1000) == 1, "listener not readable");
	control_events(&ctl, pfd, "nobody", 0);
	if ((passed = control_next(&ctl, &req))) {
		FUZZ_CHECK(req.cmd != CTL_BAD, "a bad request passed on");
		control_reply(&ctl, &req, "ok\n");
		FUZZ_CHECK(!control_next(&ctl, &req),
		    "a second request from one connection");
	}
	while (got < sizeof(reply) - 1 &&
	    (n = recv(cl, reply + got, sizeof(reply) - 1 - got, 0)) > 0)
		got += (size_t)n;
	reply[got] = '\0';
	close(cl);
	for (size_t i = 0; i < CTL_MAX_CONN; i++)
		FUZZ_CHECK(ctl.conn[i].state == CTL_FREE, "connection %zu left "
		    "open (state %d)", i, ctl.conn[i].state);
	if (passed)
		FUZZ_CHECK(strcmp(reply, "ok\n") == 0, "reply \"%s\"", reply);
	else
		FUZZ_CHECK(strncmp(reply, "error ", 6) == 0 && got > 0 &&
		    memchr(reply, '\n', got) == reply + got - 1,
		    "refusal is not one error line: \"%s\"", reply);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_line(data, size);
	if (size <= 4096)
		serve(data, size);
	return 0;
}
