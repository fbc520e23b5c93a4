/*
 * The workers as processes (relayd's proc.c): the columns of the role
 * table (harepd.c) read out, and what happens to one worker's process.
 * Starting a worker is fork, privilege drop, and re-exec of our own
 * binary with --role (bgpd): each worker begins from a fresh image, so
 * nothing of the supervisor's state leaks into it, and gRPC is only ever
 * initialised after the last fork. Nothing here knows the supervisor's
 * state: it is handed a worker and returns what happened.
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
#include "util/clock.h"
#include "util/unconst.h"

bool
role_runs_in(const struct role *r, enum harepd_mode m)
{
	return (r->modes & MODE_BIT(m)) != 0;
}

bool
role_wanted(const struct role *r, enum harepd_mode m, const struct conf *c)
{
	return role_runs_in(r, m) && (r->wanted == NULL || r->wanted(c));
}

bool
role_may_send(const struct role *r, Harepd__Envelope__BodyCase c)
{
	if ((unsigned)c >= 32)
		return false;
	return (r->may_send & BODY_BIT(c)) != 0;
}

bool
role_accepts(const struct role *r, Harepd__Envelope__BodyCase c)
{
	if ((unsigned)c >= 32)
		return false;
	return (r->accepts & BODY_BIT(c)) != 0;
}

const char *
role_user(const struct role *r, const struct conf *c)
{
	switch (r->user) {
	case RPC_USER: return c->rpc_user;
	case POSTGRES_USER: return c->pg_user;
	}
	return NULL;
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

void
proc_init(struct worker *w, const struct role *r)
{
	const struct restart_policy *p = &r->restart;

	memset(w, 0, sizeof(*w));
	w->role = r;
	w->state = W_OFF;
	ipc_chan_init(&w->chan, -1);
	backoff_init(&w->backoff, p->min_ms, p->max_ms, p->healthy_ms);
	/* one allowance for the role, not per process: a worker that
	 * floods and crashes does not get a fresh burst with each restart */
	log_limit_init(&w->log_limit, clock_mono_ms());
}

struct worker *
proc_by_pid(struct worker *ws, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (ws[i].pid == pid)
			return &ws[i];
	return NULL;
}

static void __attribute__((noreturn))
child_fail(const char *role, const char *what, const char *detail)
{
	char msg[512];
	struct log_field f[] = { { "proc", role } };

	snprintf(msg, sizeof(msg), "worker start: %s: %s", what, detail);
	log_write_stderr(LOG_LVL_ERROR, msg, f, 1);
	_exit(127);
}

/*
 * fd 0-2 stay (journald), the channel goes to IPC_FD, our binary to
 * IPC_FD + 1 (close-on-exec, only for execveat), everything else is closed.
 */
static void
child_fds(const struct proc_exec *x, const char *role, int sock)
{
	int fs = fcntl(sock, F_DUPFD_CLOEXEC, 10);
	int fe = fcntl(x->exe_fd, F_DUPFD_CLOEXEC, 10);

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
child_exec(const struct proc_exec *x, const struct worker *w,
    const struct privdrop *pd, int sock)
{
	const char *role = w->role->name;
	char *argv[] = { "harepd", "--role", unconst_str(role),
	    x->verbose ? "-v" : NULL, NULL };
	char why[256];

	child_fds(x, role, sock);
	child_signals(role);
	if (chdir("/") == -1)
		child_fail(role, "chdir /", strerror(errno));
	if (privdrop_apply(pd, why, sizeof(why)) == -1)
		child_fail(role, "privilege drop", why);
	execveat(IPC_FD + 1, "", argv, pd->env, AT_EMPTY_PATH);
	child_fail(role, "exec", strerror(errno));
}

static void
start_failed(struct worker *w, const char *why)
{
	int delay = backoff_next(&w->backoff, 0);

	snprintf(w->last_exit, sizeof(w->last_exit), "%s", why);
	w->state = W_BACKOFF;
	w->restart_at = clock_mono_ms() + delay;
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
proc_start(struct worker *w, const struct proc_exec *x)
{
	struct privdrop pd;
	char why[256];
	int sv[2];
	pid_t pid;

	if (privdrop_prepare(&pd, x->user, why, sizeof(why)) == -1) {
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
		child_exec(x, w, &pd, sv[1]);
	close(sv[1]);
	ipc_chan_init(&w->chan, sv[0]);
	w->pid = pid;
	w->state = W_STARTING;
	w->started_mono = clock_mono_ms();
	log_started(w, x->user);
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

bool
proc_reap(pid_t *pid, int *wstatus)
{
	return (*pid = waitpid(-1, wstatus, WNOHANG)) > 0;
}

/* ---- exits and restarts ---- */

bool
proc_exited(struct worker *w, int st)
{
	bool crash = true;

	w->pid = 0;	/* reaped: that pid may be anyone's now */
	w->kill_at = 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		crash = false;
		snprintf(w->last_exit, sizeof(w->last_exit),
		    "exited cleanly (status 0)");
	} else if (WIFEXITED(st))
		snprintf(w->last_exit, sizeof(w->last_exit), "crashed: exited "
		    "with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(w->last_exit, sizeof(w->last_exit), "crashed: killed "
		    "by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		snprintf(w->last_exit, sizeof(w->last_exit), "crashed: ended "
		    "(wait status %#x)", st);
	return crash;
}

static void
log_exit(const struct worker *w, pid_t pid, bool crash, int64_t up, int delay)
{
	char p[16], u[24], d[16];
	struct log_field f[] = { { "role", w->role->name }, { "pid", p },
	    { "uptime_ms", u }, { "backoff_ms", d },
	    { "exit", crash ? "crash" : "clean" } };

	snprintf(p, sizeof(p), "%d", (int)pid);
	snprintf(u, sizeof(u), "%lld", (long long)up);
	snprintf(d, sizeof(d), "%d", delay);
	log_emit(LOG_LVL_WARNING, f, 5, "worker %s (pid %d) %s after %lld ms; "
	    "restarting in %d ms", w->role->name, (int)pid, w->last_exit,
	    (long long)up, delay);
}

/* Many exits close together: backoff alone would say it too quietly. */
static void
count_exit(struct worker *w, int64_t now)
{
	const struct restart_policy *p = &w->role->restart;

	if (p->window_ms <= 0 || p->burst == 0)
		return;
	if (w->window_exits == 0 || now - w->window_start > p->window_ms) {
		w->window_start = now;
		w->window_exits = 0;
	}
	if (++w->window_exits == p->burst)
		log_emit(LOG_LVL_ERROR, (struct log_field[]){ { "role",
		    w->role->name } }, 1, "worker %s exited %u times within "
		    "%lld s: it keeps failing (last: %s)", w->role->name,
		    p->burst, (long long)p->window_ms / 1000, w->last_exit);
}

void
proc_schedule_restart(struct worker *w, pid_t pid, bool crash, int64_t up,
    int64_t now)
{
	int delay;

	/* RESTART_PERMANENT is the only kind: every exit is restarted */
	count_exit(w, now);
	delay = backoff_next(&w->backoff, up);
	w->state = W_BACKOFF;
	w->restart_at = now + delay;
	log_exit(w, pid, crash, up, delay);
}

bool
proc_restart_due(const struct worker *w, int64_t now)
{
	return w->state == W_BACKOFF && now >= w->restart_at;
}

/*
 * A heartbeat (the probe's LocalView) comes every watchDog seconds,
 * whatever happens (an unreachable database is a view with db_error),
 * and a tick takes at most a few connectionDeadlines. Silence far beyond
 * that is a hung worker: hba fences on its lease meanwhile, and a
 * restart is the cure.
 */
int64_t
proc_silence_ms(const struct conf *c)
{
	int64_t ms = (10 * (int64_t)c->watchdog +
	    3 * (int64_t)c->connection_deadline) * 1000;

	return ms < SILENCE_MIN_MS ? SILENCE_MIN_MS : ms;
}

/* "LocalView" for BODY_LOCAL_VIEW: the message's name, as logs say it. */
static const char *
body_msg_name(Harepd__Envelope__BodyCase c)
{
	const ProtobufCFieldDescriptor *f =
	    protobuf_c_message_descriptor_get_field(&harepd__envelope__descriptor,
	    (unsigned)c);

	if (f == NULL || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return ipc_body_name(c);
	return ((const ProtobufCMessageDescriptor *)f->descriptor)->short_name;
}

/* A worker that never says Hello, or a heartbeat gone silent, is hung. */
static void
check_alive(struct worker *w, int64_t now, int64_t silence_ms)
{
	char why[96];

	if (w->state == W_STARTING && now - w->started_mono > HELLO_TIMEOUT_MS) {
		snprintf(why, sizeof(why), "no Hello within %d s",
		    HELLO_TIMEOUT_MS / 1000);
		proc_kill(w, why);
	} else if (w->state == W_READY &&
	    w->role->heartbeat != HAREPD__ENVELOPE__BODY__NOT_SET &&
	    now - w->last_progress > silence_ms) {
		snprintf(why, sizeof(why), "no %s for %lld s: hung",
		    body_msg_name(w->role->heartbeat),
		    (long long)(now - w->last_progress) / 1000);
		proc_kill(w, why);
	}
}

void
proc_check(struct worker *w, int64_t now, int64_t silence_ms, bool stopping)
{
	if (w->pid > 0 && w->kill_at != 0 && now >= w->kill_at) {
		w->kill_at = 0;
		proc_kill(w, w->state == W_STOPPING ? "did not stop in time" :
		    "lingers after closing its channel");
	}
	if (w->pid <= 0 || w->kill_at != 0 || stopping)
		return;
	check_alive(w, now, silence_ms);
}
