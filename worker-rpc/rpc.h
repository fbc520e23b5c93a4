/*
 * worker-rpc: the gRPC ClusterInfo server. Three parts:
 *
 *   rpc_answer.c	pure: LocalView -> packed IKnow, freshness of the view,
 *			decoding of a peer's WhatYouKnow
 *   rpc_ratelimit.c	pure: at most a few inquiry log lines per second
 *   rpc_server.c	the gRPC C core server and its completion-queue threads
 *   rpc_main.c		the worker: config, IPC loop, shutdown
 *
 * The worker never opens a file or a database connection: the view comes
 * from the supervisor, and so do the PEM bytes of the TLS material.
 */
#ifndef HAREPD_RPC_H
#define HAREPD_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/status.h>

#include "conf/conf.h"
#include "proto/ipc.pb-c.h"
#include "proto/messaging.pb-c.h"
#include "worker-rpc/rpc_gate.h"

#define RPC_METHOD		"/models.ClusterInfo/GetClusterInfo"

/*
 * Server limits (rpc_server.c sets them as channel arguments; see
 * docs/HARDENING.md). The peers of a harepd node are the few other
 * members of its repmgr cluster, each asking one small question per
 * watchDog; anything far beyond that is a mistake or an attack, and
 * must not cost the members their answers.
 */
/* A WhatYouKnow is three short fields; anything this large is hostile. */
#define RPC_MAX_REQUEST		4096
/*
 * An IKnow is this node's names plus the addresses in repmgr.nodes (47
 * bytes each at most, an IPv6 address with its tags) plus the gate: a
 * 10-node cluster is under 1 KiB; 16 KiB holds over 300 nodes. A larger
 * view is logged when it arrives (peers would get RESOURCE_EXHAUSTED).
 */
#define RPC_MAX_REPLY		16384
/* Request headers: a gRPC client sends a handful of short ones. */
#define RPC_MAX_METADATA	8192
/*
 * Calls open at once on one connection. A peer has one question to us
 * in flight per tick; 16 leaves room for tools and load tests (they
 * queue beyond it, client side) while bounding what one connection can
 * hold open in the core (each stream costs memory until it ends).
 */
#define RPC_MAX_STREAMS		16
/*
 * From accept to the client's HTTP/2 SETTINGS, TLS handshake included.
 * On a cluster's network this takes milliseconds; a connection that has
 * not got there in 5 s (a port scan, a half-open or silent client, a
 * slow-loris TLS hello) holds a descriptor for nothing: the core's 120 s
 * would let a few thousand of them exhaust the worker's descriptors.
 */
#define RPC_HANDSHAKE_MS	5000
/*
 * An HTTP/2 connection with no call for this long is closed (GOAWAY).
 * A peer asks every watchDog (usually 1 to 10 s), so its connection is
 * never idle this long; one with a longer watchDog reconnects at its
 * next ask, which costs it one handshake, not an answer.
 */
#define RPC_MAX_IDLE_MS		30000
/*
 * No connection lives longer than 10 min (the core adds up to 10%
 * jitter): a client cannot keep one open for ever by keeping calls open
 * (idle never fires then); a peer's next call just opens a new one. The
 * grace lets calls in flight finish: ours are answered in microseconds.
 */
#define RPC_MAX_AGE_MS		600000
#define RPC_MAX_AGE_GRACE_MS	10000
/*
 * While a call is open, ping the peer after 20 s of silence and drop the
 * connection when the ack has not come 10 s later: a peer host that
 * vanished (no FIN, no RST) does not hold its connection until TCP gives
 * up (15 min and more).
 */
#define RPC_KEEPALIVE_MS	20000
#define RPC_KEEPALIVE_TIMEOUT_MS 10000
/*
 * A peer's own pings: more often than every 10 s without data is a
 * strike, and the second strike closes the connection (GOAWAY
 * too_many_pings): a ping flood costs the server nothing for long.
 */
#define RPC_MIN_PEER_PING_MS	10000
#define RPC_MAX_PING_STRIKES	2
/* A view older than this many watchDog periods is not answered. */
#define RPC_STALE_PERIODS	3
#define RPC_CQ_THREADS		2	/* measured: 19k req/s with 1, 27k with 2 */
#define RPC_SLOTS_PER_CQ	64	/* calls requested in advance per queue */
#define RPC_INQUIRY_LOG_PER_SEC	10
#define RPC_LOG_FIELD_MAX	80	/* bytes of a caller's string in a log line */
#define RPC_GRPC_LOG_PER_SEC	5	/* the core's own lines, e.g. failed handshakes */

/*
 * One LocalView as the server answers it: the IKnow packed once, when
 * the view arrives, so a request costs a copy, not an encoding.
 */
struct rpc_snapshot {
	uint8_t	*packed;	/* Models__IKnow */
	size_t	 packed_len;
	int64_t	 collected_boot_ms;	/* CLOCK_BOOTTIME; 0: not stamped */
	char	*db_error;	/* NULL when the database answered */
	int32_t	 node_id;
	char	*node_name;
	int64_t	 lists_since_boot_ms;	/* LocalView.lists_since_boot_ms */
};

/* view -> IKnow. Pointers in k refer to view; obs must outlive k. */
void	 rpc_view_to_iknow(const Harepd__LocalView *view, Models__IKnow *k,
	    Models__Observation *obs);
/* NULL only when out of memory. */
struct rpc_snapshot *rpc_snapshot_new(const Harepd__LocalView *);
void	 rpc_snapshot_free(struct rpc_snapshot *);

/*
 * How long a view stays answerable: RPC_STALE_PERIODS watchDog periods,
 * plus one connectionDeadline because the probe's tick (which sends the
 * view) may wait that long for dead peers before the next one starts.
 */
int64_t	 rpc_max_age_ms(const struct conf *);

/*
 * GRPC_STATUS_OK when snap (NULL: none yet) may be answered at
 * now_boot_ms; otherwise GRPC_STATUS_UNAVAILABLE and why says why, in
 * words a peer's operator can act on. The age is measured on
 * CLOCK_BOOTTIME only (docs/HARDENING.md, "Clocks"): the wall clock
 * steps, and a step back must not make a stale view fresh.
 */
grpc_status_code rpc_snapshot_status(const struct rpc_snapshot *snap,
	    int64_t now_boot_ms, int64_t max_age_ms, char *why, size_t whylen);
/* The same, now (clock_boot_ms): what the server asks for every request. */
grpc_status_code rpc_view_status(const struct rpc_snapshot *snap,
	    int64_t max_age_ms, char *why, size_t whylen);

/*
 * Decode a peer's request. GRPC_STATUS_OK sets *out (free with
 * models__what_you_know__free_unpacked); otherwise INVALID_ARGUMENT
 * (not a WhatYouKnow, strings not UTF-8, no message at all: buf NULL)
 * or RESOURCE_EXHAUSTED (longer than RPC_MAX_REQUEST), with why.
 */
grpc_status_code rpc_request_decode(const uint8_t *buf, size_t len,
	    Models__WhatYouKnow **out, char *why, size_t whylen);

/*
 * What a decoded request is answered with (rpc_server.c's view_reply):
 * the view's packed IKnow while snap may be answered; else, for an asker
 * that reads the gate (q->wantsgate), this node's identity, still with
 * GRPC_STATUS_OK; else rpc_snapshot_status's code and why. The reply
 * is those bytes followed by rpc_gate_pack's. Pure: the caller holds
 * the lock that guards snap.
 */
enum rpc_reply {
	RPC_REPLY_NONE = 0,	/* no message: the status says why */
	RPC_REPLY_VIEW,		/* snap->packed, then the gate */
	RPC_REPLY_IDENT,	/* ip, nodeId, nodeName only, then the gate */
};
grpc_status_code rpc_reply_choose(const Models__WhatYouKnow *q,
	    const struct rpc_snapshot *snap, int64_t now_boot_ms,
	    int64_t max_age_ms, enum rpc_reply *reply, char *why, size_t whylen);

const char *rpc_status_name(grpc_status_code);

/*
 * Inquiry log limiter: at most `burst` lines per one-second window; the
 * lines refused are counted and reported once, when a later window
 * starts (on the next inquiry or the worker's timer), so a flood costs
 * one summary line per second at most.
 */
struct rpc_ratelimit {
	unsigned	 burst;
	unsigned	 used;		/* lines allowed in this window */
	int64_t		 window_ms;	/* start of the window, monotonic */
	unsigned long	 suppressed;	/* refused in this window */
};

void	 rpc_ratelimit_init(struct rpc_ratelimit *, unsigned burst);
/*
 * true: log this line. *report: lines refused in earlier windows to
 * report now (0: nothing to report).
 */
bool	 rpc_ratelimit_take(struct rpc_ratelimit *, int64_t now_ms,
	    unsigned long *report);
/* Timer: lines refused in a window that has ended, to report now. */
unsigned long rpc_ratelimit_expire(struct rpc_ratelimit *, int64_t now_ms);
/* At exit: lines refused so far, window ended or not. */
unsigned long rpc_ratelimit_drain(struct rpc_ratelimit *);

/* The server (rpc_server.c). */
struct rpc_server_opts {
	const char	*bind_address;	/* IPv4, IPv6 (no brackets) or name */
	int		 port;		/* 0: any free port (tests) */
	bool		 tls;
	bool		 client_auth;	/* mutual TLS: require a cert signed by ca */
	const char	*ca_pem;	/* NUL-terminated PEM, NULL when unused */
	const char	*cert_pem;
	const char	*key_pem;
	int64_t		 max_age_ms;
};

struct rpc_server;

/* Binds and starts the threads; NULL with err filled in. grpc_init first. */
struct rpc_server *rpc_server_start(const struct rpc_server_opts *,
	    char *err, size_t errlen);
int	 rpc_server_port(const struct rpc_server *);
/* Answer from snap from now on (takes ownership; NULL: no view). */
void	 rpc_server_publish(struct rpc_server *, struct rpc_snapshot *snap);
void	 rpc_server_set_max_age(struct rpc_server *, int64_t max_age_ms);
/*
 * The gate peers are told (worker-rpc/rpc_gate.h): the probe's
 * GateDeclared, the hba worker's HbaApplied. Both return the state served
 * from now on (MODELS__GATE__STATE__*), for the GateServed reply.
 */
#define RPC_IDENT_MAX	512
int	 rpc_server_gate_declared(struct rpc_server *,
	    const Harepd__GateDeclared *);
int	 rpc_server_hba_applied(struct rpc_server *, const Harepd__HbaApplied *);
/* Whom the lists were given to, as peers are told (GateServed). */
struct rpc_gate_answers;
void	 rpc_server_answers(struct rpc_server *, struct rpc_gate_answers *);
/* Timing, members and identity for the gate; the view's age limit. */
void	 rpc_server_set_conf(struct rpc_server *, const struct conf *);
/* Timer: report inquiry log lines suppressed in the last window. */
void	 rpc_server_tick(struct rpc_server *);
/* gRPC status codes 0..16: calls answered with each, for metrics. */
#define RPC_CODES	17
/* The counts since the last call (then zeroed); false when all are 0. */
bool	 rpc_server_take_served(struct rpc_server *, uint64_t out[RPC_CODES]);
/*
 * Refuses new calls, cancels running ones, drains, frees; reports the
 * inquiry log lines suppressed in the last window.
 */
void	 rpc_server_stop(struct rpc_server *);

/* "host:port", "[v6]:port": the address form the gRPC core parses. */
int	 rpc_listen_address(char *buf, size_t len, const char *host, int port);

/* The rpc worker: IPC socket on IPC_FD, config pushed over it. */
int	 rpc_worker_main(void);

#endif
