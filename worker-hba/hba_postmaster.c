/*
 * The postmaster of the local PostgreSQL, found from the files it keeps,
 * without asking it anything: its data directory holds postmaster.pid,
 * whose first line is its pid (PostgreSQL's own pg_ctl reads it the same
 * way for `pg_ctl reload`, which is a SIGHUP to that pid).
 *
 * The hba worker runs as the owner of pg_hba.conf, normally the OS user
 * PostgreSQL runs as, so it may signal the postmaster and read its /proc
 * entries. A role without pg_read_all_settings cannot ask for
 * data_directory; every role may ask pg_backend_pid(), and a backend's
 * parent is the postmaster, whose working directory is the data
 * directory (the postmaster chdir()s there at start).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker-hba/hba.h"

long
hba_postmaster_pid(const char *data_dir)
{
	char path[PATH_MAX + 32], line[32];
	FILE *f;
	long pid;

	if (data_dir == NULL || data_dir[0] == '\0')
		return -1;
	snprintf(path, sizeof(path), "%s/postmaster.pid", data_dir);
	if ((f = fopen(path, "re")) == NULL)
		return errno == ENOENT ? 0 : -1;
	pid = fgets(line, sizeof(line), f) != NULL ? strtol(line, NULL, 10) :
	    0;
	fclose(f);
	return pid > 0 ? pid : -1;
}

/* PPid: of /proc/<pid>/status, -1 when unknown. */
static long
parent_of(long pid)
{
	char path[64], line[128];
	long ppid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "PPid:", 5) == 0) {
			ppid = strtol(line + 5, NULL, 10);
			break;
		}
	fclose(f);
	return ppid;
}

int
hba_postmaster_dir_of_backend(long backend_pid, char *dir, size_t dirlen)
{
	char link[64], target[PATH_MAX];
	long ppid;
	ssize_t n;

	if (backend_pid <= 0 || (ppid = parent_of(backend_pid)) <= 1)
		return -1;
	snprintf(link, sizeof(link), "/proc/%ld/cwd", ppid);
	if ((n = readlink(link, target, sizeof(target) - 1)) <= 0)
		return -1;
	target[n] = '\0';
	/*
	 * The backend may be on another host (repmgr.host remote) and the
	 * pid here someone else's: only a directory whose postmaster.pid
	 * names that very parent is taken.
	 */
	if (hba_postmaster_pid(target) != ppid)
		return -1;
	snprintf(dir, dirlen, "%s", target);
	return 0;
}

int
hba_postmaster_sighup(const char *data_dir, char *err, size_t errlen)
{
	long pid = hba_postmaster_pid(data_dir);

	if (data_dir == NULL || data_dir[0] == '\0') {
		snprintf(err, errlen, "the data directory is not known");
		return -1;
	}
	if (pid <= 0) {
		snprintf(err, errlen, "no postmaster.pid in %s", data_dir);
		return -1;
	}
	if (kill((pid_t)pid, SIGHUP) == -1) {
		snprintf(err, errlen, "SIGHUP to the postmaster (pid %ld, %s): "
		    "%s", pid, data_dir, strerror(errno));
		return -1;
	}
	return 0;
}
