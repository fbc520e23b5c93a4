/*
 * worker-probe: this node's repmgr view, the peers' views, and the
 * decision. Four parts:
 *
 *   local_view.c	libpq: one query over repmgr.nodes plus recovery
 *			state and timeline -> Harepd__LocalView
 *   peers.c		gRPC C core client: GetClusterInfo to every neighbour
 *			and the witness at once, one deadline for all
 *   decide.c		pure: (view, answers, config) -> verdict
 *   probe_worker.c	the worker: config, tick loop, IPC, logging
 *
 * The rules themselves are written for operators in docs/POLICY.md.
 */
#ifndef HAREPD_PROBE_H
#define HAREPD_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "proto/ipc.pb-c.h"
#include "proto/messaging.pb-c.h"

#define PROBE_METHOD		"/models.ClusterInfo/GetClusterInfo"
#define PROBE_ROLE_NEIGHBOUR	"neighbour"
#define PROBE_ROLE_WITNESS	"witness"
/* An IKnow of a 20-node cluster is ~500 bytes: more is not an answer. */
#define PROBE_MAX_ANSWER	8192
#define PROBE_REASON_MAX	512
/* An address as repmgr and peers write it, canonical or not. */
#define ADDR_MAX		256

/* ---- decide.c (pure) ---- */

struct probe_verdict {
	bool	 rw_allow;
	bool	 ro_allow;
	char	 reason[PROBE_REASON_MAX];
	int	 agreeing;	/* members agreeing, self included */
	int	 members;	/* configured: self + neighbours + witness */
	/* the only active primary here, out of recovery: rw is near */
	bool	 candidate;
};

/*
 * How often a candidate without rw and the witness (which follows the
 * data nodes' timelines) tick, instead of every watchDog: a promote then
 * reaches the witness's answer and the new primary's verdict in a
 * fraction of a second. A tick costs one query and a few gRPC calls.
 */
#define PROBE_EAGER_MS		250
/* ... for this long after this node's lists last changed */
#define PROBE_EAGER_FOR_MS	10000

/*
 * What the majority policy carries from one tick to the next (the
 * hold-down and the handover, docs/POLICY.md). All zero is a fresh
 * start: rw was not allowed, the condition has not been seen to hold and
 * nothing is known of what this node's rpc worker serves.
 */
/* Whom this node's rpc worker gave its lists, as its last GateServed said. */
#define DECIDE_ANSWERED_MAX	17
struct own_answers {
	bool	 valid;		/* told since the lists were last changed */
	size_t	 n;
	int32_t	 node_id[DECIDE_ANSWERED_MAX];	/* 0: anonymous askers */
	int64_t	 age_ms[DECIDE_ANSWERED_MAX];	/* at the tick's now */
	int64_t	 tracked_ms;	/* the table covers this long */
};

/* Data peers' node ids, learned from their answers, for when they fall
 * silent (the silence cover names the silent node by its id). */
#define DECIDE_KNOWN_PEERS	16
struct known_peer {
	char	 target[ADDR_MAX];
	int32_t	 node_id;
};

struct decide_state {
	bool	 rw_allowed_last;	/* the previous verdict allowed rw */
	int64_t	 rw_allowed_at_ms;	/* when that allow was decided */
	bool	 holding;		/* the rw condition held at the last tick */
	int64_t	 majority_since_ms;	/* since when, on decide's now_ms clock */
	int64_t	 last_tick_ms;		/* the previous tick's now_ms */
	/* set by the caller before each tick */
	int	 served_gate;		/* MODELS__GATE__STATE__*: what this
					   node's rpc worker served when the
					   tick's asks began */
	int64_t	 view_stable_ms;	/* this node's lists unchanged this long */
	struct own_answers own;		/* this node's rpc worker's answers */
	/* kept by decide() */
	struct known_peer known[DECIDE_KNOWN_PEERS];
	/* set by decide() */
	int	 declared_gate;		/* what the rpc worker is to serve */
	bool	 retick;		/* ask again once declared_gate is served */
	int64_t	 cover_in_ms;		/* held down: the cover holds in this
					   long at the earliest; -1: unknown */
};

/*
 * The decision. peers holds one answer per configured peer, neighbours
 * in config order then the witness (role PROBE_ROLE_*); an answer with
 * answered == false is a peer that did not answer (or answered
 * something unreadable). now_ms is a clock that never steps
 * (CLOCK_BOOTTIME in the worker); *st is the previous tick's state,
 * updated for the next. decide sets each peer's `agrees` flag (the
 * evidence) and nothing else in its inputs; it does no I/O.
 */
void	 decide(const Harepd__LocalView *view, Harepd__PeerAnswer **peers,
	    size_t n_peers, const struct conf *conf, int64_t now_ms,
	    struct decide_state *st, struct probe_verdict *out);
/*
 * How long the majority condition must hold before a node whose last
 * verdict denied rw may allow it: leaseMs + connectionDeadline +
 * PEERS_CANCEL_GRACE_MS (an old writer decides at most one peer wait
 * after a member stopped agreeing with it, and its hba fences one lease
 * after that decision).
 */
int64_t	 decide_holddown_ms(const struct conf *conf);
/*
 * The longest time between two ticks' stamps that still counts as
 * "held at every tick": watchDog + connectionDeadline + the grace (a
 * tick is due a watchDog after the last and its asks end within the
 * deadline).
 */
int64_t	 decide_tick_gap_max_ms(const struct conf *conf);
/*
 * The same with the largest leaseMs and connectionDeadline that this node
 * or any answering peer reports (IKnow.gate): during a rolling change of
 * timing the longest lease in the cluster is the one to wait out.
 */
int64_t	 handover_holddown_ms(const struct conf *conf,
	    Harepd__PeerAnswer **peers, size_t n_peers);
/*
 * The handover (docs/POLICY.md): decide() has found that the rules allow
 * rw; may this node take it now? Denies rw in v (reason says why) unless
 * every data peer is known not to hold an allow; sets st->declared_gate.
 */
void	 handover_take(const Harepd__LocalView *view,
	    Harepd__PeerAnswer **peers, size_t n_peers, const struct conf *conf,
	    int64_t now_ms, struct decide_state *st, struct probe_verdict *v);
/*
 * The witness follows the facts: index of the data peer whose answer the
 * witness should serve instead of its own repmgr.nodes copy (the only
 * node out of recovery on the highest timeline seen, naming itself as the
 * only primary), -1 when there is none. *max_tl_seen is the highest
 * timeline ever seen from a data peer, carried from tick to tick: an old
 * primary on a lower timeline is never followed.
 */
int	 witness_follow(const Harepd__LocalView *view,
	    Harepd__PeerAnswer **peers, size_t n_peers, uint32_t *max_tl_seen);
/* Serve k's primary and standby lists in v; true when they differed. */
bool	 witness_adopt(Harepd__LocalView *v, const Models__IKnow *k);
/*
 * The primary and standby lists as one comparable string (canonical,
 * sorted): the probe notes since when it has been the same.
 */
#define VIEW_SIGNATURE_MAX	2048
#define ADDR_CANON_MAX		256
void	 view_lists_signature(const Harepd__LocalView *, char *, size_t);
const char *decide_policy_name(enum conf_policy);

/*
 * Agreement as the Go harepd defines it ("synced"): the same set of
 * active primaries and the same set of active standbys. Addresses are
 * compared in canonical form (IPv6 written any way, IPv4, names
 * case-insensitively).
 */
bool	 decide_synced(const Harepd__LocalView *view, const Models__IKnow *k);
/* Canonical form of an address: inet_ntop of an IP literal, else lower case. */
void	 probe_addr_canon(const char *in, char *out, size_t outlen);

/* ---- local_view.c ---- */

struct local_view;

/* Nothing is opened yet: the first local_view_collect connects. */
struct local_view *local_view_new(const struct conf *);
void	 local_view_free(struct local_view *);
/*
 * One round trip (connecting first, with backoff, when needed), bounded
 * by the configured connectionDeadline. Always returns a view (free
 * with local_view_msg_free); db_error is non-empty when the database
 * could not be asked.
 */
Harepd__LocalView *local_view_collect(struct local_view *);
void	 local_view_msg_free(Harepd__LocalView *);
/* The SQL, for the tests and the operator who wants to run it by hand. */
extern const char local_view_sql[];

/*
 * repmgr's conninfo -> the address peers know the node by: host= (the
 * first one when several), else hostaddr=, in canonical form. -1 when
 * the conninfo does not parse or names neither.
 */
int	 conninfo_host(const char *conninfo, char *out, size_t outlen);

/* The libpq keywords/values the probe connects with (tests check them). */
struct conn_params {
	const char	*keys[10];
	const char	*vals[10];
	char		 timeout[16];
	char		 options[64];
	char		 port[16];
};
void	 local_view_conn_params(const struct conf *, struct conn_params *);

/* ---- peers.c ---- */

struct peer_set;

struct peer_tls {
	const char	*ca_pem;	/* NUL-terminated; NULL when TLS is off */
	const char	*cert_pem;	/* with key_pem: presented when asked */
	const char	*key_pem;
};

/* Channels to every neighbour and the witness. grpc_init first. */
struct peer_set *peers_new(const struct conf *, const struct peer_tls *);
void	 peers_free(struct peer_set *);
size_t	 peers_count(const struct peer_set *);
/*
 * Asks every peer at once; returns after every call ended, at most
 * deadline_ms later (plus the core's scheduling). *out gets
 * peers_count() answers, in peers_new's order; free with
 * peers_answers_free. While waiting, abort(arg) is called every
 * PEERS_ABORT_CHECK_MS (abort may be NULL); when it returns true the
 * calls still running are cancelled (their answers say CANCELLED).
 */
#define PEERS_ABORT_CHECK_MS	100
/* How long a call may outlive its deadline before it is cancelled. */
#define PEERS_CANCEL_GRACE_MS	250
/* The deadline of a peer that did not answer last time, except at
 * every PEERS_FULL_EVERY-th ask in a row (peers.c, unconnected()); a
 * hurried ask (hurry) gives it PEERS_HURRY_MS and does not count. */
#define PEERS_UNCONNECTED_MS	250
#define PEERS_FULL_EVERY	4
#define PEERS_HURRY_MS		50
Harepd__PeerAnswer **peers_ask(struct peer_set *, const Models__WhatYouKnow *,
	    int deadline_ms, bool hurry, bool (*abort)(void *), void *arg);
void	 peers_answers_free(Harepd__PeerAnswer **, size_t n);
/*
 * Tests only: the next peers_ask sees its completion queue shut down
 * (with calls in flight) instead of its first event, and must stop.
 */
extern bool peers_test_inject_shutdown;

/*
 * Pure: the reply bytes of a call -> an IKnow, or NULL and why
 * (undecodable, too large, strings not UTF-8).
 */
Models__IKnow *peers_decode_answer(const uint8_t *buf, size_t len, char *why,
	    size_t whylen);

/* ---- probe_worker.c ---- */

/* The probe worker: IPC socket on IPC_FD, config pushed over it. */
int	 probe_worker_main(void);

#endif
