/*
 * logs.filePath rotation with a driven clock: period arithmetic, the
 * filePath.YYYYmmddHHMM name, rotation on the first write of a new
 * period, a stale file adopted into its own period, and maxAge pruning
 * that only ever touches our own rotated names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <cmocka.h>

#include "supervisor/sup.h"

#define WEEK	604800
#define DAY	86400
/* 2025-11-25 00:00:00 UTC, a day boundary */
#define T0	((time_t)1764028800)

struct fixture {
	char	dir[64];
	char	path[128];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_sup_logfile.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/harepd.log", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static char *
slurp(const char *path)
{
	static char buf[8192];
	FILE *fp = fopen(path, "r");
	size_t n;

	if (fp == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void
touch_at(const char *path, time_t t)
{
	struct timeval tv[2] = { { t, 0 }, { t, 0 } };
	FILE *fp = fopen(path, "a");

	assert_non_null(fp);
	fputs("{\"old\":1}\n", fp);
	fclose(fp);
	assert_int_equal(utimes(path, tv), 0);
}

static void
test_period(void **state)
{
	assert_int_equal(logfile_period(WEEK, 0), 0);
	assert_int_equal(logfile_period(WEEK, WEEK - 1), 0);
	assert_int_equal(logfile_period(WEEK, WEEK), WEEK);
	assert_int_equal(logfile_period(60, 125), 120);
	assert_int_equal(logfile_period(0, 12345), 0);	/* no rotation */
}

static void
test_rotated_name(void **state)
{
	char buf[256];

	logfile_rotated_name(buf, sizeof(buf), "/var/log/harepd.log", 0);
	assert_string_equal(buf, "/var/log/harepd.log.197001010000");
	logfile_rotated_name(buf, sizeof(buf), "/x/h.log", T0 + 3600 + 120);
	assert_string_equal(buf, "/x/h.log.202511250102");
}

static void
test_rotates_on_new_period(void **state)
{
	struct fixture *f = *state;
	struct logfile lf;
	char rotated[256];
	time_t p0 = logfile_period(DAY, T0);

	assert_int_equal(logfile_open(&lf, f->path, DAY, 0, p0 + 10), 0);
	logfile_write(&lf, p0 + 10, LOG_LVL_INFO, "first", NULL, 0);
	logfile_write(&lf, p0 + DAY - 1, LOG_LVL_INFO, "second", NULL, 0);
	logfile_rotated_name(rotated, sizeof(rotated), f->path, p0);
	assert_int_equal(access(rotated, F_OK), -1);	/* not yet */
	logfile_write(&lf, p0 + DAY + 5, LOG_LVL_WARNING, "third", NULL, 0);
	logfile_close(&lf);

	assert_non_null(strstr(slurp(rotated), "\"msg\":\"first\""));
	assert_non_null(strstr(slurp(rotated), "\"msg\":\"second\""));
	assert_null(strstr(slurp(rotated), "third"));
	assert_non_null(strstr(slurp(f->path),
	    "{\"level\":\"warning\",\"msg\":\"third\",\"time\":"));
	assert_null(strstr(slurp(f->path), "first"));
}

static void
test_no_rotation_when_zero(void **state)
{
	struct fixture *f = *state;
	struct logfile lf;

	assert_int_equal(logfile_open(&lf, f->path, 0, 0, T0), 0);
	logfile_write(&lf, T0, LOG_LVL_INFO, "a", NULL, 0);
	logfile_write(&lf, T0 + 10 * WEEK, LOG_LVL_INFO, "b", NULL, 0);
	logfile_close(&lf);
	assert_non_null(strstr(slurp(f->path), "\"a\""));
	assert_non_null(strstr(slurp(f->path), "\"b\""));
}

/* A file from an earlier period (a previous run, the Go harepd) is
 * rotated under its own period's name, not mixed with today's lines. */
static void
test_adopts_stale_file(void **state)
{
	struct fixture *f = *state;
	struct logfile lf;
	char rotated[256];
	time_t old = logfile_period(DAY, T0) - 3 * DAY + 7200;

	touch_at(f->path, old);
	assert_int_equal(logfile_open(&lf, f->path, DAY, 0, T0 + 60), 0);
	logfile_write(&lf, T0 + 60, LOG_LVL_INFO, "fresh", NULL, 0);
	logfile_close(&lf);
	logfile_rotated_name(rotated, sizeof(rotated), f->path,
	    logfile_period(DAY, old));
	assert_non_null(strstr(slurp(rotated), "{\"old\":1}"));
	assert_null(strstr(slurp(f->path), "old"));
	assert_non_null(strstr(slurp(f->path), "fresh"));
}

static void
test_prune(void **state)
{
	struct fixture *f = *state;
	struct logfile lf;
	char old[256], young[256], other[256], shortname[256];
	time_t now = T0 + 5 * DAY;

	snprintf(old, sizeof(old), "%s.202511200000", f->path);
	snprintf(young, sizeof(young), "%s.202511290000", f->path);
	snprintf(other, sizeof(other), "%s.bak", f->path);
	snprintf(shortname, sizeof(shortname), "%s.2025112000", f->path);
	touch_at(old, now - 2 * DAY);
	touch_at(young, now - 60);
	touch_at(other, now - 30 * DAY);
	touch_at(shortname, now - 30 * DAY);

	assert_int_equal(logfile_open(&lf, f->path, DAY, 0, now), 0);
	assert_int_equal(logfile_prune(&lf, now), 0);	/* maxAge 0: keep */
	logfile_close(&lf);
	assert_int_equal(logfile_open(&lf, f->path, DAY, DAY, now), 0);
	assert_int_equal(logfile_prune(&lf, now), 1);
	logfile_close(&lf);
	assert_int_equal(access(old, F_OK), -1);
	assert_int_equal(access(young, F_OK), 0);
	assert_int_equal(access(other, F_OK), 0);	/* not ours */
	assert_int_equal(access(shortname, F_OK), 0);
	assert_int_equal(access(f->path, F_OK), 0);
}

static void
test_fields_written(void **state)
{
	struct fixture *f = *state;
	struct logfile lf;
	struct log_field fl[] = { { "proc", "probe" }, { "peer", "a\"b" } };

	assert_int_equal(logfile_open(&lf, f->path, WEEK, DAY, T0), 0);
	logfile_write(&lf, T0, LOG_LVL_ERROR, "x", fl, 2);
	logfile_close(&lf);
	assert_non_null(strstr(slurp(f->path),
	    "\"proc\":\"probe\",\"peer\":\"a\\\"b\"}\n"));
}

/* logrotate's way: the file renamed away, logfile_reopen creates it
 * again and writes go there; a path that cannot be opened keeps the old
 * file in use and says why. */
static void
test_reopen_after_rename(void **state)
{
	struct fixture *f = *state;
	struct logfile lf;
	char moved[160];

	snprintf(moved, sizeof(moved), "%s.1", f->path);
	assert_int_equal(logfile_open(&lf, f->path, 0, 0, T0), 0);
	logfile_write(&lf, T0, LOG_LVL_INFO, "before", NULL, 0);
	assert_int_equal(rename(f->path, moved), 0);
	assert_int_equal(logfile_reopen(&lf), 0);
	logfile_write(&lf, T0, LOG_LVL_INFO, "after", NULL, 0);
	assert_non_null(strstr(slurp(f->path), "\"msg\":\"after\""));
	assert_null(strstr(slurp(f->path), "before"));
	assert_null(strstr(slurp(moved), "after"));
	assert_int_equal(lf.size, (long long)strlen(slurp(f->path)));

	/* a file already there (logrotate's "create") counts for max_bytes */
	assert_int_equal(unlink(moved), 0);
	assert_int_equal(rename(f->path, moved), 0);
	{
		FILE *fp = fopen(f->path, "w");

		assert_non_null(fp);
		fputs("0123456789\n", fp);
		fclose(fp);
	}
	assert_int_equal(logfile_reopen(&lf), 0);
	assert_int_equal(lf.size, 11);

	assert_int_equal(unlink(moved), 0);
	assert_int_equal(rename(f->path, moved), 0);
	assert_int_equal(mkdir(f->path, 0700), 0);
	assert_int_equal(logfile_reopen(&lf), -1);
	assert_non_null(strstr(lf.why, f->path));
	logfile_write(&lf, T0, LOG_LVL_INFO, "still", NULL, 0);
	logfile_close(&lf);
	assert_non_null(strstr(slurp(moved), "\"msg\":\"still\""));
	assert_int_equal(rmdir(f->path), 0);
}

/* Full at max_bytes: rotated under this minute's name, the period goes
 * on; rotated files beyond keep_bytes go, oldest first. */
static void
test_rotates_when_full(void **state)
{
	struct fixture *f = *state;
	struct logfile lf;
	char r1[256], r2[256], r3[256];
	struct stat st;

	assert_int_equal(logfile_open(&lf, f->path, WEEK, 0, T0), 0);
	lf.max_bytes = 1000;
	lf.keep_bytes = 2500;
	for (int i = 0; i < 200; i++)
		logfile_write(&lf, T0 + 60 * (i / 10), LOG_LVL_INFO,
		    "a line of about fifty bytes in all", NULL, 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(st.st_size <= 1000 + 120);
	/* 200 lines of ~90 bytes: some 18 rotations, at most one a
	 * minute here; the oldest are gone and the rest fit keep_bytes */
	logfile_rotated_name(r1, sizeof(r1), f->path, T0);
	assert_int_equal(access(r1, F_OK), -1);
	snprintf(r2, sizeof(r2), "ls %s/harepd.log.* | wc -l | grep -qx '[23]'",
	    f->dir);
	assert_int_equal(system(r2), 0);
	snprintf(r3, sizeof(r3), "test $(cat %s/harepd.log.* | wc -c) -le 2500",
	    f->dir);
	assert_int_equal(system(r3), 0);
	assert_int_equal(lf.period, logfile_period(WEEK, T0));
	logfile_close(&lf);
}

/* A FIFO or a symlink at the path: refused at once, saying why; nothing
 * written through the link. */
static void
test_refuses_fifo_and_symlink(void **state)
{
	struct fixture *f = *state;
	struct logfile lf;
	char target[160];

	assert_int_equal(mkfifo(f->path, 0600), 0);
	assert_int_equal(logfile_open(&lf, f->path, WEEK, 0, T0), -1);
	assert_non_null(strstr(lf.why, f->path));
	assert_non_null(strstr(lf.why, "FIFO"));
	assert_int_equal(unlink(f->path), 0);

	snprintf(target, sizeof(target), "%s/elsewhere", f->dir);
	assert_int_equal(symlink(target, f->path), 0);
	assert_int_equal(logfile_open(&lf, f->path, WEEK, 0, T0), -1);
	assert_non_null(strstr(lf.why, "symbolic link"));
	assert_int_equal(access(target, F_OK), -1);	/* not created */
}

int
main(void)
{
	setenv("TZ", "UTC", 1);	/* rotated names are in local time */
	tzset();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_period),
		cmocka_unit_test(test_rotated_name),
		cmocka_unit_test_setup_teardown(test_rotates_on_new_period,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_rotation_when_zero,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopts_stale_file,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fields_written, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rotates_when_full, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reopen_after_rename, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refuses_fifo_and_symlink,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
