/*
 * What every worker (rpc, probe, hba) shares: the channel to the
 * supervisor on IPC_FD, logging through it, and the start-up handshake
 * of docs/IPC.md:
 *
 *	worker_init("probe");
 *	conf = worker_wait_config(WORKER_CONFIG_TIMEOUT_MS, &push);
 *	... set up ...
 *	worker_send_hello("probe");
 *	loop: poll worker_fd() for POLLIN (and POLLOUT while
 *	    worker_pending()), worker_recv() until IPC_AGAIN, worker_flush().
 *	worker_exit(0);
 *
 * Every function is thread-safe (the rpc worker logs and sends from gRPC
 * threads); none blocks except worker_wait_config and the bounded flush
 * in worker_exit. Never call them from a signal handler.
 */
#ifndef HAREPD_WORKER_H
#define HAREPD_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"
#include "ipc/ipc.h"

/* How long a worker waits for its ConfigPush after start. */
#define WORKER_CONFIG_TIMEOUT_MS	10000
/* How long worker_exit (and exit() via atexit) waits to flush the queue. */
#define WORKER_EXIT_FLUSH_MS		1000

/*
 * Takes over IPC_FD: checks it is a SOCK_SEQPACKET socket (else fatalx:
 * a worker is only ever started by the supervisor), sets O_NONBLOCK and
 * FD_CLOEXEC, asks for SIGTERM when the supervisor dies (and exits at
 * once if it already has), ignores SIGPIPE, installs the log sink that
 * sends each line as a Log envelope (dropped, and counted, when the
 * queue is full; written to stderr when the supervisor is gone) and an
 * atexit flush so fatal()'s last words reach the supervisor.
 * role becomes the log's "proc" field and must outlive the process.
 */
void	 worker_init(const char *role);
/* Same on any descriptor: the tests' seam. */
void	 worker_init_fd(const char *role, int fd);

/* ipc_send under the lock; flushes the queue first. 0 or -1 with errno. */
int	 worker_send(const ipc_envelope *);
/* ipc_flush under the lock: 0 queue empty, 1 some remain, -1 errno. */
int	 worker_flush(void);
bool	 worker_pending(void);
/* The channel's descriptor, for poll(). */
int	 worker_fd(void);
/* ipc_recv (see ipc.h): IPC_OK sets *out, free it with ipc_free. */
enum ipc_rc worker_recv(ipc_envelope **out, char *err, size_t errlen);

/*
 * Blocks (poll) until the supervisor's ConfigPush arrives and returns
 * the loaded configuration (free with conf_free). Other bodies before it
 * are logged and dropped; Control SHUTDOWN exits 0. A config that does
 * not load, a timeout (timeout_ms < 0: none), end of channel or a bad
 * message are fatal (fatalx). When push_out is not NULL it gets the
 * ConfigPush itself (the rpc worker takes the TLS PEM bytes from it);
 * free it with worker_config_push_free.
 */
struct conf *worker_wait_config(int timeout_ms, Harepd__ConfigPush **push_out);
/* Loads a ConfigPush (also for a reload); NULL after logging each error. */
struct conf *worker_conf_from_push(const Harepd__ConfigPush *);
void	 worker_config_push_free(Harepd__ConfigPush *);

/* Hello{role, getpid()}: "ready" for the supervisor. 0 or -1 with errno. */
int	 worker_send_hello(const char *role);

/* Flushes the queue for at most WORKER_EXIT_FLUSH_MS, then exit(status). */
void	 worker_exit(int status) __attribute__((noreturn));

/* Log lines dropped because the queue was full (for tests and status). */
unsigned long worker_log_dropped(void);

#endif
