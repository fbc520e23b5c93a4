/*
 * The supervisor's side of docs/IPC.md, driven through real socketpairs
 * with a real (sleeping) child process per worker: permitted bodies are
 * routed (LocalView to rpc, Verdict to hba, the latest view to an rpc
 * worker that just said Hello); a forbidden body, a malformed or
 * oversized datagram, a lying Hello, or a verdict in server-only mode
 * gets that worker SIGKILLed and its channel closed, and no one else.
 *
 * Over 600 lines: every routing rule of docs/IPC.md has its case here,
 * on the one socketpair fixture.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "supervisor/sup.h"
#include "util/clock.h"

/* The role table is harepd.c's own, next to main(): route by it. */
int	harepd_main(int, char *[]);
#define main harepd_main
#include "harepd.c"
#include "util/unconst.h"
#undef main

struct fixture {
	struct worker	workers[ROLE_COUNT];
	struct route	rt;
	struct conf	conf;
	struct ipc_chan	peer[ROLE_COUNT];	/* the workers' ends */
};

static pid_t
sleeper(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

static int
setup_mode(void **state, enum harepd_mode mode)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int sv[2];

	assert_non_null(f);
	f->conf.watchdog = 1;
	f->conf.connection_deadline = 1;
	f->rt.workers = f->workers;
	f->rt.mode = mode;
	for (size_t i = 0; i < ROLE_COUNT; i++) {
		struct worker *w = &f->workers[i];

		proc_init(w, &roles[i]);
		assert_int_equal(ipc_socketpair(sv), 0);
		ipc_chan_init(&w->chan, sv[0]);
		ipc_chan_init(&f->peer[i], sv[1]);
		w->pid = sleeper();
		w->state = W_STARTING;
		w->started_mono = clock_mono_ms();
	}
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return setup_mode(state, MODE_DUAL);
}

static int
setup_server_only(void **state)
{
	return setup_mode(state, MODE_SERVER_ONLY);
}

static int
setup_client_only(void **state)
{
	return setup_mode(state, MODE_CLIENT_ONLY);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < ROLE_COUNT; i++) {
		struct worker *w = &f->workers[i];

		kill(w->pid, SIGKILL);
		waitpid(w->pid, NULL, 0);
		ipc_chan_close(&w->chan);
		ipc_chan_close(&f->peer[i]);
	}
	route_free(&f->rt);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static void
worker_says(struct fixture *f, enum role_id r, const ipc_envelope *env)
{
	assert_int_equal(ipc_send(&f->peer[r], env), 0);
	(void)route_read(&f->rt, &f->workers[r]);
}

static void
worker_says_raw(struct fixture *f, enum role_id r, const void *buf,
    size_t len)
{
	assert_int_equal(send(f->peer[r].fd, buf, len, 0), (ssize_t)len);
	(void)route_read(&f->rt, &f->workers[r]);
}

static bool
was_killed(struct fixture *f, enum role_id r)
{
	pid_t pid = f->workers[r].pid;
	int st;

	if (waitpid(pid, &st, WNOHANG) != pid)
		return false;
	f->workers[r].pid = sleeper();	/* keep teardown simple */
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

static void
assert_killed(struct fixture *f, enum role_id r)
{
	bool killed = false;

	/* SIGKILL was sent synchronously; give the kernel a moment */
	for (int i = 0; i < 100 && !(killed = was_killed(f, r)); i++)
		usleep(10000);
	assert_true(killed);
	assert_int_equal(f->workers[r].chan.fd, -1);
}

static void
assert_alive(struct fixture *f, enum role_id r)
{
	assert_false(was_killed(f, r));
	assert_int_not_equal(f->workers[r].chan.fd, -1);
}

/* What the worker end received, or NULL when nothing is there. */
static ipc_envelope *
received(struct fixture *f, enum role_id r)
{
	ipc_envelope *env = NULL;
	struct pollfd pfd = { .fd = f->peer[r].fd, .events = POLLIN };

	(void)ipc_flush(&f->workers[r].chan);
	if (poll(&pfd, 1, 100) == 1)
		assert_int_equal(ipc_recv(&f->peer[r], &env, NULL, 0), IPC_OK);
	return env;
}

static ipc_envelope
body(Harepd__Envelope__BodyCase c, void *msg)
{
	ipc_envelope env = HAREPD__ENVELOPE__INIT;

	env.body_case = c;
	env.hello = msg;	/* the union: any member will do */
	return env;
}

static void
run_timers(struct fixture *f, int64_t now)
{
	for (size_t i = 0; i < ROLE_COUNT; i++)
		proc_check(&f->workers[i], now, proc_silence_ms(&f->conf),
		    false);
}

/* ---- tests ---- */

static void
test_forbidden_bodies(void **state)
{
	static const struct {
		enum role_id role;
		Harepd__Envelope__BodyCase body;
	} t[] = {
		{ ROLE_RPC, HAREPD__ENVELOPE__BODY_LOCAL_VIEW },
		{ ROLE_RPC, HAREPD__ENVELOPE__BODY_VERDICT },
		{ ROLE_RPC, HAREPD__ENVELOPE__BODY_CONFIG },
		{ ROLE_HBA, HAREPD__ENVELOPE__BODY_VERDICT },
		{ ROLE_HBA, HAREPD__ENVELOPE__BODY_LOCAL_VIEW },
		{ ROLE_HBA, HAREPD__ENVELOPE__BODY_CONTROL },
		{ ROLE_PROBE, HAREPD__ENVELOPE__BODY_HBA_APPLIED },
		{ ROLE_PROBE, HAREPD__ENVELOPE__BODY_CONTROL },
	};
	Harepd__LocalView view = HAREPD__LOCAL_VIEW__INIT;
	Harepd__Verdict verdict = HAREPD__VERDICT__INIT;
	Harepd__ConfigPush push = HAREPD__CONFIG_PUSH__INIT;
	Harepd__HbaApplied hba = HAREPD__HBA_APPLIED__INIT;
	Harepd__Control ctl = HAREPD__CONTROL__INIT;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct fixture *f;
		void *msg = t[i].body == HAREPD__ENVELOPE__BODY_LOCAL_VIEW ?
		    (void *)&view : t[i].body == HAREPD__ENVELOPE__BODY_VERDICT ?
		    (void *)&verdict : t[i].body == HAREPD__ENVELOPE__BODY_CONFIG ?
		    (void *)&push : t[i].body == HAREPD__ENVELOPE__BODY_HBA_APPLIED ?
		    (void *)&hba : (void *)&ctl;
		ipc_envelope env = body(t[i].body, msg);

		setup((void **)&f);
		worker_says(f, t[i].role, &env);
		assert_killed(f, t[i].role);
		for (size_t r = 0; r < ROLE_COUNT; r++)
			if (r != t[i].role)
				assert_alive(f, r);
		teardown((void **)&f);
	}
}

static void
test_garbage(void **state)
{
	struct fixture *f = *state;
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x42 };

	worker_says_raw(f, ROLE_PROBE, junk, sizeof(junk));
	assert_killed(f, ROLE_PROBE);
	assert_alive(f, ROLE_RPC);
	assert_alive(f, ROLE_HBA);
}

static void
test_oversized(void **state)
{
	struct fixture *f = *state;
	size_t len = IPC_MAX_MSG + 1;
	uint8_t *big = calloc(1, len);
	int sz = 4 * IPC_MAX_MSG;

	assert_non_null(big);
	setsockopt(f->peer[ROLE_HBA].fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	worker_says_raw(f, ROLE_HBA, big, len);
	free(big);
	assert_killed(f, ROLE_HBA);
	assert_alive(f, ROLE_PROBE);
}

static void
test_hello(void **state)
{
	struct fixture *f = *state;
	Harepd__Hello h = HAREPD__HELLO__INIT;
	ipc_envelope env = body(HAREPD__ENVELOPE__BODY_HELLO, &h);

	h.role = "hba";
	h.pid = f->workers[ROLE_HBA].pid;
	worker_says(f, ROLE_HBA, &env);
	assert_alive(f, ROLE_HBA);
	assert_int_equal(f->workers[ROLE_HBA].state, W_READY);
	worker_says(f, ROLE_HBA, &env);		/* a second Hello */
	assert_killed(f, ROLE_HBA);

	h.role = "hba";				/* probe posing as hba */
	h.pid = f->workers[ROLE_PROBE].pid;
	worker_says(f, ROLE_PROBE, &env);
	assert_killed(f, ROLE_PROBE);

	h.role = "rpc";				/* the wrong pid */
	h.pid = 1;
	worker_says(f, ROLE_RPC, &env);
	assert_killed(f, ROLE_RPC);
}

static void
test_log_level_checked(void **state)
{
	struct fixture *f = *state;
	Harepd__Log l = HAREPD__LOG__INIT;
	ipc_envelope env = body(HAREPD__ENVELOPE__BODY_LOG, &l);

	l.level = HAREPD__LOG__LEVEL__WARNING;
	l.msg = "a worker's warning";
	worker_says(f, ROLE_RPC, &env);
	assert_alive(f, ROLE_RPC);
	l.level = (Harepd__Log__Level)9;
	worker_says(f, ROLE_RPC, &env);
	assert_killed(f, ROLE_RPC);
}

/* A worker's Log is written with proc = its role, whatever it claims. */
static void
test_log_fields(void **state)
{
	struct fixture *f = *state;
	Harepd__Log l = HAREPD__LOG__INIT;
	Harepd__LogField proc = HAREPD__LOG_FIELD__INIT;
	Harepd__LogField lvl = HAREPD__LOG_FIELD__INIT;
	Harepd__LogField peer = HAREPD__LOG_FIELD__INIT;
	Harepd__LogField *fields[] = { &proc, &lvl, &peer };
	ipc_envelope env = body(HAREPD__ENVELOPE__BODY_LOG, &l);
	char path[] = "/tmp/test_sup_route.XXXXXX", buf[1024];
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	proc.key = "proc";
	proc.value = "harepd";
	lvl.key = "level";
	lvl.value = "debug";
	peer.key = "peer";
	peer.value = "10.0.0.2:10000";
	l.level = HAREPD__LOG__LEVEL__INFO;
	l.msg = "asked a peer";
	l.fields = fields;
	l.n_fields = 3;
	dup2(fd, STDERR_FILENO);
	worker_says(f, ROLE_PROBE, &env);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_ptr_equal(strstr(buf, "{\"level\":\"info\",\"msg\":"
	    "\"asked a peer\",\"time\":"), buf);
	assert_non_null(strstr(buf, ",\"proc\":\"probe\",\"peer\":"
	    "\"10.0.0.2:10000\"}\n"));
	assert_null(strstr(buf, "harepd"));
	assert_null(strstr(buf, "debug"));
	assert_alive(f, ROLE_PROBE);
}

static void
test_view_to_rpc(void **state)
{
	struct fixture *f = *state;
	Harepd__LocalView v = HAREPD__LOCAL_VIEW__INIT;
	Harepd__Hello h = HAREPD__HELLO__INIT;
	ipc_envelope venv = body(HAREPD__ENVELOPE__BODY_LOCAL_VIEW, &v);
	ipc_envelope henv = body(HAREPD__ENVELOPE__BODY_HELLO, &h);
	ipc_envelope *got;

	v.node_name = "node_1";
	v.node_id = 7;
	/* rpc not ready yet: kept, not passed on */
	worker_says(f, ROLE_PROBE, &venv);
	assert_alive(f, ROLE_PROBE);
	assert_non_null(f->rt.last_view);
	assert_null(received(f, ROLE_RPC));
	/* rpc says Hello: it gets the latest view at once */
	h.role = "rpc";
	h.pid = f->workers[ROLE_RPC].pid;
	worker_says(f, ROLE_RPC, &henv);
	got = received(f, ROLE_RPC);
	assert_non_null(got);
	assert_int_equal(got->body_case, HAREPD__ENVELOPE__BODY_LOCAL_VIEW);
	assert_int_equal(got->local_view->node_id, 7);
	ipc_free(got);
	/* and every new one from then on */
	v.node_id = 8;
	worker_says(f, ROLE_PROBE, &venv);
	got = received(f, ROLE_RPC);
	assert_non_null(got);
	assert_int_equal(got->local_view->node_id, 8);
	ipc_free(got);
	assert_null(received(f, ROLE_HBA));	/* hba never sees views */
}

static void
test_verdict_to_hba(void **state)
{
	struct fixture *f = *state;
	Harepd__Verdict v = HAREPD__VERDICT__INIT;
	ipc_envelope env = body(HAREPD__ENVELOPE__BODY_VERDICT, &v);
	ipc_envelope *got;

	v.seq = 1;
	v.rw_allow = 1;
	worker_says(f, ROLE_PROBE, &env);
	got = received(f, ROLE_HBA);
	assert_non_null(got);
	assert_int_equal(got->body_case, HAREPD__ENVELOPE__BODY_VERDICT);
	assert_int_equal(got->verdict->seq, 1);
	ipc_free(got);
	assert_null(received(f, ROLE_RPC));

	/* stop-client: a verdict still in flight goes nowhere */
	f->rt.paused = true;
	v.seq = 2;
	worker_says(f, ROLE_PROBE, &env);
	assert_alive(f, ROLE_PROBE);
	assert_null(received(f, ROLE_HBA));
	assert_int_equal(f->rt.last_verdict->verdict->seq, 1);
}

static void
test_hba_applied_kept(void **state)
{
	struct fixture *f = *state;
	Harepd__HbaApplied a = HAREPD__HBA_APPLIED__INIT;
	ipc_envelope env = body(HAREPD__ENVELOPE__BODY_HBA_APPLIED, &a);

	a.seq = 5;
	a.fenced = 1;
	worker_says(f, ROLE_HBA, &env);
	assert_alive(f, ROLE_HBA);
	assert_non_null(f->rt.last_hba);
	assert_int_equal(f->rt.last_hba->hba_applied->seq, 5);
	assert_true(f->rt.last_hba->hba_applied->fenced);
}

static void
test_verdict_in_server_only(void **state)
{
	struct fixture *f = *state;
	Harepd__Verdict v = HAREPD__VERDICT__INIT;
	ipc_envelope env = body(HAREPD__ENVELOPE__BODY_VERDICT, &v);

	worker_says(f, ROLE_PROBE, &env);
	assert_killed(f, ROLE_PROBE);
	assert_null(f->rt.last_verdict);
}

static void
test_probe_silence_formula(void **state)
{
	struct conf c = { .watchdog = 15, .connection_deadline = 5 };

	assert_int_equal(proc_silence_ms(&c), 165000);
	c.watchdog = 1;
	c.connection_deadline = 1;
	assert_int_equal(proc_silence_ms(&c), 13000);
	c.watchdog = 0;
	c.connection_deadline = 0;
	assert_int_equal(proc_silence_ms(&c), SILENCE_MIN_MS);
}

static void
test_hello_timeout(void **state)
{
	struct fixture *f = *state;
	int64_t now = clock_mono_ms();

	f->workers[ROLE_RPC].started_mono = now - HELLO_TIMEOUT_MS - 1;
	f->workers[ROLE_HBA].started_mono = now - HELLO_TIMEOUT_MS + 1000;
	run_timers(f, now);
	assert_killed(f, ROLE_RPC);
	assert_alive(f, ROLE_HBA);
	assert_alive(f, ROLE_PROBE);
}

static void
test_probe_silence(void **state)
{
	struct fixture *f = *state;
	struct worker *probe = &f->workers[ROLE_PROBE];
	Harepd__LocalView v = HAREPD__LOCAL_VIEW__INIT;
	ipc_envelope env = body(HAREPD__ENVELOPE__BODY_LOCAL_VIEW, &v);
	int64_t silence = proc_silence_ms(&f->conf), now;

	probe->state = W_READY;
	f->workers[ROLE_HBA].state = W_READY;
	f->workers[ROLE_HBA].last_progress = clock_mono_ms() - 10 * silence;
	worker_says(f, ROLE_PROBE, &env);	/* a view: progress */
	now = clock_mono_ms();
	run_timers(f, now + silence - 100);
	assert_alive(f, ROLE_PROBE);
	/* only the probe has a heartbeat: a quiet hba is not hung */
	assert_alive(f, ROLE_HBA);
	run_timers(f, now + silence + 100);
	assert_killed(f, ROLE_PROBE);
}

static void
say_hello(struct fixture *f, enum role_id r)
{
	Harepd__Hello h = HAREPD__HELLO__INIT;
	ipc_envelope env = body(HAREPD__ENVELOPE__BODY_HELLO, &h);

	h.role = unconst_str(roles[r].name);
	h.pid = f->workers[r].pid;
	worker_says(f, r, &env);
	assert_int_equal(f->workers[r].state, W_READY);
}

/* GateDeclared to rpc, GateServed to probe, HbaApplied to rpc. */
static void
test_gate_routing(void **state)
{
	struct fixture *f = *state;
	Harepd__GateDeclared d = HAREPD__GATE_DECLARED__INIT;
	Harepd__GateServed sv = HAREPD__GATE_SERVED__INIT;
	Harepd__HbaApplied a = HAREPD__HBA_APPLIED__INIT;
	ipc_envelope denv = body(HAREPD__ENVELOPE__BODY_GATE_DECLARED, &d);
	ipc_envelope senv = body(HAREPD__ENVELOPE__BODY_GATE_SERVED, &sv);
	ipc_envelope aenv = body(HAREPD__ENVELOPE__BODY_HBA_APPLIED, &a);
	ipc_envelope *got;

	for (size_t r = 0; r < ROLE_COUNT; r++)
		say_hello(f, r);
	d.seq = 3;
	d.state = MODELS__GATE__STATE__INTENT;
	worker_says(f, ROLE_PROBE, &denv);
	got = received(f, ROLE_RPC);
	assert_non_null(got);
	assert_int_equal(got->body_case, HAREPD__ENVELOPE__BODY_GATE_DECLARED);
	assert_int_equal(got->gate_declared->seq, 3);
	ipc_free(got);
	assert_null(received(f, ROLE_HBA));
	assert_null(received(f, ROLE_PROBE));

	sv.seq = 3;
	sv.state = MODELS__GATE__STATE__INTENT;
	worker_says(f, ROLE_RPC, &senv);
	got = received(f, ROLE_PROBE);
	assert_non_null(got);
	assert_int_equal(got->body_case, HAREPD__ENVELOPE__BODY_GATE_SERVED);
	assert_int_equal(got->gate_served->seq, 3);
	ipc_free(got);
	assert_alive(f, ROLE_RPC);

	a.seq = 9;
	a.fenced = 1;
	worker_says(f, ROLE_HBA, &aenv);
	got = received(f, ROLE_RPC);
	assert_non_null(got);
	assert_int_equal(got->body_case, HAREPD__ENVELOPE__BODY_HBA_APPLIED);
	assert_int_equal(got->hba_applied->seq, 9);
	ipc_free(got);
	assert_null(received(f, ROLE_PROBE));

	/* a probe cannot answer for the rpc worker, nor hba declare a gate */
	worker_says(f, ROLE_PROBE, &senv);
	assert_killed(f, ROLE_PROBE);
	worker_says(f, ROLE_HBA, &denv);
	assert_killed(f, ROLE_HBA);
}

/* Without an rpc worker nobody can ask this node: served at once. */
static void
test_gate_client_only(void **state)
{
	struct fixture *f = *state;
	Harepd__GateDeclared d = HAREPD__GATE_DECLARED__INIT;
	ipc_envelope denv = body(HAREPD__ENVELOPE__BODY_GATE_DECLARED, &d);
	ipc_envelope *got;

	say_hello(f, ROLE_PROBE);
	d.seq = 4;
	d.state = MODELS__GATE__STATE__INTENT;
	worker_says(f, ROLE_PROBE, &denv);
	got = received(f, ROLE_PROBE);
	assert_non_null(got);
	assert_int_equal(got->body_case, HAREPD__ENVELOPE__BODY_GATE_SERVED);
	assert_int_equal(got->gate_served->seq, 4);
	assert_int_equal(got->gate_served->state,
	    MODELS__GATE__STATE__INTENT);
	ipc_free(got);
}

/*
 * A restarted worker is handed what it must know at once: rpc the view,
 * hba report and gate; hba the verdict in force, with its config (not
 * while paused); the probe what was last served.
 */
static void
test_hand_over(void **state)
{
	struct fixture *f = *state;
	Harepd__LocalView v = HAREPD__LOCAL_VIEW__INIT;
	Harepd__Verdict vd = HAREPD__VERDICT__INIT;
	Harepd__GateDeclared d = HAREPD__GATE_DECLARED__INIT;
	Harepd__GateServed sv = HAREPD__GATE_SERVED__INIT;
	Harepd__HbaApplied a = HAREPD__HBA_APPLIED__INIT;
	ipc_envelope venv = body(HAREPD__ENVELOPE__BODY_LOCAL_VIEW, &v);
	ipc_envelope vdenv = body(HAREPD__ENVELOPE__BODY_VERDICT, &vd);
	ipc_envelope denv = body(HAREPD__ENVELOPE__BODY_GATE_DECLARED, &d);
	ipc_envelope senv = body(HAREPD__ENVELOPE__BODY_GATE_SERVED, &sv);
	ipc_envelope aenv = body(HAREPD__ENVELOPE__BODY_HBA_APPLIED, &a);
	static const Harepd__Envelope__BodyCase rpc_gets[] = {
		HAREPD__ENVELOPE__BODY_LOCAL_VIEW,
		HAREPD__ENVELOPE__BODY_HBA_APPLIED,
		HAREPD__ENVELOPE__BODY_GATE_DECLARED,
	};
	ipc_envelope *got;

	/* nobody ready: all of it is only kept */
	vd.seq = 6;
	vd.decided_boot_ms = 12345;
	worker_says(f, ROLE_PROBE, &venv);
	worker_says(f, ROLE_PROBE, &vdenv);
	worker_says(f, ROLE_PROBE, &denv);
	worker_says(f, ROLE_HBA, &aenv);
	worker_says(f, ROLE_RPC, &senv);
	ipc_free(received(f, ROLE_HBA));	/* the verdict, while starting */

	say_hello(f, ROLE_RPC);
	for (size_t i = 0; i < sizeof(rpc_gets) / sizeof(rpc_gets[0]); i++) {
		got = received(f, ROLE_RPC);
		assert_non_null(got);
		assert_int_equal(got->body_case, rpc_gets[i]);
		ipc_free(got);
	}
	assert_null(received(f, ROLE_RPC));

	/* a new hba worker: the verdict in force, with its decision time,
	 * goes with its config (before anything the probe sends next), and
	 * nothing more at its Hello */
	assert_int_equal(route_initial_verdict(&f->rt, &f->workers[ROLE_HBA]),
	    0);
	got = received(f, ROLE_HBA);
	assert_non_null(got);
	assert_int_equal(got->body_case, HAREPD__ENVELOPE__BODY_VERDICT);
	assert_int_equal(got->verdict->decided_boot_ms, 12345);
	ipc_free(got);
	say_hello(f, ROLE_HBA);
	assert_null(received(f, ROLE_HBA));
	/* no other role is sent a verdict */
	assert_int_equal(route_initial_verdict(&f->rt, &f->workers[ROLE_RPC]),
	    0);
	assert_null(received(f, ROLE_RPC));

	say_hello(f, ROLE_PROBE);
	got = received(f, ROLE_PROBE);
	assert_non_null(got);
	assert_int_equal(got->body_case, HAREPD__ENVELOPE__BODY_GATE_SERVED);
	ipc_free(got);
	assert_null(received(f, ROLE_PROBE));

	/* paused (stop-client): a restarted hba is not handed the verdict */
	f->rt.paused = true;
	f->workers[ROLE_HBA].state = W_STARTING;
	assert_int_equal(route_initial_verdict(&f->rt, &f->workers[ROLE_HBA]),
	    0);
	say_hello(f, ROLE_HBA);
	assert_null(received(f, ROLE_HBA));
}

/*
 * How long the lease of an allow on disk has left, for the hba worker's
 * restart: from the verdict until the hba worker reports, then from what
 * it reports in force; none after a deny or a fence, or while paused.
 */
static void
test_allow_lease_left(void **state)
{
	struct fixture *f = *state;
	Harepd__Verdict vd = HAREPD__VERDICT__INIT;
	Harepd__HbaApplied a = HAREPD__HBA_APPLIED__INIT;
	ipc_envelope vdenv = body(HAREPD__ENVELOPE__BODY_VERDICT, &vd);
	ipc_envelope aenv = body(HAREPD__ENVELOPE__BODY_HBA_APPLIED, &a);

	assert_true(route_allow_lease_left(&f->rt, 3000, 11000) == INT64_MAX);
	vd.seq = 1;
	vd.rw_allow = true;
	vd.lease_ms = 4000;	/* the verdict's lease, not the config's */
	vd.decided_boot_ms = 10000;
	worker_says(f, ROLE_PROBE, &vdenv);
	assert_true(route_allow_lease_left(&f->rt, 3000, 11000) == 3000);

	a.seq = 1;
	a.rw_allow = true;
	a.decided_boot_ms = 10500;
	worker_says(f, ROLE_HBA, &aenv);
	assert_true(route_allow_lease_left(&f->rt, 3000, 11000) == 3500);
	assert_true(route_allow_lease_left(&f->rt, 3000, 15000) == -500);
	a.decided_boot_ms = 0;	/* unknown: counts as run out */
	worker_says(f, ROLE_HBA, &aenv);
	assert_true(route_allow_lease_left(&f->rt, 3000, 11000) < 0);

	f->rt.paused = true;
	assert_true(route_allow_lease_left(&f->rt, 3000, 11000) == INT64_MAX);
	f->rt.paused = false;

	a.seq = 0;
	a.fenced = true;
	a.rw_allow = false;
	worker_says(f, ROLE_HBA, &aenv);
	assert_true(route_allow_lease_left(&f->rt, 3000, 11000) == INT64_MAX);
	a.fenced = false;
	a.seq = 2;	/* a deny applied */
	worker_says(f, ROLE_HBA, &aenv);
	assert_true(route_allow_lease_left(&f->rt, 3000, 11000) == INT64_MAX);
	a.ro_allow = true;	/* read-only traffic has a lease too */
	a.decided_boot_ms = 10000;
	worker_says(f, ROLE_HBA, &aenv);
	assert_true(route_allow_lease_left(&f->rt, 3000, 11000) == 3000);
}

/* ConfigPush by role, with the role table itself: the TLS PEMs, the
 * private key above all, go to rpc (server) and probe (client) only; the
 * hba worker gets the config without them (issue 13 item 5). */
static void
test_config_shaped_per_role(void **state)
{
	struct fixture *f = *state;
	Harepd__ConfigPush push = HAREPD__CONFIG_PUSH__INIT;
	static uint8_t yaml[] = "harepd: {}", ca[] = "CA PEM",
	    cert[] = "CERT PEM", key[] = "-----BEGIN PRIVATE KEY-----";

	push.yaml = (ProtobufCBinaryData){ sizeof(yaml) - 1, yaml };
	push.tls_ca = (ProtobufCBinaryData){ sizeof(ca) - 1, ca };
	push.tls_cert = (ProtobufCBinaryData){ sizeof(cert) - 1, cert };
	push.tls_key = (ProtobufCBinaryData){ sizeof(key) - 1, key };
	route_push_config(&f->rt, &push);	/* a reload */
	for (enum role_id r = 0; r < ROLE_COUNT; r++) {
		ipc_envelope *env = received(f, r);
		const Harepd__ConfigPush *got;
		bool pems = (r == ROLE_RPC || r == ROLE_PROBE);

		assert_non_null(env);
		assert_int_equal(env->body_case, HAREPD__ENVELOPE__BODY_CONFIG);
		got = env->config;
		assert_int_equal(got->yaml.len, sizeof(yaml) - 1);
		assert_int_equal(got->tls_key.len, pems ? sizeof(key) - 1 : 0);
		assert_int_equal(got->tls_cert.len, pems ? sizeof(cert) - 1 : 0);
		assert_int_equal(got->tls_ca.len, pems ? sizeof(ca) - 1 : 0);
		ipc_free(env);
		/* the start path sends the same shape */
		assert_int_equal(route_send_config(&f->workers[r], &push), 0);
		env = received(f, r);
		assert_non_null(env);
		assert_int_equal(env->config->tls_key.len,
		    pems ? sizeof(key) - 1 : 0);
		ipc_free(env);
	}
	/* the shared push itself is left whole */
	assert_int_equal(push.tls_key.len, sizeof(key) - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forbidden_bodies),
		cmocka_unit_test_setup_teardown(test_config_shaped_per_role,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_level_checked, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_log_fields, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_view_to_rpc, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_verdict_to_hba, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hba_applied_kept, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_allow_lease_left, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_verdict_in_server_only,
		    setup_server_only, teardown),
		cmocka_unit_test_setup_teardown(test_gate_routing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_gate_client_only,
		    setup_client_only, teardown),
		cmocka_unit_test_setup_teardown(test_hand_over, setup,
		    teardown),
		cmocka_unit_test(test_probe_silence_formula),
		cmocka_unit_test_setup_teardown(test_hello_timeout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_probe_silence, setup,
		    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
