/*
 * worker-metrics: the HTTP request heads a scrape may send, and what the
 * listener answers, driven by tables (scrape_request.c); then the
 * listener itself over loopback: limits, deadlines and the page.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "ipc/ipc.h"
#include "util/xmalloc.h"
#include "worker-metrics/scrape.h"

static void
test_requests(void **state)
{
	static const struct {
		const char	*head;
		int		 status;	/* 0: not whole yet */
		bool		 head_only;
	} cases[] = {
		{ "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", 200, false },
		{ "GET /metrics HTTP/1.0\r\n\r\n", 200, false },
		{ "GET /metrics HTTP/1.1\n\n", 200, false },
		{ "\r\nGET /metrics HTTP/1.1\r\n\r\n", 200, false },
		{ "GET /metrics?name[]=x HTTP/1.1\r\n\r\n", 200, false },
		{ "HEAD /metrics HTTP/1.1\r\n\r\n", 200, true },
		{ "GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;"
		    "version=1.0.0\r\nUser-Agent: Prometheus/2.42.0\r\n\r\n",
		    200, false },
		{ "GET /metrics HTTP/1.1\r\nHost: a\r\n", 0, false },
		{ "GET /metrics HTTP/1.1\r\n", 0, false },
		{ "GET /met", 0, false },
		{ "", 0, false },
		{ "GET / HTTP/1.1\r\n\r\n", 404, false },
		{ "GET /metrics/ HTTP/1.1\r\n\r\n", 404, false },
		{ "GET /Metrics HTTP/1.1\r\n\r\n", 404, false },
		{ "GET http://a/metrics HTTP/1.1\r\n\r\n", 404, false },
		{ "POST /metrics HTTP/1.1\r\n\r\n", 405, false },
		{ "DELETE /metrics HTTP/1.1\r\n\r\n", 405, false },
		{ "get /metrics HTTP/1.1\r\n\r\n", 405, false },
		{ "POST /other HTTP/1.1\r\n\r\n", 404, false },
		{ "GET /metrics HTTP/2.0\r\n\r\n", 505, false },
		{ "GET /metrics HTTP/1.1x\r\n\r\n", 400, false },
		{ "GET /metrics\r\n\r\n", 400, false },
		{ "GET  /metrics HTTP/1.1\r\n\r\n", 400, false },
		{ "GET /metrics  HTTP/1.1\r\n\r\n", 400, false },
		{ "G(T /metrics HTTP/1.1\r\n\r\n", 400, false },
		{ " GET /metrics HTTP/1.1\r\n\r\n", 400, false },
		{ "GET /met\x01rics HTTP/1.1\r\n\r\n", 400, false },
		{ "GET /met\x80rics HTTP/1.1\r\n\r\n", 400, false },
		{ "\r\n\r\n", 0, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool head_only = !cases[i].head_only;
		int got = scrape_request(cases[i].head, strlen(cases[i].head),
		    &head_only);

		if (got != cases[i].status)
			fail_msg("case %zu: got %d, want %d", i, got,
			    cases[i].status);
		if (got == 200)
			assert_int_equal(head_only, cases[i].head_only);
	}
}

/* A NUL anywhere, even before the head ends, is a bad request. */
static void
test_nul(void **state)
{
	static const char head[] = "GET /metrics HTTP/1.1\r\nX: a\0b\r\n\r\n";
	bool head_only;

	(void)state;
	assert_int_equal(scrape_request(head, sizeof(head) - 1, &head_only),
	    400);
	assert_int_equal(scrape_request("GE\0", 3, &head_only), 400);
}

/* ---- the listener over loopback ---- */

struct fixture {
	struct scrape_server	 sv;
	int			 port;
	int64_t			 now;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char why[256], addr[32];
	int fd;

	/* the first free port from one that depends on the pid */
	for (f->port = 40000 + getpid() % 20000, fd = -1; fd == -1;
	    f->port++) {
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
		fd = scrape_listen(addr, why, sizeof(why));
	}
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	f->port = ntohs(sin.sin_port);
	f->now = 1000000;
	scrape_init(&f->sv, fd, f->now);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	scrape_close(&f->sv);
	free(f);
	return 0;
}

static int
client(const struct fixture *f, const char *send_first)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)f->port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	if (send_first != NULL)
		assert_int_equal(send(fd, send_first, strlen(send_first), 0),
		    (ssize_t)strlen(send_first));
	return fd;
}

/* One loop pass of the worker: poll with no wait, then the events. */
static void
pass(struct fixture *f)
{
	struct pollfd pfd[1 + SCRAPE_MAX_CONN];
	size_t n = scrape_pollfds(&f->sv, pfd, 1 + SCRAPE_MAX_CONN);

	usleep(20000);
	assert_true(poll(pfd, n, 100) >= 0);
	scrape_events(&f->sv, pfd, n, f->now);
}

static char *
reply(int fd)
{
	static char buf[4096];
	ssize_t n, got = 0;

	while (got < (ssize_t)sizeof(buf) - 1 &&
	    (n = recv(fd, buf + got, sizeof(buf) - 1 - (size_t)got, 0)) > 0)
		got += n;
	buf[got] = '\0';
	return buf;
}

static void
test_serves_page(void **state)
{
	struct fixture *f = *state;
	int fd;

	fd = client(f, "GET /metrics HTTP/1.1\r\n\r\n");
	pass(f);
	assert_non_null(strstr(reply(fd), "HTTP/1.1 503 "));
	close(fd);

	scrape_set_page(&f->sv, xstrdup("a 1\n# EOF\n"), 10);
	fd = client(f, "GET /metrics HTTP/1.1\r\n\r\n");
	pass(f);
	assert_string_equal(reply(fd), "HTTP/1.1 200 OK\r\nContent-Type: "
	    METRICS_CONTENT_TYPE "\r\nContent-Length: 10\r\nCache-Control: "
	    "no-store\r\nConnection: close\r\n\r\na 1\n# EOF\n");
	close(fd);
	assert_int_equal(f->sv.served, 1);
	assert_int_equal(scrape_open_conns(&f->sv), 0);
}

/* A head cut short is answered 408 at its deadline, and closed. */
static void
test_request_deadline(void **state)
{
	struct fixture *f = *state;
	int fd = client(f, "GET /metrics HTTP/1.1\r\nHost: a\r\n");

	pass(f);
	assert_int_equal(scrape_open_conns(&f->sv), 1);
	assert_int_equal(scrape_deadline(&f->sv), f->now + SCRAPE_REQUEST_MS);
	f->now += SCRAPE_REQUEST_MS - 1;
	scrape_expire(&f->sv, f->now);
	assert_int_equal(scrape_open_conns(&f->sv), 1);
	f->now += 1;
	scrape_expire(&f->sv, f->now);
	assert_int_equal(scrape_open_conns(&f->sv), 0);
	assert_non_null(strstr(reply(fd), "HTTP/1.1 408 "));
	close(fd);
}

/* At the cap, a new connection takes the place of the oldest reader. */
static void
test_connection_cap(void **state)
{
	struct fixture *f = *state;
	int fds[SCRAPE_MAX_CONN], fd;

	scrape_set_page(&f->sv, xstrdup("# EOF\n"), 6);
	for (int i = 0; i < SCRAPE_MAX_CONN; i++) {
		fds[i] = client(f, "GET /metrics HTTP/1.1\r\n");
		pass(f);
		f->now += 10;
	}
	assert_int_equal(scrape_open_conns(&f->sv), SCRAPE_MAX_CONN);
	fd = client(f, "GET /metrics HTTP/1.1\r\n\r\n");
	pass(f);
	assert_non_null(strstr(reply(fd), "HTTP/1.1 200 OK"));
	assert_string_equal(reply(fds[0]), "");	/* the oldest: closed */
	assert_int_equal(scrape_open_conns(&f->sv), SCRAPE_MAX_CONN - 1);
	close(fd);
	for (int i = 0; i < SCRAPE_MAX_CONN; i++)
		close(fds[i]);
}

/* A head past SCRAPE_MAX_HEAD without its end: 431. */
static void
test_head_too_large(void **state)
{
	struct fixture *f = *state;
	char *big = xmalloc(SCRAPE_MAX_HEAD + 1);
	int fd;

	memset(big, 'a', SCRAPE_MAX_HEAD);
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	big[SCRAPE_MAX_HEAD] = '\0';
	fd = client(f, big);
	pass(f);
	assert_non_null(strstr(reply(fd), "HTTP/1.1 431 "));
	close(fd);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_nul),
		cmocka_unit_test_setup_teardown(test_serves_page, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_request_deadline, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_connection_cap, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_head_too_large, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
