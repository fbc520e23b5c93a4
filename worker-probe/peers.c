/*
 * The peers' views: GetClusterInfo to every neighbour and the witness at
 * once, with the gRPC C core client. One completion queue; every call is
 * started before any is waited for, each with the same deadline, so a
 * tick costs one deadline however many peers are dead (the Go harepd
 * asked them one after the other and a silent neighbour blocked it
 * forever).
 *
 * Channels are kept from tick to tick (a TLS handshake per tick would
 * cost more than the call) and rebuilt only on reload.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "ipc/ipc.h"
#include "ipc/log.h"
#include "util/clock.h"
#include "util/grpc_status.h"
#include "util/xmalloc.h"
#include "worker-probe/probe.h"
#include "util/unconst.h"

struct peer {
	char		*target;	/* host:port, as dialled */
	const char	*role;		/* PROBE_ROLE_* */
	grpc_channel	*channel;
	unsigned	 misses;	/* asks in a row without an answer */
	int64_t		 reopened_us;	/* channel last opened again */
};

struct peer_set {
	grpc_completion_queue	*cq;
	struct peer		*peers;
	size_t			 n;
	const struct conf	*conf;		/* outlives the set */
	grpc_channel_credentials *creds;	/* to open a channel again */
};

/* One call of one tick; its address is the completion tag. */
struct call {
	struct peer		*peer;
	grpc_call		*call;
	grpc_metadata_array	 initial_md;
	grpc_metadata_array	 trailing_md;
	grpc_byte_buffer	*request;
	grpc_byte_buffer	*reply;
	grpc_status_code	 status;
	grpc_slice		 details;	/* lives until the batch completes */
	char			 start_error[64];
	int64_t			 latency_us;
	bool			 pending;
};

/* ---- channels ---- */

static grpc_channel_credentials *
credentials(const struct conf *c, const struct peer_tls *tls)
{
	grpc_ssl_pem_key_cert_pair pair;

	if (!c->tls.enabled || tls == NULL || tls->ca_pem == NULL)
		return grpc_insecure_credentials_create();
	/*
	 * Our certificate goes only to a server that asks for one (mutual
	 * TLS, gRPC.tls.clientAuth on the peer), so always offer it.
	 */
	pair.private_key = tls->key_pem;
	pair.cert_chain = tls->cert_pem;
	return grpc_ssl_credentials_create_ex(tls->ca_pem,
	    tls->cert_pem && tls->key_pem ? &pair : NULL, NULL, NULL);
}

static grpc_arg
int_arg(const char *key, int value)
{
	grpc_arg a = { .type = GRPC_ARG_INTEGER, .key = unconst_str(key) };

	a.value.integer = value;
	return a;
}

static grpc_channel *
open_channel(const struct conf *c, grpc_channel_credentials *creds,
    const char *target)
{
	grpc_arg args[5];
	grpc_channel_args ca = { .num_args = 0, .args = args };
	/* a peer back from the dead is reached within a tick, not 2 min */
	int backoff = c->watchdog * 1000;

	args[ca.num_args++] = int_arg(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
	    backoff);
	args[ca.num_args++] = int_arg(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
	    backoff < 1000 ? backoff : 1000);
	/* its own subchannels: a channel opened again starts without the
	 * backoff of the one it replaces (reopen_refused()) */
	args[ca.num_args++] = int_arg(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
	/* the core refuses anything larger before we ever see it */
	args[ca.num_args++] = int_arg(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
	    PROBE_MAX_ANSWER);
	if (c->tls.enabled && c->server_host_override != NULL &&
	    c->server_host_override[0] != '\0') {
		args[ca.num_args].type = GRPC_ARG_STRING;
		args[ca.num_args].key = GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
		args[ca.num_args++].value.string = c->server_host_override;
	}
	return grpc_channel_create(target, creds, &ca);
}

static void
add_peer(struct peer_set *ps, const struct conf *c,
    grpc_channel_credentials *creds, const struct conf_target *t,
    const char *role)
{
	struct peer *p = &ps->peers[ps->n++];

	p->target = xstrdup(t->text);
	p->role = role;
	if ((p->channel = open_channel(c, creds, t->text)) == NULL)
		fatalx("gRPC channel to %s could not be created", t->text);
}

struct peer_set *
peers_new(const struct conf *c, const struct peer_tls *tls)
{
	grpc_channel_credentials *creds;
	struct peer_set *ps;
	size_t i;

	ps = xcalloc(1, sizeof(*ps));
	ps->peers = xcalloc(c->n_neighbours + 1, sizeof(*ps->peers));
	ps->cq = grpc_completion_queue_create_for_next(NULL);
	ps->conf = c;
	ps->creds = creds = credentials(c, tls);
	for (i = 0; i < c->n_neighbours; i++)
		add_peer(ps, c, creds, &c->neighbours[i], PROBE_ROLE_NEIGHBOUR);
	if (c->witness != NULL)
		add_peer(ps, c, creds, c->witness, PROBE_ROLE_WITNESS);
	return ps;
}

size_t
peers_count(const struct peer_set *ps)
{
	return ps->n;
}

void
peers_free(struct peer_set *ps)
{
	grpc_event ev;
	size_t i;

	if (ps == NULL)
		return;
	for (i = 0; i < ps->n; i++) {
		grpc_channel_destroy(ps->peers[i].channel);
		free(ps->peers[i].target);
	}
	grpc_channel_credentials_release(ps->creds);
	grpc_completion_queue_shutdown(ps->cq);
	do
		ev = grpc_completion_queue_next(ps->cq,
		    gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
	while (ev.type != GRPC_QUEUE_SHUTDOWN);
	grpc_completion_queue_destroy(ps->cq);
	free(ps->peers);
	free(ps);
}

bool peers_test_inject_shutdown;

/* ---- one call ---- */

static void
call_start(struct peer_set *ps, struct call *cl, grpc_slice request,
    gpr_timespec deadline)
{
	grpc_slice method = grpc_slice_from_static_string(PROBE_METHOD);
	grpc_call_error err;
	grpc_op ops[6];

	grpc_metadata_array_init(&cl->initial_md);
	grpc_metadata_array_init(&cl->trailing_md);
	cl->details = grpc_empty_slice();
	cl->request = grpc_raw_byte_buffer_create(&request, 1);
	cl->call = grpc_channel_create_call(cl->peer->channel, NULL,
	    GRPC_PROPAGATE_DEFAULTS, ps->cq, method, NULL, deadline, NULL);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = cl->request;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata =
	    &cl->initial_md;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &cl->reply;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &cl->trailing_md;
	ops[5].data.recv_status_on_client.status = &cl->status;
	ops[5].data.recv_status_on_client.status_details = &cl->details;
	err = grpc_call_start_batch(cl->call, ops, 6, cl, NULL);
	cl->pending = err == GRPC_CALL_OK;
	if (!cl->pending)
		snprintf(cl->start_error, sizeof(cl->start_error),
		    "call not started: grpc_call_error %d", (int)err);
}

static void
call_cleanup(struct call *cl)
{
	if (cl->call != NULL)
		grpc_call_unref(cl->call);
	if (cl->request != NULL)
		grpc_byte_buffer_destroy(cl->request);
	if (cl->reply != NULL)
		grpc_byte_buffer_destroy(cl->reply);
	grpc_metadata_array_destroy(&cl->initial_md);
	grpc_metadata_array_destroy(&cl->trailing_md);
	grpc_slice_unref(cl->details);
}

static void
cancel_pending(struct peer_set *ps, struct call *calls)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (calls[i].pending)
			grpc_call_cancel(calls[i].call, NULL);
}

static gpr_timespec
in_ms(int ms)
{
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
	    gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/*
 * Waits for every started call. The core ends each at its deadline;
 * should one outlive it by PEERS_CANCEL_GRACE_MS, or abort() say so,
 * the rest are cancelled, which completes them at once: this returns
 * soon after the deadline, or soon after abort() returned true.
 */
static void
wait_calls(struct peer_set *ps, struct call *calls, size_t pending,
    int64_t started_us, int deadline_ms, bool (*abort)(void *), void *arg)
{
	int64_t give_up = started_us + (int64_t)(deadline_ms +
	    PEERS_CANCEL_GRACE_MS) * 1000;
	bool cancelled = false;
	struct call *cl;
	grpc_event ev;

	while (pending > 0) {
		ev = grpc_completion_queue_next(ps->cq, cancelled ?
		    gpr_inf_future(GPR_CLOCK_MONOTONIC) :
		    in_ms(PEERS_ABORT_CHECK_MS), NULL);
		if (ev.type == GRPC_QUEUE_TIMEOUT) {
			if (clock_mono_us() >= give_up ||
			    (abort != NULL && abort(arg))) {
				cancel_pending(ps, calls);
				cancelled = true;
			}
			continue;
		}
		if (peers_test_inject_shutdown) {
			peers_test_inject_shutdown = false;
			ev.type = GRPC_QUEUE_SHUTDOWN;
		}
		/*
		 * The queue is never shut down while calls run: anything but
		 * a completion is a broken core. Leaving would free the calls
		 * their tags point to while they are in flight, and the next
		 * tick would write into freed memory; there is no way to drain
		 * a queue that no longer delivers, so stop (the supervisor
		 * restarts the worker).
		 */
		if (ev.type != GRPC_OP_COMPLETE)
			fatalx("gRPC completion queue: event type %d with %zu "
			    "calls in flight", (int)ev.type, pending);
		cl = ev.tag;
		cl->pending = false;
		cl->latency_us = clock_mono_us() - started_us;
		pending--;
	}
}

/* ---- answers ---- */

Models__IKnow *
peers_decode_answer(const uint8_t *buf, size_t len, char *why, size_t whylen)
{
	Models__IKnow *k;
	char field[128];

	if (len > PROBE_MAX_ANSWER) {
		snprintf(why, whylen, "unreadable answer: %zu bytes, at most "
		    "%d expected", len, PROBE_MAX_ANSWER);
		return NULL;
	}
	if ((k = models__iknow__unpack(NULL, len, buf)) == NULL) {
		snprintf(why, whylen, "unreadable answer: %zu bytes that are "
		    "not an IKnow", len);
		return NULL;
	}
	/* it goes into a Verdict: the supervisor would refuse bad UTF-8 */
	if (ipc_check_utf8(&k->base, field, sizeof(field)) == -1) {
		snprintf(why, whylen, "unreadable answer: %s is not UTF-8",
		    field);
		models__iknow__free_unpacked(k, NULL);
		return NULL;
	}
	/* nor a field protobuf-c could not read back (ipc.h) */
	if (ipc_check_unknown(&k->base, field, sizeof(field)) == -1) {
		snprintf(why, whylen, "unreadable answer: %s", field);
		models__iknow__free_unpacked(k, NULL);
		return NULL;
	}
	return k;
}

static Models__IKnow *
reply_decode(grpc_byte_buffer *reply, char *why, size_t whylen)
{
	grpc_byte_buffer_reader reader;
	Models__IKnow *k;
	grpc_slice all;

	if (reply == NULL) {
		snprintf(why, whylen, "unreadable answer: OK without a message");
		return NULL;
	}
	/* compressed or split in slices: readall joins them */
	if (!grpc_byte_buffer_reader_init(&reader, reply)) {
		snprintf(why, whylen, "unreadable answer: not decompressible");
		return NULL;
	}
	all = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	k = peers_decode_answer(GRPC_SLICE_START_PTR(all),
	    GRPC_SLICE_LENGTH(all), why, whylen);
	grpc_slice_unref(all);
	return k;
}

static void
status_text(const struct call *cl, char *buf, size_t len)
{
	char details[256];

	snprintf(details, sizeof(details), "%.*s",
	    (int)GRPC_SLICE_LENGTH(cl->details),
	    (const char *)GRPC_SLICE_START_PTR(cl->details));
	ipc_utf8_scrub(details);
	snprintf(buf, len, "%s: %s", grpc_status_name(cl->status), details);
}

static Harepd__PeerAnswer *
answer_from_call(struct call *cl)
{
	Harepd__PeerAnswer *a;
	char why[512] = "";

	a = xmalloc(sizeof(*a));
	harepd__peer_answer__init(a);
	a->target = xstrdup(cl->peer->target);
	a->role = xstrdup(cl->peer->role);
	a->latency_us = cl->latency_us;
	if (cl->start_error[0] != '\0')
		snprintf(why, sizeof(why), "%s", cl->start_error);
	else if (cl->status != GRPC_STATUS_OK)
		status_text(cl, why, sizeof(why));
	else
		a->answer = reply_decode(cl->reply, why, sizeof(why));
	a->answered = a->answer != NULL;
	a->error = xstrdup(why);
	return a;
}

/*
 * A peer that did not answer last time (a lost node, a cut link) gets a
 * short deadline: waiting the whole connectionDeadline for it at every
 * tick would slow down every decision of the nodes that are left, the
 * handover first. Every PEERS_FULL_EVERY-th ask in a row it gets the full
 * deadline again, so a peer that is only slow is heard. A missing answer
 * is always treated as one that may have said anything (docs/POLICY.md),
 * so this costs no safety. (The connection state does not tell: over a
 * link that drops packets, gRPC still calls the old connection READY.)
 * A hurried ask (the tick that may take rw, when a cover is due) gives
 * such a peer only PEERS_HURRY_MS, and does not count towards when it
 * gets the full deadline: a lost node must not delay the handover, which
 * treats it as silent anyway.
 */
static bool
unconnected(const struct peer *p, bool hurry)
{
	return p->misses > 0 && (hurry || p->misses % PEERS_FULL_EVERY != 0);
}

/*
 * gRPC core (1.51) took 10 s to reach again a peer that had refused the
 * first connection when no other channel of the process was busy,
 * whatever GRPC_ARG_MAX_RECONNECT_BACKOFF_MS says (docs/HACKING.md): a
 * witness started before the data nodes heard them that late. A channel that gave up is opened again instead, at most
 * once a watchDog: a refused connection costs microseconds, and a peer
 * back from the dead is reached at the next tick.
 */
static void
reopen_refused(struct peer_set *ps, struct peer *p, int64_t now_us)
{
	if (p->misses == 0 || now_us - p->reopened_us <
	    (int64_t)ps->conf->watchdog * 1000000 ||
	    grpc_channel_check_connectivity_state(p->channel, 0) !=
	    GRPC_CHANNEL_TRANSIENT_FAILURE)
		return;
	grpc_channel_destroy(p->channel);
	if ((p->channel = open_channel(ps->conf, ps->creds, p->target)) ==
	    NULL)
		fatalx("gRPC channel to %s could not be created", p->target);
	p->reopened_us = now_us;
}

Harepd__PeerAnswer **
peers_ask(struct peer_set *ps, const Models__WhatYouKnow *q, int deadline_ms,
    bool hurry, bool (*abort)(void *), void *arg)
{
	gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
	    gpr_time_from_millis(deadline_ms, GPR_TIMESPAN));
	int short_ms = hurry ? PEERS_HURRY_MS : PEERS_UNCONNECTED_MS;
	gpr_timespec short_deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
	    gpr_time_from_millis(deadline_ms < short_ms ? deadline_ms :
	    short_ms, GPR_TIMESPAN));
	Harepd__PeerAnswer **out;
	struct call *calls;
	grpc_slice request;
	size_t i, pending = 0;
	int64_t started = clock_mono_us();

	calls = xcalloc(ps->n + 1, sizeof(*calls));
	out = xcalloc(ps->n + 1, sizeof(*out));
	request = grpc_slice_malloc(models__what_you_know__get_packed_size(q));
	models__what_you_know__pack(q, GRPC_SLICE_START_PTR(request));
	for (i = 0; i < ps->n; i++) {
		reopen_refused(ps, &ps->peers[i], started);
		calls[i].peer = &ps->peers[i];
		call_start(ps, &calls[i], request,
		    unconnected(&ps->peers[i], hurry) ? short_deadline :
		    deadline);
		pending += calls[i].pending;
	}
	grpc_slice_unref(request);
	wait_calls(ps, calls, pending, started, deadline_ms, abort, arg);
	for (i = 0; i < ps->n; i++) {
		out[i] = answer_from_call(&calls[i]);
		if (out[i]->answered)
			ps->peers[i].misses = 0;
		else if (!hurry || ps->peers[i].misses == 0)
			ps->peers[i].misses++;
		call_cleanup(&calls[i]);
	}
	free(calls);
	return out;
}

void
peers_answers_free(Harepd__PeerAnswer **answers, size_t n)
{
	size_t i;

	if (answers == NULL)
		return;
	for (i = 0; i < n; i++) {
		if (answers[i]->answer != NULL)
			models__iknow__free_unpacked(answers[i]->answer, NULL);
		free(answers[i]->target);
		free(answers[i]->role);
		free(answers[i]->error);
		free(answers[i]);
	}
	free(answers);
}
