/*
 * `harepdctl check`: the status judged in the Nagios plugin convention
 * (OK, WARNING, CRITICAL, UNKNOWN; exit 0-3), one line, for monitoring
 * systems, like `repmgr node check --nagios`. Pure: it reads a filled
 * struct status and the clocks it is given, so unit tests drive it with
 * tables. docs/CONTROL.md lists what each level means.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "supervisor/sup.h"

#define GATE_ALLOWED	MODELS__GATE__STATE__ALLOWED

static const char *const level_names[] = {
	[CHECK_OK] = "OK",
	[CHECK_WARNING] = "WARNING",
	[CHECK_CRITICAL] = "CRITICAL",
	[CHECK_UNKNOWN] = "UNKNOWN",
};

const char *
check_level_name(enum check_level l)
{
	return l <= CHECK_UNKNOWN ? level_names[l] : "UNKNOWN";
}

/* Problems, worst first in the line; CRITICAL outranks UNKNOWN (a crash
 * loop matters more than a missing verdict). */
struct findings {
	enum check_level level;
	char	 crit[512], warn[512], unknown[256];
};

static int
rank(enum check_level l)
{
	static const int r[] = { [CHECK_OK] = 0, [CHECK_WARNING] = 1,
	    [CHECK_UNKNOWN] = 2, [CHECK_CRITICAL] = 3 };

	return r[l];
}

static void add(struct findings *, enum check_level, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
add(struct findings *f, enum check_level l, const char *fmt, ...)
{
	char *buf = l == CHECK_CRITICAL ? f->crit : l == CHECK_WARNING ?
	    f->warn : f->unknown;
	size_t size = l == CHECK_CRITICAL ? sizeof(f->crit) :
	    l == CHECK_WARNING ? sizeof(f->warn) : sizeof(f->unknown);
	size_t len = strlen(buf);
	va_list ap;

	if (len > 0 && len + 2 < size) {
		memcpy(buf + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
	if (rank(l) > rank(f->level))
		f->level = l;
}

static bool
has_other(char **list, size_t n, const char *self)
{
	for (size_t i = 0; i < n; i++)
		if (self == NULL || strcmp(list[i], self) != 0)
			return true;
	return false;
}

/*
 * A peer that says another node writes: its gate allows rw (a harepd
 * like this one), or its repmgr lists an active primary that is not this
 * node (any peer, the Go harepd too).
 */
static const char *
other_writer(const Harepd__PeerAnswer *p, const char *self)
{
	const Models__IKnow *k = p->answer;

	if (!p->answered || k == NULL)
		return NULL;
	if (k->gate != NULL && k->gate->state == GATE_ALLOWED &&
	    (k->ip == NULL || self == NULL || strcmp(k->ip, self) != 0))
		return "its gate allows rw";
	if (has_other(k->master, k->n_master, self))
		return "it sees another active primary";
	return NULL;
}

static void
judge_peers(struct findings *f, const struct status *st, bool rw)
{
	const Harepd__Verdict *v = st->verdict;
	const char *self = st->view != NULL ? st->view->ip : NULL, *why;

	for (size_t i = 0; i < v->n_evidence; i++) {
		const Harepd__PeerAnswer *p = v->evidence[i];

		if (!p->answered)
			add(f, CHECK_WARNING, "peer %s unreachable (%s)",
			    p->target, p->error != NULL && p->error[0] ?
			    p->error : "no answer");
		else if (rw && (why = other_writer(p, self)) != NULL)
			add(f, CHECK_CRITICAL, "this node allows rw but peer "
			    "%s reports another writer: %s", p->target, why);
	}
}

static void
judge_lease(struct findings *f, const struct status *st,
    const struct metrics_now *now, bool rw)
{
	const Harepd__Verdict *v = st->verdict;
	int64_t left;

	if (st->hba != NULL && st->hba->fenced)
		add(f, CHECK_CRITICAL, "pg_hba fenced: no fresh verdict within "
		    "the lease");
	if (!rw || v->decided_boot_ms <= 0 || st->paused)
		return;
	left = v->decided_boot_ms + v->lease_ms - now->boot_ms;
	if (left < now->watchdog_ms)
		add(f, CHECK_CRITICAL, "lease expiring: rw allowed for %"
		    PRId64 " ms more without a fresh verdict", left);
}

static void
judge_workers(struct findings *f, const struct status *st)
{
	for (size_t i = 0; i < st->n_workers; i++) {
		const struct status_worker *w = &st->workers[i];

		if (w->crash_loop)
			add(f, CHECK_CRITICAL, "worker %s crash-looping: %u "
			    "restarts, last: %s", w->name, w->restarts,
			    w->last_exit);
	}
}

/* OK's summary and the perfdata after "|". */
static void
summary(char *buf, size_t size, const struct status *st,
    const struct metrics_now *now, bool rw)
{
	const Harepd__Verdict *v = st->verdict;
	size_t answered = 0;

	if (v == NULL) {
		snprintf(buf, size, "mode %s, no verdict (serves peers only)",
		    st->mode);
		return;
	}
	for (size_t i = 0; i < v->n_evidence; i++)
		answered += v->evidence[i]->answered;
	snprintf(buf, size, "pg_hba rw %s, verdict #%" PRIu64 " rw %s ro %s, "
	    "%zu of %zu peers answered | peers_answered=%zu;;;0;%zu "
	    "lease_remaining=%.3fs", rw ? "allow" : "deny", v->seq,
	    v->rw_allow ? "allow" : "deny", v->ro_allow ? "allow" : "deny",
	    answered, v->n_evidence, answered, v->n_evidence,
	    v->decided_boot_ms > 0 ? (double)(v->decided_boot_ms +
	    v->lease_ms - now->boot_ms) / 1000.0 : 0.0);
}

/* Peers' errors and workers' last words are not ours: keep one line. */
static void
one_line(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

enum check_level
check_judge(const struct status *st, const struct metrics_now *now,
    char *line, size_t size)
{
	struct findings f = { .level = CHECK_OK };
	/* what is in effect: the file, else what was decided */
	bool rw = st->hba != NULL ? st->hba->rw_allow && !st->hba->fenced :
	    st->verdict != NULL && st->verdict->rw_allow;
	bool decides = strcmp(st->mode, "server-only") != 0;
	char ok[256];

	judge_workers(&f, st);
	if (st->paused)
		add(&f, CHECK_WARNING, "client paused (harepdctl stop-client)");
	if (decides && st->verdict == NULL && !st->paused)
		add(&f, CHECK_UNKNOWN, "no verdict yet");
	if (st->verdict != NULL) {
		judge_peers(&f, st, rw);
		judge_lease(&f, st, now, rw);
		if (st->verdict->reason != NULL &&
		    strncmp(st->verdict->reason, "hold-down", 9) == 0)
			add(&f, CHECK_WARNING, "in hold-down (%s)",
			    st->verdict->reason);
	}
	summary(ok, sizeof(ok), st, now, rw);
	one_line(f.crit);
	one_line(f.warn);
	if (f.level == CHECK_OK)
		snprintf(line, size, "HAREPD OK - %s\n", ok);
	else
		snprintf(line, size, "HAREPD %s - %s%s%s%s%s\n",
		    check_level_name(f.level), f.crit, f.crit[0] &&
		    (f.unknown[0] || f.warn[0]) ? "; " : "", f.unknown,
		    f.unknown[0] && f.warn[0] ? "; " : "", f.warn);
	return f.level;
}
