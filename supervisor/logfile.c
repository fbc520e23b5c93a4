/*
 * logs.filePath: JSON lines, rotated the way the seed's settings read.
 * The live file is always filePath itself (operators tail it; the old
 * unit touched and chowned it before start). Every rotationTime seconds
 * (periods aligned on the Unix epoch) it is renamed to
 * filePath.YYYYmmddHHMM, named after the start of the period it covers
 * in local time, and a fresh file is opened; rotated files last modified
 * more than maxAge seconds ago are deleted.
 *
 * Besides, the live file is rotated when it reaches max_bytes (a period
 * can have several rotated files then, named after the minute each was
 * rotated), and the oldest rotated files are deleted while together they
 * exceed keep_bytes, whatever maxAge says: a flood fills at most
 * max_bytes + keep_bytes (docs/HARDENING.md, "Logs").
 *
 * The path is opened with O_NOFOLLOW and O_NONBLOCK and must be a regular
 * file: the log directory may be writable by others, and a symlink there
 * must not send root's writes elsewhere, nor a FIFO hang the supervisor.
 *
 * Every function takes `now` so the unit tests drive the clock.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "supervisor/sup.h"
#include "util/xmalloc.h"

#define STAMP_LEN 12	/* YYYYmmddHHMM */

time_t
logfile_period(long rotation_s, time_t t)
{
	if (rotation_s <= 0)
		return 0;
	return t - (t % rotation_s + rotation_s) % rotation_s;
}

void
logfile_rotated_name(char *buf, size_t len, const char *path, time_t period)
{
	struct tm tm;
	char stamp[32];

	localtime_r(&period, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M", &tm);
	snprintf(buf, len, "%s.%s", path, stamp);
}

static void
say_why_not(char *why, size_t len, const char *path, const char *what)
{
	snprintf(why, len, "log file %s: %s", path, what);
}

static FILE *
open_append(const char *path, char *why, size_t whylen)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0640);
	struct stat st = { 0 };
	FILE *fp;

	if (fd == -1) {
		/* ELOOP: the last component is a symlink; ENXIO: a FIFO
		 * nobody reads (O_NONBLOCK: we are told instead of waiting) */
		say_why_not(why, whylen, path, errno == ELOOP ?
		    "is a symbolic link: refusing to follow it" : errno ==
		    ENXIO ? "is a FIFO or a device, not a regular file" :
		    strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		say_why_not(why, whylen, path, S_ISFIFO(st.st_mode) ?
		    "is a FIFO, not a regular file" :
		    "is not a regular file");
		close(fd);
		return NULL;
	}
	if ((fp = fdopen(fd, "a")) == NULL) {
		say_why_not(why, whylen, path, strerror(errno));
		close(fd);
		return NULL;
	}
	setvbuf(fp, NULL, _IOLBF, 0);
	return fp;
}

int
logfile_open(struct logfile *lf, const char *path, long rotation_s,
    long max_age_s, time_t now)
{
	struct stat st;

	memset(lf, 0, sizeof(*lf));
	lf->max_bytes = LOGFILE_MAX_BYTES;
	lf->keep_bytes = LOGFILE_KEEP_BYTES;
	if ((lf->path = strdup(path)) == NULL)
		return -1;
	lf->rotation_s = rotation_s > 0 ? rotation_s : 0;
	lf->max_age_s = max_age_s > 0 ? max_age_s : 0;
	if ((lf->fp = open_append(path, lf->why, sizeof(lf->why))) == NULL) {
		free(lf->path);
		lf->path = NULL;
		return -1;
	}
	/* a file left from an earlier period (or by the Go harepd) is that
	 * period's: rotate it on the first write */
	lf->period = logfile_period(lf->rotation_s, now);
	if (fstat(fileno(lf->fp), &st) == 0 && st.st_size > 0) {
		lf->period = logfile_period(lf->rotation_s, st.st_mtime);
		lf->size = st.st_size;
	}
	return 0;
}

void
logfile_close(struct logfile *lf)
{
	if (lf->fp != NULL)
		fclose(lf->fp);
	free(lf->path);
	memset(lf, 0, sizeof(*lf));
}

int
logfile_reopen(struct logfile *lf)
{
	struct stat st;
	FILE *fp;

	if (lf->fp == NULL)
		return 0;
	fflush(lf->fp);
	if ((fp = open_append(lf->path, lf->why, sizeof(lf->why))) == NULL)
		return -1;
	fclose(lf->fp);
	lf->fp = fp;
	/* someone else's file there counts towards max_bytes too */
	lf->size = fstat(fileno(fp), &st) == 0 ? st.st_size : 0;
	return 0;
}

static int
rotate_to(struct logfile *lf, const char *rotated)
{
	FILE *fp;

	fflush(lf->fp);
	if (rename(lf->path, rotated) == -1)
		return -1;
	if ((fp = open_append(lf->path, lf->why, sizeof(lf->why))) == NULL)
		return -1;	/* keep writing to the renamed file */
	fclose(lf->fp);
	lf->fp = fp;
	lf->size = 0;
	return 0;
}

int
logfile_rotate(struct logfile *lf, time_t now)
{
	char rotated[4096];

	logfile_rotated_name(rotated, sizeof(rotated), lf->path, lf->period);
	if (rotate_to(lf, rotated) == -1)
		return -1;
	lf->period = logfile_period(lf->rotation_s, now);
	return 0;
}

/* Full: named after this minute; the period goes on in the new file. */
int
logfile_rotate_full(struct logfile *lf, time_t now)
{
	char rotated[4096];

	logfile_rotated_name(rotated, sizeof(rotated), lf->path,
	    now - now % 60);
	return rotate_to(lf, rotated);
}

/* "<base>.YYYYmmddHHMM": one of ours, the only files prune may touch. */
static bool
is_rotated_name(const char *name, const char *base)
{
	size_t bl = strlen(base);

	if (strncmp(name, base, bl) != 0 || name[bl] != '.' ||
	    strlen(name + bl + 1) != STAMP_LEN)
		return false;
	for (const char *p = name + bl + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

struct rotated {
	char	 name[256];
	off_t	 size;
	time_t	 mtime;
};

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct rotated *)a)->name,
	    ((const struct rotated *)b)->name);
}

/* Our rotated files in dn, oldest first (the stamp sorts by time). */
static size_t
list_rotated(const char *dn, const char *b, struct rotated **out)
{
	char full[8192];
	struct dirent *de;
	struct stat st;
	size_t n = 0, cap = 0;
	DIR *d;

	*out = NULL;
	if ((d = opendir(dn)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		snprintf(full, sizeof(full), "%s/%s", dn, de->d_name);
		if (!is_rotated_name(de->d_name, b) || lstat(full, &st) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			*out = xreallocarray(*out, cap, sizeof(**out));
		}
		snprintf((*out)[n].name, sizeof((*out)[n].name), "%s",
		    de->d_name);
		(*out)[n].size = st.st_size;
		(*out)[n++].mtime = st.st_mtime;
	}
	closedir(d);
	if (n > 1)	/* qsort(NULL, 0) is undefined */
		qsort(*out, n, sizeof(**out), by_name);
	return n;
}

int
logfile_prune(const struct logfile *lf, time_t now)
{
	char dir[4096], base[4096], full[8192];
	struct rotated *r;
	long long total = 0;
	int removed = 0;
	size_t n;

	snprintf(dir, sizeof(dir), "%s", lf->path);
	snprintf(base, sizeof(base), "%s", lf->path);
	const char *dn = dirname(dir), *b = basename(base);

	n = list_rotated(dn, b, &r);
	for (size_t i = 0; i < n; i++)
		total += r[i].size;
	for (size_t i = 0; i < n; i++) {
		bool old = lf->max_age_s > 0 && now - r[i].mtime > lf->max_age_s;
		bool over = lf->keep_bytes > 0 && total > lf->keep_bytes;

		if (!old && !over)
			continue;
		snprintf(full, sizeof(full), "%s/%s", dn, r[i].name);
		if (unlink(full) == 0) {
			removed++;
			total -= r[i].size;
		}
	}
	free(r);
	return removed;
}

void
logfile_write(struct logfile *lf, time_t now, enum log_level lvl,
    const char *msg, const struct log_field *f, size_t n)
{
	if (lf->fp == NULL)
		return;
	if (lf->rotation_s > 0 &&
	    logfile_period(lf->rotation_s, now) != lf->period) {
		if (logfile_rotate(lf, now) == 0)
			(void)logfile_prune(lf, now);
		else	/* try again next period rather than on every line */
			lf->period = logfile_period(lf->rotation_s, now);
	}
	if (lf->max_bytes > 0 && lf->size >= lf->max_bytes) {
		if (logfile_rotate_full(lf, now) == 0)
			(void)logfile_prune(lf, now);
		else	/* try again after another max_bytes, not every line */
			lf->size = 0;
	}
	log_write_json(lf->fp, lvl, msg, f, n);
	lf->size = ftello(lf->fp);
}

void
logfile_sink(enum log_level lvl, const char *msg, const struct log_field *f,
    size_t n, void *arg)
{
	struct logfile *lf = arg;

	log_write_stderr(lvl, msg, f, n);
	if (lf != NULL)
		logfile_write(lf, time(NULL), lvl, msg, f, n);
}
