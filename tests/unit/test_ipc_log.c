/*
 * ipc/log.c's JSON output: the log file and harepdctl --json are read
 * by machines (jq, journald), so every string must come out as valid
 * JSON and valid UTF-8, whatever bytes went in.
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
#include <cmocka.h>

#include "ipc/ipc.h"
#include "ipc/log.h"

static char *
json_of(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	json_write_string(fp, s);
	fclose(fp);
	return buf;
}

static void
test_json_strings(void **state)
{
	static const struct {
		const char	*in;
		const char	*out;
	} cases[] = {
		{ "plain", "\"plain\"" },
		{ "q\"b\\s", "\"q\\\"b\\\\s\"" },
		{ "a\nb\tc\r\x01", "\"a\\nb\\tc\\r\\u0001\"" },
		{ "nœud-ß-東京 🐘", "\"nœud-ß-東京 🐘\"" },
		{ "caf\xe9", "\"caf\\ufffd\"" },			/* latin1 */
		{ "\xc0\xaf", "\"\\ufffd\\ufffd\"" },			/* overlong */
		{ "\xed\xa0\x80!", "\"\\ufffd\\ufffd\\ufffd!\"" },	/* surrogate */
		{ "\xe6\x9d", "\"\\ufffd\\ufffd\"" },			/* cut short */
		{ "", "\"\"" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = json_of(cases[i].in);

		assert_string_equal(got, cases[i].out);
		assert_true(ipc_utf8_valid(got));
		free(got);
	}
}

static void
test_json_line(void **state)
{
	static const char head[] = "{\"level\":\"warning\","
	    "\"msg\":\"rw \\\"denied\\\"\",\"time\":\"";
	struct log_field f[] = { { "proc", "hba" }, { "peer", NULL } };
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	log_write_json(fp, LOG_LVL_WARNING, "rw \"denied\"", f, 2);
	fclose(fp);
	assert_int_equal(strncmp(buf, head, strlen(head)), 0);
	assert_non_null(strstr(buf, "\",\"proc\":\"hba\",\"peer\":\"\"}\n"));
	/* exactly one line */
	assert_int_equal(strchr(buf, '\n') - buf, (ptrdiff_t)len - 1);
	free(buf);
}

static void
test_utf8_seq_len(void **state)
{
	assert_int_equal(ipc_utf8_seq_len("a"), 1);
	assert_int_equal(ipc_utf8_seq_len("ß"), 2);
	assert_int_equal(ipc_utf8_seq_len("東"), 3);
	assert_int_equal(ipc_utf8_seq_len("🐘"), 4);
	assert_int_equal(ipc_utf8_seq_len("\xf4\x8f\xbf\xbf"), 4);	/* U+10FFFF */
	assert_int_equal(ipc_utf8_seq_len("\xf4\x90\x80\x80"), 0);
	assert_int_equal(ipc_utf8_seq_len("\xe0\x80\x80"), 0);		/* overlong */
	assert_int_equal(ipc_utf8_seq_len("\xef\xbf\xbf"), 3);		/* U+FFFF */
	assert_int_equal(ipc_utf8_seq_len("\xff"), 0);
}

/* A flood gets the burst, then 20 a second; an error finds its own
 * allowance when the flood took the rest; the left-out count is said
 * once, with the next line that passes. */
static void
test_log_limit(void **state)
{
	struct log_limit l;
	unsigned long report, total = 0;
	int passed = 0;

	(void)state;
	log_limit_init(&l, 1000);
	for (int i = 0; i < 10000; i++)
		passed += log_limit_take(&l, LOG_LVL_DEBUG, 1000, &report);
	assert_int_equal(passed, LOG_LIMIT_BURST);
	assert_int_equal(l.suppressed, 10000 - LOG_LIMIT_BURST);
	/* the debug flood must not hide an error */
	assert_true(log_limit_take(&l, LOG_LVL_ERROR, 1000, &report));
	assert_int_equal(report, 10000 - LOG_LIMIT_BURST);
	total += report;
	assert_false(log_limit_take(&l, LOG_LVL_INFO, 1000, &report));
	/* one second later: 20 more pass, and the next report waits a second */
	passed = 0;
	for (int i = 0; i < 100; i++)
		if (log_limit_take(&l, LOG_LVL_INFO, 2000, &report)) {
			passed++;
			total += report;
		}
	assert_int_equal(passed, LOG_LIMIT_PER_S);
	assert_int_equal(total, 10000 - LOG_LIMIT_BURST + 1);
	/* errors alone have a limit too */
	passed = 0;
	for (int i = 0; i < 1000; i++)
		passed += log_limit_take(&l, LOG_LVL_ERROR, 2000, &report);
	/* 19 left, plus 2 for the second that passed, at most the burst */
	assert_int_equal(passed, LOG_LIMIT_ERR_BURST);
	/* quiet for a minute: the full burst again, and the count said */
	assert_true(log_limit_take(&l, LOG_LVL_INFO, 62000, &report));
	assert_int_equal(report, 80 + 1000 - LOG_LIMIT_ERR_BURST);
}

/* What log_write_stderr writes with stderr on a file and JOURNAL_STREAM
 * set to js ("same": the file's own dev:ino, as systemd would). */
static char *
stderr_line(const char *js, enum log_level lvl)
{
	char tmpl[] = "/tmp/test_ipc_log.XXXXXX", env[64], *buf;
	int fd = mkstemp(tmpl), saved = dup(STDERR_FILENO);
	struct stat st;
	off_t n;

	assert_true(fd != -1 && saved != -1);
	unlink(tmpl);
	assert_int_equal(fstat(fd, &st), 0);
	if (js != NULL && strcmp(js, "same") == 0) {
		snprintf(env, sizeof(env), "%llu:%llu",
		    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
		js = env;
	}
	if (js != NULL)
		setenv("JOURNAL_STREAM", js, 1);
	else
		unsetenv("JOURNAL_STREAM");
	dup2(fd, STDERR_FILENO);
	(void)log_journal_detect();
	log_write_stderr(lvl, "fenced", NULL, 0);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = lseek(fd, 0, SEEK_END);
	assert_true(n > 0);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(pread(fd, buf, (size_t)n, 0), n);
	close(fd);
	return buf;
}

/* journald reads "<N>" as the line's priority: only when stderr is the
 * very stream systemd connected, never on a redirected stderr. */
static void
test_journal_prefix(void **state)
{
	static const struct {
		enum log_level	 lvl;
		const char	*prefix;
	} levels[] = {
		{ LOG_LVL_ERROR, "<3>{\"level\":\"error\"" },
		{ LOG_LVL_WARNING, "<4>{\"level\":\"warning\"" },
		{ LOG_LVL_INFO, "<6>{\"level\":\"info\"" },
		{ LOG_LVL_DEBUG, "<7>{\"level\":\"debug\"" },
	};
	static const char *const not_journal[] = {
		NULL, "", "1:2", "garbage", "1:2:3",
	};
	char *got;

	(void)state;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		got = stderr_line("same", levels[i].lvl);
		assert_int_equal(strncmp(got, levels[i].prefix,
		    strlen(levels[i].prefix)), 0);
		assert_non_null(strstr(got, "\"msg\":\"fenced\""));
		assert_int_equal(strchr(got, '\n') - got,
		    (ptrdiff_t)strlen(got) - 1);
		free(got);
	}
	for (size_t i = 0; i < sizeof(not_journal) / sizeof(not_journal[0]);
	    i++) {
		got = stderr_line(not_journal[i], LOG_LVL_ERROR);
		assert_int_equal(strncmp(got, "{\"level\":\"error\",", 17), 0);
		free(got);
	}
	unsetenv("JOURNAL_STREAM");
	(void)log_journal_detect();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_strings),
		cmocka_unit_test(test_json_line),
		cmocka_unit_test(test_utf8_seq_len),
		cmocka_unit_test(test_log_limit),
		cmocka_unit_test(test_journal_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
