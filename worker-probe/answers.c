/*
 * What a peer's answer is, as decide(), handover_take() and
 * witness_follow() all need to know it: answered or not, witness or data
 * node, this very node, and addresses compared the way repmgr writes
 * them. Pure.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "worker-probe/decide_int.h"

void
probe_addr_canon(const char *in, char *out, size_t outlen)
{
	unsigned char bin[sizeof(struct in6_addr)];
	size_t i;

	if (in == NULL)
		in = "";
	if (inet_pton(AF_INET, in, bin) == 1 &&
	    inet_ntop(AF_INET, bin, out, outlen) != NULL)
		return;
	if (inet_pton(AF_INET6, in, bin) == 1 &&
	    inet_ntop(AF_INET6, bin, out, outlen) != NULL)
		return;
	/* host names are case-insensitive (RFC 4343) */
	for (i = 0; in[i] != '\0' && i + 1 < outlen; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	if (outlen > 0)
		out[i] = '\0';
}

bool
decide_addr_equal(const char *a, const char *b)
{
	char ca[ADDR_MAX], cb[ADDR_MAX];

	probe_addr_canon(a, ca, sizeof(ca));
	probe_addr_canon(b, cb, sizeof(cb));
	return strcmp(ca, cb) == 0;
}

bool
decide_is_witness(const Harepd__PeerAnswer *p)
{
	return p->role != NULL && strcmp(p->role, PROBE_ROLE_WITNESS) == 0;
}

bool
decide_answered(const Harepd__PeerAnswer *p)
{
	return p->answered && p->answer != NULL;
}

/*
 * An answer from this very node (the seed's sample lists the node among
 * its own neighbours) always agrees with us; under the majority policy
 * it must not vote a second time. It carries our primaryIP, or our
 * node_id when it answered as another address.
 */
bool
decide_is_self(const Harepd__LocalView *view, const Models__IKnow *k,
    const struct conf *c)
{
	return c->policy == POLICY_MAJORITY && ((k->ip != NULL &&
	    k->ip[0] != '\0' && decide_addr_equal(k->ip, c->primary_ip)) ||
	    (view->node_id != 0 && k->nodeid == view->node_id));
}

/*
 * Timelines are per cluster: the witness is its own initdb (repmgr
 * requires it), so its timeline says nothing about ours.
 */
bool
decide_data_node(const Harepd__LocalView *view, const Harepd__PeerAnswer *p)
{
	return !decide_is_witness(p) && !(view->witness != NULL &&
	    view->witness[0] != '\0' && decide_addr_equal(p->answer->ip,
	    view->witness));
}

