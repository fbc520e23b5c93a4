/*
 * conf/: the seed's sample field by field (and its no-port witness
 * variant), both TLS layouts giving the same struct, defaults, and
 * load -> conf_print -> load giving the same struct for every fixture.
 * Fixtures are in tests/conf/; run from the top of the tree (make does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conf/conf.h"

#define FIXTURE(name)	"tests/conf/" name

static struct conf *
load_ok(const char *path, size_t want_warnings)
{
	struct conf_diag d = { 0 };
	struct conf *c = conf_load(path, &d);

	if (d.n_errors != 0 || d.n_warnings != want_warnings) {
		for (size_t i = 0; i < d.n_errors; i++)
			print_message("error: %s\n", d.errors[i]);
		for (size_t i = 0; i < d.n_warnings; i++)
			print_message("warning: %s\n", d.warnings[i]);
	}
	assert_non_null(c);
	assert_int_equal(d.n_errors, 0);
	assert_int_equal(d.n_warnings, want_warnings);
	conf_diag_free(&d);
	return c;
}

/* ---- field-by-field comparison: returns how many fields differ ---- */

static int
str_differs(const char *name, const char *a, const char *b)
{
	if ((a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0))
		return 0;
	print_message("field %s: \"%s\" != \"%s\"\n", name, a ? a : "(null)",
	    b ? b : "(null)");
	return 1;
}

static int
num_differs(const char *name, long a, long b)
{
	if (a == b)
		return 0;
	print_message("field %s: %ld != %ld\n", name, a, b);
	return 1;
}

static int
target_differs(const char *name, const struct conf_target *a,
    const struct conf_target *b)
{
	if (a == NULL || b == NULL)
		return num_differs(name, a == NULL, b == NULL);
	return str_differs(name, a->host, b->host) ||
	    num_differs(name, a->port, b->port) ||
	    str_differs(name, a->text, b->text);
}

static int
servers_differ(const struct conf *a, const struct conf *b)
{
	if (a->n_haproxy_servers != b->n_haproxy_servers)
		return num_differs("n_haproxy_servers", (long)a->n_haproxy_servers,
		    (long)b->n_haproxy_servers);
	for (size_t i = 0; i < a->n_haproxy_servers; i++)
		if (str_differs("haproxy_servers", a->haproxy_servers[i],
		    b->haproxy_servers[i]))
			return 1;
	return 0;
}

static int
neighbours_differ(const struct conf *a, const struct conf *b)
{
	if (a->n_neighbours != b->n_neighbours)
		return num_differs("n_neighbours", (long)a->n_neighbours,
		    (long)b->n_neighbours);
	for (size_t i = 0; i < a->n_neighbours; i++)
		if (target_differs("neighbours", &a->neighbours[i],
		    &b->neighbours[i]))
			return 1;
	return 0;
}

#define S(f)	str_differs(#f, a->f, b->f)
#define N(f)	num_differs(#f, (long)a->f, (long)b->f)
#define CONF_FIELDS	33	/* every field of struct conf but path and src */

static int
conf_diff(const struct conf *a, const struct conf *b)
{
	return S(node_name) + S(primary_ip) + N(allow_ro) + S(hba_config) +
	    servers_differ(a, b) + S(user_read_only) + S(user_read_write) +
	    S(auth_allow) + S(auth_deny) + S(repmgr_user) + S(repmgr_db) +
	    S(repmgr_host) + N(repmgr_port) + N(tls.enabled) +
	    N(tls.client_auth) + S(tls.ca) + S(tls.cert) + S(tls.key) +
	    N(bind_port) + S(bind_address) + S(server_host_override) +
	    neighbours_differ(a, b) + target_differs("witness", a->witness,
	    b->witness) + N(connection_deadline) + N(watchdog) + N(policy) +
	    N(lease_ms) + S(log_file) + N(log_max_age) + N(log_rotation_time) +
	    S(control_socket) + S(rpc_user) + S(pg_user);
}

/* ---- the seed's sample, every field ---- */

static void
assert_seed_fields(const struct conf *c)
{
	assert_string_equal(c->node_name, "node_1");
	assert_string_equal(c->primary_ip, "10.21.57.61");
	assert_false(c->allow_ro);
	assert_string_equal(c->hba_config, "/etc/postgresql/12/main/pg_hba.conf");
	assert_int_equal(c->n_haproxy_servers, 1);
	assert_string_equal(c->haproxy_servers[0], "10.21.57.65");
	assert_string_equal(c->user_read_only, "haro");
	assert_string_equal(c->user_read_write, "harw");
	assert_string_equal(c->auth_allow, "md5");
	assert_string_equal(c->auth_deny, "reject");
	assert_string_equal(c->repmgr_user, "repmgr");
	assert_string_equal(c->repmgr_db, "repmgr");
	assert_null(c->repmgr_host);
	assert_int_equal(c->repmgr_port, 0);
	assert_false(c->tls.enabled);
	assert_false(c->tls.client_auth);
	assert_string_equal(c->tls.ca, "/etc/harepd/ca_cert.pem");
	assert_string_equal(c->tls.cert, "/etc/harepd/server_cert.pem");
	assert_string_equal(c->tls.key, "/etc/harepd/server_key.pem");
	assert_int_equal(c->bind_port, 10000);
	assert_string_equal(c->bind_address, "10.21.51.61");
	assert_string_equal(c->server_host_override, "");
	assert_int_equal(c->n_neighbours, 1);
	assert_string_equal(c->neighbours[0].host, "10.21.57.61");
	assert_int_equal(c->neighbours[0].port, 10000);
	assert_string_equal(c->neighbours[0].text, "10.21.57.61:10000");
	assert_non_null(c->witness);
	assert_string_equal(c->witness->host, "10.21.57.63");
	assert_int_equal(c->witness->port, 10000);
	assert_string_equal(c->witness->text, "10.21.57.63:10000");
	assert_int_equal(c->connection_deadline, 5);
	assert_int_equal(c->watchdog, 15);
	assert_int_equal(c->policy, POLICY_MAJORITY);
	assert_int_equal(c->lease_ms, 45000);
	assert_string_equal(c->log_file, "/var/log/harepd.log");
	assert_int_equal(c->log_max_age, 86400);
	assert_int_equal(c->log_rotation_time, 604800);
	assert_string_equal(c->control_socket, CONF_DEFAULT_SOCKET);
	assert_string_equal(c->rpc_user, "nobody");
	assert_string_equal(c->pg_user, "postgres");
}

/* 4 misplaced TLS keys + the neighbour that is the node itself. */
#define SEED_WARNINGS	5

static void
test_seed_sample(void **state)
{
	struct conf *c = load_ok(FIXTURE("seed-sample.yml"), SEED_WARNINGS);

	(void)state;
	assert_string_equal(c->path, FIXTURE("seed-sample.yml"));
	assert_seed_fields(c);
	conf_free(c);
}

/* The seed's own sample writes `witness: 10.21.57.63`: port = bindPort. */
static void
test_seed_witness_without_port(void **state)
{
	struct conf *c = load_ok(FIXTURE("seed-sample-witness-noport.yml"),
	    SEED_WARNINGS);

	(void)state;
	assert_seed_fields(c);
	conf_free(c);
}

static void
test_tls_layouts_same_struct(void **state)
{
	struct conf *quirk = load_ok(FIXTURE("seed-sample.yml"), SEED_WARNINGS);
	struct conf *nested = load_ok(FIXTURE("seed-tls-nested.yml"), 1);

	(void)state;
	assert_int_equal(conf_diff(quirk, nested), 0);
	conf_free(quirk);
	conf_free(nested);
}

static void
test_seed_warnings_text(void **state)
{
	struct conf_diag d = { 0 };
	struct conf *c = conf_load(FIXTURE("seed-sample.yml"), &d);

	(void)state;
	assert_non_null(c);
	assert_int_equal(d.n_warnings, SEED_WARNINGS);
	assert_string_equal(d.warnings[0], FIXTURE("seed-sample.yml")
	    ":20:17: harepd.gRPC.enabled: TLS setting outside tls:, read as "
	    "harepd.gRPC.tls.enabled; move it under tls:");
	assert_string_equal(d.warnings[3], FIXTURE("seed-sample.yml")
	    ":23:17: harepd.gRPC.key: TLS setting outside tls:, read as "
	    "harepd.gRPC.tls.key; move it under tls:");
	conf_diag_free(&d);
	conf_free(c);
}

static void
test_defaults(void **state)
{
	struct conf *c = load_ok(FIXTURE("minimal.yml"), 0);

	(void)state;
	assert_string_equal(c->user_read_only, "haro");
	assert_string_equal(c->auth_allow, "md5");
	assert_string_equal(c->auth_deny, "reject");
	assert_string_equal(c->repmgr_user, "repmgr");
	assert_string_equal(c->repmgr_db, "repmgr");
	assert_null(c->repmgr_host);
	assert_int_equal(c->repmgr_port, 0);
	assert_false(c->tls.enabled);
	assert_false(c->tls.client_auth);
	assert_null(c->tls.ca);
	assert_string_equal(c->bind_address, "0.0.0.0");
	assert_string_equal(c->server_host_override, "");
	assert_string_equal(c->neighbours[0].text, "10.0.0.12:10000");
	assert_null(c->witness);
	assert_int_equal(c->connection_deadline, 5);
	assert_int_equal(c->policy, POLICY_MAJORITY);
	assert_int_equal(c->lease_ms, 30000);	/* 3 x watchDog 10 s */
	assert_null(c->log_file);
	assert_int_equal(c->log_max_age, 86400);
	assert_int_equal(c->log_rotation_time, 604800);
	assert_string_equal(c->control_socket, CONF_DEFAULT_SOCKET);
	assert_string_equal(c->rpc_user, "nobody");
	assert_string_equal(c->pg_user, "postgres");
	conf_free(c);
}

static void
test_full(void **state)
{
	struct conf *c = load_ok(FIXTURE("full.yml"), 0);

	(void)state;
	assert_true(c->allow_ro);			/* YAML 1.1 "yes" */
	assert_int_equal(c->n_haproxy_servers, 2);
	assert_string_equal(c->haproxy_servers[1], "2001:db8::10");
	assert_string_equal(c->repmgr_host, "/var/run/postgresql");
	assert_int_equal(c->repmgr_port, 5433);
	assert_true(c->tls.enabled);
	assert_true(c->tls.client_auth);
	assert_int_equal(c->n_neighbours, 3);
	assert_string_equal(c->neighbours[0].host, "fd00::11");
	assert_string_equal(c->neighbours[0].text, "[fd00::11]:10443");
	/* a bare IPv6 address has no port: bindPort */
	assert_string_equal(c->neighbours[1].host, "fd00::13");
	assert_int_equal(c->neighbours[1].port, 10443);
	assert_string_equal(c->neighbours[1].text, "[fd00::13]:10443");
	assert_string_equal(c->neighbours[2].text, "n4.cluster.example:10443");
	assert_string_equal(c->witness->text, "192.0.2.20:11000");
	assert_int_equal(c->policy, POLICY_SEED);
	assert_int_equal(c->lease_ms, 25000);
	assert_int_equal(c->log_max_age, 0);
	conf_free(c);
}

/* The comparison itself must see every field, or round trips prove little. */
static void
test_diff_sees_every_field(void **state)
{
	struct conf *a = load_ok(FIXTURE("full.yml"), 0);
	struct conf *b = load_ok(FIXTURE("full2.yml"), 1);

	(void)state;
	/* deny is always "reject" in a valid config: differ by hand */
	free(b->auth_deny);
	b->auth_deny = strdup("reject ");
	assert_int_equal(conf_diff(a, b), CONF_FIELDS);
	assert_int_equal(conf_diff(a, a), 0);
	conf_free(a);
	conf_free(b);
}

static void
round_trip(const char *path, size_t warnings)
{
	struct conf *a = load_ok(path, warnings), *b;
	struct conf_diag d = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	assert_non_null(fp);
	conf_print(fp, a);
	assert_int_equal(fclose(fp), 0);
	b = conf_load_buffer("printed.yml", text, len, &d);
	for (size_t i = 0; i < d.n_errors; i++)
		print_message("error: %s\n", d.errors[i]);
	assert_non_null(b);
	assert_int_equal(conf_diff(a, b), 0);
	conf_diag_free(&d);
	free(text);
	conf_free(a);
	conf_free(b);
}

static void
test_round_trip(void **state)
{
	(void)state;
	round_trip(FIXTURE("seed-sample.yml"), SEED_WARNINGS);
	round_trip(FIXTURE("seed-sample-witness-noport.yml"), SEED_WARNINGS);
	round_trip(FIXTURE("minimal.yml"), 0);
	round_trip(FIXTURE("full.yml"), 0);
	round_trip(FIXTURE("full2.yml"), 1);
	round_trip("conf/harepd.sample.yml", 0);
}

/* The installed sample documents every key: it must load cleanly and set
 * each one (none left to its default). */
static void
test_installed_sample(void **state)
{
	struct conf *c = load_ok("conf/harepd.sample.yml", 0);

	(void)state;
	assert_string_equal(c->repmgr_host, "/var/run/postgresql");
	assert_int_equal(c->repmgr_port, 5432);
	assert_false(c->tls.client_auth);
	assert_string_equal(c->neighbours[0].text, "10.21.57.62:10000");
	assert_int_equal(c->policy, POLICY_MAJORITY);
	assert_int_equal(c->lease_ms, 45000);
	assert_string_equal(c->control_socket, "/run/harepd/harepd.sock");
	assert_string_equal(c->rpc_user, "nobody");
	assert_string_equal(c->pg_user, "postgres");
	conf_free(c);
}

/*
 * Every value of full.yml in turn replaced by something wrong (a list, a
 * mapping, nothing, text with blanks, a huge number): an error, never a
 * crash, whatever the later cross-key rules find missing.
 */
static void
test_each_value_wrong(void **state)
{
	static const char *const wrong[] = { "[1, 2]", "{a: 1}", "", "\"\"",
	    "two words", "99999999999999999999", "-1", "true" };
	FILE *fp = fopen(FIXTURE("full.yml"), "r");
	char text[8192], *line, *colon;
	size_t len;

	(void)state;
	assert_non_null(fp);
	len = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[len] = '\0';
	for (line = text; (line = strchr(line, '\n')) != NULL; line++) {
		char *end = strchr(line + 1, '\n');

		colon = strchr(line + 1, ':');
		if (end == NULL || colon == NULL || colon > end ||
		    colon + 1 == end || line[1] == '#')
			continue;
		for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
			struct conf_diag d = { 0 };
			char *buf;
			struct conf *c;
			int n = asprintf(&buf, "%.*s %s%s", (int)(colon + 1 - text),
			    text, wrong[i], end);

			assert_true(n > 0);
			c = conf_load_buffer("w.yml", buf, (size_t)n, &d);
			/* some replacements are valid (a "true" bool, ...) */
			assert_true(c != NULL || d.n_errors > 0);
			conf_free(c);
			conf_diag_free(&d);
			free(buf);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_sample),
		cmocka_unit_test(test_seed_witness_without_port),
		cmocka_unit_test(test_tls_layouts_same_struct),
		cmocka_unit_test(test_seed_warnings_text),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_diff_sees_every_field),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_installed_sample),
		cmocka_unit_test(test_each_value_wrong),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
