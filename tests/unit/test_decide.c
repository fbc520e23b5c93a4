/*
 * decide(): both policies on a table of cluster situations. Each row is
 * written the way an operator would draw it:
 *
 *   view   "P=<primaries> S=<standbys> W=<witness> rec=0|1 tl=N [id=N]",
 *          or "DOWN <error>" for an unreachable local database
 *   peers  "<n|w> <target> -" did not answer (timeout, refused, garbage),
 *          "<n|w> <target> M=<masters> S=<slaves> [ip=A] [id=N]
 *          [obs=REC/TL]" an IKnow; without obs= it is a Go peer (no
 *          observation)
 *
 * Addresses: .1 is n1, .2 n2, .3 n3, .4 the witness (10.0.0.x). The
 * configured neighbours are the n rows in order, the witness the w row.
 *
 * The rows run as a tick of a node whose previous verdict allowed rw
 * and whose rw condition has held since long ago, so they test the
 * condition itself; the majority policy's hold-down (a node that did
 * not have rw waits) has its own sequences of ticks after the table.
 *
 * Over 600 lines on purpose: the tables are the specification of
 * decide(), handover_take() and witness_follow(), and read best together.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "worker-probe/probe.h"
#include "util/unconst.h"

#define MAXP	6
#define MAJ	POLICY_MAJORITY
#define SEED	POLICY_SEED

struct dcase {
	const char	*name;
	enum conf_policy policy;
	bool		 allow_ro;
	const char	*self;		/* primaryIP */
	const char	*view;
	const char	*peers[MAXP];
	bool		 rw, ro;
	const char	*reason;	/* substring of the reason */
	const char	*agrees;	/* one 0/1 per peer */
};

/* Steady cluster: n1 primary on timeline 2, n2 n3 standbys, witness .4. */
#define VIEW_N1	"P=10.0.0.1 S=10.0.0.2,10.0.0.3 W=10.0.0.4 rec=0 tl=2"
#define VIEW_SB	"P=10.0.0.1 S=10.0.0.2,10.0.0.3 W=10.0.0.4 rec=1 tl=2"
#define SAME	"M=10.0.0.1 S=10.0.0.2,10.0.0.3"
#define N2_OK	"n 10.0.0.2:10000 " SAME " ip=10.0.0.2 obs=1/2"
#define N3_OK	"n 10.0.0.3:10000 " SAME " ip=10.0.0.3 obs=1/2"
#define N1_OK	"n 10.0.0.1:10000 " SAME " ip=10.0.0.1 obs=0/2"
#define W_OK	"w 10.0.0.4:10000 " SAME " ip=10.0.0.4 obs=0/1"
#define N2_DOWN	"n 10.0.0.2:10000 -"
/* n2 answering with its node id (learned for when it falls silent) */
#define N2_ID	"n 10.0.0.2:10000 " SAME " ip=10.0.0.2 obs=1/2 id=2"
/* members whose rpc worker last gave n2 (id 2) its lists AGE ms ago */
#define N3_SILENT(age)	N3_OK " gate=DENIED ans=2:" #age " trk=60000"
#define W_SILENT(age)	W_OK " gate=DENIED ans=2:" #age " trk=60000"
#define N3_DOWN	"n 10.0.0.3:10000 -"
#define N1_DOWN	"n 10.0.0.1:10000 -"
#define W_DOWN	"w 10.0.0.4:10000 -"
/* After failover to n2 (timeline 3): n1 inactive, n3 followed n2. */
#define NEW	"M=10.0.0.2 S=10.0.0.3"
#define N2_NEW	"n 10.0.0.2:10000 " NEW " ip=10.0.0.2 obs=0/3"
#define N3_NEW	"n 10.0.0.3:10000 " NEW " ip=10.0.0.3 obs=1/3"
/* The witness's copy of repmgr.nodes still names n1 (docs/POLICY.md). */
#define W_STALE	"w 10.0.0.4:10000 " SAME " ip=10.0.0.4 obs=0/1"
/* A restarted old primary n1 tells its old story, timeline 2. */
#define N1_OLD	"n 10.0.0.1:10000 " SAME " ip=10.0.0.1 obs=0/2"
#define VIEW_N2_NEW "P=10.0.0.2 S=10.0.0.3 W=10.0.0.4 rec=0 tl=3"

static const struct dcase cases[] = {
	/* ---- majority: steady state ---- */
	{ "majority: steady state, primary, allowRO on", MAJ, true,
	  "10.0.0.1", VIEW_N1, { N2_OK, N3_OK, W_OK },
	  true, true, "4 of 4 members agree", "111" },
	{ "majority: steady state, primary, allowRO off", MAJ, false,
	  "10.0.0.1", VIEW_N1, { N2_OK, N3_OK, W_OK },
	  true, false, "only active primary", "111" },
	{ "majority: steady state, standby, allowRO on", MAJ, true,
	  "10.0.0.2", VIEW_SB, { N1_OK, N3_OK, W_OK },
	  false, true, "healthy standby", "111" },
	{ "majority: steady state, standby, allowRO off", MAJ, false,
	  "10.0.0.2", VIEW_SB, { N1_OK, N3_OK, W_OK },
	  false, false, "allowRO off", "111" },
	{ "majority: one neighbour down, still a majority", MAJ, true,
	  "10.0.0.1", VIEW_N1, { N2_DOWN, N3_OK, W_OK },
	  true, true, "3 of 4", "011" },
	{ "majority: peers in another order and IPv4 spelt the same", MAJ,
	  false, "10.0.0.1", VIEW_N1,
	  { "n 10.0.0.2:10000 M=10.0.0.1 S=10.0.0.3,10.0.0.2 obs=1/2",
	    N3_OK, W_OK }, true, false, "4 of 4", "111" },
	{ "majority: IPv6 written two ways agrees", MAJ, false,
	  "2001:db8::1", "P=2001:db8::1 S=2001:db8::2 rec=0 tl=1",
	  { "n [2001:db8::2]:10000 M=2001:DB8:0:0::1 S=2001:db8:0::2 "
	    "ip=2001:db8::2 obs=1/1", "w [2001:db8::4]:1 -" },
	  true, false, "2 of 3", "10" },
	/* ---- majority: isolation and dead peers ---- */
	{ "majority: old primary isolated, all peers down", MAJ, true,
	  "10.0.0.1", VIEW_N1, { N2_DOWN, N3_DOWN, W_DOWN },
	  false, false, "only 1 of 4 members agree", "000" },
	{ "majority: only the witness answers (4 members)", MAJ, true,
	  "10.0.0.1", VIEW_N1, { N2_DOWN, N3_DOWN, W_OK },
	  false, false, "only 2 of 4", "001" },
	{ "majority: only the witness answers (3 members) is a majority",
	  MAJ, false, "10.0.0.1",
	  "P=10.0.0.1 S=10.0.0.2 W=10.0.0.4 rec=0 tl=2",
	  { N2_DOWN, "w 10.0.0.4:1 M=10.0.0.1 S=10.0.0.2 obs=0/1" },
	  true, false, "2 of 3", "01" },
	{ "majority: standby isolated loses ro", MAJ, true,
	  "10.0.0.2", VIEW_SB, { N1_DOWN, N3_DOWN, W_DOWN },
	  false, false, "only 1 of 4", "000" },
	{ "majority: a peer that answered garbage counts as down", MAJ, true,
	  "10.0.0.1", VIEW_N1,
	  { "n 10.0.0.2:10000 - unreadable answer", N3_DOWN, W_OK },
	  false, false, "only 2 of 4", "001" },
	{ "majority: no peer configured never allows anything", MAJ, true,
	  "10.0.0.1", VIEW_N1, { NULL },
	  false, false, "nothing to agree with", "" },
	{ "majority: two members, the neighbour must agree", MAJ, false,
	  "10.0.0.1", "P=10.0.0.1 S=10.0.0.2 rec=0 tl=1",
	  { "n 10.0.0.2:1 M=10.0.0.1 S=10.0.0.2" },
	  true, false, "2 of 2", "1" },
	{ "majority: two members, neighbour down", MAJ, false,
	  "10.0.0.1", "P=10.0.0.1 S=10.0.0.2 rec=0 tl=1",
	  { "n 10.0.0.2:1 -" }, false, false, "only 1 of 2", "0" },
	{ "majority: this node listed as its own neighbour votes once", MAJ,
	  false, "10.0.0.1", "P=10.0.0.1 S=10.0.0.2 W=10.0.0.4 rec=0 tl=2",
	  { "n 10.0.0.1:10000 M=10.0.0.1 S=10.0.0.2 ip=10.0.0.1 obs=0/2",
	    "n 10.0.0.2:10000 -", "w 10.0.0.4:1 -" },
	  false, false, "only 1 of 4", "000" },
	{ "majority: this node under another address (its nodeId) votes "
	  "once", MAJ, false, "10.0.0.1",
	  "P=10.0.0.1 S=10.0.0.2 W=10.0.0.4 rec=0 tl=2 id=1",
	  { "n db1.example:10000 M=10.0.0.1 S=10.0.0.2 ip=db1.example id=1 "
	    "obs=0/2", "n 10.0.0.2:10000 -", "w 10.0.0.4:1 -" },
	  false, false, "only 1 of 4", "000" },
	/* ---- majority: one node configured twice votes once ---- */
	{ "majority: one peer as IPv4 and IPv4-mapped IPv6 votes once", MAJ,
	  false, "10.0.0.1", VIEW_N1,
	  { N2_OK, "n [::ffff:10.0.0.2]:10000 " SAME " ip=10.0.0.2 obs=1/2",
	    N3_DOWN, W_DOWN },
	  false, false, "only 2 of 5 members agree", "1000" },
	{ "majority: one peer as a host name and its IP (same nodeId) votes "
	  "once", MAJ, false, "10.0.0.1", VIEW_N1,
	  { "n 10.0.0.2:10000 " SAME " ip=10.0.0.2 id=2 obs=1/2",
	    "n db2.example:10000 " SAME " ip=db2.example id=2 obs=1/2",
	    W_DOWN },
	  false, false, "only 2 of 4 members agree", "100" },
	{ "majority: Go peer (no ip, no nodeId) dialled twice votes once",
	  MAJ, false, "10.0.0.1", VIEW_N1,
	  { "n 10.0.0.2:10000 " SAME, "n [::FFFF:10.0.0.2]:10001 " SAME,
	    N3_DOWN, W_DOWN },
	  false, false, "only 2 of 5 members agree", "1000" },
	{ "majority: a duplicate that disagrees first, then agrees, counts "
	  "once", MAJ, false, "10.0.0.1", VIEW_N1,
	  { "n [::ffff:10.0.0.2]:10000 M=10.0.0.2 S=10.0.0.3 ip=10.0.0.2 "
	    "id=2 obs=1/2", "n 10.0.0.2:10000 " SAME " ip=10.0.0.2 id=2 "
	    "obs=1/2", N3_OK, W_DOWN },
	  true, false, "3 of 5 members agree", "0110" },
	{ "majority: distinct peers without nodeIds still vote one each",
	  MAJ, false, "10.0.0.1", VIEW_N1,
	  { N2_OK, N3_OK, W_OK },
	  true, false, "4 of 4 members agree", "111" },
	{ "seed: one peer configured twice is not deduplicated (as Go)",
	  SEED, false, "10.0.0.1", VIEW_N1,
	  { N2_OK, "n [::ffff:10.0.0.2]:10000 " SAME " ip=10.0.0.2 obs=1/2" },
	  true, false, "synced with neighbour 10.0.0.2:10000", "11" },
	{ "seed: this node listed as its own neighbour is synced (as Go)",
	  SEED, false, "10.0.0.1", VIEW_N1, { N1_OK, W_DOWN },
	  true, false, "synced with neighbour 10.0.0.1:10000", "10" },
	/* ---- majority: disagreement ---- */
	{ "majority: one neighbour disagrees, the rest agree", MAJ, false,
	  "10.0.0.1", VIEW_N1,
	  { "n 10.0.0.2:10000 M=10.0.0.1 S=10.0.0.2 obs=1/2", N3_OK, W_OK },
	  true, false, "3 of 4", "011" },
	{ "majority: both neighbours disagree, witness agrees", MAJ, true,
	  "10.0.0.1", VIEW_N1,
	  { "n 10.0.0.2:10000 M=10.0.0.2 S=10.0.0.3",
	    "n 10.0.0.3:10000 M=10.0.0.1 S=10.0.0.3", W_OK },
	  false, false, "only 2 of 4", "001" },
	{ "majority: neighbour agrees on primaries, not on standbys", MAJ,
	  false, "10.0.0.1", "P=10.0.0.1 S=10.0.0.2 rec=0 tl=1",
	  { "n 10.0.0.2:1 M=10.0.0.1 S=10.0.0.2,10.0.0.3" },
	  false, false, "only 1 of 2", "0" },
	/* ---- majority: failover stories (docs/POLICY.md) ---- */
	{ "majority: restarted old primary learns the higher timeline",
	  MAJ, true, "10.0.0.1", VIEW_N1, { N2_NEW, N3_NEW, W_STALE },
	  false, false, "saw timeline 3, ours is 2", "001" },
	{ "majority: restarted old primary, Go peers, stale witness", MAJ,
	  true, "10.0.0.1", VIEW_N1,
	  { "n 10.0.0.2:10000 " NEW, "n 10.0.0.3:10000 " NEW, W_STALE },
	  false, false, "only 2 of 4", "001" },
	{ "majority: stale standby agrees with old primary, new primary "
	  "reachable", MAJ, true, "10.0.0.1", VIEW_N1,
	  { N2_NEW, N3_OK, W_STALE },
	  false, false, "saw timeline 3", "011" },
	{ "majority: stale standby + stale witness outvote an unreachable "
	  "new primary (only one writer: see the next row)", MAJ, true,
	  "10.0.0.1", VIEW_N1, { "n 10.0.0.2:10000 -", N3_OK, W_STALE },
	  true, true, "3 of 4", "011" },
	{ "majority: meanwhile the new primary gets no rw", MAJ, true,
	  "10.0.0.2", VIEW_N2_NEW,
	  { N1_DOWN, "n 10.0.0.3:10000 " SAME " obs=1/2", W_STALE },
	  false, false, "only 1 of 4", "000" },
	{ "majority: new primary once standby and witness followed", MAJ,
	  true, "10.0.0.2", VIEW_N2_NEW,
	  { N1_OLD, N3_NEW, "w 10.0.0.4:10000 " NEW " obs=0/1" },
	  true, true, "3 of 4", "011" },
	{ "majority: new primary right after promotion (witness stale)",
	  MAJ, false, "10.0.0.2", VIEW_N2_NEW,
	  { N1_DOWN, N3_NEW, W_STALE },
	  false, false, "only 2 of 4", "010" },
	{ "majority: standby that has not followed loses ro", MAJ, true,
	  "10.0.0.3", VIEW_SB, { N1_DOWN, N2_NEW, W_STALE },
	  false, false, "saw timeline 3, ours is 2", "001" },
	{ "majority: witness timeline is another cluster's, ignored", MAJ,
	  false, "10.0.0.1", VIEW_N1,
	  { N2_OK, N3_OK, "w 10.0.0.4:10000 " SAME " obs=0/9" },
	  true, false, "4 of 4", "111" },
	{ "majority: witness-addressed answer ignored for timelines", MAJ,
	  false, "10.0.0.1", VIEW_N1,
	  { N2_OK, "n 10.0.0.4:10000 " SAME " ip=10.0.0.4 obs=0/9" },
	  true, false, "3 of 3", "11" },
	/* ---- majority: what repmgr.nodes says about primaries ---- */
	{ "majority: two active primaries in repmgr.nodes", MAJ, true,
	  "10.0.0.1", "P=10.0.0.1,10.0.0.2 S=10.0.0.3 rec=0 tl=2",
	  { "n 10.0.0.2:10000 M=10.0.0.1,10.0.0.2 S=10.0.0.3",
	    "n 10.0.0.3:10000 M=10.0.0.2,10.0.0.1 S=10.0.0.3", W_DOWN },
	  false, false, "2 active primaries", "110" },
	{ "majority: no active primary in repmgr.nodes", MAJ, true,
	  "10.0.0.2", "P= S=10.0.0.2,10.0.0.3 rec=1 tl=2",
	  { "n 10.0.0.1:1 M= S=10.0.0.2,10.0.0.3", W_DOWN },
	  false, false, "0 active primaries", "10" },
	{ "majority: primary in recovery", MAJ, true, "10.0.0.1",
	  "P=10.0.0.1 S=10.0.0.2,10.0.0.3 W=10.0.0.4 rec=1 tl=2",
	  { N2_OK, N3_OK, W_OK }, false, false, "in recovery", "111" },
	{ "majority: another data node out of recovery on our timeline",
	  MAJ, true, "10.0.0.1", VIEW_N1,
	  { "n 10.0.0.2:10000 " SAME " ip=10.0.0.2 obs=0/2", N3_OK, W_OK },
	  false, false, "out of recovery on timeline 2", "111" },
	{ "majority: old primary on a lower timeline does not block", MAJ,
	  false, "10.0.0.2", VIEW_N2_NEW,
	  { N1_OLD, N3_NEW, "w 10.0.0.4:10000 " NEW " obs=0/1" },
	  true, false, "3 of 4", "011" },
	{ "majority: standby promoted outside repmgr keeps no ro", MAJ,
	  true, "10.0.0.2",
	  "P=10.0.0.1 S=10.0.0.2,10.0.0.3 W=10.0.0.4 rec=0 tl=2",
	  { N1_OK, N3_OK, W_OK },
	  false, false, "not in recovery", "111" },
	{ "majority: node missing from repmgr.nodes", MAJ, true,
	  "10.0.0.9", VIEW_SB, { N1_OK, N3_OK, W_OK },
	  false, false, "not an active standby", "111" },
	{ "majority: local database down", MAJ, true, "10.0.0.1",
	  "DOWN connection refused", { N2_OK, N3_OK, W_OK },
	  false, false, "local database unreachable: connection refused",
	  "000" },

	/* ---- seed: logic.go, steps 1-4 ---- */
	{ "seed: steady state, primary", SEED, true, "10.0.0.1", VIEW_N1,
	  { N2_OK, N3_OK, W_OK },
	  true, true, "synced with neighbour 10.0.0.2:10000", "111" },
	{ "seed: steady state, primary, allowRO off", SEED, false,
	  "10.0.0.1", VIEW_N1, { N2_OK, N3_OK, W_OK },
	  true, false, "in the primary list", "111" },
	{ "seed: standby synced gets ro", SEED, true, "10.0.0.2", VIEW_SB,
	  { N1_OK, N3_OK, W_OK },
	  false, true, "is not in the primary list", "111" },
	{ "seed: standby synced, allowRO off", SEED, false, "10.0.0.2",
	  VIEW_SB, { N1_OK, N3_OK, W_OK }, false, false, "synced", "111" },
	{ "seed: first neighbour down, the next one decides", SEED, true,
	  "10.0.0.1", VIEW_N1, { N2_DOWN, N3_OK, W_DOWN },
	  true, true, "synced with neighbour 10.0.0.3:10000", "010" },
	{ "seed: first answer not synced: witness, not the next neighbour",
	  SEED, true, "10.0.0.1", VIEW_N1,
	  { "n 10.0.0.2:10000 " NEW, N3_OK, W_OK },
	  true, true, "synced with witness", "011" },
	{ "seed: neighbour not synced, witness down", SEED, true,
	  "10.0.0.1", VIEW_N1, { "n 10.0.0.2:10000 " NEW, N3_OK, W_DOWN },
	  false, false, "witness 10.0.0.4:10000 did not answer", "010" },
	{ "seed: neighbour not synced, witness not synced", SEED, true,
	  "10.0.0.1", VIEW_N1,
	  { "n 10.0.0.2:10000 " NEW, "w 10.0.0.4:10000 " NEW },
	  false, false, "witness 10.0.0.4:10000 is not synced", "00" },
	{ "seed: only the witness up", SEED, true, "10.0.0.1", VIEW_N1,
	  { N2_DOWN, N3_DOWN, W_OK },
	  true, true, "synced with witness", "001" },
	{ "seed: all peers down", SEED, true, "10.0.0.1", VIEW_N1,
	  { N2_DOWN, N3_DOWN, W_DOWN },
	  false, false, "no neighbour answered, and witness", "000" },
	{ "seed: no witness configured, neighbour down", SEED, true,
	  "10.0.0.1", VIEW_N1, { N2_DOWN },
	  false, false, "no witness is configured", "0" },
	{ "seed: garbage from the first neighbour, next one decides", SEED,
	  false, "10.0.0.1", VIEW_N1,
	  { "n 10.0.0.2:10000 - unreadable answer", N3_OK },
	  true, false, "10.0.0.3:10000", "01" },
	{ "seed: local database down", SEED, true, "10.0.0.1",
	  "DOWN timeout", { N2_OK, N3_OK, W_OK },
	  false, false, "local database unreachable", "000" },
	/* the known weaknesses the majority policy fixes, kept as Go had them */
	{ "seed: stale standby lets the restarted old primary write", SEED,
	  true, "10.0.0.1", VIEW_N1, { N3_OK, N2_NEW, W_STALE },
	  true, true, "synced with neighbour 10.0.0.3", "101" },
	{ "seed: higher timeline of a peer is not looked at", SEED, false,
	  "10.0.0.1", VIEW_N1,
	  { "n 10.0.0.2:10000 " SAME " obs=1/7", W_OK },
	  true, false, "synced", "11" },
	{ "seed: two active primaries, both agreed, rw", SEED, false,
	  "10.0.0.1", "P=10.0.0.1,10.0.0.2 S=10.0.0.3 rec=0 tl=2",
	  { "n 10.0.0.2:10000 M=10.0.0.2,10.0.0.1 S=10.0.0.3" },
	  true, false, "in the primary list", "1" },
	{ "seed: primary in recovery is not looked at", SEED, false,
	  "10.0.0.1", "P=10.0.0.1 S=10.0.0.2,10.0.0.3 rec=1 tl=2",
	  { N2_OK }, true, false, "synced", "1" },
};

/* ---- building the inputs from the table's text ---- */

struct arena {
	void	*ptr[512];
	size_t	 n;
};

static void *
keep(struct arena *a, void *p)
{
	assert_non_null(p);
	assert_true(a->n < sizeof(a->ptr) / sizeof(a->ptr[0]));
	a->ptr[a->n++] = p;
	return p;
}

static void
arena_free(struct arena *a)
{
	while (a->n > 0)
		free(a->ptr[--a->n]);
}

/* "a,b,c" -> array; "" -> none. */
static char **
split_list(struct arena *a, const char *s, size_t *n)
{
	char **list = keep(a, calloc(16, sizeof(char *)));
	char *copy = keep(a, strdup(s)), *tok, *save;

	*n = 0;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save))
		list[(*n)++] = tok;
	return list;
}

static void
parse_view(struct arena *a, const char *spec, Harepd__LocalView *v)
{
	char *copy = keep(a, strdup(spec)), *tok, *save;

	harepd__local_view__init(v);
	if (strncmp(spec, "DOWN ", 5) == 0) {
		v->db_error = copy + 5;
		return;
	}
	for (tok = strtok_r(copy, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save)) {
		if (strncmp(tok, "P=", 2) == 0)
			v->primaries = split_list(a, tok + 2, &v->n_primaries);
		else if (strncmp(tok, "S=", 2) == 0)
			v->standbys = split_list(a, tok + 2, &v->n_standbys);
		else if (strncmp(tok, "W=", 2) == 0)
			v->witness = tok + 2;
		else if (strncmp(tok, "rec=", 4) == 0)
			v->in_recovery = atoi(tok + 4);
		else if (strncmp(tok, "tl=", 3) == 0)
			v->timeline = (uint32_t)atoi(tok + 3);
		else if (strncmp(tok, "id=", 3) == 0)
			v->node_id = atoi(tok + 3);
		else
			fail_msg("bad view token %s", tok);
	}
}

static int
gate_state(const char *s)
{
	if (strncmp(s, "DENIED", 6) == 0)
		return MODELS__GATE__STATE__DENIED;
	if (strncmp(s, "INTENT", 6) == 0)
		return MODELS__GATE__STATE__INTENT;
	if (strncmp(s, "ALLOWED", 7) == 0)
		return MODELS__GATE__STATE__ALLOWED;
	if (strncmp(s, "UNKNOWN", 7) == 0)
		return MODELS__GATE__STATE__UNKNOWN;
	fail_msg("bad gate state %s", s);
	return -1;
}

/* "STATE[/viewStableMs[/leaseMs[/members]]]" */
static Models__Gate *
parse_gate(struct arena *a, const char *spec)
{
	Models__Gate *g = keep(a, malloc(sizeof(*g)));
	const char *slash;

	models__gate__init(g);
	g->state = gate_state(spec);
	g->leasems = 3000;
	g->deadlinems = 1000;
	if ((slash = strchr(spec, '/')) != NULL)
		g->viewstablems = strtoull(slash + 1, NULL, 10);
	if (slash != NULL && (slash = strchr(slash + 1, '/')) != NULL)
		g->leasems = (uint32_t)strtoul(slash + 1, NULL, 10);
	if (slash != NULL && (slash = strchr(slash + 1, '/')) != NULL)
		g->members = (uint32_t)strtoul(slash + 1, NULL, 10);
	return g;
}

/* "ID:AGE,ID:AGE": whom a member's rpc worker gave its lists, how long ago */
static void
parse_answered(struct arena *a, const char *spec, Models__Gate *g)
{
	char *copy = keep(a, strdup(spec)), *tok, *save = NULL;

	g->answered = keep(a, calloc(DECIDE_ANSWERED_MAX,
	    sizeof(*g->answered)));
	for (tok = strtok_r(copy, ",", &save); tok != NULL &&
	    g->n_answered < DECIDE_ANSWERED_MAX;
	    tok = strtok_r(NULL, ",", &save)) {
		Models__Gate__Answered *e = keep(a, malloc(sizeof(*e)));

		models__gate__answered__init(e);
		e->nodeid = atoi(tok);
		e->agems = strtoull(strchr(tok, ':') + 1, NULL, 10);
		g->answered[g->n_answered++] = e;
	}
}

/* "ID:AGE,... t=TRACKED" as this node's rpc worker last reported it */
static void
parse_own(const char *spec, struct own_answers *o)
{
	const char *p = spec, *t = strstr(spec, "t=");

	memset(o, 0, sizeof(*o));
	if (spec == NULL)
		return;
	o->valid = true;
	o->tracked_ms = t != NULL ? atoll(t + 2) : 0;
	while (*p != '\0' && *p != ' ' && strncmp(p, "t=", 2) != 0 &&
	    o->n < DECIDE_ANSWERED_MAX) {
		o->node_id[o->n] = atoi(p);
		o->age_ms[o->n++] = atoll(strchr(p, ':') + 1);
		p += strcspn(p, ", ");
		if (*p == ',')
			p++;
	}
}

static void
parse_answer_token(struct arena *a, char *tok, Models__IKnow *k)
{
	Models__Observation *o;

	if (strncmp(tok, "M=", 2) == 0)
		k->master = split_list(a, tok + 2, &k->n_master);
	else if (strncmp(tok, "S=", 2) == 0)
		k->slaves = split_list(a, tok + 2, &k->n_slaves);
	else if (strncmp(tok, "ip=", 3) == 0)
		k->ip = tok + 3;
	else if (strncmp(tok, "id=", 3) == 0)
		k->nodeid = atoi(tok + 3);
	else if (strncmp(tok, "obs=", 4) == 0) {
		o = keep(a, malloc(sizeof(*o)));
		models__observation__init(o);
		o->inrecovery = tok[4] == '1';
		o->timeline = (uint32_t)atoi(tok + 6);
		k->observation = o;
	} else if (strncmp(tok, "gate=", 5) == 0)
		k->gate = parse_gate(a, tok + 5);
	else if (strncmp(tok, "ans=", 4) == 0 && k->gate != NULL)
		parse_answered(a, tok + 4, k->gate);
	else if (strncmp(tok, "trk=", 4) == 0 && k->gate != NULL)
		k->gate->answerstrackedms = strtoull(tok + 4, NULL, 10);
	else
		fail_msg("bad peer token %s", tok);
}

static Harepd__PeerAnswer *
parse_peer(struct arena *a, const char *spec)
{
	Harepd__PeerAnswer *p = keep(a, malloc(sizeof(*p)));
	char *copy = keep(a, strdup(spec)), *tok, *save;
	Models__IKnow *k;

	harepd__peer_answer__init(p);
	p->role = copy[0] == 'w' ? PROBE_ROLE_WITNESS : PROBE_ROLE_NEIGHBOUR;
	p->target = strtok_r(copy + 2, " ", &save);
	tok = strtok_r(NULL, " ", &save);
	if (tok != NULL && strcmp(tok, "-") == 0) {
		p->error = save != NULL && *save ? save : "DEADLINE_EXCEEDED";
		p->agrees = true;	/* decide must clear it */
		return p;
	}
	k = keep(a, malloc(sizeof(*k)));
	models__iknow__init(k);
	for (; tok != NULL; tok = strtok_r(NULL, " ", &save))
		parse_answer_token(a, tok, k);
	p->answered = true;
	p->answer = k;
	return p;
}

static void
run_case(void **state)
{
	const struct dcase *tc = *state;
	Harepd__PeerAnswer *peers[MAXP];
	struct conf_target witness = { .host = "w", .port = 1, .text = "w" };
	struct conf c = { 0 };
	struct probe_verdict v;
	Harepd__LocalView view;
	struct arena a = { .n = 0 };
	/* cover_in_ms -1: the probe sets it so before every tick */
	struct decide_state st = { .rw_allowed_last = true, .holding = true,
	    .majority_since_ms = 0, .rw_allowed_at_ms = 1000000 - 1000,
	    .served_gate = MODELS__GATE__STATE__ALLOWED, .cover_in_ms = -1 };
	char agrees[MAXP + 1];
	size_t n;

	parse_view(&a, tc->view, &view);
	for (n = 0; n < MAXP && tc->peers[n] != NULL; n++) {
		peers[n] = parse_peer(&a, tc->peers[n]);
		if (strcmp(peers[n]->role, PROBE_ROLE_WITNESS) == 0)
			c.witness = &witness;
		else
			c.n_neighbours++;
	}
	c.policy = tc->policy;
	c.allow_ro = tc->allow_ro;
	c.primary_ip = unconst_str(tc->self);
	c.lease_ms = 3000;
	c.connection_deadline = 1;
	st.cover_in_ms = -1;	/* as the probe sets it before each tick */
	decide(&view, peers, n, &c, 1000000, &st, &v);
	for (size_t i = 0; i < n; i++)
		agrees[i] = peers[i]->agrees ? '1' : '0';
	agrees[n] = '\0';
	print_message("# reason: %s\n", v.reason);
	assert_int_equal(v.rw_allow, tc->rw);
	assert_int_equal(v.ro_allow, tc->ro);
	if (strstr(v.reason, tc->reason) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", v.reason, tc->reason);
	assert_string_equal(agrees, tc->agrees);
	/* the state says what the next tick starts from */
	if (tc->policy == SEED) {
		assert_false(st.rw_allowed_last || st.holding);
		/* no hold-down, so no early tick: the probe ticked every
		 * 2 ms when this was 0 (the memset's) */
		assert_int_equal(st.cover_in_ms, -1);
		assert_false(st.retick);
	} else {
		assert_int_equal(st.rw_allowed_last, v.rw_allow);
		assert_int_equal(st.holding, v.rw_allow);
	}
	arena_free(&a);
}

/* ---- the hold-down: sequences of ticks of one node ---- */

/* n1, primary, every member agrees: the rw condition holds. */
#define HOLDS	{ N2_OK, N3_OK, W_OK }
/* n1 cut off from the data nodes, the witness still agrees. */
#define FAILS	{ N2_DOWN, N3_DOWN, W_OK }

struct tick {
	int64_t		 now_ms;	/* 0 ends the sequence */
	const char	*peers[MAXP];
	bool		 rw, ro;
	const char	*reason;
	const char	*view;		/* NULL: VIEW_N1 */
	const char	*served;	/* gate served at the asks; NULL:
					   what the last tick declared */
	int64_t		 stable_ms;	/* this node's view stable for */
	const char	*declared;	/* NULL: not checked */
	const char	*own;		/* this node's rpc worker's table of
					   answers (parse_own); NULL: none */
};

struct hcase {
	const char	*name;
	enum conf_policy policy;
	struct decide_state start;
	struct tick	 ticks[12];
};

/* Rows leave the handover columns out when they do not test them. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* leaseMs 3000 + connectionDeadline 1 s + 250 ms grace */
#define HOLD	4250
/* watchDog 1 s + connectionDeadline 1 s + 250 ms grace */
#define GAP	2250

static const struct hcase hcases[] = {
	{ "hold-down: condition just met denies rw, held for the hold-down "
	  "allows", MAJ, { 0 }, {
		{ 1000, HOLDS, false, true,
		  "hold-down: majority held for 0 of 4250 ms before rw; "
		  "4 of 4 members agree", NULL },
		{ 2000, HOLDS, false, true, "held for 1000 of 4250 ms", NULL },
		{ 3500, HOLDS, false, true, "held for 2500 of 4250 ms", NULL },
		{ 5249, HOLDS, false, true, "held for 4249 of 4250 ms", NULL },
		{ 5250, HOLDS, true, true, "4 of 4 members agree", NULL },
		{ 6250, HOLDS, true, true, "4 of 4 members agree", NULL },
		{ 0 } } },
	{ "hold-down: a restarted probe (fresh state) waits even in steady "
	  "state", MAJ, { 0 }, {
		{ 100000, HOLDS, false, true, "held for 0 of 4250", NULL },
		{ 102000, HOLDS, false, true, "held for 2000 of 4250", NULL },
		{ 100000 + HOLD, HOLDS, true, true, "4 of 4", NULL },
		{ 0 } } },
	{ "hold-down: a tick where the condition fails starts the wait "
	  "again", MAJ, { 0 }, {
		{ 1000, HOLDS, false, true, "held for 0 of 4250", NULL },
		{ 3000, HOLDS, false, true, "held for 2000 of 4250", NULL },
		{ 4000, HOLDS, false, true, "held for 3000 of 4250", NULL },
		{ 5000, FAILS, false, false, "only 2 of 4", NULL },
		{ 6000, HOLDS, false, true, "held for 0 of 4250", NULL },
		{ 8000, HOLDS, false, true, "held for 2000 of 4250", NULL },
		{ 6000 + HOLD - 1, HOLDS, false, true, "held for 4249 of",
		  NULL },
		{ 6000 + HOLD, HOLDS, true, true, "4 of 4", NULL },
		{ 0 } } },
	{ "hold-down: already allowed and the condition holds: stays "
	  "allowed without waiting", MAJ,
	  { .rw_allowed_last = true, .holding = true,
	    .majority_since_ms = 9000, .rw_allowed_at_ms = 9500 }, {
		{ 10000, HOLDS, true, true, "4 of 4", NULL },
		{ 11000, HOLDS, true, true, "4 of 4", NULL },
		{ 0 } } },
	{ "hold-down: allowed, the condition fails once, then the node "
	  "waits again", MAJ,
	  { .rw_allowed_last = true, .holding = true,
	    .majority_since_ms = 0, .rw_allowed_at_ms = 9000 }, {
		{ 10000, HOLDS, true, true, "4 of 4", NULL },
		{ 11000, FAILS, false, false, "only 2 of 4", NULL },
		{ 12000, HOLDS, false, true, "held for 0 of 4250", NULL },
		{ 0 } } },
	{ "hold-down: a higher timeline resets it like any failed rule", MAJ,
	  { .rw_allowed_last = false, .holding = true,
	    .majority_since_ms = 0 }, {
		{ 1000, HOLDS, false, true, "held for 1000 of 4250", NULL },
		{ 2000, { N2_NEW, N3_OK, W_OK }, false, false,
		  "saw timeline 3", NULL },
		{ 3000, HOLDS, false, true, "held for 0 of 4250", NULL },
		{ 0 } } },
	{ "hold-down: the local database down resets it", MAJ,
	  { .rw_allowed_last = true, .holding = true }, {
		{ 1000, HOLDS, true, true, "4 of 4", NULL },
		{ 2000, HOLDS, false, false, "local database unreachable",
		  "DOWN timeout" },
		{ 3000, HOLDS, false, true, "held for 0 of 4250", NULL },
		{ 0 } } },
	{ "hold-down: ro of a standby is not held down", MAJ, { 0 }, {
		{ 1000, { N1_OK, N3_OK, W_OK }, false, true,
		  "healthy standby", VIEW_SB },
		{ 0 } } },
	/* ---- handover: gate reports instead of the blind wait ---- */
	{ "handover: every data peer reports DENIED: rw at once, no "
	  "hold-down", MAJ, { 0 }, {
		{ 1000, { N2_OK " gate=DENIED", N3_OK " gate=DENIED", W_OK },
		  true, true, "4 of 4", NULL, "INTENT", 0, "ALLOWED" },
		{ 0 } } },
	{ "handover: INTENT not yet served: announce it, re-tick, then "
	  "take rw", MAJ, { 0 }, {
		{ 1000, { N2_OK " gate=DENIED", N3_OK " gate=DENIED", W_OK },
		  false, true, "announcing INTENT", NULL, "UNKNOWN", 0,
		  "INTENT" },
		{ 1100, { N2_OK " gate=DENIED", N3_OK " gate=DENIED", W_OK },
		  true, true, "4 of 4", NULL, NULL, 0, "ALLOWED" },
		{ 0 } } },
	{ "handover: a data peer whose gate still allows is waited for",
	  MAJ, { 0 }, {
		{ 1000, { N2_OK " gate=ALLOWED", N3_OK " gate=DENIED", W_OK },
		  false, true, "reports gate ALLOWED, waiting", NULL, "INTENT",
		  0, "INTENT" },
		{ 1500, { N2_OK " gate=DENIED", N3_OK " gate=DENIED", W_OK },
		  true, true, "4 of 4", NULL, NULL, 0, "ALLOWED" },
		{ 0 } } },
	{ "handover: UNKNOWN (hba not reported yet) counts as a holder",
	  MAJ, { 0 }, {
		{ 1000, { N2_OK " gate=UNKNOWN", N3_OK " gate=DENIED", W_OK },
		  false, true, "reports gate UNKNOWN", NULL, "INTENT", 0,
		  NULL },
		{ 0 } } },
	{ "handover: a peer out of recovery on a higher timeline: rule 4 "
	  "denies before the handover is asked", MAJ, { 0 }, {
		{ 1000, { "n 10.0.0.2:10000 " SAME " ip=10.0.0.2 obs=0/2 "
		  "id=2 gate=INTENT", N3_OK " gate=DENIED", W_OK },
		  false, false, "saw timeline 2", "P=10.0.0.1 "
		  "S=10.0.0.2,10.0.0.3 W=10.0.0.4 rec=0 tl=1 id=1", "INTENT",
		  0, "DENIED" },
		{ 0 } } },
	{ "handover: INTENT of a peer on a lower timeline: keep INTENT",
	  MAJ, { 0 }, {
		{ 1000, { "n 10.0.0.2:10000 " SAME " ip=10.0.0.2 obs=0/1 "
		  "id=2 gate=INTENT", N3_OK " gate=DENIED", W_OK },
		  false, true, "reports gate INTENT", NULL, "INTENT", 0,
		  "INTENT" },
		{ 0 } } },
	{ "handover: equal timelines, the lower node id keeps INTENT", MAJ,
	  { 0 }, {
		{ 1000, { "n 10.0.0.2:10000 " SAME " ip=10.0.0.2 obs=1/2 "
		  "id=2 gate=INTENT", N3_OK " gate=DENIED", W_OK },
		  false, true, "reports gate INTENT", "P=10.0.0.1 "
		  "S=10.0.0.2,10.0.0.3 W=10.0.0.4 rec=0 tl=2 id=1", "INTENT",
		  0, "INTENT" },
		{ 0 } } },
	{ "handover: equal timelines, the higher node id backs off", MAJ,
	  { 0 }, {
		{ 1000, { "n 10.0.0.2:10000 " SAME " ip=10.0.0.2 obs=1/2 "
		  "id=2 gate=INTENT", N3_OK " gate=DENIED", W_OK },
		  false, true, "reports gate INTENT", "P=10.0.0.1 "
		  "S=10.0.0.2,10.0.0.3 W=10.0.0.4 rec=0 tl=2 id=5", "INTENT",
		  0, "DENIED" },
		{ 0 } } },
	{ "handover: a silent data peer is covered only by the hold-down",
	  MAJ, { 0 }, {
		{ 1000, { N2_DOWN, N3_OK " gate=DENIED", W_OK },
		  false, true, "hold-down: majority held for 0 of 4250", NULL,
		  "INTENT", 0, "INTENT" },
		{ 3000, { N2_DOWN, N3_OK " gate=DENIED", W_OK },
		  false, true, "hold-down: majority held for 2000 of 4250",
		  NULL, NULL, 0, "INTENT" },
		{ 1000 + HOLD, { N2_DOWN, N3_OK " gate=DENIED", W_OK },
		  true, true, "3 of 4", NULL, NULL, 0, "ALLOWED" },
		{ 0 } } },
	{ "handover: a Go peer (no gate) is covered only by the hold-down",
	  MAJ, { 0 }, {
		{ 1000, { N2_OK, N3_OK " gate=DENIED", W_OK },
		  false, true, "hold-down: majority held for 0", NULL,
		  "INTENT", 0, NULL },
		{ 0 } } },
	{ "handover: restart, a silent peer, but a majority stable for "
	  "longer than the hold-down: rw at the first tick", MAJ, { 0 }, {
		{ 1000, { N2_DOWN, N3_OK " gate=DENIED/60000",
		  W_OK " gate=DENIED/60000" }, true, true, "3 of 4", NULL,
		  "ALLOWED", 60000, "ALLOWED" },
		{ 0 } } },
	{ "handover: this node's own view of unknown age does not count",
	  MAJ, { 0 }, {
		{ 1000, { N2_DOWN, N3_OK " gate=DENIED/60000",
		  W_OK " gate=DENIED/60000" }, false, true, "hold-down", NULL,
		  "ALLOWED", 0, "INTENT" },
		{ 0 } } },
	{ "handover: stable members below a majority do not cover", MAJ,
	  { 0 }, {
		{ 1000, { N2_DOWN, N3_OK " gate=DENIED/60000",
		  W_OK " gate=DENIED/100" }, false, true, "hold-down", NULL,
		  "ALLOWED", 60000, NULL },
		{ 0 } } },
	{ "handover: a peer's longer lease lengthens the hold-down", MAJ,
	  { 0 }, {
		{ 1000, { N2_DOWN, N3_OK " gate=DENIED/0/9000", W_OK },
		  false, true, "held for 0 of 10250", NULL, "INTENT", 0,
		  NULL },
		{ 3000, { N2_DOWN, N3_OK " gate=DENIED/0/9000", W_OK },
		  false, true, "held for 2000 of 10250", NULL, NULL, 0,
		  NULL },
		{ 1000 + HOLD, { N2_DOWN, N3_OK " gate=DENIED/0/9000", W_OK },
		  false, true, "held for 4250 of 10250", NULL, NULL, 0,
		  NULL },
		{ 7000, { N2_DOWN, N3_OK " gate=DENIED/0/9000", W_OK },
		  false, true, "held for 6000 of 10250", NULL, NULL, 0,
		  NULL },
		{ 9000, { N2_DOWN, N3_OK " gate=DENIED/0/9000", W_OK },
		  false, true, "held for 8000 of 10250", NULL, NULL, 0,
		  NULL },
		{ 11250, { N2_DOWN, N3_OK " gate=DENIED/0/9000", W_OK },
		  true, true, "3 of 4", NULL, NULL, 0, NULL },
		{ 0 } } },
	{ "handover: a peer configured with more members raises the "
	  "majority", MAJ, { 0 }, {
		{ 1000, { N2_DOWN, N3_OK " gate=DENIED/0/3000/6", W_OK },
		  false, false, "only 3 of 6 members agree", NULL, NULL, 0,
		  "DENIED" },
		{ 0 } } },
	{ "handover: holding rw, another data peer reports ALLOWED: deny",
	  MAJ, { .rw_allowed_last = true, .holding = true,
	    .rw_allowed_at_ms = 900 }, {
		{ 1000, { N2_OK " gate=ALLOWED", N3_OK " gate=DENIED", W_OK },
		  false, true, "reports its gate allows rw too", NULL, NULL, 0,
		  "DENIED" },
		{ 0 } } },
	{ "handover: holding rw, a peer in INTENT does not take it away",
	  MAJ, { .rw_allowed_last = true, .holding = true,
	    .rw_allowed_at_ms = 900 }, {
		{ 1000, { N2_OK " gate=INTENT", N3_OK " gate=DENIED", W_OK },
		  true, true, "4 of 4", NULL, NULL, 0, "ALLOWED" },
		{ 0 } } },
	{ "handover: an allow older than its lease (stalled ticks) is taken "
	  "again, not kept", MAJ, { .rw_allowed_last = true, .holding = true,
	    .majority_since_ms = 9000, .last_tick_ms = 9000,
	    .rw_allowed_at_ms = 1000 }, {
		{ 9500, { N2_DOWN, N3_OK " gate=DENIED", W_OK },
		  false, true, "hold-down: majority held for 500 of 4250",
		  NULL, "ALLOWED", 0, "INTENT" },
		{ 0 } } },
	/* ---- the silence cover ---- */
	{ "silence: every other member has not given its lists to the "
	  "silent node for the hold-down (lease + deadline + grace): rw before the hold-down after the promote", MAJ,
	  { 0 }, {
		{ 1000, { N2_ID " gate=ALLOWED", N3_OK " gate=DENIED", W_OK
		  " gate=DENIED" }, false, true, "reports gate ALLOWED" },
		{ 2000, { N2_DOWN, N3_SILENT(4300), W_SILENT(4300) }, false,
		  true, "silence cover", NULL, NULL, 0, "INTENT",
		  "2:4300 t=60000" },
		{ 2100, { N2_DOWN, N3_SILENT(4400), W_SILENT(4400) }, true,
		  true, "silence cover", NULL, NULL, 0, "ALLOWED",
		  "2:4400 t=60000" },
		{ 0 } } },
	{ "silence: the silent node's id is not known: hold-down", MAJ,
	  { 0 }, {
		{ 2000, { N2_DOWN, N3_SILENT(4300), W_SILENT(4300) }, false,
		  true, "hold-down", NULL, NULL, 0, NULL, "2:4300 t=60000" },
		{ 0 } } },
	{ "silence: one member gave the silent node its lists within the "
	  "hold-down: hold-down", MAJ, { 0 }, {
		{ 1000, { N2_ID " gate=ALLOWED", N3_OK " gate=DENIED", W_OK
		  " gate=DENIED" }, false, true, "reports gate ALLOWED" },
		{ 2000, { N2_DOWN, N3_SILENT(4300), W_SILENT(4249) }, false,
		  true, "hold-down", NULL, NULL, 0, NULL, "2:4300 t=60000" },
		{ 0 } } },
	{ "silence: this node's own rpc worker did, or its table is not "
	  "known: hold-down", MAJ, { 0 }, {
		{ 1000, { N2_ID " gate=ALLOWED", N3_OK " gate=DENIED", W_OK
		  " gate=DENIED" }, false, true, "reports gate ALLOWED" },
		{ 2000, { N2_DOWN, N3_SILENT(4300), W_SILENT(4300) }, false,
		  true, "hold-down", NULL, NULL, 0, NULL, "2:100 t=60000" },
		{ 2100, { N2_DOWN, N3_SILENT(4400), W_SILENT(4400) }, false,
		  true, "hold-down", NULL, NULL, 0, NULL, NULL },
		{ 0 } } },
	{ "silence: an asker without an id (anonymous) counts as the "
	  "silent node", MAJ, { 0 }, {
		{ 1000, { N2_ID " gate=ALLOWED", N3_OK " gate=DENIED", W_OK
		  " gate=DENIED" }, false, true, "reports gate ALLOWED" },
		{ 2000, { N2_DOWN, N3_OK " gate=DENIED ans=2:5000,0:100 "
		  "trk=60000", W_SILENT(5000) }, false, true, "hold-down",
		  NULL, NULL, 0, NULL, "2:5000 t=60000" },
		{ 0 } } },
	{ "silence: not in a table kept for less than the hold-down (a "
	  "restarted rpc worker): hold-down; kept longer: covered", MAJ,
	  { 0 }, {
		{ 1000, { N2_ID " gate=ALLOWED", N3_OK " gate=DENIED", W_OK
		  " gate=DENIED" }, false, true, "reports gate ALLOWED" },
		{ 2000, { N2_DOWN, N3_OK " gate=DENIED trk=1000",
		  W_SILENT(5000) }, false, true, "hold-down", NULL, NULL, 0,
		  NULL, "t=60000" },
		{ 2250, { N2_DOWN, N3_OK " gate=DENIED trk=4300",
		  W_SILENT(5000) }, true, true, "silence cover", NULL, NULL,
		  0, NULL, "t=60000" },
		{ 0 } } },
	{ "silence: a member without a gate (Go) cannot vouch: hold-down",
	  MAJ, { 0 }, {
		{ 1000, { N2_ID " gate=ALLOWED", N3_OK " gate=DENIED", W_OK
		  " gate=DENIED" }, false, true, "reports gate ALLOWED" },
		{ 2000, { N2_DOWN, N3_SILENT(5000), W_OK }, false, true,
		  "hold-down", NULL, NULL, 0, NULL, "2:5000 t=60000" },
		{ 0 } } },
	{ "silence: a member's longer lease lengthens the cover", MAJ,
	  { 0 }, {
		{ 1000, { N2_ID " gate=ALLOWED", N3_OK " gate=DENIED", W_OK
		  " gate=DENIED" }, false, true, "reports gate ALLOWED" },
		{ 2000, { N2_DOWN, N3_OK " gate=DENIED/0/9000 ans=2:5000 "
		  "trk=60000", W_SILENT(5000) }, false, true, "hold-down",
		  NULL, NULL, 0, NULL, "2:5000 t=60000" },
		{ 2500, { N2_DOWN, N3_OK " gate=DENIED/0/9000 ans=2:10300 "
		  "trk=60000", W_SILENT(10300) }, true, true, "silence cover",
		  NULL, NULL, 0, NULL, "2:10300 t=60000" },
		{ 0 } } },
	/* ---- tests/model README 4, replay stale-majority ---- */
	{ "hold-down: ticks stalled for longer than watchDog + deadline + "
	  "grace: the members went unseen, the wait starts again", MAJ,
	  { 0 }, {
		{ 1000, HOLDS, false, true, "held for 0 of 4250", NULL },
		{ 2000, HOLDS, false, true, "held for 1000 of 4250", NULL },
		{ 3000, HOLDS, false, true, "held for 2000 of 4250", NULL },
		{ 3000 + GAP + 1, HOLDS, false, true, "held for 0 of 4250",
		  NULL },
		{ 3000 + GAP + 1 + GAP, HOLDS, false, true, "held for 2250 of "
		  "4250", NULL },
		{ 0 } } },
	{ "handover: every member reports a gate: a majority held at our "
	  "ticks does not cover a silent peer, a majority's own stable "
	  "lists do", MAJ,
	  { .holding = true, .majority_since_ms = 0, .last_tick_ms = 9000 }, {
		{ 10000, { N2_DOWN, N3_OK " gate=DENIED/100",
		  W_OK " gate=DENIED/100" }, false, true,
		  "hold-down: majority's lists stable for 100 of 4250 ms",
		  NULL, "INTENT", 100, "INTENT" },
		{ 11000, { N2_DOWN, N3_OK " gate=DENIED/1100",
		  W_OK " gate=DENIED/5000" }, false, true,
		  "majority's lists stable for 1100 of 4250", NULL, NULL,
		  1100, "INTENT" },
		{ 14150, { N2_DOWN, N3_OK " gate=DENIED/4250",
		  W_OK " gate=DENIED/9000" }, true, true, "3 of 4", NULL,
		  NULL, 4250, "ALLOWED" },
		{ 0 } } },
	{ "hold-down: seed policy is not affected", SEED, { 0 }, {
		{ 1000, HOLDS, true, true, "synced with neighbour", NULL },
		{ 1001, HOLDS, true, true, "synced with neighbour", NULL },
		{ 0 } } },
};

static void
run_hold(void **state)
{
	const struct hcase *hc = *state;
	struct conf_target witness = { .host = "w", .port = 1, .text = "w" };
	struct decide_state st = hc->start;
	const struct tick *t;
	Harepd__PeerAnswer *peers[MAXP];
	Harepd__LocalView view;
	struct probe_verdict v;
	struct conf c = { 0 };
	struct arena a;
	size_t n;

	c.policy = hc->policy;
	c.allow_ro = true;
	c.watchdog = 1;
	c.lease_ms = 3000;
	c.connection_deadline = 1;
	assert_int_equal(decide_holddown_ms(&c), HOLD);
	assert_int_equal(decide_tick_gap_max_ms(&c), GAP);
	for (t = hc->ticks; t->now_ms != 0; t++) {
		a.n = 0;
		c.n_neighbours = 0;
		c.witness = NULL;
		c.primary_ip = t->view != NULL && strcmp(t->view, VIEW_SB) ==
		    0 ? "10.0.0.2" : "10.0.0.1";
		parse_view(&a, t->view ? t->view : VIEW_N1, &view);
		for (n = 0; n < MAXP && t->peers[n] != NULL; n++) {
			peers[n] = parse_peer(&a, t->peers[n]);
			if (strcmp(peers[n]->role, PROBE_ROLE_WITNESS) == 0)
				c.witness = &witness;
			else
				c.n_neighbours++;
		}
		/* an rpc worker that serves what was declared at once */
		st.served_gate = t->served ? gate_state(t->served) :
		    st.declared_gate;
		st.view_stable_ms = t->stable_ms;
		if (t->own != NULL)
			parse_own(t->own, &st.own);
		else
			memset(&st.own, 0, sizeof(st.own));
		decide(&view, peers, n, &c, t->now_ms, &st, &v);
		print_message("# %lld ms: rw %d ro %d: %s\n",
		    (long long)t->now_ms, v.rw_allow, v.ro_allow, v.reason);
		assert_int_equal(v.rw_allow, t->rw);
		assert_int_equal(v.ro_allow, t->ro);
		if (strstr(v.reason, t->reason) == NULL)
			fail_msg("at %lld ms: reason \"%s\" lacks \"%s\"",
			    (long long)t->now_ms, v.reason, t->reason);
		if (t->declared != NULL)
			assert_int_equal(st.declared_gate,
			    gate_state(t->declared));
		arena_free(&a);
	}
}

/* ---- witness_follow: the witness serves the newest primary's lists ---- */

struct fcase {
	const char	*name;
	const char	*peers[MAXP];
	uint32_t	 seen_before;
	int		 want;		/* index followed, -1 none */
	uint32_t	 seen_after;
};

#define N1_TL1	"n 10.0.0.1:1 M=10.0.0.1 S=10.0.0.2 ip=10.0.0.1 obs=0/1"
#define N2_TL2	"n 10.0.0.2:1 M=10.0.0.2 S= ip=10.0.0.2 obs=0/2"
#define N2_SB1	"n 10.0.0.2:1 M=10.0.0.1 S=10.0.0.2 ip=10.0.0.2 obs=1/1"

static const struct fcase fcases[] = {
	{ "follow: steady state, the primary's lists", { N1_TL1, N2_SB1 },
	  0, 0, 1 },
	{ "follow: after a promote the new timeline wins over the old "
	  "primary", { N1_TL1, N2_TL2 }, 1, 1, 2 },
	{ "follow: old primary down, the promoted node alone",
	  { "n 10.0.0.1:1 -", N2_TL2 }, 1, 1, 2 },
	{ "follow: an old primary on a lower timeline than seen before is "
	  "never followed", { N1_TL1, "n 10.0.0.2:1 -" }, 2, -1, 2 },
	{ "follow: a standby on the new timeline rules out the old primary",
	  { N1_TL1, "n 10.0.0.3:1 M=10.0.0.2 S=10.0.0.3 ip=10.0.0.3 obs=1/2" },
	  0, -1, 2 },
	{ "follow: two out of recovery on the same timeline: nobody",
	  { N1_TL1, "n 10.0.0.2:1 M=10.0.0.2 ip=10.0.0.2 obs=0/1" }, 0, -1,
	  1 },
	{ "follow: a node that does not name itself the only primary",
	  { "n 10.0.0.2:1 M=10.0.0.2,10.0.0.1 ip=10.0.0.2 obs=0/2" }, 0, -1,
	  2 },
	{ "follow: Go peers (no observation) are not followed",
	  { "n 10.0.0.1:1 M=10.0.0.1 S=10.0.0.2 ip=10.0.0.1" }, 0, -1, 0 },
	{ "follow: a witness's own timeline is another cluster's",
	  { "w 10.0.0.4:1 M=10.0.0.4 ip=10.0.0.4 obs=0/9", N1_TL1 }, 0, 1,
	  1 },
};

static void
run_follow(void **state)
{
	const struct fcase *fc = *state;
	Harepd__PeerAnswer *peers[MAXP];
	Harepd__LocalView view;
	struct arena a = { .n = 0 };
	uint32_t seen = fc->seen_before;
	size_t n;

	parse_view(&a, "P=10.0.0.1 S=10.0.0.2 rec=0 tl=0", &view);
	for (n = 0; n < MAXP && fc->peers[n] != NULL; n++)
		peers[n] = parse_peer(&a, fc->peers[n]);
	assert_int_equal(witness_follow(&view, peers, n, &seen), fc->want);
	assert_int_equal(seen, fc->seen_after);
	arena_free(&a);
}

int
main(void)
{
	enum { N = sizeof(cases) / sizeof(cases[0]),
	    H = sizeof(hcases) / sizeof(hcases[0]),
	    F = sizeof(fcases) / sizeof(fcases[0]) };
	struct CMUnitTest tests[N + H + F];
	size_t i;

	memset(tests, 0, sizeof(tests));
	for (i = 0; i < N; i++) {
		tests[i].name = cases[i].name;
		tests[i].test_func = run_case;
		tests[i].initial_state = unconst_ptr(&cases[i]);
	}
	for (i = 0; i < H; i++) {
		tests[N + i].name = hcases[i].name;
		tests[N + i].test_func = run_hold;
		tests[N + i].initial_state = unconst_ptr(&hcases[i]);
	}
	for (i = 0; i < F; i++) {
		tests[N + H + i].name = fcases[i].name;
		tests[N + H + i].test_func = run_follow;
		tests[N + H + i].initial_state = unconst_ptr(&fcases[i]);
	}
	return _cmocka_run_group_tests("decide", tests, N + H + F, NULL,
	    NULL);
}
