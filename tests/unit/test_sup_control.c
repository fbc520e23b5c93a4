/*
 * The control socket's connections (supervisor/control.c), on a real
 * listening socket with the clock passed in: a client that dribbles its
 * line or never reads its reply costs the supervisor no waiting and is
 * closed at its deadline; at most CTL_MAX_CONN are open, a newcomer
 * displacing the one that has waited longest for its line; refusals
 * are logged at most CTL_LOG_BURST times a window, then counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>

#include "supervisor/sup.h"
#include "util/clock.h"

struct fixture {
	char		 dir[64];
	struct sockaddr_un sun;
	struct control	 ctl;
};

static char	logged[64][512];
static size_t	n_logged;

static void
capture(enum log_level lvl, const char *msg, const struct log_field *f,
    size_t n, void *arg)
{
	if (n_logged < 64)
		snprintf(logged[n_logged], sizeof(logged[0]), "%s", msg);
	n_logged++;
}

static size_t
logged_like(const char *needle)
{
	size_t n = 0;

	for (size_t i = 0; i < n_logged && i < 64; i++)
		n += strstr(logged[i], needle) != NULL;
	return n;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char why[256];
	int fd;

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_sup_control.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->sun.sun_family = AF_UNIX;
	snprintf(f->sun.sun_path, sizeof(f->sun.sun_path), "%s/s", f->dir);
	fd = control_listen(f->sun.sun_path, why, sizeof(why));
	assert_int_not_equal(fd, -1);
	control_init(&f->ctl, fd);
	n_logged = 0;
	log_init("test", capture, NULL);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	control_close(&f->ctl);
	close(f->ctl.listen_fd);
	unlink(f->sun.sun_path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int
client(struct fixture *f, const char *send_first)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_int_not_equal(fd, -1);
	assert_int_equal(connect(fd, (struct sockaddr *)&f->sun,
	    sizeof(f->sun)), 0);
	if (send_first != NULL)
		assert_int_equal(send(fd, send_first, strlen(send_first), 0),
		    (ssize_t)strlen(send_first));
	return fd;
}

/* One round of the supervisor's loop at time now, without waiting. */
static void
round_at(struct fixture *f, int64_t now)
{
	struct pollfd pfd[CTL_NPOLL];

	control_pollfds(&f->ctl, pfd);
	assert_true(poll(pfd, CTL_NPOLL, 0) >= 0);
	control_events(&f->ctl, pfd, "postgres", now);
}

static size_t
open_conns(const struct fixture *f)
{
	size_t n = 0;

	for (size_t i = 0; i < CTL_MAX_CONN; i++)
		n += f->ctl.conn[i].state != CTL_FREE;
	return n;
}

/* Everything the server sent, up to its close. */
static char *
reply_of(int fd)
{
	static char buf[512];
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(buf) - 1 &&
	    (n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	return buf;
}

static void
test_dribble(void **state)
{
	struct fixture *f = *state;
	int64_t t0 = clock_mono_ms(), took;
	int cl = client(f, "sta");

	round_at(f, t0);
	assert_int_equal(open_conns(f), 1);
	/* another byte: the deadline does not move */
	assert_int_equal(send(cl, "t", 1, 0), 1);
	round_at(f, t0 + CTL_REQUEST_MS - 1);
	assert_int_equal(open_conns(f), 1);
	assert_int_equal(control_deadline(&f->ctl), t0 + CTL_REQUEST_MS);
	took = clock_mono_ms() - t0;
	assert_true(took < 100);	/* nothing waited for the client */
	round_at(f, t0 + CTL_REQUEST_MS);
	assert_int_equal(open_conns(f), 0);
	assert_string_equal(reply_of(cl), "error bad-request: no request line "
	    "in time\n");
	assert_int_equal(logged_like("no request line within 200 ms"), 1);
	close(cl);
}

static void
test_cap(void **state)
{
	struct fixture *f = *state;
	struct ctl_request req;
	int64_t now = clock_mono_ms();
	int cl[CTL_MAX_CONN + 4], honest;

	for (int i = 0; i < CTL_MAX_CONN + 4; i++) {
		cl[i] = client(f, NULL);
		round_at(f, now + i);	/* i: who came first */
	}
	assert_int_equal(open_conns(f), CTL_MAX_CONN);
	/* the first four were displaced, the others still wait */
	for (int i = 0; i < 4; i++)
		assert_string_equal(reply_of(cl[i]), "");
	assert_int_equal(logged_like("connections open, a new one came"), 4);
	honest = client(f, "status\n");
	round_at(f, now + 50);
	assert_true(control_next(&f->ctl, &req));
	assert_int_equal(req.cmd, CTL_STATUS);
	control_reply(&f->ctl, &req, "ok\nfine\n");
	assert_string_equal(reply_of(honest), "ok\nfine\n");
	assert_int_equal(open_conns(f), CTL_MAX_CONN - 1);
	for (int i = 0; i < CTL_MAX_CONN + 4; i++)
		close(cl[i]);
	close(honest);
}

static void
test_slow_reader(void **state)
{
	struct fixture *f = *state;
	struct ctl_request req;
	int64_t t0 = clock_mono_ms();
	int cl = client(f, "status json\n"), small = 4096;
	size_t big = CTL_MAX_REPLY - 1;
	char *text = malloc(big + 1);

	round_at(f, t0);
	assert_true(control_next(&f->ctl, &req));
	/* a small send buffer: the reply cannot all go out at once */
	assert_int_equal(setsockopt(f->ctl.conn[req.slot].fd, SOL_SOCKET,
	    SO_SNDBUF, &small, sizeof(small)), 0);
	memset(text, 'x', big);
	text[big] = '\0';
	control_reply(&f->ctl, &req, text);
	assert_true(clock_mono_ms() - t0 < 100);	/* it did not wait */
	assert_int_equal(f->ctl.conn[req.slot].state, CTL_WRITING);
	assert_true(f->ctl.conn[req.slot].out_off < big);
	round_at(f, clock_mono_ms());
	assert_int_equal(open_conns(f), 1);
	round_at(f, clock_mono_ms() + CTL_REPLY_MS);
	assert_int_equal(open_conns(f), 0);
	assert_int_equal(logged_like("reply not read within 2000 ms"), 1);
	free(text);
	close(cl);
}

static void
test_refusals_limited(void **state)
{
	struct fixture *f = *state;
	int64_t now = clock_mono_ms();

	for (int i = 0; i < 50; i++) {
		int cl = client(f, "frobnicate\n");

		round_at(f, now);
		assert_string_equal(reply_of(cl), "error unknown: unknown "
		    "command \"frobnicate\"\n");
		close(cl);
	}
	assert_int_equal(n_logged, CTL_LOG_BURST);
	assert_int_equal(logged_like("unknown request \"frobnicate\""),
	    CTL_LOG_BURST);
	round_at(f, now + CTL_LOG_WINDOW_MS);
	assert_int_equal(n_logged, CTL_LOG_BURST + 1);
	assert_int_equal(logged_like("suppressed 45 more"), 1);
	/* a new window logs again */
	close(client(f, "x\n"));
	round_at(f, now + CTL_LOG_WINDOW_MS + 1);
	assert_int_equal(n_logged, CTL_LOG_BURST + 2);
}

static void
test_line_rules(void **state)
{
	struct fixture *f = *state;
	struct ctl_request req;
	int64_t now = clock_mono_ms();
	int cl;

	cl = client(f, "status\r\n");	/* CRLF is fine */
	round_at(f, now);
	assert_true(control_next(&f->ctl, &req));
	control_reply(&f->ctl, &req, "ok\n");
	assert_string_equal(reply_of(cl), "ok\n");
	close(cl);
	cl = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(cl, (struct sockaddr *)&f->sun,
	    sizeof(f->sun)), 0);
	assert_int_equal(send(cl, "status\0x\n", 9, 0), 9);	/* a NUL */
	round_at(f, now);
	assert_false(control_next(&f->ctl, &req));
	assert_string_equal(reply_of(cl), "error unknown: unknown command "
	    "\"status\"\n");
	close(cl);
	cl = client(f, "status");	/* EOF before the newline */
	shutdown(cl, SHUT_WR);
	round_at(f, now);
	assert_false(control_next(&f->ctl, &req));
	assert_string_equal(reply_of(cl), "error bad-request: expected one "
	    "request line\n");
	close(cl);
	assert_int_equal(open_conns(f), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dribble, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_reader, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refusals_limited, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_line_rules, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
