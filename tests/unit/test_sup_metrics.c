/*
 * The OpenMetrics printer: label values escaped as the spec says (a
 * target comes from the config and is echoed in peers' evidence: quotes,
 * backslashes and newlines must not break a line), histogram buckets
 * cumulative with le as an upper bound, and the whole exposition parsed
 * by Debian's python3-prometheus-client OpenMetrics parser.
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

#define NASTY	"host\"a\\b\nc:5432"

static char *
render(const struct status *st, const struct metrics *m)
{
	struct metrics_now now = { .boot_ms = 50000, .watchdog_ms = 2000 };
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	metrics_print(fp, st, m, &now);
	fclose(fp);
	return buf;
}

static void
test_label_escape(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	(void)state;
	metrics_write_label(fp, NASTY);
	fclose(fp);
	assert_string_equal(buf, "\"host\\\"a\\\\b\\nc:5432\"");
	free(buf);
}

static void
test_hist_buckets(void **state)
{
	static const double b[] = { 0.1, 1 };
	struct metrics_hist h = { .bounds = b, .n_bounds = 2 };

	(void)state;
	metrics_hist_observe(&h, 0.1);	/* le is inclusive */
	metrics_hist_observe(&h, 0.5);
	metrics_hist_observe(&h, 7);
	metrics_hist_observe(&h, -1);	/* nonsense counts as 0 */
	assert_int_equal(h.count[0], 2);
	assert_int_equal(h.count[1], 1);
	assert_int_equal(h.count[2], 1);
	assert_int_equal(h.total, 4);
}

struct sample {
	Harepd__Verdict		 verdict;
	Harepd__PeerAnswer	 p1, p2;
	Harepd__PeerAnswer	*ev[2];
	Harepd__HbaApplied	 hba;
	struct status		 st;
	struct metrics		 m;
	Harepd__RpcServed	 served;
	uint64_t		 by_code[40];
};

static void
make_sample(struct sample *s)
{
	harepd__verdict__init(&s->verdict);
	harepd__peer_answer__init(&s->p1);
	harepd__peer_answer__init(&s->p2);
	harepd__hba_applied__init(&s->hba);
	s->p1.target = NASTY;
	s->p1.answered = true;
	s->p1.agrees = true;
	s->p1.latency_us = 3000;
	s->p2.target = "10.0.0.20:50051";
	s->ev[0] = &s->p1;
	s->ev[1] = &s->p2;
	s->verdict.seq = 42;
	s->verdict.rw_allow = true;
	s->verdict.tick_us = 120000;
	s->verdict.lease_ms = 6000;
	s->verdict.decided_boot_ms = 48000;
	s->verdict.evidence = s->ev;
	s->verdict.n_evidence = 2;
	s->hba.rw_allow = true;
	s->hba.changed = true;
	s->hba.reloaded = true;
	memset(&s->st, 0, sizeof(s->st));
	memset(s->by_code, 0, sizeof(s->by_code));
	s->st.mode = "dual";
	s->st.verdict = &s->verdict;
	s->st.hba = &s->hba;
	s->st.workers[0] = (struct status_worker){ .name = "probe",
	    .state = "running", .pid = 7, .uptime_ms = 1500, .restarts = 3 };
	s->st.n_workers = 1;
	metrics_init(&s->m);
	metrics_on_verdict(&s->m, &s->verdict);
	metrics_on_hba(&s->m, &s->hba);
	s->by_code[0] = 5;
	s->by_code[14] = 2;
	harepd__rpc_served__init(&s->served);
	s->served.by_code = s->by_code;
	s->served.n_by_code = 40;	/* past 16: ignored, never overrun */
	metrics_on_rpc_served(&s->m, &s->served);
	metrics_on_rpc_served(&s->m, &s->served);
}

static void
test_lines(void **state)
{
	struct sample s;
	char *text;

	(void)state;
	make_sample(&s);
	text = render(&s.st, &s.m);
	assert_non_null(strstr(text, "harepd_verdict_rw_allow 1\n"));
	assert_non_null(strstr(text, "harepd_verdict_sequence 42\n"));
	assert_non_null(strstr(text, "harepd_verdict_age_seconds 2\n"));
	assert_non_null(strstr(text, "harepd_lease_remaining_seconds 4\n"));
	assert_non_null(strstr(text, "harepd_peer_answered{target="
	    "\"host\\\"a\\\\b\\nc:5432\"} 1\n"));
	assert_non_null(strstr(text, "harepd_tick_duration_seconds_bucket"
	    "{le=\"0.1\"} 0\nharepd_tick_duration_seconds_bucket"
	    "{le=\"0.25\"} 1\n"));
	assert_non_null(strstr(text, "harepd_worker_restarts_total"
	    "{worker=\"probe\"} 3\n"));
	assert_non_null(strstr(text, "harepd_hba_changes_total 1\n"));
	assert_non_null(strstr(text, "harepd_grpc_requests_total"
	    "{code=\"OK\"} 10\nharepd_grpc_requests_total"
	    "{code=\"UNAVAILABLE\"} 4\n"));
	assert_int_equal(strcmp(text + strlen(text) - 6, "# EOF\n"), 0);
	free(text);
	metrics_free(&s.m);
}

/* The real parser: every family and the peer's target, round-tripped. */
static const char parse_py[] =
    "import sys\n"
    "from prometheus_client.openmetrics.parser import "
    "text_string_to_metric_families as p\n"
    "fams = {f.name: f for f in p(sys.stdin.read())}\n"
    "t = [s.labels['target'] for s in fams['harepd_peer_answered'].samples]\n"
    "sys.stdout.write(repr(t[0]) + ' ' + fams['harepd_peer_latency_seconds']"
    ".type)\n";

static void
test_parses(void **state)
{
	char path[] = "/tmp/test_sup_metrics.XXXXXX", cmd[256], out[256];
	struct sample s;
	char *text;
	FILE *fp;
	int fd;

	(void)state;
	if (system("/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null") != 0)
		skip();		/* make deps installs python3-prometheus-client */
	make_sample(&s);
	text = render(&s.st, &s.m);
	assert_true((fd = mkstemp(path)) != -1);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c \"$PY\" <%s", path);
	setenv("PY", parse_py, 1);
	assert_non_null(fp = popen(cmd, "r"));
	memset(out, 0, sizeof(out));
	(void)fread(out, 1, sizeof(out) - 1, fp);
	assert_int_equal(pclose(fp), 0);
	assert_string_equal(out, "'host\"a\\\\b\\nc:5432' histogram");
	unlink(path);
	free(text);
	metrics_free(&s.m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_escape),
		cmocka_unit_test(test_hist_buckets),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_parses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
