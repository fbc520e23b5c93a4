/*
 * conf/: the forms of single values (targets, addresses, names) driven by
 * tables, and the loader's messages on small in-memory configurations:
 * exact text, file:line:col, every error collected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conf/conf_int.h"

struct target_case {
	const char	*in;
	const char	*host;	/* NULL: must be rejected */
	int		 port;
	const char	*text;
};

/* metrics.listen: an IP literal of this host and an unprivileged port. */
static void
test_listen(void **state)
{
	static const struct target_case cases[] = {
		{ "127.0.0.1:9187", "127.0.0.1", 9187, NULL },
		{ "0.0.0.0:1024", "0.0.0.0", 1024, NULL },
		{ "[::1]:65535", "::1", 65535, NULL },
		{ "[::]:9187", "::", 9187, NULL },
		{ "127.0.0.1:1023", NULL, 0, "a port 1024-65535" },
		{ "127.0.0.1:80", NULL, 0, "unprivileged" },
		{ "127.0.0.1", NULL, 0, "IPv4:port" },
		{ "127.0.0.1:", NULL, 0, "IPv4:port" },
		{ "127.0.0.1:65536", NULL, 0, "IPv4:port" },
		{ "localhost:9187", NULL, 0, "IP address" },
		{ "::1:9187", NULL, 0, "[IPv6]:port" },
		{ "[::1]", NULL, 0, "[IPv6]:port" },
		{ "[127.0.0.1]:9187", NULL, 0, "[IPv6]:port" },
		{ ":9187", NULL, 0, "IPv4:port" },
		{ "", NULL, 0, "IPv4:port" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char host[64] = "";
		int port = 0;
		const char *why = conf_listen_parse(cases[i].in, host,
		    sizeof(host), &port);

		if (cases[i].host == NULL) {
			if (why == NULL || strstr(why, cases[i].text) == NULL)
				fail_msg("%s: got \"%s\", want \"%s\"",
				    cases[i].in, why ? why : "(accepted)",
				    cases[i].text);
			assert_non_null(check_listen(cases[i].in));
			continue;
		}
		if (why != NULL)
			fail_msg("%s: %s", cases[i].in, why);
		assert_string_equal(host, cases[i].host);
		assert_int_equal(port, cases[i].port);
		assert_null(check_listen(cases[i].in));
	}
}

static void
test_targets(void **state)
{
	static const struct target_case cases[] = {
		{ "10.0.0.1:5000", "10.0.0.1", 5000, "10.0.0.1:5000" },
		{ "10.0.0.1", "10.0.0.1", 10000, "10.0.0.1:10000" },
		{ "[fd00::1]:5000", "fd00::1", 5000, "[fd00::1]:5000" },
		{ "[fd00::1]", "fd00::1", 10000, "[fd00::1]:10000" },
		{ "fd00::1", "fd00::1", 10000, "[fd00::1]:10000" },
		/* bare IPv6: the last group is part of the address */
		{ "fd00::1:5000", "fd00::1:5000", 10000, "[fd00::1:5000]:10000" },
		{ "::1", "::1", 10000, "[::1]:10000" },
		{ "db-2.example:7", "db-2.example", 7, "db-2.example:7" },
		{ "db2", "db2", 10000, "db2:10000" },
		{ "10.0.0.1:65535", "10.0.0.1", 65535, "10.0.0.1:65535" },
		{ "10.0.0.1:0", NULL, 0, NULL },
		{ "10.0.0.1:65536", NULL, 0, NULL },
		{ "10.0.0.1:", NULL, 0, NULL },
		{ "10.0.0.1:http", NULL, 0, NULL },
		{ "10.0.0.1:+80", NULL, 0, NULL },
		{ ":5000", NULL, 0, NULL },
		{ "10.0.0.300:5000", NULL, 0, NULL },
		{ "10.0.0", NULL, 0, NULL },
		{ "[fd00::1", NULL, 0, NULL },
		{ "[fd00::1]5000", NULL, 0, NULL },
		{ "[10.0.0.1]:5000", NULL, 0, NULL },
		{ "-bad.example", NULL, 0, NULL },
		{ "bad_name:5000", NULL, 0, NULL },
		{ "two words", NULL, 0, NULL },
		{ "", NULL, 0, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf_target t = { 0 };
		const char *why = target_parse(cases[i].in, 10000, &t);

		print_message("target \"%s\"\n", cases[i].in);
		if (cases[i].host == NULL) {
			assert_non_null(why);
			assert_null(t.host);
			continue;
		}
		assert_null(why);
		assert_string_equal(t.host, cases[i].host);
		assert_int_equal(t.port, cases[i].port);
		assert_string_equal(t.text, cases[i].text);
		free(t.host);
		free(t.text);
	}
}

struct form_case {
	const char *(*check)(const char *);
	const char	*in;
	bool		 ok;
};

static void
test_forms(void **state)
{
	static const struct form_case cases[] = {
		{ check_ip, "10.21.57.61", true },
		{ check_ip, "2001:db8::1", true },
		{ check_ip, "10.21.57.256", false },
		{ check_ip, "10.21.57", false },
		{ check_ip, "host.example", false },
		{ check_ip, "10.0.0.1/32", false },
		{ check_bind_address, "0.0.0.0", true },
		{ check_bind_address, "::", true },
		{ check_bind_address, "localhost", false },
		{ check_abs_path, "/etc/postgresql/15/main/pg_hba.conf", true },
		{ check_abs_path, "pg_hba.conf", false },
		{ check_abs_path, "/etc/postgresql/", false },
		{ check_abs_path, "", false },
		{ check_pg_name, "harw", true },
		{ check_pg_name, "ha-rw_1", true },
		{ check_pg_name, "", false },
		{ check_pg_name, "ha rw", false },
		{ check_pg_name, "harw,haro", false },
		{ check_pg_name, "\"harw\"", false },
		{ check_pg_name, "+admins", false },
		{ check_pg_name, "@users.txt", false },
		{ check_pg_name, "all", false },
		{ check_pg_name, "replication", false },
		{ check_pg_name, "harw#x", false },
		{ check_os_user, "nobody", true },
		{ check_os_user, "harepd-rpc", true },
		{ check_os_user, "no body", false },
		{ check_os_user, "a:b", false },
		{ check_os_user, "a,b", false },
		{ check_os_user, "-x", false },
		{ check_node_name, "node_1", true },
		{ check_node_name, "", false },
		{ check_node_name, "0123456789012345678901234567890123456789"
		    "012345678901234567890123", false },	/* 64 bytes */
		{ check_hba_method, "md5", true },
		{ check_hba_method, "scram-sha-256", true },
		{ check_hba_method, "reject", true },
		{ check_hba_method, "md 5", false },
		{ check_hba_method, "MD5", false },
		{ check_hba_method, "peer", false },	/* local lines only */
		{ check_pg_host, "/var/run/postgresql", true },
		{ check_pg_host, "db.example", true },
		{ check_pg_host, "db example", false },
		{ check_socket_path, "/run/harepd/harepd.sock", true },
		{ check_socket_path, "/run/harepd/0123456789012345678901234567890"
		    "1234567890123456789012345678901234567890123456789012345678"
		    "901234.sock", false },	/* over 107 bytes */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case %zu: \"%s\"\n", i, cases[i].in);
		if (cases[i].ok)
			assert_null(cases[i].check(cases[i].in));
		else
			assert_non_null(cases[i].check(cases[i].in));
	}
}

static void
test_quote_value(void **state)
{
	char buf[24];

	(void)state;
	quote_value(buf, sizeof(buf), "abc");
	assert_string_equal(buf, "\"abc\"");
	quote_value(buf, sizeof(buf), "a\"b\\c\nd");
	assert_string_equal(buf, "\"a\\\"b\\\\c\\x0ad\"");
	quote_value(buf, sizeof(buf), "0123456789012345678901234567890");
	assert_string_equal(buf, "\"01234567890123456...\"");
	assert_true(strlen(buf) < sizeof(buf));
}

/* A minimal valid body; tests append or replace lines. */
#define BASE(extra_grpc, extra)						\
	"harepd:\n"							\
	"  nodeName: pg1\n"						\
	"  primaryIP: 10.0.0.11\n"					\
	"  hbaConfig: /etc/pg_hba.conf\n"				\
	"  haproxy:\n"							\
	"    server: [10.0.0.5]\n"					\
	"    users:\n"							\
	"      readWrite: harw\n"					\
	"  gRPC:\n"							\
	"    bindPort: 10000\n"						\
	"    neighbours: [10.0.0.12]\n"					\
	extra_grpc							\
	"  watchDog: 10\n"						\
	extra

/* Load from memory; return the diagnostics, joined one per line. */
static char *
load_messages(const char *yaml, bool *loaded)
{
	struct conf_diag d = { 0 };
	struct conf *c = conf_load_buffer("t.yml", yaml, strlen(yaml), &d);
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);

	assert_non_null(fp);
	for (size_t i = 0; i < d.n_warnings; i++)
		fprintf(fp, "warning: %s\n", d.warnings[i]);
	for (size_t i = 0; i < d.n_errors; i++)
		fprintf(fp, "%s\n", d.errors[i]);
	fclose(fp);
	*loaded = c != NULL;
	assert_true((c != NULL) == (d.n_errors == 0));
	conf_free(c);
	conf_diag_free(&d);
	return out;
}

struct msg_case {
	const char	*yaml;
	bool		 loads;
	const char	*messages;
};

static void
test_messages(void **state)
{
	static const struct msg_case cases[] = {
		{ BASE("", ""), true, "" },
		/* an unknown key is an error, with the key within 2 edits */
		{ BASE("", "  bogus: 1\n"), false,
		    "t.yml:13:3: harepd.bogus: unknown key\n" },
		{ BASE("", "  watchdog: 1\n"), false,
		    "t.yml:13:3: harepd.watchdog: unknown key "
		    "(did you mean watchDog?)\n" },
		{ BASE("", "  allowRo: true\n"), false,
		    "t.yml:13:3: harepd.allowRo: unknown key "
		    "(did you mean allowRO?)\n" },
		{ BASE("", "  nodeNmae: pg1\n"), false,
		    "t.yml:13:3: harepd.nodeNmae: unknown key "
		    "(did you mean nodeName?)\n" },
		{ BASE("", "  logs:\n    filepaths: /x\n"), false,
		    "t.yml:14:5: harepd.logs.filepaths: unknown key "
		    "(did you mean filePath?)\n" },
		{ BASE("", "  nodeNameXYZ: pg1\n"), false,
		    "t.yml:13:3: harepd.nodeNameXYZ: unknown key\n" },
		{ BASE("", "  repmgr:\n    dx: a\n"), false,
		    "t.yml:14:5: harepd.repmgr.dx: unknown key\n" },
		{ BASE("    bindPort: 10001\n", ""), false,
		    "t.yml:12:15: harepd.gRPC.bindPort: given twice (first at "
		    "10:15), this one ignored\n" },
		{ BASE("", "  leaseMs: \"9000\"\n"), false,
		    "t.yml:13:12: harepd.leaseMs: expected an integer 1-86400000, "
		    "got \"9000\" (quoted: remove the quotes)\n" },
		{ BASE("", "  leaseMs: 010000\n"), false,
		    "t.yml:13:12: harepd.leaseMs: expected an integer 1-86400000, "
		    "got \"010000\"\n" },
		{ BASE("", "  allowRO: maybe\n"), false,
		    "t.yml:13:12: harepd.allowRO: expected true or false, got "
		    "\"maybe\"\n" },
		{ BASE("", "  allowRO: true\n"), false,
		    "t.yml:13:12: harepd.haproxy.users.readOnly: required when "
		    "allowRO is true\n" },
		{ BASE("", "  policy: [seed]\n"), false,
		    "t.yml:13:11: harepd.policy: expected \"majority\" or "
		    "\"seed\", got a list\n" },
		/* every error is collected, not only the first */
		{ "harepd:\n  nodeName: [a]\n  primaryIP: 1.2.3\n  watchDog: 0\n",
		    false,
		    "t.yml:2:13: harepd.nodeName: expected a string, got a list\n"
		    "t.yml:3:14: harepd.primaryIP: expected an IPv4 or IPv6 "
		    "address, got \"1.2.3\"\n"
		    "t.yml:4:13: harepd.watchDog: expected an integer 1-3600, got "
		    "\"0\"\n"
		    "t.yml:2:3: harepd.hbaConfig: missing required key\n"
		    "t.yml:2:3: harepd.haproxy.server: missing required key\n"
		    "t.yml:2:3: harepd.haproxy.users.readWrite: missing required "
		    "key\n"
		    "t.yml:2:3: harepd.gRPC.bindPort: missing required key\n" },
		{ "", false, "t.yml:1:1: harepd: missing required key\n" },
		{ "- a\n", false, "t.yml:1:1: expected a mapping with the key "
		    "harepd:, got a list\n" },
		{ "harepd:\n  nodeName: [\n", false,
		    "t.yml:3:1: YAML: while parsing a flow node did not find "
		    "expected node content (started at 3:1)\n" },
		{ "harepd: {}\n---\nharepd: {}\n", false,
		    "t.yml:3:1: YAML: a second document; the configuration is one "
		    "document\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool loaded;
		char *got = load_messages(cases[i].yaml, &loaded);

		print_message("case %zu\n", i);
		assert_string_equal(got, cases[i].messages);
		assert_int_equal(loaded, cases[i].loads);
		free(got);
	}
}

/*
 * Workers load bytes the supervisor sent: mangled, truncated and deeply
 * nested input must give errors, never a crash (run under ASan/UBSan).
 */
static void
load_hostile(const char *buf, size_t len)
{
	struct conf_diag d = { 0 };
	struct conf *c = conf_load_buffer("h.yml", buf, len, &d);

	assert_true(c != NULL || d.n_errors > 0);
	conf_free(c);
	conf_diag_free(&d);
}

static void
test_hostile(void **state)
{
	static const char seed[] = BASE("    witness: \"[fd00::1]:7\"\n",
	    "  logs: {filePath: /tmp/x.log}\n  policy: seed\n");
	static const char bytes[] = "[]{}:,-#&*!|>'\"%@` \n\t\\0x\xff\xc3";
	char buf[sizeof(seed)], *deep;
	unsigned int r = 12345;
	size_t n = 20000;

	(void)state;
	for (int i = 0; i < 3000; i++) {
		memcpy(buf, seed, sizeof(seed));
		for (int j = 0; j < 1 + i % 8; j++) {
			r = r * 1103515245u + 12345u;
			buf[(r >> 8) % (sizeof(seed) - 1)] =
			    bytes[(r >> 20) % (sizeof(bytes) - 1)];
		}
		load_hostile(buf, (r >> 4) % sizeof(seed));
		load_hostile(buf, sizeof(seed) - 1);
	}
	deep = malloc(2 * n + 16);
	assert_non_null(deep);
	memcpy(deep, "harepd: ", 8);
	memset(deep + 8, '[', n);
	memset(deep + 8 + n, ']', n);
	load_hostile(deep, 8 + 2 * n);
	free(deep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_quote_value),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
