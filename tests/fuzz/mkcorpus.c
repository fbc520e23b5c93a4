/*
 * Writes the protobuf seeds of the fuzz corpora (tests/fuzz/README):
 *   mkcorpus DIR   -> DIR/ipc/, DIR/iknow/, DIR/rpc/, DIR/status/
 * Real messages, packed by protobuf-c as harepd packs them, in the
 * framing each harness reads. `make fuzz-corpus` runs it; the output is
 * committed, so a change of a harness's input layout means running it
 * again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/ipc.pb-c.h"
#include "proto/messaging.pb-c.h"
#include "util/unconst.h"

int	 main(int, char **);

static const char *outdir;

static void
put(const char *sub, const char *name, const uint8_t *buf, size_t len)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", outdir, sub);
	if (mkdir(path, 0755) == -1 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, sub, name);
	if ((fp = fopen(path, "wb")) == NULL ||
	    fwrite(buf, 1, len, fp) != len || fclose(fp) != 0) {
		perror(path);
		exit(1);
	}
}

static size_t
pack(const ProtobufCMessage *m, uint8_t *buf)
{
	return protobuf_c_message_pack(m, buf);
}

/* ---- ipc: one packed Envelope per file ---- */

static void
put_env(const char *name, Harepd__Envelope *e)
{
	uint8_t buf[8192];

	put("ipc", name, buf, pack(&e->base, buf));
}

static char *primaries[] = { "10.0.0.1" };
static char *standbys[] = { "10.0.0.2", "10.0.0.3" };

static void
ipc_seeds(void)
{
	static const char yaml[] = "harepd:\n  nodeName: pg1\n"
	    "  primaryIP: 10.0.0.1\n  hbaConfig: /etc/pg_hba.conf\n"
	    "  haproxy:\n    server: [10.0.0.5]\n    users:\n"
	    "      readWrite: harw\n  gRPC:\n    bindPort: 10000\n"
	    "    neighbours: [10.0.0.2]\n  watchDog: 10\n";
	Harepd__Envelope e;
	Harepd__Hello h = HAREPD__HELLO__INIT;
	Harepd__ConfigPush c = HAREPD__CONFIG_PUSH__INIT;
	Harepd__LocalView v = HAREPD__LOCAL_VIEW__INIT;
	Harepd__Verdict vd = HAREPD__VERDICT__INIT;
	Harepd__PeerAnswer pa = HAREPD__PEER_ANSWER__INIT, *ev[1] = { &pa };
	Models__IKnow k = MODELS__IKNOW__INIT;
	Models__Observation o = MODELS__OBSERVATION__INIT;
	Models__Gate g = MODELS__GATE__INIT;
	Harepd__HbaApplied a = HAREPD__HBA_APPLIED__INIT;
	Harepd__Log lg = HAREPD__LOG__INIT;
	Harepd__LogField lf = HAREPD__LOG_FIELD__INIT, *lfs[1] = { &lf };
	Harepd__Control ct = HAREPD__CONTROL__INIT;
	Harepd__GateDeclared gd = HAREPD__GATE_DECLARED__INIT;
	Harepd__GateServed gs = HAREPD__GATE_SERVED__INIT;

#define ENV(field, CASE, val) do {					\
	harepd__envelope__init(&e);					\
	e.body_case = HAREPD__ENVELOPE__BODY_##CASE;			\
	e.field = (val);						\
} while (0)
	h.role = "probe";
	h.pid = 4242;
	ENV(hello, HELLO, &h);
	put_env("hello", &e);

	c.path = "/etc/harepd/conf.yml";
	c.yaml.data = unconst_ptr(yaml);
	c.yaml.len = sizeof(yaml) - 1;
	ENV(config, CONFIG, &c);
	put_env("config", &e);

	v.node_id = 1;
	v.node_name = "pg1";
	v.ip = "10.0.0.1";
	v.primaries = primaries;
	v.n_primaries = 1;
	v.standbys = standbys;
	v.n_standbys = 2;
	v.witness = "10.0.0.4";
	v.timeline = 2;
	v.collected_at_ms = 1700000000000;
	v.lists_since_boot_ms = 123456;
	ENV(local_view, LOCAL_VIEW, &v);
	put_env("local_view", &e);
	v.db_error = "connection to server on socket failed: No such file";
	put_env("local_view_db_down", &e);

	k.ip = "10.0.0.2";
	k.nodeid = 2;
	k.nodename = "pg2";
	k.master = primaries;
	k.n_master = 1;
	k.slaves = standbys;
	k.n_slaves = 2;
	o.inrecovery = 1;
	o.timeline = 2;
	k.observation = &o;
	g.state = MODELS__GATE__STATE__DENIED;
	g.leasems = 30000;
	g.deadlinems = 5000;
	g.members = 4;
	k.gate = &g;
	pa.target = "10.0.0.2:10000";
	pa.role = "neighbour";
	pa.answered = 1;
	pa.answer = &k;
	pa.agrees = 1;
	pa.latency_us = 812;
	vd.seq = 17;
	vd.rw_allow = 1;
	vd.reason = "3 of 4 members agree; primaryIP 10.0.0.1 is the only "
	    "active primary, not in recovery, timeline 2";
	vd.policy = "majority";
	vd.evidence = ev;
	vd.n_evidence = 1;
	vd.lease_ms = 30000;
	vd.decided_boot_ms = 99999;
	ENV(verdict, VERDICT, &vd);
	put_env("verdict", &e);

	a.seq = 17;
	a.changed = 1;
	a.reloaded = 1;
	a.rw_allow = 1;
	a.last_verdict_seq = 17;
	ENV(hba_applied, HBA_APPLIED, &a);
	put_env("hba_applied", &e);

	lg.level = HAREPD__LOG__LEVEL__WARNING;
	lg.msg = "peer 10.0.0.3:10000 did not answer: DEADLINE_EXCEEDED";
	lf.key = "peer";
	lf.value = "10.0.0.3:10000";
	lg.fields = lfs;
	lg.n_fields = 1;
	ENV(log, LOG, &lg);
	put_env("log", &e);

	ct.command = HAREPD__CONTROL__COMMAND__PAUSE;
	ENV(control, CONTROL, &ct);
	put_env("control", &e);

	gd.seq = 18;
	gd.state = MODELS__GATE__STATE__INTENT;
	gd.last_allow_seq = 17;
	ENV(gate_declared, GATE_DECLARED, &gd);
	put_env("gate_declared", &e);

	gs.seq = 18;
	gs.state = MODELS__GATE__STATE__INTENT;
	ENV(gate_served, GATE_SERVED, &gs);
	put_env("gate_served", &e);
#undef ENV
}

/* ---- iknow: flags, gate/timeline, 6 bytes of times, chunks ---- */

struct seed {
	uint8_t	 buf[8192];
	size_t	 len;
};

static void
add(struct seed *s, const void *p, size_t n)
{
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

static void
add_chunk(struct seed *s, const Models__IKnow *k)
{
	uint8_t tmp[2048];
	size_t n = k ? models__iknow__pack(k, tmp) : 0;
	uint8_t len[2] = { (uint8_t)n, (uint8_t)(n >> 8) };

	add(s, len, 2);
	add(s, tmp, n);
}

static char *new_primary[] = { "10.0.0.2" };
static char *new_standbys[] = { "10.0.0.3" };

/* An IKnow as node ip would answer in the steady cluster. */
static void
iknow(Models__IKnow *k, Models__Observation *o, Models__Gate *g,
    const char *ip, int id, int rec, int tl, int gate)
{
	models__iknow__init(k);
	models__observation__init(o);
	models__gate__init(g);
	k->ip = unconst_str(ip);
	k->nodeid = id;
	k->master = primaries;
	k->n_master = 1;
	k->slaves = standbys;
	k->n_slaves = 2;
	k->witness = "10.0.0.4";
	o->inrecovery = rec;
	o->timeline = (uint32_t)tl;
	k->observation = o;
	if (gate >= 0) {
		g->state = (Models__Gate__State)gate;
		g->leasems = 6000;
		g->deadlinems = 5000;
		g->members = 4;
		g->viewstablems = 60000;
		k->gate = g;
	}
}

static void
iknow_seed(const char *name, uint8_t flags, uint8_t b1, int gate2,
    int gate3, int failover)
{
	Models__IKnow self, n2, n3, w;
	Models__Observation o[4];
	Models__Gate g[4];
	struct seed s = { .len = 0 };
	uint8_t head[8] = { flags, b1, 0x10, 0x27, 0x30, 0x75, 0x60, 0xea };

	add(&s, head, sizeof(head));
	iknow(&self, &o[0], &g[0], "10.0.0.1", 1, 0, 2, -1);
	iknow(&n2, &o[1], &g[1], "10.0.0.2", 2, 1, 2, gate2);
	iknow(&n3, &o[2], &g[2], "10.0.0.3", 3, 1, 2, gate3);
	iknow(&w, &o[3], &g[3], "10.0.0.4", 4, 0, 1, -1);
	if (failover) {
		/* n2 promoted on timeline 3, n3 follows it */
		n2.master = n3.master = new_primary;
		n2.slaves = n3.slaves = new_standbys;
		n2.n_slaves = n3.n_slaves = 1;
		o[1].inrecovery = 0;
		o[1].timeline = o[2].timeline = 3;
	}
	add_chunk(&s, &self);
	add_chunk(&s, &n2);
	if ((flags >> 3 & 3) >= 2)
		add_chunk(&s, &n3);
	if ((flags >> 3 & 3) >= 3) {
		self.ip = "2001:db8::3";	/* the third, IPv6 neighbour */
		add_chunk(&s, &self);
	}
	if (flags & 4)
		add_chunk(&s, &w);
	put("iknow", name, s.buf, s.len);
}

static void
iknow_seeds(void)
{
	/* majority, 2 neighbours + witness, previous verdict allowed rw */
	iknow_seed("steady-primary-holds-rw", 0x54, 0x03 | (2 << 2),
	    MODELS__GATE__STATE__DENIED, MODELS__GATE__STATE__DENIED, 0);
	/* the same node taking rw: the gates are DENIED, INTENT served */
	iknow_seed("handover-take", 0x14, 0x02 | (2 << 2),
	    MODELS__GATE__STATE__DENIED, MODELS__GATE__STATE__DENIED, 0);
	/* a peer reports INTENT */
	iknow_seed("handover-contended", 0x14, 0x02 | (2 << 2),
	    MODELS__GATE__STATE__INTENT, MODELS__GATE__STATE__DENIED, 0);
	/* Go peers (no gate): the hold-down */
	iknow_seed("go-peers-holddown", 0x14, 0x00 | (2 << 2), -1, -1, 0);
	/* a standby, allowRO, seed policy */
	iknow_seed("seed-standby-ro", 0x97, 0x00 | (2 << 2), -1, -1, 0);
	/* failover seen by the old primary and the witness */
	iknow_seed("failover-higher-timeline", 0x5c, 0x03 | (2 << 2),
	    MODELS__GATE__STATE__ALLOWED, MODELS__GATE__STATE__DENIED, 1);
	/* database down */
	iknow_seed("db-down", 0x34, 0x00, -1, -1, 0);
	/* three neighbours, no witness */
	iknow_seed("three-neighbours", 0x18, 0x01 | (2 << 2),
	    MODELS__GATE__STATE__DENIED, MODELS__GATE__STATE__UNKNOWN, 0);
}

/* ---- rpc: 2 control bytes, then a WhatYouKnow ---- */

static void
rpc_seed(const char *name, uint8_t b0, uint8_t b1, const char *ip, int id,
    const char *nodename, int wants)
{
	Models__WhatYouKnow q = MODELS__WHAT_YOU_KNOW__INIT;
	struct seed s = { .len = 0 };
	uint8_t head[2] = { b0, b1 };

	q.ip = unconst_str(ip);
	q.nodeid = id;
	q.nodename = unconst_str(nodename);
	q.wantsgate = wants;
	add(&s, head, 2);
	s.len += models__what_you_know__pack(&q, s.buf + s.len);
	put("rpc", name, s.buf, s.len);
}

static void
rpc_seeds(void)
{
	rpc_seed("c-peer-fresh", 0x02 | (1 << 3), 0x09, "10.0.0.2", 2, "pg2", 1);
	rpc_seed("go-peer-fresh", 0x02, 0x00, "10.0.0.2", 2, "pg2", 0);
	rpc_seed("c-peer-db-down", 0x01 | 0x20, 0x12, "10.0.0.3", 3, "pg3", 1);
	rpc_seed("go-peer-db-down", 0x01, 0x00, "10.0.0.3", 3, "pg3", 0);
	rpc_seed("c-peer-stale-allowed", 0x03 | (3 << 3) | 0x60, 0x1b,
	    "2001:db8::2", 2, "pg2", 1);
	rpc_seed("c-peer-no-view-fenced", 0x00 | 0xa0, 0x3f, "10.0.0.4", 4,
	    "witness", 1);
	rpc_seed("future-view", 0x06, 0x00, "10.0.0.2", 2, "pg2", 0);
	rpc_seed("empty-request", 0x02, 0x00, "", 0, "", 0);
}

/* ---- status: 4 flag bytes, 8 numbers, string chunks ---- */

static void
add_str(struct seed *s, const char *str)
{
	size_t n = strlen(str);
	uint8_t len[2] = { (uint8_t)n, (uint8_t)(n >> 8) };

	add(s, len, 2);
	add(s, str, n);
}

static void
status_seed(const char *name, const uint8_t fl[4], const char *const *strs,
    size_t n)
{
	int64_t num[8] = { 3, 1700000000000LL - 2000, 812, 17, 1700000000000LL -
	    1500, 21000, 18, 1700000000000LL - 1400 };
	struct seed s = { .len = 0 };

	add(&s, fl, 4);
	for (int i = 0; i < 8; i++)
		for (int b = 0; b < 8; b++) {
			uint8_t byte = (uint8_t)((uint64_t)num[i] >> (8 * b));

			add(&s, &byte, 1);
		}
	for (size_t i = 0; i < n; i++)
		add_str(&s, strs[i]);
	put("status", name, s.buf, s.len);
}

static void
status_seeds(void)
{
	/* config, node name, ip, witness, db error, primaries, standbys,
	   reason, policy, target, role, peer error, answer ip, name,
	   witness, master, slaves, hba error, last exit */
	static const char *const steady[] = { "/etc/harepd/conf.yml", "pg1",
	    "10.0.0.1", "10.0.0.4", "", "10.0.0.1", "10.0.0.2,10.0.0.3",
	    "3 of 4 members agree", "majority", "10.0.0.2:10000",
	    "neighbour", "", "10.0.0.2", "pg2", "10.0.0.4", "10.0.0.1",
	    "10.0.0.2,10.0.0.3", "", "" };
	static const char *const hostile[] = { "/etc/\"h\\arepd\"/c\x01.yml",
	    "pg\n1\t\x1b[31m", "10.0.0.1", "\xff\xfe", "FATAL:  \"x\"\r\n",
	    "10.0.0.1,\xc0\xaf", "\xed\xa0\x80,\xf4\x90\x80\x80",
	    "\u2028 \xe2\x80\xa8 \\u0000", "m\x7f", "[::1]:1", "w\x00x",
	    "UNAVAILABLE: \x02", "\"", "\\", "\x1f", ",,", ",", "ERR\x0b",
	    "fatal: \xe2\x82" };
	static const uint8_t all[4] = { 0x3f, 0x3f, 0x3f, 0x02 };
	static const uint8_t none[4] = { 0, 0, 0, 0x0c };

	status_seed("steady", all, steady, 19);
	status_seed("hostile", all, hostile, 19);
	status_seed("nothing-yet", none, steady, 1);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkcorpus DIR\n");
		return 2;
	}
	outdir = argv[1];
	ipc_seeds();
	iknow_seeds();
	rpc_seeds();
	status_seeds();
	return 0;
}
