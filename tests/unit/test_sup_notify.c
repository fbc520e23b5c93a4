/*
 * sd_notify by hand: datagrams reach a path socket and an abstract one,
 * WATCHDOG_USEC counts only for our own pid, and the variables are gone
 * from the environment afterwards (workers must never notify systemd).
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

/* A receiving socket; path "@x" is abstract. */
static int
listener(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sun.sun_path, path, strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	else
		len++;
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	return fd;
}

static void
expect_datagram(int fd, const char *want)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void
check_socket(const char *path)
{
	struct sdnotify n;
	char pid[16];
	int fd = listener(path);

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "200000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(sdnotify_init(&n), 0);
	assert_true(n.fd >= 0);
	assert_int_equal(n.watchdog_us, 200000);
	assert_null(getenv("NOTIFY_SOCKET"));
	assert_null(getenv("WATCHDOG_USEC"));
	assert_null(getenv("WATCHDOG_PID"));
	assert_int_equal(sdnotify_send(&n, "READY=1"), 0);
	expect_datagram(fd, "READY=1");
	assert_int_equal(sdnotify_send(&n, "WATCHDOG=1"), 0);
	expect_datagram(fd, "WATCHDOG=1");
	sdnotify_close(&n);
	close(fd);
	if (path[0] == '/')
		unlink(path);
}

static void
test_path_socket(void **state)
{
	char path[64];

	snprintf(path, sizeof(path), "/tmp/test_sup_notify.%d", (int)getpid());
	check_socket(path);
}

static void
test_abstract_socket(void **state)
{
	char path[64];

	snprintf(path, sizeof(path), "@test_sup_notify.%d", (int)getpid());
	check_socket(path);
}

static void
test_watchdog_for_other_pid(void **state)
{
	struct sdnotify n;

	setenv("NOTIFY_SOCKET", "@whatever", 1);
	setenv("WATCHDOG_USEC", "200000", 1);
	setenv("WATCHDOG_PID", "1", 1);
	assert_int_equal(sdnotify_init(&n), 0);
	assert_int_equal(n.watchdog_us, 0);
	sdnotify_close(&n);
}

static void
test_not_under_systemd(void **state)
{
	struct sdnotify n;

	unsetenv("NOTIFY_SOCKET");
	setenv("WATCHDOG_USEC", "200000", 1);
	assert_int_equal(sdnotify_init(&n), 0);
	assert_int_equal(n.fd, -1);
	assert_int_equal(n.watchdog_us, 0);
	assert_int_equal(sdnotify_send(&n, "READY=1"), 0);	/* a no-op */
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(sdnotify_init(&n), 0);
	assert_int_equal(n.fd, -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_socket),
		cmocka_unit_test(test_abstract_socket),
		cmocka_unit_test(test_watchdog_for_other_pid),
		cmocka_unit_test(test_not_under_systemd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
