/*
 * OpenMetrics 1.0 text (docs/METRICS.md): what `harepdctl metrics`
 * prints. The supervisor keeps the few things a snapshot cannot tell
 * (counters and histograms, fed by route.c as verdicts and HbaApplied
 * pass); everything else comes from the same struct status the status
 * printers use, so the three never disagree.
 */
#ifndef HAREPD_METRICS_H
#define HAREPD_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "ipc/ipc.h"

#define METRICS_MAX_BUCKETS	16
/* Peers are configured (neighbours + witness): a few. Past this many
 * distinct targets, new ones are not tracked (no unbounded growth). */
#define METRICS_MAX_PEERS	32
#define METRICS_GRPC_CODES	17	/* OK (0) .. UNAUTHENTICATED (16) */

struct metrics_hist {
	const double	*bounds;	/* upper bounds in seconds, ascending */
	size_t		 n_bounds;
	uint64_t	 count[METRICS_MAX_BUCKETS];	/* not cumulative */
	uint64_t	 total;
	double		 sum;
};

struct metrics_peer {
	char			*target;
	struct metrics_hist	 latency;
};

struct metrics {
	uint64_t		 verdicts;
	struct metrics_hist	 tick;
	struct metrics_peer	 peers[METRICS_MAX_PEERS];
	size_t			 n_peers;
	uint64_t		 hba_applied;
	uint64_t		 hba_changes;
	uint64_t		 hba_reloads;
	uint64_t		 hba_errors;
	uint64_t		 hba_fences;
	uint64_t		 grpc_served[METRICS_GRPC_CODES];
};

void	 metrics_init(struct metrics *);
void	 metrics_free(struct metrics *);
void	 metrics_hist_observe(struct metrics_hist *, double seconds);
/* A verdict the supervisor took (not one dropped while paused). */
void	 metrics_on_verdict(struct metrics *, const Harepd__Verdict *);
void	 metrics_on_hba(struct metrics *, const Harepd__HbaApplied *);
/* Adds the rpc worker's counts; codes past 16 are ignored. */
void	 metrics_on_rpc_served(struct metrics *, const Harepd__RpcServed *);
/* A label value as OpenMetrics wants it: \\, \" and \n escaped. */
void	 metrics_write_label(FILE *, const char *value);

struct status;

/* What the printer needs besides the status: the boot clock for the
 * lease (the hba worker measures it on CLOCK_BOOTTIME too). */
struct metrics_now {
	int64_t		 boot_ms;
	int64_t		 watchdog_ms;
};

/* The whole exposition, ending with "# EOF\n". */
void	 metrics_print(FILE *, const struct status *, const struct metrics *,
	    const struct metrics_now *);

#endif
