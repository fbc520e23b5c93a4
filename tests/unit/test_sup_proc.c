/*
 * The supervisor's tables: which role runs in which mode, as which user,
 * and may send and is sent which bodies; the restart policy (backoff,
 * restart window, crash or clean exit); the control requests and who may
 * make them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/wait.h>

#include "supervisor/sup.h"

/* The role table is harepd.c's own, next to main(): test it there. */
int	harepd_main(int, char *[]);
#define main harepd_main
#include "harepd.c"
#undef main

#define B(x)	HAREPD__ENVELOPE__BODY_##x

static void
test_modes(void **state)
{
	static const struct {
		enum harepd_mode mode;
		bool rpc, probe, hba;
	} t[] = {
		{ MODE_DUAL, true, true, true },
		{ MODE_SERVER_ONLY, true, true, false },
		{ MODE_CLIENT_ONLY, false, true, true },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(role_runs_in(role_by_name("rpc"), t[i].mode),
		    t[i].rpc);
		assert_int_equal(role_runs_in(role_by_name("probe"),
		    t[i].mode), t[i].probe);
		assert_int_equal(role_runs_in(role_by_name("hba"), t[i].mode),
		    t[i].hba);
	}
	assert_null(role_by_name("supervisor"));
	assert_string_equal(mode_name(MODE_SERVER_ONLY), "server-only");
}

/* The metrics worker: in every mode, but only with metrics.listen. */
static void
test_metrics_role(void **state)
{
	const struct role *m = role_by_name("metrics");
	struct conf c = { .rpc_user = "nobody", .pg_user = "postgres" };
	enum harepd_mode modes[] = { MODE_DUAL, MODE_SERVER_ONLY,
	    MODE_CLIENT_ONLY };

	assert_non_null(m);
	assert_int_equal(m->id, ROLE_METRICS);
	assert_ptr_equal(m->entry, metrics_worker_main);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		c.metrics_listen = NULL;
		assert_true(role_runs_in(m, modes[i]));
		assert_false(role_wanted(m, modes[i], &c));
		assert_true(role_wanted(role_by_name("probe"), modes[i], &c));
		c.metrics_listen = "127.0.0.1:9187";
		assert_true(role_wanted(m, modes[i], &c));
	}
	assert_false(role_wanted(role_by_name("rpc"), MODE_CLIENT_ONLY, &c));
	assert_string_equal(role_user(m, &c), "nobody");
	/* it says who it is and logs; it is only ever told the page */
	for (int b = 1; b <= HAREPD__ENVELOPE__BODY_METRICS_TEXT; b++) {
		assert_int_equal(role_may_send(m, b), b == B(HELLO) ||
		    b == B(LOG));
		assert_int_equal(role_accepts(m, b), b == B(CONFIG) ||
		    b == B(CONTROL) || b == B(METRICS_TEXT));
		for (size_t i = 0; i < ROLE_COUNT; i++)
			if (i != ROLE_METRICS && b == B(METRICS_TEXT))
				assert_false(role_accepts(&roles[i], b));
	}
	assert_false(m->pausable);
	assert_false(m->tls_pems);
	assert_int_equal(m->heartbeat, B(_NOT_SET));
}

static void
test_permitted_bodies(void **state)
{
	static const struct {
		const char *role;
		Harepd__Envelope__BodyCase body;
		bool ok;
	} t[] = {
		{ "rpc", B(HELLO), true }, { "rpc", B(LOG), true },
		{ "rpc", B(LOCAL_VIEW), false }, { "rpc", B(VERDICT), false },
		{ "rpc", B(HBA_APPLIED), false }, { "rpc", B(CONFIG), false },
		{ "rpc", B(CONTROL), false },
		{ "probe", B(HELLO), true }, { "probe", B(LOG), true },
		{ "probe", B(LOCAL_VIEW), true }, { "probe", B(VERDICT), true },
		{ "probe", B(HBA_APPLIED), false }, { "probe", B(CONFIG), false },
		{ "probe", B(CONTROL), false },
		{ "hba", B(HELLO), true }, { "hba", B(LOG), true },
		{ "hba", B(HBA_APPLIED), true }, { "hba", B(VERDICT), false },
		{ "hba", B(LOCAL_VIEW), false }, { "hba", B(CONFIG), false },
		{ "hba", B(CONTROL), false },
		{ "hba", B(_NOT_SET), false },
		{ "probe", (Harepd__Envelope__BodyCase)99, false },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const struct role *r = role_by_name(t[i].role);

		assert_non_null(r);
		if (role_may_send(r, t[i].body) != t[i].ok)
			fail_msg("%s may%s send body %d", t[i].role,
			    t[i].ok ? "" : " not", t[i].body);
	}
}

static void
test_users(void **state)
{
	struct conf c;

	memset(&c, 0, sizeof(c));
	c.rpc_user = "nobody";
	c.pg_user = "postgres";
	assert_string_equal(role_user(role_by_name("rpc"), &c), "nobody");
	assert_string_equal(role_user(role_by_name("probe"), &c), "postgres");
	assert_string_equal(role_user(role_by_name("hba"), &c), "postgres");
}

static void
test_accepts(void **state)
{
	/* every role takes its config and Control; views go to rpc only,
	 * verdicts to hba only */
	for (size_t i = 0; i < ROLE_COUNT; i++) {
		assert_int_equal(roles[i].id, i);
		assert_true(role_accepts(&roles[i], B(CONFIG)));
		assert_true(role_accepts(&roles[i], B(CONTROL)));
		assert_false(role_accepts(&roles[i], B(HELLO)));
		assert_false(role_accepts(&roles[i], B(LOG)));
	}
	/* the rpc worker tells peers the gate: what the probe declared and
	 * what hba applied; the probe hears what was served */
	assert_true(role_accepts(&roles[ROLE_RPC], B(HBA_APPLIED)));
	assert_true(role_accepts(&roles[ROLE_RPC], B(GATE_DECLARED)));
	assert_true(role_accepts(&roles[ROLE_PROBE], B(GATE_SERVED)));
	for (size_t i = 0; i < ROLE_COUNT; i++) {
		assert_int_equal(role_accepts(&roles[i], B(HBA_APPLIED)),
		    i == ROLE_RPC);
		assert_int_equal(role_accepts(&roles[i], B(GATE_DECLARED)),
		    i == ROLE_RPC);
		assert_int_equal(role_accepts(&roles[i], B(GATE_SERVED)),
		    i == ROLE_PROBE);
	}
	assert_true(role_accepts(&roles[ROLE_RPC], B(LOCAL_VIEW)));
	assert_false(role_accepts(&roles[ROLE_PROBE], B(LOCAL_VIEW)));
	assert_false(role_accepts(&roles[ROLE_HBA], B(LOCAL_VIEW)));
	assert_true(role_accepts(&roles[ROLE_HBA], B(VERDICT)));
	assert_false(role_accepts(&roles[ROLE_RPC], B(VERDICT)));
	assert_false(role_accepts(&roles[ROLE_PROBE], B(VERDICT)));
	assert_false(role_accepts(&roles[ROLE_HBA], (Harepd__Envelope__BodyCase)99));
	/* stop-client pauses the deciding side, never the gRPC server */
	assert_false(roles[ROLE_RPC].pausable);
	assert_true(roles[ROLE_PROBE].pausable);
	assert_true(roles[ROLE_HBA].pausable);
	/* only the probe has a heartbeat: its LocalView */
	assert_int_equal(roles[ROLE_PROBE].heartbeat, B(LOCAL_VIEW));
	assert_int_equal(roles[ROLE_RPC].heartbeat, B(_NOT_SET));
	assert_int_equal(roles[ROLE_HBA].heartbeat, B(_NOT_SET));
}

static void
test_dispatch(void **state)
{
	assert_ptr_equal(role_by_name("rpc")->entry, rpc_worker_main);
	assert_ptr_equal(role_by_name("probe")->entry, probe_worker_main);
	assert_ptr_equal(role_by_name("hba")->entry, hba_worker_main);
	assert_null(role_by_name(""));
	assert_null(role_by_name("RPC"));
}

static void
test_stop_order(void **state)
{
	/* stop deciding first, stop answering peers last */
	assert_int_equal(roles[ROLE_PROBE].stop_rank, 0);
	assert_int_equal(roles[ROLE_HBA].stop_rank, 1);
	assert_int_equal(roles[ROLE_RPC].stop_rank, 2);
	/* a scrape during a stop sees the others go */
	assert_int_equal(roles[ROLE_METRICS].stop_rank, 3);
}

static void
test_restart_policy(void **state)
{
	for (size_t i = 0; i < ROLE_COUNT; i++) {
		const struct restart_policy *p = &roles[i].restart;

		assert_int_equal(p->kind, RESTART_PERMANENT);
		assert_int_equal(p->min_ms, BACKOFF_MIN_MS);
		assert_int_equal(p->max_ms, BACKOFF_MAX_MS);
		assert_int_equal(p->healthy_ms, BACKOFF_HEALTHY_MS);
		assert_int_equal(p->burst, RESTART_BURST);
		assert_int_equal(p->window_ms, RESTART_WINDOW_MS);
	}
}

static int
wait_status(int how)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		if (how < 0)
			raise(-how);
		_exit(how);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void
test_exit_kinds(void **state)
{
	struct worker w;

	proc_init(&w, &roles[ROLE_HBA]);
	w.pid = 42;
	w.kill_at = 7;
	assert_false(proc_exited(&w, wait_status(0)));
	assert_string_equal(w.last_exit, "exited cleanly (status 0)");
	assert_int_equal(w.pid, 0);
	assert_int_equal(w.kill_at, 0);
	assert_true(proc_exited(&w, wait_status(1)));
	assert_string_equal(w.last_exit, "crashed: exited with status 1");
	assert_true(proc_exited(&w, wait_status(-SIGKILL)));
	assert_non_null(strstr(w.last_exit, "crashed: killed by signal 9"));
}

static void
test_restart_schedule(void **state)
{
	static const int want[] = { 100, 200, 400, 800, 1600, 3200 };
	struct worker w;
	int64_t now = 1000000;

	proc_init(&w, &roles[ROLE_RPC]);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		proc_schedule_restart(&w, 42, true, 5, now);
		assert_int_equal(w.state, W_BACKOFF);
		assert_int_equal(w.restart_at, now + want[i]);
		assert_false(proc_restart_due(&w, now + want[i] - 1));
		assert_true(proc_restart_due(&w, now + want[i]));
		now += want[i] + 5;
	}
	/* six exits within the window: counted (the fifth was logged) */
	assert_int_equal(w.window_exits, 6);
	/* a window later the count starts over */
	proc_schedule_restart(&w, 42, false, 5, now + RESTART_WINDOW_MS + 1);
	assert_int_equal(w.window_exits, 1);
}

static void
test_backoff_doubles_to_cap(void **state)
{
	static const int want[] = { 100, 200, 400, 800, 1600, 3200, 6400,
	    12800, 25600, 30000, 30000, 30000 };
	struct backoff b;

	backoff_init(&b, BACKOFF_MIN_MS, BACKOFF_MAX_MS, BACKOFF_HEALTHY_MS);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(backoff_next(&b, 5), want[i]);
}

static void
test_backoff_resets_after_health(void **state)
{
	struct backoff b;

	backoff_init(&b, BACKOFF_MIN_MS, BACKOFF_MAX_MS, BACKOFF_HEALTHY_MS);
	for (int i = 0; i < 6; i++)
		(void)backoff_next(&b, 10);
	/* up just under a minute: still crashing as far as we know */
	assert_int_equal(backoff_next(&b, BACKOFF_HEALTHY_MS - 1), 6400);
	/* up a full minute: a fresh start */
	assert_int_equal(backoff_next(&b, BACKOFF_HEALTHY_MS), 100);
	assert_int_equal(backoff_next(&b, 0), 200);
}

static void
test_ctl_parse(void **state)
{
	assert_int_equal(ctl_parse("status"), CTL_STATUS);
	assert_int_equal(ctl_parse("status json"), CTL_STATUS_JSON);
	assert_int_equal(ctl_parse("stop-client"), CTL_STOP_CLIENT);
	assert_int_equal(ctl_parse("start-client"), CTL_START_CLIENT);
	assert_int_equal(ctl_parse("reload"), CTL_RELOAD);
	assert_int_equal(ctl_parse("stop"), CTL_STOP);
	assert_int_equal(ctl_parse("stop "), CTL_BAD);
	assert_int_equal(ctl_parse("STATUS"), CTL_BAD);
	assert_int_equal(ctl_parse(""), CTL_BAD);
	assert_int_equal(ctl_parse("status json extra"), CTL_BAD);
	assert_string_equal(ctl_cmd_name(CTL_STOP_CLIENT), "stop-client");
}

static void
test_ctl_permitted(void **state)
{
	const uid_t pg = 106, other = 1000;

	for (enum ctl_cmd c = CTL_STATUS; c <= CTL_STOP; c++) {
		bool reads = (c == CTL_STATUS || c == CTL_STATUS_JSON);

		assert_true(ctl_permitted(c, 0, pg));
		assert_true(ctl_permitted(c, pg, pg));
		assert_int_equal(ctl_permitted(c, other, pg), reads);
	}
	assert_false(ctl_permitted(CTL_BAD, 0, pg));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_metrics_role),
		cmocka_unit_test(test_permitted_bodies),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_stop_order),
		cmocka_unit_test(test_restart_policy),
		cmocka_unit_test(test_exit_kinds),
		cmocka_unit_test(test_restart_schedule),
		cmocka_unit_test(test_backoff_doubles_to_cap),
		cmocka_unit_test(test_backoff_resets_after_health),
		cmocka_unit_test(test_ctl_parse),
		cmocka_unit_test(test_ctl_permitted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
