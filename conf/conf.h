/*
 * harepd configuration: the Go harepd's YAML (every key of the seed keeps
 * its meaning) plus a few keys of our own, all under the top-level
 * `harepd:` mapping. conf_load() validates everything; a struct conf that
 * exists is a valid one, with every default filled in (no NULL but where
 * noted). conf/harepd.sample.yml documents each key for operators.
 *
 * The seed's sample puts gRPC.tls's enabled/ca/cert/key directly under
 * gRPC: (an indentation slip the Go program silently ignored). They are
 * read as the TLS settings, with a warning asking to move them under tls:.
 */
#ifndef HAREPD_CONF_H
#define HAREPD_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util/version.h"

#define CONF_DEFAULT_PATH harepd_default_config()	/* util/version.h */
#define CONF_DEFAULT_SOCKET "/run/harepd/harepd.sock"

enum conf_policy {
	POLICY_MAJORITY = 0,	/* default: never rw on two nodes */
	POLICY_SEED,		/* the Go harepd's rules, docs/POLICY.md */
};

/* host:port of a peer, normalised (a target without port gets bindPort). */
struct conf_target {
	char	*host;		/* IPv4, IPv6 (no brackets) or hostname */
	int	 port;		/* 1-65535, bindPort when the file gave none */
	char	*text;		/* "host:port" or "[v6]:port", as dialled */
};

struct conf_tls {
	bool	 enabled;		/* gRPC.tls.enabled (default false) */
	bool	 client_auth;	/* NEW gRPC.tls.clientAuth (default false): mutual
				   TLS, require a client cert signed by ca */
	char	*ca;		/* absolute paths; NULL if not given; all three */
	char	*cert;		/* required (and readable, conf_check_files) */
	char	*key;		/* when enabled */
};

struct conf_src;

struct conf {
	char	*path;			/* file it was read from */
	struct conf_src *src;		/* private: key positions, for messages */

	char	*node_name;		/* harepd.nodeName (required), as repmgr.conf
					   node_name, at most 63 bytes */
	char	*primary_ip;		/* harepd.primaryIP (required), IP literal */
	bool	 allow_ro;		/* harepd.allowRO (default false) */
	char	*hba_config;		/* harepd.hbaConfig (required), absolute path */

	char	**haproxy_servers;	/* harepd.haproxy.server (required, >= 1),
					   IP literals, no duplicates */
	size_t	 n_haproxy_servers;
	char	*user_read_only;	/* harepd.haproxy.users.readOnly (default
					   "haro"; required when allowRO) */
	char	*user_read_write;	/* harepd.haproxy.users.readWrite (required) */
					/* both: no blanks/commas/quotes, not a
					   pg_hba keyword; they differ if allowRO */

	char	*auth_allow;		/* harepd.authModes.allow (default "md5"),
					   a pg_hba method other than reject */
	char	*auth_deny;		/* harepd.authModes.deny (default "reject");
					   must be "reject": pgsql-check takes any
					   password request as UP (docs/HBA.md) */

	char	*repmgr_user;		/* harepd.repmgr.user (default "repmgr") */
	char	*repmgr_db;		/* harepd.repmgr.db (default "repmgr") */
	char	*repmgr_host;		/* NEW harepd.repmgr.host: NULL = libpq default
					   socket; name, IP or socket directory */
	int	 repmgr_port;		/* NEW harepd.repmgr.port: 0 = libpq default */

	struct conf_tls tls;		/* harepd.gRPC.tls */
	int	 bind_port;		/* harepd.gRPC.bindPort (required), 1-65535 */
	char	*bind_address;		/* harepd.gRPC.bindAddress (default "0.0.0.0",
					   as Go's empty address: all IPv4) */
	char	*server_host_override;	/* harepd.gRPC.serverHostOverride, "" = none */
	struct conf_target *neighbours;	/* harepd.gRPC.neighbours (may be empty) */
	size_t	 n_neighbours;
	struct conf_target *witness;	/* harepd.gRPC.witness, NULL if unset */
					/* no peer twice among neighbours + witness;
					   none at all is a warning (fine for
					   --server-only, a client stays fenced) */
	int	 connection_deadline;	/* harepd.gRPC.connectionDeadline, seconds,
					   1-300 (default 5) */

	int	 watchdog;		/* harepd.watchDog (required), seconds, 1-3600 */
	enum conf_policy policy;	/* NEW harepd.policy: "majority" (default) |
					   "seed" */
	int	 lease_ms;		/* NEW harepd.leaseMs (default 3 x watchDog x
					   1000), must be > watchDog x 1000 */

	char	*log_file;		/* harepd.logs.filePath, NULL = stderr only */
	long	 log_max_age;		/* harepd.logs.maxAge, seconds (default 86400,
					   0 = keep forever) */
	long	 log_rotation_time;	/* harepd.logs.rotationTime, seconds (default
					   604800, 0 = never rotate) */

	char	*control_socket;	/* NEW harepd.control.socket (default
					   CONF_DEFAULT_SOCKET) */
	char	*rpc_user;		/* NEW harepd.privsep.rpcUser (default "nobody",
					   never root) */
	char	*pg_user;		/* NEW harepd.privsep.postgresUser (default
					   "postgres", never root): probe and hba
					   run as this OS user */
	char	*metrics_listen;	/* NEW harepd.metrics.listen: NULL = no HTTP
					   listener; "IPv4:port" or "[IPv6]:port",
					   an IP literal and a port 1024-65535
					   (docs/METRICS.md) */
};

/*
 * Errors collected while loading: every one names file:line:column and the
 * key path, e.g.
 *   conf.yml:14:5: harepd.gRPC.bindPort: expected an integer 1-65535, got "abc"
 * Line and column are those of the value; for a missing key, those of the
 * mapping that lacks it. All errors are collected, not only the first.
 * Warnings (unknown keys, the seed's misplaced TLS keys, a neighbour that
 * is this node, ...) are collected the same way and never fatal. Neither
 * has a "warning:"/"error:" prefix: the printer adds what it wants.
 */
struct conf_diag {
	char	**errors;
	size_t	 n_errors;
	char	**warnings;
	size_t	 n_warnings;
};

/* Parse and validate a file. NULL on error, with diag filled in. */
struct conf *conf_load(const char *path, struct conf_diag *diag);
/* Same from memory (workers get the bytes from the supervisor). */
struct conf *conf_load_buffer(const char *name, const char *yaml, size_t len,
	    struct conf_diag *diag);
void	 conf_free(struct conf *);
void	 conf_diag_free(struct conf_diag *);

/*
 * Checks that need the filesystem, kept apart from loading because workers
 * load the config from bytes the supervisor sent and cannot (and need not)
 * see these files: hbaConfig exists and is a regular file; with TLS on,
 * ca/cert/key are readable. Also a warning when TLS is off and a peer is
 * not on this host. Returns the number of errors added to diag.
 * `harepd -t` and the supervisor call it.
 */
int	 conf_check_files(const struct conf *, struct conf_diag *);
/*
 * harepd -t only (a running harepd finds out at its first apply):
 * postgresUser (or the caller, when not root) may create and rename a
 * file in hbaConfig's directory. Returns the number of errors added.
 */
int	 conf_check_hba_dir(const struct conf *, struct conf_diag *);
/*
 * harepd -t: conf_load, the file checks even when a value is wrong
 * (every mistake in one run), and conf_check_hba_dir. NULL on any error.
 */
struct conf *conf_check(const char *path, struct conf_diag *diag);

/* Print the normalised configuration; its output loads to the same config. */
void	 conf_print(FILE *, const struct conf *);

/*
 * Every key harepd knows, leaves only, as its full path
 * ("harepd.gRPC.tls.ca"), in schema order. harepd.yml(5) must document
 * each one (tests/integration/75-man.t).
 */
void	 conf_schema_keys(void (*fn)(const char *path, void *arg), void *arg);

/*
 * A listening address (metrics.listen): "IPv4:port" or "[IPv6]:port", an
 * IP literal (no name: nothing to resolve at start) and an unprivileged
 * port, 1024-65535 (the worker that binds it runs unprivileged). Fills
 * host (hsize >= 46) and port, or returns what was expected.
 */
const char *conf_listen_parse(const char *, char *host, size_t hsize,
	    int *port);

/* exit codes of `harepd -t` */
#define EX_CONFIG_OK 0
#define EX_CONFIG_BAD 78	/* sysexits.h EX_CONFIG */

#endif
