/*
 * worker-rpc/rpc_server.c in process: a server on 127.0.0.1 (any free
 * port) and a C core client calling it. What the answer is for each
 * state of the published view, unknown methods, garbage, a port already
 * taken, and a stop that leaves nothing listening.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>

#include "ipc/log.h"
#include "util/clock.h"
#include "worker-rpc/rpc.h"
#include "util/unconst.h"

struct reply {
	grpc_status_code status;
	char		 details[512];
	uint8_t		 bytes[1024];
	ssize_t		 len;		/* -1: no message */
};

static unsigned long log_lines;

static void
count_sink(enum log_level lvl, const char *msg, const struct log_field *f,
    size_t n, void *arg)
{
	__atomic_add_fetch(&log_lines, 1, __ATOMIC_SEQ_CST);
}

/* The core's own lines (the failed bind) are expected: keep TAP clean. */
static void
quiet_grpc_log(gpr_log_func_args *a)
{
}

static void
read_reply(grpc_byte_buffer *bb, struct reply *r)
{
	grpc_byte_buffer_reader rd;
	grpc_slice s;

	r->len = -1;
	if (bb == NULL)
		return;
	grpc_byte_buffer_reader_init(&rd, bb);
	s = grpc_byte_buffer_reader_readall(&rd);
	grpc_byte_buffer_reader_destroy(&rd);
	r->len = GRPC_SLICE_LENGTH(s);
	assert_true(r->len <= (ssize_t)sizeof(r->bytes));
	memcpy(r->bytes, GRPC_SLICE_START_PTR(s), r->len);
	grpc_slice_unref(s);
	grpc_byte_buffer_destroy(bb);
}

/* One unary call of method with these request bytes, 2 s deadline. */
static void
call(int port, const char *method, const void *req, size_t reqlen,
    struct reply *r)
{
	char target[64];
	grpc_channel_credentials *creds = grpc_insecure_credentials_create();
	grpc_channel *ch;
	grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
	grpc_slice body = grpc_slice_from_copied_buffer(req, reqlen), details;
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&body, 1), *out = NULL;
	grpc_metadata_array md0, md1;
	grpc_op ops[6];
	grpc_call *c;

	snprintf(target, sizeof(target), "127.0.0.1:%d", port);
	ch = grpc_channel_create(target, creds, NULL);
	grpc_metadata_array_init(&md0);
	grpc_metadata_array_init(&md1);
	c = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
	    grpc_slice_from_static_string(method), NULL,
	    gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
	    gpr_time_from_millis(2000, GPR_TIMESPAN)), NULL);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = bb;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &md0;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &out;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &md1;
	ops[5].data.recv_status_on_client.status = &r->status;
	ops[5].data.recv_status_on_client.status_details = &details;
	assert_int_equal(grpc_call_start_batch(c, ops, 6, c, NULL),
	    GRPC_CALL_OK);
	grpc_completion_queue_pluck(cq, c, gpr_inf_future(GPR_CLOCK_REALTIME),
	    NULL);
	snprintf(r->details, sizeof(r->details), "%.*s",
	    (int)GRPC_SLICE_LENGTH(details), GRPC_SLICE_START_PTR(details));
	read_reply(out, r);
	grpc_slice_unref(details);
	grpc_slice_unref(body);
	grpc_byte_buffer_destroy(bb);
	grpc_metadata_array_destroy(&md0);
	grpc_metadata_array_destroy(&md1);
	grpc_call_unref(c);
	grpc_completion_queue_shutdown(cq);
	grpc_completion_queue_destroy(cq);
	grpc_channel_destroy(ch);
	grpc_channel_credentials_release(creds);
}

static void
ask(int port, struct reply *r)
{
	Models__WhatYouKnow q = MODELS__WHAT_YOU_KNOW__INIT;
	uint8_t buf[64];

	q.ip = "127.0.0.2";
	q.nodeid = 2;
	q.nodename = "node_2";
	call(port, RPC_METHOD, buf, models__what_you_know__pack(&q, buf), r);
}

static struct rpc_snapshot *
snapshot(int64_t age_ms, const char *db_error)
{
	static char *primaries[] = { "127.0.0.1" };
	Harepd__LocalView v = HAREPD__LOCAL_VIEW__INIT;

	v.node_id = 1;
	v.node_name = "node_1";
	v.ip = "127.0.0.1";
	v.n_primaries = 1;
	v.primaries = primaries;
	v.timeline = 3;
	v.collected_at_ms = clock_wall_ms() - age_ms;
	v.db_error = unconst_str(db_error ? db_error : "");
	return rpc_snapshot_new(&v);
}

static struct rpc_server *
start(void)
{
	struct rpc_server_opts o = { .bind_address = "127.0.0.1",
	    .max_age_ms = 60000 };
	struct rpc_server *srv;
	char err[256] = "";

	srv = rpc_server_start(&o, err, sizeof(err));
	if (srv == NULL)
		fail_msg("rpc_server_start: %s", err);
	assert_true(rpc_server_port(srv) > 0);
	return srv;
}

static void
test_answers_follow_the_view(void **state)
{
	struct rpc_server *srv = start();
	int port = rpc_server_port(srv);
	struct rpc_snapshot *snap;
	struct reply r;
	Models__IKnow *k;
	unsigned long lines = log_lines;

	ask(port, &r);
	assert_int_equal(r.status, GRPC_STATUS_UNAVAILABLE);
	assert_non_null(strstr(r.details, "no local view yet"));
	assert_int_equal(r.len, -1);

	snap = snapshot(0, NULL);
	rpc_server_publish(srv, snap);
	ask(port, &r);
	assert_int_equal(r.status, GRPC_STATUS_OK);
	k = models__iknow__unpack(NULL, r.len, r.bytes);
	assert_non_null(k);
	assert_string_equal(k->nodename, "node_1");
	assert_int_equal(k->observation->timeline, 3);
	models__iknow__free_unpacked(k, NULL);

	rpc_server_publish(srv, snapshot(0, "connection refused"));
	ask(port, &r);
	assert_int_equal(r.status, GRPC_STATUS_UNAVAILABLE);
	assert_string_equal(r.details,
	    "local database unreachable: connection refused");

	/* the age limit applies per request, and can change under way */
	rpc_server_publish(srv, snapshot(5000, NULL));
	ask(port, &r);
	assert_int_equal(r.status, GRPC_STATUS_OK);
	rpc_server_set_max_age(srv, 1000);
	ask(port, &r);
	assert_int_equal(r.status, GRPC_STATUS_UNAVAILABLE);
	assert_non_null(strstr(r.details, "stale"));

	rpc_server_publish(srv, NULL);
	ask(port, &r);
	assert_int_equal(r.status, GRPC_STATUS_UNAVAILABLE);
	assert_true(log_lines - lines >= 6);	/* one per inquiry */
	rpc_server_stop(srv);
}

static void
test_bad_calls(void **state)
{
	struct rpc_server *srv = start();
	int port = rpc_server_port(srv);
	struct reply r;

	rpc_server_publish(srv, snapshot(0, NULL));
	call(port, "/models.ClusterInfo/Other", "", 0, &r);
	assert_int_equal(r.status, GRPC_STATUS_UNIMPLEMENTED);
	call(port, RPC_METHOD, "\xff\xff\xff", 3, &r);
	assert_int_equal(r.status, GRPC_STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(r.details, "not a models.WhatYouKnow"));
	/* the core refuses it before us: GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH */
	{
		static char big[RPC_MAX_REQUEST + 100];

		call(port, RPC_METHOD, big, sizeof(big), &r);
		assert_int_equal(r.status, GRPC_STATUS_RESOURCE_EXHAUSTED);
	}
	ask(port, &r);
	assert_int_equal(r.status, GRPC_STATUS_OK);
	rpc_server_stop(srv);
}

static void
test_port_taken_and_stop(void **state)
{
	struct rpc_server *srv = start(), *second;
	struct rpc_server_opts o = { .bind_address = "127.0.0.1",
	    .port = rpc_server_port(srv), .max_age_ms = 1000 };
	int port = rpc_server_port(srv);
	struct reply r;
	char err[256] = "";

	/* gRPC's default SO_REUSEPORT would let this succeed */
	second = rpc_server_start(&o, err, sizeof(err));
	assert_null(second);
	assert_non_null(strstr(err, "cannot listen on 127.0.0.1:"));
	o.tls = true;
	o.port = 0;
	assert_null(rpc_server_start(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "certificate PEM is missing"));
	rpc_server_stop(srv);
	ask(port, &r);
	assert_int_equal(r.status, GRPC_STATUS_UNAVAILABLE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers_follow_the_view),
		cmocka_unit_test(test_bad_calls),
		cmocka_unit_test(test_port_taken_and_stop),
	};
	int rc;

	log_init("rpc", count_sink, NULL);
	gpr_set_log_function(quiet_grpc_log);
	grpc_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	grpc_shutdown();
	return rc;
}
