/*
 * rpc_gate: what peers are told about this node's gate, from what the
 * probe declared and what the hba worker applied (docs/POLICY.md,
 * "Handover"), and the gate bytes appended to a packed IKnow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "worker-rpc/rpc_gate.h"
#include "util/unconst.h"

#define U	MODELS__GATE__STATE__UNKNOWN
#define D	MODELS__GATE__STATE__DENIED
#define I	MODELS__GATE__STATE__INTENT
#define A	MODELS__GATE__STATE__ALLOWED

struct gcase {
	const char	*name;
	int		 declared;	/* U: no GateDeclared */
	uint64_t	 declared_seq;
	int		 hba;		/* -1 no report, 0 deny, 1 allow, 2 fence */
	uint64_t	 hba_seq;	/* a fence: the last verdict received */
	int		 want;
	uint64_t	 last_allow;	/* the probe's last allow verdict */
};

static const struct gcase gcases[] = {
	{ "nothing known yet", U, 0, -1, 0, U, 0 },
	{ "hba reported a deny, the probe nothing yet", U, 0, 0, 3, D, 0 },
	{ "the file allows (restart of the probe): ALLOWED", U, 0, 1, 3, A, 0 },
	{ "declared INTENT, file denies", I, 5, 0, 4, I, 0 },
	{ "declared ALLOWED before the hba applied it", A, 6, 0, 5, A, 0 },
	{ "declared DENIED, the file still allows", D, 7, 1, 6, A, 6 },
	{ "declared DENIED, the last report older than the last allow: an "
	  "allow may be in flight", D, 7, 0, 5, U, 6 },
	{ "declared DENIED, the deny of the last allow's successor applied",
	  D, 7, 0, 7, D, 6 },
	{ "a deny after denies: the previous deny's report suffices (no "
	  "UNKNOWN at every tick)", D, 9, 0, 8, D, 3 },
	{ "declared DENIED, the hba worker fenced after the last allow",
	  D, 7, 2, 6, D, 6 },
	{ "declared DENIED, a fence before the last allow arrived", D, 7, 2,
	  5, U, 6 },
	{ "declared DENIED, no hba report at all", D, 7, -1, 0, U, 0 },
};

static void
run_gate(void **state)
{
	const struct gcase *gc = *state;
	Harepd__GateDeclared d = HAREPD__GATE_DECLARED__INIT;
	Harepd__HbaApplied h = HAREPD__HBA_APPLIED__INIT;
	struct conf c = { .lease_ms = 3000, .connection_deadline = 1 };
	struct rpc_gate g;

	rpc_gate_init(&g, &c);
	if (gc->declared != U) {
		d.state = gc->declared;
		d.seq = gc->declared_seq;
		d.last_allow_seq = gc->last_allow;
		rpc_gate_declared(&g, &d);
	}
	if (gc->hba >= 0) {
		h.fenced = gc->hba == 2;
		h.seq = h.fenced ? 0 : gc->hba_seq;
		h.last_verdict_seq = gc->hba_seq;
		h.rw_allow = gc->hba == 1;
		rpc_gate_applied(&g, &h);
	}
	assert_int_equal(rpc_gate_served(&g), gc->want);
}

/* A restarted probe counts from 1: an old deny report proves nothing. */
static void
test_probe_restart_forgets_old_seq(void **state)
{
	Harepd__GateDeclared d = HAREPD__GATE_DECLARED__INIT;
	Harepd__HbaApplied h = HAREPD__HBA_APPLIED__INIT;
	struct conf c = { .lease_ms = 3000, .connection_deadline = 1 };
	struct rpc_gate g;

	rpc_gate_init(&g, &c);
	d.state = D;
	d.seq = 57;
	rpc_gate_declared(&g, &d);
	h.seq = 57;
	rpc_gate_applied(&g, &h);
	assert_int_equal(rpc_gate_served(&g), D);
	d.seq = 1;
	rpc_gate_declared(&g, &d);
	assert_int_equal(rpc_gate_served(&g), U);
	h.seq = 1;
	rpc_gate_applied(&g, &h);
	assert_int_equal(rpc_gate_served(&g), D);
}

static void
test_failed_apply_changes_nothing(void **state)
{
	Harepd__HbaApplied h = HAREPD__HBA_APPLIED__INIT;
	struct conf c = { .lease_ms = 3000, .connection_deadline = 1 };
	struct rpc_gate g;

	rpc_gate_init(&g, &c);
	h.seq = 2;
	h.rw_allow = true;
	rpc_gate_applied(&g, &h);
	h.seq = 3;
	h.rw_allow = false;
	h.error = "pg_hba_file_rules: error on line 9";
	rpc_gate_applied(&g, &h);
	assert_int_equal(rpc_gate_served(&g), A);
	/* the same deny, not reloaded because no postmaster runs: in effect */
	h.pg_down = true;
	rpc_gate_applied(&g, &h);
	assert_int_equal(rpc_gate_served(&g), D);
}

/* A packed view followed by the gate bytes decodes as one IKnow. */
static void
test_pack_appends_to_view(void **state)
{
	struct conf c = { .lease_ms = 4500, .connection_deadline = 2,
	    .n_neighbours = 2 };
	Harepd__GateDeclared d = HAREPD__GATE_DECLARED__INIT;
	Harepd__LocalView lv = HAREPD__LOCAL_VIEW__INIT;
	Models__IKnow k = MODELS__IKNOW__INIT, *out;
	char *masters[] = { "10.0.0.1" };
	uint8_t buf[512];
	struct rpc_gate g;
	size_t n;

	k.ip = "10.0.0.1";
	k.n_master = 1;
	k.master = masters;
	n = models__iknow__pack(&k, buf);
	rpc_gate_init(&g, &c);
	d.state = A;
	d.seq = 1;
	d.decided_boot_ms = 1000;
	rpc_gate_declared(&g, &d);
	lv.lists_since_boot_ms = 500;
	rpc_gate_view(&g, &lv);
	n += rpc_gate_pack(&g, 3000, buf + n);
	assert_true(n < sizeof(buf));
	out = models__iknow__unpack(NULL, n, buf);
	assert_non_null(out);
	assert_string_equal(out->ip, "10.0.0.1");
	assert_int_equal(out->n_master, 1);
	assert_non_null(out->gate);
	assert_int_equal(out->gate->state, A);
	assert_int_equal(out->gate->leasems, 4500);
	assert_int_equal(out->gate->deadlinems, 2000);
	assert_int_equal(out->gate->members, 3);
	assert_int_equal(out->gate->rwagems, 2000);
	assert_int_equal(out->gate->viewstablems, 2500);
	models__iknow__free_unpacked(out, NULL);
}

static void
test_pack_fits(void **state)
{
	struct conf c = { .lease_ms = 0x7fffffff,
	    .connection_deadline = 0x7fffff };
	uint8_t buf[RPC_GATE_MAX];
	struct rpc_gate g;

	rpc_gate_init(&g, &c);
	g.lists_since_boot_ms = 1;
	g.declared_boot_ms = 1;
	g.members = UINT32_MAX;
	assert_true(rpc_gate_pack(&g, INT64_MAX, buf) <= RPC_GATE_MAX);
}

int
main(void)
{
	enum { G = sizeof(gcases) / sizeof(gcases[0]) };
	struct CMUnitTest tests[G + 4];

	memset(tests, 0, sizeof(tests));
	for (size_t i = 0; i < G; i++) {
		tests[i].name = gcases[i].name;
		tests[i].test_func = run_gate;
		tests[i].initial_state = unconst_ptr(&gcases[i]);
	}
	tests[G].name = "a failed apply changes nothing";
	tests[G].test_func = test_failed_apply_changes_nothing;
	tests[G + 1].name = "gate bytes appended to a packed view decode";
	tests[G + 1].test_func = test_pack_appends_to_view;
	tests[G + 2].name = "the largest gate fits RPC_GATE_MAX";
	tests[G + 2].test_func = test_pack_fits;
	tests[G + 3].name = "a restarted probe's numbering starts over";
	tests[G + 3].test_func = test_probe_restart_forgets_old_seq;
	return _cmocka_run_group_tests("rpc_gate", tests, G + 4, NULL, NULL);
}
