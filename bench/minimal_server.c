/*
 * The physical limit for GetClusterInfo on this machine: a gRPC C core
 * server that answers /models.ClusterInfo/GetClusterInfo with a constant
 * IKnow, packed once at start. It never decodes the request, logs
 * nothing and holds no lock on the answering path.
 *
 * Built like the rpc worker (worker-rpc/rpc_server.c) so that the ratio
 * harepd / minimal measures harepd's own work and nothing else: the same
 * number of completion-queue threads (RPC_CQ_THREADS), the same number of
 * calls requested in advance per queue (RPC_SLOTS_PER_CQ), the method
 * registered with GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, and the
 * answer (initial metadata, message, status, close) in one batch from the
 * thread that got the call.
 *
 * usage: minimal_server [-t threads] HOST:PORT     (port 0: any free port)
 * Prints "port N" once listening; SIGTERM or SIGINT ends it (at once: a
 * benchmark stand-in needs no orderly shutdown).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "proto/messaging.pb-c.h"
#include "worker-rpc/rpc.h"

#define METHOD		"/models.ClusterInfo/GetClusterInfo"
#define MAX_THREADS	16

enum state { WAITING, ANSWERING };

struct slot {
	grpc_server		*server;
	void			*method;
	grpc_completion_queue	*cq;
	enum state		 state;
	grpc_call		*call;
	gpr_timespec		 deadline;
	grpc_metadata_array	 md;
	grpc_byte_buffer	*payload;
	grpc_byte_buffer	*reply;
	int			 cancelled;
};

static grpc_slice reply_slice;

static void
die(const char *what)
{
	fprintf(stderr, "minimal_server: %s\n", what);
	exit(2);
}

/* The same facts the rpc bench pushes to the rpc worker. */
static grpc_slice
constant_reply(void)
{
	Models__IKnow k = MODELS__IKNOW__INIT;
	Models__Observation obs = MODELS__OBSERVATION__INIT;
	char *masters[] = { "127.0.0.1" };
	char *slaves[] = { "127.0.0.2", "127.0.0.3" };
	uint8_t buf[512];
	size_t len;

	k.ip = "127.0.0.1";
	k.nodeid = 1;
	k.nodename = "node_1";
	k.witness = "127.0.0.4";
	k.n_master = 1;
	k.master = masters;
	k.n_slaves = 2;
	k.slaves = slaves;
	obs.inrecovery = 0;
	obs.timeline = 3;
	k.observation = &obs;
	if (models__iknow__get_packed_size(&k) > sizeof(buf))
		die("reply too large");
	len = models__iknow__pack(&k, buf);
	return grpc_slice_from_copied_buffer((const char *)buf, len);
}

static void
slot_request(struct slot *s)
{
	grpc_metadata_array_init(&s->md);
	s->payload = NULL;
	s->state = WAITING;
	if (grpc_server_request_registered_call(s->server, s->method, &s->call,
	    &s->deadline, &s->md, &s->payload, s->cq, s->cq, s) !=
	    GRPC_CALL_OK)
		die("grpc_server_request_registered_call failed");
}

static void
slot_answer(struct slot *s)
{
	grpc_op ops[4];

	memset(ops, 0, sizeof(ops));
	s->reply = grpc_raw_byte_buffer_create(&reply_slice, 1);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = s->reply;
	ops[2].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[2].data.send_status_from_server.status = GRPC_STATUS_OK;
	ops[3].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[3].data.recv_close_on_server.cancelled = &s->cancelled;
	s->state = ANSWERING;
	if (grpc_call_start_batch(s->call, ops, 4, s, NULL) != GRPC_CALL_OK)
		die("grpc_call_start_batch failed");
}

static void
slot_done(struct slot *s)
{
	grpc_call_unref(s->call);
	s->call = NULL;
	if (s->payload != NULL)
		grpc_byte_buffer_destroy(s->payload);
	grpc_byte_buffer_destroy(s->reply);
	s->reply = NULL;
	grpc_metadata_array_destroy(&s->md);
}

static void *
cq_thread(void *arg)
{
	grpc_completion_queue *cq = arg;
	grpc_event ev;
	struct slot *s;

	for (;;) {
		ev = grpc_completion_queue_next(cq,
		    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		s = ev.tag;
		if (s->state == WAITING && ev.success)
			slot_answer(s);
		else if (s->state == ANSWERING) {
			slot_done(s);
			slot_request(s);
		}
	}
	return NULL;
}

int
main(int argc, char *argv[])
{
	grpc_completion_queue *cq[MAX_THREADS];
	pthread_t thread[MAX_THREADS];
	grpc_server_credentials *creds;
	grpc_server *server;
	struct slot *slots;
	int ch, port, sig, threads = RPC_CQ_THREADS;
	void *method;
	sigset_t set;

	while ((ch = getopt(argc, argv, "t:")) != -1) {
		if (ch != 't')
			goto usage;
		threads = atoi(optarg);
	}
	if (optind != argc - 1 || threads < 1 || threads > MAX_THREADS)
		goto usage;

	/* the cq threads inherit the mask: only sigwait() sees the signals */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	grpc_init();
	reply_slice = constant_reply();
	server = grpc_server_create(NULL, NULL);
	method = grpc_server_register_method(server, METHOD, NULL,
	    GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
	if (method == NULL)
		die("cannot register the method");
	for (int i = 0; i < threads; i++) {
		cq[i] = grpc_completion_queue_create_for_next(NULL);
		grpc_server_register_completion_queue(server, cq[i], NULL);
	}
	creds = grpc_insecure_server_credentials_create();
	port = grpc_server_add_http2_port(server, argv[optind], creds);
	grpc_server_credentials_release(creds);
	if (port == 0)
		die("cannot listen");
	grpc_server_start(server);

	slots = calloc((size_t)threads * RPC_SLOTS_PER_CQ, sizeof(*slots));
	if (slots == NULL)
		die("calloc");
	for (int i = 0; i < threads * RPC_SLOTS_PER_CQ; i++) {
		slots[i].server = server;
		slots[i].method = method;
		slots[i].cq = cq[i / RPC_SLOTS_PER_CQ];
		slot_request(&slots[i]);
	}
	for (int i = 0; i < threads; i++)
		if ((errno = pthread_create(&thread[i], NULL, cq_thread,
		    cq[i])) != 0)
			die("pthread_create");
	printf("port %d\n", port);
	fflush(stdout);
	sigwait(&set, &sig);
	_exit(0);
usage:
	fprintf(stderr, "usage: minimal_server [-t threads] HOST:PORT\n");
	return 64;
}
