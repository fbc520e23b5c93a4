/*
 * The probe worker: every watchDog seconds, this node's view (sent to the
 * supervisor, which hands it to the rpc worker), then, unless the daemon
 * runs --server-only or the operator said stop-client, the peers' views
 * and a verdict for the hba worker. Between ticks it waits on the
 * supervisor channel, so reload, pause and shutdown take effect at once
 * (a running tick finishes first: at most one deadline).
 *
 * Runs as the PostgreSQL OS user with no capabilities. gRPC is
 * initialised here, after the last fork: a child forked from a process
 * with gRPC initialised can hang on the core's threads and locks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include <grpc/grpc.h>
#include <grpc/support/log.h>

#include "ipc/log.h"
#include "ipc/worker.h"
#include "util/clock.h"
#include "util/pem.h"
#include "util/xmalloc.h"
#include "worker-probe/probe.h"
#include "util/unconst.h"

#define EVIDENCE_MAX	2048	/* the evidence field of a verdict log line */

struct probe {
	struct conf		*conf;
	Harepd__ConfigPush	*push;		/* PEM bytes, server_only */
	struct local_view	*lv;
	struct peer_set		*peers;		/* NULL until first needed */
	bool			 grpc_up;
	bool			 paused;
	bool			 db_down;	/* last view had db_error */
	bool			 self_missing;	/* last view lacked our row */
	uint64_t		 seq;
	struct decide_state	 ds;		/* majority hold-down, tick to tick */
	int64_t			 next_tick_us;	/* clock_mono_us */
	bool			 eager;		/* tick every PROBE_EAGER_MS */
	bool			 decisive;	/* this tick may take rw: a
						   silent peer gets the short
						   deadline (peers_ask hurry) */
	/* the gate (docs/POLICY.md, "Handover"), as the rpc worker serves it */
	int			 served_state;	/* MODELS__GATE__STATE__* */
	uint64_t		 declared_seq;	/* of the last GateDeclared */
	uint64_t		 last_allow_seq; /* the last verdict that allowed rw */
	int			 served_min;	/* the least served since the mark */
	bool			 retick_on_serve; /* tick once INTENT is served */
	/* whom the rpc worker gave our lists, from the last GateServed */
	struct own_answers	 own;		/* ages at own_at_ms */
	int64_t			 own_at_ms;	/* CLOCK_BOOTTIME; 0: none */
	int64_t			 own_lists_since; /* lists in place then */
	int64_t			 declared_lists_since;
	uint32_t		 max_tl_seen;	/* witness: highest timeline seen */
	char			 lists_sig[VIEW_SIGNATURE_MAX];
	int64_t			 lists_since_ms; /* CLOCK_BOOTTIME; 0: none yet */
	bool			 following;	/* witness serves a data node's lists */
};

/* ---- gRPC ---- */

/* The core logs to stderr; its lines belong in our log. */
static void
grpc_log_sink(gpr_log_func_args *a)
{
	char where[256];
	struct log_field f[] = { { "grpc", where } };

	snprintf(where, sizeof(where), "%s:%d", a->file, a->line);
	log_emit(a->severity == GPR_LOG_SEVERITY_ERROR ? LOG_LVL_WARNING :
	    LOG_LVL_DEBUG, f, 1, "gRPC: %s", a->message);
}

static void
open_peers(struct probe *p)
{
	struct peer_tls tls;
	char *ca, *cert, *key;

	if (!p->grpc_up) {
		gpr_set_log_function(grpc_log_sink);
		grpc_init();
		p->grpc_up = true;
	}
	tls.ca_pem = ca = pem_string(p->push->tls_ca.data,
	    p->push->tls_ca.len);
	tls.cert_pem = cert = pem_string(p->push->tls_cert.data,
	    p->push->tls_cert.len);
	tls.key_pem = key = pem_string(p->push->tls_key.data,
	    p->push->tls_key.len);
	p->peers = peers_new(p->conf, &tls);
	/* the credentials copied what they need */
	pem_free(ca);
	pem_free(cert);
	pem_free(key);
	log_info("asking %zu peers (%s), deadline %d s, policy %s",
	    peers_count(p->peers), !p->conf->tls.enabled ? "insecure" :
	    "TLS", p->conf->connection_deadline,
	    decide_policy_name(p->conf->policy));
}

/* ---- the local view ---- */

static void
send_view(struct probe *p, Harepd__LocalView *v)
{
	ipc_envelope env = HAREPD__ENVELOPE__INIT;
	bool down = v->db_error[0] != '\0';

	if (down && !p->db_down)
		log_warnx("local database unreachable: %s", v->db_error);
	else if (!down && p->db_down)
		log_info("local database reachable again");
	p->db_down = down;
	if (!down && v->node_id == 0 && !p->self_missing)
		log_warnx("node %s is not in repmgr.nodes: no rw or ro until it "
		    "is registered (nodeName must be repmgr.conf's node_name)",
		    p->conf->node_name);
	p->self_missing = !down && v->node_id == 0;
	env.body_case = HAREPD__ENVELOPE__BODY_LOCAL_VIEW;
	env.local_view = v;
	if (worker_send(&env) == -1)
		log_warn("sending the local view");
}

/* ---- the verdict ---- */

static void
evidence_text(Harepd__PeerAnswer **a, size_t n, char *buf, size_t len)
{
	size_t i, off = 0;
	int w;

	buf[0] = '\0';
	for (i = 0; i < n && off < len; i++) {
		if (a[i]->answered)
			w = snprintf(buf + off, len - off, "%s%s %s %s (%.1f ms)",
			    i ? "; " : "", a[i]->role, a[i]->target,
			    a[i]->agrees ? "agrees" : "disagrees",
			    a[i]->latency_us / 1000.0);
		else
			w = snprintf(buf + off, len - off, "%s%s %s no answer: "
			    "%s (%.1f ms)", i ? "; " : "", a[i]->role,
			    a[i]->target, a[i]->error,
			    a[i]->latency_us / 1000.0);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

static void
log_verdict(const Harepd__Verdict *v)
{
	char seq[24], tick[24], evidence[EVIDENCE_MAX];
	struct log_field f[] = {
		{ "seq", seq },
		{ "rw", v->rw_allow ? "allow" : "deny" },
		{ "ro", v->ro_allow ? "allow" : "deny" },
		{ "policy", v->policy },
		{ "reason", v->reason },
		{ "evidence", evidence },
		{ "tick_ms", tick },
	};

	snprintf(seq, sizeof(seq), "%" PRIu64, v->seq);
	snprintf(tick, sizeof(tick), "%.1f", v->tick_us / 1000.0);
	evidence_text(v->evidence, v->n_evidence, evidence, sizeof(evidence));
	log_emit(LOG_LVL_INFO, f, sizeof(f) / sizeof(f[0]),
	    "verdict %" PRIu64 ": rw %s, ro %s: %s", v->seq, f[1].value,
	    f[2].value, v->reason);
}

static void
send_verdict(Harepd__Verdict *v)
{
	ipc_envelope env = HAREPD__ENVELOPE__INIT;
	size_t i;

	env.body_case = HAREPD__ENVELOPE__BODY_VERDICT;
	env.verdict = v;
	if (worker_send(&env) == 0)
		return;
	if (errno == EMSGSIZE) {
		/* many large answers: the verdict matters, their copies less */
		log_warnx("verdict too large with the peers' answers: sent "
		    "without them");
		for (i = 0; i < v->n_evidence; i++)
			v->evidence[i]->answer = NULL;
		if (worker_send(&env) == 0)
			return;
	}
	log_warn("sending verdict %" PRIu64, v->seq);
}

/* DENIED and UNKNOWN < INTENT < ALLOWED: how much the gate claims. */
static int
gate_rank(int state)
{
	switch (state) {
	case MODELS__GATE__STATE__INTENT: return 1;
	case MODELS__GATE__STATE__ALLOWED: return 2;
	default: return 0;
	}
}

/*
 * The rpc worker's table of answers, taken after it had the lists of our
 * last declaration: from then on it answers from those lists, so while
 * they stay the same the ages only grow (docs/POLICY.md, silence cover).
 */
static void
keep_own_answers(struct probe *p, const Harepd__GateServed *g)
{
	struct own_answers *o = &p->own;

	o->n = 0;
	for (size_t i = 0; i < g->n_answered && o->n < DECIDE_ANSWERED_MAX;
	    i++) {
		o->node_id[o->n] = g->answered[i]->nodeid;
		o->age_ms[o->n++] = g->answered[i]->agems > INT64_MAX / 2 ?
		    INT64_MAX / 2 : (int64_t)g->answered[i]->agems;
	}
	o->tracked_ms = g->answers_tracked_ms > INT64_MAX / 2 ?
	    INT64_MAX / 2 : (int64_t)g->answers_tracked_ms;
	/* a table cut short is no table */
	o->valid = g->n_answered <= DECIDE_ANSWERED_MAX;
	p->own_at_ms = clock_boot_ms();
	p->own_lists_since = p->declared_lists_since;
}

/* The table as of now, valid only if our lists are still those. */
static void
own_answers_now(const struct probe *p, int64_t now, struct own_answers *out)
{
	int64_t later = now - p->own_at_ms;

	*out = p->own;
	/* later < 0: it came during this tick's asks; the ages at now are
	 * then smaller than those reported, and counted so */
	out->valid = p->own.valid && p->own_at_ms > 0 &&
	    p->lists_since_ms != 0 && p->own_lists_since == p->lists_since_ms;
	for (size_t i = 0; i < out->n; i++)
		out->age_ms[i] = out->age_ms[i] + later < 0 ? 0 :
		    out->age_ms[i] + later;
	out->tracked_ms = out->tracked_ms + later < 0 ? 0 :
	    out->tracked_ms + later;
}

static void
take_gate_served(void *arg, const Harepd__GateServed *g)
{
	struct probe *p = arg;

	/*
	 * Only what is served for the last declaration counts: an old
	 * INTENT acknowledged late must not let step 3 pass while the rpc
	 * worker already serves something else (the model found it).
	 */
	if (g->seq != p->declared_seq)
		return;
	p->served_state = g->state;
	keep_own_answers(p, g);
	if (gate_rank(g->state) < gate_rank(p->served_min))
		p->served_min = g->state;
	if (p->retick_on_serve && gate_rank(g->state) >= 1) {
		/* INTENT is visible to peers now: ask them again at once */
		p->retick_on_serve = false;
		p->next_tick_us = clock_mono_us();
		p->decisive = true;
	}
}

/* The gate declared for verdict seq; goes before the verdict itself. */
static void
send_gate_declared(struct probe *p, uint64_t seq, int64_t decided_boot_ms)
{
	Harepd__GateDeclared g = HAREPD__GATE_DECLARED__INIT;
	ipc_envelope env = HAREPD__ENVELOPE__INIT;

	g.seq = seq;
	g.state = p->ds.declared_gate;
	g.decided_boot_ms = decided_boot_ms;
	g.last_allow_seq = p->last_allow_seq;
	p->declared_seq = seq;
	p->declared_lists_since = p->lists_since_ms;
	env.body_case = HAREPD__ENVELOPE__BODY_GATE_DECLARED;
	env.gate_declared = &g;
	if (worker_send(&env) == -1)
		log_warn("sending the declared gate");
	if (p->ds.retick)
		p->retick_on_serve = true;
}

/*
 * Called while a tick waits for peers: SHUTDOWN ends the tick at once
 * (the supervisor kills a worker that takes seconds to stop); anything
 * else waits until the tick is over (a reload frees the peers).
 */
static bool
tick_abort(void *arg)
{
	return worker_check_stop();
}

static Harepd__PeerAnswer **
ask_peers(struct probe *p, const Harepd__LocalView *view)
{
	Models__WhatYouKnow q;

	models__what_you_know__init(&q);
	if (p->peers == NULL)
		open_peers(p);
	/* who is asking: the peer's rpc worker logs it */
	q.ip = view->ip[0] != '\0' ? view->ip : p->conf->primary_ip;
	q.nodeid = view->node_id;
	q.nodename = p->conf->node_name;
	q.wantsgate = true;
	return peers_ask(p->peers, &q, p->conf->connection_deadline * 1000,
	    p->decisive, tick_abort, p);
}

static void
verdict_tick(struct probe *p, const Harepd__LocalView *view, int64_t t0)
{
	Harepd__Verdict v;
	Harepd__PeerAnswer **answers = NULL;
	Models__IKnow **kept;
	struct probe_verdict pv;
	size_t i, n = 0;
	int64_t now;

	harepd__verdict__init(&v);
	/*
	 * The lease counts from before the asks: an allow decided from an
	 * answer must end one lease after that answer at the latest, however
	 * long the wait for the other peers took.
	 */
	now = clock_boot_ms();
	/* what peers are told from here until decide(): the least of it */
	p->served_min = p->served_state;
	/* a dead database denies everything: do not wait for peers first */
	if (view->db_error[0] == '\0') {
		answers = ask_peers(p, view);
		n = peers_count(p->peers);
	}
	/* GateServed that came during the asks is handled by check_stop */
	if (worker_check_stop()) {
		/* shutting down: a verdict from cancelled calls means nothing */
		peers_answers_free(answers, n);
		return;
	}
	p->ds.served_gate = p->served_min;
	p->ds.view_stable_ms = p->lists_since_ms > 0 ? now - p->lists_since_ms :
	    0;
	own_answers_now(p, now, &p->ds.own);
	decide(view, answers, n, p->conf, now, &p->ds, &pv);
	v.seq = ++p->seq;
	v.rw_allow = pv.rw_allow;
	v.ro_allow = pv.ro_allow;
	v.reason = pv.reason;
	v.policy = unconst_str(decide_policy_name(p->conf->policy));
	v.evidence = answers;
	v.n_evidence = n;
	v.lease_ms = (uint32_t)p->conf->lease_ms;
	v.decided_at_ms = clock_wall_ms();
	v.decided_boot_ms = now;
	v.tick_us = clock_mono_us() - t0;
	/* send_verdict may detach the answers: keep them to free */
	kept = xcalloc(n + 1, sizeof(*kept));
	for (i = 0; i < n; i++)
		kept[i] = answers[i]->answer;
	/* eager only just after a change: an old primary that stays denied
	 * (a newer timeline elsewhere) must not tick 4 times a second */
	p->eager = pv.candidate && !pv.rw_allow &&
	    now - p->lists_since_ms < PROBE_EAGER_FOR_MS;
	send_gate_declared(p, v.seq, now);
	if (p->ds.retick) {
		/*
		 * Only waiting for INTENT to be served (milliseconds): no
		 * verdict, so a restarted primary's allow is not replaced by
		 * a deny it would undo at once (pg_hba.conf is not touched).
		 */
		log_debug("verdict %llu held: %s", (unsigned long long)v.seq,
		    v.reason);
		p->seq--;
	} else {
		if (v.rw_allow)
			p->last_allow_seq = v.seq;
		send_verdict(&v);
		log_verdict(&v);
	}
	for (i = 0; i < n; i++)
		answers[i]->answer = kept[i];
	free(kept);
	peers_answers_free(answers, n);
}

/*
 * The witness (--server-only) asks the data nodes and serves the lists of
 * the newest primary instead of its repmgr.nodes copy (docs/POLICY.md,
 * "Agreement that follows the facts"). It never decides.
 */
static void
follow_tick(struct probe *p, Harepd__LocalView *view)
{
	Harepd__PeerAnswer **answers;
	size_t n;
	int i;

	if (p->conf->n_neighbours == 0 && p->conf->witness == NULL)
		return;
	answers = ask_peers(p, view);
	n = peers_count(p->peers);
	i = worker_stopping() ? -1 :
	    witness_follow(view, answers, n, &p->max_tl_seen);
	if (i >= 0 && witness_adopt(view, answers[i]->answer)) {
		if (!p->following)
			log_info("serving the lists of %s (out of recovery on "
			    "timeline %u, the highest): repmgr.nodes here is "
			    "behind", answers[i]->target,
			    answers[i]->answer->observation->timeline);
		p->following = true;
	} else if (p->following && i < 0) {
		log_info("serving this node's repmgr.nodes again");
		p->following = false;
	}
	peers_answers_free(answers, n);
}

/* Since when the lists this node serves have been what they are. */
static void
note_lists(struct probe *p, Harepd__LocalView *view)
{
	char sig[VIEW_SIGNATURE_MAX];

	if (view->db_error[0] != '\0')
		return;
	view_lists_signature(view, sig, sizeof(sig));
	if (p->lists_since_ms == 0 || strcmp(sig, p->lists_sig) != 0) {
		memcpy(p->lists_sig, sig, sizeof(sig));
		p->lists_since_ms = clock_boot_ms();
	}
	view->lists_since_boot_ms = p->lists_since_ms;
}

static void
tick(struct probe *p)
{
	int64_t t0 = clock_mono_us();
	Harepd__LocalView *view;

	view = local_view_collect(p->lv);
	if (p->push->server_only && view->db_error[0] == '\0')
		follow_tick(p, view);
	note_lists(p, view);
	send_view(p, view);
	if (!p->push->server_only && !p->paused)
		verdict_tick(p, view, t0);
	local_view_msg_free(view);
}

/* ---- supervisor messages ---- */

static void
take_config(void *arg, struct conf *c, Harepd__ConfigPush **push)
{
	struct probe *p = arg;

	/* the view and the channels point into the old configuration */
	local_view_free(p->lv);
	peers_free(p->peers);
	p->peers = NULL;
	conf_free(p->conf);
	worker_config_push_free(p->push);
	p->conf = c;
	p->push = *push;	/* ours now: the PEM bytes and server_only */
	*push = NULL;
	p->lv = local_view_new(c);
	p->next_tick_us = clock_mono_us();
	log_info("configuration reloaded: watchDog %d s, policy %s",
	    c->watchdog, decide_policy_name(c->policy));
}

static void
take_control(void *arg, const Harepd__Control *ctl)
{
	struct probe *p = arg;

	switch (ctl->command) {
	case HAREPD__CONTROL__COMMAND__PAUSE:
		if (!p->paused)
			log_info("paused (stop-client): views only, no verdicts");
		p->paused = true;
		/* unobserved while paused: the hold-down starts again */
		p->ds.holding = false;
		break;
	case HAREPD__CONTROL__COMMAND__RESUME:
		if (p->paused)
			log_info("resumed (start-client): deciding again");
		/* the hba worker gives the allow it kept a new lease from now */
		if (p->paused && p->ds.rw_allowed_last)
			p->ds.rw_allowed_at_ms = clock_boot_ms();
		p->paused = false;
		p->next_tick_us = clock_mono_us();
		break;
	default:
		log_warnx("unknown control command %d", (int)ctl->command);
	}
}

/* ---- the tick timer ---- */

static int
tick_timeout(void *arg)
{
	const struct probe *p = arg;
	int64_t left = p->next_tick_us - clock_mono_us();

	return left <= 0 ? 0 : (int)((left + 999) / 1000);
}

static void
tick_due(void *arg)
{
	struct probe *p = arg;
	int64_t now, started = clock_mono_us(), cover;

	if (started < p->next_tick_us)
		return;
	p->ds.cover_in_ms = -1;
	tick(p);
	p->decisive = false;
	/* fixed rate; a tick longer than watchDog starts the next now */
	p->next_tick_us += p->eager || p->push->server_only ?
	    PROBE_EAGER_MS * 1000LL : (int64_t)p->conf->watchdog * 1000000;
	/* held down: ask again just when the cover will hold, not later */
	if (p->ds.cover_in_ms >= 0 && (cover = started +
	    (p->ds.cover_in_ms + 2) * 1000) < p->next_tick_us) {
		p->next_tick_us = cover;
		p->decisive = true;
	}
	if (p->next_tick_us < (now = clock_mono_us()))
		p->next_tick_us = now;
}

int
probe_worker_main(void)
{
	struct probe p = { 0 };

	worker_init("probe");
	p.conf = worker_wait_config(WORKER_CONFIG_TIMEOUT_MS, &p.push);
	p.lv = local_view_new(p.conf);
	if (worker_send_hello("probe") == -1)
		log_warn("sending hello");
	log_info("started: node %s, primaryIP %s, watchDog %d s, %s",
	    p.conf->node_name, p.conf->primary_ip, p.conf->watchdog,
	    p.push->server_only ? "server only (view, no verdicts)" :
	    "deciding");
	p.next_tick_us = clock_mono_us();
	worker_run(&(struct worker_ops){
		.arg = &p,
		.on_control = take_control,
		.on_config = take_config,
		.on_gate_served = take_gate_served,
		.next_timeout = tick_timeout,
		.on_timer = tick_due,
	});
	peers_free(p.peers);
	if (p.grpc_up)
		grpc_shutdown();
	local_view_free(p.lv);
	conf_free(p.conf);
	worker_config_push_free(p.push);
	log_info("stopped");
	worker_exit(0);
}
