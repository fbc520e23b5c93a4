/*
 * worker-probe's pure helpers: the address a node is known by (repmgr's
 * conninfo through PQconninfoParse), canonical addresses, decoding of
 * peers' answers (garbage, oversized, not UTF-8), and the libpq
 * parameters the probe connects with.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <grpc/grpc.h>

#include "worker-probe/probe.h"

static void
test_conninfo_host(void **state)
{
	static const struct { const char *conninfo, *want; } t[] = {
		{ "host=10.0.0.1 user=repmgr dbname=repmgr", "10.0.0.1" },
		{ "user=repmgr host='10.0.0.2' port=5432", "10.0.0.2" },
		{ "host=DB1.Example.COM user=repmgr", "db1.example.com" },
		{ "host=2001:DB8:0:0::1 user=repmgr", "2001:db8::1" },
		{ "host=10.0.0.3,10.0.0.4 user=repmgr", "10.0.0.3" },
		{ "hostaddr=10.0.0.5 user=repmgr", "10.0.0.5" },
		{ "host=n6 hostaddr=10.0.0.6", "n6" },
		{ "postgresql://repmgr@10.0.0.7:5432/repmgr", "10.0.0.7" },
		{ "postgresql://repmgr@[2001:db8::8]:5432/repmgr",
		  "2001:db8::8" },
		{ "host=/var/run/postgresql user=repmgr",
		  "/var/run/postgresql" },
	};
	char out[256];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(conninfo_host(t[i].conninfo, out,
		    sizeof(out)), 0);
		assert_string_equal(out, t[i].want);
	}
}

static void
test_conninfo_no_host(void **state)
{
	char out[64] = "untouched";

	assert_int_equal(conninfo_host("user=repmgr dbname=repmgr", out,
	    sizeof(out)), -1);
	assert_int_equal(conninfo_host("host='unterminated", out,
	    sizeof(out)), -1);
	assert_int_equal(conninfo_host("nosuchkeyword=1 host=x", out,
	    sizeof(out)), -1);
	assert_int_equal(conninfo_host("", out, sizeof(out)), -1);
}

static void
test_addr_canon(void **state)
{
	char out[64];

	probe_addr_canon("::ffff:10.0.0.1", out, sizeof(out));
	assert_string_equal(out, "::ffff:10.0.0.1");
	probe_addr_canon("fe80:0000::0001", out, sizeof(out));
	assert_string_equal(out, "fe80::1");
	probe_addr_canon("010.0.0.1", out, sizeof(out));	/* not an IP */
	assert_string_equal(out, "010.0.0.1");
	probe_addr_canon(NULL, out, sizeof(out));
	assert_string_equal(out, "");
	probe_addr_canon("VeryLongHostName", out, 5);
	assert_string_equal(out, "very");
}

static uint8_t *
pack_iknow(const Models__IKnow *k, size_t *len)
{
	uint8_t *buf;

	*len = models__iknow__get_packed_size(k);
	buf = malloc(*len + 1);
	assert_non_null(buf);
	models__iknow__pack(k, buf);
	return buf;
}

static void
test_decode_answer(void **state)
{
	Models__IKnow k = MODELS__IKNOW__INIT, *got;
	Models__Observation o = MODELS__OBSERVATION__INIT;
	char *masters[] = { "10.0.0.1" }, why[256] = "";
	uint8_t *buf;
	size_t len;

	k.ip = "10.0.0.2";
	k.master = masters;
	k.n_master = 1;
	o.timeline = 7;
	k.observation = &o;
	buf = pack_iknow(&k, &len);
	got = peers_decode_answer(buf, len, why, sizeof(why));
	assert_non_null(got);
	assert_string_equal(got->master[0], "10.0.0.1");
	assert_non_null(got->observation);
	assert_int_equal(got->observation->timeline, 7);
	models__iknow__free_unpacked(got, NULL);
	/* a Go peer: no observation at all */
	k.observation = NULL;
	free(buf);
	buf = pack_iknow(&k, &len);
	got = peers_decode_answer(buf, len, why, sizeof(why));
	assert_non_null(got);
	assert_null(got->observation);
	models__iknow__free_unpacked(got, NULL);
	free(buf);
}

static void
test_decode_garbage(void **state)
{
	static const uint8_t truncated_varint[] = { 0x10, 0xff, 0xff };
	static const uint8_t bad_length[] = { 0x0a, 0x7f, 'a' };
	static const uint8_t group[] = { 0x0b };	/* wire type 3 */
	static const uint8_t field0[] = { 0x0a, 0x01, 'a', 0x80, 0x00, 0x33 };
	static const uint8_t not_utf8[] = { 0x0a, 0x02, 0xc3, 0x28 };
	static uint8_t big[PROBE_MAX_ANSWER + 1];
	char why[256];

	assert_null(peers_decode_answer(truncated_varint,
	    sizeof(truncated_varint), why, sizeof(why)));
	assert_non_null(strstr(why, "not an IKnow"));
	assert_null(peers_decode_answer(bad_length, sizeof(bad_length), why,
	    sizeof(why)));
	assert_null(peers_decode_answer(group, sizeof(group), why,
	    sizeof(why)));
	assert_null(peers_decode_answer(not_utf8, sizeof(not_utf8), why,
	    sizeof(why)));
	assert_non_null(strstr(why, "unreadable answer"));
	assert_null(peers_decode_answer(big, sizeof(big), why, sizeof(why)));
	assert_non_null(strstr(why, "at most"));
	/* a field numbered 0 would make the verdict carrying it malformed */
	assert_null(peers_decode_answer(field0, sizeof(field0), why,
	    sizeof(why)));
	assert_non_null(strstr(why, "field numbered 0"));
}

static const char *
param(const struct conn_params *p, const char *key)
{
	for (int i = 0; p->keys[i] != NULL; i++)
		if (strcmp(p->keys[i], key) == 0)
			return p->vals[i];
	return NULL;
}

static void
test_conn_params(void **state)
{
	struct conf c = { 0 };
	struct conn_params p;

	c.repmgr_user = "repmgr";
	c.repmgr_db = "repmgrdb";
	c.connection_deadline = 1;
	local_view_conn_params(&c, &p);
	assert_string_equal(param(&p, "user"), "repmgr");
	assert_string_equal(param(&p, "dbname"), "repmgrdb");
	assert_string_equal(param(&p, "application_name"), "harepd-probe");
	/* libpq reads 1 as 2: we say what it does */
	assert_string_equal(param(&p, "connect_timeout"), "2");
	assert_string_equal(param(&p, "options"), "-c statement_timeout=1000");
	assert_null(param(&p, "host"));
	assert_null(param(&p, "port"));
	c.repmgr_host = "/run/postgresql";
	c.repmgr_port = 5433;
	c.connection_deadline = 5;
	local_view_conn_params(&c, &p);
	assert_string_equal(param(&p, "host"), "/run/postgresql");
	assert_string_equal(param(&p, "port"), "5433");
	assert_string_equal(param(&p, "connect_timeout"), "5");
}

static void
test_synced(void **state)
{
	Harepd__LocalView v = HAREPD__LOCAL_VIEW__INIT;
	Models__IKnow k = MODELS__IKNOW__INIT;
	char *p[] = { "10.0.0.1" }, *s[] = { "10.0.0.2", "10.0.0.3" };
	char *s2[] = { "10.0.0.3", "10.0.0.2" }, *s3[] = { "10.0.0.3",
	    "10.0.0.3" };

	v.primaries = p;
	v.n_primaries = 1;
	v.standbys = s;
	v.n_standbys = 2;
	assert_false(decide_synced(&v, NULL));
	k.master = p;
	k.n_master = 1;
	k.slaves = s2;
	k.n_slaves = 2;
	assert_true(decide_synced(&v, &k));
	k.slaves = s3;			/* same length, other set */
	assert_false(decide_synced(&v, &k));
	k.n_slaves = 1;
	assert_false(decide_synced(&v, &k));
	k.n_master = 0;
	k.slaves = s;
	k.n_slaves = 2;
	assert_false(decide_synced(&v, &k));
}

/*
 * A completion queue that stops delivering while calls are in flight:
 * peers_ask must not return (its calls' tags would point into freed
 * memory at the next tick) but stop the worker. Run in a child: it
 * exits, and gRPC is initialised only there (a process that forks after
 * grpc_init can leave its child hanging on the core's threads).
 */
static void
test_wait_broken_queue(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct conf_target t = { .host = "127.0.0.1" };
	Models__WhatYouKnow q = MODELS__WHAT_YOU_KNOW__INIT;
	socklen_t len = sizeof(sin);
	struct conf c = { 0 };
	char text[64];
	int fd, status;
	pid_t pid;

	/* a peer that accepts TCP and never answers: the call stays pending */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	t.port = ntohs(sin.sin_port);
	snprintf(text, sizeof(text), "127.0.0.1:%d", t.port);
	t.text = text;
	c.neighbours = &t;
	c.n_neighbours = 1;
	c.watchdog = 1;
	c.connection_deadline = 1;
	if ((pid = fork()) == 0) {
		struct peer_set *ps;
		Harepd__PeerAnswer **a;

		grpc_init();
		ps = peers_new(&c, NULL);
		peers_test_inject_shutdown = true;
		a = peers_ask(ps, &q, 2000, false, NULL, NULL);
		peers_answers_free(a, peers_count(ps));
		_exit(0);	/* returned: the calls were left in flight */
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(fd);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);	/* fatalx */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conninfo_host),
		cmocka_unit_test(test_conninfo_no_host),
		cmocka_unit_test(test_addr_canon),
		cmocka_unit_test(test_decode_answer),
		cmocka_unit_test(test_decode_garbage),
		cmocka_unit_test(test_conn_params),
		cmocka_unit_test(test_synced),
		cmocka_unit_test(test_wait_broken_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
