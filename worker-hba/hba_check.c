/*
 * `harepd -t`, the database half: what the hba worker would find on its
 * first connection (the privileges its role lacks, hba_file not being
 * hbaConfig), said before harepd runs. Asked only of a local database (a
 * unix socket directory, a loopback address, libpq's default): the one
 * the hba worker reloads, and the only kind a config check should dial.
 * harepd.c runs it as privsep.postgresUser, as the worker connects.
 */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/addr.h"
#include "worker-hba/hba.h"

bool
hba_check_is_local(const char *host)
{
	return host == NULL || host[0] == '\0' || host[0] == '/' ||
	    host[0] == '@' || addr_is_loopback(host);
}

/*
 * The server answered and refused us (authentication, no such role or
 * database): that is a setup mistake, said with the line that fixes it.
 * A server that is not running says nothing here: -t may well be run
 * before PostgreSQL is, and the hba worker waits for it anyway.
 */
static void
connect_refused(const struct conf *c, const char *err, int fd)
{
	struct passwd *pw = getpwuid(geteuid());
	char line[512];

	if (strstr(err, "FATAL:") == NULL &&
	    strstr(err, "no password supplied") == NULL)
		return;
	snprintf(line, sizeof(line), "%s", err);
	for (char *p = line; *p != '\0'; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	for (size_t n = strlen(line); n > 0 && line[n - 1] == ' '; n--)
		line[n - 1] = '\0';
	dprintf(fd, "repmgr.user: OS user %s cannot connect to database %s "
	    "as %s: %s; the probe and the hba worker connect this way: "
	    "docs/HBA.md, \"Connecting\" has the pg_hba.conf line "
	    "(peer with a map in pg_ident.conf)\n", pw != NULL ?
	    pw->pw_name : "?", c->repmgr_db, c->repmgr_user, line);
}

void
hba_check_database(const struct conf *c, int fd)
{
	struct hba_pg *pg = hba_pg_new(c);
	char err[512], real[PATH_MAX], edited[PATH_MAX];
	const char *shown;

	if (pg == NULL)
		return;
	if (hba_pg_connect(pg, err, sizeof(err)) == -1) {
		connect_refused(c, err, fd);
		hba_pg_free(pg);
		return;
	}
	if (hba_pg_recheck(pg, err, sizeof(err)) != 1) {
		hba_pg_free(pg);
		return;
	}
	if (hba_pg_privileges(pg)[0] != '\0')
		dprintf(fd, "repmgr.user: %s\n", hba_pg_privileges(pg));
	if (c->hba_config != NULL && (shown = hba_pg_hba_file(pg)) != NULL &&
	    realpath(c->hba_config, edited) != NULL) {
		if (realpath(shown, real) == NULL)
			snprintf(real, sizeof(real), "%s", shown);
		if (strcmp(real, edited) != 0)
			dprintf(fd, "harepd.hbaConfig: PostgreSQL reads %s, not "
			    "%s: the checks would validate the wrong file and "
			    "reloads not apply harepd's rules\n", shown,
			    c->hba_config);
	}
	hba_pg_free(pg);
}
