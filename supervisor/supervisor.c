/*
 * The supervisor: one poll loop over a signalfd, the control socket and
 * one channel per worker, and the state all of it shares (struct sup,
 * private to this file). The layers below report back and never call in:
 * route.c says what a worker's messages mean (docs/IPC.md), proc.c what
 * became of a process, control.c which command a client asked for
 * (docs/CONTROL.md), config.c what a config file holds. This file acts:
 * it restarts what dies, pauses, reloads, and stops everything in the
 * table's order. It never initialises gRPC and never opens a database
 * connection.
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

#include "supervisor/sup.h"
#include "supervisor/supervisor.h"
#include "util/clock.h"
#include "util/version.h"
#include "util/xmalloc.h"

#define POLL_MAX_MS		1000
/* The metrics worker's page is rendered again at least this often: the
 * ages and uptimes in it move with the clock. */
#define METRICS_PUSH_MS		1000

struct sup {
	const struct role *roles;	/* ROLE_COUNT rows, from harepd.c */
	char		*conf_path;
	struct conf	*conf;
	Harepd__ConfigPush push;	/* what every worker gets at start */
	enum harepd_mode mode;
	int		 verbose;
	int		 exe_fd;	/* O_PATH of our own binary */
	bool		 as_root;
	char		*control_path;
	char		*record_path;	/* the last verdict, next to it */
	bool		 record_failed;	/* logged once until it works again */
	int		 control_fd;
	struct control	 ctl;		/* its connections */
	int		 signal_fd;
	struct logfile	 log;
	struct sdnotify	 notify;
	int64_t		 next_watchdog;
	struct worker	 workers[ROLE_COUNT];
	struct route	 rt;		/* the workers' messages, kept */
	bool		 ready_sent;
	bool		 stopping;
	int		 stop_idx;	/* stop_rank now stopping */
	bool		 done;
	int		 stop_client_fd;	/* `harepdctl stop` waits on it */
	int64_t		 started_mono;
	int64_t		 started_wall;
	bool		 metrics_due;	/* something changed: push the page */
	int64_t		 metrics_next;	/* push by then anyway (monotonic) */
};

static void	stop_next(struct sup *);

static int
log_open(struct sup *s, const struct conf *c)
{
	if (c->log_file == NULL || c->log_file[0] == '\0')
		return 0;
	if (logfile_open(&s->log, c->log_file, c->log_rotation_time,
	    c->log_max_age, time(NULL)) == -1) {
		log_warnx("%s; logging to stderr only", s->log.why[0] ?
		    s->log.why : "cannot open the log file");
		return -1;
	}
	(void)logfile_prune(&s->log, time(NULL));
	return 0;
}

/* ---- what the workers said ---- */

static void
notify_status(struct sup *s)
{
	(void)sdnotify_status(&s->notify, s->rt.paused, s->rt.last_hba ?
	    s->rt.last_hba->hba_applied : NULL, s->ready_sent);
}

static void
check_ready(struct sup *s)
{
	for (size_t i = 0; i < ROLE_COUNT; i++)
		if (s->workers[i].enabled && s->workers[i].state != W_READY)
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
save_verdict(struct sup *s)
{
	if (verdict_record_save(s->record_path,
	    s->rt.last_verdict->verdict) == 0) {
		s->record_failed = false;
		return;
	}
	if (!s->record_failed)
		log_warn("cannot record the last verdict in %s: a restart of "
		    "harepd will fence until the probe decides again",
		    s->record_path);
	s->record_failed = true;
}

static void
routed(struct sup *s, unsigned what)
{
	if (what != 0)
		s->metrics_due = true;
	if (what & ROUTE_HELLO)
		check_ready(s);
	if (what & ROUTE_HBA)
		notify_status(s);
	if (what & ROUTE_VERDICT)
		save_verdict(s);
}

/*
 * What the first hba worker is handed: the verdict in force before
 * harepd (re)started, with the time it was decided, or one already
 * expired when that is not known (verdict_record.c).
 */
static void
load_verdict(struct sup *s)
{
	char why[256];
	bool found;

	if (!role_runs_in(&s->roles[ROLE_HBA], s->mode))
		return;
	s->rt.last_verdict = verdict_record_load(s->record_path, &found, why,
	    sizeof(why));
	if (found)
		log_info("last verdict before this start: seq %llu, rw %s, "
		    "decided %lld ms ago", (unsigned long long)
		    s->rt.last_verdict->verdict->seq,
		    s->rt.last_verdict->verdict->rw_allow ? "allow" : "deny",
		    (long long)(clock_boot_ms() -
		    s->rt.last_verdict->verdict->decided_boot_ms));
	else
		log_info("no record of the last verdict (%s: %s): pg_hba.conf "
		    "denies rw until the probe decides", s->record_path, why);
}

/* ---- starts, exits and restarts ---- */

/* The first messages a worker reads: its config, the verdict in force
 * (hba), then (paused) PAUSE. */
static int
send_initial(struct sup *s, struct worker *w)
{
	if (route_send_config(w, &s->push) == -1 ||
	    route_initial_verdict(&s->rt, w) == -1)
		return -1;
	if (s->rt.paused && w->role->pausable)
		return route_send_control(w, HAREPD__CONTROL__COMMAND__PAUSE);
	return 0;
}

static void
start_worker(struct sup *s, struct worker *w)
{
	struct proc_exec x = { s->exe_fd, s->verbose,
	    role_user(w->role, s->conf) };

	if (proc_start(w, &x) == 0 && send_initial(s, w) == -1)
		proc_kill(w, "cannot send its configuration");
}

/*
 * Nothing enforces the lease of an allow on disk while the hba worker is
 * down, so it restarts before that lease ends whatever its backoff says:
 * the new worker, handed the verdict, fences on time (docs/POLICY.md,
 * "Why this is safe"). A crash loop then restarts every BACKOFF_MIN_MS
 * until a worker has fenced.
 */
static void
hba_restart_in_time(struct sup *s, struct worker *w, int64_t now)
{
	int64_t left, by;

	left = route_allow_lease_left(&s->rt, s->conf->lease_ms,
	    clock_boot_ms());
	if (left == INT64_MAX)
		return;
	by = now + (left - HBA_RESTART_MARGIN_MS > BACKOFF_MIN_MS ?
	    left - HBA_RESTART_MARGIN_MS : BACKOFF_MIN_MS);
	if (w->restart_at <= by)
		return;
	log_info("worker hba: restarting in %lld ms, not %lld: the lease of "
	    "the allow on disk ends in %lld ms", (long long)(by - now),
	    (long long)(w->restart_at - now), (long long)left);
	w->restart_at = by;
}

static void
worker_gone(struct sup *s, struct worker *w, int wstatus)
{
	pid_t pid = w->pid;
	int64_t now = clock_mono_ms(), up = now - w->started_mono;
	bool crash;

	w->pid = 0;	/* reaped: a Hello in its last words is a lie */
	s->metrics_due = true;
	routed(s, route_drain(&s->rt, w));
	ipc_chan_close(&w->chan);
	crash = proc_exited(w, wstatus);
	if (!s->stopping) {
		proc_schedule_restart(w, pid, crash, up, now);
		if (w->role == &s->roles[ROLE_HBA])
			hba_restart_in_time(s, w, now);
		return;
	}
	log_info("worker %s (pid %d) stopped: %s", w->role->name, (int)pid,
	    w->last_exit);
	w->state = W_OFF;
	if (w->role->stop_rank == s->stop_idx) {
		s->stop_idx++;
		stop_next(s);
	}
}

static void
reap(struct sup *s)
{
	struct worker *w;
	pid_t pid;
	int st;

	while (proc_reap(&pid, &st))
		if ((w = proc_by_pid(s->workers, ROLE_COUNT, pid)) != NULL)
			worker_gone(s, w, st);
}

/* ---- stop-client / start-client ---- */

static void
set_paused(struct sup *s, bool on)
{
	Harepd__Control__Command cmd = on ? HAREPD__CONTROL__COMMAND__PAUSE :
	    HAREPD__CONTROL__COMMAND__RESUME;

	s->rt.paused = on;
	s->metrics_due = true;
	log_info("%s: %s", on ? "stop-client" : "start-client", on ?
	    "no more verdicts, pg_hba.conf is left as it is; "
	    "the gRPC server keeps answering" : "deciding again");
	for (size_t i = 0; i < ROLE_COUNT; i++) {
		struct worker *w = &s->workers[i];

		if (w->role->pausable && w->chan.fd != -1 &&
		    route_send_control(w, cmd) == -1)
			log_warn("cannot tell %s to %s", w->role->name,
			    on ? "pause" : "resume");
	}
	notify_status(s);
}

/* ---- SIGTERM: in the table's stop order ---- */

static struct worker *
by_stop_rank(struct sup *s, int rank)
{
	for (size_t i = 0; i < ROLE_COUNT; i++)
		if (s->workers[i].role->stop_rank == rank)
			return &s->workers[i];
	return NULL;
}

static void
stop_next(struct sup *s)
{
	struct worker *w;

	for (; s->stop_idx < ROLE_COUNT; s->stop_idx++) {
		if ((w = by_stop_rank(s, s->stop_idx)) == NULL)
			continue;
		if (w->pid > 0) {
			w->state = W_STOPPING;
			w->kill_at = clock_mono_ms() + STOP_WAIT_MS;
			if (route_send_control(w,
			    HAREPD__CONTROL__COMMAND__SHUTDOWN) == -1)
				proc_kill(w, "cannot send it SHUTDOWN");
			return;
		}
		w->state = W_OFF;
	}
	s->done = true;
}

static void
begin_stop(struct sup *s, const char *why)
{
	char order[64] = "";

	if (s->stopping)
		return;
	for (int r = 0; r < ROLE_COUNT; r++) {
		struct worker *w = by_stop_rank(s, r);

		if (w != NULL && w->enabled)
			snprintf(order + strlen(order), sizeof(order) -
			    strlen(order), "%s%s", order[0] ? ", then " : "",
			    w->role->name);
	}
	log_info("stopping (%s): %s", why, order);
	s->stopping = true;
	(void)sdnotify_send(&s->notify, "STOPPING=1");
	s->stop_idx = 0;
	stop_next(s);
}

/* ---- reload ---- */

static int
reload(struct sup *s, char *why, size_t whylen)
{
	Harepd__ConfigPush push;
	struct conf *c;

	why[0] = '\0';
	log_info("reloading %s", s->conf_path);
	if (config_load(s->conf_path, s->mode, &c, &push, why, whylen) == -1) {
		log_emit(LOG_LVL_ERROR, NULL, 0, "reload failed, keeping the "
		    "running configuration: %s", why);
		return -1;
	}
	config_log_restart_needed(s->conf, c);
	if (config_log_changed(s->conf, c)) {
		log_info("reload: log settings changed, reopening the log file");
		logfile_close(&s->log);
		(void)log_open(s, c);
	}
	conf_free(s->conf);
	config_push_free(&s->push);
	s->conf = c;
	s->push = push;
	route_push_config(&s->rt, &s->push);
	log_info("configuration reloaded and pushed to the workers");
	return 0;
}

/* ---- harepdctl ---- */

static void
reply_reload(struct sup *s, const struct ctl_request *req)
{
	char why[1024], line[1100];

	if (reload(s, why, sizeof(why)) == 0) {
		control_reply(&s->ctl, req, "ok\nconfiguration reloaded\n");
		return;
	}
	snprintf(line, sizeof(line), "error failed: reload: %s\n", why);
	control_reply(&s->ctl, req, line);
}

/* `harepdctl reopen-logs`: logrotate renamed the file away. */
static void
reply_reopen_logs(struct sup *s, const struct ctl_request *req)
{
	char line[512];

	if (s->log.fp == NULL) {
		control_reply(&s->ctl, req, "ok\nno log file open "
		    "(logs.filePath unset or not writable): nothing to reopen\n");
		return;
	}
	if (logfile_reopen(&s->log) == -1) {
		log_emit(LOG_LVL_ERROR, NULL, 0, "reopen-logs: %s; still "
		    "writing to the file open before", s->log.why);
		snprintf(line, sizeof(line), "error failed: reopen-logs: %s\n",
		    s->log.why);
		control_reply(&s->ctl, req, line);
		return;
	}
	log_info("log file %s reopened", s->log.path);
	snprintf(line, sizeof(line), "ok\nlog file %s reopened\n",
	    s->log.path);
	control_reply(&s->ctl, req, line);
}

/* The OpenMetrics page: the same snapshot as status. */
static void
print_metrics(struct sup *s, FILE *fp)
{
	struct metrics_now now = { .boot_ms = clock_boot_ms(),
	    .watchdog_ms = (int64_t)s->conf->watchdog * 1000 };
	struct status st;

	status_fill(&st, &s->rt, s->workers, s->mode, s->conf);
	st.config = s->conf_path;
	st.started_ms = s->started_wall;
	metrics_print(fp, &st, &s->rt.metrics, &now);
}

/* `harepdctl metrics` */
static void
reply_metrics(struct sup *s, const struct ctl_request *req)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	if ((fp = open_memstream(&buf, &len)) == NULL) {
		control_reply(&s->ctl, req, "error failed: out of memory\n");
		return;
	}
	fputs("ok\n", fp);
	print_metrics(s, fp);
	fclose(fp);
	control_reply(&s->ctl, req, buf);
	free(buf);
}

/*
 * The page the metrics worker serves (docs/METRICS.md): when a verdict,
 * an HbaApplied, a Hello or an exit changed it, else once a second; and
 * only once the last one has left the queue, so a worker that does not
 * read costs at most one page of memory and always gets the newest.
 */
static void
push_metrics(struct sup *s, int64_t now)
{
	struct worker *w = &s->workers[ROLE_METRICS];
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	if (w->state != W_READY || w->chan.fd == -1 ||
	    ipc_pending(&w->chan) || (!s->metrics_due &&
	    now < s->metrics_next))
		return;
	if ((fp = open_memstream(&buf, &len)) == NULL)
		return;
	print_metrics(s, fp);
	if (fclose(fp) == 0 && route_send_metrics(w, buf, len) == -1)
		log_warn("cannot send the metrics page to the metrics worker");
	free(buf);
	s->metrics_due = false;
	s->metrics_next = now + METRICS_PUSH_MS;
}

/* `harepdctl check`: the same snapshot, judged (check.c). */
static void
reply_check(struct sup *s, const struct ctl_request *req)
{
	struct metrics_now now = { .boot_ms = clock_boot_ms(),
	    .watchdog_ms = (int64_t)s->conf->watchdog * 1000 };
	char line[1400];
	struct status st;

	status_fill(&st, &s->rt, s->workers, s->mode, s->conf);
	st.config = s->conf_path;
	st.started_ms = s->started_wall;
	memcpy(line, "ok\n", 3);
	check_judge(&st, &now, line + 3, sizeof(line) - 3);
	control_reply(&s->ctl, req, line);
}

static void
run_command(struct sup *s, const struct ctl_request *req)
{
	struct status st;

	switch (req->cmd) {
	case CTL_STATUS:
	case CTL_STATUS_JSON:
		status_fill(&st, &s->rt, s->workers, s->mode, s->conf);
		st.config = s->conf_path;
		st.started_ms = s->started_wall;
		control_reply_status(&s->ctl, req, &st);
		break;
	case CTL_STOP_CLIENT:
	case CTL_START_CLIENT:
		set_paused(s, req->cmd == CTL_STOP_CLIENT);
		control_reply(&s->ctl, req, req->cmd == CTL_STOP_CLIENT ?
		    "ok\nclient paused: no more verdicts or pg_hba.conf "
		    "edits\n" : "ok\nclient resumed\n");
		break;
	case CTL_METRICS:
		reply_metrics(s, req);
		break;
	case CTL_CHECK:
		reply_check(s, req);
		break;
	case CTL_RELOAD:
		reply_reload(s, req);
		break;
	case CTL_REOPEN_LOGS:
		reply_reopen_logs(s, req);
		break;
	case CTL_STOP:
		/* the connection stays open until harepd has exited */
		if (s->stop_client_fd == -1 && !s->stopping)
			s->stop_client_fd = control_hold(&s->ctl, req);
		control_reply(&s->ctl, req, "ok\nstopping\n");
		begin_stop(s, "harepdctl stop");
		break;
	case CTL_BAD:
		control_reply(&s->ctl, req, "error bad-request: expected one "
		    "request line\n");
		break;
	}
}

static void
serve_control(struct sup *s, const struct pollfd *pfd)
{
	struct ctl_request req;

	control_events(&s->ctl, pfd, s->conf->pg_user, clock_mono_ms());
	while (control_next(&s->ctl, &req))
		run_command(s, &req);
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
			reap(s);
			break;
		case SIGTERM:
		case SIGINT:
			begin_stop(s, strsignal((int)si.ssi_signo));
			break;
		case SIGHUP:
			if (!s->stopping)
				(void)reload(s, why, sizeof(why));
			break;
		}
	}
	reap(s);	/* SIGCHLDs coalesce: reap whatever is there */
}

/* Restarts due, kills due, hung workers, WATCHDOG=1. */
static void
run_timers(struct sup *s, int64_t now)
{
	int64_t silence = proc_silence_ms(s->conf);

	for (size_t i = 0; i < ROLE_COUNT; i++) {
		struct worker *w = &s->workers[i];

		if (!s->stopping && proc_restart_due(w, now)) {
			w->restarts++;
			start_worker(s, w);
		}
		proc_check(w, now, silence, s->stopping);
		route_log_tick(&s->rt, w, now);
	}
	push_metrics(s, now);
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
	if (control_deadline(&s->ctl) < next)
		next = control_deadline(&s->ctl);
	if (s->workers[ROLE_METRICS].state == W_READY &&
	    s->metrics_next < next)
		next = s->metrics_next;
	return next <= now ? 0 : (int)(next - now);
}

/* pfd[0]: signals, then the workers' channels, then the control socket */
#define PFD_CTL	(1 + ROLE_COUNT)

static void
loop_once(struct sup *s)
{
	struct pollfd pfd[PFD_CTL + CTL_NPOLL];

	pfd[0] = (struct pollfd){ .fd = s->signal_fd, .events = POLLIN };
	for (size_t i = 0; i < ROLE_COUNT; i++) {
		struct ipc_chan *ch = &s->workers[i].chan;

		pfd[1 + i] = (struct pollfd){ .fd = ch->fd, .events = POLLIN |
		    (ipc_pending(ch) ? POLLOUT : 0) };
	}
	control_pollfds(&s->ctl, pfd + PFD_CTL);
	if (poll(pfd, PFD_CTL + CTL_NPOLL, poll_timeout(s, clock_mono_ms())) ==
	    -1 && errno != EINTR)
		fatal("poll");
	/* workers before signals: read a worker's last words before reaping */
	for (size_t i = 0; i < ROLE_COUNT; i++) {
		struct worker *w = &s->workers[i];

		if (w->chan.fd == -1 || w->chan.fd != pfd[1 + i].fd)
			continue;
		if (pfd[1 + i].revents & POLLOUT)
			(void)ipc_flush(&w->chan);
		if (pfd[1 + i].revents & (POLLIN | POLLHUP | POLLERR))
			routed(s, route_read(&s->rt, w));
	}
	if (pfd[0].revents & POLLIN)
		handle_signals(s);
	serve_control(s, pfd + PFD_CTL);
	run_timers(s, clock_mono_ms());
}

/* ---- start and end ---- */

static void
start_workers(struct sup *s)
{
	for (size_t i = 0; i < ROLE_COUNT; i++) {
		s->workers[i].enabled = role_wanted(s->workers[i].role, s->mode,
		    s->conf);
		if (s->workers[i].enabled)
			start_worker(s, &s->workers[i]);
	}
}

/* name, in the directory of the control socket (the run directory). */
static char *
run_dir_file(const char *socket_path, const char *name)
{
	const char *slash = strrchr(socket_path, '/');
	int dirlen = slash == NULL ? 1 : (int)(slash - socket_path);
	char *p;

	if (asprintf(&p, "%.*s/%s", dirlen, slash == NULL ? "." :
	    socket_path, name) == -1)
		fatal("asprintf");
	return p;
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
	s->control_path = xstrdup(s->conf->control_socket ?
	    s->conf->control_socket : CONF_DEFAULT_SOCKET);
	if ((s->control_fd = control_listen(s->control_path, why,
	    whylen)) == -1)
		return -1;
	control_init(&s->ctl, s->control_fd);
	s->record_path = run_dir_file(s->control_path, VERDICT_RECORD_NAME);
	load_verdict(s);
	if (sdnotify_init(&s->notify) == -1)
		log_warn("NOTIFY_SOCKET");
	s->next_watchdog = clock_mono_ms();
	return 0;
}

static void
sup_close(struct sup *s)
{
	if (s->control_fd != -1) {
		control_close(&s->ctl);
		close(s->control_fd);
		unlink(s->control_path);
	}
	if (s->signal_fd != -1)
		close(s->signal_fd);
	if (s->exe_fd != -1)
		close(s->exe_fd);
	for (size_t i = 0; i < ROLE_COUNT; i++)
		ipc_chan_close(&s->workers[i].chan);
	route_free(&s->rt);
	config_push_free(&s->push);
	if (s->conf != NULL)
		conf_free(s->conf);
	free(s->control_path);
	free(s->record_path);
	free(s->conf_path);
}

static void
sup_init(struct sup *s, const struct role *roles, const char *path,
    enum harepd_mode mode, int verbose)
{
	char *abs = realpath(path, NULL);

	memset(s, 0, sizeof(*s));
	s->roles = roles;
	s->conf_path = abs != NULL ? abs : xstrdup(path);
	s->mode = mode;
	s->verbose = verbose;
	s->as_root = (geteuid() == 0);
	s->exe_fd = s->signal_fd = s->control_fd = s->stop_client_fd = -1;
	s->started_mono = clock_mono_ms();
	s->started_wall = clock_wall_ms();
	harepd__config_push__init(&s->push);
	for (size_t i = 0; i < ROLE_COUNT; i++)
		proc_init(&s->workers[i], &roles[i]);
	s->rt = (struct route){ .workers = s->workers, .log = &s->log,
	    .mode = mode, .verbose = verbose };
	metrics_init(&s->rt.metrics);
}

int
supervisor_main(const struct role roles[ROLE_COUNT], const char *path,
    struct conf *loaded, enum harepd_mode mode, int verbose)
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
	sup_init(s, roles, path, mode, verbose);
	/* from here on SIGTERM waits in the signalfd: even during start it
	 * stops the workers in order and removes the socket */
	if ((s->signal_fd = setup_signals()) == -1)
		fatal("signalfd");
	log_set_verbose(verbose);
	log_init("harepd", logfile_sink, &s->log);
	(void)log_open(s, loaded);
	conf_free(loaded);	/* the one we load from bytes replaces it */
	if (config_load(s->conf_path, mode, &s->conf, &s->push, why,
	    sizeof(why)) == -1 || config_check_users(roles, ROLE_COUNT, mode,
	    s->conf, why, sizeof(why)) == -1) {
		log_emit(LOG_LVL_ERROR, NULL, 0, "%s", why);
		sup_close(s);
		return EX_CONFIG_BAD;
	}
	if (sup_open(s, why, sizeof(why)) == -1) {
		log_emit(LOG_LVL_ERROR, NULL, 0, "%s", why);
		sup_close(s);
		return 1;
	}
	log_info("harepd %s (git %s) started: mode %s, config %s, control "
	    "socket %s", harepd_version(), harepd_git_hash(), mode_name(mode),
	    s->conf_path, s->control_path);
	start_workers(s);
	while (!s->done)
		loop_once(s);
	log_info("harepd stopped");
	sup_close(s);
	logfile_close(&s->log);
	/* stop_client_fd stays open: the kernel closes it when this process
	 * is gone, and only then does `harepdctl stop` return */
	return 0;
}
