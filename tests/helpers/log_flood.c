/*
 * Test helper (tests/integration/60-sup-logs.t): speaks as a running
 * worker to the real supervisor. It takes a copy of the worker's channel
 * (fd 3) with pidfd_getfd(2), which needs root, and sends `count` Log
 * messages of `level` as fast as the socket takes them, then one error
 * line "canary <tag>": the rate limit may drop the flood but never that.
 *
 *	log_flood <worker pid> <count> debug|info|warning|error <tag>
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "ipc/ipc.h"
#include "util/unconst.h"

static int
steal_channel(pid_t pid)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int fd;

	if (pfd == -1)
		return -1;
	fd = (int)syscall(SYS_pidfd_getfd, pfd, 3, 0);
	close(pfd);
	return fd;
}

static int
send_log(struct ipc_chan *ch, Harepd__Log__Level lvl, const char *msg)
{
	ipc_envelope env;
	Harepd__Log lg;

	harepd__envelope__init(&env);
	harepd__log__init(&lg);
	lg.level = lvl;
	lg.msg = unconst_str(msg);
	env.body_case = HAREPD__ENVELOPE__BODY_LOG;
	env.log = &lg;
	while (ipc_send(ch, &env) == -1) {
		struct pollfd p = { .fd = ch->fd, .events = POLLOUT };

		if (errno != ENOBUFS)
			return -1;
		(void)poll(&p, 1, 100);
		(void)ipc_flush(ch);
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	static const char *const names[] = { "debug", "info", "warning",
	    "error" };
	struct ipc_chan ch;
	char msg[128];
	long count;
	int lvl = -1, fd;

	if (argc != 5)
		return 64;
	count = atol(argv[2]);
	for (int i = 0; i < 4; i++)
		if (strcmp(argv[3], names[i]) == 0)
			lvl = i;
	if (lvl < 0 || (fd = steal_channel(atoi(argv[1]))) == -1) {
		perror("log_flood");
		return 1;
	}
	ipc_chan_init(&ch, fd);
	for (long i = 0; i < count; i++) {
		snprintf(msg, sizeof(msg), "flood %s %ld", argv[4], i);
		if (send_log(&ch, (Harepd__Log__Level)lvl, msg) == -1)
			return 1;
	}
	snprintf(msg, sizeof(msg), "canary %s", argv[4]);
	if (send_log(&ch, HAREPD__LOG__LEVEL__ERROR, msg) == -1 ||
	    ipc_flush_wait(&ch, 5000) != 0)
		return 1;
	return 0;
}
