/*
 * Supervisor <-> worker framing: one protobuf-c Envelope per
 * SOCK_SEQPACKET datagram. The kernel keeps message boundaries, so the
 * only length a reader ever sees is the one recv() reports, and it is
 * bounded by IPC_MAX_MSG before anything is decoded.
 *
 * This file never logs: the worker's log sink sends through it, and the
 * supervisor logs what it returns.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "ipc/ipc.h"
#include "util/clock.h"

struct ipc_out {
	struct ipc_out	*next;
	size_t		 len;
	uint8_t		 data[];
};

/* The envelope's body fields, numbered as in proto/ipc.proto. */
#define IPC_FIRST_BODY	1
#define IPC_LAST_BODY	HAREPD__ENVELOPE__BODY_METRICS_TEXT

int
ipc_socketpair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0, sv);
}

void
ipc_chan_init(struct ipc_chan *ch, int fd)
{
	ch->fd = fd;
	ch->head = ch->tail = NULL;
	ch->queued = 0;
}

static void
queue_drop(struct ipc_chan *ch)
{
	struct ipc_out *o;

	while ((o = ch->head) != NULL) {
		ch->head = o->next;
		free(o);
	}
	ch->tail = NULL;
	ch->queued = 0;
}

void
ipc_chan_close(struct ipc_chan *ch)
{
	queue_drop(ch);
	if (ch->fd != -1)
		close(ch->fd);
	ch->fd = -1;
}

bool
ipc_pending(const struct ipc_chan *ch)
{
	return ch->head != NULL;
}

/*
 * One datagram, never blocking and never raising SIGPIPE (a dead peer
 * must be an error code, not the death of the supervisor). 1: sent,
 * 0: the socket is full, -1: errno.
 */
static int
send_datagram(int fd, const uint8_t *buf, size_t len)
{
	ssize_t n;

	do {
		n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n == -1 && errno == EINTR);
	if (n >= 0)
		return 1;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	return -1;
}

int
ipc_flush(struct ipc_chan *ch)
{
	struct ipc_out *o;
	int r;

	while ((o = ch->head) != NULL) {
		if ((r = send_datagram(ch->fd, o->data, o->len)) != 1)
			return r == 0 ? 1 : -1;
		ch->head = o->next;
		if (ch->head == NULL)
			ch->tail = NULL;
		ch->queued -= o->len;
		free(o);
	}
	return 0;
}

static int
enqueue(struct ipc_chan *ch, struct ipc_out *o)
{
	if (ch->queued + o->len > IPC_MAX_QUEUED) {
		free(o);
		errno = ENOBUFS;
		return -1;
	}
	o->next = NULL;
	if (ch->tail != NULL)
		ch->tail->next = o;
	else
		ch->head = o;
	ch->tail = o;
	ch->queued += o->len;
	return 0;
}

/* Packed copy of env ready to queue, or NULL with errno (see ipc.h). */
static struct ipc_out *
pack_envelope(const ipc_envelope *env)
{
	struct ipc_out *o;
	size_t len;

	/*
	 * The receiver would reject these, and the bug is here: protobuf-c
	 * packs a NULL body as nothing, so it arrives bodiless.
	 */
	if (env->body_case == HAREPD__ENVELOPE__BODY__NOT_SET ||
	    env->hello == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (ipc_check_utf8(&env->base, NULL, 0) != 0) {
		errno = EILSEQ;
		return NULL;
	}
	len = protobuf_c_message_get_packed_size(&env->base);
	if (len > IPC_MAX_MSG) {
		errno = EMSGSIZE;
		return NULL;
	}
	if ((o = malloc(sizeof(*o) + len)) == NULL)
		return NULL;
	o->len = protobuf_c_message_pack(&env->base, o->data);
	return o;
}

int
ipc_send(struct ipc_chan *ch, const ipc_envelope *env)
{
	struct ipc_out *o;
	int saved;

	if ((o = pack_envelope(env)) == NULL)
		return -1;
	switch (ipc_flush(ch)) {
	case 1:
		return enqueue(ch, o);	/* never overtake older messages */
	case 0:
		switch (send_datagram(ch->fd, o->data, o->len)) {
		case 1:
			free(o);
			return 0;
		case 0:
			return enqueue(ch, o);
		}
	}
	saved = errno;
	free(o);
	errno = saved;
	return -1;
}

int
ipc_flush_wait(struct ipc_chan *ch, int timeout_ms)
{
	int64_t deadline = clock_mono_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
	struct pollfd pfd = { .fd = ch->fd, .events = POLLOUT };
	int r, left;

	while ((r = ipc_flush(ch)) == 1) {
		left = timeout_ms < 0 ? -1 : (int)(deadline - clock_mono_ms());
		if (timeout_ms >= 0 && left <= 0)
			return 1;
		if (poll(&pfd, 1, left) == -1 && errno != EINTR)
			return -1;
	}
	return r;
}

/* "12 bytes: 0a 0b ff ..." for error messages. */
static void
describe_bytes(const uint8_t *buf, size_t len, char *out, size_t outlen)
{
	size_t show = len < 16 ? len : 16, off;
	int n;

	n = snprintf(out, outlen, "%zu bytes%s", len, len ? ":" : "");
	off = n < 0 ? 0 : (size_t)n;
	for (size_t i = 0; i < show && off < outlen; i++) {
		n = snprintf(out + off, outlen - off, " %02x", buf[i]);
		off += n < 0 ? 0 : (size_t)n;
	}
	if (show < len && off < outlen)
		snprintf(out + off, outlen - off, " ...");
}

static void
set_err(char *err, size_t errlen, const char *why, const uint8_t *buf,
    size_t len)
{
	char bytes[80];

	if (err == NULL || errlen == 0)
		return;
	describe_bytes(buf, len, bytes, sizeof(bytes));
	snprintf(err, errlen, "%s: %s", why, bytes);
}

/* Varint at *p, at most 10 bytes. -1 when buf ends first, -2 when too long. */
static int
read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 70; shift += 7) {
		if (*p >= end)
			return -1;
		*v |= (uint64_t)(**p & 0x7f) << shift;
		if ((*(*p)++ & 0x80) == 0)
			return 0;
	}
	return -2;
}

/*
 * The envelope's own layer, checked before protobuf-c sees it: exactly
 * one field, a known body number, length-delimited, and the claimed
 * length within the datagram. This is what tells a truncated datagram
 * from a malformed one, and names what was wrong.
 */
static enum ipc_rc
check_outer(const uint8_t *buf, size_t len, char *why, size_t whylen)
{
	const uint8_t *p = buf, *end = buf + len;
	uint64_t key, blen;
	int r;

	if (len == 0) {
		snprintf(why, whylen, "empty envelope (no body)");
		return IPC_MALFORMED;
	}
	if ((r = read_varint(&p, end, &key)) != 0) {
		snprintf(why, whylen, "%s", r == -1 ? "field key cut short" :
		    "field key is not a varint");
		return r == -1 ? IPC_TRUNCATED : IPC_MALFORMED;
	}
	if ((key >> 3) < IPC_FIRST_BODY || (key >> 3) > IPC_LAST_BODY) {
		snprintf(why, whylen, "unknown envelope field %llu",
		    (unsigned long long)(key >> 3));
		return IPC_MALFORMED;
	}
	if ((key & 7) != 2) {
		snprintf(why, whylen, "body field %llu (%s) has wire type %u, "
		    "expected 2 (length-delimited)", (unsigned long long)(key >> 3),
		    ipc_body_name((Harepd__Envelope__BodyCase)(key >> 3)),
		    (unsigned)(key & 7));
		return IPC_MALFORMED;
	}
	if ((r = read_varint(&p, end, &blen)) != 0) {
		snprintf(why, whylen, "%s", r == -1 ? "body length cut short" :
		    "body length is not a varint");
		return r == -1 ? IPC_TRUNCATED : IPC_MALFORMED;
	}
	if (blen > (uint64_t)(end - p)) {
		snprintf(why, whylen, "%s body claims %llu bytes, %zu present",
		    ipc_body_name((Harepd__Envelope__BodyCase)(key >> 3)),
		    (unsigned long long)blen, (size_t)(end - p));
		return IPC_TRUNCATED;
	}
	if (blen < (uint64_t)(end - p)) {
		snprintf(why, whylen, "%zu bytes after the %s body (one body "
		    "per envelope)", (size_t)(end - p) - (size_t)blen,
		    ipc_body_name((Harepd__Envelope__BodyCase)(key >> 3)));
		return IPC_MALFORMED;
	}
	return IPC_OK;
}

enum ipc_rc
ipc_decode(const uint8_t *buf, size_t len, ipc_envelope **out, char *err,
    size_t errlen)
{
	char why[160];
	enum ipc_rc rc;
	ipc_envelope *env;

	*out = NULL;
	if (len > IPC_MAX_MSG) {
		snprintf(why, sizeof(why), "envelope larger than %d bytes",
		    IPC_MAX_MSG);
		set_err(err, errlen, why, buf, len);
		return IPC_OVERSIZED;
	}
	if ((rc = check_outer(buf, len, why, sizeof(why))) != IPC_OK) {
		set_err(err, errlen, why, buf, len);
		return rc;
	}
	env = harepd__envelope__unpack(NULL, len, buf);
	if (env == NULL) {
		set_err(err, errlen, "protobuf-c cannot unpack the Envelope",
		    buf, len);
		return IPC_MALFORMED;
	}
	if (ipc_check_utf8(&env->base, why, sizeof(why)) != 0 ||
	    ipc_check_unknown(&env->base, why, sizeof(why)) != 0) {
		set_err(err, errlen, why, buf, len);
		ipc_free(env);
		return IPC_MALFORMED;
	}
	*out = env;
	return IPC_OK;
}

/*
 * Length of the UTF-8 sequence at s, 0 when it is not valid RFC 3629
 * (overlong forms, surrogates and code points past U+10FFFF are not).
 */
size_t
ipc_utf8_seq_len(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned c = s[0], cp, min;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2; min = 0x80; cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3; min = 0x800; cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4; min = 0x10000; cp = c & 0x07;
	} else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)	/* also stops at the NUL */
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

bool
ipc_utf8_valid(const char *str)
{
	size_t n;

	for (; *str; str += n)
		if ((n = ipc_utf8_seq_len(str)) == 0)
			return false;
	return true;
}

void
ipc_utf8_scrub(char *str)
{
	size_t n;

	for (; *str; str += n)
		if ((n = ipc_utf8_seq_len(str)) == 0) {
			*str = '?';
			n = 1;
		}
}

static int check_field_utf8(const ProtobufCMessage *,
    const ProtobufCFieldDescriptor *, char *, size_t);

int
ipc_check_utf8(const ProtobufCMessage *m, char *why, size_t whylen)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < d->n_fields; i++)
		if (check_field_utf8(m, &d->fields[i], why, whylen) != 0)
			return -1;
	return 0;
}

/* One value of a string or message field; p points at the member. */
static int
check_value_utf8(const ProtobufCFieldDescriptor *f, const void *p,
    const char *msgname, char *why, size_t whylen)
{
	if (f->type == PROTOBUF_C_TYPE_STRING) {
		const char *str = *(char *const *)p;

		if (str != NULL && !ipc_utf8_valid(str)) {
			if (why != NULL && whylen > 0)
				snprintf(why, whylen, "%s.%s is not valid "
				    "UTF-8", msgname, f->name);
			return -1;
		}
	} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;

		if (sub != NULL)
			return ipc_check_utf8(sub, why, whylen);
	}
	return 0;
}

static int
check_field_utf8(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
    char *why, size_t whylen)
{
	const char *base = (const char *)m, *name = m->descriptor->name;

	if (f->type != PROTOBUF_C_TYPE_STRING &&
	    f->type != PROTOBUF_C_TYPE_MESSAGE)
		return 0;
	/* a oneof member's storage is shared: only the set one is valid */
	if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
	    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
		return 0;
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t n = *(const size_t *)(base + f->quantifier_offset);
		void *const *arr = *(void *const *const *)(base + f->offset);

		for (size_t i = 0; i < n; i++)
			if (check_value_utf8(f, &arr[i], name, why, whylen))
				return -1;
		return 0;
	}
	return check_value_utf8(f, base + f->offset, name, why, whylen);
}

/* Field numbers protobuf allows: 1 to 2^29 - 1. */
#define PB_FIELD_MAX	536870911u

static int check_field_unknown(const ProtobufCMessage *,
    const ProtobufCFieldDescriptor *, char *, size_t);

int
ipc_check_unknown(const ProtobufCMessage *m, char *why, size_t whylen)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < m->n_unknown_fields; i++) {
		uint32_t tag = m->unknown_fields[i].tag;

		if (tag == 0 || tag > PB_FIELD_MAX) {
			if (why != NULL && whylen > 0)
				snprintf(why, whylen, "%s has a field numbered "
				    "%u", d->name, (unsigned)tag);
			return -1;
		}
	}
	for (unsigned i = 0; i < d->n_fields; i++)
		if (check_field_unknown(m, &d->fields[i], why, whylen) != 0)
			return -1;
	return 0;
}

/* The sub-messages of one field, as check_field_utf8 walks them. */
static int
check_field_unknown(const ProtobufCMessage *m,
    const ProtobufCFieldDescriptor *f, char *why, size_t whylen)
{
	const char *base = (const char *)m;
	const ProtobufCMessage *sub;

	if (f->type != PROTOBUF_C_TYPE_MESSAGE)
		return 0;
	if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
	    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
		return 0;
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t n = *(const size_t *)(base + f->quantifier_offset);
		void *const *arr = *(void *const *const *)(base + f->offset);

		for (size_t i = 0; i < n; i++)
			if (ipc_check_unknown(arr[i], why, whylen) != 0)
				return -1;
		return 0;
	}
	sub = *(ProtobufCMessage *const *)(base + f->offset);
	return sub != NULL ? ipc_check_unknown(sub, why, whylen) : 0;
}

/*
 * A 0-byte read on SOCK_SEQPACKET is either a zero-length datagram or
 * the end: only a peer that hung up makes it the end.
 */
static bool
peer_hung_up(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLRDHUP };

	return poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & (POLLRDHUP | POLLHUP)) != 0;
}

static enum ipc_rc
recv_datagram(int fd, uint8_t *buf, size_t *len, char *err, size_t errlen)
{
	struct iovec iov = { .iov_base = buf, .iov_len = IPC_MAX_MSG + 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	/* MSG_TRUNC: n is the datagram's real length, even past the buffer */
	do {
		n = recvmsg(fd, &msg, MSG_TRUNC | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return IPC_AGAIN;
		if (errno == ECONNRESET) {
			snprintf(err, errlen, "peer closed with messages unread");
			return IPC_EOF;
		}
		snprintf(err, errlen, "recvmsg: %s", strerror(errno));
		return IPC_SYSERR;
	}
	*len = (size_t)n;
	if ((size_t)n > IPC_MAX_MSG || (msg.msg_flags & MSG_TRUNC)) {
		snprintf(err, errlen, "oversized datagram of %zd bytes "
		    "(maximum %d), discarded", n, IPC_MAX_MSG);
		return IPC_OVERSIZED;
	}
	/* no control buffer: the kernel closed any descriptors sent along */
	if (msg.msg_flags & MSG_CTRUNC) {
		snprintf(err, errlen, "datagram of %zd bytes came with ancillary "
		    "data (descriptors?), discarded", n);
		return IPC_MALFORMED;
	}
	if (n == 0 && peer_hung_up(fd)) {
		snprintf(err, errlen, "peer closed the channel");
		return IPC_EOF;
	}
	return IPC_OK;
}

enum ipc_rc
ipc_recv(struct ipc_chan *ch, ipc_envelope **out, char *err, size_t errlen)
{
	char dummy[1];
	uint8_t *buf;
	size_t len = 0;
	enum ipc_rc rc;

	*out = NULL;
	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	/* heap, not stack: workers call this from threads with small stacks */
	if ((buf = malloc(IPC_MAX_MSG + 1)) == NULL) {
		snprintf(err, errlen, "malloc: %s", strerror(errno));
		return IPC_SYSERR;
	}
	rc = recv_datagram(ch->fd, buf, &len, err, errlen);
	if (rc == IPC_OK)
		rc = ipc_decode(buf, len, out, err, errlen);
	free(buf);
	return rc;
}

void
ipc_free(ipc_envelope *env)
{
	if (env != NULL)
		harepd__envelope__free_unpacked(env, NULL);
}

const char *
ipc_body_name(Harepd__Envelope__BodyCase c)
{
	switch (c) {
	case HAREPD__ENVELOPE__BODY__NOT_SET: return "none";
	case HAREPD__ENVELOPE__BODY_HELLO: return "hello";
	case HAREPD__ENVELOPE__BODY_CONFIG: return "config";
	case HAREPD__ENVELOPE__BODY_LOCAL_VIEW: return "local_view";
	case HAREPD__ENVELOPE__BODY_VERDICT: return "verdict";
	case HAREPD__ENVELOPE__BODY_HBA_APPLIED: return "hba_applied";
	case HAREPD__ENVELOPE__BODY_LOG: return "log";
	case HAREPD__ENVELOPE__BODY_CONTROL: return "control";
	case HAREPD__ENVELOPE__BODY_GATE_DECLARED: return "gate_declared";
	case HAREPD__ENVELOPE__BODY_GATE_SERVED: return "gate_served";
	case HAREPD__ENVELOPE__BODY_RPC_SERVED: return "rpc_served";
	case HAREPD__ENVELOPE__BODY_METRICS_TEXT: return "metrics_text";
	default: return "unknown";
	}
}

const char *
ipc_rc_str(enum ipc_rc rc)
{
	switch (rc) {
	case IPC_OK: return "ok";
	case IPC_AGAIN: return "nothing to read";
	case IPC_EOF: return "end of channel";
	case IPC_TRUNCATED: return "truncated message";
	case IPC_OVERSIZED: return "oversized message";
	case IPC_MALFORMED: return "malformed message";
	case IPC_SYSERR: return "system error";
	}
	return "unknown ipc result";
}
