/*
 * The hba worker: applies verdicts to pg_hba.conf and fences when they
 * stop coming. Runs as the owner of pg_hba.conf with no capabilities.
 *
 * Per verdict: rewrite the block (hba_block.c); if the bytes changed,
 * replace the file atomically, ask PostgreSQL whether it can parse it
 * (pg_hba_file_rules), put the old bytes back if not, else reload.
 * Every verdict and every fence gets one HbaApplied back.
 *
 * The lease: a verdict is good for its lease_ms. With none fresh by then
 * the probe is hung or crash-looping and nobody vouches for this node any
 * more, so deny rw and ro. A restarted worker waits one lease for a
 * verdict first, so a crash of this worker alone does not flap traffic.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc/log.h"
#include "ipc/worker.h"
#include "worker-hba/hba.h"

/* Re-try a write or reload that failed for a reason that may pass. */
#define HBA_RETRY_MS	2000

struct hba_state {
	struct conf	*conf;
	char		 path[PATH_MAX];	/* realpath of hbaConfig */
	struct hba_pg	*pg;
	bool		 hba_file_checked;	/* SHOW hba_file compared */

	bool		 paused;		/* stop-client */
	bool		 fenced;		/* lease ran out, fence applied */
	long long	 lease_end;		/* boot_ms() */

	/* what the file should say, for retries and config reloads */
	bool		 have_want;
	struct hba_verdict want;
	uint64_t	 want_seq;
	long long	 want_decided_boot_ms;	/* of the verdict wanted */
	bool		 want_fence;
	long long	 retry_at;		/* 0: nothing to retry */

	/* written but not validated and reloaded yet: the bytes before */
	bool		 reload_pending;
	/*
	 * Nothing reloaded since this worker started: a predecessor killed
	 * between rename() and pg_reload_conf() leaves bytes on disk that
	 * PostgreSQL has not loaded, and nothing in the file says so. The
	 * first apply checks and reloads even when the bytes are unchanged.
	 */
	bool		 reload_unknown;
	struct hba_verdict file_now;		/* what the block says, as far as known */

	/* bytes PostgreSQL refused: not written again until they change */
	struct hba_buf	 rejected;
	char		 rejected_why[1024];
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

/*
 * The lease clock: CLOCK_BOOTTIME, the probe's decided_boot_ms clock. It
 * is never stepped (no operator or NTP moves it) and, unlike
 * CLOCK_MONOTONIC, it keeps counting while the machine is suspended, so
 * a lease never outlives the time it covers.
 */
static long long
boot_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long
real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *
word(bool allow)
{
	return allow ? "allow" : "deny";
}

static void
send_applied(uint64_t seq, bool fenced, long long decided_boot_ms,
    const struct hba_outcome *o)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	Harepd__HbaApplied ha = HAREPD__HBA_APPLIED__INIT;
	char error[sizeof(o->error)];

	snprintf(error, sizeof(error), "%s", o->error);
	ipc_utf8_scrub(error);	/* PostgreSQL's text, quoted: keep it legal */
	ha.seq = seq;
	ha.changed = o->changed;
	ha.reloaded = o->reloaded;
	ha.error = error;
	ha.fenced = fenced;
	ha.rw_allow = o->now.rw_allow;
	ha.ro_allow = o->now.ro_allow;
	ha.applied_at_ms = real_ms();
	ha.decided_boot_ms = decided_boot_ms;
	ha.pg_down = o->pg_down;
	env.body_case = HAREPD__ENVELOPE__BODY_HBA_APPLIED;
	env.hba_applied = &ha;
	if (worker_send(&env) == -1)
		log_warn("cannot send HbaApplied for verdict %llu",
		    (unsigned long long)seq);
}

/*
 * pg_hba_file_rules reads the file hba_file names: if that is not ours,
 * the check validates another file and the reload does not load ours.
 */
static void
check_hba_file(struct hba_state *s)
{
	char shown[PATH_MAX], real[PATH_MAX], err[512];

	if (s->hba_file_checked ||
	    hba_pg_hba_file(s->pg, shown, sizeof(shown), err, sizeof(err)))
		return;
	s->hba_file_checked = true;
	if (realpath(shown, real) == NULL)
		snprintf(real, sizeof(real), "%s", shown);
	if (strcmp(real, s->path) != 0)
		log_emit(LOG_LVL_ERROR, (struct log_field[]){
		    { "hba_file", shown }, { "hbaConfig", s->path } }, 2,
		    "PostgreSQL reads %s but harepd edits %s: the checks "
		    "validate the wrong file and reloads do not apply harepd's "
		    "rules; fix harepd.hbaConfig or hba_file", shown, s->path);
}

static void
pending_clear(struct hba_state *s)
{
	s->reload_pending = false;
	hba_buf_free(&s->pending_prev);
}

/* Keep the bytes from before the first unreloaded write. */
static void
pending_set(struct hba_state *s, const struct hba_buf *prev,
    const struct stat *st)
{
	if (s->reload_pending)
		return;
	s->reload_pending = true;
	memset(&s->pending_prev, 0, sizeof(s->pending_prev));
	if (hba_buf_add(&s->pending_prev, prev->data, prev->len) == -1)
		s->reload_pending = false;
	s->pending_st = *st;
}

/* PostgreSQL cannot parse the new file: put the old bytes back. */
static void
restore(struct hba_state *s, const struct hba_buf *prev,
    const struct stat *st, struct hba_verdict before, struct hba_outcome *o)
{
	char err[512];
	size_t n = strlen(o->error);

	if (hba_file_replace(s->path, prev->data, prev->len, st, err,
	    sizeof(err)) == -1) {
		snprintf(o->error + n, sizeof(o->error) - n,
		    "; restoring the previous file FAILED: %s", err);
		o->retry = true;
		return;
	}
	snprintf(o->error + n, sizeof(o->error) - n, "; previous file "
	    "restored, not reloaded");
	o->changed = false;
	o->now = before;
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

/*
 * PostgreSQL finds errors in a file that denies more than the previous
 * one: PostgreSQL cannot load it, but harepd must not put an allow back on
 * disk itself either. The deny stays (a PostgreSQL that restarts reads
 * it, or refuses to start), and the check and reload are retried until
 * the file is fixed.
 */
static void
keep_deny(struct hba_state *s, struct hba_outcome *o)
{
	size_t n = strlen(o->error);

	snprintf(o->error + n, sizeof(o->error) - n, "; the deny stays on "
	    "disk (harepd never restores an allow over a deny), not "
	    "reloaded until the file is fixed");
	s->reload_unknown = true;
	o->retry = true;
}

/*
 * The new bytes are in place: validate them, then reload. prev: what to
 * put back if PostgreSQL finds errors, NULL when harepd wrote nothing.
 */
static void
validate_and_reload(struct hba_state *s, const struct hba_buf *prev,
    const struct stat *st, struct hba_verdict before, struct hba_outcome *o)
{
	size_t n;
	int rc;

	check_hba_file(s);
	rc = hba_pg_check_rules(s->pg, o->error, sizeof(o->error));
	if (rc == 1) {
		o->rejected = true;
		snprintf(s->rejected_why, sizeof(s->rejected_why), "%s",
		    o->error);
		if (prev == NULL) {
			/* unchanged bytes, reload owed since start */
			n = strlen(o->error);
			snprintf(o->error + n, sizeof(o->error) - n, "; not "
			    "reloaded until the file is fixed");
			s->reload_unknown = true;
			o->retry = true;
		} else if (restore_widens(s, prev, before, o->now))
			keep_deny(s, o);
		else
			restore(s, prev, st, before, o);
		pending_clear(s);
		return;
	}
	/*
	 * Not checked (database unreachable): keep the new file, a fence
	 * must not wait for the database, and retry the reload later.
	 */
	if (rc == -1 || hba_pg_reload(s->pg, o->error, sizeof(o->error))) {
		o->pg_down = hba_pg_postmaster_down(s->pg) == 1;
		if (prev != NULL)
			pending_set(s, prev, st);
		else
			s->reload_unknown = true;
		o->retry = true;
		return;
	}
	pending_clear(s);
	s->reload_unknown = false;
	o->reloaded = true;
}

static bool
same_bytes(const struct hba_buf *a, const struct hba_buf *b)
{
	return a->data != NULL && b->data != NULL && a->len == b->len &&
	    memcmp(a->data, b->data, a->len) == 0;
}

/* One read-rewrite-write-reload; true when the file changed under us. */
static bool
apply_once(struct hba_state *s, struct hba_verdict v, struct hba_outcome *o)
{
	struct hba_buf cur, next;
	struct hba_verdict before;
	struct stat st;
	bool same, raced = false;
	int rc;

	memset(o, 0, sizeof(*o));
	if (hba_file_read(s->path, &cur, &st, o->error,
	    sizeof(o->error)) == -1) {
		o->retry = true;
		return false;
	}
	/* a config reload may have changed the methods: then trust memory */
	if (hba_current_verdict(cur.data, cur.len, s->conf, &o->now) != 1)
		o->now = s->file_now;
	before = o->now;
	if (hba_rewrite(cur.data, cur.len, s->conf, v, &next, o->error,
	    sizeof(o->error)) == -1) {
		o->retry = true;
		hba_buf_free(&cur);
		return false;
	}
	same = same_bytes(&next, &cur);
	/* refused bytes are written again only if they deny more than now */
	if (!same && same_bytes(&next, &s->rejected) &&
	    !restore_widens(s, &cur, before, v)) {
		snprintf(o->error, sizeof(o->error), "%.960s (the same file "
		    "again: not written)", s->rejected_why);
	} else if (!same && (rc = hba_file_replace_if_same(s->path, next.data,
	    next.len, &st, o->error, sizeof(o->error))) < 0) {
		o->retry = true;
		if (rc == -2)
			raced = true;
	} else if (!same || s->reload_pending || s->reload_unknown) {
		o->changed = !same;
		o->now = v;
		if (s->reload_pending)
			validate_and_reload(s, &s->pending_prev,
			    &s->pending_st, before, o);
		else
			validate_and_reload(s, same ? NULL : &cur, &st,
			    before, o);
	}
	s->file_now = o->now;
	if (o->rejected) {
		hba_buf_free(&s->rejected);
		hba_buf_add(&s->rejected, same ? cur.data : next.data,
		    same ? cur.len : next.len);
	}
	hba_buf_free(&cur);
	hba_buf_free(&next);
	return raced;
}

/*
 * The file changed between our read and our rename (an operator saving
 * an edit): read it again and rewrite from their bytes, a few times;
 * then give up until the retry timer.
 */
#define HBA_RACE_TRIES	3

static void
apply(struct hba_state *s, struct hba_verdict v, struct hba_outcome *o)
{
	for (int i = 0; i < HBA_RACE_TRIES; i++)
		if (!apply_once(s, v, o))
			return;
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
	struct hba_outcome o;

	apply(s, s->want, &o);
	log_outcome(s->want_seq, s->want_fence, reason, &o);
	send_applied(s->want_seq, s->want_fence, s->want_decided_boot_ms, &o);
	s->retry_at = o.retry ? boot_ms() + HBA_RETRY_MS : 0;
}

static void
fence(struct hba_state *s)
{
	log_warnx("no fresh verdict within the lease: fencing (rw deny, "
	    "ro deny)");
	s->fenced = true;
	s->have_want = true;
	s->want = (struct hba_verdict){ false, false };
	s->want_seq = 0;
	s->want_decided_boot_ms = boot_ms();
	s->want_fence = true;
	apply_want(s, "lease expired");
}

/*
 * How old a verdict is, in ms: counted from when the probe decided (it
 * may have waited in a queue or behind a stalled worker). decided_boot_ms
 * (CLOCK_BOOTTIME, shared with the probe on this host) first; from a probe
 * that does not set it, decided_at_ms (CLOCK_REALTIME). Only when neither
 * is usable is the verdict taken as just decided. An old verdict is never
 * taken as fresh: that would fail open.
 */
long long
hba_verdict_age(long long decided_boot_ms, long long decided_at_ms,
    long long now_boot_ms, long long now_real_ms)
{
	long long age;

	if (decided_boot_ms > 0) {
		/* a boot clock ahead of ours is a bogus stamp, not a step */
		age = now_boot_ms - decided_boot_ms;
		return age < 0 ? 0 : age;
	}
	if (decided_at_ms > 0) {
		age = now_real_ms - decided_at_ms;
		/* from the future: the wall clock stepped back, unusable */
		return age < 0 ? 0 : age;
	}
	return 0;
}

/* How long this verdict is still good: <= 0, expired. */
static long long
verdict_left(const struct hba_state *s, const Harepd__Verdict *vd)
{
	long long lease = vd->lease_ms ? (long long)vd->lease_ms :
	    (long long)s->conf->lease_ms;

	return lease - hba_verdict_age(vd->decided_boot_ms,
	    vd->decided_at_ms, boot_ms(), real_ms());
}

static void
on_verdict(struct hba_state *s, const Harepd__Verdict *vd)
{
	long long left;

	if (s->paused) {
		log_debug("paused: verdict %llu ignored",
		    (unsigned long long)vd->seq);
		return;
	}
	if ((left = verdict_left(s, vd)) <= 0) {
		log_warnx("verdict %llu arrived after its lease ran out; "
		    "ignored", (unsigned long long)vd->seq);
		/*
		 * The first verdict of a restarted worker (the supervisor
		 * hands it the last one) has run out: so has whatever allow
		 * is on disk. Fence now, not one lease after this worker
		 * started. A running worker keeps the lease of its last
		 * fresh verdict.
		 */
		if (!s->have_want)
			s->lease_end = boot_ms();
		return;
	}
	s->lease_end = boot_ms() + left;
	s->fenced = false;
	s->have_want = true;
	s->want = (struct hba_verdict){ vd->rw_allow,
	    s->conf->allow_ro && vd->ro_allow };
	s->want_seq = vd->seq;
	s->want_decided_boot_ms = vd->decided_boot_ms;
	s->want_fence = false;
	apply_want(s, vd->reason);
}

static void
on_control(struct hba_state *s, const Harepd__Control *ctl)
{
	switch (ctl->command) {
	case HAREPD__CONTROL__COMMAND__SHUTDOWN:
		log_info("shutdown requested");
		worker_exit(0);
	case HAREPD__CONTROL__COMMAND__PAUSE:
		log_info("paused (stop-client): pg_hba.conf is left as it is");
		s->paused = true;
		s->retry_at = 0;
		break;
	case HAREPD__CONTROL__COMMAND__RESUME:
		log_info("resumed (start-client): waiting one lease (%d ms) "
		    "for a verdict", s->conf->lease_ms);
		s->paused = false;
		s->fenced = false;
		s->lease_end = boot_ms() + s->conf->lease_ms;
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

/* ConfigPush on SIGHUP: new servers, users or methods apply at once. */
static void
on_config(struct hba_state *s, const Harepd__ConfigPush *push)
{
	struct conf *c = worker_conf_from_push(push);

	if (c == NULL) {
		log_warnx("new configuration does not load; keeping the old");
		return;
	}
	conf_free(s->conf);
	s->conf = c;
	resolve_path(s, c);
	hba_pg_free(s->pg);
	if ((s->pg = hba_pg_new(c)) == NULL)
		fatal("hba_pg_new");
	s->hba_file_checked = false;
	hba_buf_free(&s->rejected);
	log_info("configuration reloaded");
	if (s->have_want && !s->paused)
		apply_want(s, "configuration reloaded");
}

static void
dispatch(struct hba_state *s, const ipc_envelope *env)
{
	switch (env->body_case) {
	case HAREPD__ENVELOPE__BODY_VERDICT:
		on_verdict(s, env->verdict);
		break;
	case HAREPD__ENVELOPE__BODY_CONTROL:
		on_control(s, env->control);
		break;
	case HAREPD__ENVELOPE__BODY_CONFIG:
		on_config(s, env->config);
		break;
	default:
		log_warnx("unexpected %s message from the supervisor; ignored",
		    ipc_body_name(env->body_case));
	}
}

static void
read_messages(struct hba_state *s)
{
	ipc_envelope *env;
	enum ipc_rc rc;
	char err[256];

	while ((rc = worker_recv(&env, err, sizeof(err))) == IPC_OK) {
		dispatch(s, env);
		ipc_free(env);
	}
	if (rc == IPC_EOF) {
		log_info("supervisor closed the channel; exiting");
		worker_exit(0);
	}
	if (rc != IPC_AGAIN)
		fatalx("from the supervisor: %s: %s", ipc_rc_str(rc), err);
}

/* Milliseconds until the next timer (lease or retry), -1 for none. */
static int
next_timeout(const struct hba_state *s, long long now)
{
	long long at = -1;

	if (!s->paused && !s->fenced)
		at = s->lease_end;
	if (!s->paused && s->retry_at > 0 && (at < 0 || s->retry_at < at))
		at = s->retry_at;
	if (at < 0)
		return -1;
	return at <= now ? 0 : (int)(at - now);
}

static void
run_timers(struct hba_state *s)
{
	long long now = boot_ms();

	if (s->paused)
		return;
	if (!s->fenced && now >= s->lease_end)
		fence(s);
	else if (s->retry_at > 0 && now >= s->retry_at && s->have_want)
		apply_want(s, "retry");
}

static void
event_loop(struct hba_state *s)
{
	struct pollfd pfd = { .fd = worker_fd() };

	for (;;) {
		pfd.events = POLLIN | (worker_pending() ? POLLOUT : 0);
		if (poll(&pfd, 1, next_timeout(s, boot_ms())) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd.revents & POLLOUT)
			worker_flush();
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
			read_messages(s);
		run_timers(s);
	}
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
	else if ((n = hba_rule_above_block(b.data, b.len)) > 0)
		log_warnx("%s: line %d, above harepd's block, may match the "
		    "check users first (pg_hba.conf is first-match): move the "
		    "block above it", s->path, n);
	hba_buf_free(&b);
	if ((s->pg = hba_pg_new(s->conf)) == NULL)
		fatal("hba_pg_new");
	if (hba_pg_connect(s->pg, err, sizeof(err)) == 0)
		check_hba_file(s);
	else
		log_warnx("%s (will retry with the first verdict)", err);
}

int
hba_worker_main(void)
{
	static struct hba_state s;

	worker_init("hba");
	s.conf = worker_wait_config(WORKER_CONFIG_TIMEOUT_MS, NULL);
	setup(&s);
	s.reload_unknown = true;
	s.lease_end = boot_ms() + s.conf->lease_ms;
	if (worker_send_hello("hba") == -1)
		fatal("sending Hello");
	log_info("ready: %s; waiting one lease (%d ms) for a first verdict",
	    s.path, s.conf->lease_ms);
	event_loop(&s);
	return 0;
}
