/*
 * The gRPC C core server for models.ClusterInfo. RPC_CQ_THREADS threads,
 * each owning one completion queue on which RPC_SLOTS_PER_CQ calls of
 * our method, and one call of any other method, are requested in
 * advance. A call is answered in one batch from the thread that got it:
 * the answer is a copy of bytes packed when the view arrived, so there
 * is nothing to wait for.
 *
 * Shutdown, in the order the C core needs: refuse new requests,
 * grpc_server_shutdown_and_notify, cancel every call, wait for the tag,
 * then shut the queues down and let each thread drain its queue to
 * GRPC_QUEUE_SHUTDOWN.
 *
 * Over 600 lines on purpose: the threads, the call slots, the published
 * view and the shutdown order all work on one struct rpc_server, which
 * stays private to this file.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "ipc/log.h"
#include "util/clock.h"
#include "util/unconst.h"
#include "util/xmalloc.h"
#include "worker-rpc/rpc.h"

enum slot_kind {
	SLOT_METHOD,		/* GetClusterInfo */
	SLOT_OTHER,		/* anything else: UNIMPLEMENTED */
};

enum slot_state {
	SLOT_IDLE,		/* nothing pending: server stopping */
	SLOT_WAITING,		/* requested, no call yet */
	SLOT_ANSWERING,		/* answer batch started */
};

struct call_slot {
	struct rpc_server	*srv;
	grpc_completion_queue	*cq;
	enum slot_kind		 kind;
	enum slot_state		 state;
	grpc_call		*call;
	gpr_timespec		 deadline;
	grpc_call_details	 details;	/* SLOT_OTHER */
	grpc_metadata_array	 md;
	grpc_byte_buffer	*payload;	/* SLOT_METHOD */
	grpc_byte_buffer	*reply;
	grpc_slice		 status_details;
	int			 cancelled;
};

struct rpc_server {
	uint64_t		 served[RPC_CODES];	/* atomic: cq threads */
	grpc_server		*server;
	void			*method;
	int			 port;
	grpc_completion_queue	*cq[RPC_CQ_THREADS];
	pthread_t		 thread[RPC_CQ_THREADS];
	int			 n_threads;
	struct call_slot	*slots;
	size_t			 n_slots;

	/*
	 * Held for reading while requesting a call or starting a batch,
	 * for writing to stop: a call requested or a batch started on a
	 * queue already shut down is an assertion failure in the core.
	 */
	pthread_rwlock_t	 request_lock;
	bool			 stopping;	/* request no more calls */
	bool			 queues_closed;	/* start no more batches */
	char			 shutdown_tag;	/* its address is the tag */
	pthread_mutex_t		 shutdown_lock;
	pthread_cond_t		 shutdown_cond;
	bool			 shutdown_done;

	pthread_mutex_t		 view_lock;
	struct rpc_gate		 gate;		/* under view_lock */
	uint8_t			 ident[RPC_IDENT_MAX];	/* ip, nodeId, nodeName */
	size_t			 ident_len;
	char			 ident_ip[RPC_IDENT_MAX / 4];
	char			 ident_name[RPC_IDENT_MAX / 4];
	int32_t			 ident_id;
	struct rpc_snapshot	*snap;
	grpc_slice		 snap_slice;	/* snap->packed, refcounted */
	int64_t			 max_age_ms;

	pthread_mutex_t		 log_lock;
	struct rpc_ratelimit	 log_limit;
};

/* ---- inquiry log ---- */

static void
log_suppressed(unsigned long n)
{
	if (n > 0)
		log_info("suppressed %lu inquiry log lines (at most %d per "
		    "second are logged)", n, RPC_INQUIRY_LOG_PER_SEC);
}

static bool
inquiry_log_allowed(struct rpc_server *srv)
{
	unsigned long report;
	bool ok;

	pthread_mutex_lock(&srv->log_lock);
	ok = rpc_ratelimit_take(&srv->log_limit, clock_mono_ms(), &report);
	pthread_mutex_unlock(&srv->log_lock);
	log_suppressed(report);
	return ok;
}

void
rpc_server_tick(struct rpc_server *srv)
{
	unsigned long report;

	pthread_mutex_lock(&srv->log_lock);
	report = rpc_ratelimit_expire(&srv->log_limit, clock_mono_ms());
	pthread_mutex_unlock(&srv->log_lock);
	log_suppressed(report);
}

static void
log_method_inquiry(const char *peer, const Models__WhatYouKnow *q,
    grpc_status_code code, const char *why)
{
	char node_id[16], ip[RPC_LOG_FIELD_MAX], name[RPC_LOG_FIELD_MAX];
	struct log_field f[] = {
		{ "peer", peer },
		{ "ip", ip },
		{ "nodeId", node_id },
		{ "nodeName", name },
		{ "status", rpc_status_name(code) },
	};

	/* a caller chooses these strings: up to 4 KiB each, cut them short */
	snprintf(ip, sizeof(ip), "%s", q ? q->ip : "");
	snprintf(name, sizeof(name), "%s", q ? q->nodename : "");
	snprintf(node_id, sizeof(node_id), "%d", q ? (int)q->nodeid : 0);
	if (code == GRPC_STATUS_OK)
		log_emit(LOG_LVL_INFO, f, 5, "inquiry from %s: ip %s, nodeId "
		    "%s, nodeName %s", peer, f[1].value, node_id, f[3].value);
	else
		log_emit(LOG_LVL_INFO, f, 5, "inquiry from %s answered %s: %s",
		    peer, rpc_status_name(code), why);
}

static void
log_inquiry(struct call_slot *s, const Models__WhatYouKnow *q,
    grpc_status_code code, const char *why)
{
	char *peer, method[128];

	if (!inquiry_log_allowed(s->srv))
		return;
	peer = grpc_call_get_peer(s->call);
	if (s->kind == SLOT_METHOD)
		log_method_inquiry(peer, q, code, why);
	else {
		struct log_field f[] = { { "peer", peer }, { "method", method },
		    { "status", rpc_status_name(code) } };

		snprintf(method, sizeof(method), "%.*s",
		    (int)GRPC_SLICE_LENGTH(s->details.method),
		    (const char *)GRPC_SLICE_START_PTR(s->details.method));
		log_emit(LOG_LVL_INFO, f, 3, "call of unknown method %s from "
		    "%s answered UNIMPLEMENTED", method, peer);
	}
	gpr_free(peer);
}

/* ---- answering ---- */

/* One reply of two parts: protobuf merges concatenated encodings. */
static grpc_byte_buffer *
reply_with_gate(struct rpc_server *srv, grpc_slice head)
{
	uint8_t gate[RPC_GATE_MAX];
	grpc_slice parts[2];
	grpc_byte_buffer *b;
	size_t n;

	n = rpc_gate_pack(&srv->gate, clock_boot_ms(), gate);
	parts[0] = head;
	parts[1] = grpc_slice_from_copied_buffer((const char *)gate, n);
	b = grpc_raw_byte_buffer_create(parts, 2);
	grpc_slice_unref(parts[1]);
	return b;
}

/*
 * The current view's bytes and this node's gate as a reply, or why there
 * is none. An asker that reads the gate (WhatYouKnow.wantsGate) gets the
 * gate with this node's identity when the view cannot be answered (the
 * database is down, the view is stale): "DENIED" is worth more to it
 * than silence. A Go asker gets UNAVAILABLE as before.
 */
static grpc_status_code
view_reply(struct rpc_server *srv, const Models__WhatYouKnow *q,
    grpc_byte_buffer **reply, char *why, size_t whylen)
{
	grpc_status_code code;
	grpc_slice ident;
	enum rpc_reply what;

	pthread_mutex_lock(&srv->view_lock);
	code = rpc_reply_choose(q, srv->snap, clock_boot_ms(), srv->max_age_ms,
	    &what, why, whylen);
	if (what == RPC_REPLY_VIEW) {
		rpc_gate_answered(&srv->gate, q->nodeid, clock_boot_ms());
		*reply = reply_with_gate(srv, srv->snap_slice);
	} else if (what == RPC_REPLY_IDENT) {
		ident = grpc_slice_from_copied_buffer((const char *)srv->ident,
		    srv->ident_len);
		*reply = reply_with_gate(srv, ident);
		grpc_slice_unref(ident);
	}
	pthread_mutex_unlock(&srv->view_lock);
	return code;
}

/* A request may arrive compressed or in several slices. */
static grpc_status_code
decode_payload(grpc_byte_buffer *payload, Models__WhatYouKnow **q,
    char *why, size_t whylen)
{
	grpc_byte_buffer_reader reader;
	grpc_status_code code;
	grpc_slice all;

	if (payload == NULL)
		return rpc_request_decode(NULL, 0, q, why, whylen);
	if (!grpc_byte_buffer_reader_init(&reader, payload)) {
		*q = NULL;
		snprintf(why, whylen, "request could not be decompressed");
		return GRPC_STATUS_INVALID_ARGUMENT;
	}
	all = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	code = rpc_request_decode(GRPC_SLICE_START_PTR(all),
	    GRPC_SLICE_LENGTH(all), q, why, whylen);
	grpc_slice_unref(all);
	return code;
}

static grpc_status_code
answer_method(struct call_slot *s, Models__WhatYouKnow **q, char *why,
    size_t whylen)
{
	grpc_status_code code;

	code = decode_payload(s->payload, q, why, whylen);
	if (code == GRPC_STATUS_OK)
		code = view_reply(s->srv, *q, &s->reply, why, whylen);
	return code;
}

static void slot_request(struct call_slot *);
static void slot_cleanup(struct call_slot *);

static bool
start_answer(struct call_slot *s, grpc_status_code code, const char *why)
{
	grpc_op ops[4];
	size_t n = 0;

	memset(ops, 0, sizeof(ops));
	ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (s->reply != NULL) {
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = s->reply;
	}
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = code;
	if (code != GRPC_STATUS_OK) {
		/* must live until the batch completes */
		s->status_details = grpc_slice_from_copied_string(why);
		ops[n].data.send_status_from_server.status_details =
		    &s->status_details;
	}
	n++;
	if ((unsigned)code < RPC_CODES)
		__atomic_add_fetch(&s->srv->served[code], 1, __ATOMIC_RELAXED);
	ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[n++].data.recv_close_on_server.cancelled = &s->cancelled;
	s->state = SLOT_ANSWERING;
	return grpc_call_start_batch(s->call, ops, n, s, NULL) == GRPC_CALL_OK;
}

static void
answer_call(struct call_slot *s)
{
	Models__WhatYouKnow *q = NULL;
	grpc_status_code code;
	bool closed, started;
	char why[512];

	if (s->kind == SLOT_METHOD)
		code = answer_method(s, &q, why, sizeof(why));
	else {
		code = GRPC_STATUS_UNIMPLEMENTED;
		snprintf(why, sizeof(why), "harepd serves only %s",
		    RPC_METHOD);
	}
	log_inquiry(s, q, code, why);
	if (q != NULL)
		models__what_you_know__free_unpacked(q, NULL);
	pthread_rwlock_rdlock(&s->srv->request_lock);
	closed = s->srv->queues_closed;
	started = !closed && start_answer(s, code, why);
	pthread_rwlock_unlock(&s->srv->request_lock);
	if (!started) {
		/* a call that got here during shutdown is simply dropped */
		if (!closed)
			log_warnx("could not start the answer batch of a call");
		slot_cleanup(s);
		slot_request(s);
	}
}

/* ---- slots ---- */

static void
slot_cleanup(struct call_slot *s)
{
	if (s->call != NULL)
		grpc_call_unref(s->call);
	s->call = NULL;
	if (s->payload != NULL)
		grpc_byte_buffer_destroy(s->payload);
	s->payload = NULL;
	if (s->reply != NULL)
		grpc_byte_buffer_destroy(s->reply);
	s->reply = NULL;
	grpc_slice_unref(s->status_details);
	s->status_details = grpc_empty_slice();
	grpc_metadata_array_destroy(&s->md);
	if (s->kind == SLOT_OTHER)
		grpc_call_details_destroy(&s->details);
	s->state = SLOT_IDLE;
}

static grpc_call_error
slot_request_locked(struct call_slot *s)
{
	struct rpc_server *srv = s->srv;

	if (s->kind == SLOT_METHOD)
		return grpc_server_request_registered_call(srv->server,
		    srv->method, &s->call, &s->deadline, &s->md, &s->payload,
		    s->cq, s->cq, s);
	return grpc_server_request_call(srv->server, &s->call, &s->details,
	    &s->md, s->cq, s->cq, s);
}

/*
 * Under the read lock, so that once rpc_server_stop has set `stopping`
 * no thread requests a call on a queue that is about to shut down.
 */
static void
slot_request(struct call_slot *s)
{
	grpc_call_error err = GRPC_CALL_OK;

	grpc_metadata_array_init(&s->md);
	if (s->kind == SLOT_OTHER)
		grpc_call_details_init(&s->details);
	s->state = SLOT_WAITING;
	pthread_rwlock_rdlock(&s->srv->request_lock);
	if (s->srv->stopping)
		err = GRPC_CALL_ERROR_ALREADY_FINISHED;
	else
		err = slot_request_locked(s);
	pthread_rwlock_unlock(&s->srv->request_lock);
	if (err != GRPC_CALL_OK) {
		if (err != GRPC_CALL_ERROR_ALREADY_FINISHED)
			log_warnx("could not request a call: grpc_call_error %d",
			    (int)err);
		slot_cleanup(s);
	}
}

static void
slot_event(struct call_slot *s, int success)
{
	bool stopping;

	if (s->state == SLOT_WAITING && success) {
		answer_call(s);
		return;
	}
	/* answered, or the request failed: the server is shutting down */
	slot_cleanup(s);
	pthread_rwlock_rdlock(&s->srv->request_lock);
	stopping = s->srv->stopping;
	pthread_rwlock_unlock(&s->srv->request_lock);
	if (!stopping)
		slot_request(s);
}

static void
shutdown_notified(struct rpc_server *srv)
{
	pthread_mutex_lock(&srv->shutdown_lock);
	srv->shutdown_done = true;
	pthread_cond_signal(&srv->shutdown_cond);
	pthread_mutex_unlock(&srv->shutdown_lock);
}

struct cq_thread_arg {
	struct rpc_server	*srv;
	int			 idx;
};

static void *
cq_thread(void *arg)
{
	struct rpc_server *srv = ((struct cq_thread_arg *)arg)->srv;
	grpc_completion_queue *cq = srv->cq[((struct cq_thread_arg *)arg)->idx];
	grpc_event ev;

	free(arg);
	for (;;) {
		ev = grpc_completion_queue_next(cq,
		    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		if (ev.tag == &srv->shutdown_tag)
			shutdown_notified(srv);
		else
			slot_event(ev.tag, ev.success);
	}
	return NULL;
}

/* ---- set-up ---- */

static grpc_server_credentials *
server_credentials(const struct rpc_server_opts *o, char *err, size_t errlen)
{
	grpc_ssl_pem_key_cert_pair pair;
	grpc_server_credentials *creds;

	if (!o->tls)
		return grpc_insecure_server_credentials_create();
	if (o->cert_pem == NULL || o->key_pem == NULL ||
	    (o->client_auth && o->ca_pem == NULL)) {
		snprintf(err, errlen, "TLS is on but the %s PEM is missing",
		    o->cert_pem == NULL ? "certificate" :
		    o->key_pem == NULL ? "key" : "CA");
		return NULL;
	}
	pair.private_key = o->key_pem;
	pair.cert_chain = o->cert_pem;
	creds = grpc_ssl_server_credentials_create_ex(
	    o->client_auth ? o->ca_pem : NULL, &pair, 1,
	    o->client_auth ?
	    GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY :
	    GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE, NULL);
	if (creds == NULL)
		snprintf(err, errlen, "TLS credentials rejected by gRPC");
	return creds;
}

static grpc_arg
int_arg(const char *key, int value)
{
	grpc_arg a = { .type = GRPC_ARG_INTEGER, .key = unconst_str(key) };

	a.value.integer = value;
	return a;
}

/*
 * The limits of rpc.h ("Server limits"), every one of which the gRPC
 * core 1.51 of Debian 12 reads on a server channel. The core's defaults
 * are for a general server: 4 MiB requests, unlimited streams, 120 s to
 * finish a handshake, idle connections kept for ever.
 */
static grpc_server *
create_server(void)
{
	grpc_arg args[16];
	grpc_channel_args ch_args = { .num_args = 0, .args = args };

	/* the core answers RESOURCE_EXHAUSTED itself above these sizes */
	args[ch_args.num_args++] = int_arg(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
	    RPC_MAX_REQUEST);
	args[ch_args.num_args++] = int_arg(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
	    RPC_MAX_REPLY);
	args[ch_args.num_args++] = int_arg(GRPC_ARG_MAX_METADATA_SIZE,
	    RPC_MAX_METADATA);
	args[ch_args.num_args++] = int_arg(GRPC_ARG_MAX_CONCURRENT_STREAMS,
	    RPC_MAX_STREAMS);
	/* from accept to the client's HTTP/2 SETTINGS, TLS included */
	args[ch_args.num_args++] = int_arg(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
	    RPC_HANDSHAKE_MS);
	args[ch_args.num_args++] = int_arg(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
	    RPC_MAX_IDLE_MS);
	args[ch_args.num_args++] = int_arg(GRPC_ARG_MAX_CONNECTION_AGE_MS,
	    RPC_MAX_AGE_MS);
	args[ch_args.num_args++] = int_arg(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
	    RPC_MAX_AGE_GRACE_MS);
	args[ch_args.num_args++] = int_arg(GRPC_ARG_KEEPALIVE_TIME_MS,
	    RPC_KEEPALIVE_MS);
	args[ch_args.num_args++] = int_arg(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
	    RPC_KEEPALIVE_TIMEOUT_MS);
	/* our pings only while a call is open: idle peers go, not kept */
	args[ch_args.num_args++] = int_arg(
	    GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
	args[ch_args.num_args++] = int_arg(
	    GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
	    RPC_MIN_PEER_PING_MS);
	args[ch_args.num_args++] = int_arg(GRPC_ARG_HTTP2_MAX_PING_STRIKES,
	    RPC_MAX_PING_STRIKES);
	/*
	 * The core sets SO_REUSEPORT by default: any process of the same
	 * user (nobody!) could then bind our port too and take a share of
	 * the peers' questions, as could a second worker. One owner only.
	 */
	args[ch_args.num_args++] = int_arg(GRPC_ARG_ALLOW_REUSEPORT, 0);
	return grpc_server_create(&ch_args, NULL);
}

static int
bind_port(struct rpc_server *srv, const struct rpc_server_opts *o,
    char *err, size_t errlen)
{
	grpc_server_credentials *creds;
	char addr[300];

	if (rpc_listen_address(addr, sizeof(addr), o->bind_address,
	    o->port) == -1) {
		snprintf(err, errlen, "bind address too long");
		return -1;
	}
	if ((creds = server_credentials(o, err, errlen)) == NULL)
		return -1;
	srv->port = grpc_server_add_http2_port(srv->server, addr, creds);
	grpc_server_credentials_release(creds);
	if (srv->port == 0) {
		snprintf(err, errlen, "cannot listen on %s (address in use, "
		    "or not an address of this host?)", addr);
		return -1;
	}
	return 0;
}

static void
init_slots(struct rpc_server *srv)
{
	size_t per_cq = RPC_SLOTS_PER_CQ + 1;

	srv->n_slots = per_cq * RPC_CQ_THREADS;
	srv->slots = xcalloc(srv->n_slots, sizeof(*srv->slots));
	for (size_t i = 0; i < srv->n_slots; i++) {
		struct call_slot *s = &srv->slots[i];

		s->srv = srv;
		s->cq = srv->cq[i / per_cq];
		s->kind = i % per_cq == 0 ? SLOT_OTHER : SLOT_METHOD;
		s->status_details = grpc_empty_slice();
		s->state = SLOT_IDLE;
	}
}

static void
start_threads(struct rpc_server *srv)
{
	struct cq_thread_arg *a;

	for (int i = 0; i < RPC_CQ_THREADS; i++) {
		a = xmalloc(sizeof(*a));
		a->srv = srv;
		a->idx = i;
		errno = pthread_create(&srv->thread[i], NULL, cq_thread, a);
		if (errno != 0)
			fatal("pthread_create");
		srv->n_threads++;
	}
}

static struct rpc_server *
server_alloc(int64_t max_age_ms)
{
	struct rpc_server *srv;

	srv = xcalloc(1, sizeof(*srv));
	pthread_rwlock_init(&srv->request_lock, NULL);
	pthread_mutex_init(&srv->shutdown_lock, NULL);
	pthread_cond_init(&srv->shutdown_cond, NULL);
	pthread_mutex_init(&srv->view_lock, NULL);
	pthread_mutex_init(&srv->log_lock, NULL);
	rpc_ratelimit_init(&srv->log_limit, RPC_INQUIRY_LOG_PER_SEC);
	srv->snap_slice = grpc_empty_slice();
	srv->max_age_ms = max_age_ms;
	/* nobody was answered before this worker started: the table of
	 * answers covers only its own life */
	srv->gate.tracked_since_boot_ms = clock_boot_ms();
	return srv;
}

static void
server_free(struct rpc_server *srv)
{
	for (int i = 0; i < RPC_CQ_THREADS; i++)
		if (srv->cq[i] != NULL)
			grpc_completion_queue_destroy(srv->cq[i]);
	grpc_slice_unref(srv->snap_slice);
	rpc_snapshot_free(srv->snap);
	free(srv->slots);
	pthread_rwlock_destroy(&srv->request_lock);
	pthread_mutex_destroy(&srv->shutdown_lock);
	pthread_cond_destroy(&srv->shutdown_cond);
	pthread_mutex_destroy(&srv->view_lock);
	pthread_mutex_destroy(&srv->log_lock);
	free(srv);
}

struct rpc_server *
rpc_server_start(const struct rpc_server_opts *o, char *err, size_t errlen)
{
	struct rpc_server *srv = server_alloc(o->max_age_ms);

	srv->server = create_server();
	srv->method = grpc_server_register_method(srv->server, RPC_METHOD,
	    NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
	for (int i = 0; i < RPC_CQ_THREADS; i++) {
		srv->cq[i] = grpc_completion_queue_create_for_next(NULL);
		grpc_server_register_completion_queue(srv->server, srv->cq[i],
		    NULL);
	}
	if (srv->method == NULL || bind_port(srv, o, err, errlen) == -1) {
		if (srv->method == NULL)
			snprintf(err, errlen, "cannot register %s", RPC_METHOD);
		grpc_server_destroy(srv->server);
		server_free(srv);
		return NULL;
	}
	grpc_server_start(srv->server);
	init_slots(srv);
	for (size_t i = 0; i < srv->n_slots; i++)
		slot_request(&srv->slots[i]);
	start_threads(srv);
	return srv;
}

int
rpc_server_port(const struct rpc_server *srv)
{
	return srv->port;
}

/* What a gate-only answer says of us: enough to be told apart. Locked. */
static void
pack_ident(struct rpc_server *srv)
{
	Models__IKnow k;

	models__iknow__init(&k);
	k.ip = srv->ident_ip;
	k.nodename = srv->ident_name;
	k.nodeid = srv->ident_id;
	srv->ident_len = models__iknow__pack(&k, srv->ident);
}

void
rpc_server_publish(struct rpc_server *srv, struct rpc_snapshot *snap)
{
	struct rpc_snapshot *old;
	grpc_slice old_slice, slice = grpc_empty_slice();

	if (snap != NULL)
		slice = grpc_slice_from_copied_buffer((const char *)snap->packed,
		    snap->packed_len);
	pthread_mutex_lock(&srv->view_lock);
	old = srv->snap;
	old_slice = srv->snap_slice;
	if (snap != NULL) {
		srv->gate.lists_since_boot_ms = snap->lists_since_boot_ms;
		if (snap->node_id != 0 && snap->node_id != srv->ident_id) {
			srv->ident_id = snap->node_id;
			pack_ident(srv);
		}
	}
	srv->snap = snap;
	srv->snap_slice = slice;
	pthread_mutex_unlock(&srv->view_lock);
	/* replies still in flight hold their own reference to old_slice */
	grpc_slice_unref(old_slice);
	rpc_snapshot_free(old);
}

int
rpc_server_gate_declared(struct rpc_server *srv,
    const Harepd__GateDeclared *d)
{
	int served;

	pthread_mutex_lock(&srv->view_lock);
	rpc_gate_declared(&srv->gate, d);
	served = rpc_gate_served(&srv->gate);
	pthread_mutex_unlock(&srv->view_lock);
	return served;
}

void
rpc_server_answers(struct rpc_server *srv, struct rpc_gate_answers *out)
{
	pthread_mutex_lock(&srv->view_lock);
	rpc_gate_answers(&srv->gate, clock_boot_ms(), out);
	pthread_mutex_unlock(&srv->view_lock);
}

int
rpc_server_hba_applied(struct rpc_server *srv, const Harepd__HbaApplied *a)
{
	int served;

	pthread_mutex_lock(&srv->view_lock);
	rpc_gate_applied(&srv->gate, a);
	served = rpc_gate_served(&srv->gate);
	pthread_mutex_unlock(&srv->view_lock);
	return served;
}

void
rpc_server_set_conf(struct rpc_server *srv, const struct conf *c)
{
	pthread_mutex_lock(&srv->view_lock);
	rpc_gate_conf(&srv->gate, c);
	srv->max_age_ms = rpc_max_age_ms(c);
	/* truncated names cannot overflow ident: 2 x 128 bytes + tags */
	snprintf(srv->ident_ip, sizeof(srv->ident_ip), "%s", c->primary_ip);
	snprintf(srv->ident_name, sizeof(srv->ident_name), "%s",
	    c->node_name);
	pack_ident(srv);
	pthread_mutex_unlock(&srv->view_lock);
}

void
rpc_server_set_max_age(struct rpc_server *srv, int64_t max_age_ms)
{
	pthread_mutex_lock(&srv->view_lock);
	srv->max_age_ms = max_age_ms;
	pthread_mutex_unlock(&srv->view_lock);
}

static void
wait_shutdown_tag(struct rpc_server *srv)
{
	pthread_mutex_lock(&srv->shutdown_lock);
	while (!srv->shutdown_done)
		pthread_cond_wait(&srv->shutdown_cond, &srv->shutdown_lock);
	pthread_mutex_unlock(&srv->shutdown_lock);
}

void
rpc_server_stop(struct rpc_server *srv)
{
	pthread_rwlock_wrlock(&srv->request_lock);
	srv->stopping = true;
	pthread_rwlock_unlock(&srv->request_lock);
	grpc_server_shutdown_and_notify(srv->server, srv->cq[0],
	    &srv->shutdown_tag);
	grpc_server_cancel_all_calls(srv->server);
	wait_shutdown_tag(srv);
	/* calls may still have arrived: their threads must not answer now */
	pthread_rwlock_wrlock(&srv->request_lock);
	srv->queues_closed = true;
	pthread_rwlock_unlock(&srv->request_lock);
	for (int i = 0; i < RPC_CQ_THREADS; i++)
		grpc_completion_queue_shutdown(srv->cq[i]);
	for (int i = 0; i < srv->n_threads; i++)
		pthread_join(srv->thread[i], NULL);
	grpc_server_destroy(srv->server);
	log_suppressed(rpc_ratelimit_drain(&srv->log_limit));
	server_free(srv);
}

bool
rpc_server_take_served(struct rpc_server *srv, uint64_t out[RPC_CODES])
{
	bool any = false;

	for (size_t i = 0; i < RPC_CODES; i++) {
		out[i] = __atomic_exchange_n(&srv->served[i], 0,
		    __ATOMIC_RELAXED);
		any = any || out[i] != 0;
	}
	return any;
}
