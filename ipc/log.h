/*
 * Logging, bgpd style: log_info/log_warn/log_warnx/fatal/fatalx.
 * Only the supervisor writes the log (JSON lines, the Go harepd's shape:
 * {"level":"info","msg":"...","time":"..."}); a worker installs a sink that
 * forwards each line to the supervisor as an IPC Log message.
 */
#ifndef HAREPD_LOG_H
#define HAREPD_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum log_level {
	LOG_LVL_DEBUG = 0,
	LOG_LVL_INFO,
	LOG_LVL_WARNING,
	LOG_LVL_ERROR,
};

struct log_field {
	const char	*key;
	const char	*value;
};

typedef void (*log_sink_fn)(enum log_level, const char *msg,
    const struct log_field *, size_t nfields, void *arg);

/* procname is added as field "proc" to every line ("harepd", "rpc", ...). */
void	log_init(const char *procname, log_sink_fn, void *arg);
void	log_set_verbose(int);	/* 1: emit debug lines */
const char *log_procname(void);
const char *log_level_name(enum log_level);

void	log_emit(enum log_level, const struct log_field *, size_t,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	log_vemit(enum log_level, const struct log_field *, size_t,
	    const char *fmt, va_list) __attribute__((format(printf, 4, 0)));

void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends ": strerror(errno)" */
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * One JSON line: {"level":..,"msg":..,"time":..,<fields>}\n. time is
 * RFC 3339 local time with offset, as Go's logrus writes it.
 */
void	log_write_json(FILE *, enum log_level, const char *msg,
	    const struct log_field *, size_t);
/*
 * The same line on stderr in one write(2), after the sd-daemon(3)
 * priority prefix ("<3>" error ... "<7>" debug) when stderr is the
 * journal's stream (JOURNAL_STREAM names its dev:ino).
 */
void	log_write_stderr(enum log_level, const char *msg,
	    const struct log_field *, size_t);
/* Look at JOURNAL_STREAM and stderr again (done once on the first line). */
bool	log_journal_detect(void);
const char *log_sd_prefix(enum log_level);
/* JSON string escaping (RFC 8259), shared with harepdctl's JSON output. */
void	json_write_string(FILE *, const char *);

/*
 * A token bucket in thousandths of a line: `burst` lines at once, then
 * `per_s` a second.
 */
struct log_bucket {
	int64_t		 milli;		/* tokens x 1000 */
	int64_t		 last_ms;
	unsigned	 burst;
	unsigned	 per_s;
};

/*
 * How many lines one source (a worker) may have written (docs/HARDENING.md,
 * "Logs"): any level from `any`; an error that finds `any` empty may still
 * pass on its own allowance, so debug spam never hides a fence error.
 */
#define LOG_LIMIT_BURST		100
#define LOG_LIMIT_PER_S		20
#define LOG_LIMIT_ERR_BURST	20
#define LOG_LIMIT_ERR_PER_S	2

struct log_limit {
	struct log_bucket any;
	struct log_bucket err;
	unsigned long	 suppressed;	/* not yet reported */
	int64_t		 reported_ms;
};

void	log_bucket_init(struct log_bucket *, unsigned burst, unsigned per_s,
	    int64_t now_ms);
bool	log_bucket_take(struct log_bucket *, int64_t now_ms);
void	log_limit_init(struct log_limit *, int64_t now_ms);
/*
 * True: write the line. *report is then the number of lines left out
 * since the last report, to be said first (0: nothing to say; at most one
 * report a second, so a steady flood adds one line a second).
 */
bool	log_limit_take(struct log_limit *, enum log_level, int64_t now_ms,
	    unsigned long *report);
/* For a timer: lines left out and not yet reported, when a report is due
 * (then counted as reported), so the count of a flood that ended is said
 * without waiting for the source's next line. */
unsigned long log_limit_due(struct log_limit *, int64_t now_ms);

#endif
