/*
 * Entry points of harepd's processes. One binary: the supervisor re-execs
 * itself with --role <name> for each worker (bgpd style), so every worker
 * starts from a fresh image and gRPC is only ever initialised in a worker.
 */
#ifndef HAREPD_H
#define HAREPD_H

#include "conf/conf.h"

enum harepd_mode {
	MODE_DUAL = 0,		/* rpc + probe + hba */
	MODE_SERVER_ONLY,	/* rpc + probe (view only) */
	MODE_CLIENT_ONLY,	/* probe + hba */
};

/* supervisor/supervisor.c: runs until SIGTERM; returns the exit status. */
int	supervisor_main(const char *conf_path, struct conf *, enum harepd_mode,
	    int verbose);


#endif
