/*
 * Table tests of the pg_hba.conf core (worker-hba/hba_block.c). One test
 * per case in tests/hba/: NN-name.case (config and verdict, or the error
 * expected), NN-name.in (the file), NN-name.out (the expected file).
 * Each passing case is also checked for idempotence, for coming back to
 * the same bytes after any other verdict, and for reading back as the
 * verdict it was written for.
 *
 * HBA_REGEN=1 writes missing .out files (review them before committing).
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "worker-hba/hba.h"

#define MAX_CASES	128
#define MIN_CASES	25

struct hba_case {
	char		 name[128];
	char		 dir[512];
	struct conf	 conf;
	char		*servers[8];
	char		 line_buf[4][256];	/* storage for conf strings */
	struct hba_verdict v;
	int		 above;			/* TCP rule above the block */
	char		 error[512];		/* expected error substring */
};

static const char *fixture_dir;
static struct hba_case cases[MAX_CASES];
static size_t n_cases;

static char *
slurp(const char *dir, const char *name, const char *ext, size_t *len)
{
	char path[1024];
	struct hba_buf b;
	struct stat st;
	char err[256];

	snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
	if (hba_file_read(path, &b, &st, err, sizeof(err)) == -1)
		return NULL;
	*len = b.len;
	return b.data;
}

static void
default_conf(struct hba_case *c)
{
	static char *default_servers[] = { "10.0.0.5" };

	memset(&c->conf, 0, sizeof(c->conf));
	c->conf.user_read_write = "harw";
	c->conf.user_read_only = "haro";
	c->conf.auth_allow = "md5";
	c->conf.auth_deny = "reject";
	c->conf.haproxy_servers = default_servers;
	c->conf.n_haproxy_servers = 1;
	c->conf.lease_ms = 3000;
}

/* "A B C" -> two strings: first word, rest (role names may hold blanks). */
static void
split2(char *s, char **a, char **b)
{
	char *sp = strchr(s, ' ');

	*a = s;
	*b = sp ? sp + 1 : s + strlen(s);
	if (sp)
		*sp = '\0';
}

static void
parse_servers(struct hba_case *c, char *s)
{
	size_t n = 0;

	for (char *t = strtok(s, " "); t && n < 8; t = strtok(NULL, " "))
		c->servers[n++] = t;
	c->conf.haproxy_servers = c->servers;
	c->conf.n_haproxy_servers = n;
}

static int
parse_case_line(struct hba_case *c, char *line, int *nbuf)
{
	char *key = line, *val = strchr(line, ' '), err[256];

	if (line[0] == '#' || line[0] == '\0')
		return 0;
	if (val == NULL || *nbuf == 4)
		return -1;
	*val++ = '\0';
	val = strcpy(c->line_buf[(*nbuf)++], val);
	if (strcmp(key, "verdict") == 0)
		return hba_parse_spec(val, &c->v, err, sizeof(err));
	if (strcmp(key, "servers") == 0)
		parse_servers(c, val);
	else if (strcmp(key, "allow_ro") == 0)
		c->conf.allow_ro = strcmp(val, "1") == 0;
	else if (strcmp(key, "users") == 0)
		split2(val, &c->conf.user_read_write, &c->conf.user_read_only);
	else if (strcmp(key, "auth") == 0)
		split2(val, &c->conf.auth_allow, &c->conf.auth_deny);
	else if (strcmp(key, "above") == 0)
		c->above = atoi(val);
	else if (strcmp(key, "error") == 0)
		snprintf(c->error, sizeof(c->error), "%s", val);
	else
		return -1;
	return 0;
}

static int
load_case(struct hba_case *c, const char *dir, const char *name)
{
	char path[1024], line[512];
	int nbuf = 0, rc = 0;
	FILE *fp;

	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->dir, sizeof(c->dir), "%s", dir);
	default_conf(c);
	snprintf(path, sizeof(path), "%s/%s.case", dir, name);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (rc == 0 && fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		rc = parse_case_line(c, line, &nbuf);
	}
	fclose(fp);
	if (rc == -1)
		fprintf(stderr, "# %s: bad line \"%s\"\n", path, line);
	return rc;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names first, sorted, so each case is loaded in place (it points into itself). */
static void
load_cases(const char *dir)
{
	static char names[MAX_CASES][128];
	char *order[MAX_CASES];
	struct dirent *de;
	size_t len, n = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL && n < MAX_CASES) {
		len = strlen(de->d_name);
		if (len < 6 || len >= sizeof(names[0]) ||
		    strcmp(de->d_name + len - 5, ".case") != 0)
			continue;
		snprintf(names[n], sizeof(names[n]), "%.*s", (int)(len - 5),
		    de->d_name);
		order[n] = names[n];
		n++;
	}
	closedir(d);
	qsort(order, n, sizeof(order[0]), cmp_names);
	for (size_t i = 0; i < n; i++)
		if (load_case(&cases[n_cases], dir, order[i]) == 0)
			n_cases++;
		else
			fixture_dir = NULL;	/* test_enough_cases fails */
}

static void
regen(const struct hba_case *c, const struct hba_buf *out)
{
	char path[1024];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s.out", c->dir, c->name);
	if ((fp = fopen(path, "wx")) != NULL) {
		fwrite(out->data, 1, out->len, fp);
		fclose(fp);
		fprintf(stderr, "# wrote %s: review it\n", path);
	}
}

/* rewrite(in, v) == in */
static void
assert_fixed_point(const struct hba_case *c, const char *in, size_t len,
    struct hba_verdict v, const char *what)
{
	struct hba_buf out;
	char err[512];

	assert_int_equal(hba_rewrite(in, len, &c->conf, v, &out, err,
	    sizeof(err)), 0);
	if (out.len != len || memcmp(out.data, in, len) != 0) {
		print_error("%s: %s: rw=%d ro=%d gives other bytes:\n%s\n",
		    c->name, what, v.rw_allow, v.ro_allow, out.data);
		fail();
	}
	hba_buf_free(&out);
}

/* From any other verdict, v gives the same bytes back. */
static void
assert_round_trips(const struct hba_case *c, const struct hba_buf *want)
{
	struct hba_verdict other;
	struct hba_buf mid;
	char err[512];

	for (int i = 0; i < 4; i++) {
		other = (struct hba_verdict){ i & 1, (i & 2) != 0 };
		assert_int_equal(hba_rewrite(want->data, want->len, &c->conf,
		    other, &mid, err, sizeof(err)), 0);
		assert_fixed_point(c, mid.data, mid.len, other, "idempotent");
		hba_buf_free(&mid);
		assert_int_equal(hba_rewrite(want->data, want->len, &c->conf,
		    other, &mid, err, sizeof(err)), 0);
		{
			struct hba_buf back;

			assert_int_equal(hba_rewrite(mid.data, mid.len,
			    &c->conf, c->v, &back, err, sizeof(err)), 0);
			assert_int_equal(back.len, want->len);
			assert_memory_equal(back.data, want->data, want->len);
			hba_buf_free(&back);
		}
		hba_buf_free(&mid);
	}
}

static void
assert_reads_back(const struct hba_case *c, const struct hba_buf *out)
{
	struct hba_verdict got;
	size_t b, e;
	char err[512];

	assert_int_equal(hba_find_block(out->data, out->len, &b, &e, err,
	    sizeof(err)), 1);
	assert_true(b < e);
	assert_int_equal(hba_current_verdict(out->data, out->len, &c->conf,
	    &got), 1);
	assert_int_equal(got.rw_allow, c->v.rw_allow);
	assert_int_equal(got.ro_allow, c->conf.allow_ro && c->v.ro_allow);
}

static void
expect_error(const struct hba_case *c, const char *in, size_t len)
{
	struct hba_buf out;
	char err[512];

	assert_int_equal(hba_rewrite(in, len, &c->conf, c->v, &out, err,
	    sizeof(err)), -1);
	assert_null(out.data);
	if (strstr(err, c->error) == NULL) {
		print_error("%s: error \"%s\" does not contain \"%s\"\n",
		    c->name, err, c->error);
		fail();
	}
}

static void
expect_output(const struct hba_case *c, const char *in, size_t len)
{
	struct hba_buf out;
	size_t wlen = 0;
	char err[512], *want;

	if (hba_rewrite(in, len, &c->conf, c->v, &out, err,
	    sizeof(err)) == -1) {
		print_error("%s: unexpected error: %s\n", c->name, err);
		fail();
	}
	if ((want = slurp(c->dir, c->name, "out", &wlen)) == NULL) {
		if (getenv("HBA_REGEN") != NULL)
			regen(c, &out);
		print_error("%s: no %s.out\n", c->name, c->name);
		fail();
	}
	if (out.len != wlen || memcmp(out.data, want, wlen) != 0) {
		print_error("%s: output differs from %s.out; got:\n%s\n",
		    c->name, c->name, out.data);
		fail();
	}
	/* the block comes first unless the case says an operator moved it */
	assert_int_equal(hba_rule_above_block(out.data, out.len), c->above);
	assert_fixed_point(c, out.data, out.len, c->v, "idempotent");
	assert_round_trips(c, &out);
	assert_reads_back(c, &out);
	free(want);
	hba_buf_free(&out);
}

static void
test_case(void **state)
{
	const struct hba_case *c = *state;
	size_t len = 0;
	char *in = slurp(c->dir, c->name, "in", &len);

	assert_non_null(in);
	if (c->error[0] != '\0')
		expect_error(c, in, len);
	else
		expect_output(c, in, len);
	free(in);
}

static void
test_enough_cases(void **state)
{
	(void)state;
	if (fixture_dir == NULL)
		print_error("no fixtures: run from the top directory or set "
		    "HBA_FIXTURES\n");
	assert_non_null(fixture_dir);
	assert_true(n_cases >= MIN_CASES);
}

struct spec_row {
	const char *spec;
	int rc;
	bool rw, ro;
};

static void
test_parse_spec(void **state)
{
	static const struct spec_row rows[] = {
		{ "rw=allow", 0, true, true },
		{ "rw=deny", 0, false, false },
		{ "rw=allow,ro=deny", 0, true, false },
		{ "rw=deny,ro=allow", 0, false, true },
		{ "ro=allow,rw=deny", 0, false, true },
		{ "ro=allow", -1, 0, 0 },
		{ "rw=allow,rw=deny", -1, 0, 0 },
		{ "rw=yes", -1, 0, 0 },
		{ "rw=allow,", -1, 0, 0 },
		{ "rw=allowx", -1, 0, 0 },
		{ "", -1, 0, 0 },
		{ "rw", -1, 0, 0 },
		{ "rw=allow,xx=deny", -1, 0, 0 },
	};
	struct hba_verdict v;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		v = (struct hba_verdict){ 0 };
		assert_int_equal(hba_parse_spec(rows[i].spec, &v, err,
		    sizeof(err)), rows[i].rc);
		if (rows[i].rc == 0) {
			assert_int_equal(v.rw_allow, rows[i].rw);
			assert_int_equal(v.ro_allow, rows[i].ro);
		} else
			assert_non_null(strstr(err, "rw=allow|deny"));
	}
}

static void
test_temp_names(void **state)
{
	(void)state;
	assert_true(hba_file_is_temp_name("pg_hba.conf",
	    ".pg_hba.conf.harepd-tmp.123.0"));
	assert_false(hba_file_is_temp_name("pg_hba.conf",
	    ".pg_hba.conf.harepd-tmp."));
	assert_false(hba_file_is_temp_name("pg_hba.conf", "pg_hba.conf"));
	assert_false(hba_file_is_temp_name("pg_hba.conf",
	    ".pg_ident.conf.harepd-tmp.1.0"));
	assert_false(hba_file_is_temp_name("pg_hba.conf",
	    "pg_hba.conf.harepd-tmp.1.0"));
}

/* No block yet or a block of another config: no verdict to read back. */
static void
test_current_verdict_none(void **state)
{
	struct hba_case c;
	struct hba_verdict v;
	const char *plain = "local all all peer\n";

	(void)state;
	default_conf(&c);
	assert_int_equal(hba_current_verdict(plain, strlen(plain), &c.conf,
	    &v), 0);
	assert_int_equal(hba_current_verdict("# BEGIN harepd managed block\n",
	    29, &c.conf, &v), -1);
}

struct above_row {
	const char *text;
	int line;
};

static void
test_rule_above_block(void **state)
{
	static const struct above_row rows[] = {
		{ "host all all 0.0.0.0/0 md5\n" HBA_BEGIN_LINE "\n"
		    HBA_END_LINE "\n", 1 },
		{ "# c\nlocal all all peer\n\n" HBA_BEGIN_LINE "\n"
		    HBA_END_LINE "\nhost all all 0.0.0.0/0 md5\n", 0 },
		{ "local all all peer\ninclude x.conf\n" HBA_BEGIN_LINE "\n"
		    HBA_END_LINE "\n", 2 },
		{ "host all all 0.0.0.0/0 md5\n", 0 },	/* no block */
		{ "", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_int_equal(hba_rule_above_block(rows[i].text,
		    strlen(rows[i].text)), rows[i].line);
}

static const char *
find_fixtures(void)
{
	const char *env = getenv("HBA_FIXTURES");
	DIR *d;

	if (env != NULL)
		return env;
	if ((d = opendir("tests/hba")) != NULL) {
		closedir(d);
		return "tests/hba";
	}
	return NULL;
}

int
main(void)
{
	static struct CMUnitTest tests[MAX_CASES + 8];
	size_t n = 0;

	if ((fixture_dir = find_fixtures()) != NULL)
		load_cases(fixture_dir);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_enough_cases);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_parse_spec);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_temp_names);
	tests[n++] = (struct CMUnitTest)
	    cmocka_unit_test(test_current_verdict_none);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_rule_above_block);
	for (size_t i = 0; i < n_cases; i++) {
		tests[n] = (struct CMUnitTest)cmocka_unit_test(test_case);
		tests[n].name = cases[i].name;
		tests[n].initial_state = &cases[i];
		n++;
	}
	return _cmocka_run_group_tests("hba_block", tests, n, NULL, NULL);
}
