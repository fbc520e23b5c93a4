/* PLACEHOLDER until the worker lands: replace this file. */
#include <stdio.h>
#include "supervisor/harepd.h"

int
rpc_worker_main(void)
{
	fprintf(stderr, "harepd: rpc_worker_main: PLACEHOLDER\n");
	return 1;
}
