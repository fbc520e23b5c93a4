/*
 * A peer for the probe's tests: a real gRPC C core server answering
 * models.ClusterInfo/GetClusterInfo from a spec file, re-read on every
 * call so a test changes the answer by rewriting the file:
 *
 *   answer [ip=A] [id=N] [name=S] [witness=W] [masters=a,b] [slaves=c,d]
 *          [obs=REC/TL]          an IKnow; without obs= as a Go peer
 *   garbage                      reply bytes that are not an IKnow
 *   raw HEX                      reply these bytes
 *   big N                        an IKnow of about N bytes (a long name)
 *   status CODE [details]        fail the call with that gRPC status
 *
 * or, with --blackhole, a TCP listener that accepts and never says a word
 * (a hung peer: the caller's deadline must end the call).
 *
 * Prints "port N" once listening, then "asked ip=.. nodeId=.. nodeName=.."
 * for each call. Stops on SIGTERM or SIGINT.
 *
 * usage: probe_fakepeer [--tls CA CERT KEY [--client-auth]] HOST:PORT SPEC
 *        probe_fakepeer --blackhole HOST:PORT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "proto/messaging.pb-c.h"

#define MAX_LIST	16
#define MAX_HELD	256

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
die(const char *what)
{
	fprintf(stderr, "probe_fakepeer: %s: %s\n", what, strerror(errno));
	exit(2);
}

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	if ((buf = calloc(1, n + 1)) == NULL)
		die("calloc");
	if (fread(buf, 1, n, fp) != (size_t)n)
		n = 0;
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

/* ---- blackhole ---- */

static void
split_hostport(const char *addr, char *host, size_t hlen, char *port,
    size_t plen)
{
	const char *colon = strrchr(addr, ':');

	if (colon == NULL)
		die("address without port");
	if (addr[0] == '[')
		snprintf(host, hlen, "%.*s", (int)(colon - addr - 2), addr + 1);
	else
		snprintf(host, hlen, "%.*s", (int)(colon - addr), addr);
	snprintf(port, plen, "%s", colon + 1);
}

static int
listen_tcp(const char *addr)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICHOST | AI_PASSIVE }, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[128], port[16];
	int fd, on = 1;

	split_hostport(addr, host, sizeof(host), port, sizeof(port));
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		die("getaddrinfo");
	if ((fd = socket(ai->ai_family, SOCK_STREAM, 0)) == -1)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 || listen(fd, 64) == -1)
		die("bind/listen");
	freeaddrinfo(ai);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	printf("port %d\n", ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port));
	fflush(stdout);
	return fd;
}

/* Accepts every connection and holds it open, silent. */
static int
blackhole(const char *addr)
{
	int lfd = listen_tcp(addr), held[MAX_HELD], n = 0, fd;
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };

	while (!stop) {
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		if ((fd = accept(lfd, NULL, NULL)) == -1)
			continue;
		if (n < MAX_HELD)
			held[n++] = fd;
		else
			close(fd);
	}
	while (n > 0)
		close(held[--n]);
	close(lfd);
	return 0;
}

/* ---- answers from the spec ---- */

static size_t
split_list(char *list, char **out)
{
	size_t n = 0;
	char *save;

	for (char *t = strtok_r(list, ",", &save); t && n < MAX_LIST;
	    t = strtok_r(NULL, ",", &save))
		out[n++] = t;
	return n;
}

/* "answer k=v ..." -> packed IKnow */
static grpc_slice
pack_answer(char *spec)
{
	Models__IKnow k = MODELS__IKNOW__INIT;
	Models__Observation o = MODELS__OBSERVATION__INIT;
	char *masters[MAX_LIST], *slaves[MAX_LIST], *save, *t, *v;
	grpc_slice s;

	k.master = masters;
	k.slaves = slaves;
	for (t = strtok_r(spec, " \n", &save); t; t = strtok_r(NULL, " \n",
	    &save)) {
		if ((v = strchr(t, '=')) == NULL)
			continue;
		*v++ = '\0';
		if (strcmp(t, "ip") == 0) k.ip = v;
		else if (strcmp(t, "id") == 0) k.nodeid = atoi(v);
		else if (strcmp(t, "name") == 0) k.nodename = v;
		else if (strcmp(t, "witness") == 0) k.witness = v;
		else if (strcmp(t, "masters") == 0)
			k.n_master = split_list(v, masters);
		else if (strcmp(t, "slaves") == 0)
			k.n_slaves = split_list(v, slaves);
		else if (strcmp(t, "obs") == 0) {
			o.inrecovery = v[0] == '1';
			o.timeline = (uint32_t)atoi(v + 2);
			k.observation = &o;
		}
	}
	s = grpc_slice_malloc(models__iknow__get_packed_size(&k));
	models__iknow__pack(&k, GRPC_SLICE_START_PTR(s));
	return s;
}

static grpc_slice
hex_slice(const char *hex)
{
	size_t n = strspn(hex, "0123456789abcdefABCDEF") / 2, i;
	grpc_slice s = grpc_slice_malloc(n);
	unsigned int byte;

	for (i = 0; i < n && sscanf(hex + 2 * i, "%2x", &byte) == 1; i++)
		GRPC_SLICE_START_PTR(s)[i] = (uint8_t)byte;
	return s;
}

static grpc_slice
big_answer(size_t n)
{
	Models__IKnow k = MODELS__IKNOW__INIT;
	grpc_slice s;

	if ((k.nodename = malloc(n + 1)) == NULL)
		die("malloc");
	memset(k.nodename, 'x', n);
	k.nodename[n] = '\0';
	s = grpc_slice_malloc(models__iknow__get_packed_size(&k));
	models__iknow__pack(&k, GRPC_SLICE_START_PTR(s));
	free(k.nodename);
	return s;
}

struct reply {
	grpc_byte_buffer	*msg;		/* NULL: status only */
	grpc_status_code	 status;
	grpc_slice		 details;
};

static void
make_reply(const char *spec_path, struct reply *r)
{
	char *spec = slurp(spec_path), *rest;
	grpc_slice s;

	r->msg = NULL;
	r->status = GRPC_STATUS_OK;
	r->details = grpc_empty_slice();
	if (spec == NULL || strncmp(spec, "status ", 7) == 0) {
		r->status = spec ? (grpc_status_code)strtol(spec + 7, &rest,
		    10) : GRPC_STATUS_INTERNAL;
		r->details = grpc_slice_from_copied_string(spec ?
		    rest + strspn(rest, " ") : "no spec file");
	} else if (strncmp(spec, "raw ", 4) == 0) {
		s = hex_slice(spec + 4);
		r->msg = grpc_raw_byte_buffer_create(&s, 1);
		grpc_slice_unref(s);
	} else if (strncmp(spec, "big ", 4) == 0) {
		s = big_answer((size_t)atol(spec + 4));
		r->msg = grpc_raw_byte_buffer_create(&s, 1);
		grpc_slice_unref(s);
	} else if (strncmp(spec, "garbage", 7) == 0) {
		/* field 1 as a varint of 10 bytes all with continuation bits */
		s = grpc_slice_from_copied_buffer(
		    "\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 12);
		r->msg = grpc_raw_byte_buffer_create(&s, 1);
		grpc_slice_unref(s);
	} else {
		s = pack_answer(spec + (strncmp(spec, "answer", 6) == 0 ? 6 :
		    0));
		r->msg = grpc_raw_byte_buffer_create(&s, 1);
		grpc_slice_unref(s);
	}
	free(spec);
}

/* ---- the server ---- */

static void
print_request(grpc_byte_buffer *payload)
{
	grpc_byte_buffer_reader reader;
	Models__WhatYouKnow *q = NULL;
	grpc_slice all;

	if (payload != NULL && grpc_byte_buffer_reader_init(&reader, payload)) {
		all = grpc_byte_buffer_reader_readall(&reader);
		grpc_byte_buffer_reader_destroy(&reader);
		q = models__what_you_know__unpack(NULL, GRPC_SLICE_LENGTH(all),
		    GRPC_SLICE_START_PTR(all));
		grpc_slice_unref(all);
	}
	if (q != NULL)
		printf("asked ip=%s nodeId=%d nodeName=%s\n", q->ip,
		    (int)q->nodeid, q->nodename);
	else
		printf("asked (unreadable request)\n");
	fflush(stdout);
	if (q != NULL)
		models__what_you_know__free_unpacked(q, NULL);
}

static grpc_event
next_event(grpc_completion_queue *cq)
{
	grpc_event ev;

	do
		ev = grpc_completion_queue_next(cq, gpr_time_add(
		    gpr_now(GPR_CLOCK_MONOTONIC),
		    gpr_time_from_millis(200, GPR_TIMESPAN)), NULL);
	while (ev.type == GRPC_QUEUE_TIMEOUT && !stop);
	return ev;
}

static void
answer(grpc_call *call, grpc_completion_queue *cq, const char *spec)
{
	grpc_byte_buffer *payload = NULL;
	struct reply r;
	grpc_op ops[4];
	int cancelled = 0;
	size_t n = 0;

	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_RECV_MESSAGE;
	ops[0].data.recv_message.recv_message = &payload;
	grpc_call_start_batch(call, ops, 1, (void *)2, NULL);
	if (next_event(cq).type != GRPC_OP_COMPLETE)
		return;
	print_request(payload);
	if (payload != NULL)
		grpc_byte_buffer_destroy(payload);
	make_reply(spec, &r);
	memset(ops, 0, sizeof(ops));
	ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (r.msg != NULL) {
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = r.msg;
	}
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = r.status;
	ops[n++].data.send_status_from_server.status_details = &r.details;
	ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[n++].data.recv_close_on_server.cancelled = &cancelled;
	grpc_call_start_batch(call, ops, n, (void *)3, NULL);
	next_event(cq);
	if (r.msg != NULL)
		grpc_byte_buffer_destroy(r.msg);
	grpc_slice_unref(r.details);
}

static grpc_server_credentials *
server_creds(char **tls, int client_auth)
{
	grpc_ssl_pem_key_cert_pair pair;
	grpc_server_credentials *creds;
	char *ca, *cert, *key;

	if (tls == NULL)
		return grpc_insecure_server_credentials_create();
	if ((ca = slurp(tls[0])) == NULL || (cert = slurp(tls[1])) == NULL ||
	    (key = slurp(tls[2])) == NULL)
		die("reading TLS files");
	pair.private_key = key;
	pair.cert_chain = cert;
	creds = grpc_ssl_server_credentials_create_ex(ca, &pair, 1,
	    client_auth ?
	    GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY :
	    GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE, NULL);
	/* the core copied the PEM bytes */
	free(ca);
	free(cert);
	free(key);
	return creds;
}

/* static: a request still pending at shutdown completes into them later */
static grpc_call_details details;
static grpc_metadata_array md;
static grpc_call *call;

static void
serve_loop(grpc_server *srv, grpc_completion_queue *cq, const char *spec)
{
	grpc_event ev;

	while (!stop) {
		grpc_call_details_init(&details);
		grpc_metadata_array_init(&md);
		call = NULL;
		grpc_server_request_call(srv, &call, &details, &md, cq, cq,
		    (void *)1);
		ev = next_event(cq);
		if (ev.type == GRPC_OP_COMPLETE && ev.success && call != NULL)
			answer(call, cq, spec);
		if (ev.type != GRPC_OP_COMPLETE)
			break;	/* stopping: the request is still pending */
		if (call != NULL)
			grpc_call_unref(call);
		grpc_call_details_destroy(&details);
		grpc_metadata_array_destroy(&md);
	}
}

static int
serve(const char *addr, const char *spec, char **tls, int client_auth)
{
	grpc_completion_queue *cq;
	grpc_server_credentials *creds;
	grpc_server *srv;
	grpc_event ev;
	int port;

	grpc_init();
	cq = grpc_completion_queue_create_for_next(NULL);
	srv = grpc_server_create(NULL, NULL);
	grpc_server_register_completion_queue(srv, cq, NULL);
	creds = server_creds(tls, client_auth);
	if ((port = grpc_server_add_http2_port(srv, addr, creds)) == 0) {
		fprintf(stderr, "probe_fakepeer: cannot listen on %s\n", addr);
		exit(2);
	}
	grpc_server_credentials_release(creds);
	grpc_server_start(srv);
	printf("port %d\n", port);
	fflush(stdout);
	serve_loop(srv, cq, spec);
	grpc_server_shutdown_and_notify(srv, cq, (void *)9);
	grpc_server_cancel_all_calls(srv);
	do
		ev = grpc_completion_queue_next(cq,
		    gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
	while (ev.type == GRPC_OP_COMPLETE && ev.tag != (void *)9);
	if (call != NULL)
		grpc_call_unref(call);
	grpc_call_details_destroy(&details);
	grpc_metadata_array_destroy(&md);
	grpc_server_destroy(srv);
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_next(cq, gpr_inf_future(
	    GPR_CLOCK_MONOTONIC), NULL).type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	grpc_shutdown();
	return 0;
}

int
main(int argc, char *argv[])
{
	char **tls = NULL;
	int client_auth = 0;

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && strcmp(argv[1], "--blackhole") == 0)
		return blackhole(argv[2]);
	if (argc > 4 && strcmp(argv[1], "--tls") == 0) {
		tls = argv + 2;
		argc -= 4;
		argv += 4;
		if (argc > 1 && strcmp(argv[1], "--client-auth") == 0) {
			client_auth = 1;
			argc--;
			argv++;
		}
	}
	if (argc != 3) {
		fprintf(stderr, "usage: probe_fakepeer [--tls CA CERT KEY "
		    "[--client-auth]] HOST:PORT SPEC\n"
		    "       probe_fakepeer --blackhole HOST:PORT\n");
		return 64;
	}
	return serve(argv[1], argv[2], tls, client_auth);
}
