/*
 * The privilege drop, run for real in a forked child (needs root; else
 * only the refusals are checked): afterwards the child has the intended
 * uid/gid and groups, no capability in any set, no_new_privs, a parent
 * death signal, and cannot get uid 0 back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pwd.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "supervisor/sup.h"

/* Exit codes of the child name the check that failed. */
static int
child_checks(const struct privdrop *pd)
{
	char why[256];
	gid_t groups[4];
	cap_t caps;
	cap_flag_value_t v;

	if (privdrop_apply(pd, why, sizeof(why)) == -1) {
		fprintf(stderr, "privdrop_apply: %s\n", why);
		return 10;
	}
	if (getuid() != pd->uid || geteuid() != pd->uid || getgid() != pd->gid)
		return 11;
	if (getgroups(4, groups) != 1 || groups[0] != pd->gid)
		return 12;
	if ((caps = cap_get_proc()) == NULL)
		return 13;
	for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++)
		for (int set = CAP_EFFECTIVE; set <= CAP_INHERITABLE; set++)
			if (cap_get_flag(caps, c, (cap_flag_t)set, &v) == 0 &&
			    v == CAP_SET)
				return 14;
	cap_free(caps);
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return 15;
	int sig = 0;
	if (prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) != 0 || sig != SIGTERM)
		return 16;
	if (setuid(0) == 0 || seteuid(0) == 0)
		return 17;
	if (prctl(PR_CAPBSET_READ, CAP_SETUID, 0, 0, 0) != 0)
		return 18;
	return 0;
}

static void
test_drop_to_nobody(void **state)
{
	struct privdrop pd;
	char why[256];
	pid_t pid;
	int st;

	if (geteuid() != 0)
		skip();
	assert_int_equal(privdrop_prepare(&pd, "nobody", why, sizeof(why)), 0);
	assert_true(pd.drop);
	assert_int_not_equal(pd.uid, 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_checks(&pd));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void
test_refusals(void **state)
{
	struct privdrop pd;
	char why[256];

	if (geteuid() != 0) {
		/* not root: nothing to drop to, any name will do */
		assert_int_equal(privdrop_prepare(&pd, "no-such-user-harepd",
		    why, sizeof(why)), 0);
		assert_false(pd.drop);
		assert_int_equal(pd.uid, geteuid());
		return;
	}
	assert_int_equal(privdrop_prepare(&pd, "no-such-user-harepd", why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, "unknown user"));
	{
		assert_int_equal(privdrop_prepare(&pd, "root", why,
		    sizeof(why)), -1);
		assert_non_null(strstr(why, "root"));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drop_to_nobody),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
