/*
 * `harepdctl status` and `status --json`: two printers behind one struct
 * (bgpctl's way), so the text an operator reads and the JSON scripts
 * parse never disagree. The JSON schema is documented in docs/CONTROL.md
 * and is versioned: fields are only ever added.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <unistd.h>

#include "ipc/ipc.h"
#include "supervisor/sup.h"
#include "util/clock.h"
#include "util/version.h"

#define STATUS_SCHEMA_VERSION 1

static bool
list_has(char **list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

const char *
status_node_role(const Harepd__LocalView *v)
{
	if (v == NULL || v->ip == NULL || v->ip[0] == '\0')
		return "unknown";
	if (list_has(v->primaries, v->n_primaries, v->ip))
		return "primary";
	if (list_has(v->standbys, v->n_standbys, v->ip))
		return "standby";
	if (v->witness != NULL && strcmp(v->witness, v->ip) == 0)
		return "witness";
	return "unknown";
}

/*
 * now - then, saturated: the times in a view, verdict or HbaApplied are
 * whatever a worker sent (any int64), and a plain subtraction could
 * overflow, which is undefined behaviour (found by tests/fuzz/fuzz_status).
 */
static int64_t
age_ms(int64_t now, int64_t then)
{
	int64_t d;

	if (__builtin_sub_overflow(now, then, &d))
		return then < 0 ? INT64_MAX : INT64_MIN;
	return d;
}

static const char *
allow(bool b)
{
	return b ? "allow" : "deny";
}

/* "1.2s", "3m04s", "2h03m", "5d02h": short, for the text table */
static void
fmt_duration(char *buf, size_t len, int64_t ms)
{
	int64_t s = ms / 1000;

	if (ms < 0)
		snprintf(buf, len, "-");
	else if (s < 60)
		snprintf(buf, len, "%" PRId64 ".%" PRId64 "s", s, ms % 1000 / 100);
	else if (s < 3600)
		snprintf(buf, len, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", s / 3600,
		    s % 3600 / 60);
	else
		snprintf(buf, len, "%" PRId64 "d%02" PRId64 "h", s / 86400,
		    s % 86400 / 3600);
}

/* ---- text ---- */

/*
 * Every string in the text output that harepd did not write itself goes
 * through here: addresses, names, reasons and errors come from peers, the
 * database and workers, and a terminal must never receive a control
 * sequence from them. Bytes below 0x20, 0x7f, the C1 controls (U+0080 to
 * U+009F, which some terminals obey) and bytes that are not UTF-8 become
 * \xNN, and a backslash \\, so the text stays unambiguous. Returns the
 * number of bytes written, for the columns.
 */
static size_t
text_put(FILE *fp, const char *str)
{
	const unsigned char *p = (const unsigned char *)str;
	size_t n, out = 0;

	for (; p != NULL && *p != '\0'; p += n) {
		n = ipc_utf8_seq_len((const char *)p);
		if (n == 1 && *p >= 0x20 && *p != 0x7f && *p != '\\') {
			fputc(*p, fp);
			out++;
		} else if (n == 1 && *p == '\\') {
			fputs("\\\\", fp);
			out += 2;
		} else if (n > 1 && !(p[0] == 0xc2 && p[1] < 0xa0)) {
			fwrite(p, 1, n, fp);
			out += n;
		} else {
			n = n == 0 ? 1 : n;
			for (size_t i = 0; i < n; i++)
				fprintf(fp, "\\x%02x", p[i]);
			out += 4 * n;
		}
	}
	return out;
}

/* text_put, then spaces up to width and one more (a table column). */
static void
text_col(FILE *fp, const char *s, size_t width)
{
	for (size_t n = text_put(fp, s); n < width; n++)
		fputc(' ', fp);
	fputc(' ', fp);
}

static void
text_list(FILE *fp, char **list, size_t n)
{
	if (n == 0)
		fputs("-", fp);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', fp);
		text_put(fp, list[i]);
	}
}

/* s, or "-" when empty */
static void
text_or_dash(FILE *fp, const char *s)
{
	text_put(fp, s != NULL && s[0] != '\0' ? s : "-");
}

static void
text_daemon(FILE *fp, const struct status *st)
{
	char up[32];

	fmt_duration(up, sizeof(up), age_ms(st->now_ms, st->started_ms));
	fprintf(fp, "harepd    pid %d, mode %s, up %s, client %s%s\n",
	    (int)st->pid, st->mode, up, st->paused ? "PAUSED (stop-client)" :
	    "running", st->ready ? "" : ", not all workers ready");
	fputs("config    ", fp);
	text_put(fp, st->config);
	fputc('\n', fp);
	fprintf(fp, "version   %s (git %s)\n", harepd_version(),
	    harepd_git_hash());
}

static void
text_view(FILE *fp, const struct status *st)
{
	const Harepd__LocalView *v = st->view;
	char age[32];

	if (v == NULL) {
		fprintf(fp, "node      role unknown (no view from probe yet)\n");
		return;
	}
	fmt_duration(age, sizeof(age), age_ms(st->now_ms, v->collected_at_ms));
	fputs("node      ", fp);
	text_put(fp, v->node_name);
	fprintf(fp, " (id %d, ", v->node_id);
	text_put(fp, v->ip);
	fprintf(fp, "): role %s, %s, timeline %u, view %s old\n",
	    status_node_role(v), v->in_recovery ? "in recovery" :
	    "not in recovery", v->timeline, age);
	fputs("view      primaries ", fp);
	text_list(fp, v->primaries, v->n_primaries);
	fputs("; standbys ", fp);
	text_list(fp, v->standbys, v->n_standbys);
	fputs("; witness ", fp);
	text_or_dash(fp, v->witness);
	fputc('\n', fp);
	if (v->db_error[0] != '\0') {
		fputs("db error  ", fp);
		text_put(fp, v->db_error);
		fputc('\n', fp);
	}
}

static void
text_peer(FILE *fp, const Harepd__PeerAnswer *p)
{
	char lat[32] = "-";

	if (p->answered)
		snprintf(lat, sizeof(lat), "%.1f ms", p->latency_us / 1000.0);
	fputs("          ", fp);
	text_col(fp, p->target, 24);
	text_col(fp, p->role, 9);
	fprintf(fp, "%-8s %-10s %-6s ", p->answered ? "answered" : "no", lat,
	    p->answered ? (p->agrees ? "yes" : "no") : "-");
	if (!p->answered || p->answer == NULL) {
		text_or_dash(fp, p->error);
		fputc('\n', fp);
		return;
	}
	fputs("primaries ", fp);
	text_list(fp, p->answer->master, p->answer->n_master);
	fputs(" standbys ", fp);
	text_list(fp, p->answer->slaves, p->answer->n_slaves);
	fputs(" witness ", fp);
	text_or_dash(fp, p->answer->witness);
	fputc('\n', fp);
}

static void
text_verdict(FILE *fp, const struct status *st)
{
	const Harepd__Verdict *v = st->verdict;
	char age[32];

	if (v == NULL) {
		fprintf(fp, "verdict   none yet\n");
		return;
	}
	fmt_duration(age, sizeof(age), age_ms(st->now_ms, v->decided_at_ms));
	fprintf(fp, "verdict   #%" PRIu64 " rw %s, ro %s (policy ", v->seq,
	    allow(v->rw_allow), allow(v->ro_allow));
	text_put(fp, v->policy);
	fprintf(fp, "), %s ago, tick %.1f ms, lease %u ms\n", age,
	    v->tick_us / 1000.0, v->lease_ms);
	fputs("reason    ", fp);
	text_put(fp, v->reason);
	fputc('\n', fp);
	if (v->n_evidence == 0)
		return;
	fprintf(fp, "peers     %-24s %-9s %-8s %-10s %-6s %s\n", "TARGET",
	    "ROLE", "ANSWER", "LATENCY", "AGREES", "SAYS");
	for (size_t i = 0; i < v->n_evidence; i++)
		text_peer(fp, v->evidence[i]);
}

static void
text_hba(FILE *fp, const struct status *st)
{
	const Harepd__HbaApplied *h = st->hba;
	char age[32];

	if (h == NULL) {
		fprintf(fp, "pg_hba    nothing applied yet\n");
		return;
	}
	fmt_duration(age, sizeof(age), age_ms(st->now_ms, h->applied_at_ms));
	fprintf(fp, "pg_hba    rw %s, ro %s, %s, %s, %s, %s ago\n",
	    allow(h->rw_allow), allow(h->ro_allow),
	    h->fenced ? "FENCED (lease ran out)" : "verdict applied",
	    h->changed ? "file changed" : "file unchanged",
	    h->reloaded ? "reloaded" : "not reloaded", age);
	if (h->seq != 0)
		fprintf(fp, "          verdict #%" PRIu64 "\n", h->seq);
	if (st->hba_changed_ms > 0) {
		fmt_duration(age, sizeof(age), age_ms(st->now_ms,
		    st->hba_changed_ms));
		fprintf(fp, "          last changed by harepd %s ago\n", age);
	}
	if (h->error[0] != '\0') {
		fputs("          ERROR ", fp);
		text_put(fp, h->error);
		fputc('\n', fp);
	}
	for (size_t i = 0; i < h->n_warnings; i++) {
		fputs("          WARNING ", fp);
		text_put(fp, h->warnings[i]);
		fputc('\n', fp);
	}
}

static void
text_workers(FILE *fp, const struct status *st)
{
	char up[32];

	fprintf(fp, "workers   %-7s %-8s %-9s %-10s %-8s %-8s %s\n", "NAME",
	    "PID", "STATE", "USER", "UPTIME", "RESTARTS", "LAST EXIT");
	for (size_t i = 0; i < st->n_workers; i++) {
		const struct status_worker *w = &st->workers[i];
		char pid[16] = "-";

		if (w->pid > 0)
			snprintf(pid, sizeof(pid), "%d", (int)w->pid);
		fmt_duration(up, sizeof(up), w->pid > 0 ? w->uptime_ms : -1);
		fputs("          ", fp);
		text_col(fp, w->name, 7);
		fprintf(fp, "%-8s ", pid);
		text_col(fp, w->state, 9);
		text_col(fp, w->user, 10);
		fprintf(fp, "%-8s %-8u ", up, w->restarts);
		text_or_dash(fp, w->last_exit);
		fputc('\n', fp);
	}
}

void
status_print_text(FILE *fp, const struct status *st)
{
	text_daemon(fp, st);
	text_view(fp, st);
	text_verdict(fp, st);
	text_hba(fp, st);
	text_workers(fp, st);
}

/* ---- JSON ---- */

static void
json_key(FILE *fp, const char *key)
{
	json_write_string(fp, key);
	fputc(':', fp);
}

static void
json_str(FILE *fp, const char *key, const char *val, bool comma)
{
	json_key(fp, key);
	json_write_string(fp, val != NULL ? val : "");
	if (comma)
		fputc(',', fp);
}

static void
json_int(FILE *fp, const char *key, int64_t val, bool comma)
{
	json_key(fp, key);
	fprintf(fp, "%" PRId64 "%s", val, comma ? "," : "");
}

static void
json_bool(FILE *fp, const char *key, bool val, bool comma)
{
	json_key(fp, key);
	fprintf(fp, "%s%s", val ? "true" : "false", comma ? "," : "");
}

static void
json_list(FILE *fp, const char *key, char **list, size_t n, bool comma)
{
	json_key(fp, key);
	fputc('[', fp);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', fp);
		json_write_string(fp, list[i]);
	}
	fprintf(fp, "]%s", comma ? "," : "");
}

static void
json_daemon(FILE *fp, const struct status *st)
{
	json_key(fp, "daemon");
	fputc('{', fp);
	json_int(fp, "pid", st->pid, true);
	json_str(fp, "version", harepd_version(), true);
	json_str(fp, "git_hash", harepd_git_hash(), true);
	json_str(fp, "mode", st->mode, true);
	json_str(fp, "config", st->config, true);
	json_int(fp, "started_at_ms", st->started_ms, true);
	json_int(fp, "uptime_ms", age_ms(st->now_ms, st->started_ms), true);
	json_bool(fp, "client_paused", st->paused, true);
	json_bool(fp, "ready", st->ready, false);
	fputs("},", fp);
}

static void
json_view(FILE *fp, const struct status *st)
{
	const Harepd__LocalView *v = st->view;

	json_key(fp, "view");
	if (v == NULL) {
		fputs("null,", fp);
		return;
	}
	fputc('{', fp);
	json_int(fp, "node_id", v->node_id, true);
	json_str(fp, "node_name", v->node_name, true);
	json_str(fp, "ip", v->ip, true);
	json_list(fp, "primaries", v->primaries, v->n_primaries, true);
	json_list(fp, "standbys", v->standbys, v->n_standbys, true);
	json_str(fp, "witness", v->witness, true);
	json_bool(fp, "in_recovery", v->in_recovery, true);
	json_int(fp, "timeline", v->timeline, true);
	json_int(fp, "collected_at_ms", v->collected_at_ms, true);
	json_int(fp, "age_ms", age_ms(st->now_ms, v->collected_at_ms), true);
	json_str(fp, "db_error", v->db_error, false);
	fputs("},", fp);
}

static void
json_answer(FILE *fp, const Models__IKnow *a)
{
	json_key(fp, "answer");
	if (a == NULL) {
		fputs("null", fp);
		return;
	}
	fputc('{', fp);
	json_str(fp, "ip", a->ip, true);
	json_int(fp, "node_id", a->nodeid, true);
	json_str(fp, "node_name", a->nodename, true);
	json_list(fp, "primaries", a->master, a->n_master, true);
	json_list(fp, "standbys", a->slaves, a->n_slaves, true);
	json_str(fp, "witness", a->witness, true);
	json_key(fp, "observation");
	if (a->observation == NULL)
		fputs("null", fp);
	else
		fprintf(fp, "{\"in_recovery\":%s,\"timeline\":%u}",
		    a->observation->inrecovery ? "true" : "false",
		    a->observation->timeline);
	fputc('}', fp);
}

static void
json_peer(FILE *fp, const Harepd__PeerAnswer *p)
{
	fputc('{', fp);
	json_str(fp, "target", p->target, true);
	json_str(fp, "role", p->role, true);
	json_bool(fp, "answered", p->answered, true);
	json_str(fp, "error", p->error, true);
	json_int(fp, "latency_us", p->latency_us, true);
	json_bool(fp, "agrees", p->agrees, true);
	json_answer(fp, p->answered ? p->answer : NULL);
	fputc('}', fp);
}

static void
json_verdict(FILE *fp, const struct status *st)
{
	const Harepd__Verdict *v = st->verdict;

	json_key(fp, "verdict");
	if (v == NULL) {
		fputs("null,", fp);
		return;
	}
	fputc('{', fp);
	json_int(fp, "seq", (int64_t)v->seq, true);
	json_str(fp, "rw", allow(v->rw_allow), true);
	json_str(fp, "ro", allow(v->ro_allow), true);
	json_str(fp, "reason", v->reason, true);
	json_str(fp, "policy", v->policy, true);
	json_int(fp, "lease_ms", v->lease_ms, true);
	json_int(fp, "decided_at_ms", v->decided_at_ms, true);
	json_int(fp, "age_ms", age_ms(st->now_ms, v->decided_at_ms), true);
	json_int(fp, "tick_us", v->tick_us, true);
	json_key(fp, "peers");
	fputc('[', fp);
	for (size_t i = 0; i < v->n_evidence; i++) {
		if (i)
			fputc(',', fp);
		json_peer(fp, v->evidence[i]);
	}
	fputs("]},", fp);
}

static void
json_hba(FILE *fp, const struct status *st)
{
	const Harepd__HbaApplied *h = st->hba;

	json_key(fp, "pg_hba");
	if (h == NULL) {
		fputs("null,", fp);
		return;
	}
	fputc('{', fp);
	json_int(fp, "seq", (int64_t)h->seq, true);
	json_str(fp, "rw", allow(h->rw_allow), true);
	json_str(fp, "ro", allow(h->ro_allow), true);
	json_bool(fp, "fenced", h->fenced, true);
	json_bool(fp, "changed", h->changed, true);
	json_bool(fp, "reloaded", h->reloaded, true);
	json_str(fp, "error", h->error, true);
	json_list(fp, "warnings", h->warnings, h->n_warnings, true);
	json_int(fp, "applied_at_ms", h->applied_at_ms, true);
	json_int(fp, "age_ms", age_ms(st->now_ms, h->applied_at_ms), true);
	json_key(fp, "last_changed_at_ms");
	if (st->hba_changed_ms > 0)
		fprintf(fp, "%" PRId64, st->hba_changed_ms);
	else
		fputs("null", fp);
	fputs("},", fp);
}

static void
json_worker(FILE *fp, const struct status_worker *w)
{
	fputc('{', fp);
	json_str(fp, "name", w->name, true);
	json_str(fp, "user", w->user, true);
	json_str(fp, "state", w->state, true);
	json_key(fp, "pid");
	if (w->pid > 0)
		fprintf(fp, "%d,", (int)w->pid);
	else
		fputs("null,", fp);
	json_int(fp, "uptime_ms", w->pid > 0 ? w->uptime_ms : 0, true);
	json_int(fp, "restarts", w->restarts, true);
	json_int(fp, "restart_in_ms", w->restart_in_ms, true);
	json_str(fp, "last_exit", w->last_exit, false);
	fputc('}', fp);
}

void
status_print_json(FILE *fp, const struct status *st)
{
	fputc('{', fp);
	json_int(fp, "version", STATUS_SCHEMA_VERSION, true);
	json_daemon(fp, st);
	json_str(fp, "role", status_node_role(st->view), true);
	json_view(fp, st);
	json_verdict(fp, st);
	json_hba(fp, st);
	json_key(fp, "workers");
	fputc('[', fp);
	for (size_t i = 0; i < st->n_workers; i++) {
		if (i)
			fputc(',', fp);
		json_worker(fp, &st->workers[i]);
	}
	fputs("]}\n", fp);
}

void
status_fill(struct status *st, const struct route *rt, const struct worker *ws,
    enum harepd_mode mode, const struct conf *c)
{
	int64_t now = clock_mono_ms();

	memset(st, 0, sizeof(*st));
	st->pid = getpid();
	st->mode = mode_name(mode);
	st->now_ms = clock_wall_ms();
	st->paused = rt->paused;
	st->ready = true;
	st->view = rt->last_view ? rt->last_view->local_view : NULL;
	st->verdict = rt->last_verdict ? rt->last_verdict->verdict : NULL;
	st->hba = rt->last_hba ? rt->last_hba->hba_applied : NULL;
	st->hba_changed_ms = rt->hba_changed_ms;
	for (size_t i = 0; i < ROLE_COUNT; i++) {
		const struct worker *w = &ws[i];
		struct status_worker *sw = &st->workers[st->n_workers];

		if (!w->enabled)
			continue;
		st->n_workers++;
		st->ready = st->ready && w->state == W_READY;
		sw->name = w->role->name;
		sw->user = role_user(w->role, c);
		sw->state = wstate_name(w->state);
		sw->pid = w->pid;
		sw->uptime_ms = w->pid > 0 ? now - w->started_mono : 0;
		sw->restarts = w->restarts;
		sw->last_exit = w->last_exit;
		sw->restart_in_ms = w->state == W_BACKOFF ?
		    (w->restart_at > now ? w->restart_at - now : 0) : 0;
		sw->crash_loop = w->role->restart.burst > 0 &&
		    w->window_exits >= w->role->restart.burst &&
		    now - w->window_start <= w->role->restart.window_ms;
	}
}
