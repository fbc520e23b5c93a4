/*
 * What the rpc worker tells peers about this node's gate (IKnow.gate,
 * docs/POLICY.md "Handover"): the most permissive of what the probe
 * declared and what the hba worker last applied. Pure: the caller
 * passes the clock and holds the lock.
 */
#ifndef HAREPD_RPC_GATE_H
#define HAREPD_RPC_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "proto/ipc.pb-c.h"
#include "proto/messaging.pb-c.h"

/* Askers remembered one by one; more share the anonymous entry. */
#define RPC_ANSWERED_MAX	16

struct rpc_answered {
	int32_t	 node_id;	/* 0: anonymous, or evicted */
	int64_t	 at_boot_ms;	/* the last answer with lists */
};

/* Storage for the answered table of one Models__Gate or GateServed. */
struct rpc_gate_answers {
	Models__Gate__Answered	 e[RPC_ANSWERED_MAX + 1];
	Models__Gate__Answered	*p[RPC_ANSWERED_MAX + 1];
	size_t			 n;
	uint64_t		 tracked_ms;
};

struct rpc_gate {
	/* the probe's last GateDeclared; state UNKNOWN: none yet */
	int	 declared;
	uint64_t declared_seq;
	int64_t	 declared_boot_ms;
	uint64_t last_allow_seq;	/* the probe's last allow verdict */
	/* the hba worker's last HbaApplied */
	bool	 hba_known;
	bool	 hba_rw_allow;
	bool	 hba_fenced;
	uint64_t hba_seq;
	int64_t	 hba_decided_boot_ms;
	/* since when the served lists are unchanged; 0: unknown */
	int64_t	 lists_since_boot_ms;
	/* whom the lists were last given to, since tracked_since_boot_ms */
	struct rpc_answered answered[RPC_ANSWERED_MAX + 1];
	size_t	 n_answered;
	int64_t	 tracked_since_boot_ms;
	/* this node's timing, from its configuration */
	uint32_t lease_ms;
	uint32_t deadline_ms;
	uint32_t members;
};

/* now_boot_ms: the table of answers starts empty at this instant. */
void	 rpc_gate_init(struct rpc_gate *, const struct conf *,
	    int64_t now_boot_ms);
/* The timing and member count a (re)loaded configuration says. */
void	 rpc_gate_conf(struct rpc_gate *, const struct conf *);
void	 rpc_gate_declared(struct rpc_gate *, const Harepd__GateDeclared *);
void	 rpc_gate_applied(struct rpc_gate *, const Harepd__HbaApplied *);
void	 rpc_gate_view(struct rpc_gate *, const Harepd__LocalView *);
/*
 * The state peers are told:
 *   ALLOWED  the probe holds rw, or the hba worker's file allows it
 *   INTENT   the probe is about to take rw
 *   DENIED   the probe declared DENIED (or nothing yet) and the hba
 *            worker's last report is a deny (or fence) for the probe's
 *            last allow verdict or a later one
 *   UNKNOWN  otherwise: nothing is known yet; askers treat it as a holder
 */
int	 rpc_gate_served(const struct rpc_gate *);
/*
 * An answer carrying this node's lists is being given to the asker
 * node_id (0: it gave none). Recorded before the answer leaves: any
 * allow the asker decides from it was stamped before it asked.
 */
void	 rpc_gate_answered(struct rpc_gate *, int32_t node_id,
	    int64_t now_boot_ms);
/* The table as ages at now_boot_ms, into out's storage. */
void	 rpc_gate_answers(const struct rpc_gate *, int64_t now_boot_ms,
	    struct rpc_gate_answers *out);
/* Models__Gate for an answer at now_boot_ms (CLOCK_BOOTTIME); the
 * answered table goes into buf, which must live as long as the gate. */
void	 rpc_gate_fill(const struct rpc_gate *, int64_t now_boot_ms,
	    Models__Gate *, struct rpc_gate_answers *buf);
/*
 * The gate as bytes to append to a packed IKnow: protobuf merges a
 * message's fields from concatenated encodings, so the view is packed
 * once per LocalView and only the gate per answer. Returns the length
 * written into buf (at most RPC_GATE_MAX).
 */
#define RPC_GATE_MAX	1024
size_t	 rpc_gate_pack(const struct rpc_gate *, int64_t now_boot_ms,
	    uint8_t *buf);

#endif
