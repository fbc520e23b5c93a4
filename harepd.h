/*
 * harepd's processes as a table. One binary: the supervisor re-execs
 * itself with --role <name> for each worker (bgpd style), so every worker
 * starts from a fresh image and gRPC is only ever initialised in a worker.
 * The rows live in harepd.c, next to main(); the supervisor is handed the
 * table and starts, routes and restarts workers by its columns alone.
 */
#ifndef HAREPD_H
#define HAREPD_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/conf.h"
#include "ipc/ipc.h"

enum harepd_mode {
	MODE_DUAL = 0,		/* rpc + probe + hba */
	MODE_SERVER_ONLY,	/* rpc + probe (view only) */
	MODE_CLIENT_ONLY,	/* probe + hba */
};

/* The table's key: roles[ROLE_x].id == ROLE_x. */
enum role_id { ROLE_RPC = 0, ROLE_PROBE, ROLE_HBA, ROLE_METRICS, ROLE_COUNT };

/* Which of the conf's users a role runs as. */
enum role_user {
	RPC_USER,		/* harepd.privsep.rpcUser: faces the network */
	POSTGRES_USER,		/* harepd.privsep.postgresUser: owns the database */
};

/* Restart policy: 100 ms doubling to 30 s, back to 100 ms after a minute up. */
#define BACKOFF_MIN_MS		100
#ifndef HAREPD_SOAK
#define BACKOFF_MAX_MS		30000
#define BACKOFF_HEALTHY_MS	60000
#else	/* `make soak`'s build (tests/soak): thousands of kills in minutes */
#define BACKOFF_MAX_MS		200
#define BACKOFF_HEALTHY_MS	1000
#endif
/*
 * The hba worker, whatever its backoff, restarts this long before the
 * lease of an allow on disk ends: nothing else enforces that lease, and
 * the new worker, handed the verdict, fences when it ends.
 */
#define HBA_RESTART_MARGIN_MS	500
/* This many exits within the window is a crash loop, logged as an error. */
#define RESTART_BURST		5
#define RESTART_WINDOW_MS	60000

enum restart_kind {
	/* Always started again after any exit, clean or not: every worker
	 * is needed for as long as harepd runs. */
	RESTART_PERMANENT,
};

struct restart_policy {
	enum restart_kind kind;
	int		 min_ms;	/* backoff after the first exit */
	int		 max_ms;	/* backoff cap */
	int64_t		 healthy_ms;	/* up this long: backoff starts over */
	unsigned	 burst;		/* exits within window_ms that make */
	int64_t		 window_ms;	/* ... a crash loop (0: never) */
};

#define BODY_BIT(c)	(1u << (c))
#define MODE_BIT(m)	(1u << (m))

struct role {
	const char	*name;		/* --role <name>, Hello.role, logs */
	enum role_id	 id;
	enum role_user	 user;
	int		(*entry)(void);	/* the worker's main() */
	uint32_t	 may_send;	/* BODY_BIT of each body it may send */
	uint32_t	 accepts;	/* BODY_BIT of each body it is sent */
	uint32_t	 modes;		/* MODE_BIT of each mode it runs in */
	struct restart_policy restart;
	int		 stop_rank;	/* SIGTERM order: 0 stops first */
	bool		 pausable;	/* gets PAUSE/RESUME (stop-client) */
	/* A body it sends at a steady pace: long silence means it is hung
	 * (HAREPD__ENVELOPE__BODY__NOT_SET: no such body). */
	Harepd__Envelope__BodyCase heartbeat;
	bool		 tls_pems;	/* its ConfigPush carries the TLS CA,
					 * cert and key */
	/* NULL: runs in each of its modes; else only where this says yes
	 * of the config harepd started with (a reload neither starts nor
	 * stops it) */
	bool		(*wanted)(const struct conf *);
};

#endif
