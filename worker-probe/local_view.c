/*
 * This node's view of the cluster from its own repmgr metadata: one query,
 * one round trip, on a libpq connection kept open between ticks (on the
 * machines measured a new connection costs 40-50 ms, a query 0.1 ms).
 *
 * Every wait is bounded: connect_timeout on connecting, a client-side
 * deadline (poll on the socket) on the query, and statement_timeout on
 * the server so an abandoned query does not run on. A connection that
 * failed is retried with backoff; meanwhile each view says why the
 * database could not be asked, and decide() denies everything.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "ipc/ipc.h"
#include "ipc/log.h"
#include "util/backoff.h"
#include "util/clock.h"
#include "util/pq_deadline.h"
#include "util/xmalloc.h"
#include "worker-probe/probe.h"

/*
 * The database is local and one connection attempt is cheap: retried at
 * most a watchDog apart, so that a PostgreSQL restarted by a rejoin or a
 * follow is seen at the next tick, not after a long backoff.
 */
#define BACKOFF_MIN_MS	250

struct local_view {
	const struct conf *conf;
	PGconn		*conn;
	int64_t		 retry_at_ms;	/* clock_mono_ms; 0: connect now */
	struct backoff	 backoff;
	char		 last_error[512];
};

/*
 * $1 is this node's name. The LEFT JOIN from a one-row CTE keeps the
 * recovery state and timeline even when repmgr.nodes is empty.
 *
 * Timeline: on a primary, the one of the WAL being written now (the
 * first 8 hex digits of its file name); pg_control_checkpoint() would
 * lag after a promotion until the next checkpoint, which PostgreSQL
 * spreads over minutes. On a standby, the timeline it receives from its
 * upstream; without a WAL receiver (upstream gone), the one of its last
 * restartpoint. A standby that lags only looks older, which never earns
 * it anything.
 */
const char local_view_sql[] =
	"WITH s AS (SELECT pg_is_in_recovery() AS in_recovery,"
	" CASE WHEN pg_is_in_recovery() THEN"
	"  COALESCE((SELECT received_tli FROM pg_stat_wal_receiver"
	"            WHERE received_tli > 0),"
	"           (SELECT timeline_id FROM pg_control_checkpoint()))"
	" ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))"
	"      ::bit(32)::bigint END AS timeline)"
	" SELECT s.in_recovery, s.timeline, n.node_id, n.node_name, n.type,"
	"  n.active, n.conninfo"
	" FROM s LEFT JOIN repmgr.nodes n"
	"  ON (n.active AND n.type IN ('primary', 'standby', 'witness'))"
	"  OR n.node_name = $1"
	" ORDER BY n.node_id";

enum { COL_REC, COL_TL, COL_ID, COL_NAME, COL_TYPE, COL_ACTIVE, COL_CONNINFO,
	N_COLS };

struct local_view *
local_view_new(const struct conf *c)
{
	struct local_view *lv;

	lv = xcalloc(1, sizeof(*lv));
	lv->conf = c;
	backoff_init(&lv->backoff, BACKOFF_MIN_MS,
	    c->watchdog > 0 ? c->watchdog * 1000 : 1000, 0);
	return lv;
}

void
local_view_free(struct local_view *lv)
{
	if (lv == NULL)
		return;
	if (lv->conn != NULL)
		PQfinish(lv->conn);
	free(lv);
}

static int
deadline_ms(const struct conf *c)
{
	return c->connection_deadline * 1000;
}

void
local_view_conn_params(const struct conf *c, struct conn_params *p)
{
	int n = 0;

	/* libpq reads connect_timeout 1 as 2: never below what it honours */
	snprintf(p->timeout, sizeof(p->timeout), "%d",
	    c->connection_deadline < 2 ? 2 : c->connection_deadline);
	snprintf(p->options, sizeof(p->options), "-c statement_timeout=%d",
	    deadline_ms(c));
	p->keys[n] = "user";		p->vals[n++] = c->repmgr_user;
	p->keys[n] = "dbname";		p->vals[n++] = c->repmgr_db;
	p->keys[n] = "application_name"; p->vals[n++] = "harepd-probe";
	p->keys[n] = "connect_timeout";	p->vals[n++] = p->timeout;
	p->keys[n] = "options";		p->vals[n++] = p->options;
	if (c->repmgr_host != NULL) {
		p->keys[n] = "host";	p->vals[n++] = c->repmgr_host;
	}
	if (c->repmgr_port > 0) {
		snprintf(p->port, sizeof(p->port), "%d", c->repmgr_port);
		p->keys[n] = "port";	p->vals[n++] = p->port;
	}
	p->keys[n] = NULL;
	p->vals[n] = NULL;
}

/* ---- the view message ---- */

static Harepd__LocalView *
view_new(const struct conf *c)
{
	Harepd__LocalView *v;

	v = xmalloc(sizeof(*v));
	harepd__local_view__init(v);
	v->node_name = xstrdup(c->node_name);
	v->ip = xstrdup("");
	v->witness = xstrdup("");
	v->db_error = xstrdup("");
	v->collected_at_ms = clock_wall_ms();	/* for people: status */
	v->collected_boot_ms = clock_boot_ms();	/* for its age */
	return v;
}

static void
list_free(char **list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

void
local_view_msg_free(Harepd__LocalView *v)
{
	if (v == NULL)
		return;
	free(v->node_name);
	free(v->ip);
	free(v->witness);
	free(v->db_error);
	list_free(v->primaries, v->n_primaries);
	list_free(v->standbys, v->n_standbys);
	free(v);
}

static void
list_add(char ***list, size_t *n, const char *s)
{
	char **l;

	l = xreallocarray(*list, *n + 1, sizeof(char *));
	l[*n] = xstrdup(s);
	*list = l;
	(*n)++;
}

static void
set_str(char **field, const char *s)
{
	free(*field);
	*field = xstrdup(s);
}

static Harepd__LocalView *
view_error(const struct conf *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static Harepd__LocalView *
view_error(const struct conf *c, const char *fmt, ...)
{
	Harepd__LocalView *v = view_new(c);
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* libpq messages end in a newline; the log line must not */
	msg[strcspn(msg, "\n")] = '\0';
	/* the view travels as protobuf: its strings must be UTF-8 */
	ipc_utf8_scrub(msg);
	set_str(&v->db_error, msg[0] ? msg : "unknown error");
	return v;
}

/* ---- conninfo ---- */

static const char *
conninfo_value(const PQconninfoOption *opts, const char *key)
{
	for (; opts->keyword != NULL; opts++)
		if (strcmp(opts->keyword, key) == 0 && opts->val != NULL &&
		    opts->val[0] != '\0')
			return opts->val;
	return NULL;
}

int
conninfo_host(const char *conninfo, char *out, size_t outlen)
{
	PQconninfoOption *opts;
	const char *h;
	char *err = NULL, first[ADDR_MAX];

	if ((opts = PQconninfoParse(conninfo, &err)) == NULL) {
		PQfreemem(err);
		return -1;
	}
	if ((h = conninfo_value(opts, "host")) == NULL)
		h = conninfo_value(opts, "hostaddr");
	if (h != NULL) {
		/* host=a,b: libpq tries them in order; the first is the node */
		snprintf(first, sizeof(first), "%.*s", (int)strcspn(h, ","), h);
		probe_addr_canon(first, out, outlen);
	}
	PQconninfoFree(opts);
	return h != NULL ? 0 : -1;
}

/* ---- rows -> view ---- */

static void
add_node(Harepd__LocalView *v, const char *type, const char *addr)
{
	if (strcmp(type, "primary") == 0)
		list_add(&v->primaries, &v->n_primaries, addr);
	else if (strcmp(type, "standby") == 0)
		list_add(&v->standbys, &v->n_standbys, addr);
	else if (strcmp(type, "witness") == 0 && v->witness[0] == '\0')
		set_str(&v->witness, addr);
}

static void
add_row(Harepd__LocalView *v, const PGresult *r, int row, const char *name)
{
	const char *conninfo = PQgetvalue(r, row, COL_CONNINFO);
	char addr[ADDR_MAX];

	if (PQgetisnull(r, row, COL_ID))
		return;		/* repmgr.nodes is empty */
	if (conninfo_host(conninfo, addr, sizeof(addr)) == -1) {
		log_warnx("repmgr.nodes: node %s has no host in its conninfo "
		    "\"%s\": left out of the view",
		    PQgetvalue(r, row, COL_NAME), conninfo);
		return;
	}
	if (strcmp(PQgetvalue(r, row, COL_NAME), name) == 0) {
		v->node_id = atoi(PQgetvalue(r, row, COL_ID));
		set_str(&v->ip, addr);
	}
	if (strcmp(PQgetvalue(r, row, COL_ACTIVE), "t") == 0)
		add_node(v, PQgetvalue(r, row, COL_TYPE), addr);
}

static Harepd__LocalView *
view_from_result(const struct conf *c, const PGresult *r)
{
	Harepd__LocalView *v;
	int row;

	if (PQnfields(r) != N_COLS || PQntuples(r) < 1)
		return view_error(c, "unexpected result: %d columns, %d rows",
		    PQnfields(r), PQntuples(r));
	v = view_new(c);
	v->in_recovery = strcmp(PQgetvalue(r, 0, COL_REC), "t") == 0;
	v->timeline = (uint32_t)strtoul(PQgetvalue(r, 0, COL_TL), NULL, 10);
	for (row = 0; row < PQntuples(r); row++)
		add_row(v, r, row, c->node_name);
	return v;
}

/* ---- connection ---- */

static void
drop_connection(struct local_view *lv, const char *why)
{
	int64_t now = clock_mono_ms();

	snprintf(lv->last_error, sizeof(lv->last_error), "%s", why);
	lv->last_error[strcspn(lv->last_error, "\n")] = '\0';
	if (lv->conn != NULL)
		PQfinish(lv->conn);
	lv->conn = NULL;
	lv->retry_at_ms = now + backoff_next(&lv->backoff, 0);
}

static bool
connect_db(struct local_view *lv)
{
	struct conn_params p;

	local_view_conn_params(lv->conf, &p);
	lv->conn = PQconnectdbParams(p.keys, p.vals, 0);
	if (lv->conn == NULL || PQstatus(lv->conn) != CONNECTION_OK) {
		drop_connection(lv, lv->conn ? PQerrorMessage(lv->conn) :
		    "out of memory");
		return false;
	}
	/* the query below is sent and awaited without blocking */
	PQsetnonblocking(lv->conn, 1);
	backoff_reset(&lv->backoff);
	log_info("connected to the repmgr database (%s as %s)",
	    PQdb(lv->conn), PQuser(lv->conn));
	return true;
}

static Harepd__LocalView *
query_view(struct local_view *lv)
{
	int64_t deadline = clock_mono_ms() + deadline_ms(lv->conf);
	const char *params[1] = { lv->conf->node_name };
	Harepd__LocalView *v;
	char why[600];
	bool timeout;
	PGresult *r;

	r = pq_exec_deadline(lv->conn, local_view_sql, 1, params, deadline,
	    &timeout);
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
		if (timeout)
			snprintf(why, sizeof(why), "query timed out after %d "
			    "ms", deadline_ms(lv->conf));
		else
			snprintf(why, sizeof(why), "query failed: %s",
			    r ? PQresultErrorMessage(r) :
			    PQerrorMessage(lv->conn));
		PQclear(r);
		/* start clean: a timed-out or broken session may be mid-query */
		drop_connection(lv, why);
		return view_error(lv->conf, "%s", why);
	}
	v = view_from_result(lv->conf, r);
	PQclear(r);
	return v;
}

Harepd__LocalView *
local_view_collect(struct local_view *lv)
{
	int64_t now = clock_mono_ms();

	if (lv->conn == NULL && now < lv->retry_at_ms)
		return view_error(lv->conf, "not connected, next attempt in "
		    "%lld ms: %s", (long long)(lv->retry_at_ms - now),
		    lv->last_error);
	if (lv->conn == NULL && !connect_db(lv))
		return view_error(lv->conf, "%s", lv->last_error);
	return query_view(lv);
}
