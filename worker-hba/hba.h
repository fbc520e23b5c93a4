/*
 * worker-hba: harepd's block of pg_hba.conf (docs/HBA.md).
 *
 *   hba_block.c   pure core: file bytes + config + verdict -> new bytes
 *   hba_plan.c    pure policy: lease, write, check, reload, restore
 *   hba_file.c    read, atomic replace, stale temp files
 *   hba_reload.c  libpq: pg_hba_file_rules check, pg_reload_conf()
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
/* `SHOW hba_file`: 0 and path, -1 with err. */
int	 hba_pg_hba_file(struct hba_pg *, char *path, size_t pathlen,
	    char *err, size_t errlen);
/*
 * Errors PostgreSQL finds in the hba file it reads: 0 none, 1 some
 * (described in err), -1 the check itself failed (err says why).
 */
int	 hba_pg_check_rules(struct hba_pg *, char *err, size_t errlen);
/* SELECT pg_reload_conf(): 0 or -1 with err. */
int	 hba_pg_reload(struct hba_pg *, char *err, size_t errlen);
/*
 * 1 when no postmaster runs (its pid file gone, or naming a dead
 * process): the file on disk is what PostgreSQL loads when it starts.
 * 0 when it runs or nobody knows (data_directory not readable).
 */
int	 hba_pg_postmaster_down(struct hba_pg *);

/* The hba worker: IPC socket on IPC_FD, config pushed over it. */
int	 hba_worker_main(void);
/*
 * `harepd -f CONF --print-hba rw=allow|deny[,ro=allow|deny]`: print the
 * pg_hba.conf harepd would write, touching nothing.
 */
int	 hba_print_main(const struct conf *, const char *verdict_spec);

#endif
