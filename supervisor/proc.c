/*
 * The workers as a table (relayd's proc.c): which role runs in which
 * mode, as which user, and which envelope bodies it may send (OpenSSH's
 * monitor table: anything else gets the worker restarted). Starting a
 * worker is fork, privilege drop, and re-exec of our own binary with
 * --role (bgpd): each worker begins from a fresh image, so nothing of the
 * supervisor's state leaks into it, and gRPC is only ever initialised
 * after the last fork.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "supervisor/sup.h"

#define BODY(x)	BODY_BIT(HAREPD__ENVELOPE__BODY_##x)

const struct role roles[ROLE_COUNT] = {
	[ROLE_RPC] = { ROLE_RPC, "rpc",
	    BODY(HELLO) | BODY(LOG) | BODY(GATE_SERVED),
	    MODE_BIT(MODE_DUAL) | MODE_BIT(MODE_SERVER_ONLY) },
	[ROLE_PROBE] = { ROLE_PROBE, "probe",
	    BODY(HELLO) | BODY(LOG) | BODY(LOCAL_VIEW) | BODY(VERDICT) |
	    BODY(GATE_DECLARED),
	    MODE_BIT(MODE_DUAL) | MODE_BIT(MODE_SERVER_ONLY) |
	    MODE_BIT(MODE_CLIENT_ONLY) },
	[ROLE_HBA] = { ROLE_HBA, "hba",
	    BODY(HELLO) | BODY(LOG) | BODY(HBA_APPLIED),
	    MODE_BIT(MODE_DUAL) | MODE_BIT(MODE_CLIENT_ONLY) },
};

const enum role_id stop_order[ROLE_COUNT] = { ROLE_PROBE, ROLE_HBA, ROLE_RPC };

const struct role *
role_by_name(const char *name)
{
	for (size_t i = 0; i < ROLE_COUNT; i++)
		if (strcmp(roles[i].name, name) == 0)
			return &roles[i];
	return NULL;
}

bool
role_runs_in(const struct role *r, enum harepd_mode m)
{
	return (r->modes & MODE_BIT(m)) != 0;
}

bool
role_may_send(const struct role *r, Harepd__Envelope__BodyCase c)
{
	if ((unsigned)c >= 32)
		return false;
	return (r->may_send & BODY_BIT(c)) != 0;
}

const char *
role_user(const struct role *r, const struct conf *c)
{
	return r->id == ROLE_RPC ? c->rpc_user : c->pg_user;
}

const char *
mode_name(enum harepd_mode m)
{
	switch (m) {
	case MODE_DUAL: return "dual";
	case MODE_SERVER_ONLY: return "server-only";
	case MODE_CLIENT_ONLY: return "client-only";
	}
	return "unknown";
}

const char *
wstate_name(enum wstate s)
{
	switch (s) {
	case W_OFF: return "stopped";
	case W_STARTING: return "starting";
	case W_READY: return "running";
	case W_BACKOFF: return "backoff";
	case W_STOPPING: return "stopping";
	}
	return "unknown";
}

int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
proc_init(struct sup *s)
{
	for (size_t i = 0; i < ROLE_COUNT; i++) {
		struct worker *w = &s->workers[i];

		memset(w, 0, sizeof(*w));
		w->role = &roles[i];
		w->state = W_OFF;
		ipc_chan_init(&w->chan, -1);
		backoff_init(&w->backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS,
		    BACKOFF_HEALTHY_MS);
	}
}

struct worker *
proc_by_pid(struct sup *s, pid_t pid)
{
	for (size_t i = 0; i < ROLE_COUNT; i++)
		if (s->workers[i].pid == pid)
			return &s->workers[i];
	return NULL;
}

static void __attribute__((noreturn))
child_fail(const char *role, const char *what, const char *detail)
{
	char msg[512];
	struct log_field f[] = { { "proc", role } };

	snprintf(msg, sizeof(msg), "worker start: %s: %s", what, detail);
	log_write_json(stderr, LOG_LVL_ERROR, msg, f, 1);
	_exit(127);
}

/*
 * fd 0-2 stay (journald), the channel goes to IPC_FD, our binary to
 * IPC_FD + 1 (close-on-exec, only for execveat), everything else is closed.
 */
static void
child_fds(const struct sup *s, const char *role, int sock)
{
	int fs = fcntl(sock, F_DUPFD_CLOEXEC, 10);
	int fe = fcntl(s->exe_fd, F_DUPFD_CLOEXEC, 10);

	if (fs == -1 || fe == -1 || dup2(fs, IPC_FD) == -1 ||
	    dup2(fe, IPC_FD + 1) == -1 ||
	    fcntl(IPC_FD + 1, F_SETFD, FD_CLOEXEC) == -1)
		child_fail(role, "descriptors", strerror(errno));
	if (close_range(IPC_FD + 2, ~0U, 0) == -1)
		child_fail(role, "close_range", strerror(errno));
}

/* The supervisor blocks signals for its signalfd and ignores SIGPIPE:
 * both are inherited across exec, so undo them. */
static void
child_signals(const char *role)
{
	sigset_t none;

	sigemptyset(&none);
	signal(SIGPIPE, SIG_DFL);
	if (sigprocmask(SIG_SETMASK, &none, NULL) == -1)
		child_fail(role, "sigprocmask", strerror(errno));
}

static void __attribute__((noreturn))
child_exec(const struct sup *s, const struct worker *w,
    const struct privdrop *pd, int sock)
{
	extern char **environ;
	const char *role = w->role->name;
	char *argv[] = { "harepd", "--role", (char *)role,
	    s->verbose ? "-v" : NULL, NULL };
	char why[256];

	child_fds(s, role, sock);
	child_signals(role);
	if (chdir("/") == -1)
		child_fail(role, "chdir /", strerror(errno));
	if (privdrop_apply(pd, why, sizeof(why)) == -1)
		child_fail(role, "privilege drop", why);
	execveat(IPC_FD + 1, "", argv, environ, AT_EMPTY_PATH);
	child_fail(role, "exec", strerror(errno));
}

/* The first messages a worker reads: its config, then (paused) PAUSE. */
static int
send_initial(struct sup *s, struct worker *w)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;

	env.body_case = HAREPD__ENVELOPE__BODY_CONFIG;
	env.config = &s->push;
	if (ipc_send(&w->chan, &env) == -1)
		return -1;
	if (s->paused && w->role->id != ROLE_RPC)
		return sup_send_control(w, HAREPD__CONTROL__COMMAND__PAUSE);
	return 0;
}

static void
start_failed(struct worker *w, const char *why)
{
	int delay = backoff_next(&w->backoff, 0);

	snprintf(w->last_exit, sizeof(w->last_exit), "%s", why);
	w->state = W_BACKOFF;
	w->restart_at = mono_ms() + delay;
	log_warnx("cannot start worker %s: %s; retrying in %d ms",
	    w->role->name, why, delay);
}

static void
log_started(const struct worker *w, const char *user)
{
	char pid[16], restarts[16];
	struct log_field f[] = { { "role", w->role->name }, { "pid", pid },
	    { "user", user }, { "restarts", restarts } };

	snprintf(pid, sizeof(pid), "%d", (int)w->pid);
	snprintf(restarts, sizeof(restarts), "%u", w->restarts);
	log_emit(LOG_LVL_INFO, f, 4, "started worker %s", w->role->name);
}

int
proc_start(struct sup *s, struct worker *w)
{
	const char *user = role_user(w->role, s->conf);
	struct privdrop pd;
	char why[256];
	int sv[2];
	pid_t pid;

	if (privdrop_prepare(&pd, user, why, sizeof(why)) == -1) {
		start_failed(w, why);
		return -1;
	}
	if (ipc_socketpair(sv) == -1) {
		snprintf(why, sizeof(why), "socketpair: %s", strerror(errno));
		start_failed(w, why);
		return -1;
	}
	fflush(NULL);	/* no buffered line may be written twice */
	if ((pid = fork()) == -1) {
		snprintf(why, sizeof(why), "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		start_failed(w, why);
		return -1;
	}
	if (pid == 0)
		child_exec(s, w, &pd, sv[1]);
	close(sv[1]);
	ipc_chan_init(&w->chan, sv[0]);
	w->pid = pid;
	w->state = W_STARTING;
	w->started_mono = mono_ms();
	log_started(w, user);
	if (send_initial(s, w) == -1)
		proc_kill(w, "cannot send its configuration");
	return 0;
}

void
proc_kill(struct worker *w, const char *why)
{
	if (w->pid <= 0)
		return;
	log_warnx("killing worker %s (pid %d): %s", w->role->name,
	    (int)w->pid, why);
	kill(w->pid, SIGKILL);
	/* nothing more it says counts; the reaper restarts it */
	ipc_chan_close(&w->chan);
}

void
proc_reap(struct sup *s)
{
	struct worker *w;
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		if ((w = proc_by_pid(s, pid)) != NULL)
			sup_worker_gone(s, w, st);
}
