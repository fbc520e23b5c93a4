/*
 * The smallest worker: what rpc, probe and hba do with ipc/worker.h,
 * without their work. tests/unit/test_ipc_worker.c execs it with the
 * channel on fd 3, exactly as the supervisor starts a worker.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "conf/conf.h"
#include "ipc/log.h"
#include "ipc/worker.h"

/* 0 to go on, 1 on SHUTDOWN or end of channel. */
static int
dispatch(void)
{
	ipc_envelope *env;
	char err[256];
	enum ipc_rc rc;

	while ((rc = worker_recv(&env, err, sizeof(err))) == IPC_OK) {
		if (env->body_case == HAREPD__ENVELOPE__BODY_CONTROL &&
		    env->control->command == HAREPD__CONTROL__COMMAND__SHUTDOWN) {
			ipc_free(env);
			return 1;
		}
		log_info("stub got %s", ipc_body_name(env->body_case));
		ipc_free(env);
	}
	if (rc == IPC_AGAIN)
		return 0;
	if (rc == IPC_EOF)
		return 1;
	fatalx("stub: %s: %s", ipc_rc_str(rc), err);
}

int
main(void)
{
	Harepd__ConfigPush *push;
	struct pollfd pfd;
	struct conf *c;

	worker_init("stub");
	c = worker_wait_config(WORKER_CONFIG_TIMEOUT_MS, &push);
	log_info("stub configured: node %s, %zu bytes of CA", c->node_name,
	    push->tls_ca.len);
	worker_config_push_free(push);
	if (worker_send_hello("stub") == -1)
		fatal("hello");
	pfd.fd = worker_fd();
	while (dispatch() == 0) {
		pfd.events = POLLIN | (worker_pending() ? POLLOUT : 0);
		if (poll(&pfd, 1, -1) == -1)
			fatal("poll");
		if (pfd.revents & POLLOUT)
			worker_flush();
	}
	conf_free(c);
	worker_exit(0);
}
