/*
 * ipc/ipc.c over a real socketpair: round trips of every body, the send
 * queue (order kept across EAGAIN, bounded by IPC_MAX_QUEUED), size
 * limits, and the ends of a channel (EOF, EPIPE without SIGPIPE).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "ipc/ipc.h"
#include "tests/helpers/ipc_samples.h"

struct pair {
	struct ipc_chan	a, b;
};

static int
setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));
	int sv[2];

	assert_non_null(p);
	assert_int_equal(ipc_socketpair(sv), 0);
	ipc_chan_init(&p->a, sv[0]);
	ipc_chan_init(&p->b, sv[1]);
	*state = p;
	return 0;
}

static int
teardown(void **state)
{
	struct pair *p = *state;

	ipc_chan_close(&p->a);
	ipc_chan_close(&p->b);
	free(p);
	return 0;
}

static void
assert_same_bytes(const ipc_envelope *x, const ipc_envelope *y)
{
	size_t lx = protobuf_c_message_get_packed_size(&x->base);
	size_t ly = protobuf_c_message_get_packed_size(&y->base);
	uint8_t *bx = malloc(lx + 1), *by = malloc(ly + 1);

	assert_int_equal(lx, ly);
	protobuf_c_message_pack(&x->base, bx);
	protobuf_c_message_pack(&y->base, by);
	assert_memory_equal(bx, by, lx);
	free(bx);
	free(by);
}

static ipc_envelope *
recv_ok(struct ipc_chan *ch)
{
	ipc_envelope *env;
	char err[256];
	enum ipc_rc rc = ipc_recv(ch, &env, err, sizeof(err));

	if (rc != IPC_OK)
		fail_msg("ipc_recv: %s: %s", ipc_rc_str(rc), err);
	return env;
}

static void
test_round_trip_every_body(void **state)
{
	struct pair *p = *state;

	for (int k = 1; k <= SAMPLE_KINDS; k++) {
		ipc_envelope *sent = sample_envelope(k), *got;

		assert_int_equal(ipc_send(&p->a, sent), 0);
		got = recv_ok(&p->b);
		assert_int_equal(got->body_case, k);
		assert_same_bytes(sent, got);
		ipc_free(got);
	}
}

/* A few fields by value, so the byte comparison is not the only check. */
static void
test_round_trip_fields(void **state)
{
	struct pair *p = *state;
	ipc_envelope *got;
	Models__IKnow *k;

	assert_int_equal(ipc_send(&p->a,
	    sample_envelope(HAREPD__ENVELOPE__BODY_VERDICT)), 0);
	got = recv_ok(&p->b);
	assert_true(got->verdict->seq == UINT64_MAX - 1);
	assert_int_equal(got->verdict->n_evidence, 2);
	k = got->verdict->evidence[0]->answer;
	assert_non_null(k);
	assert_int_equal(k->nodeid, -42);
	assert_string_equal(k->nodename, "nœud-ß-東京");
	assert_int_equal(k->n_slaves, 2);
	assert_string_equal(k->slaves[1], "fd00::13");
	assert_non_null(k->observation);
	assert_int_equal(k->observation->timeline, 7);
	assert_null(got->verdict->evidence[1]->answer);
	ipc_free(got);

	assert_int_equal(ipc_send(&p->b,
	    sample_envelope(HAREPD__ENVELOPE__BODY_CONFIG)), 0);
	got = recv_ok(&p->a);
	assert_int_equal(got->config->tls_ca.len, 3);
	assert_memory_equal(got->config->tls_ca.data, "\0\1\2", 3);
	assert_true(got->config->server_only);
	ipc_free(got);
}

static void
test_recv_empty_is_again(void **state)
{
	struct pair *p = *state;
	ipc_envelope *env = (void *)1;
	char err[64];

	assert_int_equal(ipc_recv(&p->b, &env, err, sizeof(err)), IPC_AGAIN);
	assert_null(env);
}

static ipc_envelope *
verdict_seq(uint64_t seq, size_t reason_len)
{
	static char reason[IPC_MAX_MSG];
	ipc_envelope *env = sample_envelope(HAREPD__ENVELOPE__BODY_VERDICT);

	memset(reason, 'r', reason_len);
	reason[reason_len] = '\0';
	env->verdict->reason = reason;
	env->verdict->seq = seq;
	return env;
}

/* Sends numbered verdicts until the socket is full and the queue holds some. */
static uint64_t
fill_socket(struct ipc_chan *ch, size_t reason_len)
{
	uint64_t seq = 0;

	while (!ipc_pending(ch)) {
		assert_int_equal(ipc_send(ch, verdict_seq(seq++, reason_len)), 0);
		assert_true(seq < 100000);
	}
	return seq;
}

static void
drain_in_order(struct ipc_chan *tx, struct ipc_chan *rx, uint64_t want,
    uint64_t n)
{
	ipc_envelope *env;
	char err[256];
	enum ipc_rc rc;

	while (want < n) {
		rc = ipc_recv(rx, &env, err, sizeof(err));
		if (rc == IPC_AGAIN) {
			assert_int_not_equal(ipc_flush(tx), -1);
			continue;
		}
		assert_int_equal(rc, IPC_OK);
		assert_true(env->verdict->seq == want);
		want++;
		ipc_free(env);
	}
	assert_false(ipc_pending(tx));
	assert_int_equal(tx->queued, 0);
	assert_int_equal(ipc_recv(rx, &env, err, sizeof(err)), IPC_AGAIN);
}

static void
test_queue_keeps_order(void **state)
{
	struct pair *p = *state;
	uint64_t n = fill_socket(&p->a, 1000);
	ipc_envelope *env;

	/* room in the socket again, but the queue must go first */
	for (uint64_t i = 0; i < 3; i++) {
		env = recv_ok(&p->b);
		assert_true(env->verdict->seq == i);
		ipc_free(env);
	}
	assert_int_equal(ipc_send(&p->a, verdict_seq(n++, 1000)), 0);
	/* the socket is full: these all go to the queue, behind the rest */
	for (int i = 0; i < 50; i++)
		assert_int_equal(ipc_send(&p->a, verdict_seq(n++, 1000)), 0);
	assert_true(ipc_pending(&p->a));
	assert_true(p->a.queued > 50 * 1000);
	assert_int_equal(ipc_flush(&p->a), 1);	/* still full */
	drain_in_order(&p->a, &p->b, 3, n);
}

static void
test_queue_bounded(void **state)
{
	struct pair *p = *state;
	uint64_t n = fill_socket(&p->a, 60000);
	size_t before;

	for (;;) {
		before = p->a.queued;
		if (ipc_send(&p->a, verdict_seq(n, 60000)) == -1)
			break;
		assert_true(++n < 2 * IPC_MAX_QUEUED / 60000);	/* bounded */
	}
	assert_int_equal(errno, ENOBUFS);
	assert_int_equal(p->a.queued, before);	/* the refused one is not kept */
	assert_true(p->a.queued <= IPC_MAX_QUEUED);
	assert_true(p->a.queued > IPC_MAX_QUEUED - 2 * IPC_MAX_MSG);
	/* nothing lost or reordered of what was accepted */
	drain_in_order(&p->a, &p->b, 0, n);
}

struct drainer {
	struct ipc_chan	*rx;
	uint64_t	 n;
	uint64_t	 got;
};

static void *
drain_later(void *arg)
{
	struct drainer *d = arg;
	ipc_envelope *env;
	char err[256];

	usleep(100 * 1000);
	while (d->got < d->n) {
		enum ipc_rc rc = ipc_recv(d->rx, &env, err, sizeof(err));

		if (rc == IPC_AGAIN) {
			usleep(1000);
			continue;
		}
		if (rc != IPC_OK || env->verdict->seq != d->got)
			break;
		ipc_free(env);
		d->got++;
	}
	return NULL;
}

static void
test_flush_wait(void **state)
{
	struct pair *p = *state;
	struct drainer d = { &p->b, 0, 0 };
	pthread_t t;

	d.n = fill_socket(&p->a, 1000);
	assert_int_equal(ipc_flush_wait(&p->a, 50), 1);	/* nobody reads */
	assert_int_equal(pthread_create(&t, NULL, drain_later, &d), 0);
	assert_int_equal(ipc_flush_wait(&p->a, 5000), 0);
	pthread_join(t, NULL);
	assert_true(d.got == d.n);
}

static void
test_emsgsize(void **state)
{
	struct pair *p = *state;
	ipc_envelope *env = sample_envelope(HAREPD__ENVELOPE__BODY_LOG), *got;
	size_t size, len = IPC_MAX_MSG - 200;
	char *msg = malloc(IPC_MAX_MSG + 1);

	/* exactly IPC_MAX_MSG goes through, one byte more does not */
	memset(msg, 'x', IPC_MAX_MSG);
	env->log->msg = msg;
	do {			/* length varints grow with len: converge */
		msg[len] = '\0';
		size = protobuf_c_message_get_packed_size(&env->base);
		msg[len] = 'x';
		len += IPC_MAX_MSG - size;
	} while (size != IPC_MAX_MSG);
	msg[len] = '\0';
	assert_int_equal(protobuf_c_message_get_packed_size(&env->base),
	    IPC_MAX_MSG);
	assert_int_equal(ipc_send(&p->a, env), 0);
	got = recv_ok(&p->b);
	assert_int_equal(strlen(got->log->msg), len);
	ipc_free(got);

	msg[len] = 'x';
	msg[len + 1] = '\0';
	env->log->msg = msg;
	assert_int_equal(ipc_send(&p->a, env), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_false(ipc_pending(&p->a));
	free(msg);
	test_recv_empty_is_again(state);
}

static void
test_refuses_what_receiver_rejects(void **state)
{
	struct pair *p = *state;
	ipc_envelope empty = HAREPD__ENVELOPE__INIT;
	ipc_envelope *env = sample_envelope(HAREPD__ENVELOPE__BODY_HELLO);

	assert_int_equal(ipc_send(&p->a, &empty), -1);
	assert_int_equal(errno, EINVAL);
	empty.body_case = HAREPD__ENVELOPE__BODY_VERDICT;	/* NULL body */
	assert_int_equal(ipc_send(&p->a, &empty), -1);
	assert_int_equal(errno, EINVAL);
	env->hello->role = "bad \xc3\x28 utf8";
	assert_int_equal(ipc_send(&p->a, env), -1);
	assert_int_equal(errno, EILSEQ);
	test_recv_empty_is_again(state);
}

/*
 * SIGPIPE with its default action: a signal would kill the test. (Linux
 * raises none for SOCK_SEQPACKET today; MSG_NOSIGNAL keeps it that way.)
 */
static void
test_peer_closed_send(void **state)
{
	struct pair *p = *state;
	void (*was)(int) = signal(SIGPIPE, SIG_DFL);	/* may be inherited */

	close(p->b.fd);
	p->b.fd = -1;
	assert_int_equal(ipc_send(&p->a,
	    sample_envelope(HAREPD__ENVELOPE__BODY_CONTROL)), -1);
	assert_int_equal(errno, EPIPE);
	assert_false(ipc_pending(&p->a));
	signal(SIGPIPE, was);
}

static void
test_peer_closed_queue(void **state)
{
	struct pair *p = *state;

	fill_socket(&p->a, 1000);
	close(p->b.fd);
	p->b.fd = -1;
	/* b died with messages unread: the first error is ECONNRESET */
	assert_int_equal(ipc_flush(&p->a), -1);
	assert_true(errno == EPIPE || errno == ECONNRESET);
	assert_int_equal(ipc_flush_wait(&p->a, 1000), -1);
	assert_int_equal(errno, EPIPE);
	assert_int_equal(ipc_send(&p->a,
	    sample_envelope(HAREPD__ENVELOPE__BODY_CONTROL)), -1);
	assert_int_equal(errno, EPIPE);
}

static void
test_eof_after_messages(void **state)
{
	struct pair *p = *state;
	ipc_envelope *env;
	char err[128];

	assert_int_equal(ipc_send(&p->a,
	    sample_envelope(HAREPD__ENVELOPE__BODY_HELLO)), 0);
	ipc_chan_close(&p->a);
	env = recv_ok(&p->b);		/* what was sent still arrives */
	ipc_free(env);
	assert_int_equal(ipc_recv(&p->b, &env, err, sizeof(err)), IPC_EOF);
	assert_null(env);
	assert_true(strlen(err) > 0);
	assert_int_equal(ipc_recv(&p->b, &env, err, sizeof(err)), IPC_EOF);
}

/* The closing end had unread messages: the kernel says ECONNRESET. */
static void
test_eof_after_reset(void **state)
{
	struct pair *p = *state;
	ipc_envelope *env;
	char err[128];

	assert_int_equal(ipc_send(&p->b,
	    sample_envelope(HAREPD__ENVELOPE__BODY_HELLO)), 0);
	ipc_chan_close(&p->a);
	assert_int_equal(ipc_recv(&p->b, &env, err, sizeof(err)), IPC_EOF);
	assert_null(env);
}

/* An empty datagram from a live peer is not the end of the channel. */
static void
test_zero_length_datagram(void **state)
{
	struct pair *p = *state;
	ipc_envelope *env;
	char err[128];

	assert_int_equal(send(p->a.fd, "", 0, 0), 0);
	assert_int_equal(ipc_send(&p->a,
	    sample_envelope(HAREPD__ENVELOPE__BODY_HELLO)), 0);
	assert_int_equal(ipc_recv(&p->b, &env, err, sizeof(err)), IPC_MALFORMED);
	assert_null(env);
	assert_non_null(strstr(err, "0 bytes"));
	env = recv_ok(&p->b);
	assert_int_equal(env->body_case, HAREPD__ENVELOPE__BODY_HELLO);
	ipc_free(env);
	ipc_chan_close(&p->a);
	assert_int_equal(ipc_recv(&p->b, &env, err, sizeof(err)), IPC_EOF);
}

static void
test_names(void **state)
{
	assert_string_equal(ipc_body_name(HAREPD__ENVELOPE__BODY_LOCAL_VIEW),
	    "local_view");
	assert_string_equal(ipc_body_name(HAREPD__ENVELOPE__BODY__NOT_SET),
	    "none");
	assert_string_equal(ipc_body_name((Harepd__Envelope__BodyCase)99),
	    "unknown");
	for (int rc = IPC_OK; rc <= IPC_SYSERR; rc++)
		assert_string_not_equal(ipc_rc_str(rc), "unknown ipc result");
	assert_string_equal(ipc_rc_str((enum ipc_rc)99), "unknown ipc result");
}

static void
test_socketpair_flags(void **state)
{
	int sv[2], type;
	socklen_t len = sizeof(type);

	assert_int_equal(ipc_socketpair(sv), 0);
	assert_int_equal(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &len), 0);
	assert_int_equal(type, SOCK_SEQPACKET);
	assert_true(fcntl(sv[0], F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(sv[1], F_GETFL) & O_NONBLOCK);
	close(sv[0]);
	close(sv[1]);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_round_trip_every_body),
		T(test_round_trip_fields),
		T(test_recv_empty_is_again),
		T(test_queue_keeps_order),
		T(test_queue_bounded),
		T(test_flush_wait),
		T(test_emsgsize),
		T(test_refuses_what_receiver_rejects),
		T(test_peer_closed_send),
		T(test_peer_closed_queue),
		T(test_eof_after_messages),
		T(test_eof_after_reset),
		T(test_zero_length_datagram),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_socketpair_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
