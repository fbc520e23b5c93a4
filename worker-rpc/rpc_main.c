/*
 * The rpc worker: answers peers' GetClusterInfo from the newest LocalView
 * the supervisor pushed. Runs unprivileged (the supervisor dropped
 * privileges before exec) and opens no file: the TLS PEM bytes arrive in
 * the ConfigPush. gRPC is initialised here and nowhere else, after the
 * last fork: a child forked from a process with gRPC initialised can
 * hang on the core's threads and locks.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <grpc/grpc.h>
#include <grpc/support/log.h>

#include "ipc/log.h"
#include "ipc/worker.h"
#include "util/clock.h"
#include "util/pem.h"
#include "worker-rpc/rpc.h"
#include "worker-rpc/rpc_gate.h"

#define TICK_MS		500

struct rpc_worker {
	struct conf		*conf;
	Harepd__ConfigPush	*push;		/* PEM bytes of the running server */
	struct rpc_server	*server;
	bool			 had_view;
	bool			 db_down;	/* last view carried db_error */
	bool			 too_big;	/* last view over RPC_MAX_REPLY */
	uint64_t		 gate_seq;	/* the probe's last GateDeclared */
	int			 served;	/* what peers are told */
};

/*
 * The core logs to stderr; route it through our log so it reaches the
 * file. A peer can make the core log (every failed TLS handshake is an
 * error line), so these lines are rate-limited like inquiries.
 */
static pthread_mutex_t	 grpc_log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rpc_ratelimit grpc_log_limit;

static void
grpc_log_suppressed(unsigned long n)
{
	if (n > 0)
		log_warnx("suppressed %lu gRPC core log lines (at most %d per "
		    "second are logged)", n, RPC_GRPC_LOG_PER_SEC);
}

static void
grpc_log_sink(gpr_log_func_args *a)
{
	enum log_level lvl = a->severity == GPR_LOG_SEVERITY_ERROR ?
	    LOG_LVL_ERROR : LOG_LVL_DEBUG;
	char where[256];
	struct log_field f[] = { { "grpc", where } };
	unsigned long report;
	bool ok;

	pthread_mutex_lock(&grpc_log_lock);
	ok = rpc_ratelimit_take(&grpc_log_limit, clock_mono_ms(), &report);
	pthread_mutex_unlock(&grpc_log_lock);
	grpc_log_suppressed(report);
	if (!ok)
		return;
	snprintf(where, sizeof(where), "%s:%d", a->file, a->line);
	log_emit(lvl, f, 1, "gRPC: %s", a->message);
}

static void
grpc_log_tick(void)
{
	unsigned long report;

	pthread_mutex_lock(&grpc_log_lock);
	report = rpc_ratelimit_expire(&grpc_log_limit, clock_mono_ms());
	pthread_mutex_unlock(&grpc_log_lock);
	grpc_log_suppressed(report);
}

static const char *
tls_mode(const struct conf *c)
{
	if (!c->tls.enabled)
		return "insecure";
	return c->tls.client_auth ? "mutual TLS" : "TLS";
}

static void
start_server(struct rpc_worker *w)
{
	struct rpc_server_opts o = {
		.bind_address = w->conf->bind_address,
		.port = w->conf->bind_port,
		.tls = w->conf->tls.enabled,
		.client_auth = w->conf->tls.client_auth,
		.max_age_ms = rpc_max_age_ms(w->conf),
	};
	char err[512], *ca, *cert, *key;

	o.ca_pem = ca = pem_string(w->push->tls_ca.data, w->push->tls_ca.len);
	o.cert_pem = cert = pem_string(w->push->tls_cert.data,
	    w->push->tls_cert.len);
	o.key_pem = key = pem_string(w->push->tls_key.data,
	    w->push->tls_key.len);
	w->server = rpc_server_start(&o, err, sizeof(err));
	/* the core copied what it needs; leave no key bytes of ours behind */
	pem_free(ca);
	pem_free(cert);
	pem_free(key);
	if (w->server == NULL)
		fatalx("gRPC server on %s port %d: %s", o.bind_address, o.port,
		    err);
	rpc_server_set_conf(w->server, w->conf);
	log_info("serving %s on %s port %d (%s), views answered up to %lld "
	    "ms old", RPC_METHOD, o.bind_address, rpc_server_port(w->server),
	    tls_mode(w->conf), (long long)o.max_age_ms);
}

static void
log_view_change(struct rpc_worker *w, const Harepd__LocalView *v)
{
	bool down = v->db_error != NULL && v->db_error[0] != '\0';

	if (!w->had_view)
		log_info("first local view: node %d (%s), %zu primaries, "
		    "%zu standbys", (int)v->node_id, v->node_name,
		    v->n_primaries, v->n_standbys);
	if (down && (!w->db_down || !w->had_view))
		log_warnx("local database unreachable, peers get UNAVAILABLE: "
		    "%s", v->db_error);
	else if (!down && w->db_down)
		log_info("local database reachable again, answering peers");
	w->had_view = true;
	w->db_down = down;
}

static void
take_view(void *arg, const Harepd__LocalView *v)
{
	struct rpc_worker *w = arg;
	struct rpc_snapshot *snap;

	if ((snap = rpc_snapshot_new(v)) == NULL) {
		log_warnx("out of memory: local view dropped");
		return;
	}
	log_view_change(w, v);
	/* said once, when it happens: not at every tick */
	if (snap->packed_len + RPC_GATE_MAX > RPC_MAX_REPLY && !w->too_big)
		log_warnx("local view of %zu bytes: with the gate above the "
		    "%d-byte reply limit, peers get RESOURCE_EXHAUSTED",
		    snap->packed_len, RPC_MAX_REPLY);
	w->too_big = snap->packed_len + RPC_GATE_MAX > RPC_MAX_REPLY;
	rpc_server_publish(w->server, snap);
}

static bool
bytes_equal(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
	return a->len == b->len && (a->len == 0 ||
	    memcmp(a->data, b->data, a->len) == 0);
}

/* What a running gRPC server cannot change: it would have to re-bind. */
static bool
needs_restart(const struct rpc_worker *w, const struct conf *c,
    const Harepd__ConfigPush *p)
{
	const struct conf *o = w->conf;

	return strcmp(o->bind_address, c->bind_address) != 0 ||
	    o->bind_port != c->bind_port ||
	    o->tls.enabled != c->tls.enabled ||
	    o->tls.client_auth != c->tls.client_auth ||
	    !bytes_equal(&w->push->tls_ca, &p->tls_ca) ||
	    !bytes_equal(&w->push->tls_cert, &p->tls_cert) ||
	    !bytes_equal(&w->push->tls_key, &p->tls_key);
}

/*
 * Reload: the view's age limit follows watchDog at once; the listening
 * address and TLS material stay as they are until the worker restarts.
 */
static void
take_config(void *arg, struct conf *c, Harepd__ConfigPush **push)
{
	struct rpc_worker *w = arg;

	if (needs_restart(w, c, *push))
		log_warnx("gRPC bindAddress, bindPort or TLS changed: still "
		    "serving %s port %d (%s) until the rpc worker restarts",
		    w->conf->bind_address, w->conf->bind_port,
		    tls_mode(w->conf));
	rpc_server_set_conf(w->server, c);
	log_info("configuration reloaded, views answered up to %lld ms old",
	    (long long)rpc_max_age_ms(c));
	/* keep the PEM bytes the server runs with: compare with those */
	conf_free(w->conf);
	w->conf = c;
}

static void
take_control(void *arg, const Harepd__Control *ctl)
{
	switch (ctl->command) {
	case HAREPD__CONTROL__COMMAND__PAUSE:
	case HAREPD__CONTROL__COMMAND__RESUME:
		/* stop-client leaves the server answering: nothing to do */
		break;
	default:
		log_warnx("unknown control command %d", (int)ctl->command);
	}
}

/*
 * SIGTERM (the supervisor's death via PDEATHSIG, or an operator) stops
 * the worker as SHUTDOWN does. It is blocked in every thread (gRPC's
 * inherit the mask) and let through only inside ppoll, so it always
 * interrupts the main loop at once.
 */
static volatile sig_atomic_t got_term;

static void
on_term(int sig)
{
	got_term = 1;
}

static void
catch_term(sigset_t *unblocked)
{
	struct sigaction sa = { .sa_handler = on_term };
	sigset_t block;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, unblocked);
}

static int
tick_timeout(void *arg)
{
	return TICK_MS;
}

/* The supervisor counts calls by status code for its metrics. */
static void
send_rpc_served(struct rpc_worker *w)
{
	Harepd__RpcServed r;
	ipc_envelope env = HAREPD__ENVELOPE__INIT;
	uint64_t by_code[RPC_CODES];

	if (!rpc_server_take_served(w->server, by_code))
		return;
	harepd__rpc_served__init(&r);
	r.by_code = by_code;
	r.n_by_code = RPC_CODES;
	env.body_case = HAREPD__ENVELOPE__BODY_RPC_SERVED;
	env.rpc_served = &r;
	if (worker_send(&env) == -1)
		log_warn("sending RpcServed");
}

/* After every wake-up: SIGTERM first, then the server's own timers. */
static void
tick(void *arg)
{
	struct rpc_worker *w = arg;

	if (got_term) {
		log_info("SIGTERM: shutting down");
		worker_stop();
		return;
	}
	rpc_server_tick(w->server);
	grpc_log_tick();
	send_rpc_served(w);
}

/* Tells the probe what peers are told now (docs/IPC.md, GateServed). */
static void
send_served(struct rpc_worker *w, int served)
{
	Harepd__GateServed g = HAREPD__GATE_SERVED__INIT;
	ipc_envelope env = HAREPD__ENVELOPE__INIT;
	struct rpc_gate_answers answers;

	w->served = served;
	g.seq = w->gate_seq;
	g.state = served;
	/* taken after the declaration, so after the LocalView before it */
	rpc_server_answers(w->server, &answers);
	g.n_answered = answers.n;
	g.answered = answers.p;
	g.answers_tracked_ms = answers.tracked_ms;
	env.body_case = HAREPD__ENVELOPE__BODY_GATE_SERVED;
	env.gate_served = &g;
	if (worker_send(&env) == -1)
		log_warn("sending GateServed");
}

/* Every declaration is acknowledged: the probe waits for it. */
static void
take_gate_declared(void *arg, const Harepd__GateDeclared *d)
{
	struct rpc_worker *w = arg;

	w->gate_seq = d->seq;
	send_served(w, rpc_server_gate_declared(w->server, d));
}

static void
take_hba_applied(void *arg, const Harepd__HbaApplied *a)
{
	struct rpc_worker *w = arg;
	int served = rpc_server_hba_applied(w->server, a);

	if (served != w->served)
		send_served(w, served);
}

int
rpc_worker_main(void)
{
	struct rpc_worker w = { 0 };
	sigset_t unblocked;

	worker_init("rpc");
	w.conf = worker_wait_config(WORKER_CONFIG_TIMEOUT_MS, &w.push);
	catch_term(&unblocked);
	rpc_ratelimit_init(&grpc_log_limit, RPC_GRPC_LOG_PER_SEC);
	gpr_set_log_function(grpc_log_sink);
	grpc_init();
	start_server(&w);
	if (worker_send_hello("rpc") == -1)
		log_warn("sending hello");
	worker_run(&(struct worker_ops){
		.arg = &w,
		.on_view = take_view,
		.on_gate_declared = take_gate_declared,
		.on_hba_applied = take_hba_applied,
		.on_control = take_control,
		.on_config = take_config,
		.next_timeout = tick_timeout,
		.on_timer = tick,
		.sigmask = &unblocked,
	});
	rpc_server_stop(w.server);
	grpc_shutdown();
	grpc_log_suppressed(rpc_ratelimit_drain(&grpc_log_limit));
	conf_free(w.conf);
	worker_config_push_free(w.push);
	log_info("stopped");
	worker_exit(0);
}
