/*
 * What can make harepd's fence ineffective without any write failing,
 * checked again on every apply (the file is read then anyway, and the
 * database asked only on a connection already open): a rule above the
 * block that matches first, PostgreSQL reading another file than the one
 * harepd edits (hba_file, or a symlink retargeted since start), a role
 * that cannot validate or reload. Each is a warning carried by every
 * HbaApplied to `harepdctl status`, and logged when it appears, changes
 * or goes away.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/ipc.h"
#include "ipc/log.h"
#include "worker-hba/hba.h"

static const char *const warn_name[HBA_WARN_COUNT] = {
	[HBA_WARN_PRIVILEGES] = "privileges",
	[HBA_WARN_HBA_FILE] = "hba_file",
	[HBA_WARN_PATH] = "hbaConfig",
	[HBA_WARN_RULE_ABOVE] = "rule above the block",
};

void
hba_warn_set(struct hba_warnings *w, enum hba_warn_kind k, const char *text)
{
	char now[HBA_WARN_LEN];

	snprintf(now, sizeof(now), "%s", text);
	ipc_utf8_scrub(now);	/* PostgreSQL's text: legal in proto */
	if (strcmp(w->text[k], now) == 0)
		return;
	if (now[0] != '\0')
		/* any of these can leave a deny not in effect */
		log_emit(LOG_LVL_ERROR, (struct log_field[]){
		    { "check", warn_name[k] } }, 1, "%s", now);
	else
		log_emit(LOG_LVL_INFO, (struct log_field[]){
		    { "check", warn_name[k] } }, 1, "resolved: %s",
		    w->text[k]);
	memcpy(w->text[k], now, sizeof(now));
}

size_t
hba_warnings_list(struct hba_warnings *w, char **out)
{
	size_t n = 0;

	for (int k = 0; k < HBA_WARN_COUNT; k++)
		if (w->text[k][0] != '\0')
			out[n++] = w->text[k];
	return n;
}

/*
 * The bytes the apply read (or would write: a first adoption puts the
 * block on top): a rule above the block that can match a TCP login
 * decides before it. A damaged block is the apply's own error.
 */
void
hba_watch_file(struct hba_warnings *w, const char *path, const char *bytes,
    size_t len)
{
	char msg[HBA_WARN_LEN] = "";
	int n;

	if ((n = hba_rule_above_block(bytes, len)) > 0)
		snprintf(msg, sizeof(msg), "%.300s: line %d, above harepd's block, "
		    "may match the check users first (pg_hba.conf is "
		    "first-match): move the block above it", path, n);
	hba_warn_set(w, HBA_WARN_RULE_ABOVE, msg);
}

/* hbaConfig is resolved once (at start or reload): still the same file? */
void
hba_watch_path(struct hba_warnings *w, const char *configured,
    const char *edited)
{
	char real[PATH_MAX], msg[HBA_WARN_LEN] = "";

	if (realpath(configured, real) != NULL && strcmp(real, edited) != 0)
		snprintf(msg, sizeof(msg), "hbaConfig %.300s now leads to "
		    "%.300s, but harepd edits %.300s (resolved at start): reload or restart "
		    "harepd", configured, real, edited);
	hba_warn_set(w, HBA_WARN_PATH, msg);
}

/*
 * pg_hba_file_rules reads the file hba_file names: if that is not ours,
 * the check validates another file and a reload does not load ours.
 */
void
hba_watch_pg(struct hba_warnings *w, struct hba_pg *pg, const char *edited)
{
	char real[PATH_MAX], err[512], msg[HBA_WARN_LEN] = "";
	const char *shown;
	int rc;

	if ((rc = hba_pg_recheck(pg, err, sizeof(err))) == 0 ||
	    (rc == -1 && !hba_pg_connected(pg)))
		return;		/* not connected, or no longer */
	if (rc == -1) {
		snprintf(msg, sizeof(msg), "%.500s: harepd cannot tell whether "
		    "PostgreSQL reads %.300s", err, edited);
		hba_warn_set(w, HBA_WARN_HBA_FILE, msg);
		return;
	}
	hba_warn_set(w, HBA_WARN_PRIVILEGES, hba_pg_privileges(pg));
	if ((shown = hba_pg_hba_file(pg)) == NULL)
		snprintf(msg, sizeof(msg), "SHOW hba_file refused (role "
		    "\"%.100s\" lacks pg_read_all_settings): harepd cannot tell "
		    "whether PostgreSQL reads %.300s", hba_pg_role(pg), edited);
	else {
		if (realpath(shown, real) == NULL)
			snprintf(real, sizeof(real), "%s", shown);
		if (strcmp(real, edited) != 0)
			snprintf(msg, sizeof(msg), "PostgreSQL reads %.300s but "
			    "harepd edits %.300s: the checks validate the wrong "
			    "file and reloads do not apply harepd's rules; fix "
			    "harepd.hbaConfig or hba_file", shown, edited);
	}
	hba_warn_set(w, HBA_WARN_HBA_FILE, msg);
}
