/*
 * Log formatting and the default sink (JSON lines on stderr). The
 * supervisor replaces the sink with one that also writes the log file;
 * workers replace it with one that forwards to the supervisor.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "ipc/ipc.h"
#include "ipc/log.h"

#define LOG_MAX_FIELDS 32

static const char *procname = "harepd";
static log_sink_fn sink;
static void *sink_arg;
static int verbose;
static int journal = -1;	/* stderr is the journal's: not known yet */

static void
stderr_sink(enum log_level lvl, const char *msg, const struct log_field *f,
    size_t n, void *arg)
{
	log_write_stderr(lvl, msg, f, n);
}

/*
 * systemd sets JOURNAL_STREAM to "dev:ino" of the stream it connects to
 * stderr; a stderr redirected since (harepd 2>file under systemd) no
 * longer matches, and must not get the prefix (systemd.exec(5)).
 */
bool
log_journal_detect(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	journal = js != NULL &&
	    sscanf(js, "%llu:%llu%c", &dev, &ino, &end) == 2 &&
	    fstat(STDERR_FILENO, &st) == 0 &&
	    (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
	return journal;
}

/* sd-daemon(3): journald takes "<N>" at the start of a line as its
 * syslog priority, so that `journalctl -p err` finds harepd's errors. */
const char *
log_sd_prefix(enum log_level lvl)
{
	switch (lvl) {
	case LOG_LVL_DEBUG: return "<7>";
	case LOG_LVL_INFO: return "<6>";
	case LOG_LVL_WARNING: return "<4>";
	case LOG_LVL_ERROR: return "<3>";
	}
	return "<6>";
}

void
log_write_stderr(enum log_level lvl, const char *msg,
    const struct log_field *f, size_t n)
{
	char *line = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&line, &len);

	if (mem == NULL)
		return;
	if (journal == -1)
		(void)log_journal_detect();
	if (journal)
		fputs(log_sd_prefix(lvl), mem);
	log_write_json(mem, lvl, msg, f, n);
	/* one write per line: the supervisor and its workers share this
	 * stderr, and a line written piecemeal would interleave */
	if (fclose(mem) == 0 && write(STDERR_FILENO, line, len) < 0) {
		/* nowhere left to say it */
	}
	free(line);
}

void
log_init(const char *name, log_sink_fn fn, void *arg)
{
	procname = name;
	sink = fn;
	sink_arg = arg;
}

void
log_set_verbose(int v)
{
	verbose = v;
}

const char *
log_procname(void)
{
	return procname;
}

const char *
log_level_name(enum log_level lvl)
{
	switch (lvl) {
	case LOG_LVL_DEBUG: return "debug";
	case LOG_LVL_INFO: return "info";
	case LOG_LVL_WARNING: return "warning";
	case LOG_LVL_ERROR: return "error";
	}
	return "info";
}

void
json_write_string(FILE *fp, const char *s)
{
	size_t n;

	fputc('"', fp);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		/* JSON is UTF-8 (RFC 8259 8.1): a stray byte becomes U+FFFD */
		if (*p >= 0x80) {
			if ((n = ipc_utf8_seq_len((const char *)p)) == 0)
				fputs("\\ufffd", fp);
			else
				fwrite(p, 1, n, fp);
			p += n ? n - 1 : 0;
			continue;
		}
		switch (*p) {
		case '"': fputs("\\\"", fp); break;
		case '\\': fputs("\\\\", fp); break;
		case '\n': fputs("\\n", fp); break;
		case '\r': fputs("\\r", fp); break;
		case '\t': fputs("\\t", fp); break;
		default:
			if (*p < 0x20)
				fprintf(fp, "\\u%04x", *p);
			else
				fputc(*p, fp);
		}
	}
	fputc('"', fp);
}

/* logrus' default: RFC 3339 with the local offset, e.g. 2026-11-25T20:41:02+00:00 */
static void
format_time(char *buf, size_t len)
{
	struct timeval tv;
	struct tm tm;
	char off[8];

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(off, sizeof(off), "%z", &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + strlen(buf), len - strlen(buf), "%.3s:%.2s", off, off + 3);
}

void
log_write_json(FILE *fp, enum log_level lvl, const char *msg,
    const struct log_field *f, size_t n)
{
	char ts[64];

	format_time(ts, sizeof(ts));
	fputs("{\"level\":", fp);
	json_write_string(fp, log_level_name(lvl));
	fputs(",\"msg\":", fp);
	json_write_string(fp, msg);
	fputs(",\"time\":", fp);
	json_write_string(fp, ts);
	for (size_t i = 0; i < n; i++) {
		fputc(',', fp);
		json_write_string(fp, f[i].key);
		fputc(':', fp);
		json_write_string(fp, f[i].value ? f[i].value : "");
	}
	fputs("}\n", fp);
}

void
log_vemit(enum log_level lvl, const struct log_field *f, size_t n,
    const char *fmt, va_list ap)
{
	struct log_field all[LOG_MAX_FIELDS + 1];
	char msg[4096];
	int saved = errno;

	if (lvl == LOG_LVL_DEBUG && !verbose)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n > LOG_MAX_FIELDS)
		n = LOG_MAX_FIELDS;
	all[0] = (struct log_field){ "proc", procname };
	if (n > 0)
		memcpy(all + 1, f, n * sizeof(*f));
	if (sink != NULL)
		sink(lvl, msg, all, n + 1, sink_arg);
	else
		stderr_sink(lvl, msg, all, n + 1, NULL);
	errno = saved;
}

void
log_emit(enum log_level lvl, const struct log_field *f, size_t n,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(lvl, f, n, fmt, ap);
	va_end(ap);
}

#define LOG_FN(name, lvl)					\
void								\
name(const char *fmt, ...)					\
{								\
	va_list ap;						\
								\
	va_start(ap, fmt);					\
	log_vemit(lvl, NULL, 0, fmt, ap);			\
	va_end(ap);						\
}

LOG_FN(log_debug, LOG_LVL_DEBUG)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_warnx, LOG_LVL_WARNING)

/* the attribute lets clang's -Wformat-nonliteral check the callers */
static void vlog_errno(enum log_level, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

static void
vlog_errno(enum log_level lvl, const char *fmt, va_list ap)
{
	char buf[4096];
	int saved = errno;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_emit(lvl, NULL, 0, "%s: %s", buf, strerror(saved));
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_errno(LOG_LVL_WARNING, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_errno(LOG_LVL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_ERROR, NULL, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

/* ---- rate limits ---- */

void
log_bucket_init(struct log_bucket *b, unsigned burst, unsigned per_s,
    int64_t now_ms)
{
	b->burst = burst;
	b->per_s = per_s;
	b->milli = (int64_t)burst * 1000;
	b->last_ms = now_ms;
}

bool
log_bucket_take(struct log_bucket *b, int64_t now_ms)
{
	int64_t cap = (int64_t)b->burst * 1000;

	if (now_ms > b->last_ms) {
		/* ms x lines/s = thousandths of a line */
		int64_t add = (now_ms - b->last_ms) * b->per_s;

		b->milli = add > cap - b->milli ? cap : b->milli + add;
		b->last_ms = now_ms;
	}
	if (b->milli < 1000)
		return false;
	b->milli -= 1000;
	return true;
}

void
log_limit_init(struct log_limit *l, int64_t now_ms)
{
	log_bucket_init(&l->any, LOG_LIMIT_BURST, LOG_LIMIT_PER_S, now_ms);
	log_bucket_init(&l->err, LOG_LIMIT_ERR_BURST, LOG_LIMIT_ERR_PER_S,
	    now_ms);
	l->suppressed = 0;
	l->reported_ms = INT64_MIN / 2;
}

bool
log_limit_take(struct log_limit *l, enum log_level lvl, int64_t now_ms,
    unsigned long *report)
{
	bool pass = log_bucket_take(&l->any, now_ms);

	*report = 0;
	if (!pass && lvl == LOG_LVL_ERROR)
		pass = log_bucket_take(&l->err, now_ms);
	if (!pass) {
		l->suppressed++;
		return false;
	}
	*report = log_limit_due(l, now_ms);
	return true;
}

unsigned long
log_limit_due(struct log_limit *l, int64_t now_ms)
{
	unsigned long n = l->suppressed;

	if (n == 0 || now_ms - l->reported_ms < 1000)
		return 0;
	l->suppressed = 0;
	l->reported_ms = now_ms;
	return n;
}
