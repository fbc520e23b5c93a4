/*
 * The hba worker's own libpq connection, as the owner of pg_hba.conf
 * and not the supervisor's (docs/HBA.md): validate the file PostgreSQL
 * would load, then reload. Kept open between verdicts because on the
 * machines measured a new connection costs 40-50 ms and a query 0.1 ms;
 * dropped and re-opened when a query fails.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <signal.h>
#include <unistd.h>

#include "ipc/log.h"
#include "util/clock.h"
#include "util/pq_deadline.h"
#include "worker-hba/hba.h"

/*
 * A stuck server must not stall the worker past a lease. statement_timeout
 * is the server's own limit; a backend that is stopped, swapping or behind
 * a dead link never applies it, so every query also has a client-side
 * deadline a little longer, after which the connection is dropped.
 */
#define HBA_PG_CONNECT_TIMEOUT	"3"
#define HBA_PG_OPTIONS		"-c statement_timeout=3000"
#ifndef HBA_PG_QUERY_DEADLINE_MS
#define HBA_PG_QUERY_DEADLINE_MS 3500
#endif

struct hba_pg {
	PGconn	*conn;
	char	*user;
	char	*db;
	char	*host;
	char	 port[16];
	int	 deadline_ms;	/* client-side limit on one query */
	char	 data_dir[4096];	/* "" until known */
	/* asked on each new connection and each recheck */
	char	 role[128];
	char	 privileges[HBA_PG_PRIV_LEN];	/* what it lacks; "" nothing */
	char	 hba_file[4096];	/* "" when the role may not read it */
};

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

struct hba_pg *
hba_pg_new(const struct conf *c)
{
	struct hba_pg *pg = calloc(1, sizeof(*pg));

	if (pg == NULL)
		return NULL;
	pg->user = dup_or_null(c->repmgr_user);
	pg->db = dup_or_null(c->repmgr_db);
	pg->host = dup_or_null(c->repmgr_host);
	if (c->repmgr_port > 0)
		snprintf(pg->port, sizeof(pg->port), "%d", c->repmgr_port);
	pg->deadline_ms = HBA_PG_QUERY_DEADLINE_MS;
	return pg;
}

void
hba_pg_free(struct hba_pg *pg)
{
	if (pg == NULL)
		return;
	if (pg->conn != NULL)
		PQfinish(pg->conn);
	free(pg->user);
	free(pg->db);
	free(pg->host);
	free(pg);
}

/* libpq's messages end in a newline; the log and HbaApplied need none. */
static void
pq_err(char *err, size_t errlen, const char *what, const char *msg)
{
	size_t n;

	snprintf(err, errlen, "%s: %s", what, msg ? msg : "unknown error");
	n = strlen(err);
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' ' ||
	    err[n - 1] == '\t'))
		err[--n] = '\0';
	/* one line: libpq adds "\n\tThis probably means..." */
	for (char *p = err; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

static void
drop_conn(struct hba_pg *pg)
{
	PQfinish(pg->conn);
	pg->conn = NULL;
}

static int ask_setup(struct hba_pg *, long *backend_pid, char *err,
    size_t errlen);
static void learn_data_dir(struct hba_pg *, long backend_pid);

int
hba_pg_connect(struct hba_pg *pg, char *err, size_t errlen)
{
	const char *keys[12], *vals[12];
	long backend_pid = -1;
	char why[256];
	int n = 0;

	if (pg->conn != NULL && PQstatus(pg->conn) == CONNECTION_OK)
		return 0;
	if (pg->conn != NULL)
		drop_conn(pg);
#define KV(k, v) do { if ((v) != NULL && (v)[0] != '\0') { \
	keys[n] = (k); vals[n++] = (v); } } while (0)
	KV("user", pg->user);
	KV("dbname", pg->db);
	KV("host", pg->host);
	KV("port", pg->port);
	KV("connect_timeout", HBA_PG_CONNECT_TIMEOUT);
	/* statement_timeout is the server's; a silent peer needs these */
	KV("keepalives_idle", "5");
	KV("tcp_user_timeout", "5000");
	KV("options", HBA_PG_OPTIONS);
	KV("application_name", "harepd-hba");
#undef KV
	keys[n] = vals[n] = NULL;
	pg->conn = PQconnectdbParams(keys, vals, 0);
	if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK) {
		pq_err(err, errlen, "cannot connect to PostgreSQL",
		    pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
		if (pg->conn != NULL)
			drop_conn(pg);
		return -1;
	}
	/* queries are sent and read with a deadline: never block in libpq */
	if (PQsetnonblocking(pg->conn, 1) == -1) {
		pq_err(err, errlen, "cannot make the PostgreSQL connection "
		    "non-blocking", PQerrorMessage(pg->conn));
		drop_conn(pg);
		return -1;
	}
	/* not fatal: a role that may not ask is warned about by its caller */
	(void)ask_setup(pg, &backend_pid, why, sizeof(why));
	if (pg->conn != NULL && pg->data_dir[0] == '\0')
		learn_data_dir(pg, backend_pid);
	if (pg->conn == NULL) {
		snprintf(err, errlen, "no answer from PostgreSQL within %d ms "
		    "after connecting; connection dropped", pg->deadline_ms);
		return -1;
	}
	return 0;
}

/* Run sql once, expecting rows; NULL with err. */
static PGresult *
query_once(struct hba_pg *pg, const char *sql, bool *broken, char *err,
    size_t errlen)
{
	PGresult *res;
	bool timedout;

	*broken = false;
	if (hba_pg_connect(pg, err, errlen) == -1)
		return NULL;
	res = pq_exec_deadline(pg->conn, sql, 0, NULL,
	    clock_mono_ms() + pg->deadline_ms, &timedout);
	if (res == NULL && timedout) {
		/*
		 * The session may be mid-query: start clean next time. Not
		 * retried at once: a stalled server would only stall us again
		 * (the caller retries later).
		 */
		snprintf(err, errlen, "%s: no answer from PostgreSQL within "
		    "%d ms; connection dropped", sql, pg->deadline_ms);
		drop_conn(pg);
		return NULL;
	}
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		pq_err(err, errlen, sql, res ? PQresultErrorMessage(res) :
		    PQerrorMessage(pg->conn));
		PQclear(res);
		if (PQstatus(pg->conn) != CONNECTION_OK) {
			drop_conn(pg);
			*broken = true;
		}
		return NULL;
	}
	return res;
}

/*
 * A kept connection only shows it is dead (server restarted, link cut)
 * when used: then try once more on a fresh one, so a restart of
 * PostgreSQL costs no verdict.
 */
static PGresult *
query(struct hba_pg *pg, const char *sql, char *err, size_t errlen)
{
	PGresult *res;
	bool broken;

	res = query_once(pg, sql, &broken, err, errlen);
	if (res == NULL && broken)
		res = query_once(pg, sql, &broken, err, errlen);
	return res;
}

/*
 * pg_hba_file_rules parses the file named by hba_file afresh on each
 * query (it shows the file, not what the postmaster has loaded), so it
 * validates exactly the bytes a reload would load.
 */
int
hba_pg_check_rules(struct hba_pg *pg, char *err, size_t errlen)
{
	PGresult *res = query(pg, "SELECT line_number, error FROM "
	    "pg_hba_file_rules WHERE error IS NOT NULL ORDER BY line_number",
	    err, errlen);
	size_t off = 0;
	int n;

	if (res == NULL)
		return -1;
	if ((n = PQntuples(res)) == 0) {
		PQclear(res);
		return 0;
	}
	off = (size_t)snprintf(err, errlen, "PostgreSQL rejects the new "
	    "pg_hba.conf:");
	for (int i = 0; i < n && off < errlen; i++)
		off += (size_t)snprintf(err + off, errlen - off, "%s line %s: %s",
		    i ? ";" : "", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
	PQclear(res);
	return 1;
}

/*
 * pg_reload_conf() on the kept connection; without one (the check could
 * not connect: connecting again would only wait as long again), or when
 * it is refused (no EXECUTE on it), a SIGHUP to the postmaster, as
 * `pg_ctl reload` sends: a deny must be loaded even when the database
 * cannot be asked.
 */
int
hba_pg_reload(struct hba_pg *pg, bool *by_signal, char *err, size_t errlen)
{
	PGresult *res = NULL;
	char why[512];
	size_t n;
	int ok = 0;

	*by_signal = false;
	if (pg->conn != NULL) {
		res = query(pg, "SELECT pg_reload_conf()", err, errlen);
		ok = res != NULL && PQntuples(res) == 1 &&
		    strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		if (res != NULL && !ok)
			snprintf(err, errlen, "pg_reload_conf() returned false");
		PQclear(res);
		if (ok)
			return 0;
	} else
		snprintf(err, errlen, "not connected to PostgreSQL");
	if (hba_postmaster_sighup(pg->data_dir, why, sizeof(why)) == 0) {
		*by_signal = true;
		return 0;
	}
	n = strlen(err);
	snprintf(err + n, errlen - n, "; no SIGHUP either: %s", why);
	return -1;
}

/*
 * What the role lacks of what the worker asks, as one message naming the
 * role, each missing privilege and what it costs; "" when nothing. A
 * superuser has them all. pg_read_all_settings does not open
 * pg_hba_file_rules: that needs the view and its function granted.
 */
#define PRIV_SQL "SELECT current_user, " \
	"pg_has_role(current_user, 'pg_read_all_settings', 'USAGE'), " \
	"has_table_privilege('pg_catalog.pg_hba_file_rules', 'SELECT') AND " \
	"has_function_privilege('pg_catalog.pg_hba_file_rules()', 'EXECUTE'), " \
	"has_function_privilege('pg_catalog.pg_reload_conf()', 'EXECUTE'), " \
	"pg_backend_pid(), " \
	"CASE WHEN pg_has_role(current_user, 'pg_read_all_settings', " \
	"'USAGE') THEN current_setting('hba_file') END"

static void
privileges_message(char *msg, size_t len, const char *role, bool settings,
    bool rules, bool reload)
{
	size_t off;

	msg[0] = '\0';
	if (settings && rules && reload)
		return;
	off = (size_t)snprintf(msg, len, "role \"%s\" lacks", role);
#define ADD(cond, text) do { if (!(cond) && off < len) \
	off += (size_t)snprintf(msg + off, len - off, "%s", text); } while (0)
	ADD(rules, " SELECT on pg_hba_file_rules and EXECUTE on function "
	    "pg_hba_file_rules() (a new pg_hba.conf cannot be validated; a "
	    "deny is reloaded unvalidated, an allow not at all);");
	ADD(settings, " pg_read_all_settings (SHOW hba_file cannot be "
	    "compared with hbaConfig);");
	ADD(reload, " EXECUTE on function pg_reload_conf() (reloads fall back "
	    "to SIGHUP to the postmaster);");
#undef ADD
	if (off < len)
		snprintf(msg + off, len - off, " make it a superuser or grant "
		    "them (docs/HBA.md)");
}

/*
 * One round trip for what the worker rechecks on every apply: what the
 * role lacks, and which file PostgreSQL reads (SHOW hba_file, asked only
 * when allowed: a refused one would fail the whole query). A failed ask
 * leaves what was known.
 */
static int
ask_setup(struct hba_pg *pg, long *backend_pid, char *err, size_t errlen)
{
	PGresult *r;
	bool timedout;

	r = pq_exec_deadline(pg->conn, PRIV_SQL, 0, NULL,
	    clock_mono_ms() + pg->deadline_ms, &timedout);
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK ||
	    PQntuples(r) != 1) {
		pq_err(err, errlen, "asking what the role may do", timedout ?
		    "no answer from PostgreSQL" : r != NULL ?
		    PQresultErrorMessage(r) : PQerrorMessage(pg->conn));
		PQclear(r);
		if (timedout)
			drop_conn(pg);	/* mid-query: start clean next time */
		return -1;
	}
	snprintf(pg->role, sizeof(pg->role), "%s", PQgetvalue(r, 0, 0));
	privileges_message(pg->privileges, sizeof(pg->privileges),
	    pg->role, PQgetvalue(r, 0, 1)[0] == 't',
	    PQgetvalue(r, 0, 2)[0] == 't', PQgetvalue(r, 0, 3)[0] == 't');
	*backend_pid = strtol(PQgetvalue(r, 0, 4), NULL, 10);
	snprintf(pg->hba_file, sizeof(pg->hba_file), "%s",
	    PQgetisnull(r, 0, 5) ? "" : PQgetvalue(r, 0, 5));
	PQclear(r);
	return 0;
}

int
hba_pg_recheck(struct hba_pg *pg, char *err, size_t errlen)
{
	long backend_pid;

	if (!hba_pg_connected(pg))
		return 0;
	return ask_setup(pg, &backend_pid, err, errlen) == 0 ? 1 : -1;
}

const char *
hba_pg_privileges(const struct hba_pg *pg)
{
	return pg->privileges;
}

const char *
hba_pg_role(const struct hba_pg *pg)
{
	return pg->role;
}

const char *
hba_pg_hba_file(const struct hba_pg *pg)
{
	return pg->hba_file[0] != '\0' ? pg->hba_file : NULL;
}

bool
hba_pg_connected(const struct hba_pg *pg)
{
	return pg->conn != NULL && PQstatus(pg->conn) == CONNECTION_OK;
}

/*
 * Where the postmaster keeps its pid file: data_directory (superuser or
 * pg_read_all_settings), else the working directory of our backend's
 * parent (hba_postmaster.c). Unknown when neither works.
 */
static void
learn_data_dir(struct hba_pg *pg, long backend_pid)
{
	PGresult *r;
	bool timedout;

	r = pq_exec_deadline(pg->conn, "SELECT current_setting('data_directory')",
	    0, NULL, clock_mono_ms() + pg->deadline_ms, &timedout);
	if (r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK &&
	    PQntuples(r) == 1)
		snprintf(pg->data_dir, sizeof(pg->data_dir), "%s",
		    PQgetvalue(r, 0, 0));
	PQclear(r);
	if (r == NULL && timedout)
		drop_conn(pg);
	if (pg->data_dir[0] == '\0')
		(void)hba_postmaster_dir_of_backend(backend_pid, pg->data_dir,
		    sizeof(pg->data_dir));
}

int
hba_pg_postmaster_down(struct hba_pg *pg)
{
	long pid;

	if (pg->data_dir[0] == '\0')
		return 0;
	if ((pid = hba_postmaster_pid(pg->data_dir)) < 0)
		return 0;
	/* a postmaster killed with -9 leaves its pid file behind */
	return pid == 0 || (kill((pid_t)pid, 0) == -1 && errno == ESRCH);
}
