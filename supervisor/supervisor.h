/*
 * The supervisor's one entry point, for harepd.c. Everything else of the
 * supervisor is in sup.h, for its own files and their tests.
 */
#ifndef HAREPD_SUPERVISOR_H
#define HAREPD_SUPERVISOR_H

#include "conf/conf.h"
#include "harepd.h"

/* Runs the workers of the table that belong to mode until SIGTERM or
 * `harepdctl stop`; returns the exit status. Takes the loaded conf. */
int	supervisor_main(const struct role roles[ROLE_COUNT],
	    const char *conf_path, struct conf *, enum harepd_mode,
	    int verbose);

#endif
