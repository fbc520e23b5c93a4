/*
 * What every worker (rpc, probe, hba) shares: the channel to the
 * supervisor on IPC_FD, logging through it, and the start-up handshake
 * of docs/IPC.md:
 *
 *	worker_init("probe");
 *	conf = worker_wait_config(WORKER_CONFIG_TIMEOUT_MS, &push);
 *	... set up ...
 *	worker_send_hello("probe");
 *	worker_run(&ops);	(until SHUTDOWN or the channel ends)
 *	... tear down ...
 *	worker_exit(0);
 *
 * Every function is thread-safe (the rpc worker logs and sends from gRPC
 * threads); none blocks except worker_wait_config and the bounded flush
 * in worker_exit. Never call them from a signal handler.
 */
#ifndef HAREPD_WORKER_H
#define HAREPD_WORKER_H

#include <poll.h>
#include <signal.h>
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

/*
 * The one worker loop. It polls the channel (POLLIN, and POLLOUT while
 * sends are queued), flushes, reads every envelope there is and hands
 * each to the worker's handler for its body; then it calls on_timer.
 * The same rules hold in every worker:
 *
 * - Control SHUTDOWN: logged ("shutdown requested"), and the loop
 *   ends: the rest of what was read is dropped, no handler or timer
 *   runs again, and worker_run returns so the worker tears down and
 *   calls worker_exit(0). No handler exits by itself.
 * - End of the channel (the supervisor is gone) or an error reading it:
 *   logged, and the loop ends as on SHUTDOWN.
 * - A datagram that does not decode (truncated, oversized, malformed):
 *   logged as an error and dropped; the loop goes on. The supervisor
 *   never sends one, so it means a bug or corruption there. Going on is
 *   the safe side for every worker: SOCK_SEQPACKET keeps message
 *   boundaries, so the next message is whole, and losing one is already
 *   covered everywhere (a lost verdict is a verdict that did not come:
 *   the hba lease fences; a lost view ages out in the rpc worker; a lost
 *   reload or PAUSE is one the operator repeats). Exiting instead would
 *   restart the worker, which costs the probe its majority hold-down
 *   (writes denied on a healthy primary) and the rpc worker its answers.
 *   Before the configuration (worker_wait_config) a bad message is still
 *   fatal: there is no state to keep yet.
 * - A body the worker has no handler for: logged and dropped.
 * - ConfigPush: loaded with worker_conf_from_push; one that does not
 *   load is logged and the running configuration stays. on_config gets
 *   the new conf (its own, to free) and the push (it may take it and
 *   set *push to NULL, e.g. for the TLS PEM bytes).
 *
 * Timers: next_timeout says how many ms the loop may sleep (-1: no
 * limit, 0: wake now); on_timer runs after every wake-up that did not
 * end the loop, and checks itself which of its deadlines are due (the
 * loop does not know the worker's clocks).
 */
struct worker_ops {
	void	*arg;		/* first argument of every callback */
	void	(*on_verdict)(void *, const Harepd__Verdict *);
	void	(*on_view)(void *, const Harepd__LocalView *);
	/* the gate (docs/POLICY.md, "Handover"): rpc and probe */
	void	(*on_gate_declared)(void *, const Harepd__GateDeclared *);
	void	(*on_hba_applied)(void *, const Harepd__HbaApplied *);
	/*
	 * Only updates state, so it is handled at once even while a long
	 * callback reads the channel (worker_check_stop): the probe must
	 * know what was served while it asked its peers.
	 */
	void	(*on_gate_served)(void *, const Harepd__GateServed *);
	/* the metrics worker: a part of the page to serve */
	void	(*on_metrics_text)(void *, const Harepd__MetricsText *);
	/* every command but SHUTDOWN, which is the loop's */
	void	(*on_control)(void *, const Harepd__Control *);
	void	(*on_config)(void *, struct conf *, Harepd__ConfigPush **);
	int	(*next_timeout)(void *);
	void	(*on_timer)(void *);
	/*
	 * Descriptors of the worker's own to wait on with the channel (the
	 * metrics worker's listener and HTTP connections): poll_fds fills
	 * at most max of them (fd -1: skip) and returns how many; after the
	 * wait, on_fds gets them back with revents, before on_timer. Both
	 * run in the loop's thread, never during worker_check_stop.
	 */
	size_t	(*poll_fds)(void *, struct pollfd *, size_t max);
	void	(*on_fds)(void *, const struct pollfd *, size_t n);
	/*
	 * Not NULL: signals are let through only while the loop waits
	 * (ppoll with this mask), so a handler's flag is seen at once.
	 */
	const sigset_t *sigmask;
};

void	 worker_run(const struct worker_ops *);
/* Ends worker_run after the current callback (a signal, a fatal state). */
void	 worker_stop(void);
bool	 worker_stopping(void);
/*
 * For a callback that waits long (the probe's peer calls): reads what
 * the supervisor sent meanwhile without handling it. SHUTDOWN (and the
 * end of the channel) stop the loop at once; anything else is kept and
 * handled, in order, when the callback has returned. True when stopping.
 */
bool	 worker_check_stop(void);

#endif
