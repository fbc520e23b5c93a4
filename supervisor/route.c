/*
 * What the workers say, checked against the role table and passed on
 * (docs/IPC.md): each body a role may send is kept (the latest of each,
 * for status) and forwarded to the roles that accept it; anything else,
 * or a lie, gets the sender killed and so restarted. A worker's Log is
 * written here with proc set to its role. The supervisor acts on what
 * route_read returns (readiness, systemd status); nothing here calls it.
 */
#include <stdio.h>
#include <string.h>

#include "supervisor/sup.h"
#include "util/clock.h"
#include "util/unconst.h"

/* Messages read from one worker per loop pass: a chatty worker must not
 * starve the others. */
#define READ_BURST		64
#define MAX_WORKER_FIELDS	32

int
route_send(struct worker *w, const ipc_envelope *env)
{
	if (w->chan.fd == -1)
		return -1;
	if (!role_accepts(w->role, env->body_case)) {
		log_warnx("not sending %s to worker %s: it does not take it",
		    ipc_body_name(env->body_case), w->role->name);
		return -1;
	}
	return ipc_send(&w->chan, env);
}

int
route_send_control(struct worker *w, Harepd__Control__Command cmd)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	Harepd__Control ctl = HAREPD__CONTROL__INIT;

	ctl.command = cmd;
	env.body_case = HAREPD__ENVELOPE__BODY_CONTROL;
	env.control = &ctl;
	return route_send(w, &env);
}

static void
violation(struct worker *w, const char *why)
{
	log_emit(LOG_LVL_ERROR, NULL, 0, "worker %s broke the protocol (%s): "
	    "restarting it", w->role->name, why);
	proc_kill(w, "protocol violation");
}

static void
forward(struct worker *to, const ipc_envelope *env)
{
	if (to->chan.fd == -1)
		return;
	if (route_send(to, env) == -1)
		log_warn("cannot pass %s to worker %s",
		    ipc_body_name(env->body_case), to->role->name);
}

/* To every worker that takes env and is in one of the states. */
static void
forward_all(struct route *rt, const ipc_envelope *env, uint32_t states)
{
	for (size_t i = 0; i < ROLE_COUNT; i++) {
		struct worker *w = &rt->workers[i];

		if (role_accepts(w->role, env->body_case) &&
		    (states & (1u << w->state)) != 0)
			forward(w, env);
	}
}

static void
log_suppressed(struct route *rt, const struct worker *w, unsigned long n)
{
	char count[24], msg[96];
	struct log_field f[] = { { "proc", "harepd" },
	    { "worker", w->role->name }, { "suppressed", count } };

	snprintf(count, sizeof(count), "%lu", n);
	snprintf(msg, sizeof(msg), "suppressed %lu messages from %s "
	    "(over %d a second)", n, w->role->name, LOG_LIMIT_PER_S);
	logfile_sink(LOG_LVL_WARNING, msg, f, 3, rt->log);
}

/*
 * A worker's Log, written with proc = its role, whatever it claims, and
 * within its allowance (log_limit_take): a flood costs the loop a decode
 * per message (READ_BURST a pass) and the disk nothing.
 */
static void
worker_log(struct route *rt, struct worker *w, const Harepd__Log *l)
{
	struct log_field f[MAX_WORKER_FIELDS + 1];
	unsigned long left_out;
	size_t n = 0;

	if (l->level == HAREPD__LOG__LEVEL__DEBUG && !rt->verbose)
		return;
	if (!log_limit_take(&w->log_limit, (enum log_level)l->level,
	    clock_mono_ms(), &left_out))
		return;
	if (left_out > 0)
		log_suppressed(rt, w, left_out);
	f[n++] = (struct log_field){ "proc", w->role->name };
	for (size_t i = 0; i < l->n_fields && n <= MAX_WORKER_FIELDS; i++) {
		const char *k = l->fields[i]->key;

		/* these keys are the supervisor's to write */
		if (strcmp(k, "proc") == 0 || strcmp(k, "level") == 0 ||
		    strcmp(k, "msg") == 0 || strcmp(k, "time") == 0)
			continue;
		f[n++] = (struct log_field){ k, l->fields[i]->value };
	}
	logfile_sink((enum log_level)l->level, l->msg, f, n, rt->log);
}

/*
 * What a fresh worker must know at once, from the latest of each kept
 * body it accepts: an rpc worker answers peers from the newest view, hba
 * report and gate; a restarted probe learns what peers are told about
 * this node. (The verdict in force goes to a new hba worker earlier,
 * with its config: route_initial_verdict.)
 */
static void
hand_over(struct route *rt, struct worker *w)
{
	ipc_envelope *kept[] = { rt->last_view, rt->last_hba, rt->last_gate,
	    rt->last_served };

	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (kept[i] != NULL && role_accepts(w->role, kept[i]->body_case))
			forward(w, kept[i]);
}

static unsigned
on_hello(struct route *rt, struct worker *w, const Harepd__Hello *h)
{
	char why[128];

	if (w->state != W_STARTING || strcmp(h->role, w->role->name) != 0 ||
	    h->pid != (int32_t)w->pid) {
		snprintf(why, sizeof(why), "unexpected hello role=%.16s pid=%d",
		    h->role, h->pid);
		violation(w, why);
		return 0;
	}
	w->state = W_READY;
	w->last_progress = clock_mono_ms();
	log_info("worker %s (pid %d) is ready", w->role->name, (int)w->pid);
	hand_over(rt, w);
	return ROUTE_HELLO;
}

static void
keep(ipc_envelope **slot, ipc_envelope *env)
{
	ipc_free(*slot);
	*slot = env;
}

static void
on_view(struct route *rt, ipc_envelope *env)
{
	keep(&rt->last_view, env);
	forward_all(rt, env, 1u << W_READY);
}

static unsigned
on_verdict(struct route *rt, struct worker *w, ipc_envelope *env)
{
	if (rt->mode == MODE_SERVER_ONLY) {
		ipc_free(env);
		violation(w, "verdict in server-only mode");
		return 0;
	}
	if (rt->paused) {	/* PAUSE may still be in flight */
		log_debug("dropping verdict #%llu: client paused",
		    (unsigned long long)env->verdict->seq);
		ipc_free(env);
		return 0;
	}
	metrics_on_verdict(&rt->metrics, env->verdict);
	keep(&rt->last_verdict, env);
	/* a starting hba gets it too: it reads it after its config and
	 * the verdict it was started with */
	forward_all(rt, env, (1u << W_STARTING) | (1u << W_READY));
	return ROUTE_VERDICT;
}

static void
on_hba_applied(struct route *rt, ipc_envelope *env)
{
	if (env->hba_applied->changed)
		rt->hba_changed_ms = env->hba_applied->applied_at_ms;
	metrics_on_hba(&rt->metrics, env->hba_applied);
	keep(&rt->last_hba, env);
	forward_all(rt, env, 1u << W_READY);
}

/*
 * The probe's gate goes to the rpc worker, which tells peers. Without an
 * rpc worker (--client-only) nobody can ask this node: peers cover it
 * with their hold-down, so the gate counts as served at once.
 */
static void
on_gate_declared(struct route *rt, ipc_envelope *env)
{
	Harepd__GateServed served = HAREPD__GATE_SERVED__INIT;
	ipc_envelope reply = HAREPD__ENVELOPE__INIT;

	keep(&rt->last_gate, env);
	if (role_runs_in(rt->workers[ROLE_RPC].role, rt->mode)) {
		forward_all(rt, env, 1u << W_READY);
		return;
	}
	served.seq = env->gate_declared->seq;
	served.state = env->gate_declared->state;
	reply.body_case = HAREPD__ENVELOPE__BODY_GATE_SERVED;
	reply.gate_served = &served;
	forward_all(rt, &reply, 1u << W_READY);
}

static void
on_gate_served(struct route *rt, ipc_envelope *env)
{
	keep(&rt->last_served, env);
	forward_all(rt, env, 1u << W_READY);
}

/* Takes ownership of env. */
static unsigned
dispatch(struct route *rt, struct worker *w, ipc_envelope *env)
{
	unsigned what = 0;
	char why[64];

	if (!role_may_send(w->role, env->body_case)) {
		snprintf(why, sizeof(why), "sent %s",
		    ipc_body_name(env->body_case));
		ipc_free(env);
		violation(w, why);
		return 0;
	}
	if (env->body_case == w->role->heartbeat)
		w->last_progress = clock_mono_ms();
	switch (env->body_case) {
	case HAREPD__ENVELOPE__BODY_LOCAL_VIEW:
		on_view(rt, env);
		return 0;
	case HAREPD__ENVELOPE__BODY_VERDICT:
		return on_verdict(rt, w, env);
	case HAREPD__ENVELOPE__BODY_HBA_APPLIED:
		on_hba_applied(rt, env);
		return ROUTE_HBA;
	case HAREPD__ENVELOPE__BODY_GATE_DECLARED:
		on_gate_declared(rt, env);
		return 0;
	case HAREPD__ENVELOPE__BODY_GATE_SERVED:
		on_gate_served(rt, env);
		return 0;
	case HAREPD__ENVELOPE__BODY_RPC_SERVED:
		metrics_on_rpc_served(&rt->metrics, env->rpc_served);
		break;
	case HAREPD__ENVELOPE__BODY_HELLO:
		what = on_hello(rt, w, env->hello);
		break;
	case HAREPD__ENVELOPE__BODY_LOG:
		if ((unsigned)env->log->level > HAREPD__LOG__LEVEL__ERROR)
			violation(w, "log level out of range");
		else
			worker_log(rt, w, env->log);
		break;
	default:
		break;
	}
	ipc_free(env);
	return what;
}

void
route_log_tick(struct route *rt, struct worker *w, int64_t now_ms)
{
	unsigned long n = log_limit_due(&w->log_limit, now_ms);

	if (n > 0)
		log_suppressed(rt, w, n);
}

unsigned
route_read(struct route *rt, struct worker *w)
{
	ipc_envelope *env;
	char err[256], why[320];
	unsigned what = 0;

	for (int i = 0; i < READ_BURST && w->chan.fd != -1; i++) {
		switch (ipc_recv(&w->chan, &env, err, sizeof(err))) {
		case IPC_OK:
			what |= dispatch(rt, w, env);
			break;
		case IPC_AGAIN:
			return what;
		case IPC_EOF:
			/* it is exiting; if it does not, it will be killed */
			ipc_chan_close(&w->chan);
			if (w->pid > 0 && w->kill_at == 0)
				w->kill_at = clock_mono_ms() + STOP_WAIT_MS;
			return what;
		default:
			snprintf(why, sizeof(why), "%s", err);
			violation(w, why);
			return what;
		}
	}
	return what;
}

unsigned
route_drain(struct route *rt, struct worker *w)
{
	unsigned what = 0;

	for (int i = 0; i < 4 * READ_BURST && w->chan.fd != -1; i++) {
		ipc_envelope *env;

		if (ipc_recv(&w->chan, &env, NULL, 0) != IPC_OK)
			break;
		what |= dispatch(rt, w, env);
	}
	return what;
}

/*
 * A new hba worker gets the verdict in force with the time it was
 * decided, right after its config and before any verdict the probe sends
 * next, so it fences when that lease ends and not one lease after its own
 * start (docs/POLICY.md, "Why this is safe"). Not while paused.
 */
int
route_initial_verdict(struct route *rt, struct worker *w)
{
	if (rt->paused || rt->last_verdict == NULL ||
	    !role_accepts(w->role, HAREPD__ENVELOPE__BODY_VERDICT))
		return 0;
	return route_send(w, rt->last_verdict);
}

/*
 * Milliseconds until the lease of an allow that may be on disk ends
 * (negative: it has ended), or INT64_MAX when none can be: the hba worker
 * last reported a deny or a fence, or stop-client leaves the file alone.
 * An allow decided at an unknown time counts as ended.
 */
int64_t
route_allow_lease_left(const struct route *rt, int lease_ms, int64_t now_boot)
{
	const Harepd__HbaApplied *h = rt->last_hba != NULL ?
	    rt->last_hba->hba_applied : NULL;
	const Harepd__Verdict *v = rt->last_verdict != NULL ?
	    rt->last_verdict->verdict : NULL;
	int64_t decided;

	if (rt->paused)
		return INT64_MAX;
	if (v != NULL && v->lease_ms > 0)
		lease_ms = (int)v->lease_ms;
	if (h != NULL) {
		if (h->fenced || (!h->rw_allow && !h->ro_allow))
			return INT64_MAX;
		decided = h->decided_boot_ms;
	} else if (v != NULL && (v->rw_allow || v->ro_allow))
		decided = v->decided_boot_ms;
	else
		return INT64_MAX;
	return decided > 0 ? decided + lease_ms - now_boot : -1;
}

void
route_config_for(const struct role *r, const Harepd__ConfigPush *all,
    Harepd__ConfigPush *out)
{
	*out = *all;
	if (r->tls_pems)
		return;
	out->tls_ca = (ProtobufCBinaryData){ 0, NULL };
	out->tls_cert = (ProtobufCBinaryData){ 0, NULL };
	out->tls_key = (ProtobufCBinaryData){ 0, NULL };
}

int
route_send_config(struct worker *w, const Harepd__ConfigPush *all)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	Harepd__ConfigPush mine;

	route_config_for(w->role, all, &mine);
	env.body_case = HAREPD__ENVELOPE__BODY_CONFIG;
	env.config = &mine;
	return route_send(w, &env);
}

int
route_send_metrics(struct worker *w, const char *text, size_t len)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	Harepd__MetricsText part;
	size_t off = 0;

	do {
		size_t n = len - off > IPC_METRICS_PART ? IPC_METRICS_PART :
		    len - off;

		harepd__metrics_text__init(&part);
		part.text.data = unconst_ptr(text + off);
		part.text.len = n;
		off += n;
		part.more = off < len;
		env.body_case = HAREPD__ENVELOPE__BODY_METRICS_TEXT;
		env.metrics_text = &part;
		if (route_send(w, &env) == -1)
			return -1;
	} while (off < len);
	return 0;
}

void
route_push_config(struct route *rt, Harepd__ConfigPush *push)
{
	for (size_t i = 0; i < ROLE_COUNT; i++) {
		struct worker *w = &rt->workers[i];

		if (w->chan.fd != -1 && route_send_config(w, push) == -1)
			log_warn("reload: cannot send the config to %s",
			    w->role->name);
	}
}

void
route_free(struct route *rt)
{
	ipc_free(rt->last_view);
	ipc_free(rt->last_verdict);
	ipc_free(rt->last_hba);
	ipc_free(rt->last_gate);
	ipc_free(rt->last_served);
	rt->last_view = rt->last_verdict = rt->last_hba = NULL;
	rt->last_gate = rt->last_served = NULL;
	metrics_free(&rt->metrics);
}
