/*
 * The schema of harepd's YAML as tables, and the walk of a libyaml
 * document through them. Every key met is recorded with its position
 * (conf_src) so that later checks can say where it was; every problem is
 * collected, the walk never stops at the first one.
 *
 * Over 600 lines on purpose: the schema tables and the walk that reads
 * them belong together; split, a reader would have to hold both files
 * open to see what a key may hold.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_int.h"

enum vtype {
	V_MAP,		/* a nested mapping: sub */
	V_STR,		/* char *, form checked by check() */
	V_BOOL,		/* bool */
	V_INT,		/* int in [min, max] */
	V_LONG,		/* long in [min, max] */
	V_POLICY,	/* enum conf_policy */
	V_STR_LIST,	/* char **, count at off_n */
	V_TARGET,	/* struct conf_target *, resolved in conf_finish */
	V_TARGET_LIST,	/* struct conf_target[], count at off_n */
};

#define R_REQUIRED	0x01	/* error when absent or null */
#define R_EMPTY_UNSET	0x02	/* "" means "not set" (the Go harepd's zero value) */
#define R_TLS		0x04	/* misplaced TLS key directly under gRPC: */

struct key_rule {
	const char	*name;
	enum vtype	 type;
	size_t		 off;
	size_t		 off_n;
	long		 min, max;
	const char	*(*check)(const char *);
	const struct key_rule *sub;
	unsigned	 flags;
};

#define F(field)	offsetof(struct conf, field)
#define STR(n, f, chk, fl)	{ n, V_STR, F(f), 0, 0, 0, chk, NULL, fl }
#define BOOL(n, f, fl)		{ n, V_BOOL, F(f), 0, 0, 0, NULL, NULL, fl }
#define INT(n, f, lo, hi, fl)	{ n, V_INT, F(f), 0, lo, hi, NULL, NULL, fl }
#define LONG(n, f, lo, hi, fl)	{ n, V_LONG, F(f), 0, lo, hi, NULL, NULL, fl }
#define MAP(n, sub, fl)		{ n, V_MAP, 0, 0, 0, 0, NULL, sub, fl }
#define END			{ NULL, V_MAP, 0, 0, 0, 0, NULL, NULL, 0 }

/* The TLS keys, under tls: or (the seed sample's indentation) under gRPC: */
#define TLS_KEYS(fl)							\
	BOOL("enabled", tls.enabled, fl),				\
	BOOL("clientAuth", tls.client_auth, fl),			\
	STR("ca", tls.ca, check_abs_path, R_EMPTY_UNSET | (fl)),	\
	STR("cert", tls.cert, check_abs_path, R_EMPTY_UNSET | (fl)),	\
	STR("key", tls.key, check_abs_path, R_EMPTY_UNSET | (fl))

static const struct key_rule users_rules[] = {
	STR("readOnly", user_read_only, check_pg_name, R_EMPTY_UNSET),
	STR("readWrite", user_read_write, check_pg_name, R_REQUIRED),
	END
};

static const struct key_rule haproxy_rules[] = {
	{ "server", V_STR_LIST, F(haproxy_servers), F(n_haproxy_servers), 0, 0,
	    check_ip, NULL, R_REQUIRED },
	MAP("users", users_rules, R_REQUIRED),
	END
};

static const struct key_rule auth_rules[] = {
	STR("allow", auth_allow, check_hba_method, 0),
	STR("deny", auth_deny, check_hba_method, 0),
	END
};

static const struct key_rule repmgr_rules[] = {
	STR("user", repmgr_user, check_pg_name, 0),
	STR("db", repmgr_db, check_pg_name, 0),
	STR("host", repmgr_host, check_pg_host, R_EMPTY_UNSET),
	INT("port", repmgr_port, 1, 65535, 0),
	END
};

static const struct key_rule tls_rules[] = {
	TLS_KEYS(0),
	END
};

static const struct key_rule grpc_rules[] = {
	MAP("tls", tls_rules, 0),
	TLS_KEYS(R_TLS),
	INT("bindPort", bind_port, 1, 65535, R_REQUIRED),
	STR("bindAddress", bind_address, check_bind_address, R_EMPTY_UNSET),
	STR("serverHostOverride", server_host_override, check_tls_name, 0),
	{ "neighbours", V_TARGET_LIST, F(neighbours), F(n_neighbours), 0, 0,
	    NULL, NULL, 0 },
	{ "witness", V_TARGET, F(witness), 0, 0, 0, NULL, NULL, R_EMPTY_UNSET },
	INT("connectionDeadline", connection_deadline, 1, 300, 0),
	END
};

static const struct key_rule logs_rules[] = {
	STR("filePath", log_file, check_abs_path, R_EMPTY_UNSET),
	LONG("maxAge", log_max_age, 0, 315360000, 0),
	LONG("rotationTime", log_rotation_time, 0, 315360000, 0),
	END
};

static const struct key_rule control_rules[] = {
	STR("socket", control_socket, check_socket_path, R_EMPTY_UNSET),
	END
};

static const struct key_rule privsep_rules[] = {
	STR("rpcUser", rpc_user, check_os_user, R_EMPTY_UNSET),
	STR("postgresUser", pg_user, check_os_user, R_EMPTY_UNSET),
	END
};

static const struct key_rule metrics_rules[] = {
	STR("listen", metrics_listen, check_listen, R_EMPTY_UNSET),
	END
};

static const struct key_rule harepd_rules[] = {
	STR("nodeName", node_name, check_node_name, R_REQUIRED),
	STR("primaryIP", primary_ip, check_ip, R_REQUIRED),
	BOOL("allowRO", allow_ro, 0),
	STR("hbaConfig", hba_config, check_abs_path, R_REQUIRED),
	MAP("haproxy", haproxy_rules, R_REQUIRED),
	MAP("authModes", auth_rules, 0),
	MAP("repmgr", repmgr_rules, 0),
	MAP("gRPC", grpc_rules, R_REQUIRED),
	INT("watchDog", watchdog, 1, 3600, R_REQUIRED),
	{ "policy", V_POLICY, F(policy), 0, 0, 0, NULL, NULL, 0 },
	INT("leaseMs", lease_ms, 1, 86400000, 0),
	MAP("logs", logs_rules, 0),
	MAP("control", control_rules, 0),
	MAP("privsep", privsep_rules, 0),
	MAP("metrics", metrics_rules, 0),
	END
};

static const struct key_rule root_rules[] = {
	MAP("harepd", harepd_rules, R_REQUIRED),
	END
};

struct walk {
	struct conf		*c;
	yaml_document_t		*doc;
	struct conf_diag	*diag;
	const char		*file;
};

/* A key met in the file: where, under which name, and the rule it obeys. */
struct key_at {
	const struct key_rule	*rule;
	const char		*path;	/* as written: harepd.gRPC.ca */
	const char		*canon;	/* where it belongs: harepd.gRPC.tls.ca */
	struct conf_pos		*pos;
};

static void walk_mapping(struct walk *, yaml_node_t *, const char *prefix,
    const struct key_rule *);

static int
mark_line(yaml_mark_t m)
{
	return (int)m.line + 1;
}

static int
mark_col(yaml_mark_t m)
{
	return (int)m.column + 1;
}

static void
walk_error(struct walk *w, yaml_node_t *n, const char *path, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
walk_error(struct walk *w, yaml_node_t *n, const char *path, const char *fmt,
    ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_error(w->diag, w->file, mark_line(n->start_mark),
	    mark_col(n->start_mark), path, "%s", msg);
}

static const char *
scalar(yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* YAML 1.1 null, as libyaml's callers (and the Go harepd) read it. */
static bool
is_null(yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL",
	    NULL };

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (size_t i = 0; nulls[i] != NULL; i++)
		if (strcmp(scalar(n), nulls[i]) == 0)
			return true;
	return false;
}

static bool
is_quoted(yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE &&
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
}

/* "a mapping", "a list" or the quoted scalar, for "got ..." */
static void
describe(yaml_node_t *n, char *buf, size_t size)
{
	if (n->type == YAML_MAPPING_NODE)
		snprintf(buf, size, "a mapping");
	else if (n->type == YAML_SEQUENCE_NODE)
		snprintf(buf, size, "a list");
	else if (is_null(n))
		snprintf(buf, size, "nothing");
	else
		quote_value(buf, size, scalar(n));
}

static void
type_error(struct walk *w, yaml_node_t *n, const char *path, const char *want)
{
	char got[96];

	describe(n, got, sizeof(got));
	walk_error(w, n, path, "expected %s, got %s", want, got);
}

/* A scalar usable as text: not a collection, no NUL byte inside. */
static bool
want_scalar(struct walk *w, yaml_node_t *n, const char *path, const char *want)
{
	if (n->type != YAML_SCALAR_NODE) {
		type_error(w, n, path, want);
		return false;
	}
	if (strlen(scalar(n)) != n->data.scalar.length) {
		walk_error(w, n, path, "expected %s, got a value with a NUL byte",
		    want);
		return false;
	}
	return true;
}

static void *
field(struct walk *w, size_t off)
{
	return (char *)w->c + off;
}

/* Quoted "15" is a string in YAML: say so, the value itself looks right. */
static void
scalar_type_error(struct walk *w, yaml_node_t *n, const char *path,
    const char *want)
{
	char got[96];

	describe(n, got, sizeof(got));
	walk_error(w, n, path, "expected %s, got %s%s", want, got,
	    is_quoted(n) ? " (quoted: remove the quotes)" : "");
}

static bool
parse_long(const char *s, long *out)
{
	const char *digits = (*s == '+' || *s == '-') ? s + 1 : s;
	char *end;

	/* YAML 1.1 reads 010 as octal: refuse rather than guess. */
	if (!isdigit((unsigned char)*digits) ||
	    (digits[0] == '0' && digits[1] != '\0'))
		return false;
	errno = 0;
	*out = strtol(s, &end, 10);
	return errno == 0 && *end == '\0';
}

static bool
walk_long(struct walk *w, yaml_node_t *n, const struct key_at *k, long *out)
{
	char want[64];

	snprintf(want, sizeof(want), "an integer %ld-%ld", k->rule->min,
	    k->rule->max);
	if (!want_scalar(w, n, k->path, want))
		return false;
	if (is_quoted(n) || !parse_long(scalar(n), out) ||
	    *out < k->rule->min || *out > k->rule->max) {
		scalar_type_error(w, n, k->path, want);
		return false;
	}
	return true;
}

static bool
walk_bool(struct walk *w, yaml_node_t *n, const struct key_at *k, bool *out)
{
	/* What the Go harepd's yaml.v2 accepts (YAML 1.1). */
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes",
	    "YES", "on", "On", "ON", "y", "Y", NULL };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No",
	    "NO", "off", "Off", "OFF", "n", "N", NULL };
	const char *want = "true or false";

	if (!want_scalar(w, n, k->path, want))
		return false;
	for (size_t i = 0; !is_quoted(n) && yes[i] != NULL; i++) {
		if (strcmp(scalar(n), yes[i]) == 0 ||
		    strcmp(scalar(n), no[i]) == 0) {
			*out = strcmp(scalar(n), yes[i]) == 0;
			return true;
		}
	}
	scalar_type_error(w, n, k->path, want);
	return false;
}

/* A text value; its form is checked by the rule's check(). */
static bool
walk_text(struct walk *w, yaml_node_t *n, const char *path,
    const char *(*check)(const char *), const char **out)
{
	const char *why;
	char got[96];

	if (!want_scalar(w, n, path, "a string"))
		return false;
	if (check != NULL && (why = check(scalar(n))) != NULL) {
		quote_value(got, sizeof(got), scalar(n));
		walk_error(w, n, path, "%s, got %s", why, got);
		return false;
	}
	*out = scalar(n);
	return true;
}

static void
set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

static bool
walk_policy(struct walk *w, yaml_node_t *n, const struct key_at *k)
{
	const char *want = "\"majority\" or \"seed\"";
	enum conf_policy *p = field(w, k->rule->off);

	if (!want_scalar(w, n, k->path, want))
		return false;
	if (strcmp(scalar(n), "majority") == 0)
		*p = POLICY_MAJORITY;
	else if (strcmp(scalar(n), "seed") == 0)
		*p = POLICY_SEED;
	else {
		type_error(w, n, k->path, want);
		return false;
	}
	return true;
}

/* A target is kept as written (port -1) until bindPort is known. */
static void
set_target(struct conf_target *t, const char *v)
{
	free(t->host);
	t->host = xstrdup(v);
	t->port = -1;
	t->text = NULL;
}

static bool
walk_target(struct walk *w, yaml_node_t *n, const struct key_at *k)
{
	struct conf_target **t = field(w, k->rule->off);
	const char *v;

	if (!walk_text(w, n, k->path, NULL, &v))
		return false;
	*t = xcalloc(1, sizeof(**t));
	set_target(*t, v);
	return true;
}

/* Items of a list: each recorded at path[i]; duplicates are mistakes. */
static bool
walk_list_item(struct walk *w, yaml_node_t *item, const struct key_at *k,
    size_t i, const char **out)
{
	char path[CONF_PATH_MAX], canon[CONF_PATH_MAX];
	const char *(*check)(const char *) = k->rule->type == V_STR_LIST ?
	    k->rule->check : NULL;
	struct conf_pos *pos;

	path_fmt(path, "%s[%zu]", k->path, i);
	path_fmt(canon, "%s[%zu]", k->canon, i);
	pos = src_put(w->c->src, canon, mark_line(item->start_mark),
	    mark_col(item->start_mark));
	if (is_null(item)) {
		walk_error(w, item, path, "empty list item");
		pos->bad = true;
		return false;
	}
	if (!walk_text(w, item, path, check, out)) {
		pos->bad = true;
		return false;
	}
	return true;
}

static bool
walk_list(struct walk *w, yaml_node_t *n, const struct key_at *k)
{
	size_t *count = field(w, k->rule->off_n), i = 0;
	bool targets = k->rule->type == V_TARGET_LIST, ok = true;
	yaml_node_item_t *it;
	const char *v;

	if (n->type != YAML_SEQUENCE_NODE) {
		type_error(w, n, k->path, targets ? "a list of host:port" :
		    "a list of IP addresses");
		return false;
	}
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++, i++) {
		yaml_node_t *item = yaml_document_get_node(w->doc, *it);

		if (!walk_list_item(w, item, k, i, &v)) {
			ok = false;
			continue;
		}
		if (targets) {
			struct conf_target **arr = field(w, k->rule->off);

			*arr = xreallocarray(*arr, *count + 1, sizeof(**arr));
			memset(&(*arr)[*count], 0, sizeof(**arr));
			set_target(&(*arr)[(*count)++], v);
		} else {
			char ***arr = field(w, k->rule->off);

			*arr = xreallocarray(*arr, *count + 1, sizeof(**arr));
			(*arr)[(*count)++] = xstrdup(v);
		}
	}
	return ok;
}

static bool
walk_value(struct walk *w, yaml_node_t *n, const struct key_at *k)
{
	const struct key_rule *r = k->rule;
	const char *v;
	long l;

	switch (r->type) {
	case V_MAP:
		if (n->type != YAML_MAPPING_NODE) {
			type_error(w, n, k->path, "a mapping");
			return false;
		}
		walk_mapping(w, n, k->canon, r->sub);
		return true;
	case V_STR:
		if (!walk_text(w, n, k->path, r->check, &v))
			return false;
		set_str(field(w, r->off), v);
		return true;
	case V_BOOL:
		return walk_bool(w, n, k, field(w, r->off));
	case V_INT:
		if (!walk_long(w, n, k, &l))
			return false;
		*(int *)field(w, r->off) = (int)l;
		return true;
	case V_LONG:
		return walk_long(w, n, k, field(w, r->off));
	case V_POLICY:
		return walk_policy(w, n, k);
	case V_TARGET:
		return walk_target(w, n, k);
	case V_STR_LIST:
	case V_TARGET_LIST:
		return walk_list(w, n, k);
	}
	return false;
}

static const struct key_rule *
find_rule(const struct key_rule *rules, const char *name)
{
	for (; rules->name != NULL; rules++)
		if (strcmp(rules->name, name) == 0)
			return rules;
	return NULL;
}

/* Levenshtein distance, ignoring case: the keys are short (< 32). */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[CONF_PATH_MAX];

	if (lb >= CONF_PATH_MAX)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (tolower(
			    (unsigned char)a[i - 1]) != tolower(
			    (unsigned char)b[j - 1]));

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

/* The key a typo most likely meant: at most 2 edits away (case aside),
 * and fewer than half the name, so "db" does not suggest "ca". */
static const struct key_rule *
nearest_rule(const struct key_rule *rules, const char *name)
{
	const struct key_rule *best = NULL;
	size_t best_d = 3, d;

	for (; rules->name != NULL; rules++) {
		d = edit_distance(name, rules->name);
		if (d < best_d && d * 2 < strlen(rules->name)) {
			best = rules;
			best_d = d;
		}
	}
	return best;
}

/*
 * An unknown key is an error: the Go harepd silently used the default for
 * a misspelt key (allowRo for allowRO), which is how a node ends up
 * serving what its operator switched off.
 */
static void
unknown_key(struct walk *w, yaml_node_t *key, const char *path,
    const struct key_rule *rules)
{
	const struct key_rule *near = nearest_rule(rules, scalar(key));

	if (near != NULL)
		walk_error(w, key, path, "unknown key (did you mean %s?)",
		    near->name);
	else
		walk_error(w, key, path, "unknown key");
}

/* The seed's sample has enabled/ca/cert/key one level too high. */
static void
misplaced_tls(struct walk *w, yaml_node_t *key, const struct key_at *k)
{
	diag_warning(w->diag, w->file, mark_line(key->start_mark),
	    mark_col(key->start_mark), k->path,
	    "TLS setting outside tls:, read as %s; move it under tls:",
	    k->canon);
}

/* Record the key; a second one of the same canonical path is an error. */
static bool
record_key(struct walk *w, yaml_node_t *value, struct key_at *k)
{
	struct conf_pos *first = src_get(w->c->src, k->canon);

	if (first != NULL) {
		walk_error(w, value, k->path, "given twice (first at %d:%d), "
		    "this one ignored", first->line, first->col);
		return false;
	}
	k->pos = src_put(w->c->src, k->canon, mark_line(value->start_mark),
	    mark_col(value->start_mark));
	return true;
}

static void
walk_pair(struct walk *w, yaml_node_t *key, yaml_node_t *value,
    const char *prefix, const struct key_rule *rules)
{
	char path[CONF_PATH_MAX], canon[CONF_PATH_MAX];
	struct key_at k = { 0 };

	if (key->type != YAML_SCALAR_NODE || is_null(key)) {
		walk_error(w, key, prefix[0] ? prefix : NULL,
		    "expected a key name, got %s", key->type ==
		    YAML_SCALAR_NODE ? "nothing" : "a collection");
		return;
	}
	path_fmt(path, "%s%s%s", prefix, prefix[0] ? "." : "",
	    scalar(key));
	/* yaml.v2 merged "<<" keys; ignoring one would drop settings. */
	if (strcmp(scalar(key), "<<") == 0) {
		walk_error(w, key, path, "merge keys are not supported: write "
		    "the keys out");
		return;
	}
	if ((k.rule = find_rule(rules, scalar(key))) == NULL) {
		unknown_key(w, key, path, rules);
		return;
	}
	if (k.rule->flags & R_TLS)
		path_fmt(canon, "%s.tls.%s", prefix, k.rule->name);
	else
		path_fmt(canon, "%s", path);
	k.path = path;
	k.canon = canon;
	if (k.rule->flags & R_TLS)
		misplaced_tls(w, key, &k);
	if (!record_key(w, value, &k))
		return;
	if (is_null(value) || ((k.rule->flags & R_EMPTY_UNSET) &&
	    value->type == YAML_SCALAR_NODE && scalar(value)[0] == '\0')) {
		k.pos->null = true;
		return;
	}
	/* walk_value may record more keys (and move the array): look again. */
	if (!walk_value(w, value, &k))
		src_get(w->c->src, canon)->bad = true;
}

static void
walk_mapping(struct walk *w, yaml_node_t *map, const char *prefix,
    const struct key_rule *rules)
{
	yaml_node_pair_t *p;

	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++)
		walk_pair(w, yaml_document_get_node(w->doc, p->key),
		    yaml_document_get_node(w->doc, p->value), prefix, rules);
}

/* Skip "missing" errors under a mapping that was itself wrong. */
static bool
under_bad(const struct conf_src *src, const char *path)
{
	char buf[CONF_PATH_MAX];
	const struct conf_pos *p;
	char *cut;

	path_fmt(buf, "%s", path);
	while ((cut = strrchr(buf, '.')) != NULL) {
		*cut = '\0';
		if ((p = src_get(src, buf)) != NULL)
			return p->bad;
	}
	return false;
}

static void
check_required(struct walk *w, const char *prefix, const struct key_rule *rules)
{
	char path[CONF_PATH_MAX];
	const struct conf_pos *p;

	for (; rules->name != NULL; rules++) {
		if (rules->flags & R_TLS)
			continue;
		path_fmt(path, "%s%s%s", prefix,
		    prefix[0] ? "." : "", rules->name);
		p = src_get(w->c->src, path);
		/* A missing section: name the keys it lacks, except for a
		 * missing harepd: (an empty file) where one message says it. */
		if (rules->type == V_MAP && (p != NULL || prefix[0] != '\0')) {
			check_required(w, path, rules->sub);
			continue;
		}
		if (!(rules->flags & R_REQUIRED) || under_bad(w->c->src, path))
			continue;
		if (p == NULL)
			src_error(w->diag, w->c->src, path,
			    "missing required key");
		else if (p->null && rules->type != V_MAP)
			src_error(w->diag, w->c->src, path, "missing value");
	}
}

void
conf_walk(struct conf *c, yaml_document_t *doc, struct conf_diag *diag)
{
	struct walk w = { c, doc, diag, c->src->name };
	yaml_node_t *root = yaml_document_get_root_node(doc);

	if (root != NULL && is_null(root))
		root = NULL;
	if (root != NULL && root->type != YAML_MAPPING_NODE)
		type_error(&w, root, NULL, "a mapping with the key harepd:");
	else if (root != NULL) {
		src_put(c->src, "", mark_line(root->start_mark),
		    mark_col(root->start_mark));
		walk_mapping(&w, root, "", root_rules);
	}
	if (root == NULL || root->type == YAML_MAPPING_NODE)
		check_required(&w, "", root_rules);
}

static void
schema_walk(const char *prefix, const struct key_rule *rules,
    void (*fn)(const char *, void *), void *arg)
{
	char path[CONF_PATH_MAX];

	for (; rules->name != NULL; rules++) {
		if (rules->flags & R_TLS)	/* a misspelling of tls.* */
			continue;
		path_fmt(path, "%s%s%s", prefix, prefix[0] ? "." : "",
		    rules->name);
		if (rules->type == V_MAP)
			schema_walk(path, rules->sub, fn, arg);
		else
			fn(path, arg);
	}
}

void
conf_schema_keys(void (*fn)(const char *path, void *arg), void *arg)
{
	schema_walk("", root_rules, fn, arg);
}
