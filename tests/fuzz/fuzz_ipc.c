/*
 * IPC envelope decoding (ipc/ipc.c): the bytes of one datagram as a
 * worker or the supervisor receives them. Each input goes twice through
 * the real receive path:
 *
 *   1. ipc_decode() on the bytes, then what a receiver does with the
 *      result (ipc_check_utf8, ipc_body_name, ipc_free);
 *   2. sent as one datagram over a SOCK_SEQPACKET pair and read back
 *      with ipc_recv(), which must agree with ipc_decode();
 *
 * and an envelope that was accepted is sent back with ipc_send() and
 * must be received intact (what one end accepts, the other can relay).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "ipc/ipc.h"
#include "tests/fuzz/fuzz.h"

static struct ipc_chan tx, rx;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int sv[2];

	if (ipc_socketpair(sv) == -1) {
		perror("socketpair");
		exit(1);
	}
	ipc_chan_init(&tx, sv[0]);
	ipc_chan_init(&rx, sv[1]);
	return 0;
}

/* What a receiver does with an accepted envelope. */
static void
use_envelope(ipc_envelope *env)
{
	char why[160];

	FUZZ_CHECK(env != NULL, "IPC_OK without an envelope");
	FUZZ_CHECK(env->body_case != HAREPD__ENVELOPE__BODY__NOT_SET &&
	    env->hello != NULL, "IPC_OK for an envelope without body");
	FUZZ_CHECK(ipc_check_utf8(&env->base, why, sizeof(why)) == 0,
	    "accepted envelope fails the UTF-8 check: %s", why);
	FUZZ_CHECK(strcmp(ipc_body_name(env->body_case), "unknown") != 0,
	    "accepted body %d has no name", (int)env->body_case);
}

static enum ipc_rc
recv_one(ipc_envelope **env, char *err, size_t errlen)
{
	enum ipc_rc rc;

	while ((rc = ipc_recv(&rx, env, err, errlen)) == IPC_AGAIN)
		;	/* sent before: it is there */
	return rc;
}

/* Relay: the accepted envelope, sent back with ipc_send, arrives intact. */
static void
relay(const ipc_envelope *env)
{
	size_t len = protobuf_c_message_get_packed_size(&env->base);
	uint8_t *a, *b;
	ipc_envelope *back;
	char err[256];
	enum ipc_rc rc;

	if (ipc_send(&tx, env) == -1) {
		/* only a size the packer grew past the limit is refused */
		FUZZ_CHECK(errno == EMSGSIZE && len > IPC_MAX_MSG,
		    "ipc_send refused an accepted envelope: %s", strerror(errno));
		return;
	}
	rc = recv_one(&back, err, sizeof(err));
	FUZZ_CHECK(rc == IPC_OK, "relayed envelope refused: %s: %s",
	    ipc_rc_str(rc), err);
	use_envelope(back);
	a = malloc(len + 1);
	b = malloc(protobuf_c_message_get_packed_size(&back->base) + 1);
	FUZZ_CHECK(protobuf_c_message_pack(&env->base, a) ==
	    protobuf_c_message_pack(&back->base, b) && memcmp(a, b, len) == 0,
	    "relayed envelope differs");
	free(a);
	free(b);
	ipc_free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ipc_envelope *env = NULL, *env2 = NULL;
	char err[256] = "", err2[256] = "";
	enum ipc_rc rc, rc2;
	ssize_t n;

	/* 1. pure decoding */
	rc = ipc_decode(data, size, &env, err, sizeof(err));
	FUZZ_CHECK(strnlen(err, sizeof(err)) < sizeof(err), "err unterminated");
	(void)ipc_rc_str(rc);
	if (rc == IPC_OK)
		use_envelope(env);
	else
		FUZZ_CHECK(env == NULL && err[0] != '\0',
		    "%s without a message, or with an envelope", ipc_rc_str(rc));

	/* 2. the same bytes as a datagram through ipc_recv */
	if (size <= IPC_MAX_MSG) {
		do
			n = send(tx.fd, data, size, MSG_DONTWAIT);
		while (n == -1 && errno == EINTR);
		FUZZ_CHECK(n == (ssize_t)size, "send: %s", strerror(errno));
		rc2 = recv_one(&env2, err2, sizeof(err2));
		FUZZ_CHECK(rc2 == rc, "ipc_recv says %s, ipc_decode %s (%s)",
		    ipc_rc_str(rc2), ipc_rc_str(rc), err2);
		if (rc2 == IPC_OK)
			use_envelope(env2);
		ipc_free(env2);
	}

	/* 3. relay what was accepted */
	if (rc == IPC_OK)
		relay(env);
	ipc_free(env);
	return 0;
}
