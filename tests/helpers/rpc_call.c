/*
 * One GetClusterInfo call with the gRPC C core client, as a harepd node
 * makes it: insecure, TLS or mutual TLS, serverHostOverride, a deadline.
 * Tests point it at an independent server (tests/interop/rpc_server.py).
 *
 * usage: rpc_call [-a ca.pem] [-c cert.pem -k key.pem] [-o tls-name]
 *                 [-d deadline-ms] [-n calls -C inflight] host:port
 * prints, for one call:
 *         status=NAME elapsed_ms=N details=...
 *         answer ip=.. nodeId=.. nodeName=.. witness=.. master=a,b
 *                slaves=a,b observation=none|inRecovery=B,timeline=N
 * and for -n calls (load, e.g. during a shutdown; no new call after the
 * first failure) one line per status:
 *         status=NAME count=N
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/time.h>

#include "worker-rpc/rpc.h"
#include "util/unconst.h"

struct opts {
	const char	*ca, *cert, *key, *override, *target;
	int		 deadline_ms;
	int		 count;		/* calls to make */
	int		 inflight;	/* at a time */
};

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (fp == NULL) {
		perror(path);
		exit(2);
	}
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	if ((buf = calloc(1, n + 1)) == NULL || fread(buf, 1, n, fp) != (size_t)n)
		exit(2);
	fclose(fp);
	return buf;
}

static grpc_channel *
open_channel(const struct opts *o)
{
	grpc_ssl_pem_key_cert_pair pair;
	grpc_channel_credentials *creds;
	grpc_arg arg;
	grpc_channel_args args = { .num_args = 0, .args = &arg };
	grpc_channel *ch;

	char *ca = NULL, *cert = NULL, *key = NULL;

	if (o->ca == NULL)
		creds = grpc_insecure_credentials_create();
	else {
		pair.cert_chain = cert = o->cert ? slurp(o->cert) : NULL;
		pair.private_key = key = o->key ? slurp(o->key) : NULL;
		creds = grpc_ssl_credentials_create_ex(ca = slurp(o->ca),
		    o->cert ? &pair : NULL, NULL, NULL);
	}
	/* the credentials hold their own copies */
	free(ca);
	free(cert);
	free(key);
	if (o->override != NULL) {
		arg.type = GRPC_ARG_STRING;
		arg.key = GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
		arg.value.string = unconst_str(o->override);
		args.num_args = 1;
	}
	ch = grpc_channel_create(o->target, creds, &args);
	grpc_channel_credentials_release(creds);
	return ch;
}

static void
print_list(const char *name, char **v, size_t n)
{
	printf(" %s=", name);
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? "," : "", v[i]);
}

static void
print_answer(grpc_byte_buffer *bb)
{
	grpc_byte_buffer_reader r;
	Models__IKnow *k;
	grpc_slice s;

	grpc_byte_buffer_reader_init(&r, bb);
	s = grpc_byte_buffer_reader_readall(&r);
	grpc_byte_buffer_reader_destroy(&r);
	k = models__iknow__unpack(NULL, GRPC_SLICE_LENGTH(s),
	    GRPC_SLICE_START_PTR(s));
	grpc_slice_unref(s);
	if (k == NULL) {
		printf("answer undecodable\n");
		return;
	}
	printf("answer ip=%s nodeId=%d nodeName=%s witness=%s", k->ip,
	    (int)k->nodeid, k->nodename, k->witness);
	print_list("master", k->master, k->n_master);
	print_list("slaves", k->slaves, k->n_slaves);
	if (k->observation == NULL)
		printf(" observation=none\n");
	else
		printf(" observation=inRecovery=%d,timeline=%u\n",
		    (int)k->observation->inrecovery, k->observation->timeline);
	models__iknow__free_unpacked(k, NULL);
}

static grpc_byte_buffer *
request(void)
{
	Models__WhatYouKnow q = MODELS__WHAT_YOU_KNOW__INIT;
	uint8_t buf[64];
	grpc_slice s;
	grpc_byte_buffer *bb;

	q.ip = "127.0.0.1";
	q.nodeid = 1;
	q.nodename = "node_1";
	s = grpc_slice_from_copied_buffer((char *)buf,
	    models__what_you_know__pack(&q, buf));
	bb = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	return bb;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define N_STATUS	(GRPC_STATUS_UNAUTHENTICATED + 1)

struct call {
	grpc_call		*call;
	grpc_metadata_array	 md0, md1;
	grpc_byte_buffer	*reply;
	grpc_status_code	 status;
	grpc_slice		 details;
	long long		 t0;
};

static void
call_start(const struct opts *o, grpc_channel *ch, grpc_completion_queue *cq,
    grpc_byte_buffer *req, struct call *c)
{
	gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
	    gpr_time_from_millis(o->deadline_ms, GPR_TIMESPAN));
	grpc_op ops[6];

	memset(c, 0, sizeof(*c));
	grpc_metadata_array_init(&c->md0);
	grpc_metadata_array_init(&c->md1);
	c->t0 = now_ms();
	c->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS,
	    cq, grpc_slice_from_static_string(RPC_METHOD), NULL, deadline,
	    NULL);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = req;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->md0;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &c->reply;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &c->md1;
	ops[5].data.recv_status_on_client.status = &c->status;
	ops[5].data.recv_status_on_client.status_details = &c->details;
	grpc_call_start_batch(c->call, ops, 6, c, NULL);
}

static void
call_free(struct call *c)
{
	if (c->reply != NULL)
		grpc_byte_buffer_destroy(c->reply);
	grpc_slice_unref(c->details);
	grpc_metadata_array_destroy(&c->md0);
	grpc_metadata_array_destroy(&c->md1);
	grpc_call_unref(c->call);
}

/* One call: its status, its time and its answer. */
static int
call_once(const struct opts *o, grpc_channel *ch, grpc_completion_queue *cq,
    grpc_byte_buffer *req)
{
	struct call c;
	int rc;

	call_start(o, ch, cq, req, &c);
	grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME),
	    NULL);
	/* the batch succeeds even when the RPC failed: read the status */
	printf("status=%s elapsed_ms=%lld details=%.*s\n",
	    rpc_status_name(c.status), now_ms() - c.t0,
	    (int)GRPC_SLICE_LENGTH(c.details), GRPC_SLICE_START_PTR(c.details));
	if (c.reply != NULL)
		print_answer(c.reply);
	rc = c.status == GRPC_STATUS_OK ? 0 : 1;
	call_free(&c);
	return rc;
}

/*
 * o->count calls, o->inflight at a time, until one fails; prints a count
 * per status.
 */
static int
call_many(const struct opts *o, grpc_channel *ch, grpc_completion_queue *cq,
    grpc_byte_buffer *req)
{
	struct call *calls = calloc(o->inflight, sizeof(*calls)), *c;
	unsigned long by_status[N_STATUS] = { 0 };
	int started = 0, active = 0;
	bool failed = false;
	grpc_event ev;

	for (; active < o->inflight && started < o->count; active++, started++)
		call_start(o, ch, cq, req, &calls[active]);
	while (active > 0) {
		ev = grpc_completion_queue_next(cq,
		    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		c = ev.tag;
		by_status[(unsigned)c->status < N_STATUS ?
		    (unsigned)c->status : GRPC_STATUS_UNKNOWN]++;
		failed |= c->status != GRPC_STATUS_OK;
		call_free(c);
		/* a load stops at the first failure: the server went away */
		if (!failed && started++ < o->count)
			call_start(o, ch, cq, req, c);
		else
			active--;
	}
	for (int i = 0; i < N_STATUS; i++)
		if (by_status[i] > 0)
			printf("status=%s count=%lu\n",
			    rpc_status_name((grpc_status_code)i), by_status[i]);
	free(calls);
	return by_status[GRPC_STATUS_OK] == (unsigned long)o->count ? 0 : 1;
}

static int
call(const struct opts *o)
{
	grpc_channel *ch = open_channel(o);
	grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
	grpc_byte_buffer *req = request();
	int rc;

	if (o->count == 1)
		rc = call_once(o, ch, cq, req);
	else
		rc = call_many(o, ch, cq, req);
	grpc_byte_buffer_destroy(req);
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_next(cq, gpr_inf_future(
	    GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	grpc_channel_destroy(ch);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct opts o = { .deadline_ms = 5000, .count = 1, .inflight = 1 };
	int ch, rc;

	while ((ch = getopt(argc, argv, "a:c:k:o:d:n:C:")) != -1) {
		switch (ch) {
		case 'a': o.ca = optarg; break;
		case 'c': o.cert = optarg; break;
		case 'k': o.key = optarg; break;
		case 'o': o.override = optarg; break;
		case 'd': o.deadline_ms = atoi(optarg); break;
		case 'n': o.count = atoi(optarg); break;
		case 'C': o.inflight = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: rpc_call [-a ca] [-c cert -k key] "
			    "[-o name] [-d ms] [-n calls -C inflight] "
			    "host:port\n");
			return 64;
		}
	}
	if (optind != argc - 1 || o.count < 1 || o.inflight < 1)
		return 64;
	o.target = argv[optind];
	grpc_init();
	rc = call(&o);
	grpc_shutdown();
	return rc;
}
