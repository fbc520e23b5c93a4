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
reply(int fd, const char *head, const char *body, size_t len)
{
	size_t hl = strlen(head);

	(void)send(fd, head, hl, MSG_NOSIGNAL);
	if (body != NULL && len > 0)
		(void)send(fd, body, len, MSG_NOSIGNAL);
}

static void
reply_status(struct sup *s, int fd, bool json)
{
	struct status st;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	if (fp == NULL) {
		reply(fd, "error failed: out of memory\n", NULL, 0);
		return;
	}
	sup_fill_status(s, &st);
	if (json)
		status_print_json(fp, &st);
	else
		status_print_text(fp, &st);
	fclose(fp);
	reply(fd, "ok\n", buf, len);
	free(buf);
}

static void
reply_reload(struct sup *s, int fd)
{
	char why[1024], line[1100];

	if (sup_reload(s, why, sizeof(why)) == 0) {
		reply(fd, "ok\nconfiguration reloaded\n", NULL, 0);
		return;
	}
	snprintf(line, sizeof(line), "error failed: reload: %s\n", why);
	reply(fd, line, NULL, 0);
}

/* Returns true when fd was kept (stop: closed when harepd exits). */
static bool
run_command(struct sup *s, int fd, enum ctl_cmd cmd)
{
	switch (cmd) {
	case CTL_STATUS:
	case CTL_STATUS_JSON:
		reply_status(s, fd, cmd == CTL_STATUS_JSON);
		break;
	case CTL_STOP_CLIENT:
	case CTL_START_CLIENT:
		sup_set_paused(s, cmd == CTL_STOP_CLIENT);
		reply(fd, cmd == CTL_STOP_CLIENT ? "ok\nclient paused: no "
		    "more verdicts or pg_hba.conf edits\n" :
		    "ok\nclient resumed\n", NULL, 0);
		break;
	case CTL_RELOAD:
		reply_reload(s, fd);
		break;
	case CTL_STOP:
		reply(fd, "ok\nstopping\n", NULL, 0);
		if (s->stop_client_fd != -1 || s->stopping)
			break;
		s->stop_client_fd = fd;
		sup_begin_stop(s, "harepdctl stop");
		return true;
	case CTL_BAD:
		break;
	}
	return false;
}

static uid_t
pg_uid(const struct sup *s)
{
	struct privdrop pd;
	char why[256];

	if (privdrop_prepare(&pd, s->conf->pg_user, why, sizeof(why)) == -1)
		return 0;	/* then only root may change things */
	return pd.uid;
}

static void
handle_client(struct sup *s, int fd)
{
	char line[CTL_MAX_REQUEST], msg[CTL_MAX_REQUEST + 128];
	enum ctl_cmd cmd;
	uid_t uid;

	if (control_read_request(fd, line, sizeof(line), &uid) == -1) {
		reply(fd, "error bad-request: expected one request line\n",
		    NULL, 0);
		close(fd);
		return;
	}
	if ((cmd = ctl_parse(line)) == CTL_BAD) {
		snprintf(msg, sizeof(msg), "error unknown: unknown command "
		    "\"%.*s\"\n", CTL_MAX_REQUEST - 1, line);
		reply(fd, msg, NULL, 0);
	} else if (!ctl_permitted(cmd, uid, pg_uid(s))) {
		log_warnx("control: uid %u may not %s", (unsigned)uid, line);
		snprintf(msg, sizeof(msg), "error denied: uid %u may only read "
		    "status (changes need root or user %s)\n", (unsigned)uid,
		    s->conf->pg_user);
		reply(fd, msg, NULL, 0);
	} else {
		if (cmd != CTL_STATUS && cmd != CTL_STATUS_JSON)
			log_info("control: %s by uid %u", line, (unsigned)uid);
		if (run_command(s, fd, cmd))
			return;
	}
	close(fd);
}

void
control_accept(struct sup *s)
{
	struct timeval tv = { .tv_sec = 1 };
	int fd;

	while ((fd = accept4(s->control_fd, NULL, NULL, SOCK_CLOEXEC)) != -1) {
		/* a client that does not read must not hang the supervisor */
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		handle_client(s, fd);
	}
}
