/*
 * The supervisor's own pieces (ARCHITECTURE §2, §3, §7). harepd.h has the
 * process entry points; this header is only for the supervisor files and their
 * unit tests.
 *
 *	proc.c		role table, backoff, fork/exec of a worker, reaping
 *	privdrop.c	what a child does between fork and exec
 *	supervisor.c	event loop, message routing, restarts, shutdown
 *	config.c	config bytes, validation, ConfigPush, reload
 *	control.c	control socket: requests, permissions, replies
 *	status.c	status text and JSON printers
 *	logfile.c	JSON lines to logs.filePath with rotation
 *	sdnotify.c	READY=1 / WATCHDOG=1 to systemd
 */
#ifndef HAREPD_SUP_H
#define HAREPD_SUP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "conf/conf.h"
#include "ipc/ipc.h"
#include "ipc/log.h"
#include "util/backoff.h"
#include "supervisor/harepd.h"

/* Restart policy: 100 ms doubling to 30 s, back to 100 ms after a minute up. */
#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		30000
#define BACKOFF_HEALTHY_MS	60000
/* How long a worker has to exit after Control SHUTDOWN before SIGKILL. */
#define STOP_WAIT_MS		3000
/* A worker that has not said Hello by then is hung: killed, restarted. */
#define HELLO_TIMEOUT_MS	30000
/* A probe silent this long at least (see sup_probe_silence_ms) is hung. */
#define PROBE_SILENCE_MIN_MS	10000

/* ---- proc.c: the role table ---- */

enum role_id { ROLE_RPC = 0, ROLE_PROBE, ROLE_HBA, ROLE_COUNT };

#define BODY_BIT(c)	(1u << (c))
#define MODE_BIT(m)	(1u << (m))

struct role {
	enum role_id	 id;
	const char	*name;
	uint32_t	 may_send;	/* BODY_BIT of each body the role may send */
	uint32_t	 modes;		/* MODE_BIT of each mode it runs in */
};

extern const struct role roles[ROLE_COUNT];
/* SIGTERM order: stop deciding first, stop answering peers last. */
extern const enum role_id stop_order[ROLE_COUNT];

const struct role *role_by_name(const char *);
bool	 role_runs_in(const struct role *, enum harepd_mode);
bool	 role_may_send(const struct role *, Harepd__Envelope__BodyCase);
/* OS user the role runs as: rpc -> rpcUser, probe and hba -> postgresUser. */
const char *role_user(const struct role *, const struct conf *);
const char *mode_name(enum harepd_mode);


/* ---- privdrop.c ---- */

struct privdrop {
	bool	 drop;		/* false when harepd itself is not root */
	uid_t	 uid;
	gid_t	 gid;
	pid_t	 parent;	/* for the PDEATHSIG race check */
};

/* In the supervisor: look up the user. -1 with why filled on error. */
int	 privdrop_prepare(struct privdrop *, const char *user, char *why,
	    size_t whylen);
/*
 * In the child, after fork: groups, gids, uids, every capability set,
 * no_new_privs, parent-death signal, then proof that uid 0 cannot be
 * regained. -1 with why filled on any failure: the child must not exec.
 */
int	 privdrop_apply(const struct privdrop *, char *why, size_t whylen);

/* ---- logfile.c ---- */

struct logfile {
	char	*path;
	FILE	*fp;
	long	 rotation_s;	/* 0: never rotate */
	long	 max_age_s;	/* 0: keep rotated files forever */
	time_t	 period;	/* start of the period fp belongs to */
};

int	 logfile_open(struct logfile *, const char *path, long rotation_s,
	    long max_age_s, time_t now);
void	 logfile_close(struct logfile *);
/* Rotates first when now is in a later period than the open file. */
void	 logfile_write(struct logfile *, time_t now, enum log_level,
	    const char *msg, const struct log_field *, size_t);
/* Start of the period that contains t (aligned on the Unix epoch). */
time_t	 logfile_period(long rotation_s, time_t t);
/* path.YYYYmmddHHMM (local time of period start). */
void	 logfile_rotated_name(char *, size_t, const char *path, time_t period);
/* Renames the current file to its rotated name and opens a fresh one. */
int	 logfile_rotate(struct logfile *, time_t now);
/* Deletes path.YYYYmmddHHMM* files last modified more than max_age ago. */
int	 logfile_prune(const struct logfile *, time_t now);

/* ---- sdnotify.c ---- */

struct sdnotify {
	int			 fd;		/* -1: not under systemd */
	struct sockaddr_un	 addr;
	socklen_t		 addrlen;
	int64_t			 watchdog_us;	/* 0: no watchdog */
};

/* Reads and unsets NOTIFY_SOCKET/WATCHDOG_USEC/WATCHDOG_PID (workers
 * must never talk to systemd). */
int	 sdnotify_init(struct sdnotify *);
int	 sdnotify_send(struct sdnotify *, const char *state);
void	 sdnotify_close(struct sdnotify *);

/* ---- status.c ---- */

struct status_worker {
	const char	*name;
	const char	*user;
	const char	*state;		/* running, starting, backoff, ... */
	pid_t		 pid;		/* 0: not running */
	int64_t		 uptime_ms;
	unsigned	 restarts;
	const char	*last_exit;	/* "" when never exited */
	int64_t		 restart_in_ms;	/* state backoff: time left */
};

struct status {
	pid_t			 pid;
	const char		*mode;
	const char		*config;
	int64_t			 now_ms;	/* CLOCK_REALTIME */
	int64_t			 started_ms;	/* CLOCK_REALTIME */
	bool			 paused;
	bool			 ready;
	const Harepd__LocalView	*view;
	const Harepd__Verdict	*verdict;
	const Harepd__HbaApplied *hba;
	int64_t			 hba_changed_ms; /* last HbaApplied that changed the file, 0: none */
	struct status_worker	 workers[ROLE_COUNT];
	size_t			 n_workers;
};

/* primary, standby, witness or unknown, from this node's own view. */
const char *status_node_role(const Harepd__LocalView *);
void	 status_print_text(FILE *, const struct status *);
void	 status_print_json(FILE *, const struct status *);

/* ---- control.c ---- */

enum ctl_cmd {
	CTL_BAD = 0,
	CTL_STATUS,
	CTL_STATUS_JSON,
	CTL_STOP_CLIENT,
	CTL_START_CLIENT,
	CTL_RELOAD,
	CTL_STOP,
};

#define CTL_MAX_REQUEST	256

enum ctl_cmd ctl_parse(const char *line);
/* Only status is open to everyone; changes need root or postgresUser. */
bool	 ctl_permitted(enum ctl_cmd, uid_t caller, uid_t pg_uid);
const char *ctl_cmd_name(enum ctl_cmd);
/* Creates the directory (0755), refuses a live socket, binds 0666. */
int	 control_listen(const char *path, char *why, size_t whylen);
/* Reads one request line (bounded, with a timeout) and the caller's uid. */
int	 control_read_request(int fd, char *line, size_t len, uid_t *uid);

/* ---- supervisor.c / proc.c: the running supervisor ---- */

enum wstate {
	W_OFF = 0,	/* not part of this mode, or stopped for good */
	W_STARTING,	/* forked, no Hello yet */
	W_READY,	/* said Hello */
	W_BACKOFF,	/* exited, waiting to restart */
	W_STOPPING,	/* Control SHUTDOWN sent */
};

struct worker {
	const struct role *role;
	enum wstate	 state;
	pid_t		 pid;
	struct ipc_chan	 chan;
	int64_t		 started_mono;
	int64_t		 restart_at;	/* W_BACKOFF: monotonic ms */
	int64_t		 kill_at;	/* SIGKILL due (stopping, or channel closed), 0: none */
	int64_t		 last_progress;	/* Hello, or the probe's last LocalView */
	unsigned	 restarts;
	struct backoff	 backoff;
	char		 last_exit[128];
};

struct sup {
	char		*conf_path;
	struct conf	*conf;
	Harepd__ConfigPush push;	/* what every worker gets at start */
	enum harepd_mode mode;
	int		 verbose;
	int		 exe_fd;	/* O_PATH of our own binary */
	bool		 as_root;
	char		*control_path;
	int		 control_fd;
	int		 signal_fd;
	struct logfile	 log;
	bool		 log_open;
	struct sdnotify	 notify;
	int64_t		 next_watchdog;
	struct worker	 workers[ROLE_COUNT];
	bool		 paused;
	bool		 ready_sent;
	bool		 stopping;
	int		 stop_idx;
	bool		 done;
	int		 stop_client_fd;	/* `harepdctl stop` waits on it */
	int64_t		 started_mono;
	int64_t		 started_wall;
	ipc_envelope	*last_view;
	ipc_envelope	*last_verdict;
	ipc_envelope	*last_hba;
	ipc_envelope	*last_gate;	/* the probe's last GateDeclared */
	ipc_envelope	*last_served;	/* the rpc worker's last GateServed */
	int64_t		 hba_changed_ms;	/* CLOCK_REALTIME of the last file change */
};

int64_t	 mono_ms(void);
int64_t	 wall_ms(void);

/* proc.c */
void	 proc_init(struct sup *);
int	 proc_start(struct sup *, struct worker *);
void	 proc_kill(struct worker *, const char *why);
void	 proc_reap(struct sup *);
struct worker *proc_by_pid(struct sup *, pid_t);
const char *wstate_name(enum wstate);

/* config.c */
int	 sup_load_config(struct sup *, struct conf **, Harepd__ConfigPush *,
	    char *why, size_t whylen);
int	 sup_check_users(struct sup *, char *why, size_t whylen);
void	 sup_push_free(Harepd__ConfigPush *);

/* control.c: accepts and serves every pending harepdctl connection */
void	 control_accept(struct sup *);

/* supervisor.c, called by proc.c, config.c, control.c */
int	 sup_log_open(struct sup *, const struct conf *);
void	 sup_worker_gone(struct sup *, struct worker *, int wstatus);
void	 sup_drain(struct sup *, struct worker *);
/* Reads what a worker sent, routes it, restarts the worker on abuse. */
void	 sup_read_worker(struct sup *, struct worker *);
int	 sup_send_control(struct worker *, Harepd__Control__Command);
void	 sup_fill_status(struct sup *, struct status *);
int	 sup_reload(struct sup *, char *why, size_t whylen);
void	 sup_begin_stop(struct sup *, const char *why);
void	 sup_set_paused(struct sup *, bool);
/* Restarts due, kills due, hung workers, WATCHDOG=1; now is mono_ms(). */
void	 sup_run_timers(struct sup *, int64_t now);
int64_t	 sup_probe_silence_ms(const struct conf *);

#endif
