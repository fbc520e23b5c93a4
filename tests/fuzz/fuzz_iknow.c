/*
 * IKnow decoding and the agreement the probe computes from peers'
 * answers (worker-probe/peers.c, decide.c, handover.c, follow.c).
 *
 * Input:
 *   byte 0   bit 0 policy seed (else majority), bit 1 allowRO,
 *            bit 2 a witness is configured, bits 3-4 neighbours (0-3),
 *            bit 5 the local database is down, bit 6 the previous
 *            verdict allowed rw, bit 7 the view is in recovery
 *   byte 1   what the rpc worker served (gate state, bits 0-1), the
 *            view's timeline (bits 2-7)
 *   2 bytes  now (ms, plus a base), 2 bytes majority held (ms),
 *            2 bytes view stable (ms)
 *   chunks   (2-byte length, bytes): the first is an IKnow the local view
 *            is made of (ip, nodeId, master -> primaries, slaves ->
 *            standbys, witness); then one per configured peer,
 *            neighbours then witness. Every chunk goes through
 *            peers_decode_answer(), as a reply does; one that does not
 *            decode is a peer that did not answer, as in answer_from_call().
 *
 * An accepted answer, packed into a Verdict as the probe sends it, must
 * be accepted by the supervisor's ipc_decode().
 *
 * Then decide() twice (the second tick serves what the first declared),
 * witness_follow() and witness_adopt() as the witness does, and the
 * properties the majority policy promises are checked on each verdict.
 */
#include <string.h>

#include "conf/conf.h"
#include "ipc/ipc.h"
#include "util/xmalloc.h"
#include "worker-probe/probe.h"
#include "tests/fuzz/fuzz.h"

#define MAX_PEERS	4

/* policy x allowRO x witness x neighbours */
static struct conf *confs[2][2][2][4];

static const char *const neighbour_addr[] = {
	"10.0.0.2", "10.0.0.3", "[2001:db8::3]:10001",
};

static struct conf *
make_conf(int seed, int ro, int witness, int neighbours)
{
	char yaml[2048], list[256] = "";
	struct conf_diag diag = { 0 };
	struct conf *c;
	size_t off = 0;

	for (int i = 0; i < neighbours; i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s\"%s\"",
		    i ? ", " : "", neighbour_addr[i]);
	snprintf(yaml, sizeof(yaml),
	    "harepd:\n"
	    "  nodeName: pg1\n"
	    "  primaryIP: 10.0.0.1\n"
	    "  allowRO: %s\n"
	    "  policy: %s\n"
	    "  hbaConfig: /etc/postgresql/15/main/pg_hba.conf\n"
	    "  haproxy:\n"
	    "    server: [10.0.0.5]\n"
	    "    users:\n"
	    "      readWrite: harw\n"
	    "      readOnly: haro\n"
	    "  gRPC:\n"
	    "    bindPort: 10000\n"
	    "    neighbours: [%s]\n"
	    "%s"
	    "  watchDog: 2\n",
	    ro ? "true" : "false", seed ? "seed" : "majority", list,
	    witness ? "    witness: 10.0.0.4\n" : "");
	c = conf_load_buffer("fuzz.yml", yaml, strlen(yaml), &diag);
	if (c == NULL) {
		for (size_t i = 0; i < diag.n_errors; i++)
			fprintf(stderr, "%s\n", diag.errors[i]);
		abort();
	}
	conf_diag_free(&diag);
	return c;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 2; b++)
			for (int w = 0; w < 2; w++)
				for (int n = 0; n < 4; n++)
					confs[a][b][w][n] = make_conf(a, b, w, n);
	return 0;
}

static char **
copy_list(char *const *src, size_t n)
{
	char **l = xcalloc(n + 1, sizeof(char *));

	for (size_t i = 0; i < n; i++)
		l[i] = xstrdup(src[i]);
	return l;
}

/* The local view, owned as local_view_collect() returns it. */
static Harepd__LocalView *
make_view(const Models__IKnow *k, int flags, int tl)
{
	Harepd__LocalView *v = xmalloc(sizeof(*v));

	harepd__local_view__init(v);
	v->node_name = xstrdup(k && k->nodename ? k->nodename : "pg1");
	v->ip = xstrdup(k && k->ip ? k->ip : "");
	v->witness = xstrdup(k && k->witness ? k->witness : "");
	v->db_error = xstrdup(flags & 0x20 ? "connection refused" : "");
	v->node_id = k ? k->nodeid : 0;
	v->in_recovery = (flags & 0x80) != 0;
	v->timeline = (uint32_t)tl;
	if (k != NULL && k->observation != NULL)
		v->timeline = k->observation->timeline;
	v->primaries = copy_list(k ? k->master : NULL, k ? k->n_master : 0);
	v->n_primaries = k ? k->n_master : 0;
	v->standbys = copy_list(k ? k->slaves : NULL, k ? k->n_slaves : 0);
	v->n_standbys = k ? k->n_slaves : 0;
	return v;
}

/*
 * An accepted answer goes into the probe's Verdict: packed there, it
 * must be an envelope the supervisor accepts (ipc_decode).
 */
static void
check_relay(Models__IKnow *k)
{
	Harepd__Envelope env;
	Harepd__Verdict v;
	Harepd__PeerAnswer a, *ev[1] = { &a };
	ipc_envelope *back;
	uint8_t *buf;
	size_t len;
	char err[256];
	enum ipc_rc rc;

	harepd__peer_answer__init(&a);
	a.answered = true;
	a.answer = k;
	harepd__verdict__init(&v);
	v.evidence = ev;
	v.n_evidence = 1;
	harepd__envelope__init(&env);
	env.body_case = HAREPD__ENVELOPE__BODY_VERDICT;
	env.verdict = &v;
	len = protobuf_c_message_get_packed_size(&env.base);
	if (len > IPC_MAX_MSG)
		return;		/* send_verdict drops the answers then */
	buf = xmalloc(len + 1);
	protobuf_c_message_pack(&env.base, buf);
	rc = ipc_decode(buf, len, &back, err, sizeof(err));
	FUZZ_CHECK(rc == IPC_OK, "a verdict carrying an accepted answer is "
	    "refused by the supervisor: %s", err);
	ipc_free(back);
	free(buf);
}

static Models__IKnow *
decode(const uint8_t *buf, size_t len, char *why, size_t whylen)
{
	Models__IKnow *k;

	why[0] = '\0';
	k = peers_decode_answer(buf, len, why, whylen);
	FUZZ_CHECK(k != NULL || why[0] != '\0', "refused without a reason");
	if (k != NULL)
		check_relay(k);
	return k;
}

/* The peer answers as answer_from_call() builds them. */
static Harepd__PeerAnswer *
make_answer(const struct conf *c, size_t i, Models__IKnow *k,
    const char *why)
{
	Harepd__PeerAnswer *a = xmalloc(sizeof(*a));
	bool witness = i == c->n_neighbours;

	harepd__peer_answer__init(a);
	a->target = xstrdup(witness ? c->witness->text :
	    c->neighbours[i].text);
	a->role = xstrdup(witness ? PROBE_ROLE_WITNESS : PROBE_ROLE_NEIGHBOUR);
	a->answer = k;
	a->answered = k != NULL;
	a->error = xstrdup(k ? "" : why);
	return a;
}

/* What the majority policy promises of a verdict (docs/POLICY.md). */
static void
check_verdict(const Harepd__LocalView *view, Harepd__PeerAnswer **peers,
    size_t n, const struct conf *c, const struct decide_state *st,
    const struct probe_verdict *v)
{
	int agree = 1;

	FUZZ_CHECK(strnlen(v->reason, sizeof(v->reason)) < sizeof(v->reason),
	    "reason unterminated");
	FUZZ_CHECK(v->reason[0] != '\0', "verdict without a reason");
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(!peers[i]->agrees || peers[i]->answered,
		    "peer %zu agrees without answering", i);
		agree += peers[i]->agrees;
	}
	FUZZ_CHECK(v->agreeing == agree || (view->db_error[0] != '\0' &&
	    v->agreeing == 0), "agreeing %d, %d agree flags", v->agreeing,
	    agree);
	FUZZ_CHECK(v->members >= 1 + (int)n, "members %d < %zu configured",
	    v->members, n + 1);
	if (c->policy != POLICY_MAJORITY)
		return;
	if (v->rw_allow) {
		FUZZ_CHECK(view->db_error[0] == '\0', "rw with the database down");
		FUZZ_CHECK(v->candidate, "rw allowed to a node that is not "
		    "the only active primary out of recovery");
		FUZZ_CHECK(v->agreeing >= v->members / 2 + 1,
		    "rw allowed with %d of %d agreeing", v->agreeing, v->members);
		FUZZ_CHECK(st->declared_gate == MODELS__GATE__STATE__ALLOWED &&
		    st->rw_allowed_last, "rw allowed, gate declared %d",
		    st->declared_gate);
		FUZZ_CHECK(!v->ro_allow || c->allow_ro, "ro without allowRO");
	} else
		FUZZ_CHECK(st->declared_gate != MODELS__GATE__STATE__ALLOWED,
		    "rw denied but gate declared ALLOWED");
	FUZZ_CHECK(!v->ro_allow || c->allow_ro, "ro allowed without allowRO");
}

static void
free_view(Harepd__LocalView *v)
{
	local_view_msg_free(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Harepd__PeerAnswer *peers[MAX_PEERS];
	struct probe_verdict v;
	struct decide_state st;
	struct fuzz_in in;
	Harepd__LocalView *view;
	Models__IKnow *k0 = NULL, *k;
	const struct conf *c;
	const uint8_t *buf;
	size_t len, n;
	char why[512], sig[VIEW_SIGNATURE_MAX];
	uint32_t max_tl;
	int flags, b1, i;
	int64_t now;

	fuzz_in_init(&in, data, size);
	flags = fuzz_byte(&in);
	b1 = fuzz_byte(&in);
	c = confs[flags & 1][(flags >> 1) & 1][(flags >> 2) & 1][(flags >> 3) & 3];
	n = c->n_neighbours + (c->witness != NULL);
	now = 1000000 + (int64_t)fuzz_u64(&in, 2);
	memset(&st, 0, sizeof(st));
	st.majority_since_ms = now - (int64_t)fuzz_u64(&in, 2);
	st.holding = (flags & 0x40) != 0;
	st.rw_allowed_last = (flags & 0x40) != 0;
	st.rw_allowed_at_ms = now - 1;
	st.view_stable_ms = (int64_t)fuzz_u64(&in, 2) * 4;
	st.served_gate = b1 & 3;

	if (fuzz_chunk(&in, &buf, &len))
		k0 = decode(buf, len, why, sizeof(why));
	view = make_view(k0, flags, b1 >> 2);
	if (k0 != NULL)
		models__iknow__free_unpacked(k0, NULL);
	for (i = 0; i < (int)n; i++) {
		k = NULL;
		why[0] = '\0';
		if (fuzz_chunk(&in, &buf, &len))
			k = decode(buf, len, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "DEADLINE_EXCEEDED: no answer");
		peers[i] = make_answer(c, (size_t)i, k, why);
	}

	/* the data node's tick, twice: the second serves what was declared */
	decide(view, peers, n, c, now, &st, &v);
	check_verdict(view, peers, n, c, &st, &v);
	st.served_gate = st.declared_gate;
	decide(view, peers, n, c, now + 250, &st, &v);
	check_verdict(view, peers, n, c, &st, &v);
	(void)handover_holddown_ms(c, peers, n);
	for (i = 0; i < (int)n; i++)
		(void)decide_synced(view, peers[i]->answer);

	/* the witness's tick */
	max_tl = b1 >> 4;
	i = witness_follow(view, peers, n, &max_tl);
	FUZZ_CHECK(i >= -1 && i < (int)n, "witness_follow returned %d", i);
	if (i >= 0) {
		FUZZ_CHECK(peers[i]->answered && peers[i]->answer->observation &&
		    !peers[i]->answer->observation->inrecovery &&
		    peers[i]->answer->observation->timeline == max_tl,
		    "followed a peer that is not the newest writer");
		if (witness_adopt(view, peers[i]->answer))
			FUZZ_CHECK(!witness_adopt(view, peers[i]->answer),
			    "adopting the same lists twice changed them");
	}
	view_lists_signature(view, sig, sizeof(sig));
	FUZZ_CHECK(strnlen(sig, sizeof(sig)) < sizeof(sig), "signature");

	peers_answers_free(memcpy(xcalloc(n + 1, sizeof(*peers)), peers,
	    n * sizeof(*peers)), n);
	free_view(view);
	return 0;
}
