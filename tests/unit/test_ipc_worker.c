/*
 * ipc/worker.c seen from a fake supervisor: each test forks a worker
 * process that runs the scaffolding on its end of a socketpair, and the
 * test (the supervisor) reads what arrives and how the worker exits.
 *
 * Over 600 lines: one case per rule of the one worker loop (bad message,
 * shutdown, config push, timers, gate served), sharing the fork fixture.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "conf/conf.h"
#include "ipc/ipc.h"
#include "ipc/log.h"
#include "ipc/worker.h"
#include "util/unconst.h"

/* The seed's sample, as the supervisor would push it. */
static const char seed_yaml[] =
    "harepd:\n"
    "    nodeName: \"node_1\"\n"
    "    primaryIP: \"10.21.57.61\"\n"
    "    allowRO: false\n"
    "    hbaConfig: \"/etc/postgresql/15/main/pg_hba.conf\"\n"
    "    haproxy:\n"
    "        server:\n"
    "        - \"10.21.57.65\"\n"
    "        users:\n"
    "          readOnly: \"haro\"\n"
    "          readWrite: \"harw\"\n"
    "    authModes:\n"
    "        allow: \"md5\"\n"
    "        deny: \"reject\"\n"
    "    repmgr:\n"
    "        user: \"repmgr\"\n"
    "        db: \"repmgr\"\n"
    "    gRPC:\n"
    "        tls:\n"
    "          enabled: false\n"
    "        bindPort: 10000\n"
    "        bindAddress: \"10.21.51.61\"\n"
    "        serverHostOverride: \"\"\n"
    "        neighbours:\n"
    "        - \"10.21.57.62:10000\"\n"
    "        witness: \"10.21.57.63:10000\"\n"
    "        connectionDeadline: 5\n"
    "    watchDog: 15\n"
    "    logs:\n"
    "        filePath: /var/log/harepd.log\n"
    "        maxAge: 86400\n"
    "        rotationTime: 604800\n";

struct worker {
	pid_t		 pid;
	struct ipc_chan	 sup;		/* the supervisor's end */
};

typedef void (*worker_body)(int fd, void *arg);

/* Forks a worker running body on its end; body must not return. */
static void
spawn(struct worker *w, worker_body body, void *arg)
{
	int sv[2];

	assert_int_equal(ipc_socketpair(sv), 0);
	w->pid = fork();
	assert_true(w->pid != -1);
	if (w->pid == 0) {
		/* a worker whose supervisor is gone logs to stderr: keep TAP clean */
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDERR_FILENO);
		close(null);
		close(sv[0]);
		body(sv[1], arg);
		_exit(99);
	}
	close(sv[1]);
	ipc_chan_init(&w->sup, sv[0]);
}

/* Exit status of the worker, or 128 + signal. */
static int
reap(struct worker *w)
{
	int status;

	assert_int_equal(waitpid(w->pid, &status, 0), w->pid);
	ipc_chan_close(&w->sup);
	return WIFEXITED(status) ? WEXITSTATUS(status) :
	    128 + WTERMSIG(status);
}

/* Next envelope within timeout_ms; NULL at end of channel. */
static ipc_envelope *
next(struct ipc_chan *ch, int timeout_ms)
{
	struct pollfd pfd = { .fd = ch->fd, .events = POLLIN };
	ipc_envelope *env;
	char err[256];
	enum ipc_rc rc;

	while ((rc = ipc_recv(ch, &env, err, sizeof(err))) == IPC_AGAIN) {
		if (ipc_pending(ch))
			ipc_flush(ch);
		if (poll(&pfd, 1, timeout_ms) == 0)
			fail_msg("nothing from the worker in %d ms", timeout_ms);
	}
	if (rc == IPC_EOF)
		return NULL;
	if (rc != IPC_OK)
		fail_msg("from the worker: %s: %s", ipc_rc_str(rc), err);
	return env;
}

/* Next Log line; fails on anything else. Caller frees. */
static Harepd__Log *
next_log(struct ipc_chan *ch, ipc_envelope **env)
{
	*env = next(ch, 5000);
	assert_non_null(*env);
	if ((*env)->body_case != HAREPD__ENVELOPE__BODY_LOG)
		fail_msg("expected a log line, got %s",
		    ipc_body_name((*env)->body_case));
	return (*env)->log;
}

static void
expect_log(struct ipc_chan *ch, Harepd__Log__Level lvl, const char *needle)
{
	ipc_envelope *env;
	Harepd__Log *lg = next_log(ch, &env);

	if (strstr(lg->msg, needle) == NULL)
		fail_msg("log \"%s\" does not say \"%s\"", lg->msg, needle);
	assert_int_equal(lg->level, lvl);
	ipc_free(env);
}

static void
send_control(struct ipc_chan *ch, Harepd__Control__Command cmd)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	Harepd__Control c = HAREPD__CONTROL__INIT;

	c.command = cmd;
	env.body_case = HAREPD__ENVELOPE__BODY_CONTROL;
	env.control = &c;
	assert_int_equal(ipc_send(ch, &env), 0);
}

static void
send_config(struct ipc_chan *ch, const char *yaml)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	Harepd__ConfigPush push = HAREPD__CONFIG_PUSH__INIT;

	push.path = "/etc/harepd/test.yml";
	push.yaml = (ProtobufCBinaryData){ strlen(yaml), unconst_ptr(yaml) };
	push.tls_ca = (ProtobufCBinaryData){ 5, (uint8_t *)"PEM\0!" };
	env.body_case = HAREPD__ENVELOPE__BODY_CONFIG;
	env.config = &push;
	assert_int_equal(ipc_send(ch, &env), 0);
}

static void
body_logs(int fd, void *arg)
{
	struct log_field f[] = { { "peer", "東京:10000" }, { "n", "2" },
	    { "raw", "\xffok" } };

	worker_init_fd("probe", fd);
	log_info("hello %s", "world");
	log_emit(LOG_LVL_WARNING, f, 3, "peer %s did not answer", "東京");
	log_warnx("latin1 from somewhere: caf\xe9");
	log_debug("not sent unless verbose");
	errno = ENOENT;
	log_warn("open");
	worker_exit(0);
}

static void
test_log_lines_forwarded(void **state)
{
	struct worker w;
	ipc_envelope *env;
	Harepd__Log *lg;

	spawn(&w, body_logs, NULL);
	lg = next_log(&w.sup, &env);
	assert_string_equal(lg->msg, "hello world");
	assert_int_equal(lg->level, HAREPD__LOG__LEVEL__INFO);
	assert_int_equal(lg->n_fields, 1);
	assert_string_equal(lg->fields[0]->key, "proc");
	assert_string_equal(lg->fields[0]->value, "probe");
	ipc_free(env);

	lg = next_log(&w.sup, &env);
	assert_string_equal(lg->msg, "peer 東京 did not answer");
	assert_int_equal(lg->level, HAREPD__LOG__LEVEL__WARNING);
	assert_int_equal(lg->n_fields, 4);
	assert_string_equal(lg->fields[1]->key, "peer");
	assert_string_equal(lg->fields[1]->value, "東京:10000");
	assert_string_equal(lg->fields[2]->value, "2");
	assert_string_equal(lg->fields[3]->value, "?ok");
	ipc_free(env);

	/* invalid UTF-8 is scrubbed, not a reason to lose line or worker */
	expect_log(&w.sup, HAREPD__LOG__LEVEL__WARNING, "caf?");
	expect_log(&w.sup, HAREPD__LOG__LEVEL__WARNING, "open: No such file");
	assert_null(next(&w.sup, 5000));
	assert_int_equal(reap(&w), 0);
}

static void
body_hello(int fd, void *arg)
{
	worker_init_fd("hba", fd);
	if (worker_send_hello("hba") != 0)
		_exit(2);
	worker_exit(0);
}

static void
test_hello(void **state)
{
	struct worker w;
	ipc_envelope *env;

	spawn(&w, body_hello, NULL);
	env = next(&w.sup, 5000);
	assert_non_null(env);
	assert_int_equal(env->body_case, HAREPD__ENVELOPE__BODY_HELLO);
	assert_string_equal(env->hello->role, "hba");
	assert_int_equal(env->hello->pid, w.pid);
	ipc_free(env);
	assert_int_equal(reap(&w), 0);
}

static void
body_flags(int fd, void *arg)
{
	int sv[2];

	/* a blocking, inheritable descriptor, as the worker finds it after exec */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0)
		_exit(2);
	worker_init_fd("test", sv[1]);
	if (worker_fd() != sv[1])
		_exit(3);
	if (!(fcntl(sv[1], F_GETFL) & O_NONBLOCK))
		_exit(4);
	if (!(fcntl(sv[1], F_GETFD) & FD_CLOEXEC))
		_exit(5);
	if (signal(SIGPIPE, SIG_DFL) != SIG_IGN)
		_exit(6);
	_exit(0);
}

static void
test_channel_flags(void **state)
{
	struct worker w;

	spawn(&w, body_flags, NULL);
	assert_int_equal(reap(&w), 0);
}

/* The worker's side of the start-up handshake; reports via Hello. */
static void
body_wait_config(int fd, void *arg)
{
	Harepd__ConfigPush *push = NULL;
	struct conf *c;
	char role[128];

	worker_init_fd("rpc", fd);
	c = worker_wait_config(5000, &push);
	/* role carries what the test checks: the loaded node and PEM bytes */
	snprintf(role, sizeof(role), "%s/%zu/%s", c->node_name,
	    push->tls_ca.len, push->path);
	worker_send_hello(role);
	worker_config_push_free(push);
	conf_free(c);
	worker_exit(0);
}

static bool
conf_loader_works(void)
{
	struct conf_diag diag = { 0 };
	struct conf *c = conf_load_buffer("t", seed_yaml, strlen(seed_yaml),
	    &diag);

	conf_diag_free(&diag);
	conf_free(c);
	return c != NULL;
}

static void
test_wait_config(void **state)
{
	bool loads = conf_loader_works();
	struct worker w;
	ipc_envelope *env;

	spawn(&w, body_wait_config, NULL);
	/* what comes before the config is dropped, with a word in the log */
	send_control(&w.sup, HAREPD__CONTROL__COMMAND__PAUSE);
	send_config(&w.sup, seed_yaml);
	expect_log(&w.sup, HAREPD__LOG__LEVEL__WARNING,
	    "dropped a control message received before the configuration");
	if (!loads) {
		/* conf/ cannot load the sample yet: the worker must give up */
		print_message("# conf_load_buffer rejects the sample: "
		    "checking the fatal path\n");
		while ((env = next(&w.sup, 5000)) != NULL &&
		    strstr(env->log->msg, "does not load") == NULL)
			ipc_free(env);
		assert_non_null(env);
		assert_int_equal(env->log->level, HAREPD__LOG__LEVEL__ERROR);
		assert_non_null(strstr(env->log->msg, "/etc/harepd/test.yml"));
		ipc_free(env);
		assert_int_equal(reap(&w), 1);
		return;
	}
	env = next(&w.sup, 5000);
	assert_non_null(env);
	assert_int_equal(env->body_case, HAREPD__ENVELOPE__BODY_HELLO);
	assert_string_equal(env->hello->role, "node_1/5//etc/harepd/test.yml");
	ipc_free(env);
	assert_int_equal(reap(&w), 0);
}

static void
body_wait_config_only(int fd, void *arg)
{
	worker_init_fd("probe", fd);
	worker_wait_config(*(int *)arg, NULL);
	_exit(3);	/* the tests using this never send a loadable config */
}

static void
test_bad_config_is_fatal(void **state)
{
	int timeout = 5000;
	struct worker w;

	spawn(&w, body_wait_config_only, &timeout);
	send_config(&w.sup, "harepd: [not, a, mapping\n");
	/* conf's own errors (if any) first, then the verdict */
	for (;;) {
		ipc_envelope *env;
		Harepd__Log *lg = next_log(&w.sup, &env);
		bool last = strstr(lg->msg, "does not load") != NULL;

		if (last)
			assert_int_equal(lg->level, HAREPD__LOG__LEVEL__ERROR);
		ipc_free(env);
		if (last)
			break;
	}
	assert_int_equal(reap(&w), 1);
}

static void
test_shutdown_before_config(void **state)
{
	int timeout = 5000;
	struct worker w;

	spawn(&w, body_wait_config_only, &timeout);
	send_control(&w.sup, HAREPD__CONTROL__COMMAND__SHUTDOWN);
	expect_log(&w.sup, HAREPD__LOG__LEVEL__INFO, "shutdown requested");
	assert_null(next(&w.sup, 5000));
	assert_int_equal(reap(&w), 0);
}

static void
test_config_timeout(void **state)
{
	int timeout = 100;
	struct worker w;

	spawn(&w, body_wait_config_only, &timeout);
	expect_log(&w.sup, HAREPD__LOG__LEVEL__ERROR,
	    "no configuration from the supervisor after waiting 100 ms");
	assert_int_equal(reap(&w), 1);
}

static void
test_supervisor_gone_before_config(void **state)
{
	int timeout = 5000;
	struct worker w;

	spawn(&w, body_wait_config_only, &timeout);
	close(w.sup.fd);
	w.sup.fd = -1;
	assert_int_equal(reap(&w), 1);
}

/* The supervisor sends garbage: the worker stops rather than guesses. */
static void
test_garbage_from_supervisor(void **state)
{
	int timeout = 5000;
	struct worker w;

	spawn(&w, body_wait_config_only, &timeout);
	assert_int_equal(send(w.sup.fd, "\x3a\x05\x08", 3, 0), 3);
	expect_log(&w.sup, HAREPD__LOG__LEVEL__ERROR, "truncated");
	assert_int_equal(reap(&w), 1);
}

static void
send_verdict(struct ipc_chan *ch)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	Harepd__Verdict v = HAREPD__VERDICT__INIT;

	v.seq = 1;
	env.body_case = HAREPD__ENVELOPE__BODY_VERDICT;
	env.verdict = &v;
	assert_int_equal(ipc_send(ch, &env), 0);
}

static void
loop_control(void *arg, const Harepd__Control *ctl)
{
	log_info("control %d", (int)ctl->command);
}

static int
loop_timeout(void *arg)
{
	return 50;
}

static void
loop_timer(void *arg)
{
	(*(int *)arg)++;
}

/* worker_run with a control handler: logs what it is handed. */
static void
body_loop(int fd, void *arg)
{
	int ticks = 0;
	struct conf *c;

	worker_init_fd("hba", fd);
	c = worker_wait_config(5000, NULL);
	worker_run(&(struct worker_ops){ .arg = &ticks,
	    .on_control = loop_control, .next_timeout = loop_timeout,
	    .on_timer = loop_timer });
	log_info("loop ended after %s", ticks > 0 ? "timers" : "no timer");
	conf_free(c);
	worker_exit(0);
}

/*
 * worker_run's rules: a datagram that does not decode is logged as an
 * error and dropped, and the loop goes on; bodies without a handler are
 * dropped with a warning; SHUTDOWN ends the loop (the worker's own code
 * runs after it) and the worker exits 0.
 */
static void
test_loop_rules(void **state)
{
	struct worker w;

	if (!conf_loader_works())
		skip();
	spawn(&w, body_loop, NULL);
	send_config(&w.sup, seed_yaml);
	assert_int_equal(send(w.sup.fd, "\x3a\x05\x08", 3, 0), 3);
	expect_log(&w.sup, HAREPD__LOG__LEVEL__ERROR, "bad message from the "
	    "supervisor, dropped: truncated");
	send_control(&w.sup, HAREPD__CONTROL__COMMAND__PAUSE);
	expect_log(&w.sup, HAREPD__LOG__LEVEL__INFO, "control 2");
	send_verdict(&w.sup);
	expect_log(&w.sup, HAREPD__LOG__LEVEL__WARNING, "unexpected");
	usleep(120 * 1000);	/* a few timers */
	send_control(&w.sup, HAREPD__CONTROL__COMMAND__SHUTDOWN);
	expect_log(&w.sup, HAREPD__LOG__LEVEL__INFO, "shutdown requested");
	/* the worker's own code runs after the loop */
	expect_log(&w.sup, HAREPD__LOG__LEVEL__INFO, "loop ended after timers");
	assert_null(next(&w.sup, 5000));
	assert_int_equal(reap(&w), 0);
}

#define THREADS		4
#define PER_THREAD	500

static void *
log_thread(void *arg)
{
	long t = (long)arg;

	for (int i = 0; i < PER_THREAD; i++)
		log_info("thread %ld line %d", t, i);
	return NULL;
}

static void
body_threads(int fd, void *arg)
{
	pthread_t t[THREADS];

	worker_init_fd("rpc", fd);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, log_thread, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	worker_exit(worker_log_dropped() == 0 ? 0 : 4);
}

/* Lines from several threads arrive whole, each thread's in order. */
static void
test_threads(void **state)
{
	int seen[THREADS] = { 0 };
	struct worker w;
	ipc_envelope *env;
	long t;
	int i;

	spawn(&w, body_threads, NULL);
	for (int n = 0; n < THREADS * PER_THREAD; n++) {
		Harepd__Log *lg = next_log(&w.sup, &env);

		assert_int_equal(sscanf(lg->msg, "thread %ld line %d", &t, &i), 2);
		assert_true(t >= 0 && t < THREADS);
		assert_int_equal(i, seen[t]);
		seen[t]++;
		ipc_free(env);
	}
	assert_null(next(&w.sup, 5000));
	assert_int_equal(reap(&w), 0);
}

#define FLOOD_LINES	2000
#define FLOOD_LEN	3000

static void
body_flood(int fd, void *arg)
{
	int ready = *(int *)arg;
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	char *big = malloc(FLOOD_LEN + 1);

	memset(big, 'f', FLOOD_LEN);
	big[FLOOD_LEN] = '\0';
	worker_init_fd("probe", fd);
	/* nobody reads yet: the queue fills, lines are dropped, never blocks */
	for (int i = 0; i < FLOOD_LINES; i++)
		log_info("line %d %s", i, big);
	free(big);
	if (write(ready, "x", 1) != 1)
		_exit(5);
	while (worker_pending()) {
		poll(&pfd, 1, 1000);
		worker_flush();
	}
	log_info("final");
	worker_exit(0);
}

static void
test_full_queue_drops(void **state)
{
	unsigned long dropped = 0, lines = 0, reports = 0;
	int pipefd[2], last = -1, n;
	struct worker w;
	ipc_envelope *env;
	char c;

	assert_int_equal(pipe(pipefd), 0);
	spawn(&w, body_flood, &pipefd[1]);
	close(pipefd[1]);
	/* the worker finishes flooding without anyone reading */
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	close(pipefd[0]);
	for (;;) {
		Harepd__Log *lg = next_log(&w.sup, &env);

		if (sscanf(lg->msg, "line %d", &n) == 1) {
			assert_true(n > last);	/* in order, gaps allowed */
			last = n;
			lines++;
		} else if (sscanf(lg->msg, "%lu log lines dropped", &dropped) == 1) {
			/* one report, once the queue has drained */
			assert_int_equal(reports++, 0);
			assert_int_equal(lg->level, HAREPD__LOG__LEVEL__WARNING);
		} else {
			assert_string_equal(lg->msg, "final");
			ipc_free(env);
			break;
		}
		ipc_free(env);
	}
	assert_true(dropped > 0);
	assert_true(lines > 0);
	assert_int_equal(lines + dropped, FLOOD_LINES);
	assert_null(next(&w.sup, 5000));
	assert_int_equal(reap(&w), 0);
}

static void
body_not_a_socket(int fd, void *arg)
{
	int p[2];

	if (pipe(p) != 0)
		_exit(6);
	dup2(*(int *)arg, STDERR_FILENO);
	worker_init_fd("hba", p[0]);
	_exit(0);
}

static void
test_refuses_non_socket(void **state)
{
	int errpipe[2];
	char buf[512] = "";
	struct worker w;

	assert_int_equal(pipe(errpipe), 0);
	spawn(&w, body_not_a_socket, &errpipe[1]);
	close(errpipe[1]);
	assert_int_equal(reap(&w), 1);
	assert_true(read(errpipe[0], buf, sizeof(buf) - 1) > 0);
	close(errpipe[0]);
	assert_non_null(strstr(buf, "is not the supervisor's channel"));
}

static void
body_grandchild(int fd, void *arg)
{
	int ready = *(int *)arg, q[2];
	pid_t g;
	char c;

	if (pipe(q) != 0 || (g = fork()) == -1)
		_exit(6);
	if (g == 0) {
		worker_init_fd("probe", fd);
		g = getpid();
		if (write(ready, &g, sizeof(g)) != sizeof(g) ||
		    write(q[1], "x", 1) != 1)
			_exit(5);
		for (;;)
			pause();
	}
	/* die only once the grandchild has asked for PDEATHSIG */
	_exit(read(q[0], &c, 1) == 1 ? 0 : 7);
}

/* The supervisor dies: its worker gets SIGTERM (PR_SET_PDEATHSIG). */
static void
test_dies_with_parent(void **state)
{
	int pipefd[2], status = 0;
	struct worker w;
	pid_t g, r = 0;

	/* orphans come to us, so we can reap the grandchild */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(pipe(pipefd), 0);
	spawn(&w, body_grandchild, &pipefd[1]);
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], &g, sizeof(g)), sizeof(g));
	close(pipefd[0]);
	assert_int_equal(reap(&w), 0);
	for (int i = 0; i < 500 && r == 0; i++) {
		r = waitpid(g, &status, WNOHANG);
		usleep(10 * 1000);
	}
	if (r == 0) {
		kill(g, SIGKILL);
		waitpid(g, &status, 0);
		fail_msg("the worker outlived its supervisor by 5 s");
	}
	assert_int_equal(r, g);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

/* $BUILD/tests/helpers/ipc_worker_stub, next to this test binary. */
static void
stub_path(char *buf, size_t len)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	assert_true(n > 0);
	self[n] = '\0';
	slash = strrchr(self, '/');
	assert_non_null(slash);
	*slash = '\0';
	snprintf(buf, len, "%s/helpers/ipc_worker_stub", self);
	if (access(buf, X_OK) != 0)
		fail_msg("%s missing: make tests-build", buf);
}

/* As the supervisor does it: the channel on fd 3, then exec. */
static void
body_exec_stub(int fd, void *arg)
{
	char *argv[] = { arg, NULL };

	if (fd != IPC_FD) {
		if (dup2(fd, IPC_FD) == -1)	/* dup2 clears FD_CLOEXEC */
			_exit(2);
		close(fd);
	} else if (fcntl(fd, F_SETFD, 0) == -1)
		_exit(2);
	execv(argv[0], argv);
	_exit(3);
}

static void
test_exec_worker_on_fd3(void **state)
{
	char path[4200];
	struct worker w;
	ipc_envelope *env;

	if (!conf_loader_works())
		skip();
	stub_path(path, sizeof(path));
	spawn(&w, body_exec_stub, path);
	send_config(&w.sup, seed_yaml);
	expect_log(&w.sup, HAREPD__LOG__LEVEL__INFO,
	    "stub configured: node node_1, 5 bytes of CA");
	env = next(&w.sup, 5000);
	assert_non_null(env);
	assert_int_equal(env->body_case, HAREPD__ENVELOPE__BODY_HELLO);
	assert_int_equal(env->hello->pid, w.pid);	/* exec kept the pid */
	ipc_free(env);
	send_control(&w.sup, HAREPD__CONTROL__COMMAND__PAUSE);
	expect_log(&w.sup, HAREPD__LOG__LEVEL__INFO, "stub got control");
	send_control(&w.sup, HAREPD__CONTROL__COMMAND__SHUTDOWN);
	assert_null(next(&w.sup, 5000));
	assert_int_equal(reap(&w), 0);
}

/* Started by hand, without the supervisor's fd 3: refuses to run. */
static void
body_exec_stub_no_fd(int fd, void *arg)
{
	char *argv[] = { arg, NULL };

	close(fd);
	close(IPC_FD);		/* whatever it was */
	execv(argv[0], argv);
	_exit(3);
}

static void
test_exec_without_channel(void **state)
{
	char path[4200];
	struct worker w;

	stub_path(path, sizeof(path));
	spawn(&w, body_exec_stub_no_fd, path);
	assert_null(next(&w.sup, 5000));
	assert_int_equal(reap(&w), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_lines_forwarded),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_channel_flags),
		cmocka_unit_test(test_wait_config),
		cmocka_unit_test(test_bad_config_is_fatal),
		cmocka_unit_test(test_shutdown_before_config),
		cmocka_unit_test(test_config_timeout),
		cmocka_unit_test(test_supervisor_gone_before_config),
		cmocka_unit_test(test_garbage_from_supervisor),
		cmocka_unit_test(test_loop_rules),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_full_queue_drops),
		cmocka_unit_test(test_refuses_non_socket),
		cmocka_unit_test(test_dies_with_parent),
		cmocka_unit_test(test_exec_worker_on_fd3),
		cmocka_unit_test(test_exec_without_channel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
