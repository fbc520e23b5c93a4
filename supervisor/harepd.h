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

/* Worker mains: the IPC socket is on IPC_FD; the config arrives over it. */
int	rpc_worker_main(void);		/* worker-rpc/ */
int	probe_worker_main(void);	/* worker-probe/ */
int	hba_worker_main(void);		/* worker-hba/ */

/*
 * `harepd -f CONF --print-hba rw=allow|deny[,ro=allow|deny]`: print the
 * pg_hba.conf harepd would write, touching nothing. worker-hba/.
 */
int	hba_print_main(const struct conf *, const char *verdict_spec);

#endif
