/*
 * witness_follow(): the witness's copy of repmgr.nodes is written only by
 * repmgrd on the witness, seconds (or, with repmgr's default reconnect
 * settings, minutes) after a promote, and after a healed split brain it
 * may copy the old primary's table again. Timelines do not lie: a
 * promote starts a new one, so the data node out of recovery on the
 * highest timeline is the newest primary. The witness's harepd asks the
 * data nodes every tick and serves that node's lists as its answer, so
 * its vote follows a promote within a tick. witness_follow() is pure;
 * witness_adopt() and view_lists_signature() only allocate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"
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

static char **
copy_list(char *const *src, size_t n)
{
	char **l = xcalloc(n + 1, sizeof(char *));

	for (size_t i = 0; i < n; i++)
		l[i] = xstrdup(src[i]);
	return l;
}

static void
free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

bool
witness_adopt(Harepd__LocalView *v, const Models__IKnow *k)
{
	char before[VIEW_SIGNATURE_MAX], after[VIEW_SIGNATURE_MAX];
	Harepd__LocalView tmp = *v;

	tmp.primaries = k->master;
	tmp.n_primaries = k->n_master;
	tmp.standbys = k->slaves;
	tmp.n_standbys = k->n_slaves;
	view_lists_signature(v, before, sizeof(before));
	view_lists_signature(&tmp, after, sizeof(after));
	if (strcmp(before, after) == 0)
		return false;
	free_list(v->primaries, v->n_primaries);
	free_list(v->standbys, v->n_standbys);
	v->primaries = copy_list(k->master, k->n_master);
	v->n_primaries = k->n_master;
	v->standbys = copy_list(k->slaves, k->n_slaves);
	v->n_standbys = k->n_slaves;
	return true;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "P=a,b S=c": canonical addresses, sorted; truncated lists differ anyway */
static void
list_signature(char *const *l, size_t n, char *out, size_t outlen)
{
	char (*canon)[ADDR_CANON_MAX] = xcalloc(n + 1, sizeof(*canon));
	char **sorted = xcalloc(n + 1, sizeof(char *));
	size_t off = 0;

	for (size_t i = 0; i < n; i++) {
		probe_addr_canon(l[i], canon[i], sizeof(canon[i]));
		sorted[i] = canon[i];
	}
	qsort(sorted, n, sizeof(char *), cmp_str);
	out[0] = '\0';
	for (size_t i = 0; i < n && off < outlen; i++)
		off += (size_t)snprintf(out + off, outlen - off, "%s%s",
		    i ? "," : "", sorted[i]);
	free(sorted);
	free(canon);
}

void
view_lists_signature(const Harepd__LocalView *v, char *out, size_t outlen)
{
	char p[VIEW_SIGNATURE_MAX / 2], s[VIEW_SIGNATURE_MAX / 2];

	list_signature(v->primaries, v->n_primaries, p, sizeof(p));
	list_signature(v->standbys, v->n_standbys, s, sizeof(s));
	snprintf(out, outlen, "P=%.1000s S=%.1000s", p, s);
}
