/*
 * Status printers: the node's role from its own view, the text table an
 * operator reads, and the JSON schema of docs/CONTROL.md (checked to
 * parse with Python's json module, and field by field).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "supervisor/sup.h"

static char *primaries[] = { "10.0.0.11" };
static char *standbys[] = { "10.0.0.12", "10.0.0.13" };

static void
make_view(Harepd__LocalView *v, char *ip)
{
	harepd__local_view__init(v);
	v->node_id = 1;
	v->node_name = "node_1";
	v->ip = ip;
	v->primaries = primaries;
	v->n_primaries = 1;
	v->standbys = standbys;
	v->n_standbys = 2;
	v->witness = "10.0.0.20";
	v->timeline = 3;
	v->collected_at_ms = 1000000;
}

static void
test_node_role(void **state)
{
	Harepd__LocalView v;

	assert_string_equal(status_node_role(NULL), "unknown");
	make_view(&v, "10.0.0.11");
	assert_string_equal(status_node_role(&v), "primary");
	make_view(&v, "10.0.0.13");
	assert_string_equal(status_node_role(&v), "standby");
	make_view(&v, "10.0.0.20");
	assert_string_equal(status_node_role(&v), "witness");
	make_view(&v, "10.0.0.99");
	assert_string_equal(status_node_role(&v), "unknown");
	make_view(&v, "");
	assert_string_equal(status_node_role(&v), "unknown");
}

struct sample {
	Harepd__LocalView	view;
	Harepd__Verdict		verdict;
	Harepd__PeerAnswer	p1, p2;
	Harepd__PeerAnswer	*ev[2];
	Models__IKnow		answer;
	Harepd__HbaApplied	hba;
	struct status		st;
};

static void
make_sample(struct sample *s)
{
	memset(s, 0, sizeof(*s));
	make_view(&s->view, "10.0.0.11");
	models__iknow__init(&s->answer);
	s->answer.ip = "10.0.0.12";
	s->answer.nodename = "node_2";
	s->answer.nodeid = 2;
	s->answer.master = primaries;
	s->answer.n_master = 1;
	s->answer.slaves = standbys;
	s->answer.n_slaves = 2;
	s->answer.witness = "10.0.0.20";
	harepd__peer_answer__init(&s->p1);
	s->p1.target = "10.0.0.12:10000";
	s->p1.role = "neighbour";
	s->p1.answered = 1;
	s->p1.latency_us = 1234;
	s->p1.agrees = 1;
	s->p1.answer = &s->answer;
	harepd__peer_answer__init(&s->p2);
	s->p2.target = "10.0.0.20:10000";
	s->p2.role = "witness";
	s->p2.error = "DEADLINE_EXCEEDED: \"slow\"";
	s->ev[0] = &s->p1;
	s->ev[1] = &s->p2;
	harepd__verdict__init(&s->verdict);
	s->verdict.seq = 42;
	s->verdict.rw_allow = 1;
	s->verdict.ro_allow = 1;
	s->verdict.reason = "2 of 3 members agree";
	s->verdict.policy = "majority";
	s->verdict.evidence = s->ev;
	s->verdict.n_evidence = 2;
	s->verdict.lease_ms = 45000;
	s->verdict.decided_at_ms = 1000500;
	s->verdict.tick_us = 2500;
	harepd__hba_applied__init(&s->hba);
	s->hba.seq = 42;
	s->hba.changed = 1;
	s->hba.reloaded = 1;
	s->hba.rw_allow = 1;
	s->hba.ro_allow = 1;
	s->hba.applied_at_ms = 1000600;

	s->st.pid = 4242;
	s->st.mode = "dual";
	s->st.config = "/etc/harepd/conf.yml";
	s->st.now_ms = 1002000;
	s->st.started_ms = 1000000 - 7200 * 1000;
	s->st.ready = true;
	s->st.view = &s->view;
	s->st.verdict = &s->verdict;
	s->st.hba = &s->hba;
	s->st.hba_changed_ms = 1000600;
	s->st.n_workers = 3;
	s->st.workers[0] = (struct status_worker){ "rpc", "nobody", "running",
	    101, 5000, 0, "", 0, false };
	s->st.workers[1] = (struct status_worker){ "probe", "postgres",
	    "running", 102, 5000, 2, "killed by signal 9 (Killed)", 0, false };
	s->st.workers[2] = (struct status_worker){ "hba", "postgres",
	    "backoff", 0, 0, 7, "exited with status 1", 1600, false };
}

static char *
render(const struct status *st, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	if (json)
		status_print_json(fp, st);
	else
		status_print_text(fp, st);
	fclose(fp);
	return buf;
}

static void
test_text(void **state)
{
	struct sample s;
	char *t;

	make_sample(&s);
	t = render(&s.st, false);
	assert_non_null(strstr(t, "pid 4242, mode dual, up 2h00m, client running"));
	assert_non_null(strstr(t, "role primary"));
	assert_non_null(strstr(t, "#42 rw allow, ro allow (policy majority)"));
	assert_non_null(strstr(t, "reason    2 of 3 members agree"));
	assert_non_null(strstr(t, "10.0.0.12:10000"));
	assert_non_null(strstr(t, "1.2 ms"));
	assert_non_null(strstr(t, "DEADLINE_EXCEEDED"));
	assert_non_null(strstr(t, "pg_hba    rw allow, ro allow"));
	assert_non_null(strstr(t, "last changed by harepd 1.4s ago"));
	assert_non_null(strstr(t, "probe   102"));
	assert_non_null(strstr(t, "killed by signal 9"));
	assert_non_null(strstr(t, "hba     -        backoff"));
	free(t);

	s.st.paused = true;
	s.st.view = NULL;
	s.st.verdict = NULL;
	s.st.hba = NULL;
	t = render(&s.st, false);
	assert_non_null(strstr(t, "client PAUSED"));
	assert_non_null(strstr(t, "role unknown"));
	assert_non_null(strstr(t, "verdict   none yet"));
	free(t);
}

/* Python reads the JSON and checks the documented fields. */
static void
check_json(const char *json, const char *python_asserts)
{
	char path[] = "/tmp/test_sup_status.XXXXXX", cmd[4096];
	int fd = mkstemp(path);
	FILE *fp = fdopen(fd, "w");

	assert_non_null(fp);
	fputs(json, fp);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "python3 -c 'import json,sys\n"
	    "d = json.load(open(sys.argv[1]))\n%s' %s", python_asserts, path);
	int rc = system(cmd);
	unlink(path);
	assert_int_equal(rc, 0);
}

static void
test_json(void **state)
{
	struct sample s;
	char *j;

	make_sample(&s);
	j = render(&s.st, true);
	check_json(j,
	    "assert d[\"version\"] == 1\n"
	    "assert d[\"daemon\"][\"pid\"] == 4242\n"
	    "assert d[\"daemon\"][\"mode\"] == \"dual\"\n"
	    "assert d[\"daemon\"][\"client_paused\"] is False\n"
	    "assert d[\"daemon\"][\"uptime_ms\"] == 7202000\n"
	    "assert d[\"role\"] == \"primary\"\n"
	    "assert d[\"view\"][\"standbys\"] == [\"10.0.0.12\", \"10.0.0.13\"]\n"
	    "assert d[\"view\"][\"age_ms\"] == 2000\n"
	    "v = d[\"verdict\"]\n"
	    "assert v[\"seq\"] == 42 and v[\"rw\"] == \"allow\"\n"
	    "assert v[\"peers\"][0][\"latency_us\"] == 1234\n"
	    "assert v[\"peers\"][0][\"answer\"][\"node_name\"] == \"node_2\"\n"
	    "assert v[\"peers\"][0][\"answer\"][\"observation\"] is None\n"
	    "assert v[\"peers\"][1][\"answer\"] is None\n"
	    "assert v[\"peers\"][1][\"error\"] == \"DEADLINE_EXCEEDED: \\\"slow\\\"\"\n"
	    "assert d[\"pg_hba\"][\"changed\"] is True\n"
	    "assert d[\"pg_hba\"][\"age_ms\"] == 1400\n"
	    "assert d[\"pg_hba\"][\"last_changed_at_ms\"] == 1000600\n"
	    "w = d[\"workers\"]\n"
	    "assert [x[\"name\"] for x in w] == [\"rpc\", \"probe\", \"hba\"]\n"
	    "assert w[1][\"restarts\"] == 2 and w[1][\"pid\"] == 102\n"
	    "assert w[2][\"pid\"] is None and w[2][\"restart_in_ms\"] == 1600\n");
	free(j);

	s.st.view = NULL;
	s.st.verdict = NULL;
	s.st.hba = NULL;
	s.st.n_workers = 0;
	j = render(&s.st, true);
	check_json(j,
	    "assert d[\"view\"] is None and d[\"verdict\"] is None\n"
	    "assert d[\"pg_hba\"] is None and d[\"workers\"] == []\n"
	    "assert d[\"role\"] == \"unknown\"\n");
	free(j);
}

/* A worker's stamp near either end of int64: ages saturate (fuzz_status). */
static void
test_extreme_times(void **state)
{
	struct sample s;
	char *j;

	make_sample(&s);
	s.verdict.decided_at_ms = INT64_MIN;
	s.view.collected_at_ms = INT64_MAX;
	s.hba.applied_at_ms = INT64_MIN + 1;
	j = render(&s.st, false);
	assert_non_null(strstr(j, "view - old"));
	free(j);
	j = render(&s.st, true);
	check_json(j,
	    "assert d[\"verdict\"][\"age_ms\"] == 2**63 - 1\n"
	    "assert d[\"view\"][\"age_ms\"] < 0\n"
	    "assert d[\"pg_hba\"][\"age_ms\"] == 2**63 - 1\n");
	free(j);
}

/* Nothing a terminal obeys: only \n below 0x20, no DEL, no C1. */
static void
assert_no_controls(const char *t)
{
	for (const unsigned char *p = (const unsigned char *)t; *p; p++) {
		if (*p < 0x20 && *p != '\n')
			fail_msg("control byte 0x%02x at offset %td", *p,
			    (const char *)p - t);
		if (*p == 0x7f)
			fail_msg("DEL at offset %td", (const char *)p - t);
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] < 0xa0)
			fail_msg("C1 control at offset %td", (const char *)p - t);
	}
}

/* Peers, the database and workers choose these strings (issue 13 item 3). */
static void
test_text_escapes(void **state)
{
	static char *evil_list[] = { "10.0.0.11\x1b]0;owned\x07", "\r10.0.0.9" };
	static char esc[] = "\x1b[2J\x1b[31mroot# ";
	struct sample s;
	char *t;

	make_sample(&s);
	s.view.node_name = "node\x1b[1A";
	s.view.ip = "10.0.0.11\x7f";
	s.view.primaries = evil_list;
	s.view.n_primaries = 2;
	s.view.witness = "\x9b\xc2\x9b" "31m";	/* a stray byte, then C1 CSI */
	s.view.db_error = "FATAL:\n\tconnection refused\x1b[0m";
	s.verdict.reason = esc;
	s.verdict.policy = "maj\bority";
	s.p1.target = "\x1b[H10.0.0.12:10000";
	s.p1.role = "neigh\x0c" "bour";
	s.answer.master = evil_list;
	s.answer.slaves = evil_list;
	s.answer.witness = "w\x1b";
	s.p2.error = "UNAVAILABLE: \x1bP+q\x1b\\";
	s.hba.error = "reload failed\r\n\x1b[2K";
	s.st.config = "/etc/harepd/\x1b[5mconf.yml";
	s.st.workers[1].last_exit = "killed\x1b[8m";
	t = render(&s.st, false);
	assert_no_controls(t);
	assert_non_null(strstr(t, "reason    \\x1b[2J\\x1b[31mroot# \n"));
	assert_non_null(strstr(t, "node\\x1b[1A (id 1, 10.0.0.11\\x7f)"));
	assert_non_null(strstr(t, "primaries 10.0.0.11\\x1b]0;owned\\x07,"
	    "\\x0d10.0.0.9"));
	assert_non_null(strstr(t, "witness \\x9b\\xc2\\x9b31m\n"));
	assert_non_null(strstr(t, "db error  FATAL:\\x0a\\x09connection"));
	assert_non_null(strstr(t, "UNAVAILABLE: \\x1bP+q\\x1b\\\\\n"));
	assert_non_null(strstr(t, "ERROR reload failed\\x0d\\x0a\\x1b[2K\n"));
	assert_non_null(strstr(t, "config    /etc/harepd/\\x1b[5mconf.yml\n"));
	assert_non_null(strstr(t, "killed\\x1b[8m\n"));
	assert_non_null(strstr(t, "(policy maj\\x08ority)"));
	/* the columns still line up: the escaped form is what is counted */
	assert_non_null(strstr(t, "\\x1b[H10.0.0.12:10000    neigh\\x0cbour "));
	free(t);

	/* UTF-8 is kept as it is; only what is not UTF-8 is escaped */
	make_sample(&s);
	s.view.node_name = "n\xc5\x93ud-\xe6\x97\xa5\xf0\x9f\x90\x98";
	s.verdict.reason = "caf\xc3\xa9 \xc3 \xed\xa0\x80 \xc0\xaf";
	t = render(&s.st, false);
	assert_no_controls(t);
	assert_non_null(strstr(t, "node      n\xc5\x93ud-\xe6\x97\xa5"
	    "\xf0\x9f\x90\x98 (id 1"));
	assert_non_null(strstr(t, "reason    caf\xc3\xa9 \\xc3 \\xed\\xa0\\x80 "
	    "\\xc0\\xaf\n"));
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_role),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_extreme_times),
		cmocka_unit_test(test_text_escapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
