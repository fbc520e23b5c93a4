/*
 * handover_take(): a node whose rules allow rw takes it as soon as it
 * knows that no other data node can still hold an allow, instead of
 * waiting a blind hold-down (docs/POLICY.md, "Handover"; the model in
 * tests/model/ checks the argument). Pure, like decide().
 *
 * Every data peer is classified from its answer of this tick:
 *   clear       it answered, and its gate is DENIED: decided and applied
 *   contended   it answered INTENT, ALLOWED or UNKNOWN: it holds an
 *               allow, may hold one, or is about to take one
 *   uncovered   it did not answer, or is a Go peer (no gate): what it
 *               enforces is not known, so the hold-down must cover it
 * A node raises INTENT, and has its rpc worker serve it, before the asks
 * whose answers let it take rw: of two nodes doing so at once, at least
 * one sees the other's INTENT (each published before reading the other),
 * so they cannot both read DENIED and both take rw.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "worker-probe/decide_int.h"

#define GATE_UNKNOWN	MODELS__GATE__STATE__UNKNOWN
#define GATE_DENIED	MODELS__GATE__STATE__DENIED
#define GATE_INTENT	MODELS__GATE__STATE__INTENT
#define GATE_ALLOWED	MODELS__GATE__STATE__ALLOWED

static const char *
gate_name(int g)
{
	switch (g) {
	case GATE_DENIED: return "DENIED";
	case GATE_INTENT: return "INTENT";
	case GATE_ALLOWED: return "ALLOWED";
	default: return "UNKNOWN";
	}
}

int64_t
handover_holddown_ms(const struct conf *c, Harepd__PeerAnswer **peers,
    size_t n)
{
	int64_t lease = c->lease_ms, deadline = c->connection_deadline * 1000LL;
	const Models__Gate *g;

	for (size_t i = 0; i < n; i++) {
		if (!decide_answered(peers[i]) ||
		    (g = peers[i]->answer->gate) == NULL)
			continue;
		if ((int64_t)g->leasems > lease)
			lease = g->leasems;
		if ((int64_t)g->deadlinems > deadline)
			deadline = g->deadlinems;
	}
	return lease + deadline + PEERS_CANCEL_GRACE_MS;
}

/* A peer that could hold an allow: a data node that is not this node. */
static bool
gate_holder(const Harepd__LocalView *view, const Harepd__PeerAnswer *p,
    const struct conf *c)
{
	if (decide_is_witness(p))
		return false;
	if (!decide_answered(p))
		return true;
	return decide_data_node(view, p) && !decide_is_self(view, p->answer, c);
}

static int
peer_timeline(const Harepd__PeerAnswer *p)
{
	return p->answer->observation ? (int)p->answer->observation->timeline :
	    0;
}

/*
 * Of two nodes contending, the one on the higher timeline (the newer
 * primary) goes on; on equal timelines the lower node id. The other
 * backs off, so two INTENTs cannot wait for each other forever.
 */
static bool
has_priority(const Harepd__LocalView *view, const Harepd__PeerAnswer *p)
{
	int ours = (int)view->timeline, theirs = peer_timeline(p);

	if (ours != theirs)
		return ours > theirs;
	return p->answer->nodeid == 0 || (view->node_id != 0 &&
	    view->node_id < p->answer->nodeid);
}

/*
 * For how long a strict majority of the members, this node included,
 * has named the same primary and standbys as ours without a change:
 * the majority-th longest of the stable times that agreeing members
 * report (0 when fewer than a majority report one). When it reaches the
 * hold-down, no other node can have had a majority within it, so any
 * allow decided from one has run out (its lease is shorter).
 */
static int64_t
majority_stable_ms(Harepd__PeerAnswer **peers, size_t n, int members,
    const struct decide_state *st)
{
	int64_t stable[DECIDE_ANSWERED_MAX];
	size_t k = 0, need = (size_t)(members / 2 + 1);

	stable[k++] = st->view_stable_ms > 0 ? st->view_stable_ms : 0;
	for (size_t i = 0; i < n && k < DECIDE_ANSWERED_MAX; i++)
		if (peers[i]->agrees && peers[i]->answer->gate != NULL)
			stable[k++] = peers[i]->answer->gate->viewstablems >
			    INT64_MAX ? INT64_MAX :
			    (int64_t)peers[i]->answer->gate->viewstablems;
	if (k < need)
		return 0;
	/* partial selection sort: the need longest first */
	for (size_t i = 0; i < need; i++)
		for (size_t j = i + 1; j < k; j++)
			if (stable[j] > stable[i]) {
				int64_t t = stable[i];

				stable[i] = stable[j];
				stable[j] = t;
			}
	return stable[need - 1];
}

/* The node id a peer's answers gave, remembered by target; 0: unknown. */
static int32_t
known_id(const struct decide_state *st, const char *target)
{
	for (size_t i = 0; i < DECIDE_KNOWN_PEERS; i++)
		if (st->known[i].node_id != 0 &&
		    strcmp(st->known[i].target, target) == 0)
			return st->known[i].node_id;
	return 0;
}

void
handover_learn_ids(Harepd__PeerAnswer **peers, size_t n,
    struct decide_state *st)
{
	for (size_t i = 0; i < n; i++) {
		int32_t id;
		size_t free_slot = DECIDE_KNOWN_PEERS;

		if (!decide_answered(peers[i]) || decide_is_witness(peers[i]) ||
		    (id = peers[i]->answer->nodeid) <= 0 ||
		    strlen(peers[i]->target) >= ADDR_MAX)
			continue;
		for (size_t k = 0; k < DECIDE_KNOWN_PEERS; k++) {
			if (strcmp(st->known[k].target, peers[i]->target) == 0) {
				free_slot = k;
				break;
			}
			if (st->known[k].node_id == 0 &&
			    free_slot == DECIDE_KNOWN_PEERS)
				free_slot = k;
		}
		if (free_slot == DECIDE_KNOWN_PEERS)
			continue;	/* a big cluster: no silence cover */
		snprintf(st->known[free_slot].target, ADDR_MAX, "%s",
		    peers[i]->target);
		st->known[free_slot].node_id = id;
	}
}

/*
 * One member's table of answers: how long ago, at the least, it gave its
 * lists to node x or to any asker without an id (or evicted from the
 * table); an x not in the table was not answered while it was kept.
 */
static int64_t
table_silence(size_t n, const int32_t *ids, const int64_t *ages,
    int64_t tracked_ms, int32_t x)
{
	int64_t least = INT64_MAX;
	bool listed = false;

	for (size_t i = 0; i < n; i++) {
		if (ids[i] != x && ids[i] != 0)
			continue;
		if (ages[i] < least)
			least = ages[i];
		listed |= ids[i] == x;
	}
	if (!listed && tracked_ms < least)
		least = tracked_ms;
	return least;
}

static int64_t
gate_silence(const Models__Gate *g, int32_t x)
{
	int32_t ids[DECIDE_ANSWERED_MAX];
	int64_t ages[DECIDE_ANSWERED_MAX];
	size_t n = 0;

	for (size_t i = 0; i < g->n_answered; i++) {
		if (n == DECIDE_ANSWERED_MAX)
			return 0;	/* more than any harepd sends */
		ids[n] = g->answered[i]->nodeid;
		ages[n++] = g->answered[i]->agems > INT64_MAX ? INT64_MAX :
		    (int64_t)g->answered[i]->agems;
	}
	return table_silence(n, ids, ages, g->answerstrackedms > INT64_MAX ?
	    INT64_MAX : (int64_t)g->answerstrackedms, x);
}

/*
 * Why one member cannot vouch for x, into why; true when it can (so far:
 * its silence towards x, the least of all, goes into *least).
 */
static bool
member_vouches(const Harepd__PeerAnswer *p, int32_t x, int64_t *least,
    const char **who, char *why, size_t whylen)
{
	int64_t quiet;

	if (!decide_answered(p))
		snprintf(why, whylen, "%s %s did not answer", p->role,
		    p->target);
	else if (p->answer->gate == NULL)
		snprintf(why, whylen, "%s %s reports no gate", p->role,
		    p->target);
	else if (!p->agrees || p->answer->nodeid == x)
		snprintf(why, whylen, "%s %s does not agree", p->role,
		    p->target);
	else {
		if ((quiet = gate_silence(p->answer->gate, x)) < *least) {
			*least = quiet;
			*who = p->target;
		}
		return true;
	}
	return false;
}

/*
 * The silence cover (docs/POLICY.md, step 2): the silent data peer x
 * cannot hold an allow when every other member, this node included,
 * says it has not given its lists to x (nor to any asker without an id)
 * for at least C = the largest lease + the largest deadline + the grace
 * (the hold-down's length, counted from the last answer to x instead of
 * from our majority). x stamps an allow before it asks, and an answer
 * is given after the stamp, so an allow decided from an answer ends one
 * lease after it. x keeps rw without the handover while its last allow
 * is younger than a lease, and a tick stamped just before that allow
 * expires may be answered up to a deadline later: hence + deadline (the
 * model in tests/model/ found it). The others must name us now (agree),
 * so none gives x its lists again before their lists change; they must
 * all answer, with a gate, this tick. why says what is missing; *wait_ms
 * how long until it holds when only time is missing, else -1.
 */
static bool
silence_cover(Harepd__PeerAnswer **peers, size_t n, const struct conf *c,
    int members, const struct decide_state *st, size_t x_index,
    int64_t *wait_ms, char *why, size_t whylen)
{
	const struct own_answers *own = &st->own;
	int32_t x = known_id(st, peers[x_index]->target);
	int64_t cover = handover_holddown_ms(c, peers, n), least;
	const char *who = "this node";
	int vouching = 1;

	*wait_ms = -1;
	if (x == 0) {
		snprintf(why, whylen, "node id of %s not known",
		    peers[x_index]->target);
		return false;
	}
	if (!own->valid) {
		snprintf(why, whylen, "this node's answers not known yet");
		return false;
	}
	least = table_silence(own->n, own->node_id, own->age_ms,
	    own->tracked_ms, x);
	for (size_t i = 0; i < n; i++) {
		if (i == x_index)
			continue;
		if (!member_vouches(peers[i], x, &least, &who, why, whylen))
			return false;
		vouching++;
	}
	if (vouching < members - 1) {
		snprintf(why, whylen, "%d of the %d other members vouch",
		    vouching, members - 1);
		return false;
	}
	if (least < cover) {
		snprintf(why, whylen, "%s answered %s %lld of %lld ms ago",
		    who, peers[x_index]->target, (long long)least,
		    (long long)cover);
		*wait_ms = cover - least;
		return false;
	}
	return true;
}

static void
deny_rw(struct probe_verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
deny_rw(struct probe_verdict *v, const char *fmt, ...)
{
	char reason[PROBE_REASON_MAX];
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	len = strlen(reason);
	if (len + 2 < sizeof(reason))
		snprintf(reason + len, sizeof(reason) - len, "; %.*s",
		    (int)(sizeof(reason) - len - 3), v->reason);
	memcpy(v->reason, reason, sizeof(v->reason));
	v->rw_allow = false;
}

static void
note(struct probe_verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));


static void
note(struct probe_verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends "; <what>" to the reason, as far as it fits. */
static void
note(struct probe_verdict *v, const char *fmt, ...)
{
	size_t len = strlen(v->reason);
	va_list ap;

	if (len + 3 >= sizeof(v->reason))
		return;
	memcpy(v->reason + len, "; ", 2);
	va_start(ap, fmt);
	vsnprintf(v->reason + len + 2, sizeof(v->reason) - len - 2, fmt, ap);
	va_end(ap);
}

struct classes {
	const Harepd__PeerAnswer *contended;	/* the first one */
	const Harepd__PeerAnswer *allowed;	/* a peer reporting ALLOWED */
	bool	 priority;	/* ours over every contended peer */
	int	 uncovered;
	int	 silent;	/* of those, how many did not answer */
	int	 gateless;	/* members answering without a gate (Go) */
};

static void
classify(const Harepd__LocalView *view, Harepd__PeerAnswer **peers,
    size_t n, const struct conf *c, struct classes *k)
{
	const Models__Gate *g;

	memset(k, 0, sizeof(*k));
	k->priority = true;
	for (size_t i = 0; i < n; i++) {
		k->gateless += decide_answered(peers[i]) &&
		    peers[i]->answer->gate == NULL;
		if (!gate_holder(view, peers[i], c))
			continue;
		if (!decide_answered(peers[i]) ||
		    (g = peers[i]->answer->gate) == NULL) {
			k->uncovered++;
			k->silent += !decide_answered(peers[i]);
			continue;
		}
		if (g->state == GATE_DENIED)
			continue;
		if (k->contended == NULL)
			k->contended = peers[i];
		if (g->state == GATE_ALLOWED && k->allowed == NULL)
			k->allowed = peers[i];
		if (!has_priority(view, peers[i]))
			k->priority = false;
	}
}

/* A node that holds rw keeps it unless another data node says it does too. */
static void
keep_rw(const struct classes *k, int64_t now, struct decide_state *st,
    struct probe_verdict *v)
{
	if (k->allowed != NULL) {
		deny_rw(v, "%s %s reports its gate allows rw too: both deny",
		    k->allowed->role, k->allowed->target);
		st->rw_allowed_last = false;
		st->declared_gate = GATE_DENIED;
		return;
	}
	st->rw_allowed_at_ms = now;
	st->declared_gate = GATE_ALLOWED;
}

/* Every uncovered peer is silent and covered by the silence cover. */
static bool
all_silent_covered(const Harepd__LocalView *view, Harepd__PeerAnswer **peers,
    size_t n, const struct conf *c, int members,
    const struct decide_state *st, const struct classes *k, int64_t *wait_ms,
    char *why, size_t whylen)
{
	*wait_ms = -1;
	if (k->silent != k->uncovered) {
		/* a Go peer answers, and holds what it holds */
		snprintf(why, whylen, "a data peer without a gate answers");
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t wait;

		if (!gate_holder(view, peers[i], c) ||
		    decide_answered(peers[i]))
			continue;
		if (!silence_cover(peers, n, c, members, st, i, &wait, why,
		    whylen)) {
			*wait_ms = wait;
			return false;
		}
	}
	return true;
}

/*
 * Step 2: a data peer that did not report its gate (silent, or a Go
 * peer) may still hold an allow. It cannot when a strict majority has
 * named our lists, unchanged, for the hold-down (each member's own
 * record: a view that flipped and back in between restarts it), or when
 * the silence cover holds for every silent one. The observer hold-down
 * (the rw condition seen at every tick of ours for the hold-down) only
 * samples the members at our ticks, so a member that named another node
 * between two of them goes unseen (tests/model, replay stale-majority):
 * it is kept only for a member that sends no gate and so no stable time
 * (a Go harepd), as the Go harepd itself did. Denies rw in v and sets
 * when to tick again when no cover holds.
 */
static bool
covered(const Harepd__LocalView *view, Harepd__PeerAnswer **peers, size_t n,
    const struct conf *c, struct probe_verdict *v, struct decide_state *st,
    const struct classes *k, int64_t held, int64_t hold)
{
	int64_t stable = majority_stable_ms(peers, n, v->members, st), wait;
	char why[160], what[96];

	if (stable >= hold || (k->gateless > 0 && held >= hold))
		return true;
	if (all_silent_covered(view, peers, n, c, v->members, st, k, &wait,
	    why, sizeof(why))) {
		note(v, "silence cover: no member gave its lists to the "
		    "silent data node%s for the hold-down",
		    k->uncovered > 1 ? "s" : "");
		return true;
	}
	/* tick again when the first cover will hold */
	st->cover_in_ms = hold - stable;
	if (k->gateless > 0 && hold - held < st->cover_in_ms)
		st->cover_in_ms = hold - held;
	if (wait >= 0 && wait < st->cover_in_ms)
		st->cover_in_ms = wait;
	if (k->gateless > 0)
		snprintf(what, sizeof(what), "majority held for %lld",
		    (long long)held);
	else
		snprintf(what, sizeof(what), "majority's lists stable for %lld",
		    (long long)stable);
	if (k->silent == 0)
		deny_rw(v, "hold-down: %s of %lld ms before rw", what,
		    (long long)hold);
	else
		deny_rw(v, "hold-down: %s of %lld ms before rw (no silence "
		    "cover: %s)", what, (long long)hold, why);
	return false;
}

void
handover_take(const Harepd__LocalView *view, Harepd__PeerAnswer **peers,
    size_t n, const struct conf *c, int64_t now, struct decide_state *st,
    struct probe_verdict *v)
{
	int64_t hold = handover_holddown_ms(c, peers, n);
	int64_t held = now - st->majority_since_ms;
	struct classes k;

	classify(view, peers, n, c, &k);
	st->retick = false;
	st->cover_in_ms = -1;
	if (st->rw_allowed_last) {
		keep_rw(&k, now, st, v);
		return;
	}
	if (held < 0)
		held = 0;
	if (k.contended != NULL) {
		st->declared_gate = k.priority ? GATE_INTENT : GATE_DENIED;
		deny_rw(v, "handover: %s %s reports gate %s, waiting",
		    k.contended->role, k.contended->target,
		    gate_name(k.contended->answer->gate->state));
		return;
	}
	st->declared_gate = GATE_INTENT;
	if (k.uncovered > 0 && !covered(view, peers, n, c, v, st, &k, held,
	    hold))
		return;
	if (st->served_gate != GATE_INTENT && st->served_gate != GATE_ALLOWED) {
		deny_rw(v, "handover: announcing INTENT before taking rw");
		st->retick = true;
		return;
	}
	st->rw_allowed_last = true;
	st->rw_allowed_at_ms = now;
	st->declared_gate = GATE_ALLOWED;
}
