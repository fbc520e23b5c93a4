/*
 * The metrics listener and its connections: one request per connection,
 * one reply, then close (Connection: close). Anyone who can reach the
 * address can connect, so nothing here waits on a client: every socket
 * is non-blocking, each connection has a deadline for its request head
 * and one for its reply, there are at most SCRAPE_MAX_CONN of them, and
 * at the cap a new connection takes the place of the one that has waited
 * longest for its head (a client that dribbles its request loses it, a
 * scraper whose request came with the connection does not).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "conf/conf.h"
#include "ipc/ipc.h"
#include "ipc/log.h"
#include "util/xmalloc.h"
#include "worker-metrics/scrape.h"

static int
listen_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len,
    char *why, size_t whylen)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char host[256];
	const char *bad;
	int port;

	memset(ss, 0, sizeof(*ss));
	if ((bad = conf_listen_parse(addr, host, sizeof(host), &port)) !=
	    NULL) {
		snprintf(why, whylen, "%s: %s", addr, bad);
		return -1;
	}
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
	} else {
		snprintf(why, whylen, "%s: not an IP address", addr);
		return -1;
	}
	return 0;
}

int
scrape_listen(const char *addr, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, on = 1;

	if (listen_addr(addr, &ss, &len, why, whylen) == -1)
		return -1;
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	/* a restarted worker binds again at once despite TIME_WAIT; "::"
	 * means IPv6 only, as written */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, 2 * SCRAPE_MAX_CONN) == -1) {
		snprintf(why, whylen, "%s: %s", addr, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- refusals, logged at a limited rate ---- */

static void __attribute__((format(printf, 3, 4)))
refused(struct scrape_server *sv, int64_t now, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!log_bucket_take(&sv->refusals, now)) {
		sv->refused_quiet++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("http: %s", msg);
}

/* ---- one connection ---- */

static void
conn_close(struct scrape_conn *c)
{
	char sink[512];

	if (c->fd != -1) {
		/* what the client still sends must not turn our close
		 * into a reset that destroys the reply in flight */
		(void)shutdown(c->fd, SHUT_WR);
		for (int i = 0; i < 16 && recv(c->fd, sink, sizeof(sink),
		    MSG_DONTWAIT) > 0; i++)
			;
		close(c->fd);
	}
	free(c->out);
	*c = (struct scrape_conn){ .fd = -1 };
}

static void
conn_write(struct scrape_conn *c)
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

/* The reply: status line, headers, and (not for HEAD) the body. */
static void
conn_reply(struct scrape_conn *c, int status, const char *type,
    const char *body, size_t blen, bool head_only, int64_t now)
{
	char hdr[512];
	int hlen;

	hlen = snprintf(hdr, sizeof(hdr), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%s%s"
	    "Cache-Control: no-store\r\nConnection: close\r\n\r\n", status,
	    scrape_reason(status), type, blen,
	    status == 405 ? "Allow: GET, HEAD\r\n" : "",
	    status == 503 ? "Retry-After: 1\r\n" : "");
	c->out_len = (size_t)hlen + (head_only ? 0 : blen);
	c->out = xmalloc(c->out_len);
	memcpy(c->out, hdr, (size_t)hlen);
	if (!head_only)
		memcpy(c->out + hlen, body, blen);
	c->out_off = 0;
	c->state = SCRAPE_WRITING;
	c->deadline = now + SCRAPE_REPLY_MS;
	conn_write(c);
}

static void
conn_error(struct scrape_conn *c, int status, int64_t now)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", status,
	    scrape_reason(status));

	conn_reply(c, status, "text/plain; charset=utf-8", body, (size_t)n,
	    false, now);
}

static void
conn_answer(struct scrape_server *sv, struct scrape_conn *c, int status,
    bool head_only, int64_t now)
{
	if (status != 200) {
		refused(sv, now, "answered %d %s", status,
		    scrape_reason(status));
		conn_error(c, status, now);
	} else if (sv->page == NULL)
		conn_error(c, 503, now);	/* no page from the supervisor yet */
	else {
		sv->served++;
		conn_reply(c, 200, METRICS_CONTENT_TYPE, sv->page,
		    sv->page_len, head_only, now);
	}
}

/* What the socket has now; the end of the head, EOF or the cap ends it. */
static void
conn_read(struct scrape_server *sv, struct scrape_conn *c, int64_t now)
{
	bool head_only;
	int status;

	for (;;) {
		ssize_t n = recv(c->fd, c->in + c->in_len,
		    sizeof(c->in) - c->in_len, MSG_DONTWAIT);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_close(c);	/* gone before asking: nothing to say */
			return;
		}
		c->in_len += (size_t)n;
		if ((status = scrape_request(c->in, c->in_len,
		    &head_only)) != 0) {
			conn_answer(sv, c, status, head_only, now);
			return;
		}
		if (c->in_len == sizeof(c->in)) {
			conn_answer(sv, c, 431, false, now);
			return;
		}
	}
}

/* ---- the listener and the connections, driven by the worker's loop ---- */

void
scrape_init(struct scrape_server *sv, int listen_fd, int64_t now)
{
	memset(sv, 0, sizeof(*sv));
	sv->listen_fd = listen_fd;
	for (size_t i = 0; i < SCRAPE_MAX_CONN; i++)
		sv->conn[i].fd = -1;
	log_bucket_init(&sv->refusals, SCRAPE_LOG_BURST, SCRAPE_LOG_PER_S, now);
}

void
scrape_close(struct scrape_server *sv)
{
	for (size_t i = 0; i < SCRAPE_MAX_CONN; i++)
		conn_close(&sv->conn[i]);
	if (sv->listen_fd != -1)
		close(sv->listen_fd);
	sv->listen_fd = -1;
	free(sv->page);
	sv->page = NULL;
}

void
scrape_set_page(struct scrape_server *sv, char *page, size_t len)
{
	free(sv->page);
	sv->page = page;
	sv->page_len = len;
}

size_t
scrape_pollfds(const struct scrape_server *sv, struct pollfd *pfd,
    size_t max)
{
	size_t n = 0;

	if (max == 0)
		return 0;
	pfd[n++] = (struct pollfd){ .fd = sv->listen_fd, .events = POLLIN };
	for (size_t i = 0; i < SCRAPE_MAX_CONN && n < max; i++) {
		const struct scrape_conn *c = &sv->conn[i];

		if (c->state == SCRAPE_READING)
			pfd[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
		else if (c->state == SCRAPE_WRITING)
			pfd[n++] = (struct pollfd){ .fd = c->fd, .events = POLLOUT };
	}
	return n;
}

int64_t
scrape_deadline(const struct scrape_server *sv)
{
	int64_t next = INT64_MAX;

	for (size_t i = 0; i < SCRAPE_MAX_CONN; i++)
		if (sv->conn[i].state != SCRAPE_FREE &&
		    sv->conn[i].deadline < next)
			next = sv->conn[i].deadline;
	return next;
}

size_t
scrape_open_conns(const struct scrape_server *sv)
{
	size_t n = 0;

	for (size_t i = 0; i < SCRAPE_MAX_CONN; i++)
		n += sv->conn[i].state != SCRAPE_FREE;
	return n;
}

/* A free slot; at the cap, the one that has waited longest for its head. */
static struct scrape_conn *
conn_slot(struct scrape_server *sv, int64_t now)
{
	struct scrape_conn *oldest = NULL;

	for (size_t i = 0; i < SCRAPE_MAX_CONN; i++) {
		struct scrape_conn *c = &sv->conn[i];

		if (c->state == SCRAPE_FREE)
			return c;
		if (c->state == SCRAPE_READING &&
		    (oldest == NULL || c->accepted < oldest->accepted))
			oldest = c;
	}
	if (oldest != NULL) {
		refused(sv, now, "closed after %lld ms without a whole request: "
		    "%d connections open, a new one came",
		    (long long)(now - oldest->accepted), SCRAPE_MAX_CONN);
		conn_close(oldest);
	}
	return oldest;
}

static void
accept_new(struct scrape_server *sv, int64_t now)
{
	struct scrape_conn *c;
	int fd;

	/* a bounded batch: a flood of connects must not starve the others */
	for (int i = 0; i < SCRAPE_ACCEPT_BURST; i++) {
		if ((fd = accept4(sv->listen_fd, NULL, NULL, SOCK_CLOEXEC |
		    SOCK_NONBLOCK)) == -1)
			return;
		if ((c = conn_slot(sv, now)) == NULL) {
			refused(sv, now, "closed a new connection: %d open, "
			    "each being answered", SCRAPE_MAX_CONN);
			close(fd);
			continue;
		}
		*c = (struct scrape_conn){ .state = SCRAPE_READING, .fd = fd,
		    .accepted = now, .deadline = now + SCRAPE_REQUEST_MS };
		conn_read(sv, c, now);	/* a scraper's request came with it */
	}
}

void
scrape_expire(struct scrape_server *sv, int64_t now)
{
	for (size_t i = 0; i < SCRAPE_MAX_CONN; i++) {
		struct scrape_conn *c = &sv->conn[i];

		if (c->state == SCRAPE_READING && now >= c->deadline) {
			refused(sv, now, "no whole request within %d ms (%zu "
			    "bytes)", SCRAPE_REQUEST_MS, c->in_len);
			conn_error(c, 408, now);
			if (c->state == SCRAPE_WRITING)
				conn_close(c);	/* no second chance */
		} else if (c->state == SCRAPE_WRITING && now >= c->deadline) {
			refused(sv, now, "reply not read within %d ms (%zu of "
			    "%zu bytes sent)", SCRAPE_REPLY_MS, c->out_off,
			    c->out_len);
			conn_close(c);
		}
	}
	if (sv->refused_quiet > 0 && log_bucket_take(&sv->refusals, now)) {
		log_warnx("http: %lu more refused or closed connections not "
		    "logged", sv->refused_quiet);
		sv->refused_quiet = 0;
	}
}

void
scrape_events(struct scrape_server *sv, const struct pollfd *pfd, size_t n,
    int64_t now)
{
	for (size_t k = 1; k < n; k++) {
		if (pfd[k].revents == 0)
			continue;
		for (size_t i = 0; i < SCRAPE_MAX_CONN; i++) {
			struct scrape_conn *c = &sv->conn[i];

			if (c->fd != pfd[k].fd)
				continue;
			if (c->state == SCRAPE_READING)
				conn_read(sv, c, now);
			else if (c->state == SCRAPE_WRITING)
				conn_write(c);
			break;
		}
	}
	if (n > 0 && (pfd[0].revents & POLLIN))
		accept_new(sv, now);
	scrape_expire(sv, now);
}
