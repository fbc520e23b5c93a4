/*
 * The last verdict across a restart of the whole daemon: what is saved
 * comes back with its decision time; a missing, malformed or pre-reboot
 * record comes back as an already expired verdict, never as a fresh one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "supervisor/sup.h"

struct fx {
	char	 dir[64];
	char	 path[128];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_sup_record.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir,
	    VERDICT_RECORD_NAME);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char tmp[160];

	unlink(f->path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	unlink(tmp);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
put(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void
assert_expired(ipc_envelope *env, bool found)
{
	assert_false(found);
	assert_non_null(env);
	assert_int_equal(env->body_case, HAREPD__ENVELOPE__BODY_VERDICT);
	/* decided at boot + 1 ms with a 1 ms lease: long run out */
	assert_int_equal(env->verdict->decided_boot_ms, 1);
	assert_int_equal(env->verdict->lease_ms, 1);
	assert_false(env->verdict->rw_allow);
	ipc_free(env);
}

static void
test_round_trip(void **state)
{
	struct fx *f = *state;
	Harepd__Verdict v = HAREPD__VERDICT__INIT;
	ipc_envelope *env;
	char why[128];
	bool found;

	v.seq = 4711;
	v.rw_allow = true;
	v.ro_allow = false;
	v.lease_ms = 3000;
	v.decided_boot_ms = 123456789;
	v.decided_at_ms = 1700000000000;
	assert_int_equal(verdict_record_save(f->path, &v), 0);
	assert_int_equal(access(f->path, R_OK), 0);
	env = verdict_record_load(f->path, &found, why, sizeof(why));
	assert_true(found);
	assert_non_null(env);
	assert_int_equal(env->verdict->seq, 4711);
	assert_true(env->verdict->rw_allow);
	assert_false(env->verdict->ro_allow);
	assert_int_equal(env->verdict->lease_ms, 3000);
	assert_int_equal(env->verdict->decided_boot_ms, 123456789);
	assert_int_equal(env->verdict->decided_at_ms, 1700000000000);
	ipc_free(env);

	/* a later verdict replaces it whole */
	v.seq = 4712;
	v.rw_allow = false;
	assert_int_equal(verdict_record_save(f->path, &v), 0);
	env = verdict_record_load(f->path, &found, why, sizeof(why));
	assert_true(found);
	assert_int_equal(env->verdict->seq, 4712);
	assert_false(env->verdict->rw_allow);
	ipc_free(env);
}

static void
test_missing(void **state)
{
	struct fx *f = *state;
	ipc_envelope *env;
	char why[128];
	bool found;

	env = verdict_record_load(f->path, &found, why, sizeof(why));
	assert_expired(env, found);
	assert_non_null(strstr(why, "No such file"));
}

static void
test_malformed(void **state)
{
	struct fx *f = *state;
	static const char *bad[] = {
		"",
		"seq=1\n",
		"harepd-last-verdict 1\nseq=1\n",
		"harepd-last-verdict 1\nboot_id=x\nseq=1\ndecided_boot_ms=5\n"
		    "lease_ms=3000\nrw_allow=7\nro_allow=0\n",
		"harepd-last-verdict 1\nboot_id=x\nseq=1\ndecided_boot_ms=-5\n"
		    "lease_ms=3000\nrw_allow=1\nro_allow=0\n",
	};
	ipc_envelope *env;
	char why[128];
	bool found;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(f->path, bad[i]);
		env = verdict_record_load(f->path, &found, why, sizeof(why));
		assert_expired(env, found);
	}
}

/* The boot clock restarts at a reboot: a record from before is void. */
static void
test_other_boot(void **state)
{
	struct fx *f = *state;
	ipc_envelope *env;
	char why[128];
	bool found;

	put(f->path, "harepd-last-verdict 1\n"
	    "boot_id=00000000-0000-0000-0000-000000000000\nseq=9\n"
	    "decided_boot_ms=5000\ndecided_at_ms=1\nlease_ms=3000\nrw_allow=1\nro_allow=1\n");
	env = verdict_record_load(f->path, &found, why, sizeof(why));
	assert_expired(env, found);
	assert_string_equal(why, "written before the last reboot");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_other_boot, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
