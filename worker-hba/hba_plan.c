/*
 * The hba worker's rules as one pure function (see hba_plan.h): every
 * decision that used to hide in flags of the worker's state, each in a
 * function of its own. No I/O and no clock: now comes in, the next state
 * goes out with the action.
 */
#include <string.h>

#include "worker-hba/hba_plan.h"

static struct hba_action
act(const struct hba_plan_state *st, enum hba_do what)
{
	struct hba_action a;

	memset(&a, 0, sizeof(a));
	a.what = what;
	a.next = *st;
	return a;
}

/* Fail the apply for now; the retry timer tries again. */
static struct hba_action
retry(const struct hba_plan_state *st)
{
	struct hba_action a = act(st, HBA_DO_RETRY);

	a.retry = true;
	return a;
}

void
hba_plan_init(struct hba_plan_state *st, int64_t lease_ms, int64_t now)
{
	memset(st, 0, sizeof(*st));
	/* a predecessor may have died between its rename and its reload */
	st->reload_unknown = true;
	/* a restarted worker waits one lease: its own crash must not flap */
	st->lease_end = now + lease_ms;
}

/*
 * How old a verdict is, in ms: counted from when the probe decided (it
 * may have waited in a queue or behind a stalled worker), on
 * CLOCK_BOOTTIME, which the probe shares on this host and nobody steps.
 * -1: nobody knows (no stamp, or one ahead of our boot clock). Never the
 * wall clock: stepped back, it made an old verdict young, lengthening
 * the lease of an allow (docs/HARDENING.md, "Clocks").
 */
long long
hba_verdict_age(long long decided_boot_ms, long long now_boot_ms)
{
	if (decided_boot_ms <= 0 || decided_boot_ms > now_boot_ms)
		return -1;
	return now_boot_ms - decided_boot_ms;
}

static struct hba_action
on_verdict(const struct hba_plan_state *st, const struct hba_event *ev,
    int64_t now)
{
	struct hba_action a;
	int64_t age, left;
	bool deny = !ev->verdict.rw_allow && !ev->verdict.ro_allow;

	if (st->paused) {
		a = act(st, HBA_DO_IGNORE);
		a.why = "paused";
		return a;
	}
	age = hba_verdict_age(ev->decided_boot_ms, now);
	/* a deny needs no lease: of unknown age, it is taken as just decided */
	if (age < 0 && deny)
		age = 0;
	left = age < 0 ? 0 : ev->lease_ms - age;
	if (left <= 0) {
		a = act(st, HBA_DO_IGNORE);
		a.why = age < 0 ? "has no usable boot-clock stamp: the lease of "
		    "its allow cannot be measured" :
		    "arrived after its lease ran out";
		/*
		 * The first verdict of a restarted worker (the supervisor
		 * hands it the last one) has run out: so has whatever allow
		 * is on disk. Fence now, not one lease after this worker
		 * started. A running worker keeps the lease of its last
		 * fresh verdict.
		 */
		if (!st->have_want && a.next.lease_end > now)
			a.next.lease_end = now;
		return a;
	}
	a = act(st, HBA_DO_APPLY);
	a.next.lease_end = now + left;
	a.next.fenced = false;
	a.next.have_want = true;
	a.next.want.rw_allow = ev->verdict.rw_allow;
	/* without allowRO there is no ro rule to allow */
	a.next.want.ro_allow = ev->allow_ro && ev->verdict.ro_allow;
	a.next.want_seq = ev->seq;
	a.next.want_fence = false;
	return a;
}

/*
 * No fresh verdict within the lease: the probe is hung or crash-looping
 * and nobody vouches for this node any more. Deny rw and ro, once.
 */
static struct hba_action
fence(const struct hba_plan_state *st)
{
	struct hba_action a = act(st, HBA_DO_APPLY);

	a.fence = true;
	a.why = "lease expired";
	a.next.fenced = true;
	a.next.have_want = true;
	a.next.want = (struct hba_verdict){ false, false };
	a.next.want_seq = 0;
	a.next.want_fence = true;
	return a;
}

static struct hba_action
on_timer(const struct hba_plan_state *st, int64_t now)
{
	struct hba_action a;

	if (st->paused)
		return act(st, HBA_DO_NOTHING);
	if (!st->fenced && now >= st->lease_end)
		return fence(st);
	if (st->retry_at > 0 && now >= st->retry_at && st->have_want) {
		a = act(st, HBA_DO_APPLY);
		a.why = "retry";
		return a;
	}
	return act(st, HBA_DO_NOTHING);
}

/* stop-client: leave the file as it is, never fence. */
static struct hba_action
on_pause(const struct hba_plan_state *st)
{
	struct hba_action a = act(st, HBA_DO_NOTHING);

	a.next.paused = true;
	a.next.retry_at = 0;
	return a;
}

/* start-client: a fresh one-lease wait for a verdict. */
static struct hba_action
on_resume(const struct hba_plan_state *st, const struct hba_event *ev,
    int64_t now)
{
	struct hba_action a = act(st, HBA_DO_NOTHING);

	a.next.paused = false;
	a.next.fenced = false;
	a.next.lease_end = now + ev->conf_lease_ms;
	return a;
}

/* New servers, users or methods apply at once. */
static struct hba_action
on_config(const struct hba_plan_state *st)
{
	struct hba_action a;

	if (!st->have_want || st->paused)
		return act(st, HBA_DO_NOTHING);
	a = act(st, HBA_DO_APPLY);
	a.why = "configuration reloaded";
	return a;
}

/* Check (and reload) what is on disk; prev: what to put back if refused. */
static struct hba_action
check(const struct hba_plan_state *st, bool wrote)
{
	struct hba_action a = act(st, HBA_DO_CHECK);

	/* the bytes before the first unreloaded write are the known-good */
	if (st->reload_pending)
		a.prev = HBA_PREV_PENDING;
	else
		a.prev = wrote ? HBA_PREV_READ : HBA_PREV_NONE;
	return a;
}

static struct hba_action
on_read(const struct hba_plan_state *st, const struct hba_event *ev)
{
	if (ev->io != HBA_IO_OK)
		return retry(st);
	/* refused bytes are written again only if they deny more than now */
	if (!ev->same && ev->refused_again && !ev->read_widens)
		return act(st, HBA_DO_SKIP_REJECTED);
	if (!ev->same)
		return act(st, HBA_DO_WRITE);
	/* unchanged bytes: no write, and no reload unless one is owed */
	if (st->reload_pending || st->reload_unknown)
		return check(st, false);
	return act(st, HBA_DO_DONE);
}

static struct hba_action
on_written(const struct hba_plan_state *st, const struct hba_event *ev)
{
	switch (ev->io) {
	case HBA_IO_OK:
		return check(st, true);
	case HBA_IO_RACED:
		/* an operator's edit: rewrite from their bytes, a few times */
		if (ev->attempt < HBA_RACE_TRIES)
			return act(st, HBA_DO_REREAD);
		return retry(st);
	default:
		return retry(st);
	}
}

/*
 * PostgreSQL was not asked, or not reloaded: the new file stays (a fence
 * must not wait for the database) and both are retried later.
 */
static struct hba_action
not_loaded(const struct hba_plan_state *st, bool wrote)
{
	struct hba_action a = retry(st);

	if (wrote || st->reload_pending) {
		a.keep_prev = !st->reload_pending;
		a.next.reload_pending = true;
	} else
		a.next.reload_unknown = true;
	return a;
}

/*
 * PostgreSQL finds errors in the file. Put the previous bytes back,
 * unless they allow a check user the new verdict denies: harepd never
 * puts an allow back over a deny itself. Either way the file is not
 * reloaded.
 */
static struct hba_action
refused(const struct hba_plan_state *st, const struct hba_event *ev)
{
	struct hba_action a;

	if (!ev->wrote && !st->reload_pending) {
		a = retry(st);
		a.what = HBA_DO_KEEP_UNLOADED;
		a.next.reload_unknown = true;
	} else if (ev->prev_widens) {
		a = retry(st);
		a.what = HBA_DO_KEEP_DENY;
		a.next.reload_unknown = true;
	} else
		a = act(st, HBA_DO_RESTORE);
	a.next.reload_pending = false;
	return a;
}

static struct hba_action
on_checked(const struct hba_plan_state *st, const struct hba_event *ev)
{
	switch (ev->io) {
	case HBA_IO_OK:
		return act(st, HBA_DO_RELOAD);
	case HBA_IO_REJECTED:
		return refused(st, ev);
	default:
		break;
	}
	/*
	 * Not validated (no answer, or the role may not read
	 * pg_hba_file_rules). A deny is reloaded all the same: PostgreSQL
	 * keeps its old rules if it cannot parse the file, so the reload
	 * can only narrow, while skipping it would leave a deny on disk and
	 * an allow in effect for as long as the check cannot run. An allow
	 * waits for the check.
	 */
	if (!st->want.rw_allow)
		return act(st, HBA_DO_RELOAD);
	return not_loaded(st, ev->wrote);
}

static struct hba_action
on_reloaded(const struct hba_plan_state *st, const struct hba_event *ev)
{
	struct hba_action a;

	if (ev->io != HBA_IO_OK)
		return not_loaded(st, ev->wrote);
	a = act(st, HBA_DO_DONE);
	a.next.reload_pending = false;
	a.next.reload_unknown = false;
	return a;
}

static struct hba_action
on_restored(const struct hba_plan_state *st, const struct hba_event *ev)
{
	return ev->io == HBA_IO_OK ? act(st, HBA_DO_DONE) : retry(st);
}

static struct hba_action
on_applied(const struct hba_plan_state *st, const struct hba_event *ev,
    int64_t now)
{
	struct hba_action a = act(st, HBA_DO_NOTHING);

	a.next.retry_at = ev->retry ? now + HBA_RETRY_MS : 0;
	return a;
}

struct hba_action
hba_plan(const struct hba_plan_state *st, const struct hba_event *ev,
    int64_t now)
{
	switch (ev->kind) {
	case HBA_EV_VERDICT:
		return on_verdict(st, ev, now);
	case HBA_EV_TIMER:
		return on_timer(st, now);
	case HBA_EV_PAUSE:
		return on_pause(st);
	case HBA_EV_RESUME:
		return on_resume(st, ev, now);
	case HBA_EV_CONFIG:
		return on_config(st);
	case HBA_EV_READ:
		return on_read(st, ev);
	case HBA_EV_WRITTEN:
		return on_written(st, ev);
	case HBA_EV_CHECKED:
		return on_checked(st, ev);
	case HBA_EV_RELOADED:
		return on_reloaded(st, ev);
	case HBA_EV_RESTORED:
		return on_restored(st, ev);
	case HBA_EV_APPLIED:
		return on_applied(st, ev, now);
	}
	return act(st, HBA_DO_NOTHING);
}

int64_t
hba_plan_next_timer(const struct hba_plan_state *st)
{
	int64_t at = -1;

	if (st->paused)
		return -1;
	if (!st->fenced)
		at = st->lease_end;
	if (st->retry_at > 0 && (at < 0 || st->retry_at < at))
		at = st->retry_at;
	return at;
}
