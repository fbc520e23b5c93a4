/*
 * One libpq query that never blocks past a deadline. libpq's PQexec
 * waits as long as the server does; a PostgreSQL stalled on I/O or a
 * lock would stall the probe's tick or the hba worker's fence. The
 * query is sent, flushed and read with poll() on the connection's
 * socket. After a timeout the session may be mid-query: the caller must
 * drop the connection.
 */
#ifndef HAREPD_UTIL_PQ_DEADLINE_H
#define HAREPD_UTIL_PQ_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>
#include <libpq-fe.h>

/*
 * sql with nparams text parameters (params may be NULL when 0), done by
 * deadline_mono_ms (clock_mono_ms). The last result, NULL on failure;
 * *timedout says whether the deadline was the reason.
 */
PGresult *pq_exec_deadline(PGconn *, const char *sql, int nparams,
	    const char *const *params, int64_t deadline_mono_ms,
	    bool *timedout);

#endif
