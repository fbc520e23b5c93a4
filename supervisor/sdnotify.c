/*
 * sd_notify(3) by hand: one datagram to $NOTIFY_SOCKET, a path or, with a
 * leading '@', an abstract socket. Only the supervisor talks to systemd
 * (a child sending notifications confuses Type=notify), so init removes
 * the variables from the environment the workers inherit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "supervisor/sup.h"

static int64_t
watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	char *end;
	long long v;

	if (usec == NULL)
		return 0;
	/* WATCHDOG_PID names the process systemd watches: only if it is us */
	if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	errno = 0;
	v = strtoll(usec, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		return 0;
	return v;
}

static int
notify_address(struct sdnotify *n, const char *path)
{
	size_t len = strlen(path);

	if ((path[0] != '/' && path[0] != '@') || len < 2 ||
	    len >= sizeof(n->addr.sun_path))
		return -1;
	memset(&n->addr, 0, sizeof(n->addr));
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, path, len);
	if (path[0] == '@')
		n->addr.sun_path[0] = '\0';
	n->addrlen = offsetof(struct sockaddr_un, sun_path) + len +
	    (path[0] == '/');
	return 0;
}

int
sdnotify_init(struct sdnotify *n)
{
	const char *path = getenv("NOTIFY_SOCKET");
	int rc = 0;

	n->fd = -1;
	n->watchdog_us = 0;
	if (path != NULL && notify_address(n, path) == 0) {
		n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (n->fd == -1)
			rc = -1;
		else
			n->watchdog_us = watchdog_usec();
	}
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return rc;
}

int
sdnotify_send(struct sdnotify *n, const char *state)
{
	if (n->fd == -1)
		return 0;
	if (sendto(n->fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&n->addr, n->addrlen) == -1)
		return -1;
	return 0;
}

void
sdnotify_close(struct sdnotify *n)
{
	if (n->fd != -1)
		close(n->fd);
	n->fd = -1;
}

/* One line for `systemctl status`: what pg_hba.conf says, or why not. */
int
sdnotify_status(struct sdnotify *n, bool paused, const Harepd__HbaApplied *h,
    bool ready)
{
	char line[160];

	if (n->fd == -1)
		return 0;
	if (paused)
		snprintf(line, sizeof(line), "STATUS=client paused (stop-client): "
		    "pg_hba.conf left as it is");
	else if (h != NULL)
		snprintf(line, sizeof(line), "STATUS=pg_hba.conf: rw %s, ro %s%s",
		    h->rw_allow ? "allow" : "deny", h->ro_allow ? "allow" : "deny",
		    h->fenced ? " (fenced: no fresh verdict)" : "");
	else
		snprintf(line, sizeof(line), "STATUS=%s",
		    ready ? "all workers ready" : "starting workers");
	return sdnotify_send(n, line);
}
