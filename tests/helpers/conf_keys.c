/*
 * conf_keys: print every key of harepd's config schema (conf_parse.c's
 * tables), one full path a line, for tests/integration/75-man.t.
 */
#include <stdio.h>

#include "conf/conf.h"

static void
print_key(const char *path, void *arg)
{
	puts(path);
}

int
main(void)
{
	conf_schema_keys(print_key, NULL);
	return fflush(stdout) == 0 ? 0 : 1;
}
