/*
 * The YAML configuration loader (conf/): conf_load_buffer() on the
 * input bytes, as a worker loads the bytes the supervisor pushed (not
 * NUL-terminated). A refused input must come with at least one message;
 * an accepted one must print (conf_print) to a file that loads to the
 * same configuration, which prints the same (conf.h: "its output loads
 * to the same config").
 */
#include <string.h>

#include "conf/conf.h"
#include "tests/fuzz/fuzz.h"

static char *
print_conf(const struct conf *c, size_t *len)
{
	char *buf = NULL;
	FILE *fp;

	FUZZ_CHECK((fp = open_memstream(&buf, len)) != NULL, "open_memstream");
	conf_print(fp, c);
	FUZZ_CHECK(fclose(fp) == 0, "fclose");
	return buf;
}

static void
check_diag(const struct conf_diag *d)
{
	for (size_t i = 0; i < d->n_errors; i++)
		FUZZ_CHECK(d->errors[i] != NULL && d->errors[i][0] != '\0',
		    "empty error message");
	for (size_t i = 0; i < d->n_warnings; i++)
		FUZZ_CHECK(d->warnings[i] != NULL && d->warnings[i][0] != '\0',
		    "empty warning message");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_diag d = { 0 }, d2 = { 0 };
	struct conf *c, *c2;
	char *p1, *p2;
	size_t l1, l2;

	c = conf_load_buffer("fuzz.yml", (const char *)data, size, &d);
	check_diag(&d);
	if (c == NULL) {
		FUZZ_CHECK(d.n_errors > 0, "refused without an error");
		conf_diag_free(&d);
		return 0;
	}
	FUZZ_CHECK(d.n_errors == 0, "accepted with %zu errors", d.n_errors);
	FUZZ_CHECK(c->node_name && c->primary_ip && c->hba_config &&
	    c->user_read_write && c->user_read_only && c->auth_allow &&
	    c->auth_deny && c->repmgr_user && c->repmgr_db &&
	    c->bind_address && c->server_host_override &&
	    c->control_socket && c->rpc_user && c->pg_user &&
	    c->n_haproxy_servers >= 1, "a valid config with a NULL default");

	p1 = print_conf(c, &l1);
	c2 = conf_load_buffer("printed.yml", p1, l1, &d2);
	check_diag(&d2);
	FUZZ_CHECK(c2 != NULL, "the printed config does not load: %s\n%s",
	    d2.n_errors ? d2.errors[0] : "?", p1);
	p2 = print_conf(c2, &l2);
	FUZZ_CHECK(l1 == l2 && memcmp(p1, p2, l1) == 0,
	    "printed twice differs:\n%s\n----\n%s", p1, p2);
	free(p1);
	free(p2);
	conf_free(c2);
	conf_free(c);
	conf_diag_free(&d2);
	conf_diag_free(&d);
	return 0;
}
