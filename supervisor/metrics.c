/*
 * OpenMetrics 1.0 text exposition (docs/METRICS.md), printed from the
 * status snapshot plus the counters and histograms the supervisor keeps.
 * Names follow Prometheus conventions: units in the name (_seconds),
 * counters end in _total, one family per # TYPE line.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/metrics.h"
#include "supervisor/sup.h"
#include "util/grpc_status.h"
#include "util/version.h"
#include "util/xmalloc.h"

/* The probe's tick: one local query plus peers asked in parallel, each
 * within connectionDeadline seconds. */
static const double tick_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    0.5, 1, 2.5, 5, 10 };
/* One GetClusterInfo round trip. */
static const double latency_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 };

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static void
hist_init(struct metrics_hist *h, const double *bounds, size_t n)
{
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->n_bounds = n;
}

void
metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	hist_init(&m->tick, tick_bounds, NELEM(tick_bounds));
}

void
metrics_free(struct metrics *m)
{
	for (size_t i = 0; i < m->n_peers; i++)
		free(m->peers[i].target);
	m->n_peers = 0;
}

void
metrics_hist_observe(struct metrics_hist *h, double seconds)
{
	size_t i = 0;

	if (!(seconds >= 0))	/* negative or NaN: a worker's nonsense */
		seconds = 0;
	while (i < h->n_bounds && seconds > h->bounds[i])
		i++;
	h->count[i]++;		/* i == n_bounds: only +Inf */
	h->total++;
	h->sum += seconds;
}

static struct metrics_peer *
peer_slot(struct metrics *m, const char *target)
{
	for (size_t i = 0; i < m->n_peers; i++)
		if (strcmp(m->peers[i].target, target) == 0)
			return &m->peers[i];
	if (m->n_peers == METRICS_MAX_PEERS)
		return NULL;
	m->peers[m->n_peers].target = xstrdup(target);
	hist_init(&m->peers[m->n_peers].latency, latency_bounds,
	    NELEM(latency_bounds));
	return &m->peers[m->n_peers++];
}

void
metrics_on_verdict(struct metrics *m, const Harepd__Verdict *v)
{
	m->verdicts++;
	metrics_hist_observe(&m->tick, (double)v->tick_us / 1e6);
	for (size_t i = 0; i < v->n_evidence; i++) {
		const Harepd__PeerAnswer *p = v->evidence[i];
		struct metrics_peer *slot;

		if (!p->answered || p->target == NULL)
			continue;
		if ((slot = peer_slot(m, p->target)) != NULL)
			metrics_hist_observe(&slot->latency,
			    (double)p->latency_us / 1e6);
	}
}

void
metrics_on_hba(struct metrics *m, const Harepd__HbaApplied *h)
{
	m->hba_applied++;
	m->hba_changes += h->changed;
	m->hba_reloads += h->reloaded;
	m->hba_errors += h->error != NULL && h->error[0] != '\0';
	m->hba_fences += h->fenced;
}

/* ---- printing ---- */

void
metrics_write_label(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\\\", fp);
		else if (*s == '"')
			fputs("\\\"", fp);
		else if (*s == '\n')
			fputs("\\n", fp);
		else
			fputc(*s, fp);
	}
	fputc('"', fp);
}

static void
family(FILE *fp, const char *name, const char *type, const char *help)
{
	fprintf(fp, "# TYPE %s %s\n# HELP %s %s\n", name, type, name, help);
}

/* name{key="value"} or name when key is NULL, then the value. */
static void
sample_label(FILE *fp, const char *name, const char *key, const char *val)
{
	fputs(name, fp);
	if (key != NULL) {
		fprintf(fp, "{%s=", key);
		metrics_write_label(fp, val);
		fputc('}', fp);
	}
	fputc(' ', fp);
}

static void
gauge(FILE *fp, const char *name, const char *help, double v)
{
	family(fp, name, "gauge", help);
	fprintf(fp, "%s %.17g\n", name, v);
}

static void
counter(FILE *fp, const char *name, const char *help, uint64_t v)
{
	family(fp, name, "counter", help);
	fprintf(fp, "%s_total %" PRIu64 "\n", name, v);
}

static void
hist_tail(FILE *fp, const char *name, const char *key, const char *val,
    const struct metrics_hist *h)
{
	char n[128];

	snprintf(n, sizeof(n), "%s_count", name);
	sample_label(fp, n, key, val);
	fprintf(fp, "%" PRIu64 "\n", h->total);
	snprintf(n, sizeof(n), "%s_sum", name);
	sample_label(fp, n, key, val);
	fprintf(fp, "%.17g\n", h->sum);
}

static void
print_hist(FILE *fp, const char *name, const char *key, const char *val,
    const struct metrics_hist *h)
{
	uint64_t cum = 0;

	for (size_t i = 0; i <= h->n_bounds; i++) {
		cum += h->count[i];
		fprintf(fp, "%s_bucket{", name);
		if (key != NULL) {
			fprintf(fp, "%s=", key);
			metrics_write_label(fp, val);
			fputc(',', fp);
		}
		if (i < h->n_bounds)
			fprintf(fp, "le=\"%g\"} %" PRIu64 "\n", h->bounds[i],
			    cum);
		else
			fprintf(fp, "le=\"+Inf\"} %" PRIu64 "\n", cum);
	}
	hist_tail(fp, name, key, val, h);
}

static double
seconds(int64_t ms)
{
	return (double)ms / 1000.0;
}

static void
print_daemon(FILE *fp, const struct status *st, const struct metrics_now *now)
{
	gauge(fp, "harepd_up", "1 while harepd answers", 1);
	family(fp, "harepd_build", "info", "version and git commit of harepd");
	fputs("harepd_build_info{version=", fp);
	metrics_write_label(fp, harepd_version());
	fputs(",git_hash=", fp);
	metrics_write_label(fp, harepd_git_hash());
	fputs("} 1\n", fp);
	gauge(fp, "harepd_uptime_seconds", "seconds since the supervisor "
	    "started", seconds(st->now_ms - st->started_ms));
	gauge(fp, "harepd_client_paused", "1 after harepdctl stop-client: no "
	    "verdicts taken, pg_hba.conf left alone", st->paused);
	gauge(fp, "harepd_watchdog_seconds", "the probe's tick period "
	    "(watchDog)", seconds(now->watchdog_ms));
}

static void
print_node(FILE *fp, const struct status *st)
{
	static const char *roles[] = { "primary", "standby", "witness",
	    "unknown" };
	const Harepd__LocalView *v = st->view;
	const char *role = status_node_role(v);

	family(fp, "harepd_node_role", "stateset", "this node's role in its "
	    "own repmgr view");
	for (size_t i = 0; i < NELEM(roles); i++)
		fprintf(fp, "harepd_node_role{harepd_node_role=\"%s\"} %d\n",
		    roles[i], strcmp(role, roles[i]) == 0);
	if (v == NULL)
		return;
	gauge(fp, "harepd_in_recovery", "pg_is_in_recovery() of the local "
	    "database", v->in_recovery);
	gauge(fp, "harepd_timeline", "timeline of the local database",
	    v->timeline);
	gauge(fp, "harepd_database_up", "1 when the probe's last view reached "
	    "the local database", v->db_error == NULL || v->db_error[0] == '\0');
}

static void
print_verdict(FILE *fp, const struct status *st, const struct metrics *m,
    const struct metrics_now *now)
{
	const Harepd__Verdict *v = st->verdict;
	int64_t age, left;

	counter(fp, "harepd_verdicts", "verdicts taken from the probe", m->verdicts);
	family(fp, "harepd_tick_duration_seconds", "histogram", "how long a "
	    "probe tick (local view, peers, decision) took");
	print_hist(fp, "harepd_tick_duration_seconds", NULL, NULL, &m->tick);
	if (v == NULL)
		return;
	age = v->decided_boot_ms > 0 ? now->boot_ms - v->decided_boot_ms :
	    st->now_ms - v->decided_at_ms;
	left = v->decided_boot_ms > 0 ? v->decided_boot_ms + v->lease_ms -
	    now->boot_ms : 0;
	gauge(fp, "harepd_verdict_rw_allow", "1 when the last verdict allows "
	    "read-write access", v->rw_allow);
	gauge(fp, "harepd_verdict_ro_allow", "1 when the last verdict allows "
	    "read-only access", v->ro_allow);
	gauge(fp, "harepd_verdict_sequence", "sequence number of the last "
	    "verdict", (double)v->seq);
	gauge(fp, "harepd_verdict_age_seconds", "seconds since the last "
	    "verdict was decided", seconds(age));
	gauge(fp, "harepd_lease_remaining_seconds", "seconds before the hba "
	    "worker fences unless a fresh verdict comes (negative: expired)",
	    seconds(left));
}

static void
print_peers(FILE *fp, const struct status *st, const struct metrics *m)
{
	const Harepd__Verdict *v = st->verdict;
	size_t n = v != NULL ? v->n_evidence : 0;

	family(fp, "harepd_peer_answered", "gauge", "1 when the peer answered "
	    "in the last verdict's tick");
	for (size_t i = 0; i < n; i++) {
		sample_label(fp, "harepd_peer_answered", "target",
		    v->evidence[i]->target);
		fprintf(fp, "%d\n", v->evidence[i]->answered);
	}
	family(fp, "harepd_peer_agreed", "gauge", "1 when the peer's answer "
	    "agreed with the local view");
	for (size_t i = 0; i < n; i++) {
		sample_label(fp, "harepd_peer_agreed", "target",
		    v->evidence[i]->target);
		fprintf(fp, "%d\n", v->evidence[i]->answered &&
		    v->evidence[i]->agrees);
	}
	family(fp, "harepd_peer_latency_seconds", "histogram", "GetClusterInfo "
	    "round trips that were answered");
	for (size_t i = 0; i < m->n_peers; i++)
		print_hist(fp, "harepd_peer_latency_seconds", "target",
		    m->peers[i].target, &m->peers[i].latency);
}

static void
print_hba(FILE *fp, const struct status *st, const struct metrics *m)
{
	const Harepd__HbaApplied *h = st->hba;

	if (h != NULL) {
		family(fp, "harepd_hba_allow", "gauge", "1 when pg_hba.conf "
		    "allows the access (rw: readWrite user, ro: readOnly)");
		fprintf(fp, "harepd_hba_allow{access=\"rw\"} %d\n", h->rw_allow);
		fprintf(fp, "harepd_hba_allow{access=\"ro\"} %d\n", h->ro_allow);
		gauge(fp, "harepd_hba_fenced", "1 when the lease ran out and "
		    "the hba worker denied rw and ro", h->fenced);
	}
	counter(fp, "harepd_hba_applied", "verdicts and fences the hba worker "
	    "reported applied", m->hba_applied);
	counter(fp, "harepd_hba_changes", "times pg_hba.conf was rewritten",
	    m->hba_changes);
	counter(fp, "harepd_hba_reloads", "PostgreSQL reloads after a change",
	    m->hba_reloads);
	counter(fp, "harepd_hba_errors", "applies that reported an error",
	    m->hba_errors);
	counter(fp, "harepd_hba_fences", "lease expiries that fenced",
	    m->hba_fences);
}

/* OK always (0 until a call), other codes once one was answered. */
static void
print_grpc(FILE *fp, const struct metrics *m)
{
	family(fp, "harepd_grpc_requests", "counter", "gRPC calls the rpc "
	    "worker answered, by status code");
	for (int i = 0; i < METRICS_GRPC_CODES; i++)
		if (i == 0 || m->grpc_served[i] > 0)
			fprintf(fp, "harepd_grpc_requests_total{code=\"%s\"} %"
			    PRIu64 "\n", grpc_status_name(i), m->grpc_served[i]);
}

static void
print_workers(FILE *fp, const struct status *st)
{
	const char *const names[] = { "harepd_worker_up",
	    "harepd_worker_uptime_seconds", "harepd_worker_restarts" };
	const char *const helps[] = { "1 while the worker runs and said Hello",
	    "seconds since the worker was started",
	    "restarts of the worker since harepd started" };

	for (size_t k = 0; k < NELEM(names); k++) {
		family(fp, names[k], k == 2 ? "counter" : "gauge", helps[k]);
		for (size_t i = 0; i < st->n_workers; i++) {
			const struct status_worker *w = &st->workers[i];

			fprintf(fp, "%s%s{worker=", names[k],
			    k == 2 ? "_total" : "");
			metrics_write_label(fp, w->name);
			if (k == 0)
				fprintf(fp, "} %d\n", strcmp(w->state,
				    "running") == 0);
			else if (k == 1)
				fprintf(fp, "} %.17g\n", w->pid > 0 ?
				    seconds(w->uptime_ms) : 0.0);
			else
				fprintf(fp, "} %u\n", w->restarts);
		}
	}
}

void
metrics_print(FILE *fp, const struct status *st, const struct metrics *m,
    const struct metrics_now *now)
{
	print_daemon(fp, st, now);
	print_node(fp, st);
	print_verdict(fp, st, m, now);
	print_peers(fp, st, m);
	print_hba(fp, st, m);
	print_grpc(fp, m);
	print_workers(fp, st);
	fputs("# EOF\n", fp);
}

void
metrics_on_rpc_served(struct metrics *m, const Harepd__RpcServed *r)
{
	for (size_t i = 0; i < r->n_by_code && i < METRICS_GRPC_CODES; i++)
		if (__builtin_add_overflow(m->grpc_served[i], r->by_code[i],
		    &m->grpc_served[i]))
			m->grpc_served[i] = UINT64_MAX;
}
