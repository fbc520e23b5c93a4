/*
 * worker-rpc's pure parts: LocalView -> IKnow bytes, when a view may be
 * answered, decoding of hostile requests, the inquiry log limiter and
 * the listen address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "worker-rpc/rpc.h"
#include "util/unconst.h"

static char *view_ips[] = { "10.0.0.11", "10.0.0.12", "fd00::13" };

/* Every field set, non-ASCII and extreme where the type allows. */
static void
sample_local_view(Harepd__LocalView *v)
{
	harepd__local_view__init(v);
	v->node_id = -3;
	v->node_name = "nœud-ß";
	v->ip = "10.0.0.11";
	v->n_primaries = 1;
	v->primaries = view_ips;
	v->n_standbys = 2;
	v->standbys = view_ips + 1;
	v->witness = "10.0.0.99";
	v->in_recovery = 1;
	v->timeline = 4000000000u;
	v->collected_at_ms = -1234567890123LL;
	v->collected_boot_ms = 1234567890123LL;
	v->db_error = "could not connect: «refused»";
}

static Models__IKnow *
unpack_snapshot(const struct rpc_snapshot *s)
{
	Models__IKnow *k;

	k = models__iknow__unpack(NULL, s->packed_len, s->packed);
	assert_non_null(k);
	return k;
}

static void
test_view_to_iknow(void **state)
{
	Harepd__LocalView v;
	struct rpc_snapshot *s;
	Models__IKnow *k;

	sample_local_view(&v);
	s = rpc_snapshot_new(&v);
	assert_non_null(s);
	k = unpack_snapshot(s);
	assert_string_equal(k->ip, "10.0.0.11");
	assert_int_equal(k->nodeid, -3);
	assert_string_equal(k->nodename, "nœud-ß");
	assert_string_equal(k->witness, "10.0.0.99");
	/* Go's names: master = primaries, slaves = standbys */
	assert_int_equal(k->n_master, 1);
	assert_string_equal(k->master[0], "10.0.0.11");
	assert_int_equal(k->n_slaves, 2);
	assert_string_equal(k->slaves[0], "10.0.0.12");
	assert_string_equal(k->slaves[1], "fd00::13");
	assert_non_null(k->observation);
	assert_true(k->observation->inrecovery);
	assert_int_equal(k->observation->timeline, 4000000000u);
	assert_int_equal(s->collected_boot_ms, 1234567890123LL);
	assert_string_equal(s->db_error, "could not connect: «refused»");
	assert_int_equal(s->node_id, -3);
	models__iknow__free_unpacked(k, NULL);
	rpc_snapshot_free(s);
}

/*
 * A primary not in recovery on timeline 0 still sends field 7, so a
 * C peer can tell "observed: primary" from "a Go peer said nothing".
 */
static void
test_empty_view_keeps_observation(void **state)
{
	Harepd__LocalView v = HAREPD__LOCAL_VIEW__INIT;
	struct rpc_snapshot *s;
	Models__IKnow *k;

	s = rpc_snapshot_new(&v);
	assert_non_null(s);
	assert_null(s->db_error);
	k = unpack_snapshot(s);
	assert_non_null(k->observation);
	assert_false(k->observation->inrecovery);
	assert_int_equal(k->n_master, 0);
	assert_int_equal(k->n_slaves, 0);
	assert_string_equal(k->ip, "");
	models__iknow__free_unpacked(k, NULL);
	rpc_snapshot_free(s);
}

static const struct status_case {
	const char	*name;
	bool		 have_view;
	const char	*db_error;
	int64_t		 age_ms;	/* now - collected_boot_ms */
	grpc_status_code want;
	const char	*why;		/* substring of the message */
} status_cases[] = {
	{ "no view yet", false, NULL, 0, GRPC_STATUS_UNAVAILABLE,
	    "no local view yet" },
	{ "fresh", true, NULL, 0, GRPC_STATUS_OK, NULL },
	{ "db down", true, "connection refused", 0, GRPC_STATUS_UNAVAILABLE,
	    "local database unreachable: connection refused" },
	{ "empty db_error is no error", true, "", 10, GRPC_STATUS_OK, NULL },
	{ "at the limit", true, NULL, 50000, GRPC_STATUS_OK, NULL },
	{ "one ms past", true, NULL, 50001, GRPC_STATUS_UNAVAILABLE,
	    "stale: collected 50001 ms ago, answered only up to 50000 ms" },
	{ "from the future", true, NULL, -50001, GRPC_STATUS_UNAVAILABLE,
	    "stamped 50001 ms in the future" },
	/* the boot clock is the host's one clock: ahead of it is bogus */
	{ "slightly ahead", true, NULL, -1, GRPC_STATUS_UNAVAILABLE,
	    "stamped 1 ms in the future" },
	{ "db down and stale", true, "boom", 999999, GRPC_STATUS_UNAVAILABLE,
	    "unreachable: boom" },
};

static void
test_status_table(void **state)
{
	const int64_t now = 86400000, max_age = 50000;	/* up for a day */

	for (size_t i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]);
	    i++) {
		const struct status_case *c = &status_cases[i];
		Harepd__LocalView v = HAREPD__LOCAL_VIEW__INIT;
		struct rpc_snapshot *s = NULL;
		grpc_status_code got;
		char why[512] = "";

		v.collected_boot_ms = now - c->age_ms;
		v.db_error = unconst_str(c->db_error ? c->db_error : "");
		if (c->have_view)
			assert_non_null(s = rpc_snapshot_new(&v));
		got = rpc_snapshot_status(s, now, max_age, why, sizeof(why));
		print_message("# %s: %s %s\n", c->name, rpc_status_name(got),
		    why);
		assert_int_equal(got, c->want);
		if (c->why != NULL)
			assert_non_null(strstr(why, c->why));
		rpc_snapshot_free(s);
	}
}

static void
test_max_age(void **state)
{
	struct conf c = { .watchdog = 15, .connection_deadline = 5 };

	assert_int_equal(rpc_max_age_ms(&c), 50000);
	c.watchdog = 1;
	c.connection_deadline = 1;
	assert_int_equal(rpc_max_age_ms(&c), 4000);
}

static size_t
pack_request(uint8_t *buf, const char *ip, int32_t id, const char *name)
{
	Models__WhatYouKnow q = MODELS__WHAT_YOU_KNOW__INIT;

	q.ip = unconst_str(ip);
	q.nodeid = id;
	q.nodename = unconst_str(name);
	return models__what_you_know__pack(&q, buf);
}

static void
test_request_ok(void **state)
{
	Models__WhatYouKnow *q;
	uint8_t buf[128];
	size_t len = pack_request(buf, "10.0.0.12", 2, "node_2");
	char why[256];

	assert_int_equal(rpc_request_decode(buf, len, &q, why, sizeof(why)),
	    GRPC_STATUS_OK);
	assert_string_equal(q->ip, "10.0.0.12");
	assert_int_equal(q->nodeid, 2);
	assert_string_equal(q->nodename, "node_2");
	models__what_you_know__free_unpacked(q, NULL);
	/* an all-default WhatYouKnow is zero bytes, and valid */
	assert_int_equal(rpc_request_decode(buf, 0, &q, why, sizeof(why)),
	    GRPC_STATUS_OK);
	assert_string_equal(q->ip, "");
	models__what_you_know__free_unpacked(q, NULL);
}

static const struct bad_request {
	const char	*name;
	const char	*bytes;
	size_t		 len;
	grpc_status_code want;
	const char	*why;
} bad_requests[] = {
	{ "no message", NULL, 0, GRPC_STATUS_INVALID_ARGUMENT,
	    "no request message" },
	{ "0xff garbage", "\xff\xff\xff\xff", 4, GRPC_STATUS_INVALID_ARGUMENT,
	    "not a models.WhatYouKnow" },
	{ "length beyond the end", "\x0a\x10" "abc", 5,
	    GRPC_STATUS_INVALID_ARGUMENT, "not a models.WhatYouKnow" },
	{ "varint where ip is a string", "\x08\x01", 2,
	    GRPC_STATUS_INVALID_ARGUMENT, "not a models.WhatYouKnow" },
	{ "ip not UTF-8", "\x0a\x02\xc3\x28", 4, GRPC_STATUS_INVALID_ARGUMENT,
	    "UTF-8" },
	{ "nodeName not UTF-8", "\x1a\x01\x80", 3,
	    GRPC_STATUS_INVALID_ARGUMENT, "UTF-8" },
	/* keys protobuf-c reads but would not read back (ipc.h) */
	{ "field 0 from an overlong key", "\x80\x00\x33", 3,
	    GRPC_STATUS_INVALID_ARGUMENT, "field numbered 0" },
	{ "field 2^29 from a 5-byte key", "\x80\x80\x80\x80\x10\x01", 6,
	    GRPC_STATUS_INVALID_ARGUMENT, "field numbered 536870912" },
};

static void
test_bad_requests(void **state)
{
	for (size_t i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]);
	    i++) {
		const struct bad_request *c = &bad_requests[i];
		Models__WhatYouKnow *q = (void *)1;
		char why[256] = "";
		grpc_status_code got;

		got = rpc_request_decode((const uint8_t *)c->bytes, c->len, &q,
		    why, sizeof(why));
		print_message("# %s: %s %s\n", c->name, rpc_status_name(got),
		    why);
		assert_int_equal(got, c->want);
		assert_null(q);
		assert_non_null(strstr(why, c->why));
	}
}

static void
test_request_size_limit(void **state)
{
	static uint8_t buf[RPC_MAX_REQUEST + 16];
	static char name[RPC_MAX_REQUEST];
	Models__WhatYouKnow *q;
	char why[256];
	size_t len;

	/* tag (1) + length varint (2) + name: exactly RPC_MAX_REQUEST bytes */
	memset(name, 'n', RPC_MAX_REQUEST - 3);
	name[RPC_MAX_REQUEST - 3] = '\0';
	len = pack_request(buf, "", 0, name);
	assert_int_equal(len, RPC_MAX_REQUEST);
	assert_int_equal(rpc_request_decode(buf, len, &q, why, sizeof(why)),
	    GRPC_STATUS_OK);
	models__what_you_know__free_unpacked(q, NULL);
	assert_int_equal(rpc_request_decode(buf, len + 1, &q, why,
	    sizeof(why)), GRPC_STATUS_RESOURCE_EXHAUSTED);
	assert_null(q);
	assert_non_null(strstr(why, "4097 bytes, at most 4096"));
}

/* One step of the limiter: at t, take (or expire) and expect. */
static const struct limit_step {
	int64_t		 t;
	bool		 expire;	/* timer instead of an inquiry */
	bool		 allowed;
	unsigned long	 report;
} limit_steps[] = {
	{ 0, false, true, 0 },
	{ 1, false, true, 0 },
	{ 2, false, true, 0 },
	{ 3, false, false, 0 },		/* burst of 3 used up */
	{ 500, true, false, 0 },	/* timer inside the window: nothing */
	{ 999, false, false, 0 },
	{ 1000, false, true, 2 },	/* new window: tell the 2 refused */
	{ 1001, false, true, 0 },
	{ 1002, false, true, 0 },
	{ 1003, false, false, 0 },
	{ 2500, true, false, 1 },	/* a quiet second: the timer tells */
	{ 2600, false, true, 0 },	/* and it was told only once */
	{ 9000, true, false, 0 },
	{ 9001, false, true, 0 },
	{ 9002, false, true, 0 },
	{ 9003, false, true, 0 },
	{ 9004, false, false, 0 },
	{ 9005, false, false, 0 },
};

static void
test_ratelimit(void **state)
{
	struct rpc_ratelimit rl;

	rpc_ratelimit_init(&rl, 3);
	for (size_t i = 0; i < sizeof(limit_steps) / sizeof(limit_steps[0]);
	    i++) {
		const struct limit_step *s = &limit_steps[i];
		unsigned long report;

		print_message("# step %zu at %lld ms\n", i, (long long)s->t);
		if (s->expire)
			report = rpc_ratelimit_expire(&rl, s->t);
		else
			assert_int_equal(rpc_ratelimit_take(&rl, s->t,
			    &report), s->allowed);
		assert_int_equal(report, s->report);
	}
	/* at exit the current window's count is told, once */
	assert_int_equal(rpc_ratelimit_drain(&rl), 2);
	assert_int_equal(rpc_ratelimit_drain(&rl), 0);
	assert_int_equal(rpc_ratelimit_expire(&rl, 20000), 0);
}

static void
test_listen_address(void **state)
{
	char buf[64];

	assert_int_equal(rpc_listen_address(buf, sizeof(buf), "127.0.0.1",
	    10000), 0);
	assert_string_equal(buf, "127.0.0.1:10000");
	assert_int_equal(rpc_listen_address(buf, sizeof(buf), "::1", 1), 0);
	assert_string_equal(buf, "[::1]:1");
	assert_int_equal(rpc_listen_address(buf, sizeof(buf), "::", 80), 0);
	assert_string_equal(buf, "[::]:80");
	assert_int_equal(rpc_listen_address(buf, sizeof(buf), "[::1]", 5), 0);
	assert_string_equal(buf, "[::1]:5");
	assert_int_equal(rpc_listen_address(buf, sizeof(buf), "db1.example",
	    10000), 0);
	assert_string_equal(buf, "db1.example:10000");
	assert_int_equal(rpc_listen_address(buf, 8, "127.0.0.1", 10000), -1);
}

static void
test_status_names(void **state)
{
	assert_string_equal(rpc_status_name(GRPC_STATUS_OK), "OK");
	assert_string_equal(rpc_status_name(GRPC_STATUS_UNAVAILABLE),
	    "UNAVAILABLE");
	assert_string_equal(rpc_status_name(GRPC_STATUS_UNAUTHENTICATED),
	    "UNAUTHENTICATED");
	assert_string_equal(rpc_status_name((grpc_status_code)99), "UNKNOWN");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_view_to_iknow),
		cmocka_unit_test(test_empty_view_keeps_observation),
		cmocka_unit_test(test_status_table),
		cmocka_unit_test(test_max_age),
		cmocka_unit_test(test_request_ok),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_request_size_limit),
		cmocka_unit_test(test_ratelimit),
		cmocka_unit_test(test_listen_address),
		cmocka_unit_test(test_status_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
