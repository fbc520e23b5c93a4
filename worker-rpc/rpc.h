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
/* A WhatYouKnow is three short fields; anything this large is hostile. */
#define RPC_MAX_REQUEST		4096
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
	int64_t	 collected_at_ms;	/* CLOCK_REALTIME */
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
 * GRPC_STATUS_OK when snap (NULL: none yet) may be answered at now_ms
 * (CLOCK_REALTIME); otherwise GRPC_STATUS_UNAVAILABLE and why says why,
 * in words a peer's operator can act on.
 */
grpc_status_code rpc_snapshot_status(const struct rpc_snapshot *snap,
	    int64_t now_ms, int64_t max_age_ms, char *why, size_t whylen);

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
	    const struct rpc_snapshot *snap, int64_t now_ms, int64_t max_age_ms,
	    enum rpc_reply *reply, char *why, size_t whylen);

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
/* Timing, members and identity for the gate; the view's age limit. */
void	 rpc_server_set_conf(struct rpc_server *, const struct conf *);
/* Timer: report inquiry log lines suppressed in the last window. */
void	 rpc_server_tick(struct rpc_server *);
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
