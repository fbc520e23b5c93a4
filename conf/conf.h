/*
 * harepd configuration: the Go harepd's YAML (every key of the seed keeps
 * its meaning) plus a few keys of our own, all under the top-level
 * `harepd:` mapping. conf_load() validates everything; a struct conf that
 * exists is a valid one.
 */
#ifndef HAREPD_CONF_H
#define HAREPD_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CONF_DEFAULT_PATH "/etc/harepd/conf.yml"
#define CONF_DEFAULT_SOCKET "/run/harepd/harepd.sock"

enum conf_policy {
	POLICY_MAJORITY = 0,	/* default: never rw on two nodes */
	POLICY_SEED,		/* the Go harepd's rules, ARCHITECTURE §5 */
};

/* host:port of a peer, normalised (a target without port gets bindPort). */
struct conf_target {
	char	*host;		/* IPv4, IPv6 (no brackets) or hostname */
	int	 port;
	char	*text;		/* "host:port" or "[v6]:port", as dialled */
};

struct conf_tls {
	bool	 enabled;
	bool	 client_auth;	/* mutual TLS: require a client cert signed by ca */
	char	*ca;
	char	*cert;
	char	*key;
};

struct conf_src;

struct conf {
	char	*path;			/* file it was read from */
	struct conf_src *src;		/* private: key positions, for messages */

	char	*node_name;		/* harepd.nodeName, as repmgr.conf node_name */
	char	*primary_ip;		/* harepd.primaryIP */
	bool	 allow_ro;		/* harepd.allowRO */
	char	*hba_config;		/* harepd.hbaConfig, absolute path */

	char	**haproxy_servers;	/* harepd.haproxy.server, IP literals */
	size_t	 n_haproxy_servers;
	char	*user_read_only;	/* harepd.haproxy.users.readOnly (default "haro") */
	char	*user_read_write;	/* harepd.haproxy.users.readWrite */

	char	*auth_allow;		/* harepd.authModes.allow (default "md5") */
	char	*auth_deny;		/* harepd.authModes.deny (default "reject") */

	char	*repmgr_user;		/* harepd.repmgr.user (default "repmgr") */
	char	*repmgr_db;		/* harepd.repmgr.db (default "repmgr") */
	char	*repmgr_host;		/* harepd.repmgr.host: NULL = libpq default socket */
	int	 repmgr_port;		/* harepd.repmgr.port: 0 = libpq default */

	struct conf_tls tls;		/* harepd.gRPC.tls */
	int	 bind_port;		/* harepd.gRPC.bindPort */
	char	*bind_address;		/* harepd.gRPC.bindAddress */
	char	*server_host_override;	/* harepd.gRPC.serverHostOverride, "" = none */
	struct conf_target *neighbours;	/* harepd.gRPC.neighbours */
	size_t	 n_neighbours;
	struct conf_target *witness;	/* harepd.gRPC.witness, NULL if unset */
	int	 connection_deadline;	/* harepd.gRPC.connectionDeadline, seconds */

	int	 watchdog;		/* harepd.watchDog, seconds */
	enum conf_policy policy;	/* harepd.policy: "majority" | "seed" */
	int	 lease_ms;		/* harepd.leaseMs (default 3 x watchDog) */

	char	*log_file;		/* harepd.logs.filePath, NULL = stderr only */
	long	 log_max_age;		/* harepd.logs.maxAge, seconds */
	long	 log_rotation_time;	/* harepd.logs.rotationTime, seconds */

	char	*control_socket;	/* harepd.control.socket */
	char	*rpc_user;		/* harepd.privsep.rpcUser (default "nobody") */
	char	*pg_user;		/* harepd.privsep.postgresUser (default "postgres"):
					   probe and hba run as this OS user */
};

/*
 * Errors collected while loading: every one names file:line:column and the
 * key path, e.g.
 *   conf.yml:14:5: harepd.gRPC.bindPort: expected an integer 1-65535, got "abc"
 * Warnings (unknown keys) are collected the same way and never fatal.
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
 * ca/cert/key are readable. Returns the number of errors added to diag.
 * `harepd -t` and the supervisor call it.
 */
int	 conf_check_files(const struct conf *, struct conf_diag *);

/* Print the normalised configuration; its output loads to the same config. */
void	 conf_print(FILE *, const struct conf *);

/* exit codes of `harepd -t` */
#define EX_CONFIG_OK 0
#define EX_CONFIG_BAD 78	/* sysexits.h EX_CONFIG */

#endif
