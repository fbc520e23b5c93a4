/*
 * The metrics listener's request parser (worker-metrics/): the input is
 * what anyone who can reach metrics.listen sends.
 *
 *   1. scrape_request() on the input: 0 (head not ended) or one of the
 *      statuses the listener answers; 200 only for GET or HEAD of
 *      /metrics, as the request line says;
 *   2. the whole serving path: a client connects to a real listener on
 *      loopback, writes the input and closes its side; one round of
 *      scrape_events() (never blocking) accepts, reads and answers. The
 *      answer is nothing (the head never ended) or one HTTP/1.1 reply,
 *      and no connection is left open.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "tests/fuzz/fuzz.h"
#include "util/xmalloc.h"
#include "worker-metrics/scrape.h"

static struct scrape_server sv;
static struct sockaddr_in sin;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	socklen_t len = sizeof(sin);
	char why[256], addr[32];
	int fd = -1;

	for (int port = 20000 + getpid() % 40000; fd == -1 && port < 65536;
	    port++) {
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
		fd = scrape_listen(addr, why, sizeof(why));
	}
	if (fd == -1 || getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		fprintf(stderr, "scrape_listen: %s\n", why);
		exit(1);
	}
	scrape_init(&sv, fd, 0);
	scrape_set_page(&sv, xstrdup("harepd_up 1\n# EOF\n"), 18);
	return 0;
}

static void
parse(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *sp;
	bool head_only;
	int st = scrape_request(p, size, &head_only);

	FUZZ_CHECK(st == 0 || st == 200 || st == 400 || st == 404 ||
	    st == 405 || st == 505, "status %d", st);
	if (st != 200)
		return;
	while (*p == '\r' || *p == '\n')
		p++;
	sp = memchr(p, ' ', size - (size_t)(p - (const char *)data));
	FUZZ_CHECK(sp != NULL && (sp - p == 3 || sp - p == 4) &&
	    memcmp(p, head_only ? "HEAD" : "GET", (size_t)(sp - p)) == 0 &&
	    strncmp(sp, " /metrics", 9) == 0, "200 for \"%.40s\"", p);
}

/*
 * libFuzzer's -timeout arms SIGALRM every second: any blocking call may
 * end with EINTR. A connect so cut short goes on in the background.
 */
static int
connect_loopback(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(errno);
	int err = 0;

	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
		return 0;
	if (errno != EINTR && errno != EINPROGRESS)
		return -1;
	while (poll(&p, 1, 1000) == -1 && errno == EINTR)
		;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -1;
	errno = err;
	return err == 0 ? 0 : -1;
}

static ssize_t
recv_retry(int fd, char *buf, size_t len)
{
	ssize_t r;

	while ((r = recv(fd, buf, len, 0)) == -1 && errno == EINTR)
		;
	return r;
}

static void
serve(const uint8_t *data, size_t size)
{
	struct pollfd pfd[1 + SCRAPE_MAX_CONN];
	char reply[512];
	size_t n, got = 0;
	ssize_t r;
	int cl;

	FUZZ_CHECK((cl = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1,
	    "socket: %s", strerror(errno));
	FUZZ_CHECK(connect_loopback(cl) == 0, "connect: %s", strerror(errno));
	for (size_t off = 0; off < size; off += (size_t)r) {
		while ((r = send(cl, data + off, size - off, MSG_NOSIGNAL)) ==
		    -1 && errno == EINTR)
			;
		FUZZ_CHECK(r > 0, "send: %s", strerror(errno));
	}
	shutdown(cl, SHUT_WR);
	n = scrape_pollfds(&sv, pfd, 1 + SCRAPE_MAX_CONN);
	while ((r = poll(pfd, n, 1000)) == -1 && errno == EINTR)
		;
	FUZZ_CHECK(r >= 1, "listener not readable");
	scrape_events(&sv, pfd, n, 0);
	while (got < sizeof(reply) - 1 &&
	    (r = recv_retry(cl, reply + got, sizeof(reply) - 1 - got)) > 0)
		got += (size_t)r;
	reply[got] = '\0';
	close(cl);
	FUZZ_CHECK(scrape_open_conns(&sv) == 0, "%zu connections left open",
	    scrape_open_conns(&sv));
	FUZZ_CHECK(got == 0 || strncmp(reply, "HTTP/1.1 ", 9) == 0,
	    "reply \"%.40s\"", reply);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse(data, size);
	if (size <= 16384)
		serve(data, size);
	return 0;
}
