/*
 * What the rpc worker answers, without any I/O: the IKnow built from the
 * supervisor's LocalView, whether that view may still be answered, and
 * the decoding of a peer's WhatYouKnow. Unit-tested by test_rpc_answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/ipc.h"
#include "util/clock.h"
#include "util/grpc_status.h"
#include "worker-rpc/rpc.h"

void
rpc_view_to_iknow(const Harepd__LocalView *v, Models__IKnow *k,
    Models__Observation *obs)
{
	models__iknow__init(k);
	models__observation__init(obs);
	k->ip = v->ip;
	k->nodeid = v->node_id;
	k->nodename = v->node_name;
	k->witness = v->witness;
	/* the Go harepd's names: slaves are standbys, master the primaries */
	k->n_slaves = v->n_standbys;
	k->slaves = v->standbys;
	k->n_master = v->n_primaries;
	k->master = v->primaries;
	/*
	 * Field 7, new: lets a C peer refuse rw to a node in recovery or on
	 * an older timeline. Go peers skip it as an unknown field.
	 */
	obs->inrecovery = v->in_recovery;
	obs->timeline = v->timeline;
	k->observation = obs;
}

static uint8_t *
pack_iknow(const Harepd__LocalView *v, size_t *len)
{
	Models__IKnow k;
	Models__Observation obs;
	uint8_t *buf;

	rpc_view_to_iknow(v, &k, &obs);
	*len = models__iknow__get_packed_size(&k);
	/* +1: malloc(0) may return NULL, an empty IKnow is legal */
	if ((buf = malloc(*len + 1)) == NULL)
		return NULL;
	models__iknow__pack(&k, buf);
	return buf;
}

struct rpc_snapshot *
rpc_snapshot_new(const Harepd__LocalView *v)
{
	struct rpc_snapshot *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->collected_boot_ms = v->collected_boot_ms;
	s->lists_since_boot_ms = v->lists_since_boot_ms;
	s->node_id = v->node_id;
	s->packed = pack_iknow(v, &s->packed_len);
	s->node_name = strdup(v->node_name ? v->node_name : "");
	if (v->db_error != NULL && v->db_error[0] != '\0')
		s->db_error = strdup(v->db_error);
	if (s->packed == NULL || s->node_name == NULL ||
	    (v->db_error != NULL && v->db_error[0] != '\0' &&
	    s->db_error == NULL)) {
		rpc_snapshot_free(s);
		return NULL;
	}
	return s;
}

void
rpc_snapshot_free(struct rpc_snapshot *s)
{
	if (s == NULL)
		return;
	free(s->packed);
	free(s->db_error);
	free(s->node_name);
	free(s);
}

int64_t
rpc_max_age_ms(const struct conf *c)
{
	return ((int64_t)RPC_STALE_PERIODS * c->watchdog +
	    c->connection_deadline) * 1000;
}

grpc_status_code
rpc_snapshot_status(const struct rpc_snapshot *s, int64_t now_boot_ms,
    int64_t max_age_ms, char *why, size_t whylen)
{
	int64_t age;

	if (s == NULL) {
		snprintf(why, whylen, "no local view yet: the probe has not "
		    "reported this node's repmgr metadata since the rpc worker "
		    "started");
		return GRPC_STATUS_UNAVAILABLE;
	}
	if (s->db_error != NULL) {
		snprintf(why, whylen, "local database unreachable: %s",
		    s->db_error);
		return GRPC_STATUS_UNAVAILABLE;
	}
	/* a view of unknown age is as good as a stale one */
	if (s->collected_boot_ms <= 0) {
		snprintf(why, whylen, "local view has no boot-clock stamp "
		    "(collected_boot_ms): its age is unknown");
		return GRPC_STATUS_UNAVAILABLE;
	}
	age = now_boot_ms - s->collected_boot_ms;
	if (age > max_age_ms) {
		snprintf(why, whylen, "local view is stale: collected %lld ms "
		    "ago, answered only up to %lld ms (probe stuck?)",
		    (long long)age, (long long)max_age_ms);
		return GRPC_STATUS_UNAVAILABLE;
	}
	/*
	 * CLOCK_BOOTTIME is one clock for the whole host and never steps:
	 * a stamp ahead of it did not come from this host's probe.
	 */
	if (age < 0) {
		snprintf(why, whylen, "local view is stamped %lld ms in the "
		    "future of this host's boot clock: bogus stamp",
		    (long long)-age);
		return GRPC_STATUS_UNAVAILABLE;
	}
	return GRPC_STATUS_OK;
}

grpc_status_code
rpc_view_status(const struct rpc_snapshot *s, int64_t max_age_ms, char *why,
    size_t whylen)
{
	return rpc_snapshot_status(s, clock_boot_ms(), max_age_ms, why, whylen);
}

grpc_status_code
rpc_request_decode(const uint8_t *buf, size_t len, Models__WhatYouKnow **out,
    char *why, size_t whylen)
{
	Models__WhatYouKnow *q;
	char bad[128];

	*out = NULL;
	if (buf == NULL) {
		snprintf(why, whylen, "no request message");
		return GRPC_STATUS_INVALID_ARGUMENT;
	}
	if (len > RPC_MAX_REQUEST) {
		snprintf(why, whylen, "request of %zu bytes, at most %d "
		    "accepted", len, RPC_MAX_REQUEST);
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	}
	if ((q = models__what_you_know__unpack(NULL, len, buf)) == NULL) {
		snprintf(why, whylen, "request of %zu bytes is not a "
		    "models.WhatYouKnow", len);
		return GRPC_STATUS_INVALID_ARGUMENT;
	}
	/*
	 * proto3 strings are UTF-8; grpc-go refuses them otherwise, so do we;
	 * and no field number protobuf-c cannot read back (ipc.h)
	 */
	if (ipc_check_utf8(&q->base, bad, sizeof(bad)) != 0 ||
	    ipc_check_unknown(&q->base, bad, sizeof(bad)) != 0) {
		snprintf(why, whylen, "%s", bad);
		models__what_you_know__free_unpacked(q, NULL);
		return GRPC_STATUS_INVALID_ARGUMENT;
	}
	*out = q;
	return GRPC_STATUS_OK;
}

grpc_status_code
rpc_reply_choose(const Models__WhatYouKnow *q, const struct rpc_snapshot *snap,
    int64_t now_boot_ms, int64_t max_age_ms, enum rpc_reply *reply, char *why,
    size_t whylen)
{
	grpc_status_code code;

	code = rpc_snapshot_status(snap, now_boot_ms, max_age_ms, why, whylen);
	if (code == GRPC_STATUS_OK)
		*reply = RPC_REPLY_VIEW;
	else if (q->wantsgate) {
		*reply = RPC_REPLY_IDENT;
		code = GRPC_STATUS_OK;
	} else
		*reply = RPC_REPLY_NONE;
	return code;
}

const char *
rpc_status_name(grpc_status_code code)
{
	return grpc_status_name((int)code);
}

int
rpc_listen_address(char *buf, size_t len, const char *host, int port)
{
	int n;

	/* the core splits host and port at the last ':' unless bracketed */
	if (strchr(host, ':') != NULL && host[0] != '[')
		n = snprintf(buf, len, "[%s]:%d", host, port);
	else
		n = snprintf(buf, len, "%s:%d", host, port);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}
