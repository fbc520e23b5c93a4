/*
 * The supervisor's pieces, for its own files and their unit tests; the
 * entry point for harepd.c is in supervisor.h. Layers, each calling only
 * the ones below it (the state, struct sup, is private to supervisor.c):
 *
 *	supervisor.c	the loop, the state, restarts, stop, pause, reload,
 *			control commands
 *	route.c		a worker's messages: checked, kept, passed on
 *	proc.c		the role table's columns, fork/exec, kill, reap,
 *			restart policy, hung workers
 *	config.c	config bytes, validation, ConfigPush
 *	control.c	control socket: requests, permissions, replies
 *	status.c	status text and JSON printers
 *	check.c		harepdctl check: the status judged (Nagios levels)
 *	privdrop.c	what a child does between fork and exec
 *	logfile.c	JSON lines to stderr and logs.filePath with rotation
 *	sdnotify.c	READY=1 / WATCHDOG=1 to systemd
 */
#ifndef HAREPD_SUP_H
#define HAREPD_SUP_H

#include <stdbool.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "conf/conf.h"
#include "harepd.h"
#include "ipc/ipc.h"
#include "ipc/log.h"
#include "supervisor/metrics.h"
#include "util/backoff.h"

/* How long a worker has to exit after Control SHUTDOWN before SIGKILL. */
#define STOP_WAIT_MS		3000
/* A worker that has not said Hello by then is hung: killed, restarted. */
#define HELLO_TIMEOUT_MS	30000
/* A heartbeat silent this long at least (see proc_silence_ms) is hung. */
#define SILENCE_MIN_MS		10000

/* ---- proc.c: the role table's columns ---- */

bool	 role_runs_in(const struct role *, enum harepd_mode);
/* Runs in mode and, if the role says so, with this config. */
bool	 role_wanted(const struct role *, enum harepd_mode,
	    const struct conf *);
bool	 role_may_send(const struct role *, Harepd__Envelope__BodyCase);
bool	 role_accepts(const struct role *, Harepd__Envelope__BodyCase);
/* The user column resolved against the conf. */
const char *role_user(const struct role *, const struct conf *);
const char *mode_name(enum harepd_mode);

/* ---- proc.c: the workers ---- */

enum wstate {
	W_OFF = 0,	/* not part of this mode, or stopped for good */
	W_STARTING,	/* forked, no Hello yet */
	W_READY,	/* said Hello */
	W_BACKOFF,	/* exited, waiting to restart */
	W_STOPPING,	/* Control SHUTDOWN sent */
};

struct worker {
	const struct role *role;
	bool		 enabled;	/* part of this harepd: role_wanted() of
					 * the mode and the config at start */
	enum wstate	 state;
	pid_t		 pid;
	struct ipc_chan	 chan;
	int64_t		 started_mono;
	int64_t		 restart_at;	/* W_BACKOFF: monotonic ms */
	int64_t		 kill_at;	/* SIGKILL due (stopping, or channel closed), 0: none */
	int64_t		 last_progress;	/* Hello, or the last heartbeat */
	unsigned	 restarts;
	struct backoff	 backoff;
	int64_t		 window_start;	/* restart window: monotonic ms */
	unsigned	 window_exits;	/* exits since window_start */
	char		 last_exit[128];
	struct log_limit log_limit;	/* its Log messages (route.c) */
};

/* What the exec'd child gets besides its role. */
struct proc_exec {
	int		 exe_fd;	/* O_PATH of our own binary */
	int		 verbose;
	const char	*user;
};

void	 proc_init(struct worker *, const struct role *);
/* fork + privilege drop + exec; on failure the worker is in backoff. */
int	 proc_start(struct worker *, const struct proc_exec *);
/* SIGKILL and close its channel: nothing more it says counts. */
void	 proc_kill(struct worker *, const char *why);
/* One exited child, without waiting: true with pid and wait status. */
bool	 proc_reap(pid_t *, int *wstatus);
struct worker *proc_by_pid(struct worker *, size_t, pid_t);
/* Reaped: pid cleared, last_exit says how it ended; true for a crash. */
bool	 proc_exited(struct worker *, int wstatus);
/* Backoff, restart window and the log line; after proc_exited. */
void	 proc_schedule_restart(struct worker *, pid_t, bool crash, int64_t up,
	    int64_t now);
bool	 proc_restart_due(const struct worker *, int64_t now);
/* Kills due, workers without Hello, a silent heartbeat; now is
 * clock_mono_ms(). Nothing is judged hung while stopping. */
void	 proc_check(struct worker *, int64_t now, int64_t silence_ms,
	    bool stopping);
/* How long a heartbeat may be silent before its worker counts as hung. */
int64_t	 proc_silence_ms(const struct conf *);
const char *wstate_name(enum wstate);

/* ---- privdrop.c ---- */

#define PRIVDROP_ENV_MAX 12

struct privdrop {
	bool	 drop;		/* false when harepd itself is not root */
	uid_t	 uid;
	gid_t	 gid;
	pid_t	 parent;	/* for the PDEATHSIG race check */
	char	 user[64];	/* the worker's user name and home, for its */
	char	 home[256];	/* environment */
	char	*env[PRIVDROP_ENV_MAX + 1];	/* what the worker execs with */
	char	 envbuf[2048];
};

/*
 * The worker's environment, built from nothing (docs/HARDENING.md): a
 * fixed PATH, the worker user's HOME, USER and LOGNAME, and from `from`
 * only TZ and the sanitizers' options. No PG* variable: libpq would take
 * PGHOST, PGSERVICE, PGSSLMODE... over what the config leaves unsaid.
 */
void	 privdrop_env(struct privdrop *, char *const *from);

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

/* A log file is rotated at this size; rotated ones together keep at most
 * LOGFILE_KEEP_BYTES (the oldest go first, whatever maxAge says). */
#define LOGFILE_MAX_BYTES	(64LL * 1024 * 1024)
#define LOGFILE_KEEP_BYTES	(8 * LOGFILE_MAX_BYTES)

struct logfile {
	char	*path;
	FILE	*fp;
	long	 rotation_s;	/* 0: never rotate */
	long	 max_age_s;	/* 0: keep rotated files forever (within
				 * keep_bytes) */
	time_t	 period;	/* start of the period fp belongs to */
	long long size;		/* of fp's file */
	long long max_bytes;	/* rotate at this size; 0: never */
	long long keep_bytes;	/* of all rotated files; 0: no cap */
	char	 why[320];	/* what was wrong with the path, for the log */
};

int	 logfile_open(struct logfile *, const char *path, long rotation_s,
	    long max_age_s, time_t now);
void	 logfile_close(struct logfile *);
/*
 * Open path again, for logrotate's rename-then-reopen: a file renamed
 * away is left to its new owner and a new one is created. On failure the
 * old file stays in use and why says what went wrong.
 */
int	 logfile_reopen(struct logfile *);
/* Rotates first when now is in a later period than the open file. */
void	 logfile_write(struct logfile *, time_t now, enum log_level,
	    const char *msg, const struct log_field *, size_t);
/* Start of the period that contains t (aligned on the Unix epoch). */
time_t	 logfile_period(long rotation_s, time_t t);
/* path.YYYYmmddHHMM (local time of period start). */
void	 logfile_rotated_name(char *, size_t, const char *path, time_t period);
/* Renames the current file to its rotated name and opens a fresh one. */
int	 logfile_rotate(struct logfile *, time_t now);
/* Renames a full file to path.<this minute> and opens a fresh one. */
int	 logfile_rotate_full(struct logfile *, time_t now);
/* Deletes path.YYYYmmddHHMM files last modified more than max_age ago,
 * then the oldest while they together exceed keep_bytes. */
int	 logfile_prune(const struct logfile *, time_t now);
/*
 * The supervisor's log_sink_fn: one JSON line to stderr, and to the file
 * when arg (a struct logfile) has one open.
 */
void	 logfile_sink(enum log_level, const char *msg, const struct log_field *,
	    size_t, void *arg);

/* ---- route.c: what the workers say (docs/IPC.md) ---- */

struct route {
	struct worker	*workers;	/* ROLE_COUNT of them */
	struct logfile	*log;		/* where worker Logs go besides stderr */
	enum harepd_mode mode;
	int		 verbose;
	bool		 paused;	/* stop-client: verdicts are dropped */
	ipc_envelope	*last_view;	/* the latest of each, for status */
	ipc_envelope	*last_verdict;
	ipc_envelope	*last_hba;
	ipc_envelope	*last_gate;	/* the probe's last GateDeclared */
	ipc_envelope	*last_served;	/* the rpc worker's last GateServed */
	int64_t		 hba_changed_ms; /* CLOCK_REALTIME of the last file change */
	struct metrics	 metrics;	/* counters and histograms (metrics_init) */
};

/* What the supervisor has to act on after route_read or route_drain. */
#define ROUTE_HELLO	0x01	/* a worker became ready */
#define ROUTE_HBA	0x02	/* a new HbaApplied */
#define ROUTE_VERDICT	0x04	/* a new verdict, kept as last_verdict */

/* Reads what a worker sent, routes it, kills the worker on abuse. */
unsigned route_read(struct route *, struct worker *);
/* Once a second or so: say how many of w's Log lines were left out. */
void	 route_log_tick(struct route *, struct worker *, int64_t now_ms);
/* The last words of a worker that has exited (fatal()'s message). */
unsigned route_drain(struct route *, struct worker *);
/* Sends a body the worker's role accepts; -1 otherwise or on error. */
int	 route_send(struct worker *, const ipc_envelope *);
int	 route_send_control(struct worker *, Harepd__Control__Command);
/* A new worker's second message (hba: the verdict in force); -1 on error. */
int	 route_initial_verdict(struct route *, struct worker *);
/* How long the lease of an allow on disk has left; INT64_MAX: none. */
int64_t	 route_allow_lease_left(const struct route *, int lease_ms,
	    int64_t now_boot);
/* Reload: the new config to every worker with an open channel. */
/*
 * The config as role r gets it: a shallow copy of `all` (nothing to free)
 * without the TLS PEMs unless the role speaks gRPC (harepd.c, tls_pems):
 * the hba worker never holds the private key.
 */
void	 route_config_for(const struct role *r, const Harepd__ConfigPush *all,
	    Harepd__ConfigPush *out);
int	 route_send_config(struct worker *, const Harepd__ConfigPush *all);
/* The metrics page, in MetricsText parts of at most IPC_METRICS_PART. */
int	 route_send_metrics(struct worker *, const char *text, size_t len);
void	 route_push_config(struct route *, Harepd__ConfigPush *);
void	 route_free(struct route *);

/* ---- verdict_record.c: the last verdict across a daemon restart ---- */

#define VERDICT_RECORD_NAME	"last-verdict"

/* Atomically (rename); -1 on any failure, errno set. */
int	 verdict_record_save(const char *path, const Harepd__Verdict *);
/*
 * The verdict to hand the first hba worker: the record's (found), else
 * one that has already expired, so the allow on disk is fenced until the
 * probe decides; why says what was wrong with the record. NULL: no memory.
 */
ipc_envelope *verdict_record_load(const char *path, bool *found, char *why,
	    size_t whylen);

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
/* STATUS=: paused, else what pg_hba.conf says (h), else ready or not. */
int	 sdnotify_status(struct sdnotify *, bool paused,
	    const Harepd__HbaApplied *h, bool ready);

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
	bool		 crash_loop;	/* the role's burst of exits within
					 * its window (harepd.h), window open */
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
/* Everything but config and started_ms, which only the caller knows. */
void	 status_fill(struct status *, const struct route *,
	    const struct worker *, enum harepd_mode, const struct conf *);

/* ---- check.c: `harepdctl check` ---- */

/* The Nagios plugin levels, in their exit-status order. */
enum check_level {
	CHECK_OK = 0,
	CHECK_WARNING = 1,
	CHECK_CRITICAL = 2,
	CHECK_UNKNOWN = 3,
};
const char *check_level_name(enum check_level);
/* "HAREPD <LEVEL> - <what>\n" into line; now: boot clock and watchDog. */
enum check_level check_judge(const struct status *,
	    const struct metrics_now *, char *line, size_t size);

/* ---- control.c ---- */

enum ctl_cmd {
	CTL_BAD = 0,
	CTL_STATUS,
	CTL_STATUS_JSON,
	CTL_STOP_CLIENT,
	CTL_START_CLIENT,
	CTL_RELOAD,
	CTL_STOP,
	CTL_METRICS,
	CTL_REOPEN_LOGS,
	CTL_CHECK,
};

#define CTL_MAX_REQUEST	256	/* the request line, its newline included */
#define CTL_MAX_CONN	16	/* connections open at once */
#define CTL_NPOLL	(1 + CTL_MAX_CONN)	/* the listener, then each */
#define CTL_REQUEST_MS	200	/* from accept to the whole request line */
#define CTL_REPLY_MS	2000	/* from the request to the reply's last byte */
#define CTL_MAX_REPLY	(256 * 1024)
#define CTL_LOG_BURST	5	/* refusals logged per window, then counted */
#define CTL_LOG_WINDOW_MS 10000

enum ctl_state {
	CTL_FREE = 0,
	CTL_READING,	/* waiting for the request line */
	CTL_READY,	/* a permitted request, for control_next */
	CTL_SERVING,	/* handed to the supervisor, no reply yet */
	CTL_WRITING,	/* the reply is going out */
};

struct ctl_conn {
	enum ctl_state	 state;
	int		 fd;		/* -1: free */
	uid_t		 uid;		/* from SO_PEERCRED */
	enum ctl_cmd	 cmd;
	int64_t		 deadline;	/* monotonic ms: reading, writing */
	char		 in[CTL_MAX_REQUEST];
	size_t		 in_len;
	char		*out;		/* the reply, while writing */
	size_t		 out_len;
	size_t		 out_off;
};

struct ctl_ratelimit {
	int64_t		 window_start;	/* monotonic ms */
	unsigned	 logged;
	unsigned	 suppressed;
};

/* The listening socket and every open connection, non-blocking. */
struct control {
	int		 listen_fd;
	struct ctl_conn	 conn[CTL_MAX_CONN];
	struct ctl_ratelimit refusals;
};

struct ctl_request {
	int		 slot;		/* the connection, to reply on */
	enum ctl_cmd	 cmd;
	uid_t		 uid;		/* the caller's, from SO_PEERCRED */
};

enum ctl_cmd ctl_parse(const char *line);
/* Status and metrics are open to everyone; changes need root or
 * postgresUser. */
bool	 ctl_read_only(enum ctl_cmd);
bool	 ctl_permitted(enum ctl_cmd, uid_t caller, uid_t pg_uid);
const char *ctl_cmd_name(enum ctl_cmd);
/* Creates the directory (0755), refuses a live socket, binds 0666. */
int	 control_listen(const char *path, char *why, size_t whylen);
void	 control_init(struct control *, int listen_fd);
/* Closes every connection (not the listener). */
void	 control_close(struct control *);
/* The listener, then one entry per connection slot (fd -1 when idle). */
void	 control_pollfds(const struct control *, struct pollfd[CTL_NPOLL]);
/* The earliest connection deadline (monotonic ms), INT64_MAX: none. */
int64_t	 control_deadline(const struct control *);
/*
 * After poll: accepts, reads, writes, closes what is past its deadline.
 * Never blocks. Unreadable, unknown and forbidden requests are answered
 * and closed here (logged at a limited rate); pg_user is who may change
 * things besides root. now is clock_mono_ms().
 */
void	 control_events(struct control *, const struct pollfd[CTL_NPOLL],
	    const char *pg_user, int64_t now);
/* The next permitted request: true with req filled; it needs a reply. */
bool	 control_next(struct control *, struct ctl_request *);
/* The whole reply, sent without blocking; the connection closes after. */
void	 control_reply(struct control *, const struct ctl_request *,
	    const char *text);
void	 control_reply_status(struct control *, const struct ctl_request *,
	    const struct status *);
/* Before the reply: a second descriptor of the connection, which then
 * stays open until that is closed (stop: until harepd exits). */
int	 control_hold(struct control *, const struct ctl_request *);

/* ---- config.c ---- */

/* Reads, validates and packs the config file: conf and push, or -1. */
int	 config_load(const char *path, enum harepd_mode, struct conf **,
	    Harepd__ConfigPush *, char *why, size_t whylen);
/* Every user of a role that runs in mode must exist. */
int	 config_check_users(const struct role *, size_t, enum harepd_mode,
	    const struct conf *, char *why, size_t whylen);
void	 config_push_free(Harepd__ConfigPush *);
/* Reload: warns about what a push cannot change. */
void	 config_log_restart_needed(const struct conf *old, const struct conf *);
bool	 config_log_changed(const struct conf *old, const struct conf *);

#endif
