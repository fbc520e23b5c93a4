/*
 * worker-hba/hba_plan.c: a verdict's age for the lease, on the boot clock
 * only. The wall clock is never read (it was the fallback for a verdict
 * without decided_boot_ms: stepped back, it made an old allow young); an
 * age nobody knows is -1, and an old verdict is never taken as fresh (the
 * old code treated an age over 10 leases as 0).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "worker-hba/hba.h"

#define BOOT	1000000LL		/* "now" on CLOCK_BOOTTIME */

static void
test_boot_clock(void **state)
{
	(void)state;
	assert_int_equal(hba_verdict_age(BOOT - 1500, BOOT), 1500);
	assert_int_equal(hba_verdict_age(BOOT, BOOT), 0);
	/* very old: old, not fresh (lease 45 s, 11 leases) */
	assert_int_equal(hba_verdict_age(BOOT - 495000, BOOT), 495000);
}

static void
test_unknown_age(void **state)
{
	(void)state;
	/* stamped ahead of our boot clock: bogus, not "just decided" */
	assert_int_equal(hba_verdict_age(BOOT + 50, BOOT), -1);
	/* no boot stamp: the wall clock is not asked */
	assert_int_equal(hba_verdict_age(0, BOOT), -1);
	assert_int_equal(hba_verdict_age(-5, BOOT), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_clock),
		cmocka_unit_test(test_unknown_age),
	};

	return cmocka_run_group_tests_name("hba_lease", tests, NULL, NULL);
}
