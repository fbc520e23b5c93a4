/*
 * `harepdctl check` (supervisor/check.c): one status judged in the Nagios
 * convention. A table of situations, each a change to one healthy
 * primary, with the level and a part of the line it must give.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "supervisor/sup.h"

#define NOW_BOOT	500000
#define WATCHDOG_MS	2000

static char *self_only[] = { "10.0.0.11" };
static char *other[] = { "10.0.0.12" };
static char *standbys[] = { "10.0.0.12" };

struct sample {
	Harepd__LocalView	view;
	Harepd__Verdict		verdict;
	Harepd__PeerAnswer	peer;
	Harepd__PeerAnswer	*ev[1];
	Models__IKnow		answer;
	Models__Gate		gate;
	Harepd__HbaApplied	hba;
	struct status		st;
};

/* A primary allowing rw, its one neighbour answering and agreeing. */
static void
healthy(struct sample *s)
{
	memset(s, 0, sizeof(*s));
	harepd__local_view__init(&s->view);
	s->view.ip = "10.0.0.11";
	s->view.primaries = self_only;
	s->view.n_primaries = 1;
	models__iknow__init(&s->answer);
	s->answer.ip = "10.0.0.12";
	s->answer.master = self_only;
	s->answer.n_master = 1;
	s->answer.slaves = standbys;
	s->answer.n_slaves = 1;
	models__gate__init(&s->gate);
	s->gate.state = MODELS__GATE__STATE__DENIED;
	s->answer.gate = &s->gate;
	harepd__peer_answer__init(&s->peer);
	s->peer.target = "10.0.0.12:10000";
	s->peer.answered = 1;
	s->peer.agrees = 1;
	s->peer.answer = &s->answer;
	s->ev[0] = &s->peer;
	harepd__verdict__init(&s->verdict);
	s->verdict.seq = 7;
	s->verdict.rw_allow = 1;
	s->verdict.reason = "2 of 2 members agree";
	s->verdict.evidence = s->ev;
	s->verdict.n_evidence = 1;
	s->verdict.lease_ms = 30000;
	s->verdict.decided_boot_ms = NOW_BOOT - 1000;
	harepd__hba_applied__init(&s->hba);
	s->hba.seq = 7;
	s->hba.rw_allow = 1;
	s->st.mode = "dual";
	s->st.view = &s->view;
	s->st.verdict = &s->verdict;
	s->st.hba = &s->hba;
	s->st.n_workers = 1;
	s->st.workers[0] = (struct status_worker){ "hba", "postgres",
	    "running", 102, 5000, 0, "", 0, false };
}

static void gate_allowed(struct sample *s) { s->gate.state = MODELS__GATE__STATE__ALLOWED; }
static void go_peer_other_primary(struct sample *s) { s->answer.gate = NULL; s->answer.master = other; }
static void other_writer_but_denied(struct sample *s) { gate_allowed(s); s->hba.rw_allow = 0; s->verdict.rw_allow = 0; }
static void lease_expiring(struct sample *s) { s->verdict.decided_boot_ms = NOW_BOOT - 29000; }
static void lease_expiring_deny(struct sample *s) { lease_expiring(s); s->hba.rw_allow = 0; s->verdict.rw_allow = 0; }
static void fenced(struct sample *s) { s->hba.fenced = 1; s->hba.rw_allow = 0; }
static void crash_loop(struct sample *s) { s->st.workers[0].crash_loop = true; s->st.workers[0].restarts = 5; s->st.workers[0].last_exit = "killed by signal 9 (Killed)"; }
static void restarted(struct sample *s) { s->st.workers[0].restarts = 3; }
static void unreachable(struct sample *s) { s->peer.answered = 0; s->peer.answer = NULL; s->peer.error = "UNAVAILABLE: refused\nx"; }
static void hold_down(struct sample *s) { s->verdict.rw_allow = 0; s->hba.rw_allow = 0; s->verdict.reason = "hold-down: majority held for 0 of 4250 ms before rw"; }
static void no_verdict(struct sample *s) { s->st.verdict = NULL; s->st.hba = NULL; }
static void server_only(struct sample *s) { no_verdict(s); s->st.mode = "server-only"; }
static void paused(struct sample *s) { s->st.paused = true; lease_expiring(s); }
static void crash_and_unreachable(struct sample *s) { crash_loop(s); unreachable(s); }
static void crash_no_verdict(struct sample *s) { crash_loop(s); no_verdict(s); }
static void nothing(struct sample *s) { (void)s; }

static void
test_levels(void **state)
{
	static const struct {
		const char	*name;
		void		(*change)(struct sample *);
		enum check_level want;
		const char	*part;
	} cases[] = {
		{ "healthy", nothing, CHECK_OK, "HAREPD OK - pg_hba rw allow, "
		    "verdict #7 rw allow ro deny, 1 of 1 peers answered | "
		    "peers_answered=1;;;0;1 lease_remaining=29.000s\n" },
		{ "a worker restarted, not in a loop", restarted, CHECK_OK,
		    "HAREPD OK" },
		{ "peer's gate allows rw too", gate_allowed, CHECK_CRITICAL,
		    "HAREPD CRITICAL - this node allows rw but peer "
		    "10.0.0.12:10000 reports another writer: its gate allows rw" },
		{ "a Go peer sees another primary", go_peer_other_primary,
		    CHECK_CRITICAL, "another active primary" },
		{ "another writer while this node denies", other_writer_but_denied,
		    CHECK_OK, "HAREPD OK - pg_hba rw deny" },
		{ "lease expiring", lease_expiring, CHECK_CRITICAL,
		    "HAREPD CRITICAL - lease expiring: rw allowed for 1000 ms" },
		{ "old verdict, rw denied anyway", lease_expiring_deny, CHECK_OK,
		    "HAREPD OK" },
		{ "fenced", fenced, CHECK_CRITICAL, "pg_hba fenced" },
		{ "crash loop", crash_loop, CHECK_CRITICAL, "HAREPD CRITICAL - "
		    "worker hba crash-looping: 5 restarts, last: killed by "
		    "signal 9 (Killed)" },
		{ "peer unreachable, its error on one line", unreachable,
		    CHECK_WARNING, "HAREPD WARNING - peer 10.0.0.12:10000 "
		    "unreachable (UNAVAILABLE: refused x)\n" },
		{ "hold-down", hold_down, CHECK_WARNING, "in hold-down" },
		{ "no verdict", no_verdict, CHECK_UNKNOWN,
		    "HAREPD UNKNOWN - no verdict yet\n" },
		{ "server-only has no verdict by design", server_only, CHECK_OK,
		    "HAREPD OK - mode server-only" },
		{ "paused: no lease alarm", paused, CHECK_WARNING,
		    "HAREPD WARNING - client paused" },
		{ "critical first, then warnings", crash_and_unreachable,
		    CHECK_CRITICAL, "(Killed); peer 10.0.0.12:10000 unreachable" },
		{ "critical outranks unknown", crash_no_verdict, CHECK_CRITICAL,
		    "crash-looping: 5 restarts, last: killed by signal 9 "
		    "(Killed); no verdict yet" },
	};
	struct metrics_now now = { .boot_ms = NOW_BOOT,
	    .watchdog_ms = WATCHDOG_MS };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sample s;
		char line[1400];
		enum check_level got;

		healthy(&s);
		cases[i].change(&s);
		got = check_judge(&s.st, &now, line, sizeof(line));
		print_message("case %s: %s", cases[i].name, line);
		assert_int_equal(got, cases[i].want);
		assert_non_null(strstr(line, cases[i].part));
		assert_int_equal(strchr(line, '\n') - line,
		    (long)strlen(line) - 1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
