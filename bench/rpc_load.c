/*
 * Load generator for the rpc worker, on the gRPC C core client: keeps
 * `c` GetClusterInfo calls in flight on one channel for a fixed time,
 * for each concurrency asked, and prints requests/s and latency
 * percentiles; with -p, the server's RSS before and after (from
 * /proc/PID/status).
 *
 * usage: rpc_load [-l] [-r] [-d seconds] [-c 1,8,32] [-t threads] [-p pid]
 *                 host:port
 *
 * -r: each call waits for the channel to be ready (until its deadline)
 * instead of failing at once while the server is down; for the soak
 * (tests/soak), where the server is killed over and over and a client
 * that fails fast would only spin.
 *
 * Each thread owns a channel (its own HTTP/2 connection) and a
 * completion queue, so the client spends no time on locks of its own.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "proto/messaging.pb-c.h"

#define METHOD		"/models.ClusterInfo/GetClusterInfo"
#define MAX_THREADS	8
#define CALL_DEADLINE_MS 5000

struct call {
	grpc_call		*call;
	long long		 started_ns;
	grpc_byte_buffer	*reply;
	grpc_metadata_array	 initial_md, trailing_md;
	grpc_status_code	 status;
	grpc_slice		 details;
};

struct samples {
	long long	*ns;
	size_t		 n, cap;
	unsigned long	 errors;
	unsigned long	 empty;		/* OK without a message */
};

struct worker {
	pthread_t		 thread;
	const char		*target;
	int			 inflight;
	long long		 end_ns;
	grpc_byte_buffer	*request;
	struct samples		 s;
};

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
sample_add(struct samples *s, long long ns)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 65536;
		if ((s->ns = realloc(s->ns, s->cap * sizeof(*s->ns))) == NULL) {
			perror("realloc");
			exit(1);
		}
	}
	s->ns[s->n++] = ns;
}

static grpc_byte_buffer *
make_request(void)
{
	Models__WhatYouKnow q = MODELS__WHAT_YOU_KNOW__INIT;
	uint8_t buf[128];
	grpc_slice slice;
	grpc_byte_buffer *bb;
	size_t len;

	q.ip = "127.0.0.2";
	q.nodeid = 2;
	q.nodename = "bench";
	len = models__what_you_know__pack(&q, buf);
	slice = grpc_slice_from_copied_buffer((const char *)buf, len);
	bb = grpc_raw_byte_buffer_create(&slice, 1);
	grpc_slice_unref(slice);
	return bb;
}

static bool wait_ready;

static void
call_start(struct worker *w, grpc_channel *ch, grpc_completion_queue *cq,
    grpc_slice *method, struct call *c)
{
	gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
	    gpr_time_from_millis(CALL_DEADLINE_MS, GPR_TIMESPAN));
	grpc_op ops[6];

	memset(ops, 0, sizeof(ops));
	memset(c, 0, sizeof(*c));
	grpc_metadata_array_init(&c->initial_md);
	grpc_metadata_array_init(&c->trailing_md);
	c->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS,
	    cq, *method, NULL, deadline, NULL);
	c->started_ns = now_ns();
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (wait_ready)
		ops[0].flags = GRPC_INITIAL_METADATA_WAIT_FOR_READY;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = w->request;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata =
	    &c->initial_md;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &c->reply;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &c->trailing_md;
	ops[5].data.recv_status_on_client.status = &c->status;
	ops[5].data.recv_status_on_client.status_details = &c->details;
	if (grpc_call_start_batch(c->call, ops, 6, c, NULL) != GRPC_CALL_OK) {
		fprintf(stderr, "rpc_load: grpc_call_start_batch failed\n");
		exit(1);
	}
}

/* The batch's success says nothing of the RPC: read the status (FACTS). */
static void
call_done(struct worker *w, struct call *c)
{
	if (c->status != GRPC_STATUS_OK)
		w->s.errors++;
	else if (c->reply == NULL)
		w->s.empty++;
	else
		sample_add(&w->s, now_ns() - c->started_ns);
	if (c->reply != NULL)
		grpc_byte_buffer_destroy(c->reply);
	grpc_metadata_array_destroy(&c->initial_md);
	grpc_metadata_array_destroy(&c->trailing_md);
	grpc_slice_unref(c->details);
	grpc_call_unref(c->call);
}

/*
 * -l, a lean client: no retry filter (it buffers every message sent) and
 * the minimal filter stack (no client-side deadline timer, compression
 * or size filters). It leaves more of the shared CPUs to the server; the
 * server answers the same either way. Not how a harepd node calls.
 */
static bool lean;

static const grpc_channel_args *
client_args(void)
{
	static grpc_arg a[2];
	static grpc_channel_args args = { 2, a };

	if (!lean)
		return NULL;
	a[0].type = GRPC_ARG_INTEGER;
	a[0].key = GRPC_ARG_ENABLE_RETRIES;
	a[0].value.integer = 0;
	a[1].type = GRPC_ARG_INTEGER;
	a[1].key = GRPC_ARG_MINIMAL_STACK;
	a[1].value.integer = 1;
	return &args;
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	grpc_channel_credentials *creds = grpc_insecure_credentials_create();
	grpc_channel *ch = grpc_channel_create(w->target, creds, client_args());
	grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
	grpc_slice method = grpc_slice_from_static_string(METHOD);
	struct call *calls = calloc(w->inflight, sizeof(*calls));
	int active = 0;
	grpc_event ev;

	for (int i = 0; i < w->inflight; i++, active++)
		call_start(w, ch, cq, &method, &calls[i]);
	while (active > 0) {
		ev = grpc_completion_queue_next(cq,
		    gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		call_done(w, ev.tag);
		if (now_ns() < w->end_ns)
			call_start(w, ch, cq, &method, ev.tag);
		else
			active--;
	}
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_next(cq, gpr_inf_future(
	    GPR_CLOCK_MONOTONIC), NULL).type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	grpc_channel_destroy(ch);
	grpc_channel_credentials_release(creds);
	free(calls);
	return NULL;
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static double
percentile_us(const struct samples *s, double p)
{
	size_t i;

	if (s->n == 0)
		return 0;
	i = (size_t)(p * (s->n - 1) + 0.5);
	return s->ns[i] / 1000.0;
}

/* Merge every thread's samples into all. */
static void
merge(struct worker *w, int n, struct samples *all)
{
	memset(all, 0, sizeof(*all));
	for (int i = 0; i < n; i++) {
		for (size_t j = 0; j < w[i].s.n; j++)
			sample_add(all, w[i].s.ns[j]);
		all->errors += w[i].s.errors;
		all->empty += w[i].s.empty;
		free(w[i].s.ns);
	}
	qsort(all->ns, all->n, sizeof(*all->ns), cmp_ll);
}

/* utime + stime of pid (0: this process), in microseconds. */
static double
cpu_us(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%s/stat", "self");
	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* fields after "(comm)": state is field 3, utime 14, stime 15 */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return 0;
	return (ut + st) * 1e6 / sysconf(_SC_CLK_TCK);
}

static void
run_level(const char *target, int conc, int threads, double secs,
    pid_t pid)
{
	struct worker w[MAX_THREADS];
	struct samples all;
	long long t0, elapsed;
	int n = threads < conc ? threads : conc;

	double srv0 = cpu_us(pid), cli0 = cpu_us(0);

	memset(w, 0, sizeof(w));
	t0 = now_ns();
	for (int i = 0; i < n; i++) {
		w[i].target = target;
		/* spread conc over the threads, the first ones take the rest */
		w[i].inflight = conc / n + (i < conc % n);
		w[i].end_ns = t0 + (long long)(secs * 1e9);
		w[i].request = make_request();
		pthread_create(&w[i].thread, NULL, worker_run, &w[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(w[i].thread, NULL);
		grpc_byte_buffer_destroy(w[i].request);
	}
	elapsed = now_ns() - t0;
	merge(w, n, &all);
	printf("%11d %9zu %9.0f %9.0f %9.0f %9.0f %7lu %9.1f %9.1f\n", conc,
	    all.n, all.n / (elapsed / 1e9), percentile_us(&all, 0.50),
	    percentile_us(&all, 0.99), percentile_us(&all, 1.0),
	    all.errors + all.empty,
	    pid > 0 && all.n ? (cpu_us(pid) - srv0) / all.n : 0.0,
	    all.n ? (cpu_us(0) - cli0) / all.n : 0.0);
	fflush(stdout);
	free(all.ns);
}

static void
print_rss(const char *when, pid_t pid)
{
	char path[64], line[256];
	FILE *fp;

	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL) {
		printf("server RSS %s: %s: %s\n", when, path, strerror(errno));
		return;
	}
	printf("server %-6s", when);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0 ||
		    strncmp(line, "VmHWM:", 6) == 0 ||
		    strncmp(line, "Threads:", 8) == 0) {
			line[strcspn(line, "\n")] = '\0';
			printf("  %s", line);
		}
	printf("\n");
	fclose(fp);
}

static void
usage(void)
{
	fprintf(stderr, "usage: rpc_load [-l] [-r] [-d seconds] [-c 1,8,32] "
	    "[-t threads] [-p server-pid] host:port\n");
	exit(64);
}

int
main(int argc, char *argv[])
{
	char levels[128] = "1,8,32", *tok, *save;
	double secs = 5;
	int ch, threads = 1;
	pid_t pid = 0;

	while ((ch = getopt(argc, argv, "c:d:t:p:lr")) != -1) {
		switch (ch) {
		case 'c': snprintf(levels, sizeof(levels), "%s", optarg); break;
		case 'd': secs = atof(optarg); break;
		case 't': threads = atoi(optarg); break;
		case 'p': pid = atoi(optarg); break;
		case 'l': lean = true; break;
		case 'r': wait_ready = true; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || secs <= 0 || threads < 1 ||
	    threads > MAX_THREADS)
		usage();
	grpc_init();
	print_rss("before", pid);
	printf("%11s %9s %9s %9s %9s %9s %7s %9s %9s\n", "concurrency",
	    "requests", "req/s", "p50_us", "p99_us", "max_us", "errors",
	    "srv_us/rq", "cli_us/rq");
	for (tok = strtok_r(levels, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save))
		run_level(argv[optind], atoi(tok), threads, secs, pid);
	print_rss("after", pid);
	grpc_shutdown();
	return 0;
}
