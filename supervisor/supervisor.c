/*
 * The supervisor (ARCHITECTURE §2, §3, §7): one poll loop over a
 * signalfd, the control socket and one channel per worker. It routes
 * the workers' messages (docs/IPC.md), keeps the latest of each for
 * status, restarts what dies, and stops everything in the safe order.
 * It never initialises gRPC and never opens a database connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "supervisor/sup.h"

/* Messages read from one worker per loop pass: a chatty worker must not
 * starve the others. */
#define READ_BURST		64
#define MAX_WORKER_FIELDS	32
#define POLL_MAX_MS		1000

static void	stop_next(struct sup *);

/* ---- logging ---- */

static void
sup_log_sink(enum log_level lvl, const char *msg, const struct log_field *f,
    size_t n, void *arg)
{
	struct sup *s = arg;
	char *line = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&line, &len);

	/* one write per line: workers share this stderr, and a line written
	 * piecemeal would interleave with theirs */
	if (mem != NULL) {
		log_write_json(mem, lvl, msg, f, n);
		if (fclose(mem) == 0 && write(STDERR_FILENO, line, len) < 0) {
			/* nowhere left to say it */
		}
		free(line);
	}
	if (s->log_open)
		logfile_write(&s->log, time(NULL), lvl, msg, f, n);
}

/* A worker's Log, written with proc = its role, whatever it claims. */
static void
worker_log(struct sup *s, const struct worker *w, const Harepd__Log *l)
{
	struct log_field f[MAX_WORKER_FIELDS + 1];
	size_t n = 0;

	if (l->level == HAREPD__LOG__LEVEL__DEBUG && !s->verbose)
		return;
	f[n++] = (struct log_field){ "proc", w->role->name };
	for (size_t i = 0; i < l->n_fields && n <= MAX_WORKER_FIELDS; i++) {
		const char *k = l->fields[i]->key;

		/* these keys are the supervisor's to write */
		if (strcmp(k, "proc") == 0 || strcmp(k, "level") == 0 ||
		    strcmp(k, "msg") == 0 || strcmp(k, "time") == 0)
			continue;
		f[n++] = (struct log_field){ k, l->fields[i]->value };
	}
	sup_log_sink((enum log_level)l->level, l->msg, f, n, s);
}

int
sup_log_open(struct sup *s, const struct conf *c)
{
	if (c->log_file == NULL || c->log_file[0] == '\0')
		return 0;
	if (logfile_open(&s->log, c->log_file, c->log_rotation_time,
	    c->log_max_age, time(NULL)) == -1) {
		log_warn("cannot open log file %s, logging to stderr only",
		    c->log_file);
		return -1;
	}
	s->log_open = true;
	(void)logfile_prune(&s->log, time(NULL));
	return 0;
}

/* ---- routing (docs/IPC.md) ---- */

int
sup_send_control(struct worker *w, Harepd__Control__Command cmd)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	Harepd__Control ctl = HAREPD__CONTROL__INIT;

	ctl.command = cmd;
	env.body_case = HAREPD__ENVELOPE__BODY_CONTROL;
	env.control = &ctl;
	if (w->chan.fd == -1)
		return -1;
	return ipc_send(&w->chan, &env);
}

static void
violation(struct sup *s, struct worker *w, const char *why)
{
	log_emit(LOG_LVL_ERROR, NULL, 0, "worker %s broke the protocol (%s): "
	    "restarting it", w->role->name, why);
	proc_kill(w, "protocol violation");
}

static void
forward(struct worker *to, const ipc_envelope *env)
{
	if (to->chan.fd == -1)
		return;
	if (ipc_send(&to->chan, env) == -1)
		log_warn("cannot pass %s to worker %s",
		    ipc_body_name(env->body_case), to->role->name);
}

/* One line for `systemctl status`: what pg_hba.conf says, or why not. */
static void
notify_status(struct sup *s)
{
	const Harepd__HbaApplied *h = s->last_hba ? s->last_hba->hba_applied :
	    NULL;
	char line[160];

	if (s->notify.fd == -1)
		return;
	if (s->paused)
		snprintf(line, sizeof(line), "STATUS=client paused (stop-client): "
		    "pg_hba.conf left as it is");
	else if (h != NULL)
		snprintf(line, sizeof(line), "STATUS=pg_hba.conf: rw %s, ro %s%s",
		    h->rw_allow ? "allow" : "deny", h->ro_allow ? "allow" : "deny",
		    h->fenced ? " (fenced: no fresh verdict)" : "");
	else
		snprintf(line, sizeof(line), "STATUS=%s",
		    s->ready_sent ? "all workers ready" : "starting workers");
	(void)sdnotify_send(&s->notify, line);
}

static void
check_ready(struct sup *s)
{
	for (size_t i = 0; i < ROLE_COUNT; i++)
		if (role_runs_in(&roles[i], s->mode) &&
		    s->workers[i].state != W_READY)
			return;
	if (s->ready_sent)
		return;
	s->ready_sent = true;
	log_info("all workers ready (mode %s)", mode_name(s->mode));
	if (sdnotify_send(&s->notify, "READY=1") == -1)
		log_warn("sd_notify READY=1");
	notify_status(s);
}

static void
on_hello(struct sup *s, struct worker *w, const Harepd__Hello *h)
{
	char why[128];

	if (w->state != W_STARTING || strcmp(h->role, w->role->name) != 0 ||
	    h->pid != (int32_t)w->pid) {
		snprintf(why, sizeof(why), "unexpected hello role=%.16s pid=%d",
		    h->role, h->pid);
		violation(s, w, why);
		return;
	}
	w->state = W_READY;
	w->last_progress = mono_ms();
	log_info("worker %s (pid %d) is ready", w->role->name, (int)w->pid);
	/* a fresh rpc worker answers from the newest view and gate at once */
	if (w->role->id == ROLE_RPC) {
		if (s->last_view != NULL)
			forward(w, s->last_view);
		if (s->last_hba != NULL)
			forward(w, s->last_hba);
		if (s->last_gate != NULL)
			forward(w, s->last_gate);
	}
	/*
	 * A restarted hba worker gets the verdict in force with the time it
	 * was decided: it fences when that lease ends, not one lease after
	 * its own start (docs/POLICY.md, "Why this is safe").
	 */
	if (w->role->id == ROLE_HBA && s->last_verdict != NULL && !s->paused)
		forward(w, s->last_verdict);
	/* a restarted probe learns what peers are told about this node */
	if (w->role->id == ROLE_PROBE && s->last_served != NULL)
		forward(w, s->last_served);
	check_ready(s);
}

static void
keep(ipc_envelope **slot, ipc_envelope *env)
{
	ipc_free(*slot);
	*slot = env;
}

static void
on_view(struct sup *s, ipc_envelope *env)
{
	struct worker *rpc = &s->workers[ROLE_RPC];

	s->workers[ROLE_PROBE].last_progress = mono_ms();
	keep(&s->last_view, env);
	if (rpc->state == W_READY)
		forward(rpc, env);
}

static void
on_verdict(struct sup *s, struct worker *w, ipc_envelope *env)
{
	struct worker *hba = &s->workers[ROLE_HBA];

	if (s->mode == MODE_SERVER_ONLY) {
		ipc_free(env);
		violation(s, w, "verdict in server-only mode");
		return;
	}
	if (s->paused) {	/* PAUSE may still be in flight */
		log_debug("dropping verdict #%llu: client paused",
		    (unsigned long long)env->verdict->seq);
		ipc_free(env);
		return;
	}
	keep(&s->last_verdict, env);
	if (hba->state == W_STARTING || hba->state == W_READY)
		forward(hba, env);
}

/*
 * The probe's gate goes to the rpc worker, which tells peers. Without an
 * rpc worker (--client-only) nobody can ask this node: peers cover it
 * with their hold-down, so the gate counts as served at once.
 */
static void
on_gate_declared(struct sup *s, ipc_envelope *env)
{
	struct worker *rpc = &s->workers[ROLE_RPC];
	Harepd__GateServed served = HAREPD__GATE_SERVED__INIT;
	ipc_envelope reply = HAREPD__ENVELOPE__INIT;

	keep(&s->last_gate, env);
	if (role_runs_in(rpc->role, s->mode)) {
		if (rpc->state == W_READY)
			forward(rpc, env);
		return;
	}
	served.seq = env->gate_declared->seq;
	served.state = env->gate_declared->state;
	reply.body_case = HAREPD__ENVELOPE__BODY_GATE_SERVED;
	reply.gate_served = &served;
	forward(&s->workers[ROLE_PROBE], &reply);
}

static void
on_hba_applied(struct sup *s, ipc_envelope *env)
{
	struct worker *rpc = &s->workers[ROLE_RPC];

	if (env->hba_applied->changed)
		s->hba_changed_ms = env->hba_applied->applied_at_ms;
	keep(&s->last_hba, env);
	notify_status(s);
	if (rpc->state == W_READY)
		forward(rpc, env);
}

/* Takes ownership of env. */
static void
dispatch(struct sup *s, struct worker *w, ipc_envelope *env)
{
	char why[64];

	if (!role_may_send(w->role, env->body_case)) {
		snprintf(why, sizeof(why), "sent %s",
		    ipc_body_name(env->body_case));
		ipc_free(env);
		violation(s, w, why);
		return;
	}
	switch (env->body_case) {
	case HAREPD__ENVELOPE__BODY_LOCAL_VIEW:
		on_view(s, env);
		return;
	case HAREPD__ENVELOPE__BODY_VERDICT:
		on_verdict(s, w, env);
		return;
	case HAREPD__ENVELOPE__BODY_HBA_APPLIED:
		on_hba_applied(s, env);
		return;
	case HAREPD__ENVELOPE__BODY_GATE_DECLARED:
		on_gate_declared(s, env);
		return;
	case HAREPD__ENVELOPE__BODY_GATE_SERVED:
		forward(&s->workers[ROLE_PROBE], env);
		keep(&s->last_served, env);
		return;
	case HAREPD__ENVELOPE__BODY_HELLO:
		on_hello(s, w, env->hello);
		break;
	case HAREPD__ENVELOPE__BODY_LOG:
		if ((unsigned)env->log->level > HAREPD__LOG__LEVEL__ERROR)
			violation(s, w, "log level out of range");
		else
			worker_log(s, w, env->log);
		break;
	default:
		break;
	}
	ipc_free(env);
}

void
sup_read_worker(struct sup *s, struct worker *w)
{
	ipc_envelope *env;
	char err[256], why[320];

	for (int i = 0; i < READ_BURST && w->chan.fd != -1; i++) {
		switch (ipc_recv(&w->chan, &env, err, sizeof(err))) {
		case IPC_OK:
			dispatch(s, w, env);
			break;
		case IPC_AGAIN:
			return;
		case IPC_EOF:
			/* it is exiting; if it does not, it will be killed */
			ipc_chan_close(&w->chan);
			if (w->pid > 0 && w->kill_at == 0)
				w->kill_at = mono_ms() + STOP_WAIT_MS;
			return;
		default:
			snprintf(why, sizeof(why), "%s", err);
			violation(s, w, why);
			return;
		}
	}
}

/* The last words of a worker that has exited (fatal()'s message). */
void
sup_drain(struct sup *s, struct worker *w)
{
	for (int i = 0; i < 4 * READ_BURST && w->chan.fd != -1; i++) {
		ipc_envelope *env;

		if (ipc_recv(&w->chan, &env, NULL, 0) != IPC_OK)
			break;
		dispatch(s, w, env);
	}
}

/* ---- exits and restarts ---- */

static void
describe_exit(char *buf, size_t len, int st)
{
	if (WIFEXITED(st))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(st),
		    strsignal(WTERMSIG(st)));
	else
		snprintf(buf, len, "ended (wait status %#x)", st);
}

static void
log_exit(const struct worker *w, pid_t pid, int64_t up, int delay)
{
	char p[16], u[24], d[16];
	struct log_field f[] = { { "role", w->role->name }, { "pid", p },
	    { "uptime_ms", u }, { "backoff_ms", d } };

	snprintf(p, sizeof(p), "%d", (int)pid);
	snprintf(u, sizeof(u), "%lld", (long long)up);
	snprintf(d, sizeof(d), "%d", delay);
	log_emit(LOG_LVL_WARNING, f, 4, "worker %s (pid %d) %s after %lld ms; "
	    "restarting in %d ms", w->role->name, (int)pid, w->last_exit,
	    (long long)up, delay);
}

void
sup_worker_gone(struct sup *s, struct worker *w, int wstatus)
{
	pid_t pid = w->pid;
	int64_t up = mono_ms() - w->started_mono;
	int delay;

	w->pid = 0;	/* reaped: that pid may be anyone's now */
	w->kill_at = 0;
	sup_drain(s, w);
	ipc_chan_close(&w->chan);
	describe_exit(w->last_exit, sizeof(w->last_exit), wstatus);
	if (s->stopping) {
		log_info("worker %s (pid %d) stopped: %s", w->role->name,
		    (int)pid, w->last_exit);
		w->state = W_OFF;
		if (s->stop_idx < ROLE_COUNT &&
		    stop_order[s->stop_idx] == w->role->id) {
			s->stop_idx++;
			stop_next(s);
		}
		return;
	}
	delay = backoff_next(&w->backoff, up);
	w->state = W_BACKOFF;
	w->restart_at = mono_ms() + delay;
	log_exit(w, pid, up, delay);
}

/* ---- stop-client / start-client ---- */

void
sup_set_paused(struct sup *s, bool on)
{
	Harepd__Control__Command cmd = on ? HAREPD__CONTROL__COMMAND__PAUSE :
	    HAREPD__CONTROL__COMMAND__RESUME;

	s->paused = on;
	log_info("%s: %s", on ? "stop-client" : "start-client", on ?
	    "no more verdicts, pg_hba.conf is left as it is; "
	    "the gRPC server keeps answering" : "deciding again");
	for (size_t i = 0; i < ROLE_COUNT; i++) {
		struct worker *w = &s->workers[i];

		if (w->role->id != ROLE_RPC && w->chan.fd != -1 &&
		    sup_send_control(w, cmd) == -1)
			log_warn("cannot tell %s to %s", w->role->name,
			    on ? "pause" : "resume");
	}
	notify_status(s);
}

/* ---- SIGTERM: probe, then hba, then rpc ---- */

static void
stop_next(struct sup *s)
{
	while (s->stop_idx < ROLE_COUNT) {
		struct worker *w = &s->workers[stop_order[s->stop_idx]];

		if (w->pid > 0) {
			w->state = W_STOPPING;
			w->kill_at = mono_ms() + STOP_WAIT_MS;
			if (sup_send_control(w,
			    HAREPD__CONTROL__COMMAND__SHUTDOWN) == -1)
				proc_kill(w, "cannot send it SHUTDOWN");
			return;
		}
		w->state = W_OFF;
		s->stop_idx++;
	}
	s->done = true;
}

void
sup_begin_stop(struct sup *s, const char *why)
{
	if (s->stopping)
		return;
	log_info("stopping (%s): probe, then hba, then rpc", why);
	s->stopping = true;
	(void)sdnotify_send(&s->notify, "STOPPING=1");
	s->stop_idx = 0;
	stop_next(s);
}

/* ---- status ---- */

void
sup_fill_status(struct sup *s, struct status *st)
{
	int64_t now = mono_ms();

	memset(st, 0, sizeof(*st));
	st->pid = getpid();
	st->mode = mode_name(s->mode);
	st->config = s->conf_path;
	st->now_ms = wall_ms();
	st->started_ms = s->started_wall;
	st->paused = s->paused;
	st->ready = true;
	st->view = s->last_view ? s->last_view->local_view : NULL;
	st->verdict = s->last_verdict ? s->last_verdict->verdict : NULL;
	st->hba = s->last_hba ? s->last_hba->hba_applied : NULL;
	st->hba_changed_ms = s->hba_changed_ms;
	for (size_t i = 0; i < ROLE_COUNT; i++) {
		const struct worker *w = &s->workers[i];
		struct status_worker *sw = &st->workers[st->n_workers];

		if (!role_runs_in(w->role, s->mode))
			continue;
		st->n_workers++;
		st->ready = st->ready && w->state == W_READY;
		sw->name = w->role->name;
		sw->user = role_user(w->role, s->conf);
		sw->state = wstate_name(w->state);
		sw->pid = w->pid;
		sw->uptime_ms = w->pid > 0 ? now - w->started_mono : 0;
		sw->restarts = w->restarts;
		sw->last_exit = w->last_exit;
		sw->restart_in_ms = w->state == W_BACKOFF ?
		    (w->restart_at > now ? w->restart_at - now : 0) : 0;
	}
}

/* ---- signals, timers, loop ---- */

static int
setup_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void
handle_signals(struct sup *s)
{
	struct signalfd_siginfo si;
	char why[1024];

	while (read(s->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			proc_reap(s);
			break;
		case SIGTERM:
		case SIGINT:
			sup_begin_stop(s, strsignal((int)si.ssi_signo));
			break;
		case SIGHUP:
			if (!s->stopping)
				(void)sup_reload(s, why, sizeof(why));
			break;
		}
	}
	proc_reap(s);	/* SIGCHLDs coalesce: reap whatever is there */
}

/*
 * The probe sends a LocalView every watchDog seconds, whatever happens
 * (an unreachable database is a view with db_error), and a tick takes at
 * most a few connectionDeadlines. Silence far beyond that is a hung
 * probe: hba fences on its lease meanwhile, and a restart is the cure.
 */
int64_t
sup_probe_silence_ms(const struct conf *c)
{
	int64_t ms = (10 * (int64_t)c->watchdog +
	    3 * (int64_t)c->connection_deadline) * 1000;

	return ms < PROBE_SILENCE_MIN_MS ? PROBE_SILENCE_MIN_MS : ms;
}

/* A worker that never says Hello, or a probe gone silent, is hung. */
static void
check_alive(struct sup *s, struct worker *w, int64_t now)
{
	char why[96];

	if (w->pid <= 0 || w->kill_at != 0 || s->stopping)
		return;
	if (w->state == W_STARTING && now - w->started_mono > HELLO_TIMEOUT_MS) {
		snprintf(why, sizeof(why), "no Hello within %d s",
		    HELLO_TIMEOUT_MS / 1000);
		proc_kill(w, why);
	} else if (w->state == W_READY && w->role->id == ROLE_PROBE &&
	    now - w->last_progress > sup_probe_silence_ms(s->conf)) {
		snprintf(why, sizeof(why), "no LocalView for %lld s: hung",
		    (long long)(now - w->last_progress) / 1000);
		proc_kill(w, why);
	}
}

void
sup_run_timers(struct sup *s, int64_t now)
{
	for (size_t i = 0; i < ROLE_COUNT; i++) {
		struct worker *w = &s->workers[i];

		if (w->state == W_BACKOFF && !s->stopping && now >= w->restart_at) {
			w->restarts++;
			(void)proc_start(s, w);
		}
		if (w->pid > 0 && w->kill_at != 0 && now >= w->kill_at) {
			w->kill_at = 0;
			proc_kill(w, w->state == W_STOPPING ?
			    "did not stop in time" : "lingers after closing "
			    "its channel");
		}
		check_alive(s, w, now);
	}
	if (s->notify.watchdog_us > 0 && now >= s->next_watchdog) {
		(void)sdnotify_send(&s->notify, "WATCHDOG=1");
		s->next_watchdog = now + s->notify.watchdog_us / 2000;
	}
}

static int
poll_timeout(const struct sup *s, int64_t now)
{
	int64_t next = now + POLL_MAX_MS;

	for (size_t i = 0; i < ROLE_COUNT; i++) {
		const struct worker *w = &s->workers[i];

		if (w->state == W_BACKOFF && w->restart_at < next)
			next = w->restart_at;
		if (w->pid > 0 && w->kill_at != 0 && w->kill_at < next)
			next = w->kill_at;
	}
	if (s->notify.watchdog_us > 0 && s->next_watchdog < next)
		next = s->next_watchdog;
	return next <= now ? 0 : (int)(next - now);
}

static void
loop_once(struct sup *s)
{
	struct pollfd pfd[2 + ROLE_COUNT];

	pfd[0] = (struct pollfd){ .fd = s->signal_fd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = s->control_fd, .events = POLLIN };
	for (size_t i = 0; i < ROLE_COUNT; i++) {
		struct ipc_chan *ch = &s->workers[i].chan;

		pfd[2 + i] = (struct pollfd){ .fd = ch->fd, .events = POLLIN |
		    (ipc_pending(ch) ? POLLOUT : 0) };
	}
	if (poll(pfd, 2 + ROLE_COUNT, poll_timeout(s, mono_ms())) == -1 &&
	    errno != EINTR)
		fatal("poll");
	/* workers before signals: read a worker's last words before reaping */
	for (size_t i = 0; i < ROLE_COUNT; i++) {
		struct worker *w = &s->workers[i];

		if (w->chan.fd == -1 || w->chan.fd != pfd[2 + i].fd)
			continue;
		if (pfd[2 + i].revents & POLLOUT)
			(void)ipc_flush(&w->chan);
		if (pfd[2 + i].revents & (POLLIN | POLLHUP | POLLERR))
			sup_read_worker(s, w);
	}
	if (pfd[0].revents & POLLIN)
		handle_signals(s);
	if (pfd[1].revents & POLLIN)
		control_accept(s);
	sup_run_timers(s, mono_ms());
}

/* ---- start and end ---- */

static void
start_workers(struct sup *s)
{
	for (size_t i = 0; i < ROLE_COUNT; i++)
		if (role_runs_in(&roles[i], s->mode))
			(void)proc_start(s, &s->workers[i]);
}

static int
sup_open(struct sup *s, char *why, size_t whylen)
{
	if (!s->as_root)
		log_warnx("not running as root: workers keep uid %u "
		    "(no privilege separation)", (unsigned)geteuid());
	if ((s->exe_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC)) == -1) {
		snprintf(why, whylen, "/proc/self/exe: %s", strerror(errno));
		return -1;
	}
	s->control_path = strdup(s->conf->control_socket ?
	    s->conf->control_socket : CONF_DEFAULT_SOCKET);
	if ((s->control_fd = control_listen(s->control_path, why,
	    whylen)) == -1)
		return -1;
	if (sdnotify_init(&s->notify) == -1)
		log_warn("NOTIFY_SOCKET");
	s->next_watchdog = mono_ms();
	return 0;
}

static void
sup_close(struct sup *s)
{
	if (s->control_fd != -1) {
		close(s->control_fd);
		unlink(s->control_path);
	}
	if (s->signal_fd != -1)
		close(s->signal_fd);
	if (s->exe_fd != -1)
		close(s->exe_fd);
	for (size_t i = 0; i < ROLE_COUNT; i++)
		ipc_chan_close(&s->workers[i].chan);
	ipc_free(s->last_view);
	ipc_free(s->last_verdict);
	ipc_free(s->last_hba);
	ipc_free(s->last_gate);
	ipc_free(s->last_served);
	sup_push_free(&s->push);
	if (s->conf != NULL)
		conf_free(s->conf);
	free(s->control_path);
	free(s->conf_path);
}

static void
sup_init(struct sup *s, const char *path, enum harepd_mode mode, int verbose)
{
	char *abs = realpath(path, NULL);

	memset(s, 0, sizeof(*s));
	s->conf_path = abs != NULL ? abs : strdup(path);
	s->mode = mode;
	s->verbose = verbose;
	s->as_root = (geteuid() == 0);
	s->exe_fd = s->signal_fd = s->control_fd = s->stop_client_fd = -1;
	s->started_mono = mono_ms();
	s->started_wall = wall_ms();
	harepd__config_push__init(&s->push);
	proc_init(s);
}

int
supervisor_main(const char *path, struct conf *loaded, enum harepd_mode mode,
    int verbose)
{
	static struct sup sup;
	struct sup *s = &sup;
	char why[1024] = "";

	/* a script's descriptors (lock files, pipes) are not ours to keep;
	 * a closed 0-2 would make the next open() our "stderr" */
	(void)close_range(STDERR_FILENO + 1, ~0U, 0);
	for (int fd = 0; fd <= STDERR_FILENO; fd++)
		if (fcntl(fd, F_GETFD) == -1 &&
		    open("/dev/null", O_RDWR) == -1)	/* takes fd */
			return 1;
	sup_init(s, path, mode, verbose);
	/* from here on SIGTERM waits in the signalfd: even during start it
	 * stops the workers in order and removes the socket */
	if ((s->signal_fd = setup_signals()) == -1)
		fatal("signalfd");
	log_set_verbose(verbose);
	log_init("harepd", sup_log_sink, s);
	(void)sup_log_open(s, loaded);
	conf_free(loaded);	/* the one we load from bytes replaces it */
	if (sup_load_config(s, &s->conf, &s->push, why, sizeof(why)) == -1 ||
	    sup_check_users(s, why, sizeof(why)) == -1) {
		log_emit(LOG_LVL_ERROR, NULL, 0, "%s", why);
		sup_close(s);
		return EX_CONFIG_BAD;
	}
	if (sup_open(s, why, sizeof(why)) == -1) {
		log_emit(LOG_LVL_ERROR, NULL, 0, "%s", why);
		sup_close(s);
		return 1;
	}
	log_info("harepd started: mode %s, config %s, control socket %s",
	    mode_name(mode), s->conf_path, s->control_path);
	start_workers(s);
	while (!s->done)
		loop_once(s);
	log_info("harepd stopped");
	sup_close(s);
	if (s->log_open)
		logfile_close(&s->log);
	/* stop_client_fd stays open: the kernel closes it when this process
	 * is gone, and only then does `harepdctl stop` return */
	return 0;
}
