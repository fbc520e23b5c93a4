/*
 * worker-hba/hba_file.c: atomic replace keeps owner and mode and leaves
 * no temp file; stale temp files of ours (and only ours) are removed;
 * read refuses what is not a regular file.
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "worker-hba/hba.h"

struct fixture {
	char	 dir[64];
	char	 path[128];
};

static void
put(const char *dir, const char *name, const char *text, mode_t mode)
{
	char p[256];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_non_null(fp = fopen(p, "w"));
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(chmod(p, mode), 0);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_hba_file.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/pg_hba.conf", f->dir);
	put(f->dir, "pg_hba.conf", "local all all peer\n", 0640);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static size_t
count_entries(const char *dir)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void
test_replace_keeps_mode(void **state)
{
	struct fixture *f = *state;
	const char *text = "host all all 10.0.0.0/8 md5\n";
	struct hba_buf b;
	struct stat st, st2;
	char err[256];

	assert_int_equal(hba_file_read(f->path, &b, &st, err, sizeof(err)), 0);
	assert_string_equal(b.data, "local all all peer\n");
	hba_buf_free(&b);
	assert_int_equal(hba_file_replace(f->path, text, strlen(text), &st,
	    err, sizeof(err)), 0);
	assert_int_equal(hba_file_read(f->path, &b, &st2, err, sizeof(err)), 0);
	assert_string_equal(b.data, text);
	assert_int_equal(st2.st_mode & 07777, 0640);
	assert_int_not_equal(st2.st_ino, st.st_ino);	/* a new file, renamed */
	assert_int_equal(count_entries(f->dir), 1);	/* no temp left */
	hba_buf_free(&b);
}

/* As root the replacement gets the old file's owner (PostgreSQL's). */
static void
test_replace_keeps_owner(void **state)
{
	struct fixture *f = *state;
	struct hba_buf b;
	struct stat st;
	char err[256];

	if (geteuid() != 0)
		skip();
	assert_int_equal(chown(f->path, 4242, 4343), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(hba_file_replace(f->path, "x\n", 2, &st, err,
	    sizeof(err)), 0);
	assert_int_equal(hba_file_read(f->path, &b, &st, err, sizeof(err)), 0);
	assert_int_equal(st.st_uid, 4242);
	assert_int_equal(st.st_gid, 4343);
	hba_buf_free(&b);
}

static void
test_clean_stale(void **state)
{
	struct fixture *f = *state;

	put(f->dir, ".pg_hba.conf.harepd-tmp.99.0", "torn", 0600);
	put(f->dir, ".pg_hba.conf.harepd-tmp.12.7", "torn", 0600);
	put(f->dir, ".pg_ident.conf.harepd-tmp.1.0", "not ours", 0600);
	put(f->dir, "pg_hba.conf.bak", "operator's", 0600);
	assert_int_equal(hba_file_clean_stale(f->path), 2);
	assert_int_equal(count_entries(f->dir), 3);
	assert_int_equal(hba_file_clean_stale(f->path), 0);
}

static void
test_read_errors(void **state)
{
	struct fixture *f = *state;
	struct hba_buf b;
	struct stat st;
	char err[256], p[256];

	snprintf(p, sizeof(p), "%s/missing", f->dir);
	assert_int_equal(hba_file_read(p, &b, &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(hba_file_read(f->dir, &b, &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	assert_null(b.data);
}

/* Replacing into a directory that is gone fails and says where. */
static void
test_replace_error(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	char err[256], p[256];

	assert_int_equal(stat(f->path, &st), 0);
	snprintf(p, sizeof(p), "%s/nodir/pg_hba.conf", f->dir);
	assert_int_equal(hba_file_replace(p, "x", 1, &st, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "cannot create a temp file in"));
}

/*
 * An operator's edit between harepd's read and its rename is not lost:
 * hba_file_replace_if_same sees the file changed, removes its temp file
 * and returns -2, leaving the operator's bytes in place.
 */
static void
test_replace_if_same(void **state)
{
	struct fixture *f = *state;
	struct hba_buf b;
	struct stat st;
	char err[256];

	assert_int_equal(hba_file_read(f->path, &b, &st, err, sizeof(err)), 0);
	hba_buf_free(&b);
	/* the operator saves in place: same inode, other size and mtime */
	put(f->dir, "pg_hba.conf", "local all all peer\nhost all all "
	    "10.1.0.0/16 md5\n", 0640);
	assert_int_equal(hba_file_replace_if_same(f->path, "ours\n", 5, &st,
	    err, sizeof(err)), -2);
	assert_non_null(strstr(err, "changed"));
	assert_int_equal(hba_file_read(f->path, &b, &st, err, sizeof(err)), 0);
	assert_string_equal(b.data, "local all all peer\nhost all all "
	    "10.1.0.0/16 md5\n");
	hba_buf_free(&b);
	assert_int_equal(count_entries(f->dir), 1);	/* no temp left */

	/* an editor that renames its own file over it: another inode */
	put(f->dir, "new", "local all all trust\n", 0640);
	{
		char from[256];

		snprintf(from, sizeof(from), "%s/new", f->dir);
		assert_int_equal(rename(from, f->path), 0);
	}
	assert_int_equal(hba_file_replace_if_same(f->path, "ours\n", 5, &st,
	    err, sizeof(err)), -2);
	assert_int_equal(count_entries(f->dir), 1);

	/* unchanged since the read: replaced */
	assert_int_equal(hba_file_read(f->path, &b, &st, err, sizeof(err)), 0);
	hba_buf_free(&b);
	assert_int_equal(hba_file_replace_if_same(f->path, "ours\n", 5, &st,
	    err, sizeof(err)), 0);
	assert_int_equal(hba_file_read(f->path, &b, &st, err, sizeof(err)), 0);
	assert_string_equal(b.data, "ours\n");
	hba_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replace_keeps_mode, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_replace_keeps_owner, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_replace_if_same, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_clean_stale, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_read_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_replace_error, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("hba_file", tests, NULL, NULL);
}
