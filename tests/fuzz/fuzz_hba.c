/*
 * The pg_hba.conf reader and block locator (worker-hba/hba_block.c):
 * the file's bytes as the hba worker reads them (not NUL-terminated),
 * through hba_find_block(), hba_rule_above_block(),
 * hba_current_verdict() and hba_rewrite().
 *
 * Input: byte 0 bits 0-1 the configuration (below), bit 2 rw allowed,
 * bit 3 ro allowed; the rest is the file.
 *
 * A rewrite that succeeds must give what tests/unit/test_hba_block.c
 * asserts of every sample: a block that is found and read back as the
 * verdict written, a fixed point (rewriting it with the same verdict
 * changes nothing), and a round trip through any other verdict back to
 * the same bytes. A damaged block must be refused, with a message.
 */
#include <string.h>

#include "worker-hba/hba.h"
#include "tests/fuzz/fuzz.h"

static struct conf confs[4];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char *one[] = { "10.0.0.5" };
	static char *three[] = { "10.0.0.5", "10.0.0.6", "2001:db8::5" };

	for (int i = 0; i < 4; i++) {
		struct conf *c = &confs[i];

		c->user_read_write = "harw";
		c->user_read_only = "haro";
		c->auth_allow = "md5";
		c->auth_deny = "reject";
		c->haproxy_servers = one;
		c->n_haproxy_servers = 1;
		c->lease_ms = 3000;
		c->allow_ro = i > 0;
	}
	confs[2].haproxy_servers = three;
	confs[2].n_haproxy_servers = 3;
	confs[2].auth_allow = "scram-sha-256";
	/* names pg_hba would misread are quoted (tests/hba/28-quoted-names) */
	confs[3].user_read_write = "ha-rw.check";
	confs[3].user_read_only = "Ha RO";
	return 0;
}

static struct hba_buf
rewrite_ok(const char *in, size_t len, const struct conf *c,
    struct hba_verdict v, const char *what)
{
	struct hba_buf out = { 0 };
	char err[512] = "";

	FUZZ_CHECK(hba_rewrite(in, len, c, v, &out, err, sizeof(err)) == 0,
	    "%s: rw=%d ro=%d refused: %s", what, v.rw_allow, v.ro_allow, err);
	return out;
}

static void
check_written(const struct hba_buf *out, const struct conf *c,
    struct hba_verdict v)
{
	struct hba_verdict got, other;
	struct hba_buf again, mid, back;
	size_t b = 0, e = 0;
	char err[512] = "";

	FUZZ_CHECK(hba_find_block(out->data, out->len, &b, &e, err,
	    sizeof(err)) == 1 && b < e, "written block not found: %s", err);
	FUZZ_CHECK(hba_current_verdict(out->data, out->len, c, &got) == 1,
	    "written block not read back");
	FUZZ_CHECK(got.rw_allow == v.rw_allow &&
	    got.ro_allow == (c->allow_ro && v.ro_allow),
	    "read back rw=%d ro=%d, wrote rw=%d ro=%d", got.rw_allow,
	    got.ro_allow, v.rw_allow, v.ro_allow);
	(void)hba_rule_above_block(out->data, out->len);

	again = rewrite_ok(out->data, out->len, c, v, "fixed point");
	FUZZ_CHECK(again.len == out->len &&
	    memcmp(again.data, out->data, out->len) == 0,
	    "not a fixed point:\n%s\n----\n%s", out->data, again.data);
	hba_buf_free(&again);

	other = (struct hba_verdict){ !v.rw_allow, !v.ro_allow };
	mid = rewrite_ok(out->data, out->len, c, other, "other verdict");
	back = rewrite_ok(mid.data, mid.len, c, v, "round trip");
	FUZZ_CHECK(back.len == out->len &&
	    memcmp(back.data, out->data, out->len) == 0,
	    "round trip through rw=%d ro=%d differs", other.rw_allow,
	    other.ro_allow);
	hba_buf_free(&back);
	hba_buf_free(&mid);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct conf *c;
	struct hba_verdict v, cur;
	struct hba_buf out = { 0 };
	const char *in;
	size_t len, b = 0, e = 0;
	char err[512] = "";
	int found, r, above;

	if (size == 0)
		return 0;
	c = &confs[data[0] & 3];
	v.rw_allow = (data[0] & 4) != 0;
	v.ro_allow = (data[0] & 8) != 0;
	in = (const char *)data + 1;
	len = size - 1;

	found = hba_find_block(in, len, &b, &e, err, sizeof(err));
	FUZZ_CHECK(found >= -1 && found <= 1, "hba_find_block: %d", found);
	if (found == 1)
		FUZZ_CHECK(b >= 1 && b < e, "block lines %zu-%zu", b, e);
	if (found == -1)
		FUZZ_CHECK(err[0] != '\0', "damaged without a message");
	above = hba_rule_above_block(in, len);
	FUZZ_CHECK(above >= 0, "hba_rule_above_block: %d", above);
	r = hba_current_verdict(in, len, c, &cur);
	FUZZ_CHECK(r >= -1 && r <= 1, "hba_current_verdict: %d", r);
	FUZZ_CHECK((r == -1) == (found == -1),
	    "current_verdict %d, find_block %d", r, found);

	err[0] = '\0';
	r = hba_rewrite(in, len, c, v, &out, err, sizeof(err));
	if (r == -1) {
		FUZZ_CHECK(out.data == NULL && err[0] != '\0',
		    "refused without a message, or with output");
		return 0;
	}
	FUZZ_CHECK(r == 0 && found != -1, "a damaged block was rewritten");
	FUZZ_CHECK(out.data != NULL && out.data[out.len] == '\0' &&
	    out.len <= HBA_MAX_FILE + 4096, "output");
	check_written(&out, c, v);
	hba_buf_free(&out);
	return 0;
}
