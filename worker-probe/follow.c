/*
 * witness_follow(): the witness's copy of repmgr.nodes is written only by
 * repmgrd on the witness, seconds (or, with repmgr's default reconnect
 * settings, minutes) after a promote, and after a healed split brain it
 * may copy the old primary's table again. Timelines do not lie: a
 * promote starts a new one, so the data node out of recovery on the
 * highest timeline is the newest primary. The witness's harepd asks the
 * data nodes every tick and serves that node's lists as its answer, so
 * its vote follows a promote within a tick. Pure.
 */
#include <string.h>

#include "worker-probe/decide_int.h"

static const Models__Observation *
writer_obs(const Harepd__PeerAnswer *p)
{
	const Models__Observation *o;

	if (decide_is_witness(p) || !decide_answered(p) ||
	    (o = p->answer->observation) == NULL || o->inrecovery)
		return NULL;
	return o;
}

/* It names itself, and only itself, as the primary. */
static bool
names_itself(const Models__IKnow *k)
{
	return k->ip != NULL && k->ip[0] != '\0' && k->n_master == 1 &&
	    decide_addr_equal(k->master[0], k->ip);
}

int
witness_follow(const Harepd__LocalView *view, Harepd__PeerAnswer **peers,
    size_t n, uint32_t *max_tl_seen)
{
	const Models__Observation *o;
	uint32_t best = 0;
	int found = -1, ties = 0;

	(void)view;
	/* a standby that followed the new primary proves its timeline too */
	for (size_t i = 0; i < n; i++)
		if (!decide_is_witness(peers[i]) && decide_answered(peers[i]) &&
		    (o = peers[i]->answer->observation) != NULL &&
		    o->timeline > *max_tl_seen)
			*max_tl_seen = o->timeline;
	for (size_t i = 0; i < n; i++) {
		if ((o = writer_obs(peers[i])) == NULL)
			continue;
		if (o->timeline > best) {
			best = o->timeline;
			found = (int)i;
			ties = 0;
		} else if (o->timeline == best)
			ties++;
	}
	if (found < 0 || ties > 0 || best < *max_tl_seen ||
	    !names_itself(peers[found]->answer))
		return -1;
	return found;
}
