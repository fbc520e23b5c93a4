/*
 * worker-hba: harepd's block of pg_hba.conf (docs/HBA.md).
 *
 *   hba_block.c   pure core: file bytes + config + verdict -> new bytes
 *   hba_plan.c    pure policy: lease, write, check, reload, restore
 *   hba_file.c    read, atomic replace, stale temp files
 *   hba_reload.c  libpq: pg_hba_file_rules check, pg_reload_conf()
 *   hba_postmaster.c  the local postmaster's pid, SIGHUP
 *   hba_watch.c   rechecks on every apply: hba_file, rules above the block
 *   hba_worker.c  the worker: carries out the plan, IPC handlers
 *   hba_print.c   `harepd --print-hba` and its verdict spec
 */
#ifndef HAREPD_HBA_H
#define HAREPD_HBA_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "conf/conf.h"

/*
 * The block. Marker lines are recognised by these prefixes (after
 * leading blanks) so that a marker an operator reworded is still seen
 * as a marker and a half-edited block is refused rather than guessed at.
 */
#define HBA_BEGIN_PREFIX "# BEGIN harepd managed block"
#define HBA_END_PREFIX	 "# END harepd managed block"
#define HBA_BEGIN_LINE	 HBA_BEGIN_PREFIX ": do not edit, harepd rewrites it"
#define HBA_END_LINE	 HBA_END_PREFIX

/* A pg_hba.conf larger than this is refused (the stock one is 5 kB). */
#define HBA_MAX_FILE	(4 * 1024 * 1024)

struct hba_buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

struct hba_verdict {
	bool	 rw_allow;
	bool	 ro_allow;
};

void	 hba_buf_free(struct hba_buf *);
int	 hba_buf_add(struct hba_buf *, const void *, size_t);

/*
 * hba_block.c. The new pg_hba.conf for verdict v: 0 and *out (free with
 * hba_buf_free), or -1 and a message in err (damaged block, config the
 * block cannot express). Never touches anything outside the block except
 * Go-harepd lines, which move into it. Same input, same output.
 */
int	 hba_rewrite(const char *in, size_t len, const struct conf *,
	    struct hba_verdict v, struct hba_buf *out, char *err,
	    size_t errlen);
/*
 * What the file's block says now: 1 and *v when the block is exactly
 * what hba_rewrite would write for some verdict, 0 when there is no
 * such verdict (no block yet, other servers or methods), -1 damaged.
 */
int	 hba_current_verdict(const char *in, size_t len, const struct conf *,
	    struct hba_verdict *v);
/* Position of the block: 1 found (1-based line numbers), 0 none, -1 damaged. */
int	 hba_find_block(const char *in, size_t len, size_t *begin_line,
	    size_t *end_line, char *err, size_t errlen);
/*
 * Line number of the first rule above the block that can match a TCP
 * login (not `local`, not a comment), 0 when none: pg_hba.conf is
 * first-match, so such a rule may decide before the block does.
 */
int	 hba_rule_above_block(const char *in, size_t len);
/* "rw=allow|deny[,ro=allow|deny]": 0 or -1 with err. */
int	 hba_parse_spec(const char *spec, struct hba_verdict *, char *err,
	    size_t errlen);

/* hba_file.c */
int	 hba_file_read(const char *path, struct hba_buf *, struct stat *,
	    char *err, size_t errlen);
/*
 * Replace path by data atomically, keeping st's owner and mode: temp
 * file beside it (O_EXCL), fsync, rename, fsync of the directory.
 */
int	 hba_file_replace(const char *path, const char *data, size_t len,
	    const struct stat *st, char *err, size_t errlen);
/*
 * The same, only if path is still the file read as st (inode, size,
 * mtime) just before the rename: -2 with err when it changed (an
 * operator's edit since the read), the temp file removed, path untouched.
 */
int	 hba_file_replace_if_same(const char *path, const char *data,
	    size_t len, const struct stat *st, char *err, size_t errlen);
/* Temp files of ours left beside path by a killed worker: how many removed. */
int	 hba_file_clean_stale(const char *path);
/* The temp file name pattern: ".<base>.harepd-tmp.<pid>.<n>" */
bool	 hba_file_is_temp_name(const char *base, const char *name);

/*
 * hba_plan.c. A verdict's age in ms from its decided_boot_ms
 * (CLOCK_BOOTTIME); -1 when unknown (unset, or ahead of now_boot_ms).
 * The wall clock is never used: it steps.
 */
long long hba_verdict_age(long long decided_boot_ms, long long now_boot_ms);

/* hba_reload.c: one libpq connection, kept and re-opened on failure. */
struct hba_pg;
struct hba_pg *hba_pg_new(const struct conf *);
void	 hba_pg_free(struct hba_pg *);
/* 0 connected (or already), -1 with err. */
int	 hba_pg_connect(struct hba_pg *, char *err, size_t errlen);
/*
 * Errors PostgreSQL finds in the hba file it reads: 0 none, 1 some
 * (described in err), -1 the check itself failed (err says why).
 */
int	 hba_pg_check_rules(struct hba_pg *, char *err, size_t errlen);
/*
 * Reload: pg_reload_conf(), else (not connected, or refused) SIGHUP to
 * the postmaster. 0 (*by_signal says which) or -1 with err.
 */
int	 hba_pg_reload(struct hba_pg *, bool *by_signal, char *err,
	    size_t errlen);
/*
 * 1 when no postmaster runs (its pid file gone, or naming a dead
 * process): the file on disk is what PostgreSQL loads when it starts.
 * 0 when it runs or nobody knows (data directory not found).
 */
int	 hba_pg_postmaster_down(struct hba_pg *);
bool	 hba_pg_connected(const struct hba_pg *);
/*
 * Ask again, on an open connection only (what a dead one would say is
 * not news), in one round trip: what the role lacks and which file
 * PostgreSQL reads. 1 asked, 0 not connected, -1 the ask failed (err).
 * Also asked on each new connection.
 */
int	 hba_pg_recheck(struct hba_pg *, char *err, size_t errlen);
/*
 * What the role lacks of pg_read_all_settings, pg_hba_file_rules and
 * pg_reload_conf() (a superuser has them all): one message naming the
 * role and each privilege with what it costs; "" nothing (or not asked).
 */
#define HBA_PG_PRIV_LEN	768
const char *hba_pg_privileges(const struct hba_pg *);
const char *hba_pg_role(const struct hba_pg *);
/* SHOW hba_file, as last asked; NULL when the role may not read it. */
const char *hba_pg_hba_file(const struct hba_pg *);

/* hba_postmaster.c: the local postmaster, from its files. */
/* The pid in data_dir/postmaster.pid: >0, 0 no such file, -1 unknown. */
long	 hba_postmaster_pid(const char *data_dir);
/* The data directory of the postmaster whose child backend_pid is: 0 or -1. */
int	 hba_postmaster_dir_of_backend(long backend_pid, char *dir,
	    size_t dirlen);
/* kill(postmaster, SIGHUP), as `pg_ctl reload`: 0 or -1 with err. */
int	 hba_postmaster_sighup(const char *data_dir, char *err, size_t errlen);

/*
 * hba_watch.c: what can leave a deny not in effect although every write
 * worked, checked on every apply; each a warning in every HbaApplied and
 * logged when it appears, changes or goes away.
 */
enum hba_warn_kind {
	HBA_WARN_PRIVILEGES,	/* the role cannot validate, compare, reload */
	HBA_WARN_HBA_FILE,	/* SHOW hba_file is another file, or failed */
	HBA_WARN_PATH,		/* hbaConfig now leads elsewhere */
	HBA_WARN_RULE_ABOVE,	/* a rule above the block matches first */
	HBA_WARN_COUNT
};
#define HBA_WARN_LEN	1024
struct hba_warnings {
	char	 text[HBA_WARN_COUNT][HBA_WARN_LEN];	/* "" none */
};
void	 hba_warn_set(struct hba_warnings *, enum hba_warn_kind,
	    const char *text);
/* The warnings in force, into out[HBA_WARN_COUNT]: how many. */
size_t	 hba_warnings_list(struct hba_warnings *, char **out);
void	 hba_watch_file(struct hba_warnings *, const char *path,
	    const char *bytes, size_t len);
void	 hba_watch_path(struct hba_warnings *, const char *configured,
	    const char *edited);
void	 hba_watch_pg(struct hba_warnings *, struct hba_pg *,
	    const char *edited);

/*
 * hba_check.c, for `harepd -t`. Local: libpq default, a unix socket
 * directory, localhost or a loopback address. hba_check_database writes
 * one line per finding ("repmgr.user: role ... lacks ...", hba_file not
 * hbaConfig) on fd; nothing when the database cannot be reached.
 */
bool	 hba_check_is_local(const char *repmgr_host);
void	 hba_check_database(const struct conf *, int fd);

/* The hba worker: IPC socket on IPC_FD, config pushed over it. */
int	 hba_worker_main(void);
/*
 * `harepd -f CONF --print-hba rw=allow|deny[,ro=allow|deny]`: print the
 * pg_hba.conf harepd would write, touching nothing.
 */
int	 hba_print_main(const struct conf *, const char *verdict_spec);

#endif
