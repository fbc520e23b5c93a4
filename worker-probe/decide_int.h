/*
 * What decide.c shares with handover.c and follow.c: how a peer's answer
 * is classified. Only for worker-probe's pure files and their tests.
 */
#ifndef HAREPD_DECIDE_INT_H
#define HAREPD_DECIDE_INT_H

#include <stdbool.h>

#include "worker-probe/probe.h"

bool	 decide_answered(const Harepd__PeerAnswer *);
bool	 decide_is_witness(const Harepd__PeerAnswer *);
/* An answer from this very node (listed among its own neighbours). */
bool	 decide_is_self(const Harepd__LocalView *, const Models__IKnow *,
	    const struct conf *);
/* An answering peer that is a data node of our cluster (not a witness). */
bool	 decide_data_node(const Harepd__LocalView *, const Harepd__PeerAnswer *);
bool	 decide_addr_equal(const char *, const char *);
/* Remembers each answering data peer's node id for when it falls silent
 * (handover.c: the silence cover). */
void	 handover_learn_ids(Harepd__PeerAnswer **, size_t,
	    struct decide_state *);

#endif
