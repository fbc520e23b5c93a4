#include <stdint.h>
#include <string.h>

#include "worker-rpc/rpc_gate.h"

#define GATE_UNKNOWN	MODELS__GATE__STATE__UNKNOWN
#define GATE_DENIED	MODELS__GATE__STATE__DENIED
#define GATE_INTENT	MODELS__GATE__STATE__INTENT
#define GATE_ALLOWED	MODELS__GATE__STATE__ALLOWED

void
rpc_gate_init(struct rpc_gate *g, const struct conf *c, int64_t now)
{
	memset(g, 0, sizeof(*g));
	g->declared = GATE_UNKNOWN;
	g->tracked_since_boot_ms = now;
	rpc_gate_conf(g, c);
}

void
rpc_gate_conf(struct rpc_gate *g, const struct conf *c)
{
	g->lease_ms = (uint32_t)c->lease_ms;
	g->deadline_ms = (uint32_t)c->connection_deadline * 1000;
	g->members = 1 + (uint32_t)c->n_neighbours + (c->witness != NULL);
}

void
rpc_gate_declared(struct rpc_gate *g, const Harepd__GateDeclared *d)
{
	/*
	 * A restarted probe numbers its verdicts from 1 again: what the hba
	 * worker reported under the old numbering proves nothing about the
	 * new one until it reports again (UNKNOWN meanwhile).
	 */
	if (d->seq < g->declared_seq) {
		g->hba_known = false;
		g->hba_seq = 0;
	}
	g->declared = d->state;
	g->declared_seq = d->seq;
	g->declared_boot_ms = d->decided_boot_ms;
	g->last_allow_seq = d->last_allow_seq;
}

void
rpc_gate_applied(struct rpc_gate *g, const Harepd__HbaApplied *a)
{
	/*
	 * A failed apply: what PostgreSQL has loaded is not known, except
	 * after a fence (the lease has ended the allow) or when a deny is on
	 * disk and no postmaster runs (it loads the deny when it starts).
	 */
	if (a->error != NULL && a->error[0] != '\0' && !a->fenced &&
	    !(a->pg_down && !a->rw_allow))
		return;
	g->hba_known = true;
	g->hba_rw_allow = a->rw_allow;
	g->hba_fenced = a->fenced;
	/* reports come in the order verdicts were applied: the last counts */
	g->hba_seq = a->fenced ? a->last_verdict_seq : a->seq;
	g->hba_decided_boot_ms = a->decided_boot_ms;
}

void
rpc_gate_view(struct rpc_gate *g, const Harepd__LocalView *v)
{
	g->lists_since_boot_ms = v->lists_since_boot_ms;
}

int
rpc_gate_served(const struct rpc_gate *g)
{
	if (g->declared == GATE_ALLOWED || (g->hba_known && g->hba_rw_allow))
		return GATE_ALLOWED;
	if (g->declared == GATE_INTENT)
		return GATE_INTENT;
	if (!g->hba_known)
		return GATE_UNKNOWN;
	/*
	 * The deny on file must come after the probe's last allow verdict:
	 * until then that allow may still be on its way to the hba worker.
	 * (Not after the declaration itself: a denied node would then read
	 * UNKNOWN for a moment at every tick, and a node taking over would
	 * wait for it; the model in tests/model/ found it.)
	 */
	if (g->hba_seq >= g->last_allow_seq)
		return GATE_DENIED;
	return GATE_UNKNOWN;
}

static uint64_t
age_ms(int64_t now, int64_t since)
{
	return since <= 0 || now < since ? 0 : (uint64_t)(now - since);
}

/*
 * The anonymous entry (node 0) stands for every asker without an id and
 * every one evicted from a full table: it is as recent as the most recent
 * of them, so what it says holds for each.
 */
static struct rpc_answered *
anonymous(struct rpc_gate *g)
{
	for (size_t i = 0; i < g->n_answered; i++)
		if (g->answered[i].node_id == 0)
			return &g->answered[i];
	g->answered[g->n_answered] = (struct rpc_answered){ 0, 0 };
	return &g->answered[g->n_answered++];
}

static void
evict_oldest(struct rpc_gate *g)
{
	size_t old = SIZE_MAX;
	int64_t at;

	for (size_t i = 0; i < g->n_answered; i++)
		if (g->answered[i].node_id != 0 && (old == SIZE_MAX ||
		    g->answered[i].at_boot_ms < g->answered[old].at_boot_ms))
			old = i;
	at = g->answered[old].at_boot_ms;
	g->answered[old] = g->answered[--g->n_answered];
	if (anonymous(g)->at_boot_ms < at)
		anonymous(g)->at_boot_ms = at;
}

void
rpc_gate_answered(struct rpc_gate *g, int32_t node_id, int64_t now)
{
	struct rpc_answered *a = NULL;

	if (node_id < 0)
		node_id = 0;
	for (size_t i = 0; i < g->n_answered && a == NULL; i++)
		if (g->answered[i].node_id == node_id)
			a = &g->answered[i];
	if (a == NULL && node_id == 0)
		a = anonymous(g);
	if (a == NULL) {
		/* one slot stays free for the anonymous entry */
		if (g->n_answered >= RPC_ANSWERED_MAX)
			evict_oldest(g);
		a = &g->answered[g->n_answered++];
		a->node_id = node_id;
	}
	a->at_boot_ms = now;
}

void
rpc_gate_answers(const struct rpc_gate *g, int64_t now,
    struct rpc_gate_answers *out)
{
	out->n = 0;
	for (size_t i = 0; i < g->n_answered; i++) {
		Models__Gate__Answered *e = &out->e[out->n];

		models__gate__answered__init(e);
		e->nodeid = g->answered[i].node_id;
		e->agems = now > g->answered[i].at_boot_ms ?
		    (uint64_t)(now - g->answered[i].at_boot_ms) : 0;
		out->p[out->n++] = e;
	}
	out->tracked_ms = now > g->tracked_since_boot_ms ?
	    (uint64_t)(now - g->tracked_since_boot_ms) : 0;
}

void
rpc_gate_fill(const struct rpc_gate *g, int64_t now, Models__Gate *out,
    struct rpc_gate_answers *buf)
{
	int64_t decided = g->declared_boot_ms;

	models__gate__init(out);
	out->state = rpc_gate_served(g);
	out->leasems = g->lease_ms;
	out->deadlinems = g->deadline_ms;
	out->members = g->members;
	if (g->hba_known && g->hba_decided_boot_ms > decided)
		decided = g->hba_decided_boot_ms;
	out->rwagems = age_ms(now, decided);
	out->viewstablems = age_ms(now, g->lists_since_boot_ms);
	rpc_gate_answers(g, now, buf);
	out->n_answered = buf->n;
	out->answered = buf->p;
	out->answerstrackedms = buf->tracked_ms;
}

size_t
rpc_gate_pack(const struct rpc_gate *g, int64_t now, uint8_t *buf)
{
	Models__IKnow k;
	Models__Gate gate;
	struct rpc_gate_answers answers;

	models__iknow__init(&k);
	rpc_gate_fill(g, now, &gate, &answers);
	k.gate = &gate;
	/* only field 8 is set: 3 + 7 fields of <= 11 bytes, and up to 17
	 * table entries of <= 2 + 2 + 11 + 11 bytes: under 600 */
	return models__iknow__pack(&k, buf);
}
