/*
 * worker-hba/hba_worker.c: a verdict's age for the lease. The boot clock
 * stamp wins; the wall clock stamp is the fallback; an old verdict is never
 * taken as fresh (the old code treated an age over 10 leases as 0).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "worker-hba/hba.h"

#define BOOT	1000000LL		/* "now" on CLOCK_BOOTTIME */
#define REAL	1764100000000LL		/* "now" on CLOCK_REALTIME */

static void
test_boot_clock(void **state)
{
	(void)state;
	assert_int_equal(hba_verdict_age(BOOT - 1500, REAL - 1500, BOOT,
	    REAL), 1500);
	/* the wall clock stepped: the boot clock decides */
	assert_int_equal(hba_verdict_age(BOOT - 200, REAL - 3600000, BOOT,
	    REAL), 200);
	assert_int_equal(hba_verdict_age(BOOT - 200, REAL + 3600000, BOOT,
	    REAL), 200);
	/* very old: old, not fresh (lease 45 s, 11 leases) */
	assert_int_equal(hba_verdict_age(BOOT - 495000, REAL, BOOT + 0,
	    REAL), 495000);
	/* stamped ahead of our boot clock: bogus, taken as just decided */
	assert_int_equal(hba_verdict_age(BOOT + 50, 0, BOOT, REAL), 0);
}

static void
test_real_clock_fallback(void **state)
{
	(void)state;
	/* a probe that does not set decided_boot_ms */
	assert_int_equal(hba_verdict_age(0, REAL - 700, BOOT, REAL), 700);
	/* more than 10 leases old: still old (this failed open before) */
	assert_int_equal(hba_verdict_age(0, REAL - 10LL * 45000 - 1, BOOT,
	    REAL), 10LL * 45000 + 1);
	/* from the future: the wall clock stepped back, unusable */
	assert_int_equal(hba_verdict_age(0, REAL + 5000, BOOT, REAL), 0);
	/* neither stamp */
	assert_int_equal(hba_verdict_age(0, 0, BOOT, REAL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_clock),
		cmocka_unit_test(test_real_clock_fallback),
	};

	return cmocka_run_group_tests_name("hba_lease", tests, NULL, NULL);
}
