/*
 * Hostile bytes at the door: what a broken or compromised worker could
 * send the supervisor. Everything must come back as an ipc_rc with an
 * error naming the problem, never a crash or a leak (run under ASan).
 */
#include <errno.h>
#include <setjmp.h>
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
#include "util/unconst.h"

/* Decodes buf; fails unless the result is want, with an error string. */
static void
expect_rc(const uint8_t *buf, size_t len, enum ipc_rc want, const char *needle)
{
	ipc_envelope *env = (void *)1;
	char err[256] = "";
	enum ipc_rc rc = ipc_decode(buf, len, &env, err, sizeof(err));

	if (rc != want)
		fail_msg("%zu bytes: got %s (%s), want %s", len, ipc_rc_str(rc),
		    err, ipc_rc_str(want));
	if (rc == IPC_OK) {
		ipc_free(env);
		return;
	}
	assert_null(env);
	if (needle != NULL && strstr(err, needle) == NULL)
		fail_msg("error \"%s\" does not say \"%s\"", err, needle);
	/* every error names the length of what it rejected */
	assert_non_null(strstr(err, "bytes"));
}

/* Any of the rejecting codes, or a well-formed envelope. */
static void
expect_handled(const uint8_t *buf, size_t len)
{
	ipc_envelope *env = (void *)1;
	char err[256] = "";
	enum ipc_rc rc = ipc_decode(buf, len, &env, err, sizeof(err));

	switch (rc) {
	case IPC_OK:
		assert_non_null(env);
		assert_int_not_equal(env->body_case,
		    HAREPD__ENVELOPE__BODY__NOT_SET);
		ipc_free(env);
		break;
	case IPC_TRUNCATED:
	case IPC_MALFORMED:
		assert_null(env);
		assert_true(err[0] != '\0');
		break;
	default:
		fail_msg("%zu bytes: unexpected %s (%s)", len, ipc_rc_str(rc),
		    err);
	}
}

/* Every strict prefix of a one-body envelope cuts the body short. */
static void
test_every_prefix(void **state)
{
	for (int k = 1; k <= SAMPLE_KINDS; k++) {
		size_t len;
		uint8_t *buf = sample_packed(k, &len);

		expect_rc(buf, len, IPC_OK, NULL);
		expect_rc(buf, 0, IPC_MALFORMED, "no body");
		for (size_t n = 1; n < len; n++) {
			/* a copy of exactly n bytes: ASan sees any over-read */
			uint8_t *cut = malloc(n);

			memcpy(cut, buf, n);
			expect_rc(cut, n, IPC_TRUNCATED, NULL);
			free(cut);
		}
		free(buf);
	}
}

/* Outer length correct, the body inside cut: protobuf-c's turn. */
static void
test_inner_prefixes(void **state)
{
	for (int k = 1; k <= SAMPLE_KINDS; k++) {
		size_t len;
		uint8_t *buf = sample_packed(k, &len), *re = malloc(len + 8);
		/* samples have bodies < 16 KiB: 1 key byte, 2 length bytes max */
		size_t hdr = buf[1] & 0x80 ? 3 : 2;

		for (size_t n = 0; n < len - hdr; n++) {
			size_t o = 0;

			re[o++] = buf[0];
			if (n >= 0x80)
				re[o++] = 0x80 | (n & 0x7f), re[o++] = n >> 7;
			else
				re[o++] = n;
			memcpy(re + o, buf + hdr, n);
			expect_handled(re, o + n);
		}
		free(re);
		free(buf);
	}
}

static void
test_oversized_decode(void **state)
{
	uint8_t *buf = calloc(1, IPC_MAX_MSG + 1);

	expect_rc(buf, IPC_MAX_MSG + 1, IPC_OVERSIZED, "larger than");
	free(buf);
}

static void
raise_sndbuf(int fd, int size)
{
	/* a unix datagram may not exceed the sender's buffer: root can force */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

/* Oversized datagrams are discarded whole; the next message is intact. */
static void
test_oversized_datagrams(void **state)
{
	size_t sizes[] = { IPC_MAX_MSG + 1, 1024 * 1024 };
	struct ipc_chan a, b;
	ipc_envelope *env;
	char err[256];
	int sv[2];

	assert_int_equal(ipc_socketpair(sv), 0);
	ipc_chan_init(&a, sv[0]);
	ipc_chan_init(&b, sv[1]);
	raise_sndbuf(sv[0], 4 * 1024 * 1024);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *big = calloc(1, sizes[i]);

		if (send(sv[0], big, sizes[i], 0) != (ssize_t)sizes[i]) {
			free(big);
			if (sizes[i] > IPC_MAX_MSG + 1 && errno == EMSGSIZE) {
				/* no CAP_NET_ADMIN to raise the buffer */
				print_message("# 1 MiB datagram not sent\n");
				continue;
			}
			fail_msg("send %zu: %s", sizes[i], strerror(errno));
		}
		free(big);
		assert_int_equal(ipc_send(&a,
		    sample_envelope(HAREPD__ENVELOPE__BODY_HELLO)), 0);
		assert_int_equal(ipc_recv(&b, &env, err, sizeof(err)),
		    IPC_OVERSIZED);
		assert_null(env);
		assert_non_null(strstr(err, "oversized"));
		assert_int_equal(ipc_recv(&b, &env, err, sizeof(err)), IPC_OK);
		assert_int_equal(env->body_case, HAREPD__ENVELOPE__BODY_HELLO);
		ipc_free(env);
	}
	ipc_chan_close(&a);
	ipc_chan_close(&b);
}

/* Field numbers the envelope does not have, and wrong wire types. */
static void
test_unknown_fields_and_wire_types(void **state)
{
	static const struct {
		const char	*bytes;
		size_t		 len;
		enum ipc_rc	 rc;
		const char	*says;
	} cases[] = {
		{ "\x62\x00", 2, IPC_MALFORMED, "unknown envelope field 12" },
		{ "\xa2\x06\x00", 3, IPC_MALFORMED, "unknown envelope field 100" },
		{ "\x02\x00", 2, IPC_MALFORMED, "unknown envelope field 0" },
		{ "\xfa\xff\xff\xff\x0f\x00", 6, IPC_MALFORMED, "unknown envelope field" },
		/* hello as varint, log as fixed32, control as fixed64 */
		{ "\x08\x01", 2, IPC_MALFORMED, "wire type 0" },
		{ "\x35\x01\x02\x03\x04", 5, IPC_MALFORMED, "wire type 5" },
		{ "\x39\x01\x02\x03\x04\x05\x06\x07\x08", 9, IPC_MALFORMED, "wire type 1" },
		{ "\x0b\x0c", 2, IPC_MALFORMED, "wire type 3" },
		/* a good control body followed by an unknown field */
		{ "\x3a\x02\x08\x01\x42\x00", 6, IPC_MALFORMED, "after the control body" },
		/* two bodies: oneof would silently keep the last one */
		{ "\x3a\x00\x3a\x00", 4, IPC_MALFORMED, "one body per envelope" },
		/* key varint that never ends, length varint 11 bytes long */
		{ "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11, IPC_MALFORMED, "not a varint" },
		{ "\x3a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12, IPC_MALFORMED, "not a varint" },
		{ "\x3a\xff", 2, IPC_TRUNCATED, "cut short" },
		{ "\x3a\xff\xff\xff\xff\x0f", 6, IPC_TRUNCATED, "claims 4294967295 bytes" },
		/* inside the body: Hello.role (string) sent as varint */
		{ "\x0a\x02\x08\x05", 4, IPC_MALFORMED, "cannot unpack" },
		/* Hello.pid (int32) sent length-delimited */
		{ "\x0a\x03\x12\x01\x41", 5, IPC_MALFORMED, "cannot unpack" },
		/* Hello.role claims more than the body holds */
		{ "\x0a\x02\x0a\x05", 4, IPC_MALFORMED, "cannot unpack" },
		/* LocalView.primaries with a truncated element */
		{ "\x1a\x03\x22\x09\x31", 5, IPC_MALFORMED, "cannot unpack" },
		/* an unknown field inside a body is proto3-legal: kept, ignored */
		{ "\x0a\x04\xf8\x06\x01\x00", 6, IPC_MALFORMED, "cannot unpack" },
		{ "\x0a\x03\xf8\x06\x01", 5, IPC_OK, NULL },
		/*
		 * but not one numbered 0 (an overlong key) or past 2^29 - 1:
		 * protobuf-c reads them, and refuses the key it packs for
		 * them when the envelope is passed on (fuzz_ipc)
		 */
		{ "\x0a\x05\x60\x00\x80\x00\x33", 7, IPC_MALFORMED,
		    "Hello has a field numbered 0" },
		{ "\x0a\x06\x80\x80\x80\x80\x10\x01", 8, IPC_MALFORMED,
		    "field numbered 536870912" },
		/* an empty control: a body with all defaults is a body */
		{ "\x3a\x00", 2, IPC_OK, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_rc((const uint8_t *)cases[i].bytes, cases[i].len,
		    cases[i].rc, cases[i].says);
}

static void
log_with_msg(const char *msg, enum ipc_rc want)
{
	ipc_envelope *env = sample_envelope(HAREPD__ENVELOPE__BODY_LOG);
	size_t len;
	uint8_t *buf;

	env->log->msg = unconst_str(msg);
	len = protobuf_c_message_get_packed_size(&env->base);
	buf = malloc(len);
	protobuf_c_message_pack(&env->base, buf);
	expect_rc(buf, len, want, "harepd.Log.msg is not valid UTF-8");
	free(buf);
}

static void
test_utf8(void **state)
{
	ipc_envelope *env;
	char why[128], scrub[] = "a\xc0\xaf" "b\xff" "c\xe6\x9d";
	size_t len;
	uint8_t *buf;

	log_with_msg("nœud-ß-東京 🐘", IPC_OK);
	log_with_msg("\xc0\xaf", IPC_MALFORMED);		/* overlong '/' */
	log_with_msg("\xed\xa0\x80", IPC_MALFORMED);		/* surrogate */
	log_with_msg("\xf4\x90\x80\x80", IPC_MALFORMED);	/* > U+10FFFF */
	log_with_msg("\xe6\x9d", IPC_MALFORMED);		/* cut sequence */
	log_with_msg("\x80", IPC_MALFORMED);
	/* deep inside: Verdict.evidence[0].answer.slaves[1] */
	env = sample_envelope(HAREPD__ENVELOPE__BODY_VERDICT);
	char **slaves = env->verdict->evidence[0]->answer->slaves;
	char *saved = slaves[1];

	slaves[1] = "\xfe";
	assert_int_equal(ipc_check_utf8(&env->base, why, sizeof(why)), -1);
	assert_string_equal(why, "models.IKnow.slaves is not valid UTF-8");
	len = protobuf_c_message_get_packed_size(&env->base);
	buf = malloc(len);
	protobuf_c_message_pack(&env->base, buf);
	expect_rc(buf, len, IPC_MALFORMED, "models.IKnow.slaves");
	free(buf);
	slaves[1] = saved;	/* the sample's storage is shared */

	ipc_utf8_scrub(scrub);
	assert_string_equal(scrub, "a??b?c??");
	assert_true(ipc_utf8_valid(scrub));
}

static uint64_t rng;

static uint32_t
rnd(void)
{
	/* xorshift64*: the same bytes on every run for a given seed */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 2685821657736338717ULL) >> 32);
}

static size_t
random_len(void)
{
	switch (rnd() % 8) {
	case 0: return rnd() % 4;
	case 1: return rnd() % 4096;
	default: return rnd() % 128;
	}
}

static void
random_datagrams(uint64_t seed, int count)
{
	uint8_t *buf = malloc(4096);

	rng = seed;
	for (int i = 0; i < count; i++) {
		size_t len = random_len();

		for (size_t j = 0; j < len; j++)
			buf[j] = rnd();
		/* start with a body key half the time, to get past the door */
		if (len > 0 && rnd() % 2)
			buf[0] = ((rnd() % 7 + 1) << 3) | 2;
		expect_handled(buf, len);
	}
	free(buf);
}

static void
test_random_bytes(void **state)
{
	uint64_t seeds[] = { 1, 42, 0x5eed, 20261125 };

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		random_datagrams(seeds[i], 20000);
}

/* Random byte flips and cuts of valid envelopes: deeper into protobuf-c. */
static void
test_mutations(void **state)
{
	rng = 7;
	for (int round = 0; round < 3000; round++) {
		size_t len;
		uint8_t *buf = sample_packed(round % SAMPLE_KINDS + 1, &len);
		int flips = rnd() % 4 + 1;

		for (int f = 0; f < flips; f++)
			buf[rnd() % len] ^= 1u << (rnd() % 8);
		expect_handled(buf, rnd() % 4 ? len : rnd() % len);
		free(buf);
	}
}

/* The same garbage through a real socket, as the supervisor reads it. */
static void
test_random_through_socket(void **state)
{
	struct ipc_chan a, b;
	ipc_envelope *env;
	uint8_t buf[512];
	char err[256];
	int sv[2];

	assert_int_equal(ipc_socketpair(sv), 0);
	ipc_chan_init(&a, sv[0]);
	ipc_chan_init(&b, sv[1]);
	rng = 99;
	for (int i = 0; i < 2000; i++) {
		size_t len = rnd() % sizeof(buf);
		enum ipc_rc rc;

		for (size_t j = 0; j < len; j++)
			buf[j] = rnd();
		assert_int_equal(send(sv[0], buf, len, 0), (ssize_t)len);
		rc = ipc_recv(&b, &env, err, sizeof(err));
		assert_true(rc == IPC_OK || rc == IPC_MALFORMED ||
		    rc == IPC_TRUNCATED);
		ipc_free(env);
	}
	/* still a working channel afterwards */
	assert_int_equal(ipc_send(&a,
	    sample_envelope(HAREPD__ENVELOPE__BODY_CONTROL)), 0);
	assert_int_equal(ipc_recv(&b, &env, err, sizeof(err)), IPC_OK);
	ipc_free(env);
	ipc_chan_close(&a);
	ipc_chan_close(&b);
}

/* A worker passing a descriptor: refused, and the descriptor not kept. */
static void
test_ancillary_data(void **state)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	size_t len;
	uint8_t *env = sample_packed(HAREPD__ENVELOPE__BODY_HELLO, &len);
	struct iovec iov = { .iov_base = env, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	struct ipc_chan b;
	ipc_envelope *got;
	char err[256];
	int sv[2], passed = STDIN_FILENO, before;

	assert_int_equal(ipc_socketpair(sv), 0);
	before = dup(0);	/* the lowest free descriptor number */
	close(before);
	ipc_chan_init(&b, sv[1]);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &passed, sizeof(int));
	assert_int_equal(sendmsg(sv[0], &msg, 0), (ssize_t)len);
	assert_int_equal(ipc_recv(&b, &got, err, sizeof(err)), IPC_MALFORMED);
	assert_null(got);
	assert_non_null(strstr(err, "ancillary"));
	/* nothing new was installed in our descriptor table */
	assert_int_equal(dup(0), before);
	close(before);
	close(sv[0]);
	ipc_chan_close(&b);
	free(env);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_inner_prefixes),
		cmocka_unit_test(test_oversized_decode),
		cmocka_unit_test(test_oversized_datagrams),
		cmocka_unit_test(test_unknown_fields_and_wire_types),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_random_through_socket),
		cmocka_unit_test(test_ancillary_data),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
