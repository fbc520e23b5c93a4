/*
 * Internals of the configuration loader, shared by the files of conf/.
 * Nothing outside conf/ (and its unit tests) includes this.
 *
 * Calls go one way, down these layers (allocation is util/xmalloc):
 *
 *	conf.c				load, free: the entry points
 *	conf_parse.c  conf_check.c	the walk; cross-key rules
 *	conf_tls.c			the TLS files (from conf_check.c)
 *	conf_diag.c			messages at a key's position
 *	conf_src.c  conf_value.c	positions; one value's form
 *
 * conf_print.c prints a loaded struct conf and calls none of them.
 */
#ifndef HAREPD_CONF_INT_H
#define HAREPD_CONF_INT_H

#include <stdbool.h>
#include <stdarg.h>
#include <yaml.h>

#include "conf/conf.h"
#include "util/xmalloc.h"

#define CONF_MAX_BYTES	(1024 * 1024)	/* a config is a page, not a dump */
#define CONF_PATH_MAX	256		/* longest key path we print */
#define CONF_NAME_MAX	63		/* repmgr node_name, PostgreSQL NAMEDATALEN-1 */

/* Where a key (or a mapping) sat in the file: 1-based line and column. */
struct conf_pos {
	char	*path;		/* canonical key path: harepd.gRPC.tls.ca */
	int	 line;
	int	 col;
	bool	 null;		/* present but empty: treated as not set */
	bool	 bad;		/* present with an error already reported */
};

/* Positions of every key met, so later checks can name file:line:col. */
struct conf_src {
	char	*name;		/* file name as given on the command line */
	struct conf_pos *pos;
	size_t	 n;
};

/* conf_src.c: a returned conf_pos is valid until the next src_put. */
struct conf_pos	*src_put(struct conf_src *, const char *path, int line, int col);
struct conf_pos	*src_get(const struct conf_src *, const char *path);
bool		 src_is_set(const struct conf_src *, const char *path);
/* The position of path, or of its nearest ancestor that exists, or 1:1. */
void		 src_nearest(const struct conf_src *, const char *path,
		    int *line, int *col);
void		 src_free(struct conf_src *);
/* snprintf into a CONF_PATH_MAX buffer */
void		 path_fmt(char *buf, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

/* conf_diag.c: "FILE:L:C: path: message" (line 0 = no position). */
void	 diag_error(struct conf_diag *, const char *file, int line, int col,
	    const char *path, const char *fmt, ...)
	    __attribute__((format(printf, 6, 7)));
void	 diag_warning(struct conf_diag *, const char *file, int line, int col,
	    const char *path, const char *fmt, ...)
	    __attribute__((format(printf, 6, 7)));
/* Errors and warnings at a key's recorded position (nearest ancestor if absent). */
void	 src_error(struct conf_diag *, const struct conf_src *, const char *path,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	 src_warning(struct conf_diag *, const struct conf_src *, const char *path,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A value quoted for a message: "abc", control bytes escaped, long ones cut. */
void	 quote_value(char *buf, size_t size, const char *value);

/*
 * conf_value.c: pure checks of one value's form. Each returns NULL when the
 * value is acceptable, else what was expected ("expected an absolute path").
 */
const char *check_ip(const char *);
const char *check_bind_address(const char *);
const char *check_abs_path(const char *);
const char *check_socket_path(const char *);
const char *check_pg_name(const char *);
const char *check_os_user(const char *);
const char *check_node_name(const char *);
const char *check_hba_method(const char *);
const char *check_host(const char *);
const char *check_pg_host(const char *);
const char *check_tls_name(const char *);
const char *check_listen(const char *);
bool	 is_ipv4(const char *);
bool	 is_ipv6(const char *);
bool	 is_hostname(const char *);
/*
 * Parse a peer target: "ipv4[:port]", "[ipv6][:port]", bare "ipv6" (no
 * port), "hostname[:port]". A missing port becomes default_port. Fills
 * host/port/text (allocated) or returns what was expected.
 */
const char *target_parse(const char *, int default_port, struct conf_target *);

/* conf_parse.c: walk the YAML document into c; errors go to diag. */
void	 conf_walk(struct conf *, yaml_document_t *, struct conf_diag *);

/* conf_check.c: cross-key rules and defaults, after the walk. */
void	 conf_finish(struct conf *, struct conf_diag *);

/* conf_tls.c: the TLS files hold what they should (files exist already). */
int	 conf_check_tls_files(const struct conf *, struct conf_diag *);

#endif
