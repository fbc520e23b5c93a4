/* PLACEHOLDER until the worker lands: replace this file. */
#include <stdio.h>
#include "supervisor/harepd.h"

int
hba_worker_main(void)
{
	fprintf(stderr, "harepd: hba_worker_main: PLACEHOLDER\n");
	return 1;
}

int
hba_print_main(const struct conf *c, const char *spec)
{
	(void)c; (void)spec;
	fprintf(stderr, "harepd: --print-hba: PLACEHOLDER\n");
	return 1;
}
