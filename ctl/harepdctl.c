/* PLACEHOLDER until harepdctl lands: replace this file. */
#include <stdio.h>

int
main(void)
{
	fprintf(stderr, "harepdctl: PLACEHOLDER\n");
	return 1;
}
