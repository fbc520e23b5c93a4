/*
 * The control socket harepdctl talks to (docs/CONTROL.md): one request
 * line per connection, one reply, then close. The socket is 0666 so that
 * anyone may ask for status; what a caller may change is decided per
 * connection from SO_PEERCRED, never from the file mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "supervisor/sup.h"

/* A client gets this long to send its line: the supervisor waits meanwhile. */
#define CTL_READ_TIMEOUT_MS 1000

static const struct {
	const char	*line;
	enum ctl_cmd	 cmd;
} ctl_requests[] = {
	{ "status", CTL_STATUS },
	{ "status json", CTL_STATUS_JSON },
	{ "stop-client", CTL_STOP_CLIENT },
	{ "start-client", CTL_START_CLIENT },
	{ "reload", CTL_RELOAD },
	{ "stop", CTL_STOP },
};

enum ctl_cmd
ctl_parse(const char *line)
{
	for (size_t i = 0; i < sizeof(ctl_requests) / sizeof(ctl_requests[0]);
	    i++)
		if (strcmp(line, ctl_requests[i].line) == 0)
			return ctl_requests[i].cmd;
	return CTL_BAD;
}

const char *
ctl_cmd_name(enum ctl_cmd c)
{
	for (size_t i = 0; i < sizeof(ctl_requests) / sizeof(ctl_requests[0]);
	    i++)
		if (ctl_requests[i].cmd == c)
			return ctl_requests[i].line;
	return "unknown";
}

bool
ctl_permitted(enum ctl_cmd c, uid_t caller, uid_t pg_uid)
{
	if (c == CTL_STATUS || c == CTL_STATUS_JSON)
		return true;
	if (c == CTL_BAD)
		return false;
	return caller == 0 || caller == pg_uid;
}

static int
make_dir(const char *path, char *why, size_t whylen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) == 0)
		(void)chmod(dir, 0755);	/* whatever the umask: anyone may connect */
	else if (errno != EEXIST) {
		snprintf(why, whylen, "mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* A socket someone still answers on means another harepd runs. */
static int
refuse_live_socket(const struct sockaddr_un *sun, char *why, size_t whylen)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int live;

	if (fd == -1) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	if (live) {
		snprintf(why, whylen, "%s: another harepd is running",
		    sun->sun_path);
		return -1;
	}
	if (unlink(sun->sun_path) == -1 && errno != ENOENT) {
		snprintf(why, whylen, "unlink %s: %s", sun->sun_path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
bind_listen(const struct sockaddr_un *sun, char *why, size_t whylen)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd == -1) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (const struct sockaddr *)sun, sizeof(*sun)) == -1 ||
	    chmod(sun->sun_path, 0666) == -1 || listen(fd, 16) == -1) {
		snprintf(why, whylen, "%s: %s", sun->sun_path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
control_listen(const char *path, char *why, size_t whylen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(why, whylen, "%s: path too long for a socket", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (make_dir(path, why, whylen) == -1 ||
	    refuse_live_socket(&sun, why, whylen) == -1)
		return -1;
	return bind_listen(&sun, why, whylen);
}

static int
peer_uid(int fd, uid_t *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return -1;
	*uid = cred.uid;
	return 0;
}

int
control_read_request(int fd, char *line, size_t len, uid_t *uid)
{
	size_t got = 0;
	char *nl;

	if (peer_uid(fd, uid) == -1)
		return -1;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, CTL_READ_TIMEOUT_MS) <= 0)
			return -1;
		n = recv(fd, line + got, len - 1 - got, 0);
		if (n <= 0 && !(n == -1 && errno == EINTR))
			break;
		if (n > 0)
			got += (size_t)n;
		line[got] = '\0';
		if (strchr(line, '\n') != NULL || got == len - 1)
			break;
	}
	line[got] = '\0';
	if ((nl = strchr(line, '\n')) == NULL)
		return -1;	/* no complete line: too long or cut short */
	*nl = '\0';
	if (nl > line && nl[-1] == '\r')
		nl[-1] = '\0';
	return 0;
}
