/*
 * A stand-in supervisor for the rpc worker's tests and bench: starts
 * `harepd --role rpc` with its end of a SOCK_SEQPACKET pair on fd 3,
 * pushes the ConfigPush (YAML and PEM files read here, as the real
 * supervisor does), then obeys one command per line on stdin:
 *
 *   view [id=N] [name=S] [ip=S] [primaries=a,b] [standbys=a,b]
 *        [witness=S] [recovery=0|1] [timeline=N] [age_ms=N] [db_error=REST]
 *   refresh MS     re-send the last view, stamped now, every MS ms (0: off)
 *   config         push the configuration files again (reload)
 *   control pause|resume|shutdown
 *   (end of input) shutdown
 *
 * and reports on stdout, one line each:
 *   started pid=N | hello pid=N role=S | log {json} |
 *   exit status=N signal=N shutdown_ms=N
 * It exits when the worker does.
 *
 * usage: rpc_fakesup HAREPD CONFIG [CA CERT KEY]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "ipc/ipc.h"
#include "ipc/log.h"

#define MAX_LIST	16

struct fakesup {
	const char	*harepd;
	const char	*config;
	const char	*pem[3];	/* ca, cert, key; NULL: none */
	struct ipc_chan	 chan;
	pid_t		 pid;
	long long	 shutdown_at;	/* ms, monotonic; 0: not asked */
	int		 refresh_ms;
	long long	 refreshed_at;
	bool		 have_view;
	/* the last view, kept for refresh */
	Harepd__LocalView view;
	char		*strs[2 * MAX_LIST + 8];
	size_t		 n_strs;
	char		*primaries[MAX_LIST], *standbys[MAX_LIST];
	long long	 age_ms;
};

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long
real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
die(const char *what)
{
	fprintf(stderr, "rpc_fakesup: %s: %s\n", what, strerror(errno));
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
		fprintf(stderr, "rpc_fakesup: send %s: %s\n",
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
	if (cmd == HAREPD__CONTROL__COMMAND__SHUTDOWN && fs->shutdown_at == 0)
		fs->shutdown_at = mono_ms();
	send_env(fs, &env);
}

static void
send_view(struct fakesup *fs)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;

	fs->view.collected_at_ms = real_ms() - fs->age_ms;
	env.body_case = HAREPD__ENVELOPE__BODY_LOCAL_VIEW;
	env.local_view = &fs->view;
	send_env(fs, &env);
	fs->refreshed_at = mono_ms();
}

static char *
keep(struct fakesup *fs, const char *s)
{
	char *copy = strdup(s);

	if (copy == NULL)
		die("strdup");
	fs->strs[fs->n_strs++] = copy;
	return copy;
}

static size_t
split_list(struct fakesup *fs, char *list, char **out)
{
	size_t n = 0;

	for (char *tok = strtok(list, ","); tok != NULL && n < MAX_LIST;
	    tok = strtok(NULL, ","))
		out[n++] = keep(fs, tok);
	return n;
}

static void
reset_view(struct fakesup *fs)
{
	for (size_t i = 0; i < fs->n_strs; i++)
		free(fs->strs[i]);
	fs->n_strs = 0;
	harepd__local_view__init(&fs->view);
	fs->view.primaries = fs->primaries;
	fs->view.standbys = fs->standbys;
	fs->age_ms = 0;
}

/* One key=value of a view line; false when the rest of the line is taken. */
static bool
view_field(struct fakesup *fs, char *key, char *val)
{
	Harepd__LocalView *v = &fs->view;

	if (strcmp(key, "db_error") == 0) {
		v->db_error = keep(fs, val);
		return false;
	}
	if (strcmp(key, "id") == 0) v->node_id = atoi(val);
	else if (strcmp(key, "name") == 0) v->node_name = keep(fs, val);
	else if (strcmp(key, "ip") == 0) v->ip = keep(fs, val);
	else if (strcmp(key, "witness") == 0) v->witness = keep(fs, val);
	else if (strcmp(key, "recovery") == 0) v->in_recovery = atoi(val);
	else if (strcmp(key, "timeline") == 0) v->timeline = strtoul(val, 0, 10);
	else if (strcmp(key, "age_ms") == 0) fs->age_ms = atoll(val);
	else if (strcmp(key, "primaries") == 0)
		v->n_primaries = split_list(fs, val, fs->primaries);
	else if (strcmp(key, "standbys") == 0)
		v->n_standbys = split_list(fs, val, fs->standbys);
	else
		fprintf(stderr, "rpc_fakesup: unknown view key %s\n", key);
	return true;
}

static void
parse_view(struct fakesup *fs, char *args)
{
	char *p = args, *key, *eq, *end;

	reset_view(fs);
	while (*p != '\0') {
		p += strspn(p, " ");
		if (*p == '\0' || (eq = strchr(p, '=')) == NULL)
			break;
		key = p;
		*eq = '\0';
		end = eq + 1 + strcspn(eq + 1, " ");
		if (strcmp(key, "db_error") != 0 && *end != '\0')
			*end++ = '\0';
		if (!view_field(fs, key, eq + 1))
			break;
		p = end;
	}
	fs->have_view = true;
	send_view(fs);
}

static void
command(struct fakesup *fs, char *line)
{
	line[strcspn(line, "\n")] = '\0';
	if (strncmp(line, "view", 4) == 0)
		parse_view(fs, line + 4);
	else if (strncmp(line, "refresh ", 8) == 0)
		fs->refresh_ms = atoi(line + 8);
	else if (strcmp(line, "config") == 0)
		push_config(fs);
	else if (strcmp(line, "control pause") == 0)
		send_control(fs, HAREPD__CONTROL__COMMAND__PAUSE);
	else if (strcmp(line, "control resume") == 0)
		send_control(fs, HAREPD__CONTROL__COMMAND__RESUME);
	else if (strcmp(line, "control shutdown") == 0)
		send_control(fs, HAREPD__CONTROL__COMMAND__SHUTDOWN);
	else if (line[0] != '\0')
		fprintf(stderr, "rpc_fakesup: unknown command: %s\n", line);
}

static void
report(const Harepd__Envelope *env)
{
	struct log_field f[32];
	size_t n = 0;

	if (env->body_case == HAREPD__ENVELOPE__BODY_HELLO) {
		printf("hello pid=%d role=%s\n", (int)env->hello->pid,
		    env->hello->role);
		return;
	}
	if (env->body_case != HAREPD__ENVELOPE__BODY_LOG) {
		printf("message %s\n", ipc_body_name(env->body_case));
		return;
	}
	for (; n < env->log->n_fields && n < 32; n++) {
		f[n].key = env->log->fields[n]->key;
		f[n].value = env->log->fields[n]->value;
	}
	fputs("log ", stdout);
	log_write_json(stdout, (enum log_level)env->log->level, env->log->msg,
	    f, n);
}

static void
read_worker(struct fakesup *fs)
{
	ipc_envelope *env;
	enum ipc_rc rc;
	char err[256];

	while ((rc = ipc_recv(&fs->chan, &env, err, sizeof(err))) == IPC_OK) {
		report(env);
		ipc_free(env);
	}
	if (rc != IPC_AGAIN && rc != IPC_EOF)
		printf("bad-message %s: %s\n", ipc_rc_str(rc), err);
}

static void
spawn(struct fakesup *fs)
{
	int sv[2];

	if (ipc_socketpair(sv) == -1)
		die("socketpair");
	if ((fs->pid = fork()) == -1)
		die("fork");
	if (fs->pid == 0) {
		/* dup2 clears close-on-exec on fd 3 only */
		int null = open("/dev/null", O_RDONLY);

		/* our stdin is the test's command stream, not the worker's */
		if (dup2(sv[1], IPC_FD) == -1 || null == -1 ||
		    dup2(null, 0) == -1)
			_exit(127);
		execl(fs->harepd, fs->harepd, "--role", "rpc", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	ipc_chan_init(&fs->chan, sv[0]);
	printf("started pid=%d\n", (int)fs->pid);
}

static bool
reaped(struct fakesup *fs)
{
	int st;

	if (waitpid(fs->pid, &st, WNOHANG) != fs->pid)
		return false;
	read_worker(fs);	/* its last words */
	printf("exit status=%d signal=%d shutdown_ms=%lld\n",
	    WIFEXITED(st) ? WEXITSTATUS(st) : -1,
	    WIFSIGNALED(st) ? WTERMSIG(st) : 0,
	    fs->shutdown_at ? mono_ms() - fs->shutdown_at : -1);
	return true;
}

/*
 * read(2), not stdio: poll must see every line that has not been
 * handled. false at end of input.
 */
static bool
read_commands(struct fakesup *fs, char *buf, size_t size, size_t *used)
{
	ssize_t n;
	char *nl;

	if ((n = read(0, buf + *used, size - 1 - *used)) <= 0)
		return n == -1 && errno == EINTR;
	*used += n;
	buf[*used] = '\0';
	while ((nl = strchr(buf, '\n')) != NULL) {
		*nl = '\0';
		command(fs, buf);
		*used -= nl + 1 - buf;
		memmove(buf, nl + 1, *used + 1);
	}
	if (*used == size - 1)
		*used = 0;	/* a line too long: drop it */
	return true;
}

static void
run(struct fakesup *fs)
{
	struct pollfd pfd[2] = { { .fd = 0, .events = POLLIN },
	    { .fd = fs->chan.fd, .events = POLLIN } };
	char line[4096];
	size_t used = 0;

	while (!reaped(fs)) {
		if (poll(pfd, 2, 20) == -1 && errno != EINTR)
			die("poll");
		if (pfd[1].revents)
			read_worker(fs);
		if (pfd[0].revents && !read_commands(fs, line, sizeof(line),
		    &used)) {
			pfd[0].fd = -1;	/* end of input: stop */
			send_control(fs, HAREPD__CONTROL__COMMAND__SHUTDOWN);
		}
		if (fs->have_view && fs->refresh_ms > 0 &&
		    mono_ms() - fs->refreshed_at >= fs->refresh_ms)
			send_view(fs);
	}
}

int
main(int argc, char *argv[])
{
	struct fakesup fs = { 0 };

	if (argc != 3 && argc != 6) {
		fprintf(stderr, "usage: rpc_fakesup HAREPD CONFIG "
		    "[CA CERT KEY]\n");
		return 64;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	fs.harepd = argv[1];
	fs.config = argv[2];
	for (int i = 0; argc == 6 && i < 3; i++)
		fs.pem[i] = argv[3 + i][0] ? argv[3 + i] : NULL;
	reset_view(&fs);
	spawn(&fs);
	push_config(&fs);
	run(&fs);
	reset_view(&fs);
	return 0;
}
