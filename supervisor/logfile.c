/*
 * logs.filePath: JSON lines, rotated the way the seed's settings read.
 * The live file is always filePath itself (operators tail it; the old
 * unit touched and chowned it before start). Every rotationTime seconds
 * (periods aligned on the Unix epoch) it is renamed to
 * filePath.YYYYmmddHHMM, named after the start of the period it covers
 * in local time, and a fresh file is opened; rotated files last modified
 * more than maxAge seconds ago are deleted.
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

static FILE *
open_append(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0640);
	FILE *fp;

	if (fd == -1)
		return NULL;
	if ((fp = fdopen(fd, "a")) == NULL) {
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
	if ((lf->path = strdup(path)) == NULL)
		return -1;
	lf->rotation_s = rotation_s > 0 ? rotation_s : 0;
	lf->max_age_s = max_age_s > 0 ? max_age_s : 0;
	if ((lf->fp = open_append(path)) == NULL) {
		free(lf->path);
		lf->path = NULL;
		return -1;
	}
	/* a file left from an earlier period (or by the Go harepd) is that
	 * period's: rotate it on the first write */
	lf->period = logfile_period(lf->rotation_s, now);
	if (fstat(fileno(lf->fp), &st) == 0 && st.st_size > 0)
		lf->period = logfile_period(lf->rotation_s, st.st_mtime);
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
logfile_rotate(struct logfile *lf, time_t now)
{
	char rotated[4096];
	FILE *fp;

	logfile_rotated_name(rotated, sizeof(rotated), lf->path, lf->period);
	fflush(lf->fp);
	if (rename(lf->path, rotated) == -1)
		return -1;
	if ((fp = open_append(lf->path)) == NULL)
		return -1;	/* keep writing to the renamed file */
	fclose(lf->fp);
	lf->fp = fp;
	lf->period = logfile_period(lf->rotation_s, now);
	return 0;
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

int
logfile_prune(const struct logfile *lf, time_t now)
{
	char dir[4096], base[4096], full[8192];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int removed = 0;

	if (lf->max_age_s <= 0)
		return 0;
	snprintf(dir, sizeof(dir), "%s", lf->path);
	snprintf(base, sizeof(base), "%s", lf->path);
	const char *dn = dirname(dir), *b = basename(base);

	if ((d = opendir(dn)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!is_rotated_name(de->d_name, b))
			continue;
		snprintf(full, sizeof(full), "%s/%s", dn, de->d_name);
		if (lstat(full, &st) == 0 && S_ISREG(st.st_mode) &&
		    now - st.st_mtime > lf->max_age_s && unlink(full) == 0)
			removed++;
	}
	closedir(d);
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
	log_write_json(lf->fp, lvl, msg, f, n);
}

void
logfile_sink(enum log_level lvl, const char *msg, const struct log_field *f,
    size_t n, void *arg)
{
	struct logfile *lf = arg;
	char *line = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&line, &len);

	/* one write per line: workers share this stderr, and a line written
	 * piecemeal would interleave with theirs */
	if (mem != NULL) {
		log_write_json(mem, lvl, msg, f, n);
		if (fclose(mem) == 0 && write(STDERR_FILENO, line, len) < 0) {
			/* nowhere left to say it */
		}
		free(line);
	}
	if (lf != NULL)
		logfile_write(lf, time(NULL), lvl, msg, f, n);
}
