/*
 * Filled envelopes of every body type, for the IPC tests. Every field
 * that can hold a value holds one (non-ASCII and negative where the type
 * allows), so a round trip that loses a field changes the bytes.
 * Storage is static: one sample of each kind alive at a time.
 */
#ifndef HAREPD_IPC_SAMPLES_H
#define HAREPD_IPC_SAMPLES_H

#include "ipc/ipc.h"

#define SAMPLE_KINDS	7	/* body cases 1..7 */

static char *sample_ips[] = { "10.0.0.11", "10.0.0.12", "fd00::13" };

static void
sample_iknow(Models__IKnow *k, Models__Observation *obs)
{
	models__iknow__init(k);
	models__observation__init(obs);
	obs->inrecovery = 1;
	obs->timeline = 7;
	k->ip = "10.0.0.12";
	k->nodeid = -42;
	k->nodename = "nœud-ß-東京";
	k->witness = "10.0.0.99";
	k->n_slaves = 2;
	k->slaves = sample_ips + 1;
	k->n_master = 1;
	k->master = sample_ips;
	k->observation = obs;
}

static void
sample_local_view(Harepd__LocalView *v)
{
	harepd__local_view__init(v);
	v->node_id = -3;
	v->node_name = "nœud-ß";
	v->ip = "10.0.0.11";
	v->n_primaries = 1;
	v->primaries = sample_ips;
	v->n_standbys = 2;
	v->standbys = sample_ips + 1;
	v->witness = "10.0.0.99";
	v->in_recovery = 1;
	v->timeline = 4000000000u;
	v->collected_at_ms = -1234567890123LL;
	v->collected_boot_ms = 987654321012LL;
	v->db_error = "could not connect: «refused»";
}

static void
sample_verdict(Harepd__Verdict *v)
{
	static Harepd__PeerAnswer pa[2], *pap[2];
	static Models__IKnow k;
	static Models__Observation obs;

	harepd__verdict__init(v);
	sample_iknow(&k, &obs);
	for (int i = 0; i < 2; i++) {
		harepd__peer_answer__init(&pa[i]);
		pa[i].target = i ? "10.0.0.99:50051" : "[fd00::13]:50051";
		pa[i].role = i ? "witness" : "neighbour";
		pa[i].answered = !i;
		pa[i].error = i ? "DEADLINE_EXCEEDED: Deadline Exceeded" : "";
		pa[i].latency_us = 1500 + i;
		pa[i].answer = i ? NULL : &k;
		pa[i].agrees = !i;
		pap[i] = &pa[i];
	}
	v->seq = UINT64_MAX - 1;
	v->rw_allow = 1;
	v->ro_allow = 1;
	v->reason = "majority 2 of 3 agree";
	v->policy = "majority";
	v->n_evidence = 2;
	v->evidence = pap;
	v->lease_ms = 9000;
	v->decided_at_ms = 1764100000000LL;
	v->tick_us = -1;
}

static ipc_envelope *
sample_envelope(Harepd__Envelope__BodyCase kind)
{
	static ipc_envelope env;
	static Harepd__Hello hello;
	static Harepd__ConfigPush push;
	static Harepd__LocalView view;
	static Harepd__Verdict verdict;
	static Harepd__HbaApplied applied;
	static Harepd__Log lg;
	static Harepd__LogField lf[2], *lfp[2] = { &lf[0], &lf[1] };
	static Harepd__Control control;
	static uint8_t yaml[] = "harepd:\n  nodeName: n1\n";

	harepd__envelope__init(&env);
	env.body_case = kind;
	switch (kind) {
	case HAREPD__ENVELOPE__BODY_HELLO:
		harepd__hello__init(&hello);
		hello.role = "probe";
		hello.pid = 31337;
		env.hello = &hello;
		break;
	case HAREPD__ENVELOPE__BODY_CONFIG:
		harepd__config_push__init(&push);
		push.path = "/etc/harepd/conf.yml";
		push.yaml = (ProtobufCBinaryData){ sizeof(yaml) - 1, yaml };
		push.tls_ca = (ProtobufCBinaryData){ 3, (uint8_t *)"\0\1\2" };
		push.tls_cert = (ProtobufCBinaryData){ 4, (uint8_t *)"cert" };
		push.tls_key = (ProtobufCBinaryData){ 3, (uint8_t *)"key" };
		push.server_only = 1;
		env.config = &push;
		break;
	case HAREPD__ENVELOPE__BODY_LOCAL_VIEW:
		sample_local_view(&view);
		env.local_view = &view;
		break;
	case HAREPD__ENVELOPE__BODY_VERDICT:
		sample_verdict(&verdict);
		env.verdict = &verdict;
		break;
	case HAREPD__ENVELOPE__BODY_HBA_APPLIED:
		harepd__hba_applied__init(&applied);
		applied.seq = 77;
		applied.changed = applied.reloaded = applied.fenced = 1;
		applied.error = "pg_hba_file_rules: line 3: invalid";
		applied.rw_allow = applied.ro_allow = 1;
		applied.applied_at_ms = 1764100000001LL;
		env.hba_applied = &applied;
		break;
	case HAREPD__ENVELOPE__BODY_LOG:
		harepd__log__init(&lg);
		harepd__log_field__init(&lf[0]);
		harepd__log_field__init(&lf[1]);
		lf[0].key = "proc";
		lf[0].value = "rpc";
		lf[1].key = "peer";
		lf[1].value = "東京:50051";
		lg.level = HAREPD__LOG__LEVEL__ERROR;
		lg.msg = "peer \"東京\" said \\ no";
		lg.n_fields = 2;
		lg.fields = lfp;
		env.log = &lg;
		break;
	case HAREPD__ENVELOPE__BODY_CONTROL:
		harepd__control__init(&control);
		control.command = HAREPD__CONTROL__COMMAND__PAUSE;
		env.control = &control;
		break;
	default:
		return NULL;
	}
	return &env;
}

/* Packed bytes of a sample, malloc'ed. */
static __attribute__((unused)) uint8_t *
sample_packed(Harepd__Envelope__BodyCase kind, size_t *len)
{
	ipc_envelope *env = sample_envelope(kind);
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(&env->base);
	buf = malloc(*len ? *len : 1);
	protobuf_c_message_pack(&env->base, buf);
	return buf;
}

#endif
