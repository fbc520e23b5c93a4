/*
 * `harepd -f CONF --print-hba rw=allow|deny[,ro=allow|deny]`: the file
 * harepd would write for that verdict, on stdout, touching nothing. It is
 * the operator's dry run and the core's black-box interface (tests/hba/).
 */
#include <stdio.h>
#include <string.h>

#include "supervisor/harepd.h"
#include "worker-hba/hba.h"

#define EX_PRINT_USAGE	64	/* sysexits.h EX_USAGE: bad spec */
#define EX_PRINT_FAIL	1	/* unreadable file, damaged block */

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
