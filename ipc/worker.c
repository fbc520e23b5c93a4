/*
 * Worker side of the supervisor channel (docs/IPC.md). One channel per
 * process, guarded by one mutex, because the rpc worker logs from gRPC's
 * threads while its main thread sends LocalView-driven state. Nothing
 * here blocks while holding the mutex except the bounded flush at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "ipc/log.h"
#include "ipc/worker.h"
#include "util/clock.h"
#include "util/unconst.h"

/* log.c passes at most 32 fields plus "proc" */
#define WORKER_LOG_FIELDS	40

static pthread_mutex_t	 chan_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ipc_chan	 chan = { .fd = -1 };
static bool		 supervisor_gone;	/* send failed: peer closed */
static unsigned long	 log_dropped;		/* queue full */
static unsigned long	 log_dropped_told;	/* already reported */

static Harepd__Log__Level
log_level_pb(enum log_level lvl)
{
	switch (lvl) {
	case LOG_LVL_DEBUG: return HAREPD__LOG__LEVEL__DEBUG;
	case LOG_LVL_INFO: return HAREPD__LOG__LEVEL__INFO;
	case LOG_LVL_WARNING: return HAREPD__LOG__LEVEL__WARNING;
	case LOG_LVL_ERROR: return HAREPD__LOG__LEVEL__ERROR;
	}
	return HAREPD__LOG__LEVEL__INFO;
}

/*
 * The supervisor rejects an envelope with invalid UTF-8 (and restarts
 * the sender), and log lines quote what PostgreSQL or a peer said: send
 * a scrubbed copy rather than lose the line or the worker. s itself
 * when valid; copies collects what to free.
 */
static char *
utf8_safe(const char *s, char **copies, size_t *ncopies)
{
	char *copy;

	if (s == NULL)
		return "";
	if (ipc_utf8_valid(s))
		return unconst_str(s);
	if ((copy = strdup(s)) == NULL)
		return "(not UTF-8)";
	ipc_utf8_scrub(copy);
	copies[(*ncopies)++] = copy;
	return copy;
}

/* Called with chan_lock held. 0 sent or queued, -1 with errno. */
static int
send_log_locked(Harepd__Log__Level lvl, const char *msg,
    const struct log_field *f, size_t n)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	Harepd__Log lg;
	Harepd__LogField fields[WORKER_LOG_FIELDS];
	Harepd__LogField *fp[WORKER_LOG_FIELDS];
	char *copies[2 * WORKER_LOG_FIELDS + 1];
	size_t nc = 0;
	int r, saved;

	harepd__log__init(&lg);
	if (n > WORKER_LOG_FIELDS)
		n = WORKER_LOG_FIELDS;
	lg.level = lvl;
	lg.msg = utf8_safe(msg, copies, &nc);
	for (size_t i = 0; i < n; i++) {
		harepd__log_field__init(&fields[i]);
		fields[i].key = utf8_safe(f[i].key, copies, &nc);
		fields[i].value = utf8_safe(f[i].value, copies, &nc);
		fp[i] = &fields[i];
	}
	lg.n_fields = n;
	lg.fields = fp;
	env.body_case = HAREPD__ENVELOPE__BODY_LOG;
	env.log = &lg;
	r = ipc_send(&chan, &env);
	saved = errno;
	while (nc > 0)
		free(copies[--nc]);
	errno = saved;
	return r;
}

/*
 * Called with chan_lock held: say how many lines the queue swallowed,
 * once it has drained (earlier, the report would squeeze into the last
 * bytes of the queue again and again, one per dropped line).
 */
static void
report_drops_locked(void)
{
	struct log_field f[] = { { "proc", log_procname() } };
	char msg[96];

	if (log_dropped == log_dropped_told || ipc_flush(&chan) != 0)
		return;
	snprintf(msg, sizeof(msg), "%lu log lines dropped: queue to the "
	    "supervisor was full", log_dropped - log_dropped_told);
	if (send_log_locked(HAREPD__LOG__LEVEL__WARNING, msg, f, 1) == 0)
		log_dropped_told = log_dropped;
}

static void
worker_sink(enum log_level lvl, const char *msg, const struct log_field *f,
    size_t n, void *arg)
{
	int r = -1, saved = 0;

	pthread_mutex_lock(&chan_lock);
	if (!supervisor_gone) {
		report_drops_locked();
		r = send_log_locked(log_level_pb(lvl), msg, f, n);
		saved = errno;
		if (r == -1 && saved == ENOBUFS)
			log_dropped++;
		else if (r == -1 && (saved == EPIPE || saved == ECONNRESET))
			supervisor_gone = true;
	}
	pthread_mutex_unlock(&chan_lock);
	/* never block on a full queue; a lost supervisor leaves stderr */
	if (r == -1 && saved != ENOBUFS)
		log_write_stderr(lvl, msg, f, n);
}

static void
exit_flush(void)
{
	pthread_mutex_lock(&chan_lock);
	if (chan.fd != -1 && !supervisor_gone)
		ipc_flush_wait(&chan, WORKER_EXIT_FLUSH_MS);
	pthread_mutex_unlock(&chan_lock);
}

static void
check_channel(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_SEQPACKET)
		fatalx("fd %d is not the supervisor's channel: workers are "
		    "started by the harepd supervisor only", fd);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		fatal("fcntl on the supervisor's channel");
}

/*
 * A worker must not outlive its supervisor: nobody would restart it,
 * read its logs or stop it. PDEATHSIG covers a later death; getppid()
 * == 1 means it happened before prctl (reparented to init).
 */
static void
tie_to_parent(void)
{
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		fatal("prctl(PR_SET_PDEATHSIG)");
	if (getppid() == 1) {
		fprintf(stderr, "harepd: %s: supervisor already gone\n",
		    log_procname());
		_exit(1);
	}
}

void
worker_init_fd(const char *role, int fd)
{
	static bool registered;

	log_init(role, NULL, NULL);	/* stderr until the channel works */
	/* exec made us dumpable again: without this, any process of our
	 * uid (postgres, nobody) could ptrace us or read our memory,
	 * environ and descriptors (the probe holds the repmgr password) */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
		fprintf(stderr, "harepd: %s: PR_SET_DUMPABLE: %s\n", role,
		    strerror(errno));
		_exit(1);
	}
	check_channel(fd);
	tie_to_parent();
	/* libraries (libpq, gRPC) may write to dead sockets too */
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_lock(&chan_lock);
	ipc_chan_init(&chan, fd);
	supervisor_gone = false;
	pthread_mutex_unlock(&chan_lock);
	log_init(role, worker_sink, NULL);
	if (!registered && atexit(exit_flush) == 0)
		registered = true;
}

void
worker_init(const char *role)
{
	worker_init_fd(role, IPC_FD);
}

int
worker_send(const ipc_envelope *env)
{
	int r, saved;

	pthread_mutex_lock(&chan_lock);
	r = ipc_send(&chan, env);
	saved = errno;
	if (r == -1 && (saved == EPIPE || saved == ECONNRESET))
		supervisor_gone = true;
	pthread_mutex_unlock(&chan_lock);
	errno = saved;
	return r;
}

int
worker_flush(void)
{
	int r, saved;

	pthread_mutex_lock(&chan_lock);
	r = ipc_flush(&chan);
	saved = errno;
	pthread_mutex_unlock(&chan_lock);
	errno = saved;
	return r;
}

bool
worker_pending(void)
{
	bool p;

	pthread_mutex_lock(&chan_lock);
	p = ipc_pending(&chan);
	pthread_mutex_unlock(&chan_lock);
	return p;
}

int
worker_fd(void)
{
	return chan.fd;
}

/* No lock: ipc_recv touches only the descriptor, never the send queue. */
enum ipc_rc
worker_recv(ipc_envelope **out, char *err, size_t errlen)
{
	struct ipc_chan rx;

	ipc_chan_init(&rx, worker_fd());
	return ipc_recv(&rx, out, err, errlen);
}

unsigned long
worker_log_dropped(void)
{
	unsigned long n;

	pthread_mutex_lock(&chan_lock);
	n = log_dropped;
	pthread_mutex_unlock(&chan_lock);
	return n;
}

int
worker_send_hello(const char *role)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	Harepd__Hello hello;

	harepd__hello__init(&hello);
	hello.role = unconst_str(role);
	hello.pid = (int32_t)getpid();
	env.body_case = HAREPD__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	return worker_send(&env);
}

void
worker_exit(int status)
{
	exit_flush();
	exit(status);
}

struct conf *
worker_conf_from_push(const Harepd__ConfigPush *push)
{
	struct conf_diag diag = { 0 };
	const char *name = push->path && push->path[0] ? push->path :
	    "(configuration from the supervisor)";
	const char *yaml = push->yaml.data ? (const char *)push->yaml.data : "";
	struct conf *c;

	c = conf_load_buffer(name, yaml, push->yaml.len, &diag);
	for (size_t i = 0; i < diag.n_errors; i++)
		log_warnx("%s", diag.errors[i]);
	conf_diag_free(&diag);
	return c;
}

void
worker_config_push_free(Harepd__ConfigPush *push)
{
	if (push != NULL)
		harepd__config_push__free_unpacked(push, NULL);
}

/* Next envelope from the supervisor; any failure to get one is fatal. */
static ipc_envelope *
wait_envelope(int64_t deadline, int timeout_ms)
{
	struct pollfd pfd = { .fd = worker_fd() };
	ipc_envelope *env;
	char err[256];
	enum ipc_rc rc;
	int left;

	while ((rc = worker_recv(&env, err, sizeof(err))) == IPC_AGAIN) {
		left = deadline < 0 ? -1 : (int)(deadline - clock_mono_ms());
		if (deadline >= 0 && left <= 0)
			fatalx("no configuration from the supervisor after "
			    "waiting %d ms", timeout_ms);
		pfd.events = POLLIN | (worker_pending() ? POLLOUT : 0);
		if (poll(&pfd, 1, left) == -1 && errno != EINTR)
			fatal("poll on the supervisor's channel");
		if (pfd.revents & POLLOUT)
			worker_flush();
	}
	if (rc != IPC_OK)
		fatalx("waiting for the configuration: %s: %s", ipc_rc_str(rc),
		    err);
	return env;
}

/* Takes the ConfigPush out of env (freed here) so it can outlive it. */
static Harepd__ConfigPush *
detach_push(ipc_envelope *env)
{
	Harepd__ConfigPush *push = env->config;

	env->config = NULL;
	env->body_case = HAREPD__ENVELOPE__BODY__NOT_SET;
	ipc_free(env);
	return push;
}

/* Anything but a ConfigPush before the configuration. */
static void
early_message(ipc_envelope *env)
{
	if (env->body_case == HAREPD__ENVELOPE__BODY_CONTROL &&
	    env->control->command == HAREPD__CONTROL__COMMAND__SHUTDOWN) {
		log_info("shutdown requested before the configuration arrived");
		ipc_free(env);
		worker_exit(0);
	}
	log_warnx("dropped a %s message received before the configuration",
	    ipc_body_name(env->body_case));
	ipc_free(env);
}

struct conf *
worker_wait_config(int timeout_ms, Harepd__ConfigPush **push_out)
{
	int64_t deadline = timeout_ms < 0 ? -1 : clock_mono_ms() + timeout_ms;
	Harepd__ConfigPush *push;
	ipc_envelope *env;
	struct conf *c;

	for (;;) {
		env = wait_envelope(deadline, timeout_ms);
		if (env->body_case == HAREPD__ENVELOPE__BODY_CONFIG)
			break;
		early_message(env);
	}
	push = detach_push(env);
	if ((c = worker_conf_from_push(push)) == NULL)
		fatalx("configuration %s from the supervisor does not load",
		    push->path && push->path[0] ? push->path : "(unnamed)");
	if (push_out != NULL)
		*push_out = push;
	else
		worker_config_push_free(push);
	return c;
}

/* ---- the worker loop ---- */

/* Messages read during a long callback, handled after it. */
#define WORKER_DEFERRED_MAX	16

static bool		 loop_stop;
static const struct worker_ops *running;	/* worker_run's, for check_stop */
static ipc_envelope	*deferred[WORKER_DEFERRED_MAX];
static size_t		 n_deferred;

void
worker_stop(void)
{
	loop_stop = true;
}

bool
worker_stopping(void)
{
	return loop_stop;
}

static bool
is_shutdown(const ipc_envelope *env)
{
	return env->body_case == HAREPD__ENVELOPE__BODY_CONTROL &&
	    env->control->command == HAREPD__CONTROL__COMMAND__SHUTDOWN;
}

/*
 * One receive, with the loop's rules for what is not a message: NULL
 * when there is nothing (more) to handle now.
 */
static ipc_envelope *
next_envelope(void)
{
	ipc_envelope *env;
	enum ipc_rc rc;
	char err[256];

	while (!loop_stop &&
	    (rc = worker_recv(&env, err, sizeof(err))) != IPC_AGAIN) {
		if (rc == IPC_OK)
			return env;
		if (rc == IPC_EOF || rc == IPC_SYSERR) {
			log_warnx("supervisor channel: %s, stopping",
			    ipc_rc_str(rc));
			loop_stop = true;
		} else
			log_emit(LOG_LVL_ERROR, NULL, 0, "bad message from the "
			    "supervisor, dropped: %s: %s", ipc_rc_str(rc), err);
	}
	return NULL;
}

static void
take_config(const struct worker_ops *ops, ipc_envelope *env)
{
	struct conf *c;

	if ((c = worker_conf_from_push(env->config)) == NULL) {
		log_warnx("reloaded configuration does not load: keeping the "
		    "running one");
		return;
	}
	ops->on_config(ops->arg, c, &env->config);
	if (env->config == NULL)	/* the worker took it */
		env->body_case = HAREPD__ENVELOPE__BODY__NOT_SET;
}

static void
dispatch(const struct worker_ops *ops, ipc_envelope *env)
{
	if (is_shutdown(env)) {
		log_info("shutdown requested");
		loop_stop = true;
	} else if (env->body_case == HAREPD__ENVELOPE__BODY_CONTROL &&
	    ops->on_control != NULL)
		ops->on_control(ops->arg, env->control);
	else if (env->body_case == HAREPD__ENVELOPE__BODY_VERDICT &&
	    ops->on_verdict != NULL)
		ops->on_verdict(ops->arg, env->verdict);
	else if (env->body_case == HAREPD__ENVELOPE__BODY_LOCAL_VIEW &&
	    ops->on_view != NULL)
		ops->on_view(ops->arg, env->local_view);
	else if (env->body_case == HAREPD__ENVELOPE__BODY_CONFIG &&
	    ops->on_config != NULL)
		take_config(ops, env);
	else if (env->body_case == HAREPD__ENVELOPE__BODY_GATE_DECLARED &&
	    ops->on_gate_declared != NULL)
		ops->on_gate_declared(ops->arg, env->gate_declared);
	else if (env->body_case == HAREPD__ENVELOPE__BODY_GATE_SERVED &&
	    ops->on_gate_served != NULL)
		ops->on_gate_served(ops->arg, env->gate_served);
	else if (env->body_case == HAREPD__ENVELOPE__BODY_METRICS_TEXT &&
	    ops->on_metrics_text != NULL)
		ops->on_metrics_text(ops->arg, env->metrics_text);
	else if (env->body_case == HAREPD__ENVELOPE__BODY_HBA_APPLIED &&
	    ops->on_hba_applied != NULL)
		ops->on_hba_applied(ops->arg, env->hba_applied);
	else
		log_warnx("unexpected %s message from the supervisor, dropped",
		    ipc_body_name(env->body_case));
}

static void
read_channel(const struct worker_ops *ops)
{
	ipc_envelope *env;

	while ((env = next_envelope()) != NULL) {
		dispatch(ops, env);
		ipc_free(env);
	}
}

bool
worker_check_stop(void)
{
	ipc_envelope *env;

	while (!loop_stop && n_deferred < WORKER_DEFERRED_MAX &&
	    (env = next_envelope()) != NULL) {
		if (is_shutdown(env)) {
			log_info("shutdown requested");
			loop_stop = true;
			ipc_free(env);
		} else if (env->body_case ==
		    HAREPD__ENVELOPE__BODY_GATE_SERVED && running != NULL &&
		    running->on_gate_served != NULL) {
			running->on_gate_served(running->arg, env->gate_served);
			ipc_free(env);
		} else
			deferred[n_deferred++] = env;
	}
	return loop_stop;
}

/* What came during a long callback, in order; dropped once stopping. */
static void
run_deferred(const struct worker_ops *ops)
{
	size_t i;

	for (i = 0; i < n_deferred; i++) {
		if (!loop_stop)
			dispatch(ops, deferred[i]);
		ipc_free(deferred[i]);
	}
	n_deferred = 0;
}

/* The channel and the worker's own descriptors, at most this many. */
#define WORKER_POLL_MAX		64

/* pfd[0] is the channel, then n - 1 of the worker's; returns n. */
static size_t
wait_channel(const struct worker_ops *ops, struct pollfd *pfd)
{
	struct timespec ts, *tsp = NULL;
	int timeout = ops->next_timeout ? ops->next_timeout(ops->arg) : -1;
	size_t n = 1;
	int r;

	pfd[0].events = POLLIN | (worker_pending() ? POLLOUT : 0);
	pfd[0].revents = 0;
	if (ops->poll_fds != NULL)
		n += ops->poll_fds(ops->arg, pfd + 1, WORKER_POLL_MAX - 1);
	for (size_t i = 1; i < n; i++)
		pfd[i].revents = 0;
	if (ops->sigmask == NULL)
		r = poll(pfd, n, timeout);
	else {
		if (timeout >= 0) {
			ts.tv_sec = timeout / 1000;
			ts.tv_nsec = (long)(timeout % 1000) * 1000000L;
			tsp = &ts;
		}
		r = ppoll(pfd, n, tsp, ops->sigmask);
	}
	if (r == -1 && errno != EINTR)
		fatal("poll on the supervisor's channel");
	return n;
}

void
worker_run(const struct worker_ops *ops)
{
	struct pollfd pfd[WORKER_POLL_MAX] = { { .fd = worker_fd() } };
	size_t n;

	loop_stop = false;
	running = ops;
	while (!loop_stop) {
		n = wait_channel(ops, pfd);
		if (pfd[0].revents & POLLOUT)
			worker_flush();
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			read_channel(ops);
		if (!loop_stop && ops->on_fds != NULL && n > 1)
			ops->on_fds(ops->arg, pfd + 1, n - 1);
		if (!loop_stop && ops->on_timer != NULL)
			ops->on_timer(ops->arg);
		run_deferred(ops);
	}
	running = NULL;
}
