/*
 * The hba worker's safety policy, without I/O and without clocks: what
 * to do next, given what the worker knows and what just happened. The
 * worker (hba_worker.c) reads, writes, checks and reloads; hba_plan()
 * says which of those comes next and how the state moves on. The rules
 * are written for operators in docs/HBA.md; tests/unit/test_hba_plan.c
 * walks each of them.
 *
 * One apply is a short conversation between the worker and the plan:
 *
 *	HBA_EV_VERDICT / HBA_EV_TIMER / HBA_EV_CONFIG -> HBA_DO_APPLY
 *	  worker reads the file and rewrites the block in memory
 *	HBA_EV_READ      -> WRITE | CHECK | SKIP_REJECTED | DONE
 *	HBA_EV_WRITTEN   -> CHECK | REREAD | RETRY
 *	HBA_EV_CHECKED   -> RELOAD | RESTORE | KEEP_DENY | KEEP_UNLOADED | RETRY
 *	HBA_EV_RELOADED  -> DONE | RETRY
 *	HBA_EV_RESTORED  -> DONE | RETRY
 *	HBA_EV_APPLIED   (the apply is over) -> DONE, retry timer set or not
 */
#ifndef HAREPD_HBA_PLAN_H
#define HAREPD_HBA_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "worker-hba/hba.h"

/* Re-try a write or reload that failed for a reason that may pass. */
#define HBA_RETRY_MS	2000
/*
 * The file changed between the worker's read and its rename (an
 * operator saving an edit): read and rewrite from their bytes this many
 * times in a row, then leave it to the retry timer.
 */
#define HBA_RACE_TRIES	3

struct hba_plan_state {
	bool		 paused;	/* stop-client: file left as it is */
	bool		 fenced;	/* lease ran out, fence applied */
	int64_t		 lease_end;	/* CLOCK_BOOTTIME ms */
	int64_t		 retry_at;	/* CLOCK_BOOTTIME ms; 0: none */

	/* what the file should say, for retries and config reloads */
	bool		 have_want;
	struct hba_verdict want;
	uint64_t	 want_seq;	/* 0 for a fence */
	bool		 want_fence;

	/* written but not validated and reloaded yet: bytes before kept */
	bool		 reload_pending;
	/*
	 * PostgreSQL may not have loaded what is on disk: nothing reloaded
	 * since this worker started (a predecessor killed between rename
	 * and reload leaves no trace in the file), or a deny PostgreSQL
	 * refused stays on disk. The next apply checks and reloads even
	 * when the bytes are unchanged.
	 */
	bool		 reload_unknown;
};

enum hba_event_kind {
	HBA_EV_VERDICT,		/* a Verdict from the probe */
	HBA_EV_TIMER,		/* the loop woke: lease or retry due? */
	HBA_EV_PAUSE,		/* stop-client */
	HBA_EV_RESUME,		/* start-client */
	HBA_EV_CONFIG,		/* a configuration reload */
	HBA_EV_READ,		/* file read, block rewritten in memory */
	HBA_EV_WRITTEN,		/* new bytes renamed into place, or not */
	HBA_EV_CHECKED,		/* pg_hba_file_rules asked */
	HBA_EV_RELOADED,	/* pg_reload_conf() asked */
	HBA_EV_RESTORED,	/* previous bytes put back, or not */
	HBA_EV_APPLIED,		/* the apply is over */
};

enum hba_io_result {
	HBA_IO_OK,
	HBA_IO_FAILED,		/* may pass: retry later */
	HBA_IO_RACED,		/* WRITTEN: the file changed since the read */
	HBA_IO_REJECTED,	/* CHECKED: PostgreSQL finds errors in it */
};

struct hba_event {
	enum hba_event_kind kind;
	/* VERDICT */
	uint64_t	 seq;
	struct hba_verdict verdict;
	int64_t		 lease_ms;	/* the verdict's, else leaseMs */
	int64_t		 decided_boot_ms;	/* 0: none (age unknown) */
	bool		 allow_ro;	/* configured: ro may be allowed */
	/* RESUME: the configured leaseMs */
	int64_t		 conf_lease_ms;
	/* READ */
	bool		 same;		/* rewrite gives the bytes on disk */
	bool		 refused_again;	/* ... the bytes PostgreSQL refused */
	bool		 read_widens;	/* bytes read allow what want denies */
	/* WRITTEN, CHECKED, RELOADED, RESTORED */
	enum hba_io_result io;
	int		 attempt;	/* WRITTEN: 1 for the first read */
	bool		 wrote;		/* CHECKED: this apply wrote */
	bool		 prev_widens;	/* CHECKED: restoring would widen */
	/* APPLIED */
	bool		 retry;
};

enum hba_do {
	HBA_DO_NOTHING,
	HBA_DO_IGNORE,		/* verdict dropped: see why */
	HBA_DO_APPLY,		/* read, rewrite toward want */
	HBA_DO_WRITE,		/* rename the new bytes into place */
	HBA_DO_SKIP_REJECTED,	/* bytes PostgreSQL refused: not again */
	HBA_DO_REREAD,		/* raced with an edit: read again */
	HBA_DO_CHECK,		/* pg_hba_file_rules */
	HBA_DO_RELOAD,		/* pg_reload_conf() */
	HBA_DO_RESTORE,		/* put the previous bytes back */
	HBA_DO_KEEP_DENY,	/* refused deny stays; retry check/reload */
	HBA_DO_KEEP_UNLOADED,	/* refused, unchanged bytes: retry later */
	HBA_DO_RETRY,		/* give up for now; the retry timer follows */
	HBA_DO_DONE,		/* the apply succeeded as far as it goes */
};

/* Which bytes a CHECK puts back if PostgreSQL refuses the file. */
enum hba_prev {
	HBA_PREV_NONE,		/* nothing written: nothing to put back */
	HBA_PREV_READ,		/* the bytes this apply read */
	HBA_PREV_PENDING,	/* bytes before the first unreloaded write */
};

struct hba_action {
	enum hba_do	 what;
	enum hba_prev	 prev;		/* CHECK */
	bool		 keep_prev;	/* copy prev: the pending bytes now */
	bool		 retry;		/* failed for now: the retry timer */
	bool		 fence;		/* APPLY: the lease ran out */
	const char	*why;		/* IGNORE, APPLY: for the log */
	struct hba_plan_state next;	/* the state from now on */
};

/* A fresh worker at now (boot ms): one lease for a first verdict. */
void	 hba_plan_init(struct hba_plan_state *, int64_t lease_ms, int64_t now);
struct hba_action hba_plan(const struct hba_plan_state *,
	    const struct hba_event *, int64_t now);
/* When the loop must wake for the lease or a retry (boot ms), -1: never. */
int64_t	 hba_plan_next_timer(const struct hba_plan_state *);

#endif
