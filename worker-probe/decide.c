/*
 * decide(): the verdict from this node's view, its peers' answers and the
 * configuration. Pure: no I/O, no clock, so tables of cases drive it
 * (tests/unit/test_decide.c). docs/POLICY.md states the same rules for
 * operators; change both together.
 *
 * Two policies:
 *   seed      the Go harepd's rules (docs/POLICY.md, "policy: seed").
 *   majority  (default) never allows rw on two nodes at once.
 *
 * The clock and the state the majority policy's hold-down carries from
 * tick to tick are inputs (now_ms, struct decide_state), not read here.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker-probe/decide_int.h"
#include "worker-probe/probe.h"

const char *
decide_policy_name(enum conf_policy p)
{
	return p == POLICY_SEED ? "seed" : "majority";
}

static bool
list_has(char *const *list, size_t n, const char *addr)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (decide_addr_equal(list[i], addr))
			return true;
	return false;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Canonical, sorted copy of a list, in one allocation; NULL if empty. */
static char **
list_canon_sorted(char *const *list, size_t n)
{
	char **out, *text;
	size_t i;

	if (n == 0)
		return NULL;
	if ((out = malloc(n * (sizeof(char *) + ADDR_MAX))) == NULL)
		return NULL;
	text = (char *)(out + n);
	for (i = 0; i < n; i++) {
		out[i] = text + i * ADDR_MAX;
		probe_addr_canon(list[i], out[i], ADDR_MAX);
	}
	qsort(out, n, sizeof(char *), cmp_str);
	return out;
}

/* Go's sort.Strings + reflect.DeepEqual, on canonical addresses. */
static bool
list_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
	char **sa, **sb;
	bool eq = true;
	size_t i;

	if (na != nb)
		return false;
	if (na == 0)
		return true;
	sa = list_canon_sorted(a, na);
	sb = list_canon_sorted(b, nb);
	if (sa == NULL || sb == NULL)
		eq = false;	/* out of memory: never agree by accident */
	for (i = 0; eq && i < na; i++)
		eq = strcmp(sa[i], sb[i]) == 0;
	free(sa);
	free(sb);
	return eq;
}

bool
decide_synced(const Harepd__LocalView *view, const Models__IKnow *k)
{
	return k != NULL &&
	    list_equal(view->primaries, view->n_primaries, k->master,
	    k->n_master) &&
	    list_equal(view->standbys, view->n_standbys, k->slaves,
	    k->n_slaves);
}

static void
say(struct probe_verdict *v, bool rw, bool ro, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
say(struct probe_verdict *v, bool rw, bool ro, const char *fmt, ...)
{
	va_list ap;

	v->rw_allow = rw;
	v->ro_allow = ro;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
}

static bool
db_down(const Harepd__LocalView *view)
{
	return view->db_error != NULL && view->db_error[0] != '\0';
}

/*
 * An address as a voter's identity: canonical, and an IPv4-mapped IPv6
 * address as the IPv4 one ([::ffff:10.0.0.2] is 10.0.0.2).
 */
static void
voter_addr(const char *in, char *out, size_t outlen)
{
	static const char mapped[] = "::ffff:";
	unsigned char bin[sizeof(struct in_addr)];

	probe_addr_canon(in, out, outlen);
	if (strncmp(out, mapped, sizeof(mapped) - 1) == 0 &&
	    inet_pton(AF_INET, out + sizeof(mapped) - 1, bin) == 1)
		memmove(out, out + sizeof(mapped) - 1,
		    strlen(out + sizeof(mapped) - 1) + 1);
}

/* The host of a "host:port" or "[v6]:port" target. */
static void
target_host(const char *target, char *out, size_t outlen)
{
	const char *end;
	char host[ADDR_MAX];
	size_t len;

	if (target == NULL)
		target = "";
	if (target[0] == '[' && (end = strchr(target, ']')) != NULL)
		target++;
	else if ((end = strrchr(target, ':')) == NULL ||
	    strchr(target, ':') != end)
		end = target + strlen(target);	/* no port, or bare IPv6 */
	len = (size_t)(end - target);
	if (len >= sizeof(host))
		len = sizeof(host) - 1;
	memcpy(host, target, len);
	host[len] = '\0';
	voter_addr(host, out, outlen);
}

/*
 * Who answered: the address the answer says it is (IKnow.ip), else the
 * host we dialled. The configuration dedups peers by their text only, so
 * one node can be configured twice (10.0.0.2:10000 and
 * [::ffff:10.0.0.2]:10000, or a name and its address); its answers then
 * carry the same nodeId and ip.
 */
static void
voter_host(const Harepd__PeerAnswer *p, char *out, size_t outlen)
{
	if (p->answer->ip != NULL && p->answer->ip[0] != '\0')
		voter_addr(p->answer->ip, out, outlen);
	else
		target_host(p->target, out, outlen);
}

static bool
same_voter(const Harepd__PeerAnswer *a, const Harepd__PeerAnswer *b)
{
	char ha[ADDR_MAX], hb[ADDR_MAX];

	if (a->answer->nodeid != 0 && a->answer->nodeid == b->answer->nodeid)
		return true;
	voter_host(a, ha, sizeof(ha));
	voter_host(b, hb, sizeof(hb));
	return ha[0] != '\0' && strcmp(ha, hb) == 0;
}

/*
 * Sets every peer's agrees flag; returns how many agree. Under the
 * majority policy each node votes once: a second agreeing answer from a
 * node that already voted (same nodeId, or same address) does not agree
 * again, while the member count stays the configured one.
 */
static int
mark_agreement(const Harepd__LocalView *view, Harepd__PeerAnswer **peers,
    size_t n, const struct conf *c)
{
	size_t i, j;
	int agree = 0;

	for (i = 0; i < n; i++) {
		peers[i]->agrees = decide_answered(peers[i]) &&
		    !decide_is_self(view, peers[i]->answer, c) &&
		    decide_synced(view, peers[i]->answer);
		for (j = 0; peers[i]->agrees && c->policy == POLICY_MAJORITY &&
		    j < i; j++)
			if (peers[j]->agrees && same_voter(peers[i], peers[j]))
				peers[i]->agrees = false;
		agree += peers[i]->agrees;
	}
	return agree;
}

static bool
self_primary(const Harepd__LocalView *view, const struct conf *c)
{
	return list_has(view->primaries, view->n_primaries, c->primary_ip);
}

/* ---- policy seed (logic.go) ---- */

/* Step 2: synced with someone; why says how we came to ask it. */
static void
seed_synced(const Harepd__LocalView *view, const struct conf *c,
    const Harepd__PeerAnswer *p, const char *why, struct probe_verdict *v)
{
	const char *sep = why[0] ? ", then " : "";

	if (self_primary(view, c))
		say(v, true, c->allow_ro, "%s%ssynced with %s %s; primaryIP %s "
		    "is in the primary list", why, sep, p->role, p->target,
		    c->primary_ip);
	else
		say(v, false, c->allow_ro, "%s%ssynced with %s %s; primaryIP "
		    "%s is not in the primary list", why, sep, p->role,
		    p->target, c->primary_ip);
}

/* Step 3: the witness decides. */
static void
seed_witness(const Harepd__LocalView *view, const struct conf *c,
    Harepd__PeerAnswer **peers, size_t n, const char *why,
    struct probe_verdict *v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (decide_is_witness(peers[i]))
			break;
	if (i == n)
		say(v, false, false, "%s, and no witness is configured", why);
	else if (!decide_answered(peers[i]))
		say(v, false, false, "%s, and witness %s did not answer: %s",
		    why, peers[i]->target, peers[i]->error ? peers[i]->error :
		    "");
	else if (peers[i]->agrees)
		seed_synced(view, c, peers[i], why, v);
	else
		say(v, false, false, "%s, and witness %s is not synced", why,
		    peers[i]->target);
}

static void
decide_seed(const Harepd__LocalView *view, Harepd__PeerAnswer **peers,
    size_t n, const struct conf *c, struct probe_verdict *v)
{
	char why[PROBE_REASON_MAX / 2];
	size_t i;

	for (i = 0; i < n; i++)
		if (!decide_is_witness(peers[i]) && decide_answered(peers[i]))
			break;
	if (i < n && peers[i]->agrees) {
		seed_synced(view, c, peers[i], "", v);
		return;
	}
	if (i < n)
		snprintf(why, sizeof(why), "neighbour %s is not synced",
		    peers[i]->target);
	else
		snprintf(why, sizeof(why), "no neighbour answered");
	seed_witness(view, c, peers, n, why, v);
}

/* ---- policy majority ---- */

/* A data node that saw a higher timeline: we have not followed it. */
static const Harepd__PeerAnswer *
higher_timeline(const Harepd__LocalView *view, Harepd__PeerAnswer **peers,
    size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (decide_answered(peers[i]) && peers[i]->answer->observation &&
		    decide_data_node(view, peers[i]) &&
		    peers[i]->answer->observation->timeline > view->timeline)
			return peers[i];
	return NULL;
}

/*
 * Another data node out of recovery on our timeline or a later one is
 * a second writer (a lower timeline is an old primary that fences
 * itself on seeing ours).
 */
static const Harepd__PeerAnswer *
other_writer(const Harepd__LocalView *view, Harepd__PeerAnswer **peers,
    size_t n, const struct conf *c)
{
	const Models__Observation *o;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!decide_answered(peers[i]) || !decide_data_node(view, peers[i]))
			continue;
		o = peers[i]->answer->observation;
		if (o != NULL && !o->inrecovery && o->timeline >=
		    view->timeline && !decide_addr_equal(peers[i]->answer->ip,
		    c->primary_ip))
			return peers[i];
	}
	return NULL;
}

static void
majority_primary(const Harepd__LocalView *view, Harepd__PeerAnswer **peers,
    size_t n, const struct conf *c, struct probe_verdict *v)
{
	const Harepd__PeerAnswer *w;

	if (view->in_recovery)
		say(v, false, false, "primaryIP %s is the primary in "
		    "repmgr.nodes but PostgreSQL is in recovery", c->primary_ip);
	else if ((w = other_writer(view, peers, n, c)) != NULL)
		say(v, false, false, "%s %s (%s) is out of recovery on "
		    "timeline %u, ours is %u", w->role, w->target,
		    w->answer->ip, w->answer->observation->timeline,
		    view->timeline);
	else
		say(v, true, c->allow_ro, "%d of %d members agree; primaryIP "
		    "%s is the only active primary, not in recovery, timeline "
		    "%u", v->agreeing, v->members, c->primary_ip,
		    view->timeline);
}

static void
majority_standby(const Harepd__LocalView *view, const struct conf *c,
    struct probe_verdict *v)
{
	const char *agree = "members agree";

	if (!c->allow_ro)
		say(v, false, false, "%d of %d %s; primaryIP %s is not the "
		    "primary (allowRO off)", v->agreeing, v->members, agree,
		    c->primary_ip);
	else if (!view->in_recovery)
		say(v, false, false, "%d of %d %s; primaryIP %s is not the "
		    "primary and not in recovery", v->agreeing, v->members,
		    agree, c->primary_ip);
	else if (!list_has(view->standbys, view->n_standbys, c->primary_ip))
		say(v, false, false, "%d of %d %s; primaryIP %s is not an "
		    "active standby", v->agreeing, v->members, agree,
		    c->primary_ip);
	else
		say(v, false, true, "%d of %d %s; primaryIP %s is a healthy "
		    "standby", v->agreeing, v->members, agree, c->primary_ip);
}

static void
decide_majority(const Harepd__LocalView *view, Harepd__PeerAnswer **peers,
    size_t n, const struct conf *c, struct probe_verdict *v)
{
	const Harepd__PeerAnswer *h;
	int need = v->members / 2 + 1;

	if (v->members == 1)
		say(v, false, false, "no neighbour and no witness configured: "
		    "nothing to agree with");
	else if (view->n_primaries != 1)
		say(v, false, false, "repmgr.nodes lists %zu active primaries, "
		    "exactly one is required", view->n_primaries);
	else if ((h = higher_timeline(view, peers, n)) != NULL)
		say(v, false, false, "%s %s saw timeline %u, ours is %u: this "
		    "node has not followed the current primary", h->role,
		    h->target, h->answer->observation->timeline,
		    view->timeline);
	else if (v->agreeing < need)
		say(v, false, false, "only %d of %d members agree with this "
		    "view, %d needed", v->agreeing, v->members, need);
	else if (self_primary(view, c))
		majority_primary(view, peers, n, c, v);
	else
		majority_standby(view, c, v);
}

/* ---- hold-down (majority) ---- */

int64_t
decide_holddown_ms(const struct conf *c)
{
	return (int64_t)c->lease_ms + (int64_t)c->connection_deadline * 1000 +
	    PEERS_CANCEL_GRACE_MS;
}

int64_t
decide_tick_gap_max_ms(const struct conf *c)
{
	return (int64_t)c->watchdog * 1000 +
	    (int64_t)c->connection_deadline * 1000 + PEERS_CANCEL_GRACE_MS;
}

/*
 * Since when the rw condition (decide_majority allowing rw) has held at
 * every tick: the hold-down that covers silent peers starts there.
 */
static void
track_majority(const struct probe_verdict *v, const struct conf *c,
    int64_t now, struct decide_state *st)
{
	int64_t gap = now - st->last_tick_ms;

	st->last_tick_ms = now;
	if (!v->rw_allow) {
		st->holding = false;
		st->rw_allowed_last = false;
		st->declared_gate = MODELS__GATE__STATE__DENIED;
		return;
	}
	/*
	 * "Held at every tick" says nothing of a time without ticks (a
	 * stopped or starved probe): the members may have named another
	 * node meanwhile, so such a gap starts the wait again.
	 */
	if (st->holding && gap > decide_tick_gap_max_ms(c))
		st->holding = false;
	if (!st->holding) {
		st->holding = true;
		st->majority_since_ms = now;
	}
}

/*
 * An allow lives one lease after it was decided (the hba worker fences
 * then): when ticks stalled for longer, the allow is gone and must be
 * taken again like any other.
 */
static void
expire_allow(const struct conf *c, int64_t now, struct decide_state *st)
{
	if (st->rw_allowed_last && now - st->rw_allowed_at_ms >=
	    (int64_t)c->lease_ms)
		st->rw_allowed_last = false;
}

/* The largest member count this node or an answering peer configures. */
static int
members_reported(Harepd__PeerAnswer **peers, size_t n, int members)
{
	for (size_t i = 0; i < n; i++)
		if (decide_answered(peers[i]) && peers[i]->answer->gate &&
		    (int)peers[i]->answer->gate->members > members)
			members = (int)peers[i]->answer->gate->members;
	return members;
}

void
decide(const Harepd__LocalView *view, Harepd__PeerAnswer **peers,
    size_t n_peers, const struct conf *c, int64_t now_ms,
    struct decide_state *st, struct probe_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->members = 1 + (int)c->n_neighbours + (c->witness != NULL);
	if (db_down(view)) {
		/* rule 4 of both policies; peers are not even compared */
		for (size_t i = 0; i < n_peers; i++)
			peers[i]->agrees = false;
		say(v, false, false, "local database unreachable: %s",
		    view->db_error);
		track_majority(v, c, now_ms, st);
		return;
	}
	v->agreeing = 1 + mark_agreement(view, peers, n_peers, c);
	v->candidate = view->n_primaries == 1 && self_primary(view, c) &&
	    !view->in_recovery;
	if (c->policy == POLICY_SEED) {
		decide_seed(view, peers, n_peers, c, v);
		/* a later switch to majority starts from rw not allowed */
		memset(st, 0, sizeof(*st));
		st->cover_in_ms = -1;	/* no early tick: 0 is "in 2 ms" */
		st->declared_gate = v->rw_allow ? MODELS__GATE__STATE__ALLOWED :
		    MODELS__GATE__STATE__DENIED;
	} else {
		v->members = members_reported(peers, n_peers, v->members);
		handover_learn_ids(peers, n_peers, st);
		decide_majority(view, peers, n_peers, c, v);
		expire_allow(c, now_ms, st);
		track_majority(v, c, now_ms, st);
		if (v->rw_allow)
			handover_take(view, peers, n_peers, c, now_ms, st, v);
	}
}
