/*
 * `harepd -f CONF --print-hba rw=allow|deny[,ro=allow|deny]`: the file
 * harepd would write for that verdict, on stdout, touching nothing. It is
 * the operator's dry run and the core's black-box interface (tests/hba/).
 */
#include <stdio.h>
#include <string.h>

#include "worker-hba/hba.h"

#define EX_PRINT_USAGE	64	/* sysexits.h EX_USAGE: bad spec */
#define EX_PRINT_FAIL	1	/* unreadable file, damaged block */

static int
parse_value(const char *v, size_t n, bool *out)
{
	if (n == 5 && memcmp(v, "allow", 5) == 0)
		*out = true;
	else if (n == 4 && memcmp(v, "deny", 4) == 0)
		*out = false;
	else
		return -1;
	return 0;
}

/*
 * Without ro=, ro follows rw: rw=allow is "this node is the primary"
 * (seed rule 2 allows ro too), rw=deny is read as the fence.
 */
int
hba_parse_spec(const char *spec, struct hba_verdict *v, char *err,
    size_t errlen)
{
	bool seen_rw = false, seen_ro = false, *val, *seen;
	const char *p = spec, *end, *eq;

	for (;;) {
		end = p + strcspn(p, ",");
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq != NULL && eq - p == 2 && memcmp(p, "rw", 2) == 0)
			val = &v->rw_allow, seen = &seen_rw;
		else if (eq != NULL && eq - p == 2 && memcmp(p, "ro", 2) == 0)
			val = &v->ro_allow, seen = &seen_ro;
		else
			goto bad;
		if (*seen || parse_value(eq + 1, (size_t)(end - eq - 1),
		    val) == -1)
			goto bad;
		*seen = true;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	if (!seen_rw)
		goto bad;
	if (!seen_ro)
		v->ro_allow = v->rw_allow;
	return 0;
bad:
	snprintf(err, errlen, "bad verdict \"%s\": expected "
	    "rw=allow|deny[,ro=allow|deny]", spec);
	return -1;
}

int
hba_print_main(const struct conf *c, const char *spec)
{
	struct hba_verdict v = { 0 };
	struct hba_buf in, out;
	char err[1024];
	struct stat st;
	int rc;

	if (hba_parse_spec(spec, &v, err, sizeof(err)) == -1) {
		fprintf(stderr, "harepd: --print-hba: %s\n", err);
		return EX_PRINT_USAGE;
	}
	if (!c->allow_ro && strstr(spec, "ro=") != NULL)
		fprintf(stderr, "harepd: --print-hba: allowRO is off, so ro= "
		    "changes nothing\n");
	if (hba_file_read(c->hba_config, &in, &st, err, sizeof(err)) == -1) {
		fprintf(stderr, "harepd: --print-hba: %s\n", err);
		return EX_PRINT_FAIL;
	}
	rc = hba_rewrite(in.data, in.len, c, v, &out, err, sizeof(err));
	hba_buf_free(&in);
	if (rc == -1) {
		fprintf(stderr, "harepd: --print-hba: %s: %s\n", c->hba_config,
		    err);
		return EX_PRINT_FAIL;
	}
	if ((rc = hba_rule_above_block(out.data, out.len)) > 0)
		fprintf(stderr, "harepd: --print-hba: warning: line %d, above "
		    "harepd's block, may match the check users first\n", rc);
	rc = fwrite(out.data, 1, out.len, stdout) == out.len &&
	    fflush(stdout) == 0 ? 0 : EX_PRINT_FAIL;
	if (rc != 0)
		perror("harepd: --print-hba: stdout");
	hba_buf_free(&out);
	return rc;
}
