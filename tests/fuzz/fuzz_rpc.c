/*
 * The rpc worker's answer to a peer's WhatYouKnow (worker-rpc/
 * rpc_answer.c, rpc_gate.c), without gRPC: what rpc_server.c's
 * answer_method does with a call's payload, then what the asking probe
 * does with the reply.
 *
 * Input:
 *   byte 0   bits 0-1 the snapshot: none, database down, fresh, stale;
 *            bit 2 the view is stamped in the future; bits 3-4 the
 *            gate the probe declared; bit 5 the hba worker reported,
 *            bit 6 with rw allowed, bit 7 as a fence
 *   byte 1   sequence numbers: declared (bits 0-2), last allow (3-5)
 *   rest     the request's bytes (an empty input: a call without a
 *            message)
 *
 * rpc_request_decode(), rpc_reply_choose(), the reply assembled as the
 * server does (the view's packed IKnow or the identity, then
 * rpc_gate_pack()), and the reply read back with peers_decode_answer():
 * every OK reply must be an IKnow a peer accepts, carrying the view it
 * was made of and the gate rpc_gate_served() says.
 */
#include <string.h>

#include "conf/conf.h"
#include "ipc/ipc.h"
#include "worker-probe/probe.h"
#include "worker-rpc/rpc.h"
#include "tests/fuzz/fuzz.h"

#define NOW_MS		1700000000000LL	/* CLOCK_REALTIME */
#define NOW_BOOT_MS	5000000LL	/* CLOCK_BOOTTIME */

static struct conf *conf;
static struct rpc_snapshot *snaps[4][2];	/* kind x future */
static uint8_t ident[RPC_IDENT_MAX];
static size_t ident_len;

static const char yaml[] =
    "harepd:\n"
    "  nodeName: pg1\n"
    "  primaryIP: 10.0.0.1\n"
    "  hbaConfig: /etc/postgresql/15/main/pg_hba.conf\n"
    "  haproxy:\n"
    "    server: [10.0.0.5]\n"
    "    users:\n"
    "      readWrite: harw\n"
    "  gRPC:\n"
    "    bindPort: 10000\n"
    "    neighbours: [10.0.0.2, 10.0.0.3]\n"
    "    witness: 10.0.0.4\n"
    "  watchDog: 2\n";

static struct rpc_snapshot *
make_snap(int kind, int future)
{
	static char *primaries[] = { "10.0.0.1" };
	static char *standbys[] = { "10.0.0.2", "10.0.0.3" };
	Harepd__LocalView v;
	int64_t max_age = rpc_max_age_ms(conf);

	if (kind == 0)
		return NULL;
	harepd__local_view__init(&v);
	v.node_id = 1;
	v.node_name = "pg1";
	v.ip = "10.0.0.1";
	v.witness = "10.0.0.4";
	v.primaries = primaries;
	v.n_primaries = 1;
	v.standbys = standbys;
	v.n_standbys = 2;
	v.timeline = 3;
	v.lists_since_boot_ms = NOW_BOOT_MS - 60000;
	v.db_error = kind == 1 ? "connection to server failed: refused" : "";
	v.collected_at_ms = NOW_MS;	/* printed only */
	v.collected_boot_ms = NOW_BOOT_MS - (kind == 3 ? max_age + 1 : 100);
	if (future)
		v.collected_boot_ms = NOW_BOOT_MS + max_age + 1;
	return rpc_snapshot_new(&v);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct conf_diag diag = { 0 };
	Models__IKnow k;

	models__iknow__init(&k);
	if ((conf = conf_load_buffer("fuzz.yml", yaml, strlen(yaml),
	    &diag)) == NULL)
		abort();
	conf_diag_free(&diag);
	for (int i = 0; i < 4; i++)
		for (int f = 0; f < 2; f++)
			snaps[i][f] = make_snap(i, f);
	/* as rpc_server_set_conf and pack_ident */
	k.ip = conf->primary_ip;
	k.nodename = conf->node_name;
	k.nodeid = 1;
	ident_len = models__iknow__pack(&k, ident);
	return 0;
}

static void
make_gate(struct rpc_gate *g, int b0, int b1)
{
	Harepd__GateDeclared d;
	Harepd__HbaApplied a;
	Harepd__LocalView v;

	harepd__gate_declared__init(&d);
	harepd__hba_applied__init(&a);
	harepd__local_view__init(&v);
	rpc_gate_init(g, conf, NOW_BOOT_MS - 60000);
	d.seq = (uint64_t)(b1 & 7);
	d.state = (Models__Gate__State)((b0 >> 3) & 3);
	d.decided_boot_ms = NOW_BOOT_MS - 1000;
	d.last_allow_seq = (uint64_t)((b1 >> 3) & 7);
	rpc_gate_declared(g, &d);
	if (b0 & 0x20) {
		a.seq = d.seq;
		a.rw_allow = (b0 & 0x40) != 0;
		a.fenced = (b0 & 0x80) != 0;
		a.last_verdict_seq = d.seq;
		a.decided_boot_ms = NOW_BOOT_MS - 2000;
		rpc_gate_applied(g, &a);
	}
	v.lists_since_boot_ms = NOW_BOOT_MS - 60000;
	rpc_gate_view(g, &v);
}

/* The reply, read as the asking probe reads it. */
static void
check_reply(const struct rpc_snapshot *snap, enum rpc_reply what,
    const struct rpc_gate *g)
{
	uint8_t buf[RPC_IDENT_MAX + 4096 + RPC_GATE_MAX];
	const uint8_t *head = what == RPC_REPLY_VIEW ? snap->packed : ident;
	size_t hlen = what == RPC_REPLY_VIEW ? snap->packed_len : ident_len;
	Models__IKnow *k;
	char why[256] = "";

	FUZZ_CHECK(hlen + RPC_GATE_MAX <= sizeof(buf), "reply too large");
	memcpy(buf, head, hlen);
	hlen += rpc_gate_pack(g, NOW_BOOT_MS, buf + hlen);
	k = peers_decode_answer(buf, hlen, why, sizeof(why));
	FUZZ_CHECK(k != NULL, "a peer refuses our reply: %s", why);
	FUZZ_CHECK(k->gate != NULL && (int)k->gate->state ==
	    rpc_gate_served(g), "gate %d in the reply, %d served",
	    k->gate ? (int)k->gate->state : -1, rpc_gate_served(g));
	FUZZ_CHECK(strcmp(k->ip, "10.0.0.1") == 0 && k->nodeid == 1,
	    "reply names %s/%d", k->ip, k->nodeid);
	if (what == RPC_REPLY_VIEW)
		FUZZ_CHECK(k->n_master == 1 && k->n_slaves == 2 &&
		    k->observation != NULL, "the view's lists are not in it");
	else
		FUZZ_CHECK(k->n_master == 0 && k->n_slaves == 0,
		    "an identity-only reply carries lists");
	models__iknow__free_unpacked(k, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct rpc_snapshot *snap;
	Models__WhatYouKnow *q = NULL;
	struct rpc_gate gate;
	enum rpc_reply what = RPC_REPLY_NONE;
	grpc_status_code code;
	char why[512] = "", log_ip[RPC_LOG_FIELD_MAX];
	int b0 = size > 0 ? data[0] : 0, b1 = size > 1 ? data[1] : 0;

	snap = snaps[b0 & 3][(b0 >> 2) & 1];
	make_gate(&gate, b0, b1);
	/* an empty input is a call without a message (payload NULL) */
	code = rpc_request_decode(size == 0 ? NULL : data + (size > 2 ? 2 : size),
	    size > 2 ? size - 2 : 0, &q, why, sizeof(why));
	if (code != GRPC_STATUS_OK) {
		FUZZ_CHECK(q == NULL && why[0] != '\0', "%s without a reason",
		    rpc_status_name(code));
		return 0;
	}
	FUZZ_CHECK(q != NULL && ipc_check_utf8(&q->base, NULL, 0) == 0,
	    "accepted a request a Go peer would refuse");
	/* the inquiry log cuts the caller's strings (log_method_inquiry) */
	snprintf(log_ip, sizeof(log_ip), "%s", q->ip);
	(void)snprintf(NULL, 0, "%s %d %s", log_ip, (int)q->nodeid, q->nodename);

	code = rpc_reply_choose(q, snap, NOW_BOOT_MS, rpc_max_age_ms(conf), &what,
	    why, sizeof(why));
	if (code == GRPC_STATUS_OK) {
		FUZZ_CHECK(what != RPC_REPLY_NONE, "OK without a reply");
		FUZZ_CHECK(what == RPC_REPLY_IDENT || (snap != NULL &&
		    snap->db_error == NULL), "the view answered while it may not be");
		check_reply(snap, what, &gate);
	} else
		FUZZ_CHECK(what == RPC_REPLY_NONE && !q->wantsgate &&
		    why[0] != '\0', "%s: reply %d, wantsGate %d",
		    rpc_status_name(code), (int)what, q->wantsgate);
	models__what_you_know__free_unpacked(q, NULL);
	return 0;
}
