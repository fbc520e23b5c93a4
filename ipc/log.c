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
#include <sys/time.h>

#include "ipc/ipc.h"
#include "ipc/log.h"

#define LOG_MAX_FIELDS 32

static const char *procname = "harepd";
static log_sink_fn sink;
static void *sink_arg;
static int verbose;

static void
stderr_sink(enum log_level lvl, const char *msg, const struct log_field *f,
    size_t n, void *arg)
{
	log_write_json(stderr, lvl, msg, f, n);
	fflush(stderr);
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
