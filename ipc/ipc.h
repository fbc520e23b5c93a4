/*
 * Supervisor <-> worker messages: one protobuf-c Envelope per
 * SOCK_SEQPACKET datagram (the socket keeps message boundaries, so no
 * length prefix is needed), at most IPC_MAX_MSG bytes. Both ends are
 * non-blocking; what cannot be sent at once is queued, bounded by
 * IPC_MAX_QUEUED bytes.
 */
#ifndef HAREPD_IPC_H
#define HAREPD_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/ipc.pb-c.h"

#define IPC_FD		3		/* a worker's end, after exec */
#define IPC_MAX_MSG	(64 * 1024)
#define IPC_MAX_QUEUED	(4 * 1024 * 1024)
/* MetricsText: a page goes in parts of at most IPC_METRICS_PART bytes
 * (room left for the envelope); the metrics worker refuses a page over
 * IPC_METRICS_MAX. */
#define IPC_METRICS_PART (IPC_MAX_MSG - 1024)
#define IPC_METRICS_MAX	(1024 * 1024)
/* What the page is, as the metrics worker labels it over HTTP. */
#define METRICS_CONTENT_TYPE \
	"application/openmetrics-text; version=1.0.0; charset=utf-8"

typedef Harepd__Envelope ipc_envelope;

struct ipc_out;

struct ipc_chan {
	int		 fd;
	struct ipc_out	*head;
	struct ipc_out	*tail;
	size_t		 queued;	/* bytes waiting in the queue */
};

enum ipc_rc {
	IPC_OK = 0,
	IPC_AGAIN,		/* nothing to read now */
	IPC_EOF,		/* the other end closed */
	IPC_TRUNCATED,		/* datagram shorter than its content claims */
	IPC_OVERSIZED,		/* datagram larger than IPC_MAX_MSG */
	IPC_MALFORMED,		/* not an Envelope, or an Envelope without body */
	IPC_SYSERR,		/* errno says why */
};

/* socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC|SOCK_NONBLOCK) */
int	 ipc_socketpair(int sv[2]);
void	 ipc_chan_init(struct ipc_chan *, int fd);
/* Drops queued messages and closes fd. */
void	 ipc_chan_close(struct ipc_chan *);

/*
 * Pack and send, or queue what the socket will not take now.
 * -1 with errno: EMSGSIZE (packed envelope > IPC_MAX_MSG), ENOBUFS (queue
 * full), EPIPE/ECONNRESET (peer gone), EINVAL (no body), EILSEQ (a string
 * is not valid UTF-8: the receiver would reject it), or another send error.
 */
int	 ipc_send(struct ipc_chan *, const ipc_envelope *);
/* Send queued messages: 0 when the queue is empty, 1 when some remain, -1. */
int	 ipc_flush(struct ipc_chan *);
bool	 ipc_pending(const struct ipc_chan *);
/* Blocking helper for short-lived paths (worker exit): flush with poll. */
int	 ipc_flush_wait(struct ipc_chan *, int timeout_ms);

/*
 * Receive one envelope. IPC_OK sets *out (free with ipc_free). Any other
 * code leaves *out NULL; for the error codes err names what was wrong.
 */
enum ipc_rc ipc_recv(struct ipc_chan *, ipc_envelope **out, char *err,
	    size_t errlen);
/* Pure decoding of one datagram, used by ipc_recv and the tests. */
enum ipc_rc ipc_decode(const uint8_t *buf, size_t len, ipc_envelope **out,
	    char *err, size_t errlen);
void	 ipc_free(ipc_envelope *);
/*
 * 0 when every string in m (recursively) is valid UTF-8, as proto3
 * requires and Go peers enforce; else -1 and why names the field.
 * ipc_decode and ipc_send apply it to every envelope. why may be NULL.
 */
int	 ipc_check_utf8(const ProtobufCMessage *m, char *why, size_t whylen);
/*
 * 0 when every unknown field in m (recursively) has a field number
 * protobuf allows (1 to 2^29 - 1), else -1 and why (may be NULL).
 * protobuf-c's reader takes a field number 0 from an overlong key
 * ("80 00") and one past 2^29 - 1 from a 5-byte key, and keeps them as
 * unknown fields; packed again they are keys protobuf-c refuses. An
 * accepted message must survive being passed on: a peer's IKnow with
 * such a field, carried in the probe's Verdict, made the supervisor
 * refuse the verdict and kill the probe at every tick (found by
 * tests/fuzz/fuzz_ipc). ipc_decode, peers_decode_answer and
 * rpc_request_decode apply it.
 */
int	 ipc_check_unknown(const ProtobufCMessage *m, char *why, size_t whylen);
bool	 ipc_utf8_valid(const char *);
/* Length of the UTF-8 sequence starting at s, 0 if it is not valid. */
size_t	 ipc_utf8_seq_len(const char *s);
/* Replaces each byte that starts no valid UTF-8 sequence with '?'. */
void	 ipc_utf8_scrub(char *);
const char *ipc_body_name(Harepd__Envelope__BodyCase);
const char *ipc_rc_str(enum ipc_rc);

#endif
