/*
 * The one stand-in supervisor of the worker tests (tests/helpers/
 * fakesup.sh drives it). It starts `harepd --role ROLE` as the real
 * supervisor does (docs/IPC.md: its end of a SOCK_SEQPACKET pair on
 * fd 3, then a ConfigPush), obeys one command per line on stdin and
 * prints one line per envelope the worker sends on stdout.
 *
 * Commands:
 *   start ROLE [-v] [user=NAME]   fork and exec the worker (as NAME)
 *   push-config [FILE] [server_only=0|1] [ca=F] [cert=F] [key=F]
 *                                 ConfigPush; arguments replace the
 *                                 remembered ones, none re-send them
 *   send verdict seq=N rw=0|1 ro=0|1 lease_ms=N [policy=S]
 *        [decided_at_ms=N] [decided_boot_ms=N] [at_age_ms=N]
 *        [boot_age_ms=N] [reason=REST]
 *                                 decided_*: now unless given (0: unset);
 *                                 *_age_ms: now minus the age
 *   send view [id=N] [name=S] [ip=S] [primaries=a,b] [standbys=a,b]
 *        [witness=S] [recovery=0|1] [timeline=N] [age_ms=N] [db_error=REST]
 *   send control pause|resume|shutdown
 *   refresh MS                    re-send the last view, stamped now,
 *                                 every MS ms (0: off)
 *   kill [USEC]                   SIGKILL the worker after USEC us
 *   (end of input)                shutdown; SIGKILL after 5 s; exit
 *
 * Output, one line each; the keys of view and verdict are those of
 * `send`:
 *   started pid=N role=S
 *   hello pid=N role=S
 *   log {json}
 *   view id=N name=S ip=S primaries=a,b standbys=c witness=S recovery=0|1
 *        timeline=N db_error=REST
 *   view_stamp boot_age_ms=N wall_age_ms=N     (after each view: its age
 *                                               on arrival by each stamp)
 *   verdict seq=N rw=0|1 ro=0|1 policy=S lease_ms=N tick_us=N
 *        decided_boot_ms=N answered=0101 agrees=0101 reason=REST
 *   peer seq=N target=S role=S answered=0|1 agrees=0|1 latency_us=N
 *        [master=a,b timeline=N] error=REST    (one per verdict evidence)
 *   hba_warning seq=N REST                     (one per HbaApplied warning,
 *                                               before its applied line)
 *   applied seq=N changed=0|1 reloaded=0|1 fenced=0|1 rw=0|1 ro=0|1
 *        us=N error=REST                       (us: since the last verdict)
 *   unexpected BODY | bad RC: WHY
 *   exit status=N signal=N shutdown_ms=N       (-1: no SHUTDOWN sent)
 *   error WHY                                  (a command that failed)
 *
 * usage: fakesup HAREPD
 *
 * Over 600 lines because the Makefile builds each .c file of tests/helpers as
 * one program, and this one speaks every body of docs/IPC.md.
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
#include <unistd.h>
#include <sys/wait.h>

#include "ipc/ipc.h"
#include "ipc/log.h"
#include "util/clock.h"
#include "util/xmalloc.h"

#define MAX_LIST	16
#define MAX_STRS	(2 * MAX_LIST + 8)
#define LINE_MAX_LEN	4096
#define EOF_GRACE_MS	5000

struct fakesup {
	const char	*harepd;
	struct ipc_chan	 chan;
	pid_t		 pid;		/* -1: no worker */
	int64_t		 shutdown_at;	/* ms monotonic; 0: not asked */
	int64_t		 verdict_us;	/* last verdict sent, or start */
	/* what push-config sends */
	char		*config;
	char		*pem[3];	/* ca, cert, key; NULL: none */
	bool		 server_only;
	/* the last view, kept for refresh */
	Harepd__LocalView view;
	char		*strs[MAX_STRS];
	size_t		 n_strs;
	char		*primaries[MAX_LIST], *standbys[MAX_LIST];
	int64_t		 age_ms;
	bool		 have_view;
	int		 refresh_ms;
	int64_t		 refreshed_at;
};

static void say(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void
die(const char *what)
{
	fprintf(stderr, "fakesup: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* NULL, with an error line, when the file cannot be read */
static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (fp == NULL) {
		say("error %s: %s", path, strerror(errno));
		return NULL;
	}
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = xmalloc(n + 1);
	*len = fread(buf, 1, n, fp);
	fclose(fp);
	return buf;
}

static void
send_env(struct fakesup *fs, Harepd__Envelope *env)
{
	if (fs->chan.fd == -1) {
		say("error send %s: no worker", ipc_body_name(env->body_case));
		return;
	}
	if (ipc_send(&fs->chan, env) == -1 ||
	    ipc_flush_wait(&fs->chan, 1000) == -1)
		say("error send %s: %s", ipc_body_name(env->body_case),
		    strerror(errno));
}

/*
 * The next KEY=VALUE of *p. A value ends at a blank, except those of
 * the free-text keys, which take the rest of the line, as they do in
 * the lines printed here.
 */
static bool
next_kv(char **p, char **key, char **val)
{
	char *s = *p + strspn(*p, " "), *eq, *end;

	if (*s == '\0' || (eq = strchr(s, '=')) == NULL)
		return false;
	*eq = '\0';
	*key = s;
	*val = eq + 1;
	if (strcmp(s, "db_error") == 0 || strcmp(s, "reason") == 0)
		end = *val + strlen(*val);
	else if (*(end = *val + strcspn(*val, " ")) != '\0')
		*end++ = '\0';
	*p = end;
	return true;
}

static void
set_string(char **slot, const char *val)
{
	free(*slot);
	*slot = val[0] != '\0' ? xstrdup(val) : NULL;
}

static void
cmd_push_config(struct fakesup *fs, char *args)
{
	static const char *pem_keys[3] = { "ca", "cert", "key" };
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	Harepd__ConfigPush p = HAREPD__CONFIG_PUSH__INIT;
	ProtobufCBinaryData *pem[3] = { &p.tls_ca, &p.tls_cert, &p.tls_key };
	char *key, *val, *file;

	args += strspn(args, " ");
	if (*args != '\0') {
		file = args;
		args += strcspn(args, " ");
		if (*args != '\0')
			*args++ = '\0';
		set_string(&fs->config, file);
		fs->server_only = false;
		for (int i = 0; i < 3; i++)
			set_string(&fs->pem[i], "");
	}
	while (next_kv(&args, &key, &val)) {
		if (strcmp(key, "server_only") == 0)
			fs->server_only = atoi(val) != 0;
		for (int i = 0; i < 3; i++)
			if (strcmp(key, pem_keys[i]) == 0)
				set_string(&fs->pem[i], val);
	}
	if (fs->config == NULL) {
		say("error push-config: no file given yet");
		return;
	}
	p.path = fs->config;
	p.server_only = fs->server_only;
	if ((p.yaml.data = slurp(fs->config, &p.yaml.len)) == NULL)
		return;
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
		fs->shutdown_at = clock_mono_ms();
	send_env(fs, &env);
}

static void
cmd_control(struct fakesup *fs, const char *what)
{
	if (strcmp(what, "pause") == 0)
		send_control(fs, HAREPD__CONTROL__COMMAND__PAUSE);
	else if (strcmp(what, "resume") == 0)
		send_control(fs, HAREPD__CONTROL__COMMAND__RESUME);
	else if (strcmp(what, "shutdown") == 0)
		send_control(fs, HAREPD__CONTROL__COMMAND__SHUTDOWN);
	else
		say("error unknown control %s", what);
}

static void
cmd_verdict(struct fakesup *fs, char *args)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	Harepd__Verdict v = HAREPD__VERDICT__INIT;
	char *key, *val;

	v.reason = "fakesup";
	v.policy = "test";
	v.decided_at_ms = clock_wall_ms();
	v.decided_boot_ms = clock_boot_ms();
	while (next_kv(&args, &key, &val)) {
		if (strcmp(key, "seq") == 0)
			v.seq = strtoull(val, NULL, 10);
		else if (strcmp(key, "rw") == 0)
			v.rw_allow = atoi(val) != 0;
		else if (strcmp(key, "ro") == 0)
			v.ro_allow = atoi(val) != 0;
		else if (strcmp(key, "lease_ms") == 0)
			v.lease_ms = strtoul(val, NULL, 10);
		else if (strcmp(key, "policy") == 0)
			v.policy = val;
		else if (strcmp(key, "reason") == 0)
			v.reason = val;
		else if (strcmp(key, "decided_at_ms") == 0)
			v.decided_at_ms = strtoll(val, NULL, 10);
		else if (strcmp(key, "decided_boot_ms") == 0)
			v.decided_boot_ms = strtoll(val, NULL, 10);
		else if (strcmp(key, "at_age_ms") == 0)
			v.decided_at_ms = clock_wall_ms() - strtoll(val, NULL, 10);
		else if (strcmp(key, "boot_age_ms") == 0)
			v.decided_boot_ms = clock_boot_ms() -
			    strtoll(val, NULL, 10);
		else
			say("error unknown verdict key %s", key);
	}
	env.body_case = HAREPD__ENVELOPE__BODY_VERDICT;
	env.verdict = &v;
	fs->verdict_us = clock_mono_us();
	send_env(fs, &env);
}

static char *
keep(struct fakesup *fs, const char *s)
{
	if (fs->n_strs == MAX_STRS)
		return "";
	return fs->strs[fs->n_strs++] = xstrdup(s);
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

static void
view_field(struct fakesup *fs, const char *key, char *val)
{
	Harepd__LocalView *v = &fs->view;

	if (strcmp(key, "id") == 0)
		v->node_id = atoi(val);
	else if (strcmp(key, "name") == 0)
		v->node_name = keep(fs, val);
	else if (strcmp(key, "ip") == 0)
		v->ip = keep(fs, val);
	else if (strcmp(key, "witness") == 0)
		v->witness = keep(fs, val);
	else if (strcmp(key, "recovery") == 0)
		v->in_recovery = atoi(val) != 0;
	else if (strcmp(key, "timeline") == 0)
		v->timeline = strtoul(val, NULL, 10);
	else if (strcmp(key, "age_ms") == 0)
		fs->age_ms = strtoll(val, NULL, 10);
	else if (strcmp(key, "db_error") == 0)
		v->db_error = keep(fs, val);
	else if (strcmp(key, "primaries") == 0)
		v->n_primaries = split_list(fs, val, fs->primaries);
	else if (strcmp(key, "standbys") == 0)
		v->n_standbys = split_list(fs, val, fs->standbys);
	else
		say("error unknown view key %s", key);
}

static void
send_view(struct fakesup *fs)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;

	fs->view.collected_at_ms = clock_wall_ms() - fs->age_ms;
	fs->view.collected_boot_ms = clock_boot_ms() - fs->age_ms;
	env.body_case = HAREPD__ENVELOPE__BODY_LOCAL_VIEW;
	env.local_view = &fs->view;
	send_env(fs, &env);
	fs->refreshed_at = clock_mono_ms();
}

static void
cmd_view(struct fakesup *fs, char *args)
{
	char *key, *val;

	reset_view(fs);
	while (next_kv(&args, &key, &val))
		view_field(fs, key, val);
	fs->have_view = true;
	send_view(fs);
}

static void
cmd_send(struct fakesup *fs, char *args)
{
	char *what = args;

	args += strcspn(args, " ");
	if (*args != '\0')
		*args++ = '\0';
	if (strcmp(what, "verdict") == 0)
		cmd_verdict(fs, args);
	else if (strcmp(what, "view") == 0)
		cmd_view(fs, args);
	else if (strcmp(what, "control") == 0)
		cmd_control(fs, args + strspn(args, " "));
	else
		say("error cannot send %s", what);
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
	/* how old its stamps say it is as it arrives (-1: not stamped) */
	printf("view_stamp boot_age_ms=%lld wall_age_ms=%lld\n",
	    v->collected_boot_ms > 0 ?
	    (long long)(clock_boot_ms() - v->collected_boot_ms) : -1LL,
	    v->collected_at_ms > 0 ?
	    (long long)(clock_wall_ms() - v->collected_at_ms) : -1LL);
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

/* the error may quote PostgreSQL over several lines: one envelope, one line */
static void
print_applied(const struct fakesup *fs, const Harepd__HbaApplied *a)
{
	char line[2048];

	for (size_t i = 0; i < a->n_warnings; i++) {
		snprintf(line, sizeof(line), "hba_warning seq=%llu %s",
		    (unsigned long long)a->seq, a->warnings[i]);
		for (char *c = line; *c; c++)
			if (*c == '\n' || *c == '\r')
				*c = ' ';
		say("%s", line);
	}
	snprintf(line, sizeof(line), "applied seq=%llu changed=%d "
	    "reloaded=%d fenced=%d rw=%d ro=%d us=%lld error=%s",
	    (unsigned long long)a->seq, a->changed, a->reloaded, a->fenced,
	    a->rw_allow, a->ro_allow,
	    (long long)(clock_mono_us() - fs->verdict_us),
	    a->error ? a->error : "");
	for (char *c = line; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	say("%s", line);
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
	fputs("log ", stdout);
	log_write_json(stdout, (enum log_level)l->level, l->msg, f, n);
}

/*
 * The probe waits for its declared gate to be served before it takes rw
 * (docs/POLICY.md, "Handover"): acknowledge at once, as the supervisor
 * does in --client-only mode, and print it for the tests that look.
 */
static void
ack_gate(struct fakesup *fs, const Harepd__GateDeclared *g)
{
	Harepd__Envelope env = HAREPD__ENVELOPE__INIT;
	Harepd__GateServed served = HAREPD__GATE_SERVED__INIT;

	served.seq = g->seq;
	served.state = g->state;
	env.body_case = HAREPD__ENVELOPE__BODY_GATE_SERVED;
	env.gate_served = &served;
	send_env(fs, &env);
}

static void
print_envelope(struct fakesup *fs, const Harepd__Envelope *env)
{
	switch (env->body_case) {
	case HAREPD__ENVELOPE__BODY_GATE_DECLARED:
		ack_gate(fs, env->gate_declared);
		break;
	case HAREPD__ENVELOPE__BODY_GATE_SERVED:
		say("gate_served seq=%llu state=%d",
		    (unsigned long long)env->gate_served->seq,
		    (int)env->gate_served->state);
		break;
	case HAREPD__ENVELOPE__BODY_HELLO:
		say("hello pid=%d role=%s", (int)env->hello->pid,
		    env->hello->role);
		break;
	case HAREPD__ENVELOPE__BODY_LOG:
		print_log(env->log);
		break;
	case HAREPD__ENVELOPE__BODY_LOCAL_VIEW:
		print_view(env->local_view);
		break;
	case HAREPD__ENVELOPE__BODY_VERDICT:
		print_verdict(env->verdict);
		break;
	case HAREPD__ENVELOPE__BODY_HBA_APPLIED:
		print_applied(fs, env->hba_applied);
		break;
	default:
		say("unexpected %s", ipc_body_name(env->body_case));
	}
}

/* Everything the worker has sent; its end closed: stop polling it. */
static void
read_worker(struct fakesup *fs)
{
	ipc_envelope *env;
	enum ipc_rc rc;
	char err[256];

	if (fs->chan.fd == -1)
		return;
	if (ipc_pending(&fs->chan))
		ipc_flush(&fs->chan);
	while ((rc = ipc_recv(&fs->chan, &env, err, sizeof(err))) != IPC_AGAIN) {
		if (rc == IPC_EOF || rc == IPC_SYSERR) {
			ipc_chan_close(&fs->chan);
			return;
		}
		if (rc != IPC_OK) {
			say("bad %s: %s", ipc_rc_str(rc), err);
			continue;
		}
		print_envelope(fs, env);
		ipc_free(env);
	}
}

static void
drop_privileges(const char *user)
{
	struct passwd *pw;

	if (user == NULL)
		return;
	if ((pw = getpwnam(user)) == NULL ||
	    initgroups(pw->pw_name, pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		fprintf(stderr, "fakesup: become %s: %s\n", user,
		    strerror(errno));
		_exit(71);
	}
}

/*
 * As the real supervisor: the channel on fd 3 (via a high copy, so that
 * dup2 clears close-on-exec even when the socket already is fd 3). Our
 * stdin is the test's command stream and our stdout the test's record:
 * neither is the worker's.
 */
static void
exec_worker(struct fakesup *fs, int sock, const char *role, bool verbose,
    const char *user)
{
	int high = fcntl(sock, F_DUPFD_CLOEXEC, 10);
	int null = open("/dev/null", O_RDONLY);

	if (high == -1 || null == -1 || dup2(high, IPC_FD) == -1 ||
	    dup2(null, 0) == -1 || dup2(2, 1) == -1)
		_exit(70);
	drop_privileges(user);
	execl(fs->harepd, fs->harepd, "--role", role,
	    verbose ? "-v" : (char *)NULL, (char *)NULL);
	fprintf(stderr, "fakesup: exec %s: %s\n", fs->harepd, strerror(errno));
	_exit(127);
}

static void
cmd_start(struct fakesup *fs, char *args)
{
	char *role = strtok(args, " "), *opt, *user = NULL;
	bool verbose = false;
	int sv[2];

	if (fs->pid != -1 || role == NULL) {
		say("error start: %s", role ? "a worker runs" : "no role");
		return;
	}
	while ((opt = strtok(NULL, " ")) != NULL) {
		if (strcmp(opt, "-v") == 0)
			verbose = true;
		else if (strncmp(opt, "user=", 5) == 0)
			user = opt + 5;
	}
	if (ipc_socketpair(sv) == -1 || (fs->pid = fork()) == -1) {
		say("error start: %s", strerror(errno));
		fs->pid = -1;
		return;
	}
	if (fs->pid == 0)
		exec_worker(fs, sv[1], role, verbose, user);
	close(sv[1]);
	ipc_chan_init(&fs->chan, sv[0]);
	fs->shutdown_at = 0;
	fs->verdict_us = clock_mono_us();
	say("started pid=%d role=%s", (int)fs->pid, role);
}

static void
report_exit(struct fakesup *fs, int status)
{
	read_worker(fs);	/* its last words */
	ipc_chan_close(&fs->chan);
	say("exit status=%d signal=%d shutdown_ms=%lld",
	    WIFEXITED(status) ? WEXITSTATUS(status) : -1,
	    WIFSIGNALED(status) ? WTERMSIG(status) : 0,
	    fs->shutdown_at ? (long long)(clock_mono_ms() - fs->shutdown_at) :
	    -1LL);
	fs->pid = -1;
}

static bool
reaped(struct fakesup *fs)
{
	int status;

	if (fs->pid == -1 || waitpid(fs->pid, &status, WNOHANG) != fs->pid)
		return false;
	report_exit(fs, status);
	return true;
}

static void
cmd_kill(struct fakesup *fs, const char *arg)
{
	long usec = atol(arg);
	int status;

	if (fs->pid == -1) {
		say("error kill: no worker");
		return;
	}
	if (usec > 0)
		usleep((useconds_t)usec);
	kill(fs->pid, SIGKILL);
	if (waitpid(fs->pid, &status, 0) == fs->pid)
		report_exit(fs, status);
}

static void
command(struct fakesup *fs, char *line)
{
	char *args = line + strcspn(line, " ");

	if (*args != '\0')
		*args++ = '\0';
	if (strcmp(line, "start") == 0)
		cmd_start(fs, args);
	else if (strcmp(line, "push-config") == 0)
		cmd_push_config(fs, args);
	else if (strcmp(line, "send") == 0)
		cmd_send(fs, args);
	else if (strcmp(line, "refresh") == 0)
		fs->refresh_ms = atoi(args);
	else if (strcmp(line, "kill") == 0)
		cmd_kill(fs, args);
	else if (line[0] != '\0' && line[0] != '#')
		say("error unknown command %s", line);
}

/*
 * read(2), not stdio: poll must see every line not yet handled. false
 * at end of input.
 */
static bool
read_commands(struct fakesup *fs, char *buf, size_t *used)
{
	ssize_t n;
	char *nl;

	if ((n = read(0, buf + *used, LINE_MAX_LEN - 1 - *used)) <= 0)
		return n == -1 && errno == EINTR;
	*used += n;
	buf[*used] = '\0';
	while ((nl = strchr(buf, '\n')) != NULL) {
		*nl = '\0';
		command(fs, buf);
		*used -= nl + 1 - buf;
		memmove(buf, nl + 1, *used + 1);
	}
	if (*used == LINE_MAX_LEN - 1)
		*used = 0;	/* a line too long: drop it */
	return true;
}

static void
poll_once(struct fakesup *fs, struct pollfd *in, int timeout_ms)
{
	struct pollfd pfd[2] = { *in, { .fd = fs->chan.fd, .events = POLLIN } };

	if (poll(pfd, 2, timeout_ms) == -1 && errno != EINTR)
		die("poll");
	in->revents = pfd[0].revents;
	if (pfd[1].revents)
		read_worker(fs);
	reaped(fs);
	if (fs->have_view && fs->refresh_ms > 0 && fs->pid != -1 &&
	    clock_mono_ms() - fs->refreshed_at >= fs->refresh_ms)
		send_view(fs);
}

/* End of input: the worker gets SHUTDOWN, then SIGKILL if it lingers. */
static void
finish(struct fakesup *fs)
{
	struct pollfd none = { .fd = -1 };
	int64_t end = clock_mono_ms() + EOF_GRACE_MS;

	if (fs->pid == -1)
		return;
	send_control(fs, HAREPD__CONTROL__COMMAND__SHUTDOWN);
	while (fs->pid != -1 && clock_mono_ms() < end)
		poll_once(fs, &none, 20);
	if (fs->pid != -1)
		cmd_kill(fs, "0");
}

int
main(int argc, char *argv[])
{
	struct fakesup fs = { .pid = -1, .chan = { .fd = -1 } };
	struct pollfd in = { .fd = 0, .events = POLLIN };
	char line[LINE_MAX_LEN];
	size_t used = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: fakesup HAREPD\n");
		return 64;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	fs.harepd = argv[1];
	reset_view(&fs);
	for (;;) {
		poll_once(&fs, &in, 20);
		if (in.revents && !read_commands(&fs, line, &used))
			break;
	}
	finish(&fs);
	reset_view(&fs);
	free(fs.config);
	for (size_t i = 0; i < 3; i++)
		free(fs.pem[i]);
	return 0;
}
