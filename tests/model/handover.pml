/*
 * harepd handover protocol (/work/handover-design.md, docs/POLICY.md
 * "Taking rw: the handover"): 2 data nodes (n0, n1) and a witness (W).
 * tests/model/README maps every step below to the C function it stands for.
 *
 * One process, one big nondeterministic loop: each alternative is one
 * atomic step of one worker (probe, rpc, hba of a node; the witness's probe
 * and rpc), one fault, or one tick of the global clock. Time is discrete
 * (1 unit ~ a watchDog); every duration a node measures on its own clock
 * may be off by up to DRIFT units in either direction (see TIMERS).
 *
 * Properties:
 *   safety   ltl "safe": never both data nodes' pg_hba.conf effectively
 *            allowing rw (loaded by a reload, lease not run out) at once;
 *   liveness assert in the clock step: once n1 is promoted and the network
 *            is stable (no more faults, links healed, workers restarted),
 *            n1's allow is effective within KLIVE units.
 *
 * Variants (-D...):
 *   MUTANT_NO_HOLDDOWN  a silent peer needs no cover (step 2 removed)
 *   MUTANT_NO_GATE      askers read every answering peer as DENIED
 *   C_GATE              rpc_gate_served() as in d35e0b9: DENIED needs the
 *                       applied seq to reach the declared one (UNKNOWN after
 *                       every new deny verdict), or a fence (whatever verdict
 *                       is still queued behind it)
 *   C_STALE_ACK         take_gate_served() as in 578426a: the GateServed seq
 *                       is ignored, so step 3 may count an old INTENT
 *   C_FRESH_LEASE       a restarted hba worker without a handed-over verdict
 *                       gives the allow on disk a fresh lease (hba_worker.c)
 *   NO_SILENCE          step 2 without the silence cover (as before it)
 *   C_SIL_NO_DEADLINE   the silence cover with C = leaseMs + GRACE as first
 *                       stated (unsafe; default C = leaseMs + deadline + GRACE)
 *   MUTANT_SIL_NO_OWN   the silence cover without this node's own rpc table
 *   MUTANT_SIL_KEEP     a restarted rpc worker reports an empty table with a
 *                       tracked time that does not restart (harepd's uptime)
 *   MUTANT_SIL_SHORT    the silence cover with C = leaseMs (no GRACE)
 *   OBSERVER_HOLDDOWN   step 2 also met by the observer hold-down (the rw
 *                       condition seen at every own tick for H), as before
 *                       7b1d1a0; harepd keeps it only for members that send
 *                       no gate (Go peers, not in this model)
 */

#ifndef LEASE
#define LEASE	2	/* leaseMs */
#endif
#ifndef DEADLINE
#define DEADLINE 1	/* connectionDeadline */
#endif
#ifndef GRACE
#define GRACE	3	/* the 250 ms of H */
#endif
#ifndef DRIFT
#define DRIFT	1	/* clock error on any measured interval */
#endif
#ifndef FAULTS
#define FAULTS	2	/* crashes, cuts, witness re-copies before stable */
#endif
#ifndef KLIVE
#define KLIVE	10
#endif

#define HOLD	(LEASE + DEADLINE + GRACE)	/* H */
#ifdef OBSERVER_HOLDDOWN
#define OBSERVED(held)	(held)	/* step 2 met by the observer hold-down */
#else
#define OBSERVED(held)	0
#endif
/*
 * C of the silence cover. As first stated (C_SIL_NO_DEADLINE) C = leaseMs +
 * GRACE: unsafe, a peer X may renew its allow in keep_rw() from a tick
 * stamped before its allow expired whose answer is computed up to the
 * deadline later, after the witness switched back to naming X (README,
 * "What the model found" 3). Fixed: C = leaseMs + deadline + GRACE.
 */
#if defined(MUTANT_SIL_SHORT)
#define SIL	LEASE
#elif defined(C_SIL_NO_DEADLINE)
#define SIL	(LEASE + GRACE)
#else
#define SIL	(LEASE + DEADLINE + GRACE)
#endif
#define SILCAP	(SIL + DRIFT)		/* a silence this long is long on any clock */
#define PCAP	(LEASE + DRIFT)		/* a verdict this old is dead */
#define WD	1			/* watchDog */
#define WIT	2			/* the witness's index in cut[] */

mtype = { ALLOWED, INTENT, DENIED, UNKNOWN };	/* printing only: Spin numbers them 4..1, so G_x + 1 */
#define G_UNK	0
#define G_DEN	1
#define G_INT	2
#define G_ALW	3
#define RANK(g)	((g) == G_ALW -> 2 : ((g) == G_INT -> 1 : 0))
/*
 * Sequence numbers are kept as distances behind the newest verdict of the
 * node (0 = newest, SQMAX = older than anything in flight): no counter in
 * the state. "seq a >= seq b" is "distance a <= distance b".
 */
#define SQMAX	7
#define SEQGE(a, b)	((a) <= (b))

/* ---- the cluster ---- */
bit	promoted;
byte	tl[2];		/* timeline */
bit	oor[2];		/* out of recovery */
bit	view[2];	/* the primary this node's repmgr.nodes names (n0 stays stale) */
bit	nup[2];		/* harepd (supervisor) of the node runs */
bit	cut[9];		/* cut[a*3+b]: asks from a to b fail (asymmetric) */
byte	faults = FAULTS;
bit	stable;		/* no more faults */
byte	lv;		/* units since promoted && stable */

/* ---- probe (worker-probe) ---- */
bit	pup[2];		/* probe worker runs */
bit	pask[2];	/* asking peers */
byte	page[2];	/* units since this tick's decided_boot_ms stamp */
byte	a_st[2];	/* answer of the other data node: 0 pending, 1 silent, 2 got */
byte	a_gate[2];
bit	a_view[2];
bit	a_oor[2];
byte	a_tl[2];
byte	w_st[2];	/* answer of the witness */
bit	w_vw[2];
bit	w_stab[2];	/* witness reports viewStableMs >= H */
byte	pserved[2];	/* last GateServed */
byte	pserved_seq[2];
byte	smin[2];	/* least served during the asks (served_min) */
byte	decl[2];	/* declared_gate */
bit	rwlast[2];	/* rw_allowed_last */
byte	rwage[2];	/* since rw_allowed_at */
bit	holding[2];
byte	hage[2];	/* since majority_since */
byte	vsage[2];	/* since lists_since (own view stable) */
byte	hs[2];		/* at this tick's stamp: age of majority_since */
byte	rs[2];		/* ... of rw_allowed_at */
byte	vs[2];		/* ... of lists_since */
bit	oq[2];		/* own rpc table from the last GateServed: the other data node not answered for >= C */
bit	ov[2];		/* ... that GateServed's declaration was made under these lists */
bit	w_q[2];		/* the witness's answer: it has not answered the other data node for >= C */

/* ---- probe -> rpc: GateDeclared; probe -> hba: Verdict; hba -> rpc: HbaApplied (2 slots each, FIFO) ---- */
byte	dq_n[2];  byte dq_g[4];  byte dq_s[4];  byte dq_la[4];
bit	dq_v[4];	/* the lists (primary named) the declaration was made under */
byte	la[2] = SQMAX;	/* probe: seq of the last allow verdict sent */
byte	vq_n[2];  bit vq_a[4];   byte vq_age[4]; byte vq_s[4];
byte	aq_n[2];  bit aq_a[4];   byte aq_s[4];   bit aq_f[4];
/* the supervisor's copy of the last of each (handed to restarted workers) */
bit	sv_have[2]; bit sv_a[2]; byte sv_age[2]; byte sv_s[2];
byte	sd_g[2];  byte sd_s[2];  byte sd_la[2] = SQMAX; bit sd_v[2];
bit	sa_have[2]; bit sa_a[2]; byte sa_s[2]; bit sa_f[2];

/* ---- rpc (worker-rpc, struct rpc_gate) ---- */
bit	rup[2];
byte	r_decl[2];
byte	r_dseq[2];
byte	r_la[2];	/* seq of the last allow verdict, as declared */
bit	r_hk[2];	/* hba_known */
bit	r_ha[2];	/* hba_rw_allow */
byte	r_hseq[2];
bit	r_hf[2];	/* hba_fenced */
bit	r_dv[2];	/* lists of the declaration served */
/*
 * rpc_gate_answered(): since when the rpc worker last answered the other
 * data node with its lists, or since it started (an asker not in the table
 * was not answered within answersTrackedMs): the silence of that asker is
 * min(ageMs, answersTrackedMs). Real units, saturated at SILCAP.
 */
byte	dsil[2];

/* ---- hba (worker-hba) and PostgreSQL ---- */
bit	hup[2];
bit	h_have[2];	/* a verdict (or the handed-over one) applied */
byte	h_seq[2];	/* seq of the last verdict received */
bit	ld[2];		/* the allow is loaded (reloaded) in PostgreSQL */
byte	hl[2];		/* real units left of the lease of the loaded allow */

/* ---- witness (server-only: rpc + probe, witness_follow) ---- */
bit	wup;		/* witness harepd runs */
bit	wpup;		/* its probe */
bit	wcopy;		/* repmgrd's copy of repmgr.nodes on the witness */
bit	wview;		/* the lists its rpc serves (primary named) */
byte	wvs;		/* since those lists changed */
byte	wmaxtl;		/* max_tl_seen */
byte	wage;
byte	wa_st[2]; bit wa_oor[2]; byte wa_tl[2]; bit wa_self[2];
byte	wsil[2];	/* the witness's rpc: silence of asker n0, n1 */

#define EFF(i)	(ld[i] && hl[i] > 0)
ltl safe { [] !(EFF(0) && EFF(1)) }

#ifdef C_GATE
/* as written: the applied seq must reach the declared one, or a fence */
#define HDENY_OK(i)	(r_hf[i] || SEQGE(r_hseq[i], r_dseq[i]))
#else
/*
 * proposed: GateDeclared carries the seq of the last allow verdict the
 * probe sent; the hba worker's applied deny (or fence) must be at least
 * that new. A deny verdict after a deny does not make the gate UNKNOWN.
 */
#define HDENY_OK(i)	(!r_ha[i] && SEQGE(r_hseq[i], r_la[i]))
#endif
/* rpc_gate_served(): the most permissive of declared and applied */
#define SERVED(i) ((r_decl[i] == G_ALW || (r_hk[i] && r_ha[i])) -> G_ALW : \
	(r_decl[i] == G_INT -> G_INT : ((r_hk[i] && HDENY_OK(i)) -> G_DEN : G_UNK)))

#define SATC(x, c)	if :: x < (c) -> x++ :: else fi

/* an interval measured on a drifting clock: >= t surely past t+DRIFT, maybe from t-DRIFT */
#define MEASURED(v, age, t) \
	if :: (age) >= (t) + DRIFT -> v = 1 \
	   :: (age) + DRIFT >= (t) && (age) < (t) + DRIFT -> v = 1 \
	   :: (age) < (t) + DRIFT -> v = 0 fi

/* ---------------------------------------------------------------- */

inline probe_start(i)
{
	atomic { nup[i] && pup[i] && !pask[i] && dq_n[i] < 2 && vq_n[i] < 2 &&
	    (!stable || page[i] >= WD) ->
		pask[i] = 1; page[i] = 0; smin[i] = pserved[i];
		printf("MSC: n%d probe: tick starts (decided_boot_ms stamped), served %e\n", i, pserved[i] + 1);
		hs[i] = hage[i]; rs[i] = rwage[i]; vs[i] = vsage[i];
#ifndef C_STALE_ACK
		/* step 3 counts only a GateServed for our last declaration */
		if :: pserved_seq[i] != 0 -> smin[i] = G_UNK :: else fi;
#endif
		a_st[i] = 0; a_gate[i] = 0; a_view[i] = 0; a_oor[i] = 0; a_tl[i] = 0;
		w_st[i] = 0; w_vw[i] = 0; w_stab[i] = 0; w_q[i] = 0
	}
}

/* GetClusterInfo to the other data node o, answered by o's rpc worker */
inline ask_data(i, o)
{
	atomic { pask[i] && a_st[i] == 0 && page[i] <= DEADLINE + DRIFT &&
	    (!stable || (nup[o] && rup[o] && !cut[i * 3 + o])) ->
		if
		:: nup[o] && rup[o] && !cut[i * 3 + o] ->
			a_st[i] = 2;
#ifdef MUTANT_NO_GATE
			a_gate[i] = G_DEN;
#else
			a_gate[i] = SERVED(o);
#endif
			a_view[i] = view[o]; a_oor[i] = oor[o]; a_tl[i] = tl[o]; printf("MSC: n%d rpc answers n%d: gate %e\n", o, i, a_gate[i] + 1);
			dsil[o] = 0	/* rpc_gate_answered(): at the instant the answer is computed */
		:: !stable -> a_st[i] = 1	/* lost, late, refused */; printf("MSC: n%d -> n%d: answer lost\n", i, o)
		fi
	}
}

inline ask_wit(i, o)
{
	atomic { pask[i] && w_st[i] == 0 && page[i] <= DEADLINE + DRIFT &&
	    (!stable || (wup && !cut[i * 3 + WIT])) ->
		if
		:: wup && !cut[i * 3 + WIT] ->
			w_st[i] = 2; w_vw[i] = wview;printf("MSC: W answers n%d: primary n%d\n", i, wview);
			MEASURED(w_stab[i], wvs, HOLD);
			MEASURED(w_q[i], wsil[o], SIL);	/* rpc_gate_fill(): its table */
			wsil[i] = 0	/* rpc_gate_answered() */
		:: !stable -> w_st[i] = 1; printf("MSC: n%d -> W: answer lost\n", i)
		fi
	}
}

#define SQINC(x)	if :: x < SQMAX -> x++ :: else fi
/* a new verdict: every seq in the node gets one further behind */
inline new_seq(i)
{
	SQINC(dq_s[i * 2]); SQINC(dq_s[i * 2 + 1]); SQINC(vq_s[i * 2]); SQINC(vq_s[i * 2 + 1]);
	SQINC(aq_s[i * 2]); SQINC(aq_s[i * 2 + 1]); SQINC(sd_s[i]); SQINC(sv_s[i]); SQINC(sa_s[i]);
	SQINC(dq_la[i * 2]); SQINC(dq_la[i * 2 + 1]); SQINC(sd_la[i]); SQINC(la[i]); SQINC(r_la[i]);
	SQINC(r_dseq[i]); SQINC(r_hseq[i]); SQINC(h_seq[i]); SQINC(pserved_seq[i]);
	assert(dq_s[i * 2] < SQMAX && r_dseq[i] < SQMAX)	/* the abstraction holds */
}

/* verdict_tick() after the asks: decide() = rules 1-6 + handover_take() */
inline probe_decide(i, o)
{
	atomic { pask[i] && (!stable || (a_st[i] != 0 && w_st[i] != 0) ||
	    page[i] > DEADLINE + DRIFT) ->
		pask[i] = 0;
		if :: a_st[i] == 0 -> a_st[i] = 1 :: else fi;
		if :: w_st[i] == 0 -> w_st[i] = 1 :: else fi;
		agree = 1 + (a_st[i] == 2 && a_view[i] == view[i]) +
		    (w_st[i] == 2 && w_vw[i] == view[i]);
		allow = (view[i] == i && oor[i] && agree >= 2 &&
		    !(a_st[i] == 2 && a_tl[i] > tl[i]) &&		/* rule 4 */
		    !(a_st[i] == 2 && a_oor[i] && a_tl[i] >= tl[i]));	/* rule 6 */
		/* expire_allow(): an allow lives one lease */
		if
		:: rwlast[i] -> MEASURED(tmp, rs[i], LEASE);
			if :: tmp -> rwlast[i] = 0 :: else fi
		:: else
		fi;
		if
		:: !allow ->	/* track_majority() */
			holding[i] = 0; hage[i] = 0; rwlast[i] = 0; rwage[i] = 0;
			decl[i] = G_DEN
		:: else ->
			if :: !holding[i] -> holding[i] = 1; hage[i] = page[i] :: else fi;
			/* handover_take() */
			if
			:: rwlast[i] ->	/* keep_rw() */
				if
				:: a_st[i] == 2 && a_gate[i] == G_ALW ->
					allow = 0; rwlast[i] = 0; rwage[i] = 0; decl[i] = G_DEN
				:: else -> rwage[i] = page[i]; decl[i] = G_ALW
				fi
			:: !rwlast[i] && a_st[i] == 2 && a_gate[i] != G_DEN ->
				/* 1. contended: priority = higher timeline, then lower id */
				allow = 0;
				if
				:: tl[i] > a_tl[i] || (tl[i] == a_tl[i] && i == 0) -> decl[i] = G_INT
				:: else -> decl[i] = G_DEN
				fi
			:: else ->
				decl[i] = G_INT;
				MEASURED(tmp, hs[i], HOLD);
				MEASURED(stab, vs[i], HOLD);
				stab = stab + (w_st[i] == 2 && w_vw[i] == view[i] && w_stab[i]);
#ifndef NO_SILENCE
				/*
				 * silence_cover(): every member other than the silent
				 * peer has not answered it for >= C: this node (its
				 * own table, from a GateServed of a declaration made
				 * under these lists) and the witness (answered this
				 * tick, with a gate and lists naming the same primary)
				 */
				sil = (w_st[i] == 2 && w_vw[i] == view[i] && w_q[i]
#ifndef MUTANT_SIL_NO_OWN
				    && oq[i] && ov[i] == view[i]
#endif
				    );
#endif
				if
#ifndef MUTANT_NO_HOLDDOWN
				:: a_st[i] != 2 && !OBSERVED(tmp) && stab < 2 && !sil ->
					allow = 0	/* 2. needs cover, no cover */
#endif
				:: RANK(smin[i]) < 1 ->
					allow = 0	/* 3. INTENT not served yet */
				:: else ->
					rwlast[i] = 1; rwage[i] = page[i]; decl[i] = G_ALW	/* 4. take */
				fi
			fi
		fi;
		/* send_gate_declared(), then send_verdict() */
		new_seq(i);
		if :: allow -> la[i] = 0 :: else fi;
		dq_g[i * 2 + dq_n[i]] = decl[i]; dq_s[i * 2 + dq_n[i]] = 0;
		dq_la[i * 2 + dq_n[i]] = la[i]; dq_v[i * 2 + dq_n[i]] = view[i]; dq_n[i]++;
		vq_a[i * 2 + vq_n[i]] = allow; vq_age[i * 2 + vq_n[i]] = page[i];
		vq_s[i * 2 + vq_n[i]] = 0; vq_n[i]++;
		sd_g[i] = decl[i]; sd_s[i] = 0; sd_la[i] = la[i]; sd_v[i] = view[i];
		sv_have[i] = 1; sv_a[i] = allow; sv_age[i] = page[i]; sv_s[i] = 0;
		hs[i] = 0; rs[i] = 0; vs[i] = 0;
		printf("MSC: n%d probe: decide: peer %e (got %d) witness names n%d (got %d) -> rw %d, declares %e (verdict age %d)\n",
		    i, a_gate[i] + 1, a_st[i], w_vw[i], w_st[i], allow, decl[i] + 1, page[i]);
		if :: allow && sil && a_st[i] != 2 && !tmp && stab < 2 ->
			printf("MSC: n%d probe: silence cover of n%d (own table %d, witness %d)\n", i, o, oq[i], w_q[i])
		:: else fi;
		agree = 0; allow = 0; tmp = 0; stab = 0; sil = 0
	}
}

/*
 * GateServed to the probe (take_gate_served()). Delivered at once with
 * every change of what is served; with C_STALE_ACK it is a separate step
 * that may lag, as the message does through the supervisor.
 */
inline ack_body(i)
{
	pserved[i] = SERVED(i); pserved_seq[i] = r_dseq[i];
	/* probe_worker.c: the own table from GateServed (rpc_gate_fill()) */
	MEASURED(oq[i], dsil[i], SIL); ov[i] = r_dv[i];
	if
	:: pask[i] && RANK(pserved[i]) < RANK(smin[i]) -> smin[i] = pserved[i]
	:: else
	fi
}
#ifdef C_STALE_ACK
#define ACK(i)	skip
inline rpc_ack(i)
{
	atomic { nup[i] && rup[i] && pup[i] &&
	    (pserved[i] != SERVED(i) || pserved_seq[i] != r_dseq[i]) -> ack_body(i) }
}
#else
#define ACK(i)	if :: pup[i] -> ack_body(i) :: else fi
#endif

/* rpc_gate_declared() */
inline rpc_take_declared(i)
{
	atomic { nup[i] && rup[i] && dq_n[i] > 0 ->
		r_decl[i] = dq_g[i * 2]; r_dseq[i] = dq_s[i * 2]; r_la[i] = dq_la[i * 2]; r_dv[i] = dq_v[i * 2];
		printf("MSC: n%d rpc: declared %e\n", i, r_decl[i] + 1);
		dq_g[i * 2] = dq_g[i * 2 + 1]; dq_s[i * 2] = dq_s[i * 2 + 1]; dq_la[i * 2] = dq_la[i * 2 + 1];
		dq_v[i * 2] = dq_v[i * 2 + 1];
		dq_g[i * 2 + 1] = 0; dq_s[i * 2 + 1] = 0; dq_la[i * 2 + 1] = 0; dq_v[i * 2 + 1] = 0; dq_n[i]--;
		ACK(i)
	}
}

/* rpc_gate_applied() */
inline rpc_take_applied(i)
{
	atomic { nup[i] && rup[i] && aq_n[i] > 0 ->
		r_hk[i] = 1; r_ha[i] = aq_a[i * 2]; r_hf[i] = aq_f[i * 2];
		printf("MSC: n%d rpc: hba applied rw %d fenced %d\n", i, r_ha[i], r_hf[i]);
		if
		:: SEQGE(aq_s[i * 2], r_hseq[i]) -> r_hseq[i] = aq_s[i * 2]
		:: else
		fi;
		aq_a[i * 2] = aq_a[i * 2 + 1]; aq_s[i * 2] = aq_s[i * 2 + 1]; aq_f[i * 2] = aq_f[i * 2 + 1];
		aq_a[i * 2 + 1] = 0; aq_s[i * 2 + 1] = 0; aq_f[i * 2 + 1] = 0; aq_n[i]--;
		ACK(i)
	}
}


inline hba_report(i, a, s, f)
{
	aq_a[i * 2 + aq_n[i]] = a; aq_s[i * 2 + aq_n[i]] = s; aq_f[i * 2 + aq_n[i]] = f;
	aq_n[i]++;
	sa_have[i] = 1; sa_a[i] = a; sa_s[i] = s; sa_f[i] = f
}

/* on_verdict(): apply, reload, report */
inline hba_apply(i)
{
	atomic { nup[i] && hup[i] && vq_n[i] > 0 && aq_n[i] < 2 ->
		h_seq[i] = vq_s[i * 2];
		MEASURED(tmp, vq_age[i * 2], LEASE);
		if
		:: tmp -> skip	/* arrived after its lease ran out: ignored */
		:: else ->
			h_have[i] = 1;
			if
			:: vq_a[i * 2] -> ld[i] = 1; hl[i] = LEASE + DRIFT - vq_age[i * 2]; printf("MSC: n%d hba: ALLOW reloaded, lease left %d\n", i, hl[i])
			:: else -> ld[i] = 0; hl[i] = 0; printf("MSC: n%d hba: deny reloaded\n", i)
			fi;
			hba_report(i, vq_a[i * 2], vq_s[i * 2], 0)
		fi;
		vq_a[i * 2] = vq_a[i * 2 + 1]; vq_age[i * 2] = vq_age[i * 2 + 1]; vq_s[i * 2] = vq_s[i * 2 + 1];
		vq_a[i * 2 + 1] = 0; vq_age[i * 2 + 1] = 0; vq_s[i * 2 + 1] = 0; vq_n[i]--;
		tmp = 0
	}
}

/* fence(): the lease ran out on the hba worker's clock */
inline hba_fence(i)
{
	atomic { nup[i] && hup[i] && ld[i] && hl[i] <= (stable -> 0 : 2 * DRIFT) && aq_n[i] < 2 ->
		ld[i] = 0; hl[i] = 0;
		printf("MSC: n%d hba: lease ran out: fence\n", i);
#ifdef C_GATE
		hba_report(i, 0, SQMAX, 1)
#else
		hba_report(i, 0, h_seq[i], 1)
#endif
	}
}

/*
 * witness: follow_tick() = asks + witness_follow(), in one step (what it
 * serves changes when the tick ends; its answers are from that instant).
 */
#define WSNAP(j) \
	if \
	:: nup[j] && rup[j] && !cut[WIT * 3 + j] -> \
		wa_st[j] = 2; wa_oor[j] = oor[j]; wa_tl[j] = tl[j]; wa_self[j] = (view[j] == j) \
	:: !stable -> wa_st[j] = 1 \
	fi

inline wit_tick()
{
	atomic { wup && wpup && (!stable || wage >= WD) &&
	    (!stable || (nup[0] && rup[0] && nup[1] && rup[1])) ->
		wage = 0;
		WSNAP(0); WSNAP(1);
		if :: wa_st[0] == 2 && wa_tl[0] > wmaxtl -> wmaxtl = wa_tl[0] :: else fi;
		if :: wa_st[1] == 2 && wa_tl[1] > wmaxtl -> wmaxtl = wa_tl[1] :: else fi;
		/* the one writer on the highest timeline, naming itself */
		if
		:: wa_st[0] == 2 && wa_oor[0] && !(wa_st[1] == 2 && wa_oor[1] && wa_tl[1] >= wa_tl[0]) &&
		    wa_tl[0] >= wmaxtl && wa_self[0] -> tmp = 0
		:: wa_st[1] == 2 && wa_oor[1] && !(wa_st[0] == 2 && wa_oor[0] && wa_tl[0] >= wa_tl[1]) &&
		    wa_tl[1] >= wmaxtl && wa_self[1] -> tmp = 1
		:: else -> tmp = wcopy	/* its repmgr.nodes copy */
		fi;
		if :: tmp != wview -> wview = tmp; wvs = 0 :: else fi;
		printf("MSC: W tick: serves the lists naming n%d\n", wview);
		tmp = 0;
		wa_st[0] = 0; wa_oor[0] = 0; wa_tl[0] = 0; wa_self[0] = 0;
		wa_st[1] = 0; wa_oor[1] = 0; wa_tl[1] = 0; wa_self[1] = 0
	}
}

/* ---- faults and restarts ---- */
inline probe_lost(i)	/* the probe's memory: declared gate, hold-down, rw_allowed_last */
{
	pup[i] = 0; pask[i] = 0; page[i] = 0; hs[i] = 0; rs[i] = 0; vs[i] = 0;
	a_st[i] = 0; a_gate[i] = 0; a_view[i] = 0; a_oor[i] = 0; a_tl[i] = 0;
	w_st[i] = 0; w_vw[i] = 0; w_stab[i] = 0;
	pserved[i] = 0; pserved_seq[i] = 0; smin[i] = 0; decl[i] = 0;
	rwlast[i] = 0; rwage[i] = 0; holding[i] = 0; hage[i] = 0; vsage[i] = 0;
	oq[i] = 0; ov[i] = 0; w_q[i] = 0
}

inline rpc_lost(i)	/* the rpc worker's state and what was queued to it */
{
	rup[i] = 0;
	dq_n[i] = 0; dq_g[i * 2] = 0; dq_s[i * 2] = 0; dq_g[i * 2 + 1] = 0; dq_s[i * 2 + 1] = 0;
	dq_la[i * 2] = 0; dq_la[i * 2 + 1] = 0; dq_v[i * 2] = 0; dq_v[i * 2 + 1] = 0;
	dsil[i] = 0;	/* the table is gone; tracked time restarts at 0 */
	aq_n[i] = 0; aq_a[i * 2] = 0; aq_s[i * 2] = 0; aq_f[i * 2] = 0;
	aq_a[i * 2 + 1] = 0; aq_s[i * 2 + 1] = 0; aq_f[i * 2 + 1] = 0;
	r_decl[i] = 0; r_dseq[i] = 0; r_la[i] = 0; r_hk[i] = 0; r_ha[i] = 0; r_hseq[i] = 0; r_hf[i] = 0; r_dv[i] = 0
}

inline hba_lost(i)	/* the hba worker's state and its queued verdicts; the file and PostgreSQL stay */
{
	hup[i] = 0; h_have[i] = 0; h_seq[i] = SQMAX;
	vq_n[i] = 0; vq_a[i * 2] = 0; vq_age[i * 2] = 0; vq_s[i * 2] = 0;
	vq_a[i * 2 + 1] = 0; vq_age[i * 2 + 1] = 0; vq_s[i * 2 + 1] = 0
}

inline crash_worker(i)
{
	atomic { !stable && faults > 0 && nup[i] ->
		faults--;
		if
		:: pup[i] -> probe_lost(i)
		printf("MSC: n%d: crash\n", i);
		:: rup[i] -> rpc_lost(i)
		:: hup[i] -> hba_lost(i)
		:: true ->	/* the whole harepd: the supervisor's memory too */
			nup[i] = 0; probe_lost(i); rpc_lost(i); hba_lost(i);
			sv_have[i] = 0; sv_a[i] = 0; sv_age[i] = 0; sv_s[i] = 0;
			sd_g[i] = 0; sd_s[i] = 0; sd_la[i] = SQMAX; sd_v[i] = 0; la[i] = SQMAX; sa_have[i] = 0; sa_a[i] = 0; sa_s[i] = 0; sa_f[i] = 0
		fi
	}
}

inline restart_node(i)
{
	atomic { !nup[i] -> nup[i] = 1 }
}

inline restart_probe(i)
{
	atomic { nup[i] && !pup[i] -> pup[i] = 1; page[i] = WD; vsage[i] = 0; printf("MSC: n%d probe restarts\n", i);
		if :: rup[i] -> ACK(i) :: else fi }
}

/* the supervisor serves the last GateDeclared and HbaApplied again */
inline restart_rpc(i)
{
	atomic { nup[i] && !rup[i] ->
		rup[i] = 1; r_decl[i] = sd_g[i]; r_dseq[i] = sd_s[i]; r_la[i] = sd_la[i]; r_dv[i] = sd_v[i]; printf("MSC: n%d rpc restarts\n", i);
#ifdef MUTANT_SIL_KEEP
		dsil[i] = SILCAP;	/* empty table, tracked since harepd started */
#endif
		r_hk[i] = sa_have[i]; r_ha[i] = sa_a[i]; r_hseq[i] = sa_s[i]; r_hf[i] = sa_f[i];
		ACK(i)
	}
}

/* the supervisor hands over the last verdict with its decided_boot_ms */
inline restart_hba(i)
{
	atomic { nup[i] && !hup[i] ->
		hup[i] = 1; printf("MSC: n%d hba restarts (handed verdict %d)\n", i, sv_have[i]);
		if
		:: sv_have[i] ->
			vq_n[i] = 1; vq_a[i * 2] = sv_a[i]; vq_age[i * 2] = sv_age[i]; vq_s[i * 2] = sv_s[i]
		:: else
#ifdef C_FRESH_LEASE
			; if :: ld[i] -> hl[i] = LEASE + DRIFT :: else fi
#endif
		fi
	}
}

inline age_node(i)
{
	/* idle, the stamp's age only says whether the watchDog is due */
	SATC(page[i], (pask[i] -> PCAP : WD));
	SATC(rwage[i], PCAP); SATC(hage[i], HOLD + DRIFT); SATC(vsage[i], HOLD + DRIFT);
	if :: vq_n[i] > 0 -> SATC(vq_age[i * 2], PCAP) :: else fi;
	if :: vq_n[i] > 1 -> SATC(vq_age[i * 2 + 1], PCAP) :: else fi;
	if :: sv_have[i] -> SATC(sv_age[i], PCAP) :: else fi;
	if :: hl[i] > 0 -> hl[i]-- :: else fi;
	if :: !pup[i] -> page[i] = 0; vsage[i] = 0 :: else fi;
	if :: !holding[i] -> hage[i] = 0 :: else fi;
	if :: !rwlast[i] -> rwage[i] = 0 :: else fi;
	if :: nup[i] && rup[i] -> SATC(dsil[i], SILCAP) :: else -> dsil[i] = 0 fi
}

byte	agree, tmp, stab;
bit	allow, sil;

#ifdef SCRIPT
byte	pc;
byte	act[96];
#endif

active proctype cluster()
{
	byte k;

	d_step {
	tl[0] = 1; tl[1] = 1; oor[0] = 1; oor[1] = 0; view[0] = 0; view[1] = 0;
	nup[0] = 1; nup[1] = 1; pup[0] = 1; pup[1] = 1; rup[0] = 1; rup[1] = 1;
	hup[0] = 1; hup[1] = 1; page[0] = WD; page[1] = WD;
	wup = 1; wpup = 1; wcopy = 0; wview = 0; wage = WD;
#ifndef COLD
	/* steady state: n0 has held rw for long, n1 is a denied standby */
	decl[0] = G_ALW; rwlast[0] = 1; holding[0] = 1; hage[0] = HOLD + DRIFT;
	vsage[0] = HOLD + DRIFT; pserved[0] = G_ALW;
	r_decl[0] = G_ALW; r_hk[0] = 1; r_ha[0] = 1; la[0] = 0; sd_la[0] = 0; r_la[0] = 0;
	h_have[0] = 1; ld[0] = 1; hl[0] = LEASE + DRIFT;
	sv_have[0] = 1; sv_a[0] = 1; sd_g[0] = G_ALW; sa_have[0] = 1; sa_a[0] = 1;
	decl[1] = G_DEN; vsage[1] = HOLD + DRIFT; pserved[1] = G_DEN;
	r_decl[1] = G_DEN; r_hk[1] = 1; h_have[1] = 1; r_la[1] = SQMAX;
	sv_have[1] = 1; sd_g[1] = G_DEN; sa_have[1] = 1;
	wvs = HOLD + DRIFT; wmaxtl = 1
#else
	skip
#endif
	};
#ifdef SCRIPT
	/*
	 * A replay: the order of the steps is fixed by act[] (script.h, written
	 * by run.sh); spin still explores every choice inside the steps (drift,
	 * lost answers, late snapshots) exhaustively.
	 */
#include "script.h"
	do
	:: act[pc] == 1 -> probe_start(0); pc++
	:: act[pc] == 2 -> ask_data(0, 1); pc++
	:: act[pc] == 3 -> ask_wit(0, 1); pc++
	:: act[pc] == 4 -> probe_decide(0, 1); pc++
	:: act[pc] == 5 -> rpc_take_declared(0); pc++
	:: act[pc] == 6 -> rpc_take_applied(0); pc++
	:: act[pc] == 7 -> hba_apply(0); pc++
	:: act[pc] == 11 -> probe_start(1); pc++
	:: act[pc] == 12 -> ask_data(1, 0); pc++
	:: act[pc] == 13 -> ask_wit(1, 0); pc++
	:: act[pc] == 14 -> probe_decide(1, 0); pc++
	:: act[pc] == 15 -> rpc_take_declared(1); pc++
	:: act[pc] == 16 -> rpc_take_applied(1); pc++
	:: act[pc] == 17 -> hba_apply(1); pc++
	:: act[pc] == 20 -> wit_tick(); pc++
	:: act[pc] == 21 -> atomic { cut[7] = 1; printf("MSC: link cut: asks from 2 to 1 fail\n") }; pc++
	:: act[pc] == 22 -> atomic { promoted = 1; oor[1] = 1; tl[1] = 2; view[1] = 1; vsage[1] = 0; printf("MSC: PROMOTE n1 (timeline 2)\n") }; pc++
	:: act[pc] == 23 -> atomic { printf("MSC: ---- time +1 (n0 eff %d lease %d, n1 eff %d lease %d)\n", ld[0], hl[0], ld[1], hl[1]);
		age_node(0); age_node(1); SATC(wvs, HOLD + DRIFT); SATC(wage, WD);
		if :: wup -> SATC(wsil[0], SILCAP); SATC(wsil[1], SILCAP) :: else fi }; pc++
	:: act[pc] == 25 -> atomic { rpc_lost(1); printf("MSC: n1 rpc: crash\n") }; pc++
	:: act[pc] == 26 -> restart_rpc(1); pc++
	:: act[pc] == 0 -> break
	od
#else
	do
#ifdef DBG
#include "dbg.h"
#endif
	:: probe_start(0)
	:: ask_data(0, 1)
	:: ask_wit(0, 1)
	:: probe_decide(0, 1)
	:: rpc_take_declared(0)
	:: rpc_take_applied(0)
#ifdef C_STALE_ACK
	:: rpc_ack(0)
#endif
	:: hba_apply(0)
	:: hba_fence(0)
	:: restart_node(0)
	:: restart_probe(0)
	:: restart_rpc(0)
	:: restart_hba(0)
	:: crash_worker(0)
	:: probe_start(1)
	:: ask_data(1, 0)
	:: ask_wit(1, 0)
	:: probe_decide(1, 0)
	:: rpc_take_declared(1)
	:: rpc_take_applied(1)
#ifdef C_STALE_ACK
	:: rpc_ack(1)
#endif
	:: hba_apply(1)
	:: hba_fence(1)
	:: restart_node(1)
	:: restart_probe(1)
	:: restart_rpc(1)
	:: restart_hba(1)
	:: crash_worker(1)
	:: wit_tick()
	/* the witness: its probe or its whole harepd crashes (max_tl_seen is lost) */
	:: atomic { !stable && faults > 0 && wup ->
		faults--; wpup = 0; wmaxtl = 0;
		if :: wup = 0; wsil[0] = 0; wsil[1] = 0 :: skip fi }
	:: atomic { !wup -> wup = 1;
#ifdef MUTANT_SIL_KEEP
		wsil[0] = SILCAP; wsil[1] = SILCAP;
#endif
		skip }
	:: atomic { wup && !wpup -> wpup = 1; wage = WD }
	/* a peer link is cut, one direction at a time (asymmetric); healing is free */
	:: atomic { !stable && faults > 0 ->
		faults--;
		if
		:: k = 1 :: k = 2 :: k = 3 :: k = 5 :: k = 6 :: k = 7
		fi;
		cut[k] = 1; printf("MSC: link cut: asks from %d to %d fail\n", k / 3, k % 3); k = 0 }
	/* repmgr standby promote on n1: new timeline; n0 stays a stale primary */
	:: atomic { !promoted ->
		promoted = 1; oor[1] = 1; tl[1] = 2; view[1] = 1; vsage[1] = 0; printf("MSC: PROMOTE n1 (timeline 2)\n") }
	/* repmgrd copies the new repmgr.nodes to the witness, late */
	:: atomic { !stable && promoted && !wcopy -> wcopy = 1; printf("MSC: repmgrd copies repmgr.nodes to W\n") }
	/* ... and copies the old primary's again after a healed split brain */
	:: atomic { !stable && faults > 0 && promoted && wcopy -> faults--; wcopy = 0 }
	/* no more faults: links heal, crashed workers restart at once */
	:: atomic { !stable && promoted ->
		stable = 1; cut[1] = 0; printf("MSC: STABLE from here\n"); cut[2] = 0; cut[3] = 0; cut[5] = 0; cut[6] = 0; cut[7] = 0 }
	/* the clock: free while faults may come, only when nothing is due once stable */
	:: atomic { !stable || timeout ->
		printf("MSC: ---- time +1 (n0 eff %d lease %d, n1 eff %d lease %d)\n", ld[0], hl[0], ld[1], hl[1]);
		age_node(0); age_node(1);
		SATC(wvs, HOLD + DRIFT); SATC(wage, WD);
		if :: wup -> SATC(wsil[0], SILCAP); SATC(wsil[1], SILCAP) :: else fi;
		if :: !wpup -> wage = 0 :: else fi;
#ifdef REACH_N0
		assert(!EFF(0));	/* reachability probes for debugging */
#endif
#ifdef REACH_N1
		assert(!EFF(1));
#endif
		if
		:: stable ->
#ifndef NOLIVE
			assert(EFF(1) || lv < KLIVE);	/* LIVENESS */
#endif
			if :: lv < KLIVE -> lv++ :: else fi
		:: else
		fi }
	od
#endif
}
