#include <string.h>

#include "worker-rpc/rpc_gate.h"

#define GATE_UNKNOWN	MODELS__GATE__STATE__UNKNOWN
#define GATE_DENIED	MODELS__GATE__STATE__DENIED
#define GATE_INTENT	MODELS__GATE__STATE__INTENT
#define GATE_ALLOWED	MODELS__GATE__STATE__ALLOWED

void
rpc_gate_init(struct rpc_gate *g, const struct conf *c)
{
	memset(g, 0, sizeof(*g));
	g->declared = GATE_UNKNOWN;
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

void
rpc_gate_fill(const struct rpc_gate *g, int64_t now, Models__Gate *out)
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
}

size_t
rpc_gate_pack(const struct rpc_gate *g, int64_t now, uint8_t *buf)
{
	Models__IKnow k;
	Models__Gate gate;

	models__iknow__init(&k);
	rpc_gate_fill(g, now, &gate);
	k.gate = &gate;
	/* only field 8 is set: at most 2 + 6 fields of <= 11 bytes */
	return models__iknow__pack(&k, buf);
}
