#include <errno.h>
#include <poll.h>

#include "util/clock.h"
#include "util/pq_deadline.h"

/* Poll the connection's socket: 1 ready, 0 deadline passed, -1 error. */
static int
wait_socket(PGconn *conn, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = PQsocket(conn), .events = events };
	int64_t left;
	int rc;

	if (pfd.fd < 0)
		return -1;
	for (;;) {
		if ((left = deadline - clock_mono_ms()) <= 0)
			return 0;
		if ((rc = poll(&pfd, 1, (int)left)) >= 0)
			return rc;
		if (errno != EINTR)
			return -1;
	}
}

PGresult *
pq_exec_deadline(PGconn *conn, const char *sql, int nparams,
    const char *const *params, int64_t deadline, bool *timedout)
{
	PGresult *r, *last = NULL;
	int rc, w = -1;

	*timedout = false;
	if (!PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0))
		return NULL;
	while ((rc = PQflush(conn)) == 1) {
		if ((w = wait_socket(conn, POLLOUT | POLLIN, deadline)) <= 0)
			goto fail;
		if (!PQconsumeInput(conn))	/* the server may be talking */
			return NULL;
	}
	if (rc == -1)
		return NULL;
	while (PQisBusy(conn)) {
		if ((w = wait_socket(conn, POLLIN, deadline)) <= 0)
			goto fail;
		if (!PQconsumeInput(conn))
			break;
	}
	/* the last result is the one that matters; free the rest */
	while ((r = PQgetResult(conn)) != NULL) {
		PQclear(last);
		last = r;
	}
	return last;
fail:
	*timedout = w == 0;
	return NULL;
}
