/*
 * hba_plan(): the hba worker's rules on a table of situations, each row
 * one step of an apply (or a timer, a verdict, a control) from a given
 * state. Every rule docs/HBA.md states has rows here; the worker itself
 * only carries the actions out (tests/integration/3x-hba-*.t drive it
 * against a real PostgreSQL).
 *
 * The clock is CLOCK_BOOTTIME in ms; rows start at T.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "worker-hba/hba_plan.h"

/* Rows override the defaults of RUNNING and DONTCARE: that is the point. */
#pragma GCC diagnostic ignored "-Woverride-init"

#define T	1000000		/* now, boot ms */
#define LEASE	45000
#define ANY	-1

struct pcase {
	const char		*name;
	struct hba_plan_state	 st;
	struct hba_event	 ev;
	int64_t			 now;
	enum hba_do		 what;
	enum hba_prev		 prev;		/* for CHECK */
	bool			 retry;
	bool			 keep_prev;
	/* the next state: ANY or 0/1 (times: ANY or the value) */
	int			 pending;
	int			 unknown;
	int			 fenced;
	int64_t			 lease_end;
	int64_t			 retry_at;
};

/* Running, with a verdict applied: nothing owed, lease until T + 1 s. */
#define RUNNING	.have_want = true, .lease_end = T + 1000, .want_seq = 7, \
		.want = { true, false }
#define DONTCARE .pending = ANY, .unknown = ANY, .fenced = ANY, \
		.lease_end = ANY, .retry_at = ANY

static const struct pcase cases[] = {
	/* ---- the lease ---- */
	{ "lease ran out: fence", { RUNNING, .lease_end = T },
	  { .kind = HBA_EV_TIMER }, T, HBA_DO_APPLY, DONTCARE, .fenced = 1 },
	{ "lease not yet out: nothing", { RUNNING },
	  { .kind = HBA_EV_TIMER }, T, HBA_DO_NOTHING, DONTCARE,
	  .fenced = 0 },
	{ "fenced already: not again", { RUNNING, .lease_end = T - 5000,
	  .fenced = true }, { .kind = HBA_EV_TIMER }, T, HBA_DO_NOTHING,
	  DONTCARE, .fenced = 1 },
	{ "paused: the lease never fences", { RUNNING, .lease_end = T - 1,
	  .paused = true }, { .kind = HBA_EV_TIMER }, T, HBA_DO_NOTHING,
	  DONTCARE, .fenced = 0 },
	{ "retry due: apply again", { RUNNING, .retry_at = T },
	  { .kind = HBA_EV_TIMER }, T, HBA_DO_APPLY, DONTCARE },
	{ "retry due but nothing wanted yet", { .lease_end = T + 1000,
	  .retry_at = T }, { .kind = HBA_EV_TIMER }, T, HBA_DO_NOTHING,
	  DONTCARE },
	{ "fresh verdict: lease from when the probe decided", { RUNNING },
	  { .kind = HBA_EV_VERDICT, .seq = 8, .verdict = { true, true },
	    .lease_ms = LEASE, .decided_boot_ms = T - 1500 }, T,
	  HBA_DO_APPLY, DONTCARE, .lease_end = T + LEASE - 1500 },
	{ "verdict after a fence: lease again", { RUNNING, .fenced = true },
	  { .kind = HBA_EV_VERDICT, .seq = 9, .lease_ms = LEASE,
	    .decided_boot_ms = T }, T, HBA_DO_APPLY, DONTCARE, .fenced = 0,
	  .lease_end = T + LEASE },
	{ "verdict older than its lease: ignored", { RUNNING },
	  { .kind = HBA_EV_VERDICT, .seq = 8, .lease_ms = LEASE,
	    .decided_boot_ms = T - LEASE }, T, HBA_DO_IGNORE, DONTCARE,
	  .lease_end = T + 1000 },
	{ "restarted worker, handed a verdict older than its lease: fence "
	  "now, not one lease after its start", { .lease_end = T + LEASE },
	  { .kind = HBA_EV_VERDICT, .seq = 8, .lease_ms = LEASE,
	    .decided_boot_ms = T - LEASE - 1 }, T, HBA_DO_IGNORE, DONTCARE,
	  .lease_end = T },
	{ "restarted worker, handed a verdict with lease left: that lease",
	  { .lease_end = T + LEASE },
	  { .kind = HBA_EV_VERDICT, .seq = 8, .verdict = { true, true },
	    .lease_ms = LEASE, .decided_boot_ms = T - LEASE + 400 }, T,
	  HBA_DO_APPLY, DONTCARE, .lease_end = T + 400 },
	{ "running worker, allow older than its lease: ignored", { RUNNING },
	  { .kind = HBA_EV_VERDICT, .seq = 8, .verdict = { true, true },
	    .lease_ms = LEASE, .decided_boot_ms = T - LEASE - 1 }, T,
	  HBA_DO_IGNORE, DONTCARE, .lease_end = T + 1000 },
	/*
	 * No boot-clock stamp (or one ahead of ours): nobody knows how old
	 * it is. An allow is refused (taken as fresh, a wall clock stepped
	 * back would lengthen its lease); a deny needs no lease.
	 */
	{ "allow without a boot-clock stamp: ignored", { RUNNING },
	  { .kind = HBA_EV_VERDICT, .seq = 8, .verdict = { true, true },
	    .lease_ms = LEASE, .allow_ro = true }, T, HBA_DO_IGNORE,
	  DONTCARE },
	{ "ro-only allow without a boot-clock stamp: ignored", { RUNNING },
	  { .kind = HBA_EV_VERDICT, .seq = 8, .verdict = { false, true },
	    .lease_ms = LEASE, .allow_ro = true }, T, HBA_DO_IGNORE,
	  DONTCARE },
	{ "allow stamped ahead of the boot clock: ignored", { RUNNING },
	  { .kind = HBA_EV_VERDICT, .seq = 8, .verdict = { true, true },
	    .lease_ms = LEASE, .decided_boot_ms = T + 50 }, T,
	  HBA_DO_IGNORE, DONTCARE },
	{ "deny without a boot-clock stamp: applied", { RUNNING },
	  { .kind = HBA_EV_VERDICT, .seq = 8, .lease_ms = LEASE }, T,
	  HBA_DO_APPLY, DONTCARE, .lease_end = T + LEASE },
	{ "paused: verdict ignored", { RUNNING, .paused = true },
	  { .kind = HBA_EV_VERDICT, .seq = 8, .lease_ms = LEASE,
	    .decided_boot_ms = T }, T, HBA_DO_IGNORE, DONTCARE },
	{ "pause: no retry either", { RUNNING, .retry_at = T + 5 },
	  { .kind = HBA_EV_PAUSE }, T, HBA_DO_NOTHING, DONTCARE,
	  .retry_at = 0 },
	{ "resume: a fresh one-lease wait", { RUNNING, .paused = true,
	  .fenced = true }, { .kind = HBA_EV_RESUME, .conf_lease_ms = LEASE },
	  T, HBA_DO_NOTHING, DONTCARE, .fenced = 0, .lease_end = T + LEASE },

	/* ---- config reloads ---- */
	{ "config reload re-applies the verdict", { RUNNING },
	  { .kind = HBA_EV_CONFIG }, T, HBA_DO_APPLY, DONTCARE },
	{ "config reload while paused: file left alone", { RUNNING,
	  .paused = true }, { .kind = HBA_EV_CONFIG }, T, HBA_DO_NOTHING,
	  DONTCARE },
	{ "config reload before any verdict: nothing", { .lease_end = T },
	  { .kind = HBA_EV_CONFIG }, T, HBA_DO_NOTHING, DONTCARE },

	/* ---- read: write or not ---- */
	{ "unchanged bytes: no write, no reload", { RUNNING },
	  { .kind = HBA_EV_READ, .same = true }, T, HBA_DO_DONE, DONTCARE },
	{ "first apply after start: unchanged bytes still checked and "
	  "reloaded", { RUNNING, .reload_unknown = true },
	  { .kind = HBA_EV_READ, .same = true }, T, HBA_DO_CHECK,
	  HBA_PREV_NONE, DONTCARE },
	{ "unchanged bytes after an unreloaded write: reload owed",
	  { RUNNING, .reload_pending = true },
	  { .kind = HBA_EV_READ, .same = true }, T, HBA_DO_CHECK,
	  HBA_PREV_PENDING, DONTCARE },
	{ "new bytes: write", { RUNNING },
	  { .kind = HBA_EV_READ }, T, HBA_DO_WRITE, DONTCARE },
	{ "unreadable file or damaged block: retry", { RUNNING },
	  { .kind = HBA_EV_READ, .io = HBA_IO_FAILED }, T, HBA_DO_RETRY,
	  .retry = true, DONTCARE },
	{ "bytes PostgreSQL refused: not written again", { RUNNING },
	  { .kind = HBA_EV_READ, .refused_again = true }, T,
	  HBA_DO_SKIP_REJECTED, DONTCARE },
	{ "refused bytes that deny more than the file: written", { RUNNING },
	  { .kind = HBA_EV_READ, .refused_again = true, .read_widens = true },
	  T, HBA_DO_WRITE, DONTCARE },

	/* ---- write ---- */
	{ "written: check, the bytes read go back if refused", { RUNNING },
	  { .kind = HBA_EV_WRITTEN, .attempt = 1 }, T, HBA_DO_CHECK,
	  HBA_PREV_READ, DONTCARE },
	{ "written after an unreloaded write: the older bytes go back",
	  { RUNNING, .reload_pending = true },
	  { .kind = HBA_EV_WRITTEN, .attempt = 1 }, T, HBA_DO_CHECK,
	  HBA_PREV_PENDING, DONTCARE },
	{ "operator's edit during the write: read their bytes again",
	  { RUNNING }, { .kind = HBA_EV_WRITTEN, .io = HBA_IO_RACED,
	  .attempt = 1 }, T, HBA_DO_REREAD, DONTCARE },
	{ "operator's edit, third time in a row: retry later", { RUNNING },
	  { .kind = HBA_EV_WRITTEN, .io = HBA_IO_RACED,
	  .attempt = HBA_RACE_TRIES }, T, HBA_DO_RETRY, .retry = true,
	  DONTCARE },
	{ "write failed: retry", { RUNNING },
	  { .kind = HBA_EV_WRITTEN, .io = HBA_IO_FAILED, .attempt = 1 }, T,
	  HBA_DO_RETRY, .retry = true, DONTCARE },

	/* ---- check and reload ---- */
	{ "check passed: reload", { RUNNING },
	  { .kind = HBA_EV_CHECKED, .wrote = true }, T, HBA_DO_RELOAD,
	  DONTCARE },
	{ "reloaded: nothing owed any more", { RUNNING, .reload_unknown = true,
	  .reload_pending = true }, { .kind = HBA_EV_RELOADED, .wrote = true },
	  T, HBA_DO_DONE, DONTCARE, .pending = 0, .unknown = 0 },
	{ "validation failed: restore the previous file", { RUNNING },
	  { .kind = HBA_EV_CHECKED, .io = HBA_IO_REJECTED, .wrote = true }, T,
	  HBA_DO_RESTORE, DONTCARE, .pending = 0 },
	{ "validation failed after pending writes: restore, pending done",
	  { RUNNING, .reload_pending = true },
	  { .kind = HBA_EV_CHECKED, .io = HBA_IO_REJECTED }, T,
	  HBA_DO_RESTORE, DONTCARE, .pending = 0 },
	{ "refused deny: never an allow back over it", { RUNNING },
	  { .kind = HBA_EV_CHECKED, .io = HBA_IO_REJECTED, .wrote = true,
	    .prev_widens = true }, T, HBA_DO_KEEP_DENY, .retry = true,
	  DONTCARE, .pending = 0, .unknown = 1 },
	{ "refused unchanged bytes: nothing to restore, reload owed",
	  { RUNNING, .reload_unknown = true },
	  { .kind = HBA_EV_CHECKED, .io = HBA_IO_REJECTED }, T,
	  HBA_DO_KEEP_UNLOADED, .retry = true, DONTCARE, .unknown = 1 },
	{ "restored: done", { RUNNING }, { .kind = HBA_EV_RESTORED }, T,
	  HBA_DO_DONE, DONTCARE },
	{ "restore failed: retry", { RUNNING },
	  { .kind = HBA_EV_RESTORED, .io = HBA_IO_FAILED }, T, HBA_DO_RETRY,
	  .retry = true, DONTCARE },

	/* ---- a stalled or unreachable PostgreSQL ---- */
	{ "no answer after an allow's write: new file stays, its predecessor "
	  "kept",
	  { RUNNING }, { .kind = HBA_EV_CHECKED, .io = HBA_IO_FAILED,
	  .wrote = true }, T, HBA_DO_RETRY, .retry = true, .keep_prev = true,
	  DONTCARE, .pending = 1 },
	{ "no answer again: the first predecessor stays the one kept",
	  { RUNNING, .reload_pending = true }, { .kind = HBA_EV_CHECKED,
	  .io = HBA_IO_FAILED, .wrote = true }, T, HBA_DO_RETRY,
	  .retry = true, DONTCARE, .pending = 1 },
	{ "query deadline on the first apply: reload still owed",
	  { RUNNING, .reload_unknown = true }, { .kind = HBA_EV_CHECKED,
	  .io = HBA_IO_FAILED }, T, HBA_DO_RETRY, .retry = true, DONTCARE,
	  .pending = 0, .unknown = 1 },
	{ "unvalidated deny (no answer, or no privilege to check): reloaded "
	  "all the same", { RUNNING, .want = { false, false } },
	  { .kind = HBA_EV_CHECKED, .io = HBA_IO_FAILED, .wrote = true }, T,
	  HBA_DO_RELOAD, DONTCARE },
	{ "unvalidated rw deny, ro allowed: reloaded", { RUNNING,
	  .want = { false, true } }, { .kind = HBA_EV_CHECKED,
	  .io = HBA_IO_FAILED, .wrote = true }, T, HBA_DO_RELOAD, DONTCARE },
	{ "deny on disk at start, check cannot run: reloaded, not owed again",
	  { RUNNING, .want = { false, false }, .reload_unknown = true },
	  { .kind = HBA_EV_CHECKED, .io = HBA_IO_FAILED }, T, HBA_DO_RELOAD,
	  DONTCARE },
	{ "unvalidated deny reloaded: done", { RUNNING, .want = { false, false },
	  .reload_unknown = true }, { .kind = HBA_EV_RELOADED }, T,
	  HBA_DO_DONE, DONTCARE, .pending = 0, .unknown = 0 },
	{ "unvalidated deny, reload failed too (no postmaster): retry",
	  { RUNNING, .want = { false, false } }, { .kind = HBA_EV_RELOADED,
	  .io = HBA_IO_FAILED, .wrote = true }, T, HBA_DO_RETRY, .retry = true,
	  .keep_prev = true, DONTCARE, .pending = 1 },
	{ "reload failed after a write: retry, predecessor kept", { RUNNING },
	  { .kind = HBA_EV_RELOADED, .io = HBA_IO_FAILED, .wrote = true }, T,
	  HBA_DO_RETRY, .retry = true, .keep_prev = true, DONTCARE,
	  .pending = 1 },
	{ "apply failed: retry in HBA_RETRY_MS", { RUNNING },
	  { .kind = HBA_EV_APPLIED, .retry = true }, T, HBA_DO_NOTHING,
	  DONTCARE, .retry_at = T + HBA_RETRY_MS },
	{ "apply done: no retry", { RUNNING, .retry_at = T - 1 },
	  { .kind = HBA_EV_APPLIED }, T, HBA_DO_NOTHING, DONTCARE,
	  .retry_at = 0 },
};

static void
check_int(const char *name, const char *what, int64_t want, int64_t got)
{
	if (want != ANY && want != got)
		fail_msg("%s: %s is %lld, want %lld", name, what,
		    (long long)got, (long long)want);
}

static void
test_table(void **state)
{
	const struct pcase *c;
	struct hba_action a;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = &cases[i];
		a = hba_plan(&c->st, &c->ev, c->now);
		check_int(c->name, "action", c->what, a.what);
		if (c->what == HBA_DO_CHECK)
			check_int(c->name, "prev", c->prev, a.prev);
		check_int(c->name, "retry", c->retry, a.retry);
		check_int(c->name, "keep_prev", c->keep_prev, a.keep_prev);
		check_int(c->name, "reload_pending", c->pending,
		    a.next.reload_pending);
		check_int(c->name, "reload_unknown", c->unknown,
		    a.next.reload_unknown);
		check_int(c->name, "fenced", c->fenced, a.next.fenced);
		check_int(c->name, "lease_end", c->lease_end, a.next.lease_end);
		check_int(c->name, "retry_at", c->retry_at, a.next.retry_at);
	}
}

/* The fence denies both, reports seq 0, and is marked a fence. */
static void
test_fence_wants_deny(void **state)
{
	struct hba_plan_state st = { RUNNING, .lease_end = T };
	struct hba_action a;

	a = hba_plan(&st, &(struct hba_event){ .kind = HBA_EV_TIMER }, T);
	assert_int_equal(a.what, HBA_DO_APPLY);
	assert_true(a.fence);
	assert_false(a.next.want.rw_allow);
	assert_false(a.next.want.ro_allow);
	assert_int_equal(a.next.want_seq, 0);
	assert_true(a.next.want_fence);
	assert_string_equal(a.why, "lease expired");
}

/* Without allowRO there is no ro rule: a verdict's ro allow is dropped. */
static void
test_verdict_want(void **state)
{
	struct hba_plan_state st = { RUNNING, .want_fence = true };
	struct hba_event ev = { .kind = HBA_EV_VERDICT, .seq = 12,
	    .verdict = { false, true }, .lease_ms = LEASE,
	    .decided_boot_ms = T };
	struct hba_action a;

	a = hba_plan(&st, &ev, T);
	assert_int_equal(a.next.want_seq, 12);
	assert_false(a.next.want_fence);
	assert_false(a.next.want.rw_allow);
	assert_false(a.next.want.ro_allow);
	ev.allow_ro = true;
	a = hba_plan(&st, &ev, T);
	assert_true(a.next.want.ro_allow);
}

/* A restarted worker: one lease before a fence, a reload owed. */
static void
test_init(void **state)
{
	struct hba_plan_state st;

	hba_plan_init(&st, LEASE, T);
	assert_int_equal(st.lease_end, T + LEASE);
	assert_true(st.reload_unknown);
	assert_false(st.reload_pending);
	assert_false(st.have_want);
	assert_int_equal(hba_plan_next_timer(&st), T + LEASE);
}

static void
test_next_timer(void **state)
{
	struct hba_plan_state st = { RUNNING };

	assert_int_equal(hba_plan_next_timer(&st), T + 1000);
	st.retry_at = T + 10;
	assert_int_equal(hba_plan_next_timer(&st), T + 10);
	st.fenced = true;	/* fenced: only the retry */
	st.retry_at = T + 5000;
	assert_int_equal(hba_plan_next_timer(&st), T + 5000);
	st.retry_at = 0;
	assert_int_equal(hba_plan_next_timer(&st), -1);
	st.fenced = false;
	st.paused = true;	/* paused: nothing at all */
	st.retry_at = T + 10;
	assert_int_equal(hba_plan_next_timer(&st), -1);
}

/* Runs ev on *st and checks the action; the state moves on. */
static struct hba_action
step(struct hba_plan_state *st, struct hba_event ev, int64_t now,
    enum hba_do want)
{
	struct hba_action a = hba_plan(st, &ev, now);

	assert_int_equal(a.what, want);
	*st = a.next;
	return a;
}

/*
 * A PostgreSQL that stalls on the first apply after start: the query
 * deadline passes, the reload stays owed, the retry timer checks and
 * reloads the unchanged bytes; after that, unchanged bytes cost nothing.
 */
static void
test_stalled_then_back(void **state)
{
	struct hba_plan_state st;

	hba_plan_init(&st, LEASE, T);
	step(&st, (struct hba_event){ .kind = HBA_EV_VERDICT, .seq = 1,
	    .verdict = { true, false }, .lease_ms = LEASE,
	    .decided_boot_ms = T }, T, HBA_DO_APPLY);
	step(&st, (struct hba_event){ .kind = HBA_EV_READ, .same = true }, T,
	    HBA_DO_CHECK);
	step(&st, (struct hba_event){ .kind = HBA_EV_CHECKED,
	    .io = HBA_IO_FAILED }, T + 3500, HBA_DO_RETRY);
	assert_true(st.reload_unknown);
	step(&st, (struct hba_event){ .kind = HBA_EV_APPLIED, .retry = true },
	    T + 3500, HBA_DO_NOTHING);
	assert_int_equal(hba_plan_next_timer(&st), T + 3500 + HBA_RETRY_MS);
	step(&st, (struct hba_event){ .kind = HBA_EV_TIMER },
	    T + 3500 + HBA_RETRY_MS - 1, HBA_DO_NOTHING);
	step(&st, (struct hba_event){ .kind = HBA_EV_TIMER },
	    T + 3500 + HBA_RETRY_MS, HBA_DO_APPLY);
	step(&st, (struct hba_event){ .kind = HBA_EV_READ, .same = true },
	    T + 6000, HBA_DO_CHECK);
	step(&st, (struct hba_event){ .kind = HBA_EV_CHECKED }, T + 6000,
	    HBA_DO_RELOAD);
	step(&st, (struct hba_event){ .kind = HBA_EV_RELOADED }, T + 6000,
	    HBA_DO_DONE);
	assert_false(st.reload_unknown);
	step(&st, (struct hba_event){ .kind = HBA_EV_APPLIED }, T + 6000,
	    HBA_DO_NOTHING);
	assert_int_equal(st.retry_at, 0);
	step(&st, (struct hba_event){ .kind = HBA_EV_READ, .same = true },
	    T + 7000, HBA_DO_DONE);
}

/*
 * A deny written while PostgreSQL was unreachable, then refused once it
 * answers: the allow from before the write is not put back, and the
 * reload stays owed until the file is fixed.
 */
static void
test_deny_kept_after_outage(void **state)
{
	struct hba_plan_state st = { RUNNING };
	struct hba_action a;

	step(&st, (struct hba_event){ .kind = HBA_EV_READ }, T, HBA_DO_WRITE);
	step(&st, (struct hba_event){ .kind = HBA_EV_WRITTEN, .attempt = 1 },
	    T, HBA_DO_CHECK);
	a = step(&st, (struct hba_event){ .kind = HBA_EV_CHECKED,
	    .io = HBA_IO_FAILED, .wrote = true }, T, HBA_DO_RETRY);
	assert_true(a.keep_prev);
	assert_true(st.reload_pending);
	step(&st, (struct hba_event){ .kind = HBA_EV_READ, .same = true },
	    T + 2000, HBA_DO_CHECK);
	a = step(&st, (struct hba_event){ .kind = HBA_EV_CHECKED,
	    .io = HBA_IO_REJECTED, .prev_widens = true }, T + 2000,
	    HBA_DO_KEEP_DENY);
	assert_true(a.retry);
	assert_false(st.reload_pending);
	assert_true(st.reload_unknown);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_fence_wants_deny),
		cmocka_unit_test(test_verdict_want),
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_next_timer),
		cmocka_unit_test(test_stalled_then_back),
		cmocka_unit_test(test_deny_kept_after_outage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
