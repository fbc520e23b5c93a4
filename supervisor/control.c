/*
 * The control socket harepdctl talks to (docs/CONTROL.md): one request
 * line per connection, one reply, then close. The socket is 0666 so that
 * anyone may ask for status; what a caller may change is decided per
 * connection from SO_PEERCRED, never from the file mode.
 *
 * Anyone can connect, so nothing here ever waits on a client: every
 * connection is non-blocking, its state lives in struct control and the
 * supervisor's poll loop drives it, each has a deadline for its request
 * line and one for its reply, and there are at most CTL_MAX_CONN of them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
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
#include "util/clock.h"


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
	{ "reopen-logs", CTL_REOPEN_LOGS },
	{ "check", CTL_CHECK },
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
	return c == CTL_STATUS || c == CTL_STATUS_JSON || c == CTL_METRICS ||
	    c == CTL_CHECK;
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

/* ---- refusals, logged at a limited rate ---- */

/* Closes the window once it is over, saying how much it left out. */
static void
refusals_roll(struct ctl_ratelimit *r, int64_t now)
{
	if (now - r->window_start < CTL_LOG_WINDOW_MS)
		return;
	if (r->suppressed > 0)
		log_warnx("control: suppressed %u more refused or dropped "
		    "connections in the last %d s", r->suppressed,
		    CTL_LOG_WINDOW_MS / 1000);
	*r = (struct ctl_ratelimit){ .window_start = now };
}

static void __attribute__((format(printf, 4, 5)))
refusal_log(struct control *ctl, const struct ctl_conn *c, int64_t now,
    const char *fmt, ...)
{
	char msg[CTL_MAX_REQUEST + 128];
	va_list ap;

	refusals_roll(&ctl->refusals, now);
	if (ctl->refusals.logged >= CTL_LOG_BURST) {
		ctl->refusals.suppressed++;
		return;
	}
	ctl->refusals.logged++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c != NULL)
		log_warnx("control: uid %u: %s", (unsigned)c->uid, msg);
	else
		log_warnx("control: %s", msg);
}

/* ---- one connection ---- */

static void
conn_close(struct ctl_conn *c)
{
	if (c->fd != -1)
		close(c->fd);
	free(c->out);
	*c = (struct ctl_conn){ .fd = -1 };
}

/* As much of the reply as the socket takes now; closed once it is out. */
static void
conn_write(struct ctl_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
		    c->out_len - c->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;		/* POLLOUT, or the reply deadline */
		if (n <= 0)
			break;		/* the client went away */
		c->out_off += (size_t)n;
	}
	conn_close(c);
}

static void
conn_reply(struct ctl_conn *c, const char *text, size_t len, int64_t now)
{
	if (len > CTL_MAX_REPLY) {
		text = "error failed: reply too large\n";
		len = strlen(text);
	}
	free(c->out);
	c->out = malloc(len);
	if (c->out == NULL) {
		conn_close(c);
		return;
	}
	memcpy(c->out, text, len);
	c->out_len = len;
	c->out_off = 0;
	c->state = CTL_WRITING;
	c->deadline = now + CTL_REPLY_MS;
	conn_write(c);
}

static void
conn_refuse(struct ctl_conn *c, const char *reply, int64_t now)
{
	conn_reply(c, reply, strlen(reply), now);
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

/* A whole line has come: parsed and checked, refused here or READY. */
static void
conn_request(struct control *ctl, struct ctl_conn *c, char *nl,
    const char *pg_user, int64_t now)
{
	char msg[CTL_MAX_REQUEST + 128];
	const char *line = c->in;

	bool nul = memchr(c->in, '\0', (size_t)(nl - c->in)) != NULL;

	*nl = '\0';
	if (nl > c->in && nl[-1] == '\r')
		nl[-1] = '\0';
	c->cmd = nul ? CTL_BAD : ctl_parse(line);
	if (c->cmd == CTL_BAD) {
		refusal_log(ctl, c, now, "unknown request \"%s\"", line);
		snprintf(msg, sizeof(msg), "error unknown: unknown command "
		    "\"%s\"\n", line);
		conn_refuse(c, msg, now);
	} else if (!ctl_read_only(c->cmd) &&
	    !ctl_permitted(c->cmd, c->uid, pg_uid(pg_user))) {
		refusal_log(ctl, c, now, "may not %s (denied)", line);
		snprintf(msg, sizeof(msg), "error denied: uid %u may only read "
		    "status (changes need root or user %s)\n",
		    (unsigned)c->uid, pg_user);
		conn_refuse(c, msg, now);
	} else
		c->state = CTL_READY;
}

/* What the socket has now; a line, EOF or a full buffer ends it. */
static void
conn_read(struct control *ctl, struct ctl_conn *c, const char *pg_user,
    int64_t now)
{
	char *nl;

	for (;;) {
		ssize_t n = recv(c->fd, c->in + c->in_len,
		    sizeof(c->in) - 1 - c->in_len, MSG_DONTWAIT);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == -1) {
			conn_close(c);
			return;
		}
		c->in_len += (size_t)n;
		c->in[c->in_len] = '\0';
		if ((nl = memchr(c->in, '\n', c->in_len)) != NULL) {
			conn_request(ctl, c, nl, pg_user, now);
			return;
		}
		if (n == 0 || c->in_len == sizeof(c->in) - 1)
			break;	/* no complete line: cut short or too long */
	}
	refusal_log(ctl, c, now, "no complete request line (%zu bytes)",
	    c->in_len);
	conn_refuse(c, "error bad-request: expected one request line\n", now);
}

/* ---- the connections, driven by the supervisor's poll loop ---- */

void
control_init(struct control *ctl, int listen_fd)
{
	memset(ctl, 0, sizeof(*ctl));
	ctl->listen_fd = listen_fd;
	for (size_t i = 0; i < CTL_MAX_CONN; i++)
		ctl->conn[i].fd = -1;
}

void
control_close(struct control *ctl)
{
	for (size_t i = 0; i < CTL_MAX_CONN; i++)
		conn_close(&ctl->conn[i]);
}

void
control_pollfds(const struct control *ctl, struct pollfd pfd[CTL_NPOLL])
{
	pfd[0] = (struct pollfd){ .fd = ctl->listen_fd, .events = POLLIN };
	for (size_t i = 0; i < CTL_MAX_CONN; i++) {
		const struct ctl_conn *c = &ctl->conn[i];

		pfd[1 + i] = (struct pollfd){ .fd = -1 };
		if (c->state == CTL_READING)
			pfd[1 + i] = (struct pollfd){ c->fd, POLLIN, 0 };
		else if (c->state == CTL_WRITING)
			pfd[1 + i] = (struct pollfd){ c->fd, POLLOUT, 0 };
	}
}

int64_t
control_deadline(const struct control *ctl)
{
	int64_t next = INT64_MAX;

	for (size_t i = 0; i < CTL_MAX_CONN; i++) {
		const struct ctl_conn *c = &ctl->conn[i];

		if ((c->state == CTL_READING || c->state == CTL_WRITING) &&
		    c->deadline < next)
			next = c->deadline;
	}
	return next;
}

/* A free slot; at the cap, the one that has waited longest for its line. */
static struct ctl_conn *
conn_slot(struct control *ctl, int64_t now)
{
	struct ctl_conn *oldest = NULL;

	for (size_t i = 0; i < CTL_MAX_CONN; i++) {
		struct ctl_conn *c = &ctl->conn[i];

		if (c->state == CTL_FREE)
			return c;
		if (c->state == CTL_READING &&
		    (oldest == NULL || c->deadline < oldest->deadline))
			oldest = c;
	}
	if (oldest != NULL) {
		refusal_log(ctl, oldest, now, "closed after %d ms without a "
		    "request line: %d connections open, a new one came",
		    (int)(now - oldest->deadline + CTL_REQUEST_MS),
		    CTL_MAX_CONN);
		conn_close(oldest);
	}
	return oldest;
}

static void
accept_new(struct control *ctl, const char *pg_user, int64_t now)
{
	static const char busy[] = "error busy: too many control "
	    "connections\n";
	struct ctl_conn *c;
	int fd;

	/* a bounded batch: a flood of connects must not starve the workers */
	for (int i = 0; i < CTL_MAX_CONN; i++) {
		if ((fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_CLOEXEC |
		    SOCK_NONBLOCK)) == -1)
			return;
		if ((c = conn_slot(ctl, now)) == NULL) {
			refusal_log(ctl, NULL, now, "closed a new connection: "
			    "%d open, each being answered", CTL_MAX_CONN);
			(void)send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT |
			    MSG_NOSIGNAL);
			close(fd);
			continue;
		}
		*c = (struct ctl_conn){ .state = CTL_READING, .fd = fd,
		    .uid = (uid_t)-1, .deadline = now + CTL_REQUEST_MS };
		if (peer_uid(fd, &c->uid) == -1) {
			conn_close(c);
			continue;
		}
		conn_read(ctl, c, pg_user, now);  /* harepdctl's line is there */
	}
}

static void
expire(struct control *ctl, int64_t now)
{
	for (size_t i = 0; i < CTL_MAX_CONN; i++) {
		struct ctl_conn *c = &ctl->conn[i];

		if (c->state == CTL_READING && now >= c->deadline) {
			refusal_log(ctl, c, now, "closed: no request line "
			    "within %d ms (%zu bytes)", CTL_REQUEST_MS,
			    c->in_len);
			conn_refuse(c, "error bad-request: no request line "
			    "in time\n", now);
			if (c->state == CTL_WRITING)
				conn_close(c);	/* no second chance */
		} else if (c->state == CTL_WRITING && now >= c->deadline) {
			refusal_log(ctl, c, now, "closed: reply not read within "
			    "%d ms (%zu of %zu bytes sent)", CTL_REPLY_MS,
			    c->out_off, c->out_len);
			conn_close(c);
		}
	}
	refusals_roll(&ctl->refusals, now);
}

void
control_events(struct control *ctl, const struct pollfd pfd[CTL_NPOLL],
    const char *pg_user, int64_t now)
{
	for (size_t i = 0; i < CTL_MAX_CONN; i++) {
		struct ctl_conn *c = &ctl->conn[i];
		short ev = pfd[1 + i].revents;

		if (c->fd == -1 || pfd[1 + i].fd != c->fd || ev == 0)
			continue;
		if (c->state == CTL_READING)
			conn_read(ctl, c, pg_user, now);
		else if (c->state == CTL_WRITING)
			conn_write(c);
	}
	if (pfd[0].revents & POLLIN)
		accept_new(ctl, pg_user, now);
	expire(ctl, now);
}

bool
control_next(struct control *ctl, struct ctl_request *req)
{
	for (size_t i = 0; i < CTL_MAX_CONN; i++) {
		struct ctl_conn *c = &ctl->conn[i];

		if (c->state != CTL_READY)
			continue;
		c->state = CTL_SERVING;
		*req = (struct ctl_request){ .slot = (int)i, .cmd = c->cmd,
		    .uid = c->uid };
		if (!ctl_read_only(c->cmd))
			log_info("control: %s by uid %u", ctl_cmd_name(c->cmd),
			    (unsigned)c->uid);
		return true;
	}
	return false;
}

/* ---- replies ---- */

void
control_reply(struct control *ctl, const struct ctl_request *req,
    const char *text)
{
	struct ctl_conn *c = &ctl->conn[req->slot];

	if (c->state == CTL_SERVING)
		conn_reply(c, text, strlen(text), clock_mono_ms());
}

void
control_reply_status(struct control *ctl, const struct ctl_request *req,
    const struct status *st)
{
	struct ctl_conn *c = &ctl->conn[req->slot];
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	if (fp == NULL) {
		control_reply(ctl, req, "error failed: out of memory\n");
		return;
	}
	fputs("ok\n", fp);
	if (req->cmd == CTL_STATUS_JSON)
		status_print_json(fp, st);
	else
		status_print_text(fp, st);
	if (fclose(fp) != 0)
		control_reply(ctl, req, "error failed: out of memory\n");
	else if (c->state == CTL_SERVING)
		conn_reply(c, buf, len, clock_mono_ms());
	free(buf);
}

int
control_hold(struct control *ctl, const struct ctl_request *req)
{
	const struct ctl_conn *c = &ctl->conn[req->slot];

	if (c->state != CTL_SERVING)
		return -1;
	return fcntl(c->fd, F_DUPFD_CLOEXEC, 0);
}
