/*
 * Reading and atomically replacing pg_hba.conf. A crash (kill -9, power
 * loss) at any point leaves either the old file or the new one under
 * the name PostgreSQL reads, never a torn or missing one: the new bytes
 * go to a temp file in the same directory (rename is atomic only within
 * one filesystem), are fsynced, renamed over the old name, and the
 * directory is fsynced so the rename itself survives a power loss.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/log.h"
#include "worker-hba/hba.h"

#define TEMP_TAG ".harepd-tmp."

static void
set_errno_err(char *err, size_t errlen, const char *what, const char *path)
{
	snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
}

int
hba_file_read(const char *path, struct hba_buf *b, struct stat *st,
    char *err, size_t errlen)
{
	char chunk[8192];
	ssize_t n;
	int fd;

	memset(b, 0, sizeof(*b));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		set_errno_err(err, errlen, "cannot open", path);
		return -1;
	}
	if (fstat(fd, st) == -1) {
		set_errno_err(err, errlen, "cannot stat", path);
		goto fail;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		goto fail;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			set_errno_err(err, errlen, "cannot read", path);
			goto fail;
		}
		if (b->len + (size_t)n > HBA_MAX_FILE) {
			snprintf(err, errlen, "%s is larger than %d bytes",
			    path, HBA_MAX_FILE);
			goto fail;
		}
		if (hba_buf_add(b, chunk, (size_t)n) == -1) {
			set_errno_err(err, errlen, "reading", path);
			goto fail;
		}
	}
	close(fd);
	if (b->data == NULL && hba_buf_add(b, "", 0) == -1) {
		set_errno_err(err, errlen, "reading", path);
		return -1;
	}
	return 0;
fail:
	close(fd);
	hba_buf_free(b);
	return -1;
}

/* dirname/basename without modifying path. */
static void
split_path(const char *path, char *dir, size_t dirlen, char *base,
    size_t baselen)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(dir, dirlen, "%s", dirname(tmp));
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(base, baselen, "%s", basename(tmp));
}

bool
hba_file_is_temp_name(const char *base, const char *name)
{
	size_t bl = strlen(base), tl = strlen(TEMP_TAG);

	return name[0] == '.' && strncmp(name + 1, base, bl) == 0 &&
	    strncmp(name + 1 + bl, TEMP_TAG, tl) == 0 &&
	    name[1 + bl + tl] != '\0';
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Same owner and mode as the file it replaces: PostgreSQL must read it. */
static int
match_owner(int fd, const struct stat *st)
{
	struct stat now;

	if (fstat(fd, &now) == -1)
		return -1;
	if ((now.st_uid != st->st_uid || now.st_gid != st->st_gid) &&
	    fchown(fd, st->st_uid, st->st_gid) == -1)
		return -1;
	return fchmod(fd, st->st_mode & 07777);
}

static int
open_temp(const char *dir, const char *base, char *tmp, size_t tmplen)
{
	static unsigned long counter;
	int fd;

	for (int tries = 0; tries < 100; tries++) {
		if ((size_t)snprintf(tmp, tmplen, "%s/.%s" TEMP_TAG "%ld.%lu",
		    dir, base, (long)getpid(), counter++) >= tmplen) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
		if (fd != -1 || errno != EEXIST)
			return fd;
	}
	return -1;
}

static int
fsync_dir(const char *dir)
{
	int fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Is path still the file that was read as st (same inode, size, mtime)? */
static bool
unchanged(const char *path, const struct stat *st)
{
	struct stat now;

	return stat(path, &now) == 0 && now.st_dev == st->st_dev &&
	    now.st_ino == st->st_ino && now.st_size == st->st_size &&
	    now.st_mtim.tv_sec == st->st_mtim.tv_sec &&
	    now.st_mtim.tv_nsec == st->st_mtim.tv_nsec;
}

static int
replace(const char *path, const char *data, size_t len,
    const struct stat *st, bool check, char *err, size_t errlen)
{
	char dir[PATH_MAX], base[NAME_MAX + 1], tmp[PATH_MAX + NAME_MAX + 64];
	int fd;

	split_path(path, dir, sizeof(dir), base, sizeof(base));
	if ((fd = open_temp(dir, base, tmp, sizeof(tmp))) == -1) {
		set_errno_err(err, errlen, "cannot create a temp file in", dir);
		return -1;
	}
	if (match_owner(fd, st) == -1 || write_all(fd, data, len) == -1 ||
	    fsync(fd) == -1) {
		set_errno_err(err, errlen, "cannot write", tmp);
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		set_errno_err(err, errlen, "cannot write", tmp);
		goto fail;
	}
	fd = -1;
	/*
	 * Someone (an operator's editor) wrote the file after it was read:
	 * renaming now would throw their edit away. Leave it; the caller
	 * reads again. (What lands between this stat and the rename is still
	 * lost: without a lock both sides share, the window is only made
	 * short.)
	 */
	if (check && !unchanged(path, st)) {
		snprintf(err, errlen, "%s changed while harepd was writing it",
		    path);
		unlink(tmp);
		return -2;
	}
	if (rename(tmp, path) == -1) {
		set_errno_err(err, errlen, "cannot rename the temp file to",
		    path);
		goto fail;
	}
	/*
	 * The new file is in place: a failure now only puts its durability
	 * across a power loss in doubt. Reporting it as a failed write would
	 * make the caller skip the reload of a file that is already there.
	 */
	if (fsync_dir(dir) == -1)
		log_warn("fsync of directory %s after replacing %s", dir, path);
	return 0;
fail:
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return -1;
}

int
hba_file_replace(const char *path, const char *data, size_t len,
    const struct stat *st, char *err, size_t errlen)
{
	return replace(path, data, len, st, false, err, errlen);
}

int
hba_file_replace_if_same(const char *path, const char *data, size_t len,
    const struct stat *st, char *err, size_t errlen)
{
	return replace(path, data, len, st, true, err, errlen);
}

int
hba_file_clean_stale(const char *path)
{
	char dir[PATH_MAX], base[NAME_MAX + 1];
	struct dirent *de;
	int n = 0, dfd;
	DIR *d;

	split_path(path, dir, sizeof(dir), base, sizeof(base));
	if ((d = opendir(dir)) == NULL)
		return -1;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL)
		if (hba_file_is_temp_name(base, de->d_name) &&
		    unlinkat(dfd, de->d_name, 0) == 0)
			n++;
	closedir(d);
	if (n > 0)
		fsync_dir(dir);
	return n;
}
