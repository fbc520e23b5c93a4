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
	{ "metrics", CTL_METRICS },
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
ctl_read_only(enum ctl_cmd c)
{
	return c == CTL_STATUS || c == CTL_STATUS_JSON || c == CTL_METRICS;
}

bool
ctl_permitted(enum ctl_cmd c, uid_t caller, uid_t pg_uid)
{
	if (ctl_read_only(c))
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
	struct stat st;
	int fd, live;

	if (lstat(sun->sun_path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, whylen, "%s: %s", sun->sun_path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		/* a typo in control.socket must never cost a file */
		snprintf(why, whylen, "%s exists and is not a socket: refusing "
		    "to replace it", sun->sun_path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
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

/* ---- serving requests ---- */

static void
send_text(int fd, const char *text, size_t len)
{
	if (len > 0)
		(void)send(fd, text, len, MSG_NOSIGNAL);
}

void
control_reply(const struct ctl_request *req, const char *text)
{
	send_text(req->fd, text, strlen(text));
}

void
control_reply_status(const struct ctl_request *req, const struct status *st)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	if (fp == NULL) {
		control_reply(req, "error failed: out of memory\n");
		return;
	}
	if (req->cmd == CTL_STATUS_JSON)
		status_print_json(fp, st);
	else
		status_print_text(fp, st);
	fclose(fp);
	control_reply(req, "ok\n");
	send_text(req->fd, buf, len);
	free(buf);
}

static uid_t
pg_uid(const char *pg_user)
{
	struct privdrop pd;
	char why[256];

	if (privdrop_prepare(&pd, pg_user, why, sizeof(why)) == -1)
		return 0;	/* then only root may change things */
	return pd.uid;
}

/* false: the request was answered here (bad or denied) and fd closed. */
static bool
check_request(int fd, const char *pg_user, struct ctl_request *req)
{
	char line[CTL_MAX_REQUEST], msg[CTL_MAX_REQUEST + 128];

	*req = (struct ctl_request){ .fd = fd, .cmd = CTL_BAD };
	if (control_read_request(fd, line, sizeof(line), &req->uid) == -1) {
		control_reply(req, "error bad-request: expected one request "
		    "line\n");
	} else if ((req->cmd = ctl_parse(line)) == CTL_BAD) {
		snprintf(msg, sizeof(msg), "error unknown: unknown command "
		    "\"%.*s\"\n", CTL_MAX_REQUEST - 1, line);
		control_reply(req, msg);
	} else if (!ctl_permitted(req->cmd, req->uid, pg_uid(pg_user))) {
		log_warnx("control: uid %u may not %s", (unsigned)req->uid, line);
		snprintf(msg, sizeof(msg), "error denied: uid %u may only read "
		    "status (changes need root or user %s)\n",
		    (unsigned)req->uid, pg_user);
		control_reply(req, msg);
	} else {
		if (!ctl_read_only(req->cmd))
			log_info("control: %s by uid %u", line,
			    (unsigned)req->uid);
		return true;
	}
	close(fd);
	return false;
}

int
control_next(int listen_fd, const char *pg_user, struct ctl_request *req)
{
	struct timeval tv = { .tv_sec = 1 };
	int fd;

	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) != -1) {
		/* a client that does not read must not hang the supervisor */
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (check_request(fd, pg_user, req))
			return 1;
	}
	return 0;
}
