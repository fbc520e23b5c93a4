/* PLACEHOLDER until the loader lands: replace this file. */
#include <stdlib.h>
#include "conf/conf.h"

struct conf *
conf_load(const char *path, struct conf_diag *d)
{
	(void)path; (void)d;
	return NULL;
}

struct conf *
conf_load_buffer(const char *n, const char *y, size_t l, struct conf_diag *d)
{
	(void)n; (void)y; (void)l; (void)d;
	return NULL;
}

void conf_free(struct conf *c) { (void)c; }
void conf_diag_free(struct conf_diag *d) { (void)d; }
void conf_print(FILE *fp, const struct conf *c) { (void)fp; (void)c; }
int conf_check_files(const struct conf *c, struct conf_diag *d) { (void)c; (void)d; return 0; }
