/*
 * The rpc worker's freshness rule (rpc_view_status) against a clock the
 * test drives: this binary defines util/clock.h's functions itself, so
 * the linker never takes util/clock.o from libharepd.a and every clock
 * read in the code under test is one of these. The view is stamped the
 * way the probe stamps it (worker-probe/local_view.c: both the wall
 * clock and the boot clock), then time passes, the wall clock is
 * stepped (an operator's `date -s`, NTP on a machine that was far off),
 * the machine is suspended.
 *
 * The rule: a view's age is measured on CLOCK_BOOTTIME, never on the
 * wall clock, so a wall clock stepped back cannot make a stale view look
 * fresh, nor one stepped forward make a fresh view look stale.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/clock.h"
#include "worker-rpc/rpc.h"

/* ---- the injected clock ---- */

static int64_t fake_mono_ms, fake_boot_ms, fake_wall_ms;

int64_t
clock_mono_ms(void)
{
	return fake_mono_ms;
}

int64_t
clock_mono_us(void)
{
	return fake_mono_ms * 1000;
}

int64_t
clock_boot_ms(void)
{
	return fake_boot_ms;
}

int64_t
clock_wall_ms(void)
{
	return fake_wall_ms;
}

static void
clock_reset(void)
{
	fake_mono_ms = 5000000;			/* up for about 1.4 h */
	fake_boot_ms = 5000000;
	fake_wall_ms = 1764100000000LL;		/* late 2025 */
}

/* Real time passes: every clock moves. */
static void
clock_pass(int64_t ms)
{
	fake_mono_ms += ms;
	fake_boot_ms += ms;
	fake_wall_ms += ms;
}

/* ---- the cases ---- */

#define MAX_AGE	7000	/* watchDog 2, connectionDeadline 1: 3 x 2 + 1 s */

enum step { NONE, WALL, SUSPEND };

static const struct fresh_case {
	const char	*name;
	int64_t		 before;	/* ms passing after the view was collected */
	enum step	 step;		/* then this */
	int64_t		 by;		/* ms: < 0 back, > 0 forward */
	grpc_status_code want;
	const char	*why;		/* substring of the message, or NULL */
} cases[] = {
	{ "fresh", 1000, NONE, 0, GRPC_STATUS_OK, NULL },
	{ "at the limit", MAX_AGE, NONE, 0, GRPC_STATUS_OK, NULL },
	{ "stale", 10000, NONE, 0, GRPC_STATUS_UNAVAILABLE,
	    "collected 10000 ms ago" },
	/* the bug: a wall age of 2 s looked fresh */
	{ "stale, wall clock stepped back 8 s", 10000, WALL, -8000,
	    GRPC_STATUS_UNAVAILABLE, "collected 10000 ms ago" },
	{ "stale, wall clock stepped back 10 s", 10000, WALL, -10000,
	    GRPC_STATUS_UNAVAILABLE, "collected 10000 ms ago" },
	{ "stale, wall clock stepped back 1 h", 10000, WALL, -3600000,
	    GRPC_STATUS_UNAVAILABLE, "collected 10000 ms ago" },
	{ "fresh, wall clock stepped back 1 h", 1000, WALL, -3600000,
	    GRPC_STATUS_OK, NULL },
	{ "fresh, wall clock stepped forward 1 h", 1000, WALL, 3600000,
	    GRPC_STATUS_OK, NULL },
	{ "fresh, wall clock stepped forward 8 s", 1000, WALL, 8000,
	    GRPC_STATUS_OK, NULL },
	/* suspended for a minute: the view is a minute old on waking */
	{ "fresh, then suspended 60 s", 1000, SUSPEND, 60000,
	    GRPC_STATUS_UNAVAILABLE, "collected 61000 ms ago" },
};

/* 0 when the case holds; every case runs, so a failure lists them all */
static int
run_case(const struct fresh_case *c)
{
	Harepd__LocalView v = HAREPD__LOCAL_VIEW__INIT;
	struct rpc_snapshot *s;
	grpc_status_code got;
	char why[512] = "";
	int bad;

	clock_reset();
	/* stamped as the probe stamps it */
	v.node_name = "node_1";
	v.collected_at_ms = clock_wall_ms();
	v.collected_boot_ms = clock_boot_ms();
	assert_non_null(s = rpc_snapshot_new(&v));
	clock_pass(c->before);
	if (c->step == WALL)
		fake_wall_ms += c->by;
	else if (c->step == SUSPEND) {
		/* the wall clock and the boot clock count a suspend */
		fake_boot_ms += c->by;
		fake_wall_ms += c->by;
	}
	got = rpc_view_status(s, MAX_AGE, why, sizeof(why));
	bad = got != c->want || (c->why != NULL && strstr(why, c->why) == NULL);
	print_message("# %s %s: %s (%s), want %s%s%s\n", bad ? "FAIL" : "ok",
	    c->name, rpc_status_name(got), why, rpc_status_name(c->want),
	    c->why ? " saying " : "", c->why ? c->why : "");
	rpc_snapshot_free(s);
	return bad;
}

static void
test_wall_steps(void **state)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		failed += run_case(&cases[i]);
	assert_int_equal(failed, 0);
}

/* A view without a boot-clock stamp has no age we can trust. */
static void
test_unstamped(void **state)
{
	Harepd__LocalView v = HAREPD__LOCAL_VIEW__INIT;
	struct rpc_snapshot *s;
	char why[512] = "";

	clock_reset();
	v.node_name = "node_1";
	v.collected_at_ms = clock_wall_ms();
	assert_non_null(s = rpc_snapshot_new(&v));
	assert_int_equal(rpc_view_status(s, MAX_AGE, why, sizeof(why)),
	    GRPC_STATUS_UNAVAILABLE);
	assert_non_null(strstr(why, "no boot-clock stamp"));
	rpc_snapshot_free(s);
}

/* A stamp ahead of the boot clock cannot come from this host's probe. */
static void
test_from_the_future(void **state)
{
	Harepd__LocalView v = HAREPD__LOCAL_VIEW__INIT;
	struct rpc_snapshot *s;
	char why[512] = "";

	clock_reset();
	v.node_name = "node_1";
	v.collected_at_ms = clock_wall_ms();
	v.collected_boot_ms = clock_boot_ms() + 1;
	assert_non_null(s = rpc_snapshot_new(&v));
	assert_int_equal(rpc_view_status(s, MAX_AGE, why, sizeof(why)),
	    GRPC_STATUS_UNAVAILABLE);
	assert_non_null(strstr(why, "in the future"));
	rpc_snapshot_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wall_steps),
		cmocka_unit_test(test_unstamped),
		cmocka_unit_test(test_from_the_future),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
