/*
 * A stand-in supervisor for the probe worker's tests: starts
 * `harepd --role probe` with its end of a SOCK_SEQPACKET pair on fd 3,
 * pushes the ConfigPush (YAML and, with --pem, the TLS files), then obeys
 * one command per line on stdin:
 *
 *   pause | resume | shutdown      Control to the worker
 *   config                         push the configuration again (reload)
 *   (end of input)                 shutdown
 *
 * and reports on stdout, one line each:
 *
 *   started pid=N
 *   hello pid=N role=S
 *   view id=N name=S ip=S primaries=a,b standbys=c witness=S recovery=0|1
 *        timeline=N db_error=REST
 *   verdict seq=N rw=0|1 ro=0|1 policy=S lease_ms=N tick_us=N
 *        decided_boot_ms=N answered=0101 agrees=0101 reason=REST
 *   peer seq=N target=S role=S answered=0|1 agrees=0|1 latency_us=N
 *        master=a,b timeline=N error=REST
 *   log {json}
 *   exit status=N signal=N
 *
 * usage: probe_fakesup [--server-only] [--pem CA CERT KEY] HAREPD CONFIG
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "ipc/ipc.h"
#include "ipc/log.h"

struct fakesup {
	const char	*harepd;
	const char	*config;
	const char	*pem[3];
	bool		 server_only;
	struct ipc_chan	 chan;
	pid_t		 pid;
};

static void
die(const char *what)
{
	fprintf(stderr, "probe_fakesup: %s: %s\n", what, strerror(errno));
	exit(2);
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (fp == NULL)
		die(path);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	if ((buf = malloc(n + 1)) == NULL)
		die("malloc");
	*len = fread(buf, 1, n, fp);
	fclose(fp);
	return buf;
}

static void
send_env(struct fakesup *fs, Harepd__Envelope *env)
{
	if (ipc_send(&fs->chan, env) == -1 ||
	    ipc_flush_wait(&fs->chan, 1000) == -1)
		fprintf(stderr, "probe_fakesup: send %s: %s\n",
		    ipc_body_name(env->body_case), strerror(errno));
}

static void
push_config(struct fakesup *fs)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	Harepd__ConfigPush p = HAREPD__CONFIG_PUSH__INIT;
	ProtobufCBinaryData *pem[3] = { &p.tls_ca, &p.tls_cert, &p.tls_key };

	p.path = (char *)fs->config;
	p.yaml.data = slurp(fs->config, &p.yaml.len);
	p.server_only = fs->server_only;
	for (int i = 0; i < 3; i++)
		if (fs->pem[i] != NULL)
			pem[i]->data = slurp(fs->pem[i], &pem[i]->len);
	env.body_case = HAREPD__ENVELOPE__BODY_CONFIG;
	env.config = &p;
	send_env(fs, &env);
	free(p.yaml.data);
	for (int i = 0; i < 3; i++)
		free(pem[i]->data);
}

static void
send_control(struct fakesup *fs, Harepd__Control__Command cmd)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	Harepd__Control ctl = HAREPD__CONTROL__INIT;

	ctl.command = cmd;
	env.body_case = HAREPD__ENVELOPE__BODY_CONTROL;
	env.control = &ctl;
	send_env(fs, &env);
}

static void
print_list(const char *key, char **l, size_t n)
{
	printf(" %s=", key);
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? "," : "", l[i]);
}

static void
print_view(const Harepd__LocalView *v)
{
	printf("view id=%d name=%s ip=%s", (int)v->node_id, v->node_name,
	    v->ip);
	print_list("primaries", v->primaries, v->n_primaries);
	print_list("standbys", v->standbys, v->n_standbys);
	printf(" witness=%s recovery=%d timeline=%u db_error=%s\n", v->witness,
	    (int)v->in_recovery, v->timeline, v->db_error);
}

static void
print_peer(uint64_t seq, const Harepd__PeerAnswer *a)
{
	printf("peer seq=%llu target=%s role=%s answered=%d agrees=%d "
	    "latency_us=%lld", (unsigned long long)seq, a->target, a->role,
	    (int)a->answered, (int)a->agrees, (long long)a->latency_us);
	if (a->answer != NULL) {
		print_list("master", a->answer->master, a->answer->n_master);
		printf(" timeline=%d", a->answer->observation ?
		    (int)a->answer->observation->timeline : -1);
	}
	printf(" error=%s\n", a->error);
}

static void
print_verdict(const Harepd__Verdict *v)
{
	size_t i;

	printf("verdict seq=%llu rw=%d ro=%d policy=%s lease_ms=%u "
	    "tick_us=%lld decided_boot_ms=%lld answered=",
	    (unsigned long long)v->seq, (int)v->rw_allow, (int)v->ro_allow,
	    v->policy, v->lease_ms, (long long)v->tick_us,
	    (long long)v->decided_boot_ms);
	for (i = 0; i < v->n_evidence; i++)
		putchar(v->evidence[i]->answered ? '1' : '0');
	printf(" agrees=");
	for (i = 0; i < v->n_evidence; i++)
		putchar(v->evidence[i]->agrees ? '1' : '0');
	printf(" reason=%s\n", v->reason);
	for (i = 0; i < v->n_evidence; i++)
		print_peer(v->seq, v->evidence[i]);
}

static void
print_log(const Harepd__Log *l)
{
	struct log_field f[40];
	size_t i, n = l->n_fields < 40 ? l->n_fields : 40;

	for (i = 0; i < n; i++) {
		f[i].key = l->fields[i]->key;
		f[i].value = l->fields[i]->value;
	}
	printf("log ");
	log_write_json(stdout, (enum log_level)l->level, l->msg, f, n);
}

static struct fakesup *the_fakesup;	/* for the gate acknowledgement */

/*
 * Acknowledge a GateDeclared as the supervisor does in --client-only mode
 * (no rpc worker to serve it): the probe waits for it before rw.
 */
static void
ack_gate(const Harepd__GateDeclared *g)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	Harepd__GateServed served = HAREPD__GATE_SERVED__INIT;

	served.seq = g->seq;
	served.state = g->state;
	env.body_case = HAREPD__ENVELOPE__BODY_GATE_SERVED;
	env.gate_served = &served;
	send_env(the_fakesup, &env);
}

static void
print_envelope(const Harepd__Envelope *env)
{
	switch (env->body_case) {
	case HAREPD__ENVELOPE__BODY_GATE_DECLARED:
		ack_gate(env->gate_declared);
		return;
	case HAREPD__ENVELOPE__BODY_HELLO:
		printf("hello pid=%d role=%s\n", (int)env->hello->pid,
		    env->hello->role);
		break;
	case HAREPD__ENVELOPE__BODY_LOCAL_VIEW:
		print_view(env->local_view);
		break;
	case HAREPD__ENVELOPE__BODY_VERDICT:
		print_verdict(env->verdict);
		break;
	case HAREPD__ENVELOPE__BODY_LOG:
		print_log(env->log);
		break;
	default:
		printf("unexpected %s\n", ipc_body_name(env->body_case));
	}
	fflush(stdout);
}

static void
start_worker(struct fakesup *fs)
{
	int sv[2];

	if (ipc_socketpair(sv) == -1)
		die("socketpair");
	if ((fs->pid = fork()) == -1)
		die("fork");
	if (fs->pid == 0) {
		/* dup2 clears FD_CLOEXEC on the copy, as the supervisor does */
		if (dup2(sv[1], 3) == -1)
			_exit(126);
		fcntl(3, F_SETFL, fcntl(3, F_GETFL) & ~O_NONBLOCK);
		execl(fs->harepd, fs->harepd, "--role", "probe", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	ipc_chan_init(&fs->chan, sv[0]);
	the_fakesup = fs;
	printf("started pid=%d\n", (int)fs->pid);
	fflush(stdout);
}

static void
command(struct fakesup *fs, const char *line)
{
	if (strcmp(line, "pause") == 0)
		send_control(fs, HAREPD__CONTROL__COMMAND__PAUSE);
	else if (strcmp(line, "resume") == 0)
		send_control(fs, HAREPD__CONTROL__COMMAND__RESUME);
	else if (strcmp(line, "shutdown") == 0)
		send_control(fs, HAREPD__CONTROL__COMMAND__SHUTDOWN);
	else if (strcmp(line, "config") == 0)
		push_config(fs);
	else
		fprintf(stderr, "probe_fakesup: unknown command %s\n", line);
}

static bool
read_stdin(struct fakesup *fs)
{
	char line[256];

	if (fgets(line, sizeof(line), stdin) == NULL) {
		send_control(fs, HAREPD__CONTROL__COMMAND__SHUTDOWN);
		return false;
	}
	line[strcspn(line, "\n")] = '\0';
	command(fs, line);
	return true;
}

/* false when the worker closed its end */
static bool
read_worker(struct fakesup *fs)
{
	Harepd__Envelope *env;
	enum ipc_rc rc;
	char err[256];

	while ((rc = ipc_recv(&fs->chan, &env, err, sizeof(err))) != IPC_AGAIN) {
		if (rc == IPC_EOF || rc == IPC_SYSERR)
			return false;
		if (rc != IPC_OK) {
			printf("bad %s: %s\n", ipc_rc_str(rc), err);
			continue;
		}
		print_envelope(env);
		ipc_free(env);
	}
	return true;
}

static void
run(struct fakesup *fs)
{
	struct pollfd pfd[2] = { { .fd = fs->chan.fd, .events = POLLIN },
	    { .fd = STDIN_FILENO, .events = POLLIN } };
	int status;

	for (;;) {
		if (poll(pfd, 2, -1) == -1 && errno != EINTR)
			die("poll");
		if (pfd[1].revents & (POLLIN | POLLHUP) && !read_stdin(fs))
			pfd[1].fd = -1;
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR) &&
		    !read_worker(fs))
			break;
	}
	waitpid(fs->pid, &status, 0);
	printf("exit status=%d signal=%d\n", WIFEXITED(status) ?
	    WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) :
	    0);
}

int
main(int argc, char *argv[])
{
	struct fakesup fs = { 0 };
	int i = 1;

	signal(SIGPIPE, SIG_IGN);
	if (i < argc && strcmp(argv[i], "--server-only") == 0) {
		fs.server_only = true;
		i++;
	}
	if (i + 3 < argc && strcmp(argv[i], "--pem") == 0) {
		fs.pem[0] = argv[i + 1];
		fs.pem[1] = argv[i + 2];
		fs.pem[2] = argv[i + 3];
		i += 4;
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: probe_fakesup [--server-only] [--pem CA "
		    "CERT KEY] HAREPD CONFIG\n");
		return 64;
	}
	fs.harepd = argv[i];
	fs.config = argv[i + 1];
	start_worker(&fs);
	push_config(&fs);
	run(&fs);
	return 0;
}
