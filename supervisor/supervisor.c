/* PLACEHOLDER until the supervisor lands: replace this file. */
#include <stdio.h>
#include "supervisor/harepd.h"

int
supervisor_main(const char *path, struct conf *c, enum harepd_mode m, int v)
{
	(void)path; (void)c; (void)m; (void)v;
	fprintf(stderr, "harepd: supervisor: PLACEHOLDER\n");
	return 1;
}
