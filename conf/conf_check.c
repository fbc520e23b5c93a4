/*
 * After the walk: defaults for the keys left out, peer targets resolved
 * against bindPort, and the rules that involve more than one key. Then
 * conf_check_files, the checks that need this machine's filesystem.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf_int.h"
#include "util/addr.h"

#define P_ROOT		"harepd"
#define P_HAPROXY	P_ROOT ".haproxy"
#define P_GRPC		P_ROOT ".gRPC"
#define P_TLS		P_GRPC ".tls"

/* An error about `path` placed at the key `at` (e.g. the enabled: that
 * makes a missing cert: an error). */
static void
error_at(struct conf_diag *d, const struct conf_src *src, const char *at,
    const char *path, const char *msg)
{
	int line, col;

	src_nearest(src, at, &line, &col);
	diag_error(d, src->name, line, col, path, "%s", msg);
}

/* A value that had an error of its own: rules built on it stay quiet. */
static bool
is_bad(const struct conf *c, const char *path)
{
	const struct conf_pos *p = src_get(c->src, path);

	return p != NULL && p->bad;
}

static void
default_str(char **field, const char *value)
{
	if (*field == NULL)
		*field = xstrdup(value);
}

static void
default_long(const struct conf_src *src, const char *path, long *field,
    long value)
{
	if (!src_is_set(src, path))
		*field = value;
}

static void
apply_defaults(struct conf *c)
{
	long deadline = c->connection_deadline, lease = c->lease_ms;

	default_str(&c->auth_allow, "md5");
	default_str(&c->auth_deny, "reject");
	default_str(&c->repmgr_user, "repmgr");
	default_str(&c->repmgr_db, "repmgr");
	default_str(&c->bind_address, "0.0.0.0");
	default_str(&c->server_host_override, "");
	default_str(&c->control_socket, CONF_DEFAULT_SOCKET);
	default_str(&c->rpc_user, "nobody");
	default_str(&c->pg_user, "postgres");
	default_long(c->src, P_GRPC ".connectionDeadline", &deadline, 5);
	c->connection_deadline = (int)deadline;
	/* Three verdicts may go missing before hba fences the node. */
	default_long(c->src, P_ROOT ".leaseMs", &lease, 3L * c->watchdog * 1000);
	c->lease_ms = (int)lease;
	default_long(c->src, P_ROOT ".logs.maxAge", &c->log_max_age, 86400);
	default_long(c->src, P_ROOT ".logs.rotationTime", &c->log_rotation_time,
	    604800);
}

/* Same address however written (2001:db8::1 = 2001:DB8:0::1). */
static bool
same_ip(const char *a, const char *b)
{
	unsigned char x[16], y[16];
	int af = strchr(a, ':') != NULL ? AF_INET6 : AF_INET;

	if (inet_pton(af, a, x) != 1 || inet_pton(af, b, y) != 1)
		return strcmp(a, b) == 0;
	return memcmp(x, y, af == AF_INET6 ? 16 : 4) == 0;
}

/* One pg_hba rule per HAProxy address: a repeated one is a slip. */
static void
check_servers(struct conf *c, struct conf_diag *d)
{
	char path[CONF_PATH_MAX];

	for (size_t i = 1; i < c->n_haproxy_servers; i++)
		for (size_t j = 0; j < i; j++) {
			if (!same_ip(c->haproxy_servers[i], c->haproxy_servers[j]))
				continue;
			path_fmt(path, P_HAPROXY ".server[%zu]", i);
			src_error(d, c->src, path, "%s is already server[%zu]",
			    c->haproxy_servers[i], j);
			break;
		}
}

/* readOnly matters only with allowRO; then it must be given, and differ. */
static void
check_users(struct conf *c, struct conf_diag *d)
{
	const struct conf_pos *p;

	if (c->allow_ro && c->user_read_only == NULL &&
	    !is_bad(c, P_HAPROXY ".users.readOnly"))
		error_at(d, c->src, P_ROOT ".allowRO", P_HAPROXY ".users.readOnly",
		    "required when allowRO is true");
	else if (c->allow_ro && c->user_read_only != NULL &&
	    c->user_read_write != NULL &&
	    strcmp(c->user_read_only, c->user_read_write) == 0)
		src_error(d, c->src, P_HAPROXY ".users.readOnly",
		    "must differ from readWrite: one user cannot be both "
		    "allowed and denied");
	default_str(&c->user_read_only, "haro");
	if ((p = src_get(c->src, P_HAPROXY ".server")) != NULL && !p->null &&
	    !p->bad && c->n_haproxy_servers == 0)
		src_error(d, c->src, P_HAPROXY ".server",
		    "expected at least one HAProxy address");
}

/*
 * HAProxy's pgsql-check takes any authentication request as UP (docs/HBA.md):
 * only an error reply, which `reject` gives, marks the node DOWN.
 */
static void
check_auth_modes(struct conf *c, struct conf_diag *d)
{
	if (strcmp(c->auth_deny, "reject") != 0)
		src_error(d, c->src, P_ROOT ".authModes.deny",
		    "must be \"reject\", got \"%s\": HAProxy's pgsql-check "
		    "counts any password request as UP, so only reject fences "
		    "a node", c->auth_deny);
	if (strcmp(c->auth_allow, "reject") == 0)
		src_error(d, c->src, P_ROOT ".authModes.allow",
		    "must not be \"reject\": HAProxy could never reach this node");
}

static void
check_tls(struct conf *c, struct conf_diag *d)
{
	static const char *const keys[] = { "ca", "cert", "key" };
	char *const files[] = { c->tls.ca, c->tls.cert, c->tls.key };
	char path[CONF_PATH_MAX];
	const struct conf_pos *p;

	for (size_t i = 0; c->tls.enabled && i < 3; i++) {
		path_fmt(path, P_TLS ".%s", keys[i]);
		p = src_get(c->src, path);
		if (files[i] != NULL || (p != NULL && p->bad))
			continue;
		error_at(d, c->src, P_TLS ".enabled", path,
		    "missing: required when TLS is enabled");
	}
	if (!c->tls.enabled && c->tls.client_auth)
		src_warning(d, c->src, P_TLS ".clientAuth",
		    "ignored: TLS is not enabled");
	if (!c->tls.enabled && c->server_host_override[0] != '\0')
		src_warning(d, c->src, P_GRPC ".serverHostOverride",
		    "ignored: TLS is not enabled");
}

/* The lease must outlive the gap between two verdicts, or hba fences a
 * healthy node. */
static void
check_timing(struct conf *c, struct conf_diag *d)
{
	if (c->watchdog <= 0 || is_bad(c, P_ROOT ".leaseMs") ||
	    is_bad(c, P_GRPC ".connectionDeadline"))
		return;
	if (c->lease_ms <= c->watchdog * 1000)
		src_error(d, c->src, P_ROOT ".leaseMs",
		    "must be more than watchDog (%d ms), got %d",
		    c->watchdog * 1000, c->lease_ms);
	else if (c->lease_ms <= (c->watchdog + c->connection_deadline) * 1000)
		src_warning(d, c->src, P_ROOT ".leaseMs",
		    "%d ms is not more than watchDog + connectionDeadline "
		    "(%d ms): a slow peer can let the lease run out", c->lease_ms,
		    (c->watchdog + c->connection_deadline) * 1000);
	if (c->connection_deadline >= c->watchdog)
		src_warning(d, c->src, P_GRPC ".connectionDeadline",
		    "%d s is not less than watchDog (%d s): ticks will run late",
		    c->connection_deadline, c->watchdog);
}

static void
check_privsep(struct conf *c, struct conf_diag *d)
{
	if (strcmp(c->rpc_user, "root") == 0)
		src_error(d, c->src, P_ROOT ".privsep.rpcUser",
		    "must not be root: the gRPC worker faces the network");
	if (strcmp(c->pg_user, "root") == 0)
		src_error(d, c->src, P_ROOT ".privsep.postgresUser",
		    "must not be root: PostgreSQL's tools refuse it and the "
		    "workers must not have root's rights");
	else if (strcmp(c->rpc_user, c->pg_user) == 0)
		src_warning(d, c->src, P_ROOT ".privsep.rpcUser",
		    "same as postgresUser: the gRPC worker gets PostgreSQL's "
		    "files");
}

static void
resolve_target(struct conf *c, struct conf_diag *d, struct conf_target *t,
    const char *path)
{
	struct conf_target parsed = { 0 };
	const char *why;
	char got[96];

	if (t->port != -1)
		return;
	if ((why = target_parse(t->host, c->bind_port, &parsed)) != NULL) {
		quote_value(got, sizeof(got), t->host);
		src_error(d, c->src, path, "%s, got %s", why, got);
		return;
	}
	free(t->host);
	*t = parsed;
}

static bool
same_peer(const struct conf_target *a, const struct conf_target *b)
{
	return a->text != NULL && b->text != NULL &&
	    strcasecmp(a->text, b->text) == 0;
}

/* Each peer counts once towards a majority: no duplicates, and not self. */
static void
check_peer(struct conf *c, struct conf_diag *d, size_t i, const char *path)
{
	struct conf_target *t = i < c->n_neighbours ? &c->neighbours[i] :
	    c->witness;
	struct conf_target self = { 0 };
	char other[CONF_PATH_MAX];

	for (size_t j = 0; j < i; j++) {
		if (!same_peer(t, &c->neighbours[j]))
			continue;
		path_fmt(other, P_GRPC ".neighbours[%zu]", j);
		src_error(d, c->src, path, "%s is already %s: each peer "
		    "counts once", t->text, other);
		return;
	}
	if (c->primary_ip == NULL || c->bind_port == 0 ||
	    target_parse(c->primary_ip, c->bind_port, &self) != NULL)
		return;
	if (same_peer(t, &self))
		src_warning(d, c->src, path, "%s is this node itself "
		    "(primaryIP:bindPort): asking it adds no opinion", t->text);
	free(self.host);
	free(self.text);
}

static void
check_peers(struct conf *c, struct conf_diag *d)
{
	char path[CONF_PATH_MAX];

	for (size_t i = 0; i <= c->n_neighbours; i++) {
		if (i == c->n_neighbours && c->witness == NULL)
			break;
		if (i < c->n_neighbours)
			path_fmt(path, P_GRPC ".neighbours[%zu]", i);
		else
			path_fmt(path, P_GRPC ".witness");
		resolve_target(c, d, i < c->n_neighbours ? &c->neighbours[i] :
		    c->witness, path);
		check_peer(c, d, i, path);
	}
	/* Advice for a config otherwise valid, not noise on a broken one. */
	if (c->n_neighbours == 0 && c->witness == NULL && d->n_errors == 0 &&
	    src_get(c->src, P_GRPC) != NULL && !is_bad(c, P_GRPC) &&
	    !is_bad(c, P_GRPC ".neighbours") && !is_bad(c, P_GRPC ".witness"))
		src_warning(d, c->src, P_GRPC ".neighbours",
		    "no neighbours and no witness: fine for --server-only, but "
		    "a client can never get a verdict and keeps this node fenced");
}

void
conf_finish(struct conf *c, struct conf_diag *d)
{
	apply_defaults(c);
	check_users(c, d);
	check_servers(c, d);
	check_auth_modes(c, d);
	check_tls(c, d);
	check_timing(c, d);
	check_privsep(c, d);
	check_peers(c, d);
}

/* A file harepd (root) will read: exists, regular. */
static int
check_file(const struct conf *c, struct conf_diag *d, const char *path,
    const char *file, bool open_it)
{
	struct stat st;
	int fd;

	if (file == NULL)
		return 0;
	if (stat(file, &st) == -1) {
		src_error(d, c->src, path, "%s: %s", file, strerror(errno));
		return 1;
	}
	if (!S_ISREG(st.st_mode)) {
		src_error(d, c->src, path, "%s: not a regular file", file);
		return 1;
	}
	if (open_it && (fd = open(file, O_RDONLY | O_CLOEXEC)) == -1) {
		src_error(d, c->src, path, "%s: %s", file, strerror(errno));
		return 1;
	}
	if (open_it)
		close(fd);
	return 0;
}

static int
check_user_exists(const struct conf *c, struct conf_diag *d, const char *path,
    const char *user)
{
	if (getpwnam(user) != NULL)
		return 0;
	src_error(d, c->src, path, "no such user \"%s\" on this machine", user);
	return 1;
}

/* The log's directory must exist: the supervisor creates the file only. */
static int
check_log_dir(const struct conf *c, struct conf_diag *d)
{
	char *copy, *dir;
	struct stat st;
	int n = 0;

	if (c->log_file == NULL)
		return 0;
	copy = xstrdup(c->log_file);
	dir = dirname(copy);
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		src_error(d, c->src, P_ROOT ".logs.filePath",
		    "directory %s does not exist", dir);
		n = 1;
	}
	free(copy);
	return n;
}

/*
 * Without TLS anyone on the path can answer as a peer, and one lying
 * voter during a partition can give two writers (docs/TLS.md). Said once,
 * at the first peer that is not this host; peers on loopback (tests, a
 * witness on the same machine) are what plaintext is fine for.
 */
static void
check_plaintext(const struct conf *c, struct conf_diag *d)
{
	char path[CONF_PATH_MAX];
	size_t n = 0, first = 0;

	if (c->tls.enabled)
		return;
	for (size_t i = c->n_neighbours + (c->witness != NULL); i-- > 0;) {
		const struct conf_target *t = i < c->n_neighbours ?
		    &c->neighbours[i] : c->witness;

		if (t->host != NULL && !addr_is_loopback(t->host)) {
			n++;
			first = i;
		}
	}
	if (n == 0)
		return;
	if (first < c->n_neighbours)
		path_fmt(path, P_GRPC ".neighbours[%zu]", first);
	else
		path_fmt(path, P_GRPC ".witness");
	src_warning(d, c->src, path, "%s%s is not this host and TLS is off "
	    "(gRPC.tls): anyone on the path can answer as a peer, and one "
	    "lying voter during a partition can give two writers; use mutual "
	    "TLS (tls.enabled, tls.clientAuth) in production, docs/TLS.md",
	    first < c->n_neighbours ? c->neighbours[first].text :
	    c->witness->text, n > 1 ? " (and other peers)" : "");
}

int
conf_check_files(const struct conf *c, struct conf_diag *d)
{
	int n = 0;

	if (d->n_errors == 0)	/* advice for a valid config, not noise */
		check_plaintext(c, d);

	if (c->hba_config != NULL)
		n += check_file(c, d, P_ROOT ".hbaConfig", c->hba_config, false);
	if (c->tls.enabled) {
		int missing = check_file(c, d, P_TLS ".ca", c->tls.ca, true) +
		    check_file(c, d, P_TLS ".cert", c->tls.cert, true) +
		    check_file(c, d, P_TLS ".key", c->tls.key, true);

		n += missing;
		if (missing == 0)
			n += conf_check_tls_files(c, d);
	}
	/* Started by an ordinary user, harepd drops nothing: the privsep
	 * users matter only to root (supervisor/privdrop). */
	if (geteuid() == 0) {
		n += check_user_exists(c, d, P_ROOT ".privsep.rpcUser",
		    c->rpc_user);
		n += check_user_exists(c, d, P_ROOT ".privsep.postgresUser",
		    c->pg_user);
	}
	n += check_log_dir(c, d);
	return n;
}

/* Whether uid (primary group gid) may create and rename entries in a
 * directory of this mode: the owner, group or other bits, the first
 * class that applies (as the kernel decides; ACLs are not looked at). */
static bool
may_write_dir(const struct stat *st, const char *user, uid_t uid, gid_t gid)
{
	gid_t groups[256];
	int ng = (int)(sizeof(groups) / sizeof(groups[0]));
	mode_t need;

	if (uid == 0)
		return true;
	if (st->st_uid == uid)
		need = S_IWUSR | S_IXUSR;
	else {
		need = S_IWOTH | S_IXOTH;
		if (getgrouplist(user, gid, groups, &ng) == -1)
			ng = 0;
		for (int i = 0; i < ng; i++)
			if (groups[i] == st->st_gid)
				need = S_IWGRP | S_IXGRP;
	}
	return (st->st_mode & need) == need;
}

int
conf_check_hba_dir(const struct conf *c, struct conf_diag *d)
{
	const char *user = c->pg_user, *as = "postgresUser";
	struct stat fst, st;
	struct passwd *pw;
	char *copy, *dir;
	int n = 0;

	/* a missing file or user is reported by conf_check_files */
	if (c->hba_config == NULL || stat(c->hba_config, &fst) == -1 ||
	    !S_ISREG(fst.st_mode))
		return 0;
	/* started by an ordinary user, harepd's workers run as that user */
	if (geteuid() != 0) {
		pw = getpwuid(geteuid());
		as = "the user running harepd -t";
	} else
		pw = user != NULL ? getpwnam(user) : NULL;
	if (pw == NULL)
		return 0;
	copy = xstrdup(c->hba_config);
	dir = dirname(copy);
	if (stat(dir, &st) == -1 ||
	    !may_write_dir(&st, pw->pw_name, pw->pw_uid, pw->pw_gid)) {
		src_error(d, c->src, P_ROOT ".hbaConfig", "%s (%s) cannot "
		    "create files in %s: the hba worker writes a temporary "
		    "file there and renames it over %s", pw->pw_name, as,
		    dir, c->hba_config);
		n = 1;
	} else if ((st.st_mode & S_ISVTX) && fst.st_uid != pw->pw_uid &&
	    st.st_uid != pw->pw_uid && pw->pw_uid != 0) {
		src_error(d, c->src, P_ROOT ".hbaConfig", "%s is sticky and "
		    "%s (%s) owns neither it nor %s: renaming over the file "
		    "would fail", dir, pw->pw_name, as, c->hba_config);
		n = 1;
	}
	free(copy);
	return n;
}
