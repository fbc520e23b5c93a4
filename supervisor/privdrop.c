/*
 * What a worker's child does between fork and exec, in the order bgpd and
 * relayd use: groups, gids, uids, then (Linux) every capability set and
 * no_new_privs. Like OpenSSH's permanently_set_uid() it then tries to get
 * root back and refuses to go on if it can.
 *
 * Runs in the child of a single-threaded supervisor: it may use libc
 * freely but must not touch the supervisor's log file or exit(); errors
 * go back to the caller, which writes them to stderr and _exit()s.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <signal.h>

#include "supervisor/sup.h"

static void
set_identity(struct privdrop *pd, const char *user, const char *home)
{
	snprintf(pd->user, sizeof(pd->user), "%s", user);
	snprintf(pd->home, sizeof(pd->home), "%s",
	    home != NULL && home[0] == '/' ? home : "/");
}

int
privdrop_prepare(struct privdrop *pd, const char *user, char *why,
    size_t whylen)
{
	extern char **environ;
	struct passwd *pw;

	memset(pd, 0, sizeof(*pd));
	pd->parent = getpid();
	pd->drop = (geteuid() == 0);
	pd->uid = geteuid();
	pd->gid = getegid();
	if (!pd->drop) {
		/* nothing to switch to: the worker runs as we do */
		pw = getpwuid(pd->uid);
		set_identity(pd, pw != NULL ? pw->pw_name : user,
		    pw != NULL ? pw->pw_dir : NULL);
		privdrop_env(pd, environ);
		return 0;
	}
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(why, whylen, "unknown user \"%s\"%s%s", user,
		    errno ? ": " : "", errno ? strerror(errno) : "");
		return -1;
	}
	if (pw->pw_uid == 0) {
		/* a worker as root would defeat the whole separation */
		snprintf(why, whylen, "user \"%s\" is root: refusing to run "
		    "a worker with uid 0", user);
		return -1;
	}
	pd->uid = pw->pw_uid;
	pd->gid = pw->pw_gid;
	set_identity(pd, pw->pw_name, pw->pw_dir);
	privdrop_env(pd, environ);
	return 0;
}

/* What a worker may take from the supervisor's environment: the time
 * zone its log stamps use, whether stderr is the journal's (its own
 * lines there, once the supervisor is gone, keep their priority), and
 * the sanitizers' settings of a test build. */
static const char *const env_kept[] = {
	"TZ", "JOURNAL_STREAM", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
};

static void
env_add(struct privdrop *pd, size_t *n, size_t *used, const char *name,
    const char *value)
{
	size_t room = sizeof(pd->envbuf) - *used;
	int len;

	if (*n >= PRIVDROP_ENV_MAX)
		return;
	len = snprintf(pd->envbuf + *used, room, "%s=%s", name, value);
	if (len < 0 || (size_t)len >= room)
		return;	/* too long for a worker: left out */
	pd->env[(*n)++] = pd->envbuf + *used;
	*used += (size_t)len + 1;
}

static const char *
env_find(char *const *from, const char *name)
{
	size_t nl = strlen(name);

	for (; from != NULL && *from != NULL; from++)
		if (strncmp(*from, name, nl) == 0 && (*from)[nl] == '=')
			return *from + nl + 1;
	return NULL;
}

void
privdrop_env(struct privdrop *pd, char *const *from)
{
	size_t n = 0, used = 0;
	const char *v;

	env_add(pd, &n, &used, "PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
	env_add(pd, &n, &used, "HOME", pd->home);
	env_add(pd, &n, &used, "USER", pd->user);
	env_add(pd, &n, &used, "LOGNAME", pd->user);
	for (size_t i = 0; i < sizeof(env_kept) / sizeof(env_kept[0]); i++)
		if ((v = env_find(from, env_kept[i])) != NULL)
			env_add(pd, &n, &used, env_kept[i], v);
	pd->env[n] = NULL;
}

/* Empties the bounding set while CAP_SETPCAP is still ours (before setuid). */
static void
drop_bounding_set(void)
{
	for (int c = 0; prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0; c++)
		(void)prctl(PR_CAPBSET_DROP, c, 0, 0, 0);	/* best effort */
}

static int
switch_ids(const struct privdrop *pd, char *why, size_t whylen)
{
	if (setgroups(1, &pd->gid) == -1) {
		snprintf(why, whylen, "setgroups: %s", strerror(errno));
		return -1;
	}
	if (setresgid(pd->gid, pd->gid, pd->gid) == -1) {
		snprintf(why, whylen, "setresgid(%u): %s", (unsigned)pd->gid,
		    strerror(errno));
		return -1;
	}
	drop_bounding_set();
	if (setresuid(pd->uid, pd->uid, pd->uid) == -1) {
		snprintf(why, whylen, "setresuid(%u): %s", (unsigned)pd->uid,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
clear_capabilities(char *why, size_t whylen)
{
	cap_t none;
	int rc;

	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if ((none = cap_init()) == NULL) {
		snprintf(why, whylen, "cap_init: %s", strerror(errno));
		return -1;
	}
	rc = cap_set_proc(none);
	if (rc == -1)
		snprintf(why, whylen, "cap_set_proc: %s", strerror(errno));
	cap_free(none);
	return rc;
}

/* OpenSSH uidswap.c: if root can be had back, the drop did not happen. */
static int
prove_dropped(const struct privdrop *pd, char *why, size_t whylen)
{
	if (!pd->drop)
		return 0;
	if (setuid(0) != -1 || seteuid(0) != -1 || setresuid(-1, 0, -1) != -1) {
		snprintf(why, whylen, "could regain uid 0 after the drop");
		return -1;
	}
	if (pd->gid != 0 && (setgid(0) != -1 || setegid(0) != -1)) {
		snprintf(why, whylen, "could regain gid 0 after the drop");
		return -1;
	}
	if (getuid() != pd->uid || geteuid() != pd->uid ||
	    getgid() != pd->gid || getegid() != pd->gid) {
		snprintf(why, whylen, "ids are not the intended ones");
		return -1;
	}
	return 0;
}

int
privdrop_apply(const struct privdrop *pd, char *why, size_t whylen)
{
	if (pd->drop && switch_ids(pd, why, whylen) == -1)
		return -1;
	if (clear_capabilities(why, whylen) == -1)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		snprintf(why, whylen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	/* after setresuid: a credential change clears the death signal */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) == -1) {
		snprintf(why, whylen, "PR_SET_PDEATHSIG: %s", strerror(errno));
		return -1;
	}
	if (getppid() != pd->parent) {
		snprintf(why, whylen, "the supervisor died during start");
		return -1;
	}
	return prove_dropped(pd, why, whylen);
}
