/*
 * Test helper: plays the supervisor for one `harepd --role hba` worker,
 * driven line by line on stdin, one reply line per command on stdout
 * (bash runs it as a coproc). The worker's logs go to stderr.
 *
 *   hba_super CONF HAREPD          (HBA_SUPER_USER=postgres: worker's uid)
 *
 *   start                      -> hello PID | error WHY
 *   verdict SEQ RW RO LEASE_MS [REAL_AGE BOOT_AGE] -> sent  (RW, RO: 0 or 1)
 *                              decided_at_ms / decided_boot_ms are now
 *                              minus the ages (ms, default 0); an age of
 *                              -1 leaves that field 0 (unset)
 *   applied TIMEOUT_MS         -> applied seq=N changed=0|1 reloaded=0|1
 *                                 fenced=0|1 rw=0|1 ro=0|1 us=N error=TEXT
 *                                 | timeout | eof
 *   control pause|resume|shutdown -> sent
 *   config                     -> sent  (ConfigPush of CONF, read again)
 *   kill USEC                  -> killed  (SIGKILL after USEC, reaped)
 *   wait-exit TIMEOUT_MS       -> exited N | signaled N | timeout
 *
 * us= is the time from the last verdict sent to this HbaApplied.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "ipc/ipc.h"

#define MAX_QUEUED	1024

static const char *conf_path, *harepd;
static struct ipc_chan chan = { .fd = -1 };
static pid_t child = -1;
static long long last_verdict_us;
static char *queued[MAX_QUEUED];	/* HbaApplied lines not asked for yet */
static size_t nqueued;
static int eof;

static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long
real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long
boot_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reply(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
reply(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void
drop_privileges(void)
{
	const char *user = getenv("HBA_SUPER_USER");
	struct passwd *pw;

	if (user == NULL || user[0] == '\0')
		return;
	if ((pw = getpwnam(user)) == NULL ||
	    initgroups(pw->pw_name, pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		perror("hba_super: drop to HBA_SUPER_USER");
		_exit(71);
	}
}

static void
exec_worker(int fd)
{
	int null = open("/dev/null", O_RDONLY);

	dup2(null, 0);
	dup2(2, 1);
	if (fd == IPC_FD)
		fcntl(fd, F_SETFD, 0);
	else if (dup2(fd, IPC_FD) == -1)
		_exit(70);
	drop_privileges();
	execl(harepd, harepd, "--role", "hba", "-v", (char *)NULL);
	perror("hba_super: exec");
	_exit(127);
}

static char *
read_conf(size_t *len)
{
	static char buf[1 << 16];
	FILE *fp = fopen(conf_path, "r");

	if (fp == NULL)
		return NULL;
	*len = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	return buf;
}

static int
send_config(void)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	Harepd__ConfigPush push = HAREPD__CONFIG_PUSH__INIT;
	size_t len;
	char *yaml = read_conf(&len);

	if (yaml == NULL)
		return -1;
	push.path = (char *)conf_path;
	push.yaml.data = (uint8_t *)yaml;
	push.yaml.len = len;
	env.body_case = HAREPD__ENVELOPE__BODY_CONFIG;
	env.config = &push;
	return ipc_send(&chan, &env);
}

static void
on_applied(const Harepd__HbaApplied *a)
{
	char line[2048];

	snprintf(line, sizeof(line), "applied seq=%llu changed=%d "
	    "reloaded=%d fenced=%d rw=%d ro=%d us=%lld error=%s",
	    (unsigned long long)a->seq, a->changed, a->reloaded, a->fenced,
	    a->rw_allow, a->ro_allow, now_us() - last_verdict_us,
	    a->error ? a->error : "");
	for (char *c = line; *c; c++)	/* one reply, one line */
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	fprintf(stderr, "# %s\n", line);
	if (nqueued < MAX_QUEUED)
		queued[nqueued++] = strdup(line);
}

static void
on_message(const ipc_envelope *env, pid_t *hello)
{
	switch (env->body_case) {
	case HAREPD__ENVELOPE__BODY_HELLO:
		*hello = env->hello->pid;
		break;
	case HAREPD__ENVELOPE__BODY_LOG:
		fprintf(stderr, "# log %d %s\n", env->log->level,
		    env->log->msg);
		break;
	case HAREPD__ENVELOPE__BODY_HBA_APPLIED:
		on_applied(env->hba_applied);
		break;
	default:
		fprintf(stderr, "# unexpected %s\n",
		    ipc_body_name(env->body_case));
	}
}

/* Read what the worker sent, waiting at most timeout_ms for the first. */
static void
pump(int timeout_ms, pid_t *hello)
{
	struct pollfd pfd = { .fd = chan.fd, .events = POLLIN };
	ipc_envelope *env;
	enum ipc_rc rc;
	char err[256];

	if (chan.fd == -1 || eof)
		return;
	if (ipc_pending(&chan))
		ipc_flush(&chan);
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return;
	while ((rc = ipc_recv(&chan, &env, err, sizeof(err))) == IPC_OK) {
		on_message(env, hello);
		ipc_free(env);
	}
	if (rc != IPC_AGAIN) {
		fprintf(stderr, "# channel: %s %s\n", ipc_rc_str(rc), err);
		eof = 1;
	}
}

static void
cmd_start(void)
{
	int sv[2];
	pid_t hello = 0;
	long long end = now_us() + 10000000;

	ipc_chan_close(&chan);
	eof = 0;
	if (ipc_socketpair(sv) == -1 || (child = fork()) == -1) {
		reply("error %s", strerror(errno));
		return;
	}
	if (child == 0)
		exec_worker(sv[1]);
	close(sv[1]);
	ipc_chan_init(&chan, sv[0]);
	if (send_config() == -1) {
		reply("error cannot send the config: %s", strerror(errno));
		return;
	}
	last_verdict_us = now_us();
	while (hello == 0 && !eof && now_us() < end)
		pump(100, &hello);
	if (hello != 0)
		reply("hello %d", (int)hello);
	else
		reply("error no hello%s", eof ? " (channel closed)" : "");
}

static void
cmd_verdict(const char *args)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	Harepd__Verdict v = HAREPD__VERDICT__INIT;
	unsigned long long seq;
	int rw, ro;
	unsigned lease;
	long long real_age = 0, boot_age = 0;
	int n;

	n = sscanf(args, "%llu %d %d %u %lld %lld", &seq, &rw, &ro, &lease,
	    &real_age, &boot_age);
	if (n != 4 && n != 6) {
		reply("error usage: verdict SEQ RW RO LEASE_MS "
		    "[REAL_AGE_MS BOOT_AGE_MS]");
		return;
	}
	v.seq = seq;
	v.rw_allow = rw;
	v.ro_allow = ro;
	v.lease_ms = lease;
	v.reason = "hba_super";
	v.policy = "test";
	v.decided_at_ms = real_age == -1 ? 0 : real_ms() - real_age;
	v.decided_boot_ms = boot_age == -1 ? 0 : boot_ms() - boot_age;
	env.body_case = HAREPD__ENVELOPE__BODY_VERDICT;
	env.verdict = &v;
	last_verdict_us = now_us();
	if (ipc_send(&chan, &env) == -1)
		reply("error %s", strerror(errno));
	else
		reply("sent");
}

static void
cmd_applied(int timeout_ms)
{
	long long end = now_us() + (long long)timeout_ms * 1000;
	pid_t hello;

	while (nqueued == 0 && !eof && now_us() < end)
		pump((int)((end - now_us()) / 1000) + 1, &hello);
	if (nqueued == 0) {
		reply(eof ? "eof" : "timeout");
		return;
	}
	reply("%s", queued[0]);
	free(queued[0]);
	memmove(queued, queued + 1, --nqueued * sizeof(queued[0]));
}

static void
cmd_control(const char *what)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	Harepd__Control c = HAREPD__CONTROL__INIT;

	if (strcmp(what, "pause") == 0)
		c.command = HAREPD__CONTROL__COMMAND__PAUSE;
	else if (strcmp(what, "resume") == 0)
		c.command = HAREPD__CONTROL__COMMAND__RESUME;
	else if (strcmp(what, "shutdown") == 0)
		c.command = HAREPD__CONTROL__COMMAND__SHUTDOWN;
	else {
		reply("error unknown control %s", what);
		return;
	}
	env.body_case = HAREPD__ENVELOPE__BODY_CONTROL;
	env.control = &c;
	if (ipc_send(&chan, &env) == -1)
		reply("error %s", strerror(errno));
	else
		reply("sent");
}

static void
cmd_kill(long usec)
{
	int status;

	if (child <= 0) {
		reply("error no worker");
		return;
	}
	if (usec > 0)
		usleep((useconds_t)usec);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	child = -1;
	reply("killed");
}

static void
cmd_wait_exit(int timeout_ms)
{
	long long end = now_us() + (long long)timeout_ms * 1000;
	int status;
	pid_t hello, r;

	while ((r = waitpid(child, &status, WNOHANG)) == 0 && now_us() < end)
		pump(10, &hello);
	if (r <= 0) {
		reply("timeout");
		return;
	}
	child = -1;
	if (WIFEXITED(status))
		reply("exited %d", WEXITSTATUS(status));
	else
		reply("signaled %d", WTERMSIG(status));
}

static void
dispatch(char *line)
{
	char *arg = strchr(line, ' ');

	if (arg != NULL)
		*arg++ = '\0';
	else
		arg = line + strlen(line);
	if (strcmp(line, "start") == 0)
		cmd_start();
	else if (strcmp(line, "verdict") == 0)
		cmd_verdict(arg);
	else if (strcmp(line, "applied") == 0)
		cmd_applied(atoi(arg));
	else if (strcmp(line, "control") == 0)
		cmd_control(arg);
	else if (strcmp(line, "config") == 0)
		reply(send_config() == -1 ? "error %s" : "sent",
		    strerror(errno));
	else if (strcmp(line, "kill") == 0)
		cmd_kill(atol(arg));
	else if (strcmp(line, "wait-exit") == 0)
		cmd_wait_exit(atoi(arg));
	else
		reply("error unknown command %s", line);
}

int
main(int argc, char *argv[])
{
	char line[1024];

	if (argc != 3) {
		fprintf(stderr, "usage: hba_super CONF HAREPD\n");
		return 64;
	}
	conf_path = argv[1];
	harepd = argv[2];
	signal(SIGPIPE, SIG_IGN);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		dispatch(line);
	}
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	return 0;
}
