/*
 * The last verdict, kept in the run directory (next to the control
 * socket) so that a restart of the whole daemon never lengthens a lease.
 * A restarted hba worker is handed the last verdict with the time it was
 * decided; when the supervisor itself restarts, this file is where that
 * verdict comes from. Without it, the allow on disk would get a fresh
 * lease from the new hba worker's start, which no peer can see coming
 * (docs/POLICY.md, "Why this is safe").
 *
 * The decision time is CLOCK_BOOTTIME, which means nothing after a
 * reboot: the record names the boot it belongs to (the kernel's boot_id)
 * and is ignored from another one. With no usable record, the verdict in
 * force is unknown and is handed over as already expired: the hba worker
 * fences at once, and the probe's first verdict lifts the fence.
 *
 * The file is a few "key=value" lines, written to a temporary file and
 * renamed, so a crash mid-write leaves the previous record or none.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/sup.h"

#define BOOT_ID_PATH	"/proc/sys/kernel/random/boot_id"
#define BOOT_ID_LEN	36
#define RECORD_MAGIC	"harepd-last-verdict 1"

static int
boot_id(char out[BOOT_ID_LEN + 1])
{
	FILE *f = fopen(BOOT_ID_PATH, "re");
	int ok;

	if (f == NULL)
		return -1;
	ok = fgets(out, BOOT_ID_LEN + 1, f) != NULL &&
	    strlen(out) == BOOT_ID_LEN;
	fclose(f);
	return ok ? 0 : -1;
}

int
verdict_record_save(const char *path, const Harepd__Verdict *v)
{
	char id[BOOT_ID_LEN + 1], tmp[PATH_MAX];
	FILE *f;
	int fd, bad;

	if (boot_id(id) == -1)
		return -1;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1 || (f = fdopen(fd, "w")) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	fprintf(f, RECORD_MAGIC "\nboot_id=%s\nseq=%" PRIu64
	    "\ndecided_boot_ms=%" PRId64 "\ndecided_at_ms=%" PRId64
	    "\nlease_ms=%" PRIu32 "\nrw_allow=%d\nro_allow=%d\n", id, v->seq,
	    v->decided_boot_ms, v->decided_at_ms, v->lease_ms, v->rw_allow ? 1 : 0, v->ro_allow ? 1 : 0);
	bad = ferror(f);
	if (fclose(f) != 0 || bad || rename(tmp, path) == -1) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The record's fields into v; -1 with why on anything unexpected. */
static int
parse_record(FILE *f, Harepd__Verdict *v, char *why, size_t whylen)
{
	char line[128], id[BOOT_ID_LEN + 1], rec_id[BOOT_ID_LEN + 2] = "";
	int rw = -1, ro = -1, n = 0;
	unsigned long long seq = 0;
	long long decided = 0, wall = 0;
	unsigned long lease = 0;

	if (fgets(line, sizeof(line), f) == NULL ||
	    strcmp(line, RECORD_MAGIC "\n") != 0) {
		snprintf(why, whylen, "not a harepd verdict record");
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		n += sscanf(line, "boot_id=%37s", rec_id) == 1;
		n += sscanf(line, "seq=%llu", &seq) == 1;
		n += sscanf(line, "decided_boot_ms=%lld", &decided) == 1;
		n += sscanf(line, "decided_at_ms=%lld", &wall) == 1;
		n += sscanf(line, "lease_ms=%lu", &lease) == 1;
		n += sscanf(line, "rw_allow=%d", &rw) == 1;
		n += sscanf(line, "ro_allow=%d", &ro) == 1;
	}
	if (n != 7 || decided <= 0 || lease > UINT32_MAX ||
	    (rw != 0 && rw != 1) || (ro != 0 && ro != 1)) {
		snprintf(why, whylen, "malformed (%d of 7 fields)", n);
		return -1;
	}
	if (boot_id(id) == -1 || strcmp(id, rec_id) != 0) {
		snprintf(why, whylen, "written before the last reboot");
		return -1;
	}
	v->seq = seq;
	v->decided_boot_ms = decided;
	v->decided_at_ms = wall;	/* for status only */
	v->lease_ms = (uint32_t)lease;
	v->rw_allow = rw;
	v->ro_allow = ro;
	return 0;
}

/* v as an envelope the router owns (ipc_free), as if a probe sent it. */
static ipc_envelope *
as_envelope(Harepd__Verdict *v)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	ipc_envelope *out = NULL;
	size_t len;
	uint8_t *buf;

	env.body_case = HAREPD__ENVELOPE__BODY_VERDICT;
	env.verdict = v;
	len = harepd__envelope__get_packed_size(&env);
	if ((buf = malloc(len)) == NULL)
		return NULL;
	harepd__envelope__pack(&env, buf);
	if (ipc_decode(buf, len, &out, NULL, 0) != IPC_OK)
		out = NULL;
	free(buf);
	return out;
}

ipc_envelope *
verdict_record_load(const char *path, bool *found, char *why, size_t whylen)
{
	Harepd__Verdict v;
	FILE *f;
	int rc;

	/* the function, not the macro: clang's -Wcast-qual flags the
	 * macro's cast of the empty string */
	harepd__verdict__init(&v);
	*found = false;
	v.reason = "no usable record of the last verdict: treated as expired";
	v.policy = "";
	v.lease_ms = 1;
	v.decided_boot_ms = 1;
	if ((f = fopen(path, "re")) == NULL) {
		snprintf(why, whylen, "%s", strerror(errno));
		return as_envelope(&v);
	}
	rc = parse_record(f, &v, why, whylen);
	fclose(f);
	if (rc == 0) {
		*found = true;
		v.reason = "the last verdict before harepd restarted";
	}
	return as_envelope(&v);
}
