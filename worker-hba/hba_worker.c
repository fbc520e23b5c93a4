/*
 * The hba worker: applies verdicts to pg_hba.conf and fences when they
 * stop coming. Runs as the owner of pg_hba.conf with no capabilities.
 *
 * Per verdict: rewrite the block (hba_block.c); if the bytes changed,
 * replace the file atomically, ask PostgreSQL whether it can parse it
 * (pg_hba_file_rules), put the old bytes back if not, else reload.
 * Every verdict and every fence gets one HbaApplied back.
 *
 * What to do at each of those steps, the lease and the retries are
 * decided by hba_plan() (hba_plan.c, pure); this file carries the plan
 * out and keeps the bytes the plan talks about. The rules: docs/HBA.md.
 *
 * Just over 600 lines: each hba_plan() action has its one I/O step here,
 * next to the state those steps share; the policy itself is in hba_plan.c.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/log.h"
#include "ipc/worker.h"
#include "util/clock.h"
#include "worker-hba/hba.h"
#include "worker-hba/hba_plan.h"

struct hba_state {
	struct conf	*conf;
	char		 path[PATH_MAX];	/* realpath of hbaConfig */
	struct hba_pg	*pg;
	struct hba_warnings warnings;		/* rechecked on every apply */
	struct hba_plan_state plan;		/* lease, want, owed reloads */
	int64_t		 want_decided_boot_ms;	/* of the verdict (or fence) wanted */
	uint64_t	 last_verdict_seq;	/* received, applied or not */
	struct hba_verdict file_now;	/* what the block says, if known */

	/* bytes PostgreSQL refused: not written again until they change */
	struct hba_buf	 rejected;
	char		 rejected_why[1024];
	/* while plan.reload_pending: the bytes before the first such write */
	struct hba_buf	 pending_prev;
	struct stat	 pending_st;
};

/* The outcome of one apply, sent as HbaApplied. */
struct hba_outcome {
	bool	 changed;
	bool	 reloaded;
	bool	 retry;		/* worth trying again later */
	bool	 rejected;	/* PostgreSQL refused the bytes checked */
	bool	 pg_down;	/* not reloaded: no postmaster runs */
	struct hba_verdict now;	/* what the file says afterwards */
	char	 error[1024];
};

/* One read of the file and what the apply did with it. */
struct hba_attempt {
	int		 n;		/* 1 for the first read */
	bool		 read;		/* read and rewritten: now is known */
	struct hba_buf	 cur, next;
	struct stat	 st;
	struct hba_verdict before;	/* what cur says */
	bool		 same;		/* next == cur */
	bool		 wrote;
	enum hba_prev	 prev;		/* what a refused check puts back */
};

static const char *
word(bool allow)
{
	return allow ? "allow" : "deny";
}

static void
send_applied(struct hba_state *s, const struct hba_outcome *o)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	Harepd__HbaApplied ha;
	char error[sizeof(o->error)], *warnings[HBA_WARN_COUNT];
	uint64_t seq = s->plan.want_seq;

	harepd__hba_applied__init(&ha);
	snprintf(error, sizeof(error), "%s", o->error);
	ipc_utf8_scrub(error);	/* PostgreSQL's text, quoted: keep it legal */
	ha.seq = seq;
	ha.changed = o->changed;
	ha.reloaded = o->reloaded;
	ha.error = error;
	ha.fenced = s->plan.want_fence;
	ha.decided_boot_ms = s->want_decided_boot_ms;
	ha.pg_down = o->pg_down;
	ha.last_verdict_seq = s->last_verdict_seq;
	/* PostgreSQL's messages are in them too, scrubbed when stored */
	ha.n_warnings = hba_warnings_list(&s->warnings, warnings);
	ha.warnings = warnings;
	ha.rw_allow = o->now.rw_allow;
	ha.ro_allow = o->now.ro_allow;
	ha.applied_at_ms = clock_wall_ms();
	env.body_case = HAREPD__ENVELOPE__BODY_HBA_APPLIED;
	env.hba_applied = &ha;
	if (worker_send(&env) == -1)
		log_warn("cannot send HbaApplied for verdict %llu",
		    (unsigned long long)seq);
}

/*
 * Would putting prev back allow a check user that verdict v denies?
 * known: what prev says when its block is not in the current config's
 * terms (a config reload changed the methods or servers). A file with no
 * block at all counts as allowing: its Go-harepd lines may.
 */
static bool
restore_widens(const struct hba_state *s, const struct hba_buf *prev,
    struct hba_verdict known, struct hba_verdict v)
{
	struct hba_verdict pv;
	size_t bl, el;
	char err[256];

	if (hba_current_verdict(prev->data, prev->len, s->conf, &pv) != 1)
		pv = hba_find_block(prev->data, prev->len, &bl, &el, err,
		    sizeof(err)) == 1 ? known :
		    (struct hba_verdict){ true, true };
	return (pv.rw_allow && !v.rw_allow) ||
	    (s->conf->allow_ro && pv.ro_allow && !v.ro_allow);
}

static bool
same_bytes(const struct hba_buf *a, const struct hba_buf *b)
{
	return a->data != NULL && b->data != NULL && a->len == b->len &&
	    memcmp(a->data, b->data, a->len) == 0;
}


/* Ask the plan, and move on to the state it gives. */
static struct hba_action
plan(struct hba_state *s, const struct hba_event *ev)
{
	struct hba_action a = hba_plan(&s->plan, ev, clock_boot_ms());

	s->plan = a.next;
	return a;
}

static void
append(struct hba_outcome *o, const char *text)
{
	size_t n = strlen(o->error);

	snprintf(o->error + n, sizeof(o->error) - n, "%s", text);
}

/* Read the file and rewrite its block toward want. */
static struct hba_action
step_read(struct hba_state *s, struct hba_attempt *at, struct hba_outcome *o)
{
	struct hba_event ev = { .kind = HBA_EV_READ, .io = HBA_IO_FAILED };

	if (hba_file_read(s->path, &at->cur, &at->st, o->error,
	    sizeof(o->error)) == -1)
		return plan(s, &ev);
	/* a config reload may have changed the methods: then trust memory */
	if (hba_current_verdict(at->cur.data, at->cur.len, s->conf,
	    &o->now) != 1)
		o->now = s->file_now;
	at->before = o->now;
	if (hba_rewrite(at->cur.data, at->cur.len, s->conf, s->plan.want,
	    &at->next, o->error, sizeof(o->error)) == -1)
		return plan(s, &ev);
	at->read = true;
	hba_watch_file(&s->warnings, s->path, at->next.data, at->next.len);
	at->same = same_bytes(&at->next, &at->cur);
	ev.io = HBA_IO_OK;
	ev.same = at->same;
	ev.refused_again = same_bytes(&at->next, &s->rejected);
	ev.read_widens = restore_widens(s, &at->cur, at->before,
	    s->plan.want);
	return plan(s, &ev);
}

static struct hba_action
step_write(struct hba_state *s, struct hba_attempt *at, struct hba_outcome *o)
{
	struct hba_event ev = { .kind = HBA_EV_WRITTEN, .attempt = at->n };
	int rc;

	rc = hba_file_replace_if_same(s->path, at->next.data, at->next.len,
	    &at->st, o->error, sizeof(o->error));
	ev.io = rc == 0 ? HBA_IO_OK : rc == -2 ? HBA_IO_RACED : HBA_IO_FAILED;
	at->wrote = rc == 0;
	return plan(s, &ev);
}

static const struct hba_buf *
prev_bytes(struct hba_state *s, struct hba_attempt *at,
    const struct stat **st)
{
	*st = at->prev == HBA_PREV_PENDING ? &s->pending_st : &at->st;
	switch (at->prev) {
	case HBA_PREV_PENDING:
		return &s->pending_prev;
	case HBA_PREV_READ:
		return &at->cur;
	default:
		return NULL;
	}
}

/* Keep the bytes from before the first unreloaded write. */
static void
pending_set(struct hba_state *s, const struct hba_attempt *at)
{
	hba_buf_free(&s->pending_prev);
	memset(&s->pending_prev, 0, sizeof(s->pending_prev));
	if (hba_buf_add(&s->pending_prev, at->cur.data, at->cur.len) == -1)
		s->plan.reload_pending = false;
	s->pending_st = at->st;
}

/*
 * The new bytes are in place (or the old ones owe a reload): validate
 * them, the plan says what then.
 */
static struct hba_action
step_check(struct hba_state *s, struct hba_attempt *at, struct hba_outcome *o)
{
	struct hba_event ev = { .kind = HBA_EV_CHECKED, .wrote = at->wrote };
	const struct hba_buf *prev;
	const struct stat *st;
	struct hba_action a;
	int rc;

	o->changed = !at->same;
	o->now = s->plan.want;
	rc = hba_pg_check_rules(s->pg, o->error, sizeof(o->error));
	ev.io = rc == 0 ? HBA_IO_OK : rc == 1 ? HBA_IO_REJECTED :
	    HBA_IO_FAILED;
	/* not checked: with no postmaster running, the file is what loads */
	if (rc == -1)
		o->pg_down = hba_pg_postmaster_down(s->pg) == 1;
	if (rc == 1) {
		o->rejected = true;
		snprintf(s->rejected_why, sizeof(s->rejected_why), "%s",
		    o->error);
		if ((prev = prev_bytes(s, at, &st)) != NULL)
			ev.prev_widens = restore_widens(s, prev, at->before,
			    o->now);
	}
	a = plan(s, &ev);
	if (a.keep_prev)
		pending_set(s, at);
	if (rc == -1 && a.what == HBA_DO_RELOAD)
		append(o, "; a deny: reloaded without validation");
	return a;
}

static struct hba_action
step_reload(struct hba_state *s, struct hba_attempt *at, struct hba_outcome *o)
{
	struct hba_event ev = { .kind = HBA_EV_RELOADED, .wrote = at->wrote };
	struct hba_action a;
	char err[512];
	bool by_signal;

	ev.io = hba_pg_reload(s->pg, &by_signal, err, sizeof(err)) == 0 ?
	    HBA_IO_OK : HBA_IO_FAILED;
	if (ev.io == HBA_IO_FAILED) {
		o->pg_down = hba_pg_postmaster_down(s->pg) == 1;
		/* after an unvalidated deny, the check's error comes first */
		append(o, o->error[0] != '\0' ? "; reload failed: " : "");
		append(o, err);
	} else if (by_signal)
		log_debug("reloaded by SIGHUP to the postmaster (%s)", err);
	a = plan(s, &ev);
	if (a.keep_prev)
		pending_set(s, at);
	if (ev.io == HBA_IO_OK)
		o->reloaded = true;
	return a;
}

/* PostgreSQL cannot parse the new file: put the old bytes back. */
static struct hba_action
step_restore(struct hba_state *s, struct hba_attempt *at,
    struct hba_outcome *o)
{
	struct hba_event ev = { .kind = HBA_EV_RESTORED, .io = HBA_IO_OK };
	const struct hba_buf *prev;
	const struct stat *st;
	char err[512], msg[600];

	prev = prev_bytes(s, at, &st);
	if (hba_file_replace(s->path, prev->data, prev->len, st, err,
	    sizeof(err)) == -1) {
		snprintf(msg, sizeof(msg), "; restoring the previous file "
		    "FAILED: %s", err);
		append(o, msg);
		ev.io = HBA_IO_FAILED;
		return plan(s, &ev);
	}
	append(o, "; previous file restored, not reloaded");
	o->changed = false;
	o->now = at->before;
	return plan(s, &ev);
}

/* The end of one read: what the file says now, bytes PostgreSQL refused. */
static void
end_attempt(struct hba_state *s, struct hba_attempt *at,
    const struct hba_outcome *o)
{
	if (at->read) {
		s->file_now = o->now;
		if (o->rejected) {
			hba_buf_free(&s->rejected);
			hba_buf_add(&s->rejected, at->same ? at->cur.data :
			    at->next.data, at->same ? at->cur.len :
			    at->next.len);
		}
	}
	hba_buf_free(&at->cur);
	hba_buf_free(&at->next);
}

/* What a step that ends the apply adds to the outcome. */
static void
end_note(const struct hba_state *s, const struct hba_action *a,
    struct hba_outcome *o)
{
	switch (a->what) {
	case HBA_DO_SKIP_REJECTED:
		snprintf(o->error, sizeof(o->error), "%.960s (the same file "
		    "again: not written)", s->rejected_why);
		break;
	case HBA_DO_KEEP_DENY:
		/* a restarting PostgreSQL reads it, or refuses to start */
		append(o, "; the deny stays on disk (harepd never restores an "
		    "allow over a deny), not reloaded until the file is fixed");
		break;
	case HBA_DO_KEEP_UNLOADED:
		append(o, "; not reloaded until the file is fixed");
		break;
	default:
		break;
	}
	if (a->retry)
		o->retry = true;
}

/* One apply of plan.want, step by step as the plan says. */
static void
apply(struct hba_state *s, struct hba_outcome *o)
{
	struct hba_attempt at = { .n = 1 };
	struct hba_action a;

	memset(o, 0, sizeof(*o));
	a = step_read(s, &at, o);
	for (;;) {
		switch (a.what) {
		case HBA_DO_WRITE:
			a = step_write(s, &at, o);
			continue;
		case HBA_DO_REREAD:
			/* an operator's edit: start again from their bytes */
			end_attempt(s, &at, o);
			memset(o, 0, sizeof(*o));
			at = (struct hba_attempt){ .n = at.n + 1 };
			a = step_read(s, &at, o);
			continue;
		case HBA_DO_CHECK:
			at.prev = a.prev;
			a = step_check(s, &at, o);
			continue;
		case HBA_DO_RELOAD:
			a = step_reload(s, &at, o);
			continue;
		case HBA_DO_RESTORE:
			a = step_restore(s, &at, o);
			continue;
		default:
			break;
		}
		break;
	}
	end_note(s, &a, o);
	end_attempt(s, &at, o);
	if (!s->plan.reload_pending)
		hba_buf_free(&s->pending_prev);
}

static void
log_outcome(uint64_t seq, bool fence, const char *reason,
    const struct hba_outcome *o)
{
	char seqs[24];
	struct log_field f[] = {
		{ "seq", seqs }, { "rw", word(o->now.rw_allow) },
		{ "ro", word(o->now.ro_allow) },
		{ "reason", reason ? reason : "" },
	};

	static char last_error[sizeof(o->error)];
	bool again = o->error[0] != '\0' && strcmp(o->error, last_error) == 0;

	snprintf(seqs, sizeof(seqs), "%llu", (unsigned long long)seq);
	snprintf(last_error, sizeof(last_error), "%s", o->error);
	/* a damaged block fails every retry: say it loudly once */
	if (o->error[0] != '\0')
		log_emit(again ? LOG_LVL_DEBUG : LOG_LVL_ERROR, f, 4,
		    "pg_hba.conf %s: %s", fence ? "fence failed" :
		    "not applied", o->error);
	else if (o->changed)
		log_emit(LOG_LVL_INFO, f, 4, "pg_hba.conf %s: rw %s, ro %s, "
		    "reloaded", fence ? "fenced" : "changed",
		    word(o->now.rw_allow), word(o->now.ro_allow));
	else
		log_emit(LOG_LVL_DEBUG, f, 4, "pg_hba.conf unchanged");
}


/* Apply what the file should say now and tell the supervisor. */
static void
apply_want(struct hba_state *s, const char *reason)
{
	struct hba_event ev = { .kind = HBA_EV_APPLIED };
	struct hba_outcome o;

	apply(s, &o);
	hba_watch_path(&s->warnings, s->conf->hba_config, s->path);
	hba_watch_pg(&s->warnings, s->pg, s->path);
	log_outcome(s->plan.want_seq, s->plan.want_fence, reason, &o);
	send_applied(s, &o);
	ev.retry = o.retry;
	plan(s, &ev);
}

static void timer_due(void *);

static void
take_verdict(void *arg, const Harepd__Verdict *vd)
{
	struct hba_state *s = arg;
	struct hba_event ev = {
		.kind = HBA_EV_VERDICT,
		.seq = vd->seq,
		.verdict = { vd->rw_allow, vd->ro_allow },
		.lease_ms = vd->lease_ms ? (int64_t)vd->lease_ms :
		    (int64_t)s->conf->lease_ms,
		.decided_boot_ms = (int64_t)vd->decided_boot_ms,
		.allow_ro = s->conf->allow_ro,
	};
	bool paused = s->plan.paused;
	struct hba_action a;

	s->last_verdict_seq = vd->seq;
	a = plan(s, &ev);

	if (a.what == HBA_DO_APPLY) {
		s->want_decided_boot_ms = (int64_t)vd->decided_boot_ms;
		apply_want(s, vd->reason);
	} else if (paused)
		log_debug("paused: verdict %llu ignored",
		    (unsigned long long)vd->seq);
	else {
		log_warnx("verdict %llu %s; ignored",
		    (unsigned long long)vd->seq, a.why);
		/*
		 * A handed-over allow that has run out leaves the lease due
		 * now: fence before the next message is read, so that a
		 * fresh allow in the same read cannot skip the fence.
		 */
		if (!s->plan.fenced && s->plan.lease_end <= clock_boot_ms())
			timer_due(s);
	}
}

static void
take_control(void *arg, const Harepd__Control *ctl)
{
	struct hba_state *s = arg;
	struct hba_event ev = { .conf_lease_ms = s->conf->lease_ms };

	switch (ctl->command) {
	case HAREPD__CONTROL__COMMAND__PAUSE:
		log_info("paused (stop-client): pg_hba.conf is left as it is");
		ev.kind = HBA_EV_PAUSE;
		plan(s, &ev);
		break;
	case HAREPD__CONTROL__COMMAND__RESUME:
		log_info("resumed (start-client): waiting one lease (%d ms) "
		    "for a verdict", s->conf->lease_ms);
		ev.kind = HBA_EV_RESUME;
		plan(s, &ev);
		break;
	default:
		log_warnx("unknown control command %d", ctl->command);
	}
}

static void
resolve_path(struct hba_state *s, const struct conf *c)
{
	if (realpath(c->hba_config, s->path) == NULL)
		fatal("hbaConfig %s", c->hba_config);
}

static void connect_and_watch(struct hba_state *);

/* ConfigPush on SIGHUP: new servers, users or methods apply at once. */
static void
take_config(void *arg, struct conf *c, Harepd__ConfigPush **push)
{
	struct hba_state *s = arg;
	struct hba_event ev = { .kind = HBA_EV_CONFIG };
	struct hba_action a;

	conf_free(s->conf);
	s->conf = c;
	resolve_path(s, c);
	hba_pg_free(s->pg);
	hba_buf_free(&s->rejected);
	log_info("configuration reloaded");
	connect_and_watch(s);
	if ((a = plan(s, &ev)).what == HBA_DO_APPLY)
		apply_want(s, a.why);
}

/* Milliseconds until the next timer (lease or retry), -1 for none. */
static int
timer_timeout(void *arg)
{
	const struct hba_state *s = arg;
	int64_t at = hba_plan_next_timer(&s->plan), now;

	if (at < 0)
		return -1;
	now = clock_boot_ms();
	return at <= now ? 0 : (int)(at - now);
}

static void
timer_due(void *arg)
{
	struct hba_state *s = arg;
	struct hba_event ev = { .kind = HBA_EV_TIMER };
	struct hba_action a = plan(s, &ev);

	if (a.what != HBA_DO_APPLY)
		return;
	if (a.fence) {
		log_warnx("no fresh verdict within the lease: fencing (rw "
		    "deny, ro deny)");
		s->want_decided_boot_ms = clock_boot_ms();
	}
	apply_want(s, a.why);
}

/*
 * A new connection (at start, after a config reload): what the role may
 * do and which file PostgreSQL reads are known before the first verdict.
 */
static void
connect_and_watch(struct hba_state *s)
{
	char err[1024];

	if ((s->pg = hba_pg_new(s->conf)) == NULL)
		fatal("hba_pg_new");
	if (hba_pg_connect(s->pg, err, sizeof(err)) == 0)
		hba_watch_pg(&s->warnings, s->pg, s->path);
	else
		log_warnx("%s (will retry with the first verdict)", err);
}

/* Before Hello: the file must be readable and its block sound. */
static void
setup(struct hba_state *s)
{
	struct hba_buf b;
	struct stat st;
	char err[1024];
	size_t bl, el;
	int n;

	resolve_path(s, s->conf);
	if ((n = hba_file_clean_stale(s->path)) > 0)
		log_warnx("removed %d temp file(s) left beside %s by an "
		    "interrupted write", n, s->path);
	if (hba_file_read(s->path, &b, &st, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (hba_find_block(b.data, b.len, &bl, &el, err, sizeof(err)) == -1)
		log_emit(LOG_LVL_ERROR, NULL, 0, "%s: %s: harepd cannot edit "
		    "it, and cannot fence this node, until it is fixed",
		    s->path, err);
	else
		hba_watch_file(&s->warnings, s->path, b.data, b.len);
	hba_buf_free(&b);
	connect_and_watch(s);
}

int
hba_worker_main(void)
{
	static struct hba_state s;

	worker_init("hba");
	s.conf = worker_wait_config(WORKER_CONFIG_TIMEOUT_MS, NULL);
	setup(&s);
	hba_plan_init(&s.plan, s.conf->lease_ms, clock_boot_ms());
	if (worker_send_hello("hba") == -1)
		fatal("sending Hello");
	log_info("ready: %s; waiting one lease (%d ms) for a first verdict",
	    s.path, s.conf->lease_ms);
	worker_run(&(struct worker_ops){
		.arg = &s,
		.on_verdict = take_verdict,
		.on_control = take_control,
		.on_config = take_config,
		.next_timeout = timer_timeout,
		.on_timer = timer_due,
	});
	worker_exit(0);
}
